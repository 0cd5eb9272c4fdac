"""Fixtures and helpers of the browser tests (test_browser.py, test_browser_steering.py):
one `python app.py` per module on a free port (its log is printed when a test fails),
one Chromium per module, a fresh browser context (own Gradio session) per test, at the
viewport the test asks for. Chromium comes from the system package."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from apron_core.errors import ApronError
from benchmarks._app_process import AppProcess, AppProcessConfig
from benchmarks.bench_browser import launch_chromium, song_ids

TIMEOUT_MS = 30_000  # one step on a 2-core machine shared with other jobs
TALL = {"width": 1400, "height": 2600}  # the list and both charts always on screen


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[AppProcess]:
    root = tmp_path_factory.mktemp("app")
    config = AppProcessConfig(log_path=root / "app.log", cache_dir=root / "renders")
    try:
        server = AppProcess.start(config)
    except ApronError as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        try:
            chromium = launch_chromium(pw)
        except ApronError as e:
            pytest.fail(f"the browser tests need Chromium: {e}", pytrace=False)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """A page plus what its console said (errors fail the test that opened it)."""

    page: Page
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def on_console(self, msg: ConsoleMessage) -> None:
        self.console.append(f"{msg.type}: {msg.text}")
        if msg.type == "error":
            self.errors.append(f"console.error: {msg.text} ({msg.location.get('url', '')})")


@pytest.fixture
def open_tab(app: AppProcess, browser: Browser) -> Iterator[Callable[..., Tab]]:
    """open_tab(viewport=…, mobile=False) → the app in a fresh context; after the test,
    the app's log and each page's console are printed (shown when the test failed)."""
    start = len(app.log_text())
    opened: list[tuple[object, Tab]] = []

    def make(viewport: dict = TALL, *, mobile: bool = False) -> Tab:
        extra = {"is_mobile": True, "has_touch": True, "device_scale_factor": 3} if mobile else {}
        context = browser.new_context(viewport=viewport, **extra)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        t = Tab(page)
        page.on("console", t.on_console)
        page.on("pageerror", lambda e: t.errors.append(f"uncaught: {e}"))
        opened.append((context, t))
        return t

    yield make
    for context, t in opened:
        context.close()
        print("--- browser console\n" + "\n".join(t.console))
    print(f"--- app log during this test ({app.log_path})\n{app.log_text()[start:]}")


@pytest.fixture
def tab(open_tab) -> Tab:
    """The app in a fresh, tall context (list and both charts on screen)."""
    return open_tab()


def load(tab: Tab, url: str) -> Page:
    tab.page.goto(url)
    tab.page.wait_for_selector("#recs li.song")
    tab.page.wait_for_selector("#steer .tag-row")
    return tab.page


def wait_new_list(page: Page, old: list[str]) -> list[str]:
    """Until the recommended song ids differ from `old`; returns them."""
    page.wait_for_function(
        """old => {
             const ids = Array.from(document.querySelectorAll('#recs li.song[data-song]'))
               .map((e) => e.dataset.song);
             return ids.length > 0 && ids.join(',') !== old.join(',');
           }""",
        arg=old,
    )
    return song_ids(page)


def wait_heading(page: Page, pattern: str) -> str:
    page.wait_for_function(
        """re => new RegExp(re).test(
             (document.querySelector('#recs .list-head') || {}).textContent || '')""",
        arg=pattern,
    )
    return page.locator("#recs .list-head").inner_text()


def slider_values(page: Page) -> dict[str, str]:
    """What every slider's number box shows (% of its category) and each category's
    share (% of the profile), read from the page (hidden tabs included)."""
    return page.evaluate(
        """() => Object.fromEntries([
             ...Array.from(document.querySelectorAll('#steer .share-box'))
               .map((e) => [e.id, e.value]),
             ...Array.from(document.querySelectorAll('#steer .cat-range'))
               .map((e) => [e.id, e.value]),
           ])"""
    )
