"""Issue 13 in a real browser (headless Chromium through Playwright): sliders on a scale
a hand can use (the page's track is ui/scale.py's), seeing what an edit did without
scrolling (1366×768 and 1400×1000), undo and redo, steering in words, the first minute
(How it works, the honest note), phones (390×844, touch) and accessibility (axe-core,
keyboard alone). Fixtures and helpers: conftest.py.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from apron_core.tags import TAG_NAMES, K, category_of
from apron_core.ui.prototypes_panel import TRACK_STEPS, tag_slug
from apron_core.ui.scale import KNEE, position_of, share_at
from benchmarks._app_process import AppProcess
from benchmarks.bench_browser import (
    command_box,
    open_category,
    set_slider,
    slider_box,
    slider_range,
    song_ids,
    type_command,
    wait_charts,
)
from tests.ui.conftest import load, slider_values, wait_heading, wait_new_list

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAPTOP = {"width": 1366, "height": 768}
DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"


def _fmt(share: float) -> str:
    """The page's number format for a share (steer.js `fmt`)."""
    pct = 100 * share
    return f"{pct:.1f}" if pct >= 1 else f"{pct:.2f}"


def _in_view(page: Page, selector: str, viewport: dict) -> dict:
    """The box of `selector`, asserted whole on screen: inside the viewport and not cut
    by a scrolling ancestor (the panel's tag list, the list column), within a pixel (a
    box scrolled to an edge ends at a fraction past it)."""
    found = page.locator(selector).first.evaluate(
        """e => {
             const r = e.getBoundingClientRect();
             const seen = {top: r.top, bottom: r.bottom, left: r.left, right: r.right};
             for (let a = e.parentElement; a; a = a.parentElement) {
               const s = getComputedStyle(a);
               if (!/(auto|scroll|hidden|clip)/.test(s.overflowX + s.overflowY)) continue;
               const q = a.getBoundingClientRect();
               seen.top = Math.max(seen.top, q.top); seen.bottom = Math.min(seen.bottom, q.bottom);
               seen.left = Math.max(seen.left, q.left); seen.right = Math.min(seen.right, q.right);
             }
             return {box: {x: r.left, y: r.top, width: r.width, height: r.height}, seen: seen,
                     displayed: r.width > 0 && r.height > 0};
           }"""
    )
    box, seen = found["box"], found["seen"]
    assert found["displayed"], f"{selector} is not displayed"
    inside = (
        box["y"] >= max(seen["top"], 0) - 1
        and box["y"] + box["height"] <= min(seen["bottom"], viewport["height"]) + 1
        and box["x"] >= max(seen["left"], 0) - 1
        and box["x"] + box["width"] <= min(seen["right"], viewport["width"]) + 1
    )
    assert inside, f"{selector} is not wholly seen in the {viewport} viewport: {box}, {seen}"
    return box


def _next_frame(page: Page) -> None:
    """Until the browser has laid out and painted what the last answer changed."""
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def _axe(page: Page) -> list[dict]:
    """Serious and critical axe-core violations on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
             .filter((v) => v.impact === 'serious' || v.impact === 'critical')
             .map((v) => ({id: v.id, impact: v.impact,
                           nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' '))}))"""
    )
    return found


# --------------------------------------------------------------------------- the scale


def test_the_track_is_the_scale_of_the_charts_and_the_server(open_tab, app: AppProcess):
    """Arrow keys move a tag's thumb along ui/scale.py's track; the number shown while
    moving, the one applied, and the server's answer agree with share_at."""
    page = load(open_tab(), app.url)
    open_category(page, "genre")
    track = slider_range(page, "jazz")
    before = song_ids(page)
    track.focus()
    track.press("Home")  # 0 of the category …
    steps = 60
    for _ in range(steps):  # … then 60 of the 200 steps, from the keyboard alone
        track.press("ArrowRight")
    expected = _fmt(share_at(steps / TRACK_STEPS))
    assert slider_box(page, "jazz").input_value() == expected  # shown while moving
    assert track.get_attribute("aria-valuetext") == f"{expected} % of genre"
    wait_new_list(page, before)  # applied after the pause, as one edit
    wait_heading(page, "edited")
    expect(page.locator("#undo")).to_be_enabled()  # the panel drew the server's answer
    assert slider_box(page, "jazz").input_value() == expected  # the server agrees
    assert track.input_value() == str(steps)


def test_the_charts_draw_the_shares_on_the_track(open_tab, app: AppProcess):
    """The page builds the charts from the shares the server sends: the radar's filled
    line sits at scale.position_of of what the sliders show, and hovering reads the
    share in percent, in whichever category is open."""
    page = load(open_tab(), app.url)
    for category in ("era", "instrumentation"):
        open_category(page, category)
        page.wait_for_function(
            "c => document.querySelector('#radar .apron-chart').dataset.category === c",
            arg=category,
        )
        drawn = page.evaluate(
            """() => {
                 const trace = (id, name) => document.querySelector(`#${id} .apron-chart`)
                   .data.find((t) => t.name === name);
                 const p = trace('radar', 'your profile');
                 return {theta: p.theta.slice(0, -1), r: p.r.slice(0, -1),
                         pct: p.customdata.slice(0, -1),
                         bars: trace('tagmix', 'your profile').y};
               }"""
        )
        shares = page.evaluate(
            """tags => tags.map((i) => Number(document.querySelector(
                 `#steer .share-box[data-tag="${i}"]`).value))""",
            [TAG_NAMES.index(t) for t in drawn["theta"]],
        )
        assert drawn["theta"] == [t for t in TAG_NAMES if category_of(t) == category]
        for r, bar, pct, shown in zip(drawn["r"], drawn["bars"], drawn["pct"], shares, strict=True):
            assert r == bar  # both charts use the sliders' track
            assert pct == pytest.approx(shown, abs=0.06)  # the box shows 1-2 decimals
            # the hover's share is rounded to 0.01 %: the track is steep near 0
            share = pct / 100
            slope = 1 / ((KNEE + share) * math.log1p(1 / KNEE))
            assert r == pytest.approx(position_of(share), abs=5e-5 * slope + 1e-4)


def test_a_thumb_can_be_dragged_by_the_pointer(open_tab, app: AppProcess):
    page = load(open_tab(DESKTOP), app.url)
    open_category(page, "mood")
    track = slider_range(page, "sad")
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    before = song_ids(page)
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 4, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=8)
    page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=8)
    page.mouse.up()
    wait_new_list(page, before)
    position = int(track.input_value()) / TRACK_STEPS
    assert 0.7 < position < 0.9
    page.wait_for_function(
        "v => document.querySelector('#share-sad').value === v",
        arg=_fmt(share_at(position)),
    )


def test_a_category_share_slider(open_tab, app: AppProcess):
    page = load(open_tab(), app.url)
    open_category(page, "era")
    old = slider_values(page)
    era = page.locator("#cat-era")
    era.focus()
    era.press("End")  # era = 100 % of the profile, applied after the pause
    page.wait_for_function("() => document.querySelector('#cat-genre').value === '0'")
    new = slider_values(page)
    assert new["cat-era"] == "100"
    assert new["cat-genre"] == new["cat-mood"] == new["cat-instrumentation"] == "0"
    # the era tags keep their shares of era
    eras = [f"share-{tag_slug(t)}" for t in TAG_NAMES if category_of(t) == "era"]
    assert [new[e] for e in eras] == [old[e] for e in eras]


# --------------------------------------------------------------------------- see while you steer


@pytest.mark.parametrize("viewport", [LAPTOP, DESKTOP], ids=["1366x768", "1400x1000"])
@pytest.mark.parametrize("tag", ["1950s", "new age", "drum machine"])
def test_slider_radar_and_top_rows_stay_in_view_after_an_edit(
    open_tab, app: AppProcess, viewport: dict, tag: str
):
    """The moved slider, its category's radar and list rows 1-5 inside the viewport
    (the first slider of a tab, the last of the longest one, the last of all). From the
    page as loaded, scrolled as a visitor reaching the slider would: the page and the
    panel's tag list each just far enough that the whole row shows."""
    page = load(open_tab(viewport), app.url)
    category = category_of(tag)
    open_category(page, category)
    before = song_ids(page)
    row = page.locator(f"#slider-{tag_slug(tag)}")
    row.evaluate("e => e.scrollIntoView({block: 'nearest'})")
    box = slider_box(page, tag)
    box.fill("45")
    box.press("Enter")
    wait_new_list(page, before)
    expect(page.locator("#undo")).to_be_enabled()  # the panel drew the answer
    page.wait_for_function(
        "c => document.querySelector('#radar .apron-chart').dataset.category === c", arg=category
    )
    _next_frame(page)
    _in_view(page, f"#slider-{tag_slug(tag)}", viewport)
    _in_view(page, "#radar .apron-chart", viewport)
    _in_view(page, "#recs li.song:nth-child(1)", viewport)
    _in_view(page, "#recs li.song:nth-child(5)", viewport)


def test_each_edit_shows_what_changed(open_tab, app: AppProcess):
    page = load(open_tab(DESKTOP), app.url)
    set_slider(page, "metal", 60)
    wait_heading(page, "edited")
    changes = page.locator("#recs-changes")
    expect(changes).to_contain_text(re.compile(r"\+\d+ new"))
    expect(changes.locator(".mix")).to_contain_text(re.compile(r"\d+(\.\d)? → \d+(\.\d)? %"))
    left = changes.locator(".left-song").first
    song = left.get_attribute("data-song")
    left.locator("button.play").click()  # a song that left can be heard
    page.locator(f"#player .player[data-song='{song}'] audio").wait_for()
    # the tag-mix chart marks the mix before the edit
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('#tagmix .legendtext'))
                   .some((e) => e.textContent.includes('before the edit'))"""
    )
    before = page.evaluate(
        """() => document.querySelector('#tagmix .apron-chart').data
                   .find((t) => t.name === 'before the edit')"""
    )
    # a marker for every tag the list carried before, none on the axis for the others
    assert any(y is not None for y in before["y"])
    for y, share in zip(before["y"], before["customdata"], strict=True):
        assert (y is None) == (share == 0)


# --------------------------------------------------------------------------- undo and redo


def _shown(page: Page) -> dict[str, str]:
    """Every number and every lock the sliders show."""
    locks = page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('#steer .lock'))
                 .map((e) => [e.id, e.getAttribute('aria-pressed')]))"""
    )
    return {**slider_values(page), **locks}


def _wait_shown(page: Page, want: dict[str, str]) -> None:
    try:
        page.wait_for_function(
            """want => Object.entries(want).every(([id, v]) => {
                 const e = document.getElementById(id);
                 const lock = e.classList.contains('lock');
                 return (lock ? e.getAttribute('aria-pressed') : e.value) === v;
               })""",
            arg=want,
        )
    except PlaywrightTimeoutError:
        now = _shown(page)
        wrong = {k: (v, now.get(k)) for k, v in want.items() if now.get(k) != v}
        raise AssertionError(f"the sliders never showed (want, shown): {wrong}") from None


def test_undo_and_redo_walk_back_and_forth_exactly(open_tab, app: AppProcess):
    page = load(open_tab(), app.url)
    undo, redo = page.locator("#undo"), page.locator("#redo")
    expect(undo).to_be_disabled()
    states = [_shown(page)]
    edits = [
        lambda: set_slider(page, "jazz", 30),
        lambda: type_command(page, "no 1980s, more piano"),
        lambda: (open_category(page, "genre"), page.locator("#lock-rock").click()),  # a step too
        lambda: set_slider(page, "metal", 20),
    ]
    for n, edit in enumerate(edits, 1):
        edit()
        # the panel drew the server's answer (a typed number shows before it does)
        expect(undo).to_have_attribute("title", re.compile(rf"^Undo \({n} edits? back"))
        states.append(_shown(page))
    assert states[3]["lock-rock"] == "true" and states[2]["lock-rock"] == "false"
    for i, back in enumerate(reversed(states[:-1])):  # the button, then Ctrl+Z
        if i == 0:
            undo.click()
        else:
            page.keyboard.press("Control+z")
        _wait_shown(page, back)
    expect(undo).to_be_disabled()
    for i, forward in enumerate(states[1:]):  # the button, then Ctrl+Shift+Z
        if i == 0:
            redo.click()
        else:
            page.keyboard.press("Control+Shift+z")
        _wait_shown(page, forward)
    expect(redo).to_be_disabled()
    # the share link carries the current profile (and its lock)
    page.locator("#share").click()
    url = page.locator("#share-url textarea, #share-url input").first
    expect(url).to_have_value(re.compile(r"\?p="))
    other = load(open_tab(), url.input_value())
    other.wait_for_function("() => document.querySelector('#share-jazz').value !== ''")
    shared = slider_values(other)
    assert {k: round(float(v)) for k, v in shared.items()} == {
        k: round(float(v)) for k, v in slider_values(page).items()
    }
    expect(other.locator("#lock-rock")).to_have_attribute("aria-pressed", "true")


# --------------------------------------------------------------------------- steer in words


def test_a_typed_command_applies_as_one_edit(open_tab, app: AppProcess):
    page = load(open_tab(), app.url)
    before = song_ids(page)
    type_command(page, "more jazz, no 1980s")
    echo = page.locator("#command-echo .echo")
    expect(echo).to_have_text("Understood: jazz ×2, no 1980s.")
    wait_new_list(page, before)
    # Gradio's run history is off: it rewrote every public event's outputs into
    # localStorage (~80 ms a command; layout.launch_options)
    stored = "() => Object.keys(localStorage).filter((k) => k.startsWith('gradio:run-history'))"
    assert page.evaluate(stored) == []
    page.wait_for_function("() => document.querySelector('#share-1980s').value === '0.00'")
    expect(page.locator("#steer-tab-genre")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#undo")).to_be_enabled()
    page.locator("#undo").click()  # one command, one undo step
    page.wait_for_function("() => document.querySelector('#share-1980s').value !== '0.00'")
    expect(page.locator("#undo")).to_be_disabled()


def test_a_typed_command_draws_each_chart_once_in_its_category(open_tab, app: AppProcess):
    """The answer names the category to open: the charts turn to it before drawing, not
    after drawing the old tab first (two Plotly.react per chart, measured as time)."""
    page = load(open_tab(), app.url)
    wait_charts(page, "era")
    page.evaluate(
        """() => {
             const react = window.Plotly.react;
             window.__reacts = [];
             window.Plotly.react = function (box, ...rest) {
               window.__reacts.push(box.closest('#radar, #tagmix').id + ':' + box.dataset.category);
               return react.call(this, box, ...rest);
             };
           }"""
    )
    before = song_ids(page)
    type_command(page, "much more jazz")
    wait_new_list(page, before)
    wait_charts(page, "genre")
    _next_frame(page)
    assert sorted(page.evaluate("() => window.__reacts")) == ["radar:genre", "tagmix:genre"]
    expect(page.locator("#steer-tab-genre")).to_have_attribute("aria-selected", "true")
    # the visitor turns to another tab: the last answer does not turn the page back
    open_category(page, "mood")
    _next_frame(page)
    expect(page.locator("#steer-tab-mood")).to_have_attribute("aria-selected", "true")
    assert page.locator("#radar .apron-chart").get_attribute("data-category") == "mood"


def test_an_unknown_word_is_named_with_the_nearest_tags(open_tab, app: AppProcess):
    page = load(open_tab(), app.url)
    before, values = song_ids(page), slider_values(page)
    type_command(page, "more dubstep")
    echo = page.locator("#command-echo .echo.bad")
    expect(echo).to_contain_text("I don't know the word 'dubstep': the nearest tags are")
    assert song_ids(page) == before and slider_values(page) == values  # nothing applied
    type_command(page, "more jaz")  # a typo it can correct, and says so
    expect(page.locator("#command-echo .echo.ok")).to_contain_text("'jaz' read as jazz")


# --------------------------------------------------------------------------- the first minute


def test_how_it_works_and_the_honest_note(open_tab, app: AppProcess):
    page = load(open_tab(LAPTOP), app.url)
    note = page.locator("#honest-note")
    expect(note).to_contain_text("generated for this demo")
    _in_view(page, "#honest-note", LAPTOP)
    help_text = page.locator("#how-it-works")
    expect(help_text.get_by_text("Prototypes.")).to_be_hidden()
    help_text.get_by_text("How it works").click()
    for words in ("prototype", "because", "Undo", "Million Song Dataset", "radar"):
        expect(help_text).to_contain_text(words)


# --------------------------------------------------------------------------- phones


def _no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width[0] <= width[1], f"horizontal scroll: {width}"


def test_a_phone_has_no_horizontal_scroll_and_every_control_is_reachable(open_tab, app: AppProcess):
    page = load(open_tab(PHONE, mobile=True), app.url)
    _no_horizontal_scroll(page)
    page.locator("#how-it-works").get_by_text("How it works").click()
    _no_horizontal_scroll(page)
    for category in ("era", "genre", "mood", "instrumentation"):
        page.locator(f"#steer-tab-{category}").tap()
        _no_horizontal_scroll(page)
        controls = page.locator(
            f"#steer-panel-{category} input, #steer-panel-{category} button, #steer-tabs button"
        )
        boxes = controls.evaluate_all(
            """els => els.map((e) => { const r = e.getBoundingClientRect();
                 return [e.id || e.className, r.left, r.right, r.width, r.height]; })"""
        )
        for name, left, right, width, height in boxes:
            assert left >= 0 and right <= PHONE["width"], (name, left, right)
            assert width >= 24 and height >= 24, (name, width, height)  # a finger's target
    # the charts fit
    page.locator("#radar").scroll_into_view_if_needed()
    page.wait_for_selector("#radar .apron-chart svg")
    for chart in ("#radar .apron-chart .main-svg", "#tagmix .apron-chart .main-svg"):
        page.locator(chart).first.scroll_into_view_if_needed()
        box = page.locator(chart).first.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (chart, box)
    _no_horizontal_scroll(page)


def _touch_drag(page: Page, track, start: float, end: float) -> None:
    """A finger on the track at `start` (fraction of its width), moved to `end`, lifted:
    real touch events (Chromium's DevTools protocol; Playwright only taps)."""
    box = track.bounding_box()
    y = box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)
    points = [box["x"] + box["width"] * (start + (end - start) * k / 10) for k in range(11)]
    cdp.send(
        "Input.dispatchTouchEvent",
        {"type": "touchStart", "touchPoints": [{"x": points[0], "y": y}]},
    )
    for x in points[1:]:
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]}
        )
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def test_a_phone_steers_by_touch(open_tab, app: AppProcess):
    page = load(open_tab(PHONE, mobile=True), app.url)
    page.locator("#steer-tab-genre").tap()
    track = slider_range(page, "jazz")
    track.scroll_into_view_if_needed()
    before = song_ids(page)
    box = track.bounding_box()
    assert box["width"] > 0.6 * PHONE["width"], box  # the track has a line of its own
    start = int(track.input_value()) / TRACK_STEPS
    _touch_drag(page, track, start, 0.75)
    wait_new_list(page, before)
    # where the finger was lifted, give or take the thumb's half-width at either end
    assert 0.65 * TRACK_STEPS < int(track.input_value()) < 0.85 * TRACK_STEPS
    before = song_ids(page)
    command_box(page).tap()
    command_box(page).fill("no lo-fi")
    page.locator("#command-apply").tap()
    expect(page.locator("#command-echo .echo.ok")).to_have_text("Understood: no lo-fi.")
    wait_new_list(page, before)


# --------------------------------------------------------------------------- accessibility


@pytest.mark.parametrize(
    "viewport, mobile", [(LAPTOP, False), (PHONE, True)], ids=["desktop", "390px"]
)
def test_axe_finds_no_serious_or_critical_violation(open_tab, app, viewport, mobile):
    page = load(open_tab(viewport, mobile=mobile), app.url)
    assert _axe(page) == []
    # and after an edit, with the help open, a refused command and the other listener tab
    page.locator("#how-it-works").get_by_text("How it works").click()
    set_slider(page, "jazz", 30, charts=not mobile)
    wait_heading(page, "edited")
    type_command(page, "more dubstep")
    page.locator("#command-echo .echo.bad").wait_for()
    assert _axe(page) == []
    page.locator("#tab-build-button").click()
    page.locator("#upload").wait_for()
    assert _axe(page) == []


def test_every_control_has_a_name_and_the_sliders_are_in_the_tab_order(open_tab, app):
    page = load(open_tab(LAPTOP), app.url)
    unnamed = page.evaluate(
        """() => Array.from(document.querySelectorAll('#steer input, #steer button'))
             .filter((e) => {
               const label = e.labels && e.labels.length ? e.labels[0].textContent.trim() : '';
               return !(label || e.getAttribute('aria-label') || e.textContent.trim());
             }).map((e) => e.id || e.outerHTML.slice(0, 60))"""
    )
    assert unnamed == []
    ranges = page.locator("#steer-panel-era input[type=range]")
    assert all(r.get_attribute("tabindex") in (None, "0") for r in ranges.all())
    # Tab from the category slider reaches the first tag's ▶, then its track
    page.locator("#cat-era").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.id")
    assert focused == "range-1950s", focused
    # the tabs work with the arrow keys
    page.locator("#steer-tab-era").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#steer-tab-genre")).to_have_attribute("aria-selected", "true")
    assert page.evaluate("() => document.activeElement.id") == "steer-tab-genre"
    assert page.locator("#steer .tag-row").count() == K
