"""Cold start of the app: `python app.py` spawned → the page and its config served
(HTTP 200 on / and /config, what a browser fetches first; also the server's CPU time
until then, which other jobs on a shared machine change far less than the wall clock)
→ the first recommendation (a demo listener's list, what the page asks for on load),
and the server's resident memory right after it. Repeated N times (a fresh process each
time); prints each run and the median. The first run may also pay for a cold OS file
cache.

python -m benchmarks.bench_cold_start            # 3 runs
python -m benchmarks.bench_cold_start --runs 5 --bundle assets/demo
python -m benchmarks.bench_cold_start --compare ../main   # before/after, same conditions
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from tqdm.auto import tqdm

if __package__ in (None, ""):  # run as a file, not with -m: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apron_core.errors import ApronError
from benchmarks._app_process import APP, AppProcess, AppProcessConfig
from benchmarks.bench_load import Endpoints, Session

TARGET_READY_S = 8.0  # issue 9 (was 15 s)
TARGET_RSS_MB = 1536.0  # 1.5 GB


@dataclass(frozen=True)
class ColdStart:
    ready_s: float  # spawn → / and /config both 200
    ready_cpu_s: float  # CPU seconds the server used until then
    first_rec_s: float  # spawn → first recommendation list returned
    rss_mb: float  # server RSS after the first recommendation


def one_start(app_py: Path, bundle: Path, timeout_s: float, log_dir: Path, i: int) -> ColdStart:
    config = AppProcessConfig(
        bundle=bundle, startup_timeout_s=timeout_s, log_path=log_dir / f"app{i}.log", app=app_py
    )
    with AppProcess.start(config) as app:
        with httpx.Client(timeout=timeout_s) as http:
            ep = Endpoints.discover(http, app.url)
        visitor = Session(app.url, f"coldstart{i}")
        try:
            out = visitor.queued(ep.listener_fn, [ep.listener_ids[0]])
        finally:
            visitor.close()
        first = time.perf_counter() - app.started_at
        if not isinstance(out[1], str) or '<li class="song' not in out[1]:
            raise ApronError(f"the first recommendation came back empty: {str(out[1])[:80]!r}")
        return ColdStart(
            app.ready_s or float("nan"),
            app.ready_cpu_s or float("nan"),
            first,
            app.rss_bytes() / 2**20,
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="fresh starts (default 3)")
    ap.add_argument("--bundle", type=Path, default=Path("assets/demo"), help="bundle it serves")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds one start may take")
    ap.add_argument(
        "--compare",
        type=Path,
        default=None,
        metavar="CHECKOUT",
        help="another checkout of the project (e.g. main's): its app.py is started too, "
        "alternating with this one's, on the same bundle",
    )
    ap.add_argument(
        "--compare-bundle",
        type=Path,
        default=None,
        metavar="DIR",
        help="the bundle --compare's app serves (default: the same as --bundle), e.g. that "
        "checkout's own assets/demo when the shipped bundle changed",
    )
    args = ap.parse_args(argv)
    if args.runs < 1 or args.timeout <= 0:
        ap.error(f"need --runs ≥ 1 and --timeout > 0 (got {args.runs}, {args.timeout:g})")
    if not (args.bundle / "bundle.json").is_file():
        ap.error(f"--bundle {args.bundle}: no bundle.json there (default: assets/demo)")
    if args.compare is not None and not (args.compare / "app.py").is_file():
        ap.error(f"--compare {args.compare}: no app.py there (give a checkout's root folder)")
    if args.compare_bundle is not None:
        if args.compare is None:
            ap.error("--compare-bundle needs --compare")
        if not (args.compare_bundle / "bundle.json").is_file():
            ap.error(f"--compare-bundle {args.compare_bundle}: no bundle.json there")
    return args


def table(runs: list[ColdStart]) -> tuple[list[str], float, float]:
    """Rows of one app's starts and their median; (rows, median served s, median RSS MB)."""
    lines = []
    for i, r in enumerate(runs, 1):
        lines.append(
            f"| {i} | {r.ready_s:.1f} | {r.ready_cpu_s:.1f} | {r.first_rec_s:.1f} | "
            f"{r.rss_mb:.0f} |"
        )
    ready = float(np.median([r.ready_s for r in runs]))
    cpu = float(np.median([r.ready_cpu_s for r in runs]))
    first = float(np.median([r.first_rec_s for r in runs]))
    rss = float(np.median([r.rss_mb for r in runs]))
    lines.append(f"| median | {ready:.1f} | {cpu:.1f} | {first:.1f} | {rss:.0f} |")
    return lines, ready, rss


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bundle = args.bundle.resolve()
    apps = {"this checkout": (APP, bundle)}
    if args.compare is not None:
        other = (args.compare_bundle or args.bundle).resolve()
        apps[str(args.compare)] = (args.compare.resolve() / "app.py", other)
    load1, load5, _ = os.getloadavg()
    print(
        f"python app.py --bundle {args.bundle}"
        + (f" (--compare: {args.compare_bundle})" if args.compare_bundle else "")
        + f"; {args.runs} fresh starts of "
        f"{' and '.join(apps)} (alternating); {os.cpu_count()} CPUs, load average "
        f"{load1:.1f} (1 min) {load5:.1f} (5 min): other jobs share them"
    )
    runs: dict[str, list[ColdStart]] = {name: [] for name in apps}
    try:
        with tempfile.TemporaryDirectory(prefix="apron_cold_") as logs:
            for i in tqdm(range(args.runs), desc="starts", file=sys.stderr):
                for j, (name, (app_py, served)) in enumerate(apps.items()):
                    start = one_start(app_py, served, args.timeout, Path(logs), 2 * i + j)
                    runs[name].append(start)
    except (ApronError, httpx.HTTPError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, starts in runs.items():
        lines, ready, rss = table(starts)
        print(f"\n{name}\n")
        print(
            "| run | page + config served (s) | server CPU until then (s) | first "
            "recommendation (s) | RSS after it (MB) |"
        )
        print("|---|---:|---:|---:|---:|\n" + "\n".join(lines))
        print(
            f"\ntargets: served ≤ {TARGET_READY_S:g} s {'✓' if ready <= TARGET_READY_S else '✗'}; "
            f"RSS ≤ {TARGET_RSS_MB / 1024:g} GB {'✓' if rss <= TARGET_RSS_MB else '✗'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
