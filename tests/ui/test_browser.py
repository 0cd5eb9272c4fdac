"""The app in a real browser (headless Chromium through Playwright), as a visitor uses it:
hear a prototype, move sliders, switch listeners, upload audio, export/import, and the
clear message (and a page that still works) after every kind of bad input. The issue-13
features (scale, viewports, undo, words, phones, accessibility) are in
test_browser_steering.py; the fixtures in conftest.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from playwright.sync_api import Page, expect

from apron_core.tags import TAG_NAMES, K, category_indices
from apron_core.ui.prototypes_panel import tag_slug
from apron_core.ui.scale import position_of
from apron_core.ui.state import encode_share
from benchmarks._app_process import AppProcess
from benchmarks.bench_browser import (
    chart_signature,
    open_category,
    set_slider,
    slider_box,
    song_ids,
    wait_charts,
)
from tests.ui.conftest import Tab, load, slider_values, wait_heading, wait_new_list

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def toast(page: Page, kind: str, text: str) -> str:
    """The text of a Gradio toast of `kind` (error/warning) containing `text`."""
    body = page.locator(f"[data-testid=toast-body].{kind}", has_text=text)
    body.first.wait_for()
    message = body.first.inner_text()
    assert "Traceback" not in message and 'File "' not in message, message
    return message


def still_works(page: Page) -> None:
    """A big slider edit still changes the list (the session and server survived)."""
    before = song_ids(page)
    set_slider(page, "metal", 60)
    wait_new_list(page, before)
    wait_heading(page, "edited")


def choose_listener(page: Page, skip: str) -> str:
    """Pick, through the dropdown, the first demo listener other than `skip`."""
    page.locator("#listener-select input").click()
    options = page.get_by_role("option")
    options.first.wait_for()
    for text in options.all_inner_texts():
        lid = re.search(r"U\d+", text)
        if lid and lid.group(0) != skip:
            page.get_by_role("option", name=re.compile(rf"{lid.group(0)} ")).click()
            return lid.group(0)
    raise AssertionError(f"only one demo listener is offered: {options.all_inner_texts()}")


def upload_and_build(page: Page, path: Path) -> None:
    page.locator("#tab-build-button").click()
    page.locator("#upload input[type=file]").set_input_files(str(path))
    page.locator("#upload", has_text=path.stem).wait_for()  # uploaded, listed
    page.locator("#build-profile").click()


def write_tone(path: Path, *, sr: int = 22050, seconds: float = 4.0, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 330 * t)
    y += 0.02 * rng.standard_normal(t.size)
    sf.write(path, y.astype(np.float32), sr)
    return path


# --------------------------------------------------------------------------- tests


def test_page_loads_without_console_errors(tab: Tab, app: AppProcess):
    page = load(tab, app.url)
    assert page.title() == "APRON Studio"
    assert len(song_ids(page)) == 20
    assert page.locator("#history li.song").count() > 0
    wait_charts(page, "era")  # both drawn by plotly.js (a static file that must be served)
    assert chart_signature(page, "radar") and chart_signature(page, "tagmix")
    assert page.locator("[id^=proto-play-]").count() == K
    assert page.locator("#steer .tag-row").count() == K
    assert "generated for this demo" in page.locator("#honest-note").inner_text()
    # late errors (charts, sliders): until the sliders show the profile and the page,
    # charts drawn, has painted
    page.wait_for_function("() => document.querySelector('#share-jazz').value !== ''")
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert tab.errors == []


def test_prototype_clip_plays_and_names_its_song(tab: Tab, app: AppProcess):
    page = load(tab, app.url)
    button = page.locator("#proto-play-1950s")
    button.click()
    page.wait_for_function(
        """() => {
             const a = document.getElementById('proto-audio');
             return a && !a.paused && a.currentTime > 0.2 && !a.error;
           }"""
    )
    expect(button).to_have_attribute("aria-pressed", "true")
    assert "1950s" in page.evaluate("() => document.getElementById('proto-audio').src")
    # which catalog song it was cut from, and a ▶ for the whole song
    now = page.locator("#proto-now")
    expect(now).to_contain_text(re.compile(r"1950s prototype: 0:01–0:11 of “.+” by .+ \(S\d+\)"))
    song = page.locator("#proto-now button.from-song").get_attribute("data-song")
    button.click()  # a second click pauses
    page.wait_for_function("() => document.getElementById('proto-audio').paused")
    expect(button).to_have_attribute("aria-pressed", "false")
    page.locator("#proto-now button.from-song").click()
    page.locator(f"#player .player[data-song='{song}'] audio").wait_for()
    assert tab.errors == []


def test_slider_changes_list_and_charts(tab: Tab, app: AppProcess):
    page = load(tab, app.url)
    open_category(page, "genre")
    before_ids = song_ids(page)
    before_radar = chart_signature(page, "radar")
    before_mix = chart_signature(page, "tagmix")
    set_slider(page, "metal", 60)
    after_ids = wait_new_list(page, before_ids)
    assert "edited" in wait_heading(page, "edited")
    page.wait_for_function(
        """([r, m]) => {
             const sig = (id) => Array.from(
               document.querySelectorAll('#' + id + ' .apron-chart svg path')
             ).map((p) => p.getAttribute('d')).join('|');
             return sig('radar') !== r && sig('tagmix') !== m;
           }""",
        arg=[before_radar, before_mix],
    )
    assert after_ids != before_ids
    expect(slider_box(page, "metal")).to_have_value("60.0")  # the server's answer drawn
    # the other genre sliders made room: the genre shares add up to 100 % again
    values = slider_values(page)
    genre = [values[f"share-{tag_slug(TAG_NAMES[i])}"] for i in category_indices("genre")]
    assert sum(float(v) for v in genre) == pytest.approx(100.0, abs=1.0)
    # what changed, compactly: songs that entered and left (each with ▶), the tag mix
    changes = page.locator("#recs-changes")
    expect(changes).to_contain_text(re.compile(r"\+\d+ new"))
    expect(changes.locator(".mix")).to_contain_text("→")
    assert changes.locator(".left-song button.play").count() >= 1
    assert tab.errors == []


def test_leaving_a_slider_box_applies_the_value(tab: Tab, app: AppProcess):
    page = load(tab, app.url)
    open_category(page, "mood")
    before_ids = song_ids(page)
    box = slider_box(page, "calm")
    box.fill("55")
    box.press("Tab")
    assert wait_new_list(page, before_ids) != before_ids
    wait_heading(page, "edited")
    expect(box).to_have_value("55.0")
    assert tab.errors == []


def test_charts_draw_when_plotly_arrives_after_the_page(tab: Tab, app: AppProcess):
    """A busy machine can finish plotly.js after the window's load event and after the
    first list: the charts must still draw, without another edit to wake them."""
    page = tab.page
    # the first request for plotly.js gets a stand-in that loads the real file only when
    # the test says so (a script tag of its own, as late as a slow machine might)
    late = """(function wait() {
      if (!window.__releasePlotly) { setTimeout(wait, 20); return; }
      const s = document.createElement('script');
      const url = new URL('%s'); url.searchParams.set('late', '1'); s.src = url.href;
      document.head.appendChild(s);
    })();"""

    def stand_in(route):
        if "late=1" in route.request.url:
            route.continue_()
        else:
            route.fulfill(body=late % route.request.url, content_type="text/javascript")

    page.route(re.compile(r"plotly[^/]*\.js"), stand_in)
    page.goto(app.url)
    page.wait_for_selector("#recs li.song")
    page.wait_for_function("() => document.readyState === 'complete'")
    assert page.evaluate("() => window.Plotly === undefined")
    page.evaluate("() => { window.__releasePlotly = true; }")
    wait_charts(page, "era", timeout_ms=90_000)  # plotly.js parses late on a busy machine
    open_category(page, "genre")
    assert tab.errors == []


def test_a_slider_that_cannot_move_springs_back(tab: Tab, app: AppProcess):
    """Every other tag locked: releasing 'rock' elsewhere leaves the profile as it was, and
    the slider must show that again (the page redraws the sliders on every new view)."""
    rock = TAG_NAMES.index("rock")
    profile = np.full(K, 1.0 / K)
    code = encode_share(profile, locked=set(range(K)) - {rock})
    page = load(tab, f"{app.url}?p={code}")
    open_category(page, "genre")
    box = slider_box(page, "rock")
    page.wait_for_function("() => document.querySelector('#share-rock').value !== ''")
    shown = box.input_value()
    assert float(shown) == pytest.approx(100 / 32, abs=0.05)  # 1/80 of 32/80
    with page.expect_response(lambda r: "/run/predict" in r.url):
        set_slider(page, "rock", 60)
    page.locator("#recs .edit-note", has_text="scaled").wait_for()  # the server said why
    page.wait_for_function("v => document.querySelector('#share-rock').value === v", arg=shown)
    assert page.locator("#range-rock").input_value() == str(round(position_of(1 / 32) * 200))
    assert "edited" not in page.locator("#recs .list-head").inner_text()
    assert tab.errors == []


def test_a_refused_slider_edit_springs_back_with_a_message(tab: Tab, app: AppProcess):
    """The only tag with weight set to 0 is refused; the slider shows the profile again."""
    profile = np.zeros(K)
    profile[TAG_NAMES.index("jazz")] = 1.0
    page = load(tab, f"{app.url}?p={encode_share(profile)}")
    open_category(page, "genre")
    box = slider_box(page, "jazz")
    page.wait_for_function("() => document.querySelector('#share-jazz').value === '100.0'")
    set_slider(page, "jazz", 0)
    page.locator("#recs .edit-note", has_text="every weight at 0").wait_for()
    page.wait_for_function("() => document.querySelector('#share-jazz').value === '100.0'")
    assert box.input_value() == "100.0"
    assert tab.errors == []


def test_switching_listener_changes_history_and_list(tab: Tab, app: AppProcess):
    page = load(tab, app.url)
    first = re.search(r"U\d+", page.locator("#history .list-head").inner_text()).group(0)
    history = page.locator("#history").inner_text()
    before = song_ids(page)
    other = choose_listener(page, skip=first)
    page.wait_for_function(
        "id => (document.querySelector('#history .list-head') || {}).textContent.includes(id)",
        arg=other,
    )
    assert page.locator("#history").inner_text() != history
    assert wait_new_list(page, before) != before
    assert other in page.locator("#recs .list-head").inner_text()
    assert tab.errors == []


def test_upload_builds_a_profile(tab: Tab, app: AppProcess, tmp_path: Path):
    page = load(tab, app.url)
    sliders = "#steer .share-box"
    before = page.locator(sliders).evaluate_all("els => els.map((e) => e.value)")
    upload_and_build(page, write_tone(tmp_path / "my-tune.wav"))
    assert "Top 20" in wait_heading(page, "your 1 upload")
    assert len(song_ids(page)) == 20
    page.locator("#history", has_text="my-tune.wav").wait_for()
    page.wait_for_function(  # the sliders now show the upload's profile
        "([sel, old]) => Array.from(document.querySelectorAll(sel))"
        ".map((e) => e.value).join() !== old.join()",
        arg=[sliders, before],
    )
    assert tab.errors == []


def test_export_then_import_round_trips(tab: Tab, app: AppProcess, tmp_path: Path):
    page = load(tab, app.url)
    set_slider(page, "jazz", 33)
    wait_heading(page, "edited")
    page.wait_for_function("() => document.querySelector('#share-jazz').value === '33.0'")
    exported = slider_values(page)
    genre = float(exported["cat-genre"]) / 100

    page.locator("#files").get_by_text("Save or load the profile").click()
    page.locator("#export").click()
    link = page.locator("#export-file a[download]")
    link.wait_for()
    with page.expect_download() as info:
        link.click()
    path = tmp_path / "profile.json"
    info.value.save_as(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["weights"]["jazz"] == pytest.approx(0.33 * genre, abs=0.005)  # 33 % of genre

    # another profile in between, so the import has something to undo
    first = re.search(r"U\d+", page.locator("#history .list-head").inner_text()).group(0)
    page.locator("#tab-demo-button").click()
    choose_listener(page, skip=first)
    page.wait_for_function("() => document.querySelector('#share-jazz').value !== '33.0'")

    page.locator("#import input[type=file]").set_input_files(str(path))
    wait_heading(page, "Top 20")
    page.wait_for_function("() => document.querySelector('#share-jazz').value === '33.0'")
    assert slider_values(page) == exported
    assert tab.errors == []


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("junk.wav", b"RIFF" + bytes(range(256)) * 8, "corrupt or not an audio file"),
        ("notes.wav", b"just some text, not audio\n" * 40, "corrupt or not an audio file"),
        ("empty.wav", b"", "empty (0 bytes)"),
    ],
)
def test_bad_upload_shows_a_message_and_the_app_keeps_working(
    tab: Tab, app: AppProcess, tmp_path: Path, name: str, content: bytes, message: str
):
    page = load(tab, app.url)
    path = tmp_path / name
    path.write_bytes(content)
    upload_and_build(page, path)
    text = toast(page, "error", message)
    assert name in text and str(tmp_path) not in text  # named, server paths left out
    still_works(page)
    assert tab.errors == []


def test_malformed_profile_import_shows_a_message(tab: Tab, app: AppProcess, tmp_path: Path):
    page = load(tab, app.url)
    path = tmp_path / "profile.json"
    path.write_text('{"format": "apron-studio-profile", "weights": {broken', encoding="utf-8")
    page.locator("#files").get_by_text("Save or load the profile").click()
    page.locator("#import input[type=file]").set_input_files(str(path))
    toast(page, "error", "not valid JSON")
    still_works(page)
    assert tab.errors == []


@pytest.mark.parametrize("code", ["garbage", "AQ" + "A" * 150, "%3Cscript%3Ealert(1)%3C/script%3E"])
def test_tampered_share_link_falls_back_with_a_message(tab: Tab, app: AppProcess, code: str):
    page = load(tab, f"{app.url}?p={code}")
    text = toast(page, "warning", "shared link")
    assert "<script" not in text
    assert "demo listener" in wait_heading(page, "demo listener")
    assert page.locator("script", has_text="alert(1)").count() == 0
    still_works(page)
    assert tab.errors == []


def test_files_outside_the_served_folders_are_refused(tab: Tab, app: AppProcess):
    page = load(tab, app.url)
    secret = (Path(__file__).resolve().parents[2] / "app.py").read_text(encoding="utf-8")
    clip = page.locator("#proto-play-1950s").get_attribute("data-src")
    assert page.request.get(app.url + clip).status == 200  # the served folder works
    proto = clip.split("file=", 1)[1].rsplit("/", 1)[0]
    paths = [
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "../../../../etc/passwd",
        "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        f"{proto}/../../../app.py",
        f"{proto}/..%2F..%2F..%2Fapp.py",
        f"{proto}/%2e%2e/%2e%2e/%2e%2e/app.py",
        "app.py",
    ]
    for path in paths:
        response = page.request.get(f"{app.url}gradio_api/file={path}")
        body = response.text()
        assert response.status in (403, 404), (path, response.status)
        assert "root:" not in body and secret[:200] not in body, path
    assert tab.errors == []
    # typed into the address bar, too: in a second tab, so that leaving the app page does
    # not abort its open connections (Chromium logs those aborts as console errors)
    other = page.context.new_page()
    response = other.goto(f"{app.url}gradio_api/file=/etc/passwd")
    assert response is not None and response.status in (403, 404)
    assert "root:" not in other.content()
    # and the app is still there, in a third tab (reloading the first would abort its
    # connections, which Chromium logs as console errors on some runs)
    again = page.context.new_page()
    again.goto(app.url)
    again.wait_for_selector("#recs li.song")
    again.close()
    other.close()
    assert tab.errors == []
