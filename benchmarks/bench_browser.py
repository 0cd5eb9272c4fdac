"""Latency a visitor sees in a real browser: slider released (or a typed command
entered) → recommendation list AND both charts (radar, tag mix) redrawn, in headless
Chromium driven by Playwright.

Each slider edit types a new value (percent of its category) into a tag's number box on
the steering panel and presses Enter, which applies it as a released slider does (the
same event and payload). Each typed command fills the "Steer in words" box and presses
Enter. Timing runs inside the page: t0 is the `change` of the number box (seen in the
capture phase, before the panel's own handler sends the edit) or the Enter keydown in
the command box; a MutationObserver on the list and the two charts records when each
one's content really changed (song ids + heading of the list, SVG path data of each
chart). The split comes from the Resource Timing entry of the edit's request
(`run/predict`): before the request, server (request start → first byte), download,
then browser work (list DOM, Plotly.react, the sliders) up to the last change.
Plotly.react calls are timed by a wrapper.

Also reports the bytes per edit: the edit response split by output.

--compare NAME=URL NAME=URL … measures two or more running apps in one browser, the
same edit plan interleaved edit by edit (apps in a seeded random order each time), so
that other jobs on a shared machine slow every app alike; it prints each app's table
and the paired difference of the total (median, 95 % bootstrap interval) against the
first app. Start each app yourself, e.g. an older commit from a `git worktree` (one
with the steering panel: this script drives its number boxes).

python -m benchmarks.bench_browser                       # starts app.py on a free port
python -m benchmarks.bench_browser --url http://127.0.0.1:7860/ --edits 100 --commands 50
python -m benchmarks.bench_browser --compare old=http://127.0.0.1:7861/ new=http://127.0.0.1:7862/
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

if __package__ in (None, ""):  # run as a file, not with -m: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from apron_core.errors import ApronError, ConfigError
from apron_core.tags import CATEGORIES, TAG_NAMES, category_of
from apron_core.ui.prototypes_panel import tag_slug
from benchmarks._app_process import AppProcess, AppProcessConfig

TARGET_P95_MS = 100.0  # slider release → list + both charts (issue 13)
TARGET_COMMAND_P95_MS = 150.0  # typed command → list + both charts
BOOTSTRAP_SAMPLES = 2000
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)
# tall enough that the list and both charts are on screen (an off-screen chart defers
# its redraw until scrolled into view, which would hide its cost)
VIEWPORT = {"width": 1400, "height": 2600}
INSTALL_HINT = "install it with `apt-get install chromium` (or set APRON_CHROMIUM=/path)"


# --------------------------------------------------------------------------- browser


def chromium_path() -> str:
    """The Chromium binary: $APRON_CHROMIUM, else `chromium` on PATH, else ApronError."""
    path = os.environ.get("APRON_CHROMIUM") or shutil.which("chromium")
    if not path or not Path(path).is_file():
        raise ApronError(
            f"Chromium not found (looked for $APRON_CHROMIUM, `chromium`): {INSTALL_HINT}"
        )
    return path


def launch_chromium(pw: Playwright, *extra_args: str) -> Browser:
    """Headless Chromium from the system package (Playwright's own download is never used)."""
    path = chromium_path()
    try:
        return pw.chromium.launch(executable_path=path, args=[*CHROMIUM_ARGS, *extra_args])
    except PlaywrightError as e:
        raise ApronError(
            f"Chromium at {path} did not start ({str(e)[:300]}): {INSTALL_HINT}"
        ) from e


def open_app(browser: Browser, url: str, *, timeout_ms: float = 60_000) -> Page:
    """A fresh browser context (own Gradio session) on the app, first list shown."""
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(url, timeout=timeout_ms)
    page.wait_for_selector("#recs li.song", timeout=timeout_ms)
    wait_charts(page, "era", timeout_ms=timeout_ms)
    return page


def wait_charts(page: Page, category: str, *, timeout_ms: float = 30_000) -> None:
    """Until both charts show `category` (the page draws the open slider tab's category)."""
    page.wait_for_function(
        """cat => ['radar', 'tagmix'].every((id) => {
             const box = document.querySelector('#' + id + ' .apron-chart');
             return box && box.dataset.category === cat && box.querySelector('svg path');
           })""",
        arg=category,
        timeout=timeout_ms,
    )


def open_category(page: Page, category: str, *, charts: bool = True) -> None:
    """Open the steering panel's tab of `category`; with `charts`, wait until the charts
    follow it (they draw only while on screen: on a phone they are further down)."""
    tab = page.locator(f"#steer-tab-{category}")
    if tab.get_attribute("aria-selected") != "true":
        tab.click()
    page.locator(f"#steer-panel-{category} input.share-box").first.wait_for()
    if charts:
        wait_charts(page, category)


def slider_box(page: Page, tag: str):
    """The number box of a tag's slider (its share of the category, percent)."""
    return page.locator(f"#share-{tag_slug(tag)}")


def slider_range(page: Page, tag: str):
    return page.locator(f"#range-{tag_slug(tag)}")


def set_slider(page: Page, tag: str, percent: float, *, charts: bool = True) -> None:
    """Type `percent` (of the tag's category) into its number box and press Enter: the
    edit a released slider sends."""
    open_category(page, category_of(tag), charts=charts)
    box = slider_box(page, tag)
    box.fill(f"{percent:g}")
    box.press("Enter")


def type_command(page: Page, text: str) -> None:
    """Type a command into "Steer in words" and press Enter."""
    box = command_box(page)
    box.fill(text)
    box.press("Enter")


def command_box(page: Page):
    return page.locator("#command input, #command textarea").first


def song_ids(page: Page, selector: str = "#recs") -> list[str]:
    return page.locator(f"{selector} li.song[data-song]").evaluate_all(
        "els => els.map((e) => e.dataset.song)"
    )


def chart_signature(page: Page, elem_id: str) -> str:
    """The SVG path data of a chart: changes exactly when what is drawn changes."""
    return page.evaluate(
        """id => Array.from(document.querySelectorAll('#' + id + ' .apron-chart svg path'))
                 .map((p) => p.getAttribute('d')).join('|')""",
        elem_id,
    )


# --------------------------------------------------------------------------- timing

# Installed once per page: window.__apronBench.arm() returns a promise of the timings of
# the next slider release.
_BENCH_JS = """
() => {
  if (window.__apronBench) return;
  performance.setResourceTimingBufferSize(10000);
  const listSig = () => {
    const l = document.querySelector('#recs .apron-list');
    if (!l) return '';
    const ids = Array.from(l.querySelectorAll('li.song')).map((e) => e.dataset.song);
    return (l.querySelector('.list-head') || {}).textContent + '|' + ids.join(',');
  };
  const chartSig = (id) => Array.from(
    document.querySelectorAll('#' + id + ' .apron-chart svg path')
  ).map((p) => p.getAttribute('d')).join('|');
  const plotly = {calls: 0, ms: 0};
  const wrap = () => {
    if (!window.Plotly || window.Plotly.__benchWrapped) return;
    const react = window.Plotly.react;
    window.Plotly.react = function (...args) {
      const t = performance.now();
      const out = react.apply(this, args);
      plotly.calls += 1;
      plotly.ms += performance.now() - t;
      return out;
    };
    window.Plotly.__benchWrapped = true;
  };
  window.__apronBench = {
    arm(timeoutMs) {
      wrap();
      // the buffer holds 250 entries by default and the page's own assets fill it
      performance.clearResourceTimings();
      plotly.calls = 0; plotly.ms = 0;
      const before = {recs: listSig(), radar: chartSig('radar'), tagmix: chartSig('tagmix')};
      const sig = {recs: listSig, radar: () => chartSig('radar'), tagmix: () => chartSig('tagmix')};
      const done = {};
      let t0 = null;
      return new Promise((resolve) => {
        const observers = [];
        let finished = false;
        const finish = (timedOut) => {
          if (finished) return;
          finished = true;
          observers.forEach((o) => o.disconnect());
          document.removeEventListener('change', onOut, true);
          document.removeEventListener('keydown', onOut, true);
          resolve({t0, done, timedOut, plotlyCalls: plotly.calls, plotlyMs: plotly.ms});
        };
        // the edit starts at the number box's change (a slider's edit) or at Enter in the
        // command box, seen in the capture phase before the page's own handlers
        const onOut = (ev) => {
          const t = ev.target;
          const box = t.matches && (ev.type === 'change'
            ? t.matches('.share-box, .tag-range, .cat-range')
            : ev.key === 'Enter' && t.closest && t.closest('#command'));
          if (t0 === null && box) {
            t0 = performance.now();
          }
        };
        document.addEventListener('change', onOut, true);
        document.addEventListener('keydown', onOut, true);
        for (const id of ['recs', 'radar', 'tagmix']) {
          const o = new MutationObserver(() => {
            if (done[id] !== undefined || t0 === null) return;
            if (sig[id]() !== before[id]) {
              done[id] = performance.now();
              if (Object.keys(done).length === 3) finish(false);
              // the charts draw after the list was applied (next frame): a list still
              // unchanged by then got identical content (the top-k did not move)
              else if (done.radar !== undefined && done.tagmix !== undefined) {
                setTimeout(() => finish(false), 50);
              }
            }
          });
          o.observe(document.getElementById(id),
                    {childList: true, subtree: true, attributes: true, characterData: true});
          observers.push(o);
        }
        setTimeout(() => finish(true), timeoutMs);
      });
    },
    // the edit's request (Chromium adds Resource Timing entries a little after the
    // response was read, so this is polled)
    request(t0) {
      const e = performance.getEntriesByType('resource').filter(
        (x) => x.name.includes('/run/predict') && x.startTime >= t0 - 1
      ).pop();
      return e ? {start: e.startTime, requestStart: e.requestStart,
                  responseStart: e.responseStart, responseEnd: e.responseEnd,
                  bytes: e.encodedBodySize} : null;
    },
  };
}
"""


@dataclass(frozen=True)
class EditTiming:
    """Milliseconds of one edit (a slider's or a typed command), all measured from t0."""

    what: str  # "jazz 30" or the typed command
    total_ms: float  # list (when it changed) and both charts changed
    list_ms: float | None  # None: the top-k did not move, the list kept its content
    radar_ms: float
    tagmix_ms: float
    request_ms: float  # t0 → request sent (client-side dispatch)
    server_ms: float  # request sent → first byte (handler + serialization; localhost)
    download_ms: float
    browser_ms: float  # response complete → last of the three changed
    plotly_ms: float  # time inside Plotly.react for this edit (both charts)
    response_bytes: int


def install(page: Page) -> None:
    page.evaluate(_BENCH_JS)


def timed_edit(page: Page, tag: str, percent: float, *, timeout_ms: float = 15_000) -> EditTiming:
    """One slider edit: `tag` set to `percent` of its category, timed in the page."""
    open_category(page, category_of(tag))
    return _timed(page, lambda: set_slider(page, tag, percent), f"{tag} {percent:g}", timeout_ms)


def timed_command(page: Page, text: str, *, timeout_ms: float = 15_000) -> EditTiming:
    """One typed command, timed in the page."""
    return _timed(page, lambda: type_command(page, text), text, timeout_ms)


def _timed(page: Page, act, what: str, timeout_ms: float) -> EditTiming:
    page.evaluate("ms => { window.__apronPending = window.__apronBench.arm(ms); }", timeout_ms)
    act()
    r = page.evaluate("() => window.__apronPending")
    if r["timedOut"] or r["t0"] is None:
        seen = sorted(r["done"]) or "nothing"
        raise ApronError(
            f"{what!r} updated {seen} within {timeout_ms:g} ms (edit seen: {r['t0'] is not None})"
        )
    t0, done = r["t0"], r["done"]
    end = max(done.values())
    req = _poll(page, "t => window.__apronBench.request(t)", t0, timeout_ms)
    if req is None:
        raise ApronError(f"the request timing of {what!r} did not show up")
    return EditTiming(
        what=what,
        total_ms=end - t0,
        list_ms=done["recs"] - t0 if "recs" in done else None,
        radar_ms=done["radar"] - t0,
        tagmix_ms=done["tagmix"] - t0,
        request_ms=req["requestStart"] - t0,
        server_ms=req["responseStart"] - req["requestStart"],
        download_ms=req["responseEnd"] - req["responseStart"],
        browser_ms=end - req["responseEnd"],
        plotly_ms=r["plotlyMs"],
        response_bytes=int(req["bytes"]),
    )


def _poll(page: Page, js: str, arg: float, timeout_ms: float) -> dict | None:
    deadline = time.perf_counter() + timeout_ms / 1e3
    while time.perf_counter() < deadline:
        found = page.evaluate(js, arg)
        if found is not None:
            return found
        page.wait_for_timeout(5)
    return None


def edit_plan(n: int, seed: int) -> list[tuple[str, float]]:
    """n (tag, percent of its category) edits in pairs, as a listener tries a tag: a
    random tag raised to 20-40 %, then lowered to 0-1 % (so the list usually moves); runs
    of 3 pairs per category (the tab switch between runs is not timed); values on 0.01."""
    rng = np.random.default_rng(seed)
    by_cat = {c: [t for t in TAG_NAMES if category_of(t) == c] for c in CATEGORIES}
    plan: list[tuple[str, float]] = []
    while len(plan) < n:
        tags = by_cat[CATEGORIES[(len(plan) // 6) % len(CATEGORIES)]]
        tag = tags[int(rng.integers(len(tags)))]
        plan.append((tag, round(float(rng.uniform(20, 40)), 2)))
        plan.append((tag, round(float(rng.uniform(0, 1)), 2)))
    return plan[:n]


def command_plan(n: int, seed: int) -> list[str]:
    """n typed commands in pairs over random tags: "much more X" then "much less X"."""
    rng = np.random.default_rng(seed + 1)
    plan: list[str] = []
    while len(plan) < n:
        tag = TAG_NAMES[int(rng.integers(len(TAG_NAMES)))]
        plan += [f"much more {tag}", f"much less {tag}"]
    return plan[:n]


def output_sizes(page: Page, tag: str, percent: float) -> dict[str, int]:
    """Bytes of each output in one edit's response (session, list, radar, tag mix,
    sliders)."""
    with page.expect_response(lambda r: "/run/predict" in r.url) as info:
        set_slider(page, tag, percent)
    data = info.value.json().get("data", [])
    names = ["session", "list", "radar", "tagmix", "sliders"]
    return {n: len(json.dumps(v, separators=(",", ":"))) for n, v in zip(names, data, strict=False)}


# --------------------------------------------------------------------------- report


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def table(timings: list[EditTiming], first: str = "release → list + both charts") -> str:
    cols = [
        (first, "total_ms"),
        ("  list updated", "list_ms"),
        ("  radar redrawn", "radar_ms"),
        ("  tag mix redrawn", "tagmix_ms"),
        ("  before the request", "request_ms"),
        ("  server (to first byte)", "server_ms"),
        ("  download", "download_ms"),
        ("  browser (response → last change)", "browser_ms"),
        ("  inside Plotly.react", "plotly_ms"),
    ]
    lines = ["| step (ms) | p50 | p95 | max |", "|---|---:|---:|---:|"]
    for label, key in cols:
        v = [getattr(t, key) for t in timings if getattr(t, key) is not None]
        if not v:
            continue
        lines.append(f"| {label} | {pct(v, 50):.0f} | {pct(v, 95):.0f} | {max(v):.0f} |")
    return "\n".join(lines)


def header(url: str, browser: Browser) -> str:
    load1, load5, _ = os.getloadavg()
    return (
        f"app {url}; Chromium {browser.version} headless; viewport "
        f"{VIEWPORT['width']}×{VIEWPORT['height']}; {os.cpu_count()} CPUs, load average "
        f"{load1:.1f} (1 min) {load5:.1f} (5 min): browser, server and other jobs share them"
    )


# --------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--edits", type=int, default=60, help="timed slider edits (default 60, ≥ 50 advised)"
    )
    ap.add_argument(
        "--commands", type=int, default=30, help="timed typed commands after the edits (default 30)"
    )
    ap.add_argument("--warmup", type=int, default=5, help="untimed edits first (default 5)")
    ap.add_argument("--url", default=None, help="attach to a running app instead of starting one")
    ap.add_argument(
        "--port", type=int, default=None, help="port for the app it starts (default: free)"
    )
    ap.add_argument("--bundle", type=Path, default=Path("assets/demo"), help="bundle it serves")
    ap.add_argument(
        "--compare",
        nargs="+",
        metavar="NAME=URL",
        default=None,
        help="running apps to measure side by side (see above)",
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of the edit plan")
    ap.add_argument("--timeout", type=float, default=15.0, help="seconds one edit may take")
    args = ap.parse_args(argv)
    if args.edits < 1 or args.warmup < 0 or args.timeout <= 0 or args.commands < 0:
        ap.error("need --edits ≥ 1, --commands ≥ 0, --warmup ≥ 0, --timeout > 0")
    if args.port is not None and not 0 < args.port < 65536:
        ap.error(f"--port {args.port} must be between 1 and 65535")
    if args.url is not None and not args.url.startswith(("http://", "https://")):
        ap.error(f"--url {args.url!r} must start with http:// or https://")
    if args.url is not None and args.port is not None:
        ap.error("--url and --port exclude each other (--port is for the app it starts)")
    if args.compare is not None:
        if args.url is not None or args.port is not None:
            ap.error("--compare measures running apps: leave out --url and --port")
        pairs = [c.split("=", 1) for c in args.compare]
        apps = dict(p for p in pairs if len(p) == 2 and p[1].startswith(("http://", "https://")))
        if len(apps) < 2 or len(apps) != len(pairs):
            shown = " ".join(args.compare)[:80]
            ap.error(f"--compare needs two or more NAME=http://… with distinct names: {shown!r}")
        args.compare = apps
    return args


def run(args: argparse.Namespace, url: str) -> int:
    url = url if url.endswith("/") else url + "/"
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            print(header(url, browser))
            page = open_app(browser, url, timeout_ms=args.timeout * 4e3)
            install(page)
            plan = edit_plan(args.warmup + args.edits + 1, args.seed)
            sizes = output_sizes(page, *plan.pop())
            page.wait_for_timeout(500)
            timings = []
            for i, (tag, percent) in enumerate(tqdm(plan, desc="edits", file=sys.stderr)):
                t = timed_edit(page, tag, percent, timeout_ms=args.timeout * 1e3)
                if i >= args.warmup:
                    timings.append(t)
            typed = []
            words = command_plan(args.warmup + args.commands, args.seed)
            for i, text in enumerate(tqdm(words, desc="commands", file=sys.stderr)):
                t = timed_command(page, text, timeout_ms=args.timeout * 1e3)
                if i >= args.warmup:
                    typed.append(t)
        finally:
            browser.close()
    p95 = pct([t.total_ms for t in timings], 95)
    moved = sum(t.list_ms is not None for t in timings)
    print(
        f"\n{len(timings)} edits over {len({t.what.rsplit(' ', 1)[0] for t in timings})} "
        f"sliders; the list changed in {moved} (the others redrew the charts only)\n"
    )
    print(table(timings))
    verdict = "✓" if p95 <= TARGET_P95_MS else "✗"
    print(f"\ntarget: release → list + charts p95 ≤ {TARGET_P95_MS:g} ms: {p95:.0f} ms {verdict}")
    resp = np.median([t.response_bytes for t in timings])
    split = ", ".join(f"{k} {v / 1e3:.1f} kB" for k, v in sizes.items())
    print(f"bytes per edit (median): response {resp / 1e3:.1f} kB ({split})")
    if typed:
        moved = sum(t.list_ms is not None for t in typed)
        print(f"\n{len(typed)} typed commands; the list changed in {moved}\n")
        print(table(typed, "command → list + both charts"))
        p95 = pct([t.total_ms for t in typed], 95)
        verdict = "✓" if p95 <= TARGET_COMMAND_P95_MS else "✗"
        print(
            f"\ntarget: command → list + charts p95 ≤ {TARGET_COMMAND_P95_MS:g} ms: "
            f"{p95:.0f} ms {verdict}"
        )
    return 0


def paired_difference(base: list[float], other: list[float], seed: int) -> tuple[float, ...]:
    """Median of other − base, edit by edit, and its 95 % bootstrap interval."""
    d = np.asarray(other) - np.asarray(base)
    rng = np.random.default_rng(seed)
    boot = np.median(rng.choice(d, size=(BOOTSTRAP_SAMPLES, d.size)), axis=1)
    return float(np.median(d)), float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))


def run_compare(args: argparse.Namespace) -> int:
    urls = {k: (u if u.endswith("/") else u + "/") for k, u in args.compare.items()}
    rng = np.random.default_rng(args.seed)
    timings: dict[str, list[EditTiming]] = {name: [] for name in urls}
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        try:
            print(header(", ".join(f"{k} {u}" for k, u in urls.items()), browser))
            wait_ms = args.timeout * 4e3
            pages = {k: open_app(browser, u, timeout_ms=wait_ms) for k, u in urls.items()}
            for page in pages.values():
                install(page)
            plan = edit_plan(args.warmup + args.edits, args.seed)
            for i, (tag, percent) in enumerate(tqdm(plan, desc="edits", file=sys.stderr)):
                for name in rng.permutation(list(urls)):
                    t = timed_edit(pages[name], tag, percent, timeout_ms=args.timeout * 1e3)
                    if i >= args.warmup:
                        timings[name].append(t)
        finally:
            browser.close()
    names = list(urls)
    for name in names:
        print(f"\n{name}: {urls[name]}\n")
        print(table(timings[name]))
    base = [t.total_ms for t in timings[names[0]]]
    print()
    for name in names[1:]:
        med, lo, hi = paired_difference(base, [t.total_ms for t in timings[name]], args.seed)
        print(
            f"{name} − {names[0]}, release → list + both charts, edit by edit: median "
            f"{med:+.0f} ms (95 % bootstrap interval {lo:+.0f} … {hi:+.0f})"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.compare:
            return run_compare(args)
        if args.url:
            return run(args, args.url)
        config = AppProcessConfig(bundle=args.bundle, port=args.port)
        print(f"starting app.py ({args.bundle}) …", file=sys.stderr)
        with AppProcess.start(config) as app:
            print(
                f"app.py ready in {app.ready_s:.1f} s (pid {app.pid}, log {app.log_path})",
                file=sys.stderr,
            )
            return run(args, app.url)
    except (ApronError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except PlaywrightError as e:
        print(f"error: the browser failed: {str(e).splitlines()[0][:300]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
