"""Many visitors editing at once: N clients, each with its own Gradio session, pick a demo
listener and then edit sliders back to back for S seconds, over raw HTTP speaking the
page's own protocol (sse_v3). Counts errors, prints latency p50/p95/max and the server's
resident memory (psutil) from start to end and its CPU time per edit.

Modes (what one edit is):
* page (default): what the browser sends on a slider release: the steering panel's
  unqueued `steer` event (POST run/predict; input: the session state; event data: the
  slider and the share it shows, {"kind": "tag", "tag": i, "percent": p}).
* api: the public `/set_weight` endpoint (the one `Client.view_api()` lists), queued.

Endpoints are found in the app's /config (fn index, component ids) and checked
against /gradio_api/info (what view_api reads), never hard-coded.

python -m benchmarks.bench_load                          # starts app.py on a free port
python -m benchmarks.bench_load --clients 50 --seconds 60 --mode api
python -m benchmarks.bench_load --url http://127.0.0.1:7860/ --pid 1234
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psutil
from tqdm.auto import tqdm

if __package__ in (None, ""):  # run as a file, not with -m: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apron_core.errors import ApronError
from apron_core.tags import TAG_NAMES
from benchmarks._app_process import WARMED_UP, AppProcess, AppProcessConfig

TARGETS = {"errors": 0, "p95_ms": 500.0, "rss_growth_mb": 50.0}
REQUEST_TIMEOUT_S = 60.0


# --------------------------------------------------------------------------- protocol


@dataclass(frozen=True)
class Endpoints:
    """What the clients call, read from the app's /config."""

    listener_fn: int
    listener_ids: tuple[str, ...]
    steer_fn: int  # the steering panel's slider event (unqueued)
    steer_trigger: int  # its component
    set_weight_fn: int
    set_weight_trigger: int

    @classmethod
    def discover(cls, http: httpx.Client, url: str) -> Endpoints:
        config = http.get(url + "config").raise_for_status().json()
        named = http.get(url + "gradio_api/info").raise_for_status().json()["named_endpoints"]
        for name in ("/listener", "/set_weight"):
            if name not in named:
                raise ApronError(
                    f"the app at {url} has no {name} endpoint (view_api: {sorted(named)})"
                )
        deps = config["dependencies"]
        by_name = {d.get("api_name"): d for d in deps}
        comps = {c["id"]: c["props"] for c in config["components"]}
        panel = [cid for cid, props in comps.items() if props.get("elem_id") == "steer"]
        steer = [d for d in deps if panel and [panel[0], "steer"] in map(list, d["targets"])]
        if len(steer) != 1:
            raise ApronError(f"expected one steering event in {url}config, found {len(steer)}")
        select = next(p for p in comps.values() if p.get("elem_id") == "listener-select")
        return cls(
            listener_fn=by_name["listener"]["id"],
            listener_ids=tuple(str(c[1]) for c in select["choices"]),
            steer_fn=steer[0]["id"],
            steer_trigger=panel[0],
            set_weight_fn=by_name["set_weight"]["id"],
            set_weight_trigger=by_name["set_weight"]["targets"][0][0],
        )


class Session:
    """One visitor: an HTTP connection and a Gradio session hash."""

    def __init__(self, url: str, session_hash: str) -> None:
        self.url = url
        self.hash = session_hash
        self.http = httpx.Client(timeout=REQUEST_TIMEOUT_S)

    def queued(self, fn: int, data: list, trigger: int | None = None) -> list:
        """Join the queue, then read the session's event stream until this event ends."""
        body = {"data": data, "fn_index": fn, "trigger_id": trigger, "session_hash": self.hash}
        r = self.http.post(self.url + "gradio_api/queue/join", json=body)
        if r.status_code != 200:
            raise ApronError(f"queue/join HTTP {r.status_code}: {r.text[:200]}")
        event_id = r.json()["event_id"]
        stream = self.url + f"gradio_api/queue/data?session_hash={self.hash}"
        with self.http.stream("GET", stream) as s:
            for line in s.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") != event_id or msg.get("msg") != "process_completed":
                    continue
                out = msg.get("output", {})
                if not msg.get("success", False):
                    raise ApronError(f"event failed: {str(out.get('error'))[:200]}")
                return out.get("data", [])
        raise ApronError("the event stream closed before the event completed")

    def unqueued(self, fn: int, data: list, trigger: int, event_data: object) -> list:
        body = {
            "data": data,
            "event_data": event_data,
            "fn_index": fn,
            "trigger_id": trigger,
            "session_hash": self.hash,
        }
        r = self.http.post(self.url + "gradio_api/run/predict", json=body)
        if r.status_code != 200:
            raise ApronError(f"run/predict HTTP {r.status_code}: {r.text[:200]}")
        return r.json()["data"]

    def close(self) -> None:
        self.http.close()


# --------------------------------------------------------------------------- clients


@dataclass
class Results:
    """Shared by all clients (appends under a lock)."""

    edit_ms: list[float] = field(default_factory=list)  # list + charts ready
    errors: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, e: BaseException) -> None:
        kind = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}" if str(e) else type(e).__name__
        with self.lock:
            self.errors[kind] += 1


def check_list(html: object) -> None:
    if not isinstance(html, str) or html.count('<li class="song') == 0:
        raise ApronError(f"the response holds no recommendation list: {str(html)[:80]!r}")


def client_loop(
    i: int,
    url: str,
    ep: Endpoints,
    mode: str,
    seed: int,
    start: threading.Barrier,
    deadline: list[float],
    results: Results,
    think_s: float = 0.0,
) -> None:
    """Pick a listener, then edit random sliders to random values until the deadline."""
    rng = np.random.default_rng([seed, i])
    s = Session(url, f"load{seed}x{i}x{rng.integers(1 << 30):x}")
    tags = list(range(len(TAG_NAMES)))
    try:
        listener = ep.listener_ids[int(rng.integers(len(ep.listener_ids)))]
        try:
            check_list(s.queued(ep.listener_fn, [listener], None)[1])
        except Exception as e:  # every failure is counted, none stops the run
            results.error(e)
        start.wait()
        while time.perf_counter() < deadline[0]:
            if think_s > 0:
                time.sleep(float(rng.uniform(0, 2 * think_s)))
            tag = tags[int(rng.integers(len(tags)))]
            value = round(float(rng.uniform(0.5, 40.0)), 2)
            t = time.perf_counter()
            try:
                if mode == "page":
                    data = {"kind": "tag", "tag": tag, "percent": value}
                    out = s.unqueued(ep.steer_fn, [None], ep.steer_trigger, data)
                else:
                    name = TAG_NAMES[tag]
                    out = s.queued(ep.set_weight_fn, [None, name, value], ep.set_weight_trigger)
                edit = time.perf_counter() - t
                if not isinstance(out[1], dict):  # (a skipped output comes as an update dict)
                    check_list(out[1])
            except Exception as e:  # counted, as above
                results.error(e)
                continue
            with results.lock:
                results.edit_ms.append(edit * 1e3)
    finally:
        s.close()


class RssSampler(threading.Thread):
    """The server's RSS once a second (peak and the series)."""

    def __init__(self, pid: int | None) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid) if pid else None
        self.samples: list[float] = []
        self.stop = threading.Event()

    def rss_mb(self) -> float:
        return self.proc.memory_info().rss / 2**20 if self.proc else float("nan")

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the server has used so far."""
        if not self.proc:
            return float("nan")
        t = self.proc.cpu_times()
        return float(t.user + t.system)

    def run(self) -> None:
        while not self.stop.wait(1.0):
            self.samples.append(self.rss_mb())


# --------------------------------------------------------------------------- run


def run(args: argparse.Namespace, url: str, pid: int | None) -> int:
    url = url if url.endswith("/") else url + "/"
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as http:
        ep = Endpoints.discover(http, url)
    load1, load5, _ = os.getloadavg()
    print(
        f"app {url} (server pid {pid or '?'}); mode {args.mode}; {args.clients} clients × "
        f"{args.seconds:g} s, think {args.think_ms:g} ms; {os.cpu_count()} CPUs, load average "
        f"{load1:.1f} (1 min) {load5:.1f} (5 min): clients, server and other jobs share them"
    )
    # one warm-up visitor so lazy imports and first-call costs are not counted as growth
    warm = Session(url, f"warmup{args.seed}")
    warm.queued(ep.listener_fn, [ep.listener_ids[0]])
    rock = {"kind": "tag", "tag": TAG_NAMES.index("rock"), "percent": 12.5}
    warm.unqueued(ep.steer_fn, [None], ep.steer_trigger, rock)
    warm.close()
    sampler = RssSampler(pid)
    rss_start = sampler.rss_mb()
    results = Results()
    start = threading.Barrier(args.clients + 1, timeout=300)
    deadline = [float("inf")]
    threads = [
        threading.Thread(
            target=client_loop,
            args=(i, url, ep, args.mode, args.seed, start, deadline, results, args.think_ms / 1e3),
            daemon=True,
        )
        for i in range(args.clients)
    ]
    for t in threads:
        t.start()
    start.wait()  # every client has its listener: the timed window starts now
    me = psutil.Process()
    cpu0 = me.cpu_times()
    server_cpu0 = sampler.cpu_s()
    deadline[0] = time.perf_counter() + args.seconds
    sampler.start()
    with tqdm(total=int(args.seconds), desc="seconds", unit="s", file=sys.stderr) as bar:
        while time.perf_counter() < deadline[0]:
            time.sleep(1.0)
            bar.update(1)
            bar.set_postfix(edits=len(results.edit_ms), errors=sum(results.errors.values()))
    for t in threads:
        t.join(REQUEST_TIMEOUT_S + 5)
    sampler.stop.set()
    rss_end = sampler.rss_mb()
    cpu1 = me.cpu_times()
    client_cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / args.seconds
    server_cpu = sampler.cpu_s() - server_cpu0
    return report(args, results, rss_start, rss_end, sampler.samples, client_cpu, server_cpu)


def report(
    args: argparse.Namespace,
    r: Results,
    rss_start: float,
    rss_end: float,
    rss_series: list[float],
    client_cpu: float,
    server_cpu_s: float,
) -> int:
    n_err = sum(r.errors.values())
    growth = rss_end - rss_start
    edit_label = "release → list + charts" if args.mode == "page" else "/set_weight call"
    rows = [(edit_label, r.edit_ms)]
    lines = ["| latency (ms) | edits | p50 | p95 | max |", "|---|---:|---:|---:|---:|"]
    for label, v in rows:
        if v:
            lines.append(
                f"| {label} | {len(v)} | {np.percentile(v, 50):.0f} | "
                f"{np.percentile(v, 95):.0f} | {max(v):.0f} |"
            )
    print("\n" + "\n".join(lines))
    p95 = float(np.percentile(r.edit_ms, 95)) if r.edit_ms else float("inf")
    measured = not np.isnan(growth)
    # a plateau is allocator/thread warm-up; a steady climb is a leak
    n = len(rss_series)
    marks = [rss_series[int(f * (n - 1))] for f in (0, 0.25, 0.5, 0.75, 1)] if n else []
    series = " → ".join(f"{v:.0f}" for v in marks) or "-"
    rss = (
        f"server RSS {rss_start:.0f} → {rss_end:.0f} MB (growth {growth:+.1f} MB; at 0/25/50/"
        f"75/100 % of the window: {series})"
        if measured
        else "server RSS not measured (give --pid with --url)"
    )
    # CPU time per edit: what an edit costs the server, which other jobs on a shared
    # machine change far less than the latency (a before/after comparison that holds)
    per_edit = server_cpu_s / len(r.edit_ms) * 1e3 if r.edit_ms else float("nan")
    server = f"server CPU {per_edit:.1f} ms per edit; " if measured else ""
    print(
        f"\nthroughput {len(r.edit_ms) / args.seconds:.1f} edits/s; errors {n_err}; {rss}; "
        f"{server}this client process used {client_cpu:.2f} CPU cores"
    )
    for kind, count in r.errors.most_common(5):
        print(f"  {count} × {kind}")
    checks = [
        (f"errors = {TARGETS['errors']}", n_err == TARGETS["errors"]),
        (f"p95 ≤ {TARGETS['p95_ms']:g} ms ({p95:.0f})", p95 <= TARGETS["p95_ms"]),
    ]
    if measured:
        checks.append(
            (f"RSS growth ≤ {TARGETS['rss_growth_mb']:g} MB", growth <= TARGETS["rss_growth_mb"])
        )
    print("targets: " + "; ".join(f"{name} {'✓' if ok else '✗'}" for name, ok in checks))
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--clients", type=int, default=50, help="concurrent visitors (default 50)")
    ap.add_argument("--seconds", type=float, default=60.0, help="timed window (default 60)")
    ap.add_argument(
        "--mode", choices=("page", "api"), default="page", help="what one edit is (see above)"
    )
    ap.add_argument("--url", default=None, help="attach to a running app instead of starting one")
    ap.add_argument("--pid", type=int, default=None, help="server pid for RSS when --url is used")
    ap.add_argument(
        "--port", type=int, default=None, help="port for the app it starts (default: free)"
    )
    ap.add_argument("--bundle", type=Path, default=Path("assets/demo"), help="bundle it serves")
    ap.add_argument("--seed", type=int, default=0, help="seed of the clients' edits")
    ap.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="mean pause between one client's edits (default 0: back to back)",
    )
    args = ap.parse_args(argv)
    if args.think_ms < 0:
        ap.error(f"--think-ms {args.think_ms:g} must be ≥ 0")
    if args.clients < 1 or args.seconds <= 0:
        ap.error(f"need --clients ≥ 1 and --seconds > 0 (got {args.clients}, {args.seconds:g})")
    if args.url is not None and not args.url.startswith(("http://", "https://")):
        ap.error(f"--url {args.url!r} must start with http:// or https://")
    if args.url is None and args.pid is not None:
        ap.error("--pid goes with --url (the app it starts is measured by itself)")
    if args.port is not None and not 0 < args.port < 65536:
        ap.error(f"--port {args.port} must be between 1 and 65535")
    if args.pid is not None and not psutil.pid_exists(args.pid):
        ap.error(f"--pid {args.pid}: no such process")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.url:
            return run(args, args.url, args.pid)
        with AppProcess.start(AppProcessConfig(bundle=args.bundle, port=args.port)) as app:
            print(f"app.py ready in {app.ready_s:.1f} s (pid {app.pid})", file=sys.stderr)
            app.wait_log(WARMED_UP)  # its background warm-up is not the visitors' memory
            return run(args, app.url, app.pid)
    except ApronError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except httpx.HTTPError as e:
        print(f"error: cannot talk to the app: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
