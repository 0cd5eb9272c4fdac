"""One client flooding the app while honest visitors edit: does the flood starve them?

The flooder is one session (with a demo listener's profile, so that every edit it gets
through costs a full recommendation) keeping --parallel requests in flight for --seconds
(asyncio, one connection per request): the page's unqueued steering event, a slider
release (`--flood page`, the default), or the queued `/set_weight` API event (`--flood
api`). Meanwhile --honest visitors, each its own session, release a random slider about
once a second (the page's own steering event). Prints the honest edits' latency
p50/p95/max and errors, what the flooder got back (answered, refused with 429 "slow
down", other), and the server's RSS.

python -m benchmarks.bench_flood                      # 500 parallel, 20 honest, 30 s
python -m benchmarks.bench_flood --flood api --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

if __package__ in (None, ""):  # run as a file, not with -m: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apron_core.errors import ApronError
from apron_core.tags import TAG_NAMES
from benchmarks._app_process import WARMED_UP, AppProcess, AppProcessConfig
from benchmarks.bench_load import Endpoints, Results, RssSampler, Session, check_list

TARGET_P95_MS = 300.0


async def flood(url: str, ep: Endpoints, mode: str, parallel: int, stop: threading.Event,
                outcomes: Counter) -> None:  # fmt: skip
    """`parallel` workers, each sending the same event again as soon as it is answered."""
    if mode == "page":
        path = "gradio_api/run/predict"
        rock = {"kind": "tag", "tag": TAG_NAMES.index("rock"), "percent": 30.0}
        body = {"data": [None], "event_data": rock, "fn_index": ep.steer_fn,
                "trigger_id": ep.steer_trigger, "session_hash": "flooder"}  # fmt: skip
    else:
        path = "gradio_api/queue/join"
        body = {"data": [None, "rock", 30.0], "fn_index": ep.set_weight_fn,
                "trigger_id": ep.set_weight_trigger, "session_hash": "flooder"}  # fmt: skip
    limits = httpx.Limits(max_connections=parallel, max_keepalive_connections=parallel)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:

        async def worker() -> None:
            while not stop.is_set():
                try:
                    r = await http.post(path, json=body)
                    outcomes[r.status_code] += 1
                except httpx.HTTPError as e:
                    outcomes[type(e).__name__] += 1

        await asyncio.gather(*(worker() for _ in range(parallel)))


def honest_client(i: int, url: str, ep: Endpoints, seed: int, start: threading.Barrier,
                  stop: threading.Event, results: Results) -> None:  # fmt: skip
    rng = np.random.default_rng([seed, i])
    s = Session(url, f"honest{seed}x{i}")
    try:
        try:
            check_list(s.queued(ep.listener_fn, [ep.listener_ids[i % len(ep.listener_ids)]])[1])
        except Exception as e:  # counted: an honest visitor refused is a failure
            results.error(e)
        start.wait()
        while not stop.wait(float(rng.uniform(0.5, 1.5))):
            tag = int(rng.integers(len(TAG_NAMES)))
            value = round(float(rng.uniform(0.5, 40.0)), 2)
            data = {"kind": "tag", "tag": tag, "percent": value}
            t = time.perf_counter()
            try:
                out = s.unqueued(ep.steer_fn, [None], ep.steer_trigger, data)
                if not isinstance(out[1], dict):
                    check_list(out[1])
            except Exception as e:  # counted, the run goes on
                results.error(e)
                continue
            with results.lock:
                results.edit_ms.append((time.perf_counter() - t) * 1e3)
    finally:
        s.close()


def run(args: argparse.Namespace, url: str, pid: int | None) -> int:
    with httpx.Client(timeout=60) as http:
        ep = Endpoints.discover(http, url)
    load1, load5, _ = os.getloadavg()
    print(
        f"app {url}; flood {args.flood}: one session, {args.parallel} requests in flight; "
        f"{args.honest} honest visitors, one slider release per second each; {args.seconds:g} s; "
        f"{os.cpu_count()} CPUs, load average {load1:.1f} (1 min) {load5:.1f} (5 min)"
    )
    sampler = RssSampler(pid)
    rss0 = sampler.rss_mb()
    results, outcomes = Results(), Counter()
    stop = threading.Event()
    start = threading.Barrier(args.honest + 1, timeout=300)
    honest = [
        threading.Thread(
            target=honest_client, args=(i, url, ep, args.seed, start, stop, results), daemon=True
        )
        for i in range(args.honest)
    ]
    for t in honest:
        t.start()
    own = Session(url, "flooder")  # the flooder has a profile: each edit it gets through
    own.queued(ep.listener_fn, [ep.listener_ids[0]])  # costs a full recommendation
    own.close()
    start.wait()
    flooder = threading.Thread(
        target=lambda: asyncio.run(flood(url, ep, args.flood, args.parallel, stop, outcomes)),
        daemon=True,
    )
    sampler.start()
    flooder.start()
    time.sleep(args.seconds)
    stop.set()
    for t in honest:
        t.join(70)
    flooder.join(70)
    sampler.stop.set()
    v = results.edit_ms
    n_err = sum(results.errors.values())
    print("\n| honest edits (ms) | n | p50 | p95 | max | errors |\n|---|---:|---:|---:|---:|---:|")
    p95 = float(np.percentile(v, 95)) if v else float("inf")
    if v:
        print(
            f"| release → list + charts | {len(v)} | {np.median(v):.0f} | {p95:.0f} | "
            f"{max(v):.0f} | {n_err} |"
        )
    for kind, count in results.errors.most_common(5):
        print(f"  {count} × {kind}")
    total = sum(outcomes.values())
    shown = ", ".join(f"{k}: {c}" for k, c in outcomes.most_common())
    print(
        f"\nflooder: {total} requests in {args.seconds:g} s ({total / args.seconds:.0f}/s): "
        f"{shown} (200 = served, 429 = refused: slow down)"
    )
    print(f"server RSS {rss0:.0f} → {sampler.rss_mb():.0f} MB")
    ok = n_err == 0 and p95 <= TARGET_P95_MS
    print(
        f"targets: honest p95 ≤ {TARGET_P95_MS:g} ms ({p95:.0f}) and 0 honest errors "
        f"({n_err}): {'✓' if ok else '✗'}"
    )
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--flood", choices=("page", "api"), default="page", help="what is flooded")
    ap.add_argument("--parallel", type=int, default=500, help="flood requests in flight")
    ap.add_argument("--honest", type=int, default=20, help="honest visitors (default 20)")
    ap.add_argument("--seconds", type=float, default=30.0, help="duration (default 30)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the honest edits")
    ap.add_argument("--url", default=None, help="attach to a running app instead")
    ap.add_argument("--pid", type=int, default=None, help="server pid for RSS with --url")
    ap.add_argument("--bundle", type=Path, default=Path("assets/demo"), help="bundle it serves")
    args = ap.parse_args(argv)
    if args.parallel < 1 or args.honest < 1 or args.seconds <= 0:
        ap.error("need --parallel ≥ 1, --honest ≥ 1 and --seconds > 0")
    if args.url is not None and not args.url.startswith(("http://", "https://")):
        ap.error(f"--url {args.url!r} must start with http:// or https://")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.url:
            return run(args, args.url if args.url.endswith("/") else args.url + "/", args.pid)
        with AppProcess.start(AppProcessConfig(bundle=args.bundle)) as app:
            app.wait_log(WARMED_UP)
            return run(args, app.url, app.pid)
    except (ApronError, httpx.HTTPError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
