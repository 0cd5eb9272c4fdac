"""Sessions that never close: N visitors each open the page, try to pick --picks catalog
songs, build a profile from what the app kept, and leave without closing anything. The
server's resident memory is sampled before, at the peak, and after the sessions'
time-to-live has passed (the app is started with --session-ttl); the janitor's log lines
say how many sessions it forgot.

Each visitor: the page's first event (a demo listener), "Add" with all --picks ids at
once (refused beyond the app's cap, Limits.max_picked_songs), "Add" with as many as the
cap allows, then /build_profile from them. Target: RSS growth after the TTL ≤ 100 MB.

python -m benchmarks.bench_sessions                        # 1,000 visitors, 4,000 picks
python -m benchmarks.bench_sessions --sessions 200 --ttl 20
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from tqdm.auto import tqdm

if __package__ in (None, ""):  # run as a file, not with -m: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apron_core.errors import ApronError
from apron_core.ui.limits import Limits
from benchmarks._app_process import WARMED_UP, AppProcess, AppProcessConfig
from benchmarks.bench_load import Endpoints, RssSampler, Session

TARGET_GROWTH_MB = 100.0


def page_events(url: str) -> tuple[int, int, int]:
    """From the page config: fn index and trigger of the "Add ticked songs" click, and the
    fn index of /build_profile."""
    config = httpx.get(url + "config", timeout=60).raise_for_status().json()
    button = next(c["id"] for c in config["components"] if c["props"].get("elem_id") == "add-songs")
    add = next(d for d in config["dependencies"] if d["targets"] == [[button, "click"]])
    build = next(d for d in config["dependencies"] if d.get("api_name") == "build_profile")
    return add["id"], button, build["id"]


def catalog_ids(url: str, n: int) -> list[str]:
    """n catalog ids, from the /recommend API (a uniform profile, no exclusions)."""
    from gradio_client import Client

    out = Client(url, verbose=False).predict([1.0] * 80, [], n, api_name="/recommend")
    return list(out["song_ids"])


def visitor(i: int, url: str, ep: Endpoints, events: tuple[int, int, int], ids: list[str],
            cap: int, outcomes: Counter, lock: threading.Lock) -> None:  # fmt: skip
    add, button, build = events
    s = Session(url, f"abandoned{i}")
    try:
        s.queued(ep.listener_fn, [ep.listener_ids[i % len(ep.listener_ids)]])
        try:
            s.queued(add, [[], ids], button)
            result = "all picks kept"
        except ApronError as e:
            result = "picks over the cap refused" if "more than the" in str(e) else str(e)[:80]
        s.queued(add, [[], ids[:cap]], button)
        s.queued(build, [ids[:cap], []])
        with lock:
            outcomes[result] += 1
    except Exception as e:  # counted: every visitor should get through
        with lock:
            outcomes[f"error: {str(e)[:100]}"] += 1
    finally:
        s.close()  # the HTTP connection only: Gradio's session stays until its TTL


def forgotten(log: str) -> int:
    return sum(int(n) for n in re.findall(r"forgot (\d+) idle sessions", log))


def run(args: argparse.Namespace, app: AppProcess) -> int:
    url = app.url
    with httpx.Client(timeout=60) as http:
        ep = Endpoints.discover(http, url)
    events = page_events(url)
    ids = catalog_ids(url, args.picks)
    cap = Limits().max_picked_songs
    load1, load5, _ = os.getloadavg()
    print(
        f"app {url} (pid {app.pid}), session TTL {args.ttl:g} s; {args.sessions} visitors, "
        f"each trying to pick {len(ids)} songs (cap {cap}); {args.workers} at a time; "
        f"{os.cpu_count()} CPUs, load average {load1:.1f} (1 min) {load5:.1f} (5 min)"
    )
    warm = Session(url, "warmup")  # first-call costs are not growth
    warm.queued(ep.listener_fn, [ep.listener_ids[0]])
    warm.close()
    time.sleep(2)
    sampler = RssSampler(app.pid)
    rss0 = sampler.rss_mb()
    sampler.start()
    outcomes: Counter = Counter()
    lock = threading.Lock()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.workers) as pool:
        jobs = [
            pool.submit(visitor, i, url, ep, events, ids, cap, outcomes, lock)
            for i in range(args.sessions)
        ]
        for job in tqdm(jobs, desc="visitors", file=sys.stderr):
            job.result()
    opened_s = time.perf_counter() - t0
    rss_open = sampler.rss_mb()
    wait = args.ttl + 3 * Limits().janitor_interval_s
    print(f"all visitors done in {opened_s:.0f} s; waiting {wait:.0f} s (TTL + 3 janitor rounds)")
    time.sleep(wait)
    sampler.stop.set()
    rss_end = sampler.rss_mb()
    peak = max([rss0, rss_open, *sampler.samples])
    print("\n| server RSS (MB) | before | all sessions open | peak | after the TTL |")
    print("|---|---:|---:|---:|---:|")
    print(f"| | {rss0:.0f} | {rss_open:.0f} | {peak:.0f} | {rss_end:.0f} |")
    for what, n in outcomes.most_common():
        print(f"  {n} × {what}")
    print(f"the janitor forgot {forgotten(app.log_text())} sessions")
    growth = rss_end - rss0
    ok = growth <= TARGET_GROWTH_MB and not any(k.startswith("error") for k in outcomes)
    print(
        f"target: growth after the TTL ≤ {TARGET_GROWTH_MB:g} MB ({growth:+.0f} MB), every "
        f"visitor served: {'✓' if ok else '✗'}"
    )
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sessions", type=int, default=1000, help="visitors (default 1000)")
    ap.add_argument("--picks", type=int, default=4000, help="songs each tries to pick")
    ap.add_argument("--ttl", type=float, default=60.0, help="the app's --session-ttl (s)")
    ap.add_argument("--workers", type=int, default=16, help="visitors at a time (default 16)")
    ap.add_argument("--bundle", type=Path, default=Path("assets/demo"), help="bundle it serves")
    args = ap.parse_args(argv)
    if min(args.sessions, args.picks, args.workers) < 1 or args.ttl <= 0:
        ap.error("need --sessions, --picks, --workers ≥ 1 and --ttl > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = AppProcessConfig(
        bundle=args.bundle, extra_args=("--session-ttl", f"{args.ttl:g}"), startup_timeout_s=300
    )
    try:
        with AppProcess.start(config) as app:
            app.wait_log(WARMED_UP)  # its background warm-up is not the sessions' memory
            return run(args, app)
    except (ApronError, httpx.HTTPError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
