"""Server-side speed of the engine: what one slider edit costs.

Times ``Engine.recommend(profile, k=20, exclude=history, explain=True)`` (top-20 + tag mix +
explanations) over randomly edited profiles of listeners' histories, on (a) the demo bundle
and (b) a synthetic engine of the Million Song Dataset's size (41,140 songs: an untrained
model of the bundle's kind and config — APRON, or grounded steering with its untrained
collaborative bases — over random unit-norm song embeddings and random tags, seeded), each
with one torch thread and with torch's default thread count. Also times ``profile(history)``,
``Engine.load`` and the resident memory after load, and prints a markdown table.

Grounded steering scores a history's collaborative base once and keeps it (a per-engine
LRU), so a slider edit costs one (N, 80) product: the edits are timed with each history's
first call made beforehand, and that first call ("new listener") is timed on its own.

On CPUs shared with other jobs, OpenMP's default spin-waiting makes torch's multi-thread
runs collapse (measured here at load 6 on 2 cores: 4,000 songs, 2 threads, median 27 ms
and p95 132 ms; with OMP_WAIT_POLICY=PASSIVE, 1.7 ms and 2.4 ms). Set that variable
before torch is imported when the server's cores are not its own.

python -m benchmarks.bench_recommend            # or: python benchmarks/bench_recommend.py
python -m benchmarks.bench_recommend --profiles 1000 --threads 1 --skip-msd
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import torch
from tqdm.auto import tqdm

if __package__ in (None, ""):  # run as a file, not with -m: make apron_core importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apron_core.engine import Engine
from apron_core.errors import ApronError, ConfigError
from apron_core.model import Apron, ApronConfig
from apron_core.steering import GroundedSteering, SteeringConfig
from apron_core.tags import K

MSD_SONGS = 41_140
TARGET_P95_MS = {"demo": 5.0, "msd-size": 20.0}
EDIT_FACTORS = (0.0, 0.25, 0.5, 2.0, 4.0)  # a slider moved down to 0 … up 4×


@dataclass(frozen=True)
class Row:
    case: str
    songs: int
    threads: int
    rec_median_ms: float
    rec_p95_ms: float
    prof_median_ms: float
    prof_p95_ms: float
    first_median_ms: float
    first_p95_ms: float


def synthetic_steering(
    n_songs: int, cfg: SteeringConfig, songs: torch.Tensor, protos: torch.Tensor, seed: int
) -> GroundedSteering:
    """Grounded steering with untrained bases of the config's kinds (their scoring cost is
    that of a trained one) and a random cross-fitted affinity."""
    from apron_core.baselines import make_baseline
    from apron_core.grounding import GroundedAttention

    model = GroundedSteering(cfg)
    rng = np.random.default_rng(seed)
    tags = (rng.random((n_songs, K)) < 7 / K).astype(np.float32)
    model.set_catalog(songs.numpy(), protos.numpy(), tags)
    bases = []
    for name in cfg.bases:
        base = make_baseline(name)
        base.n_items = n_songs
        base._restore(_untrained_arrays(base, n_songs, seed), torch.device("cpu"))
        bases.append(base)
    model.use_bases(bases)
    model.grounding = GroundedAttention(protos, 64).eval()
    model.crossfit = rng.random((n_songs, K)).astype(np.float32) * 0.2
    model.n_items = n_songs
    return model


def _untrained_arrays(base, n_songs: int, seed: int) -> dict[str, np.ndarray]:
    """A base's freshly initialized weights as its saved arrays (EASE: a random B)."""
    if base.name == "ease":
        b = np.random.default_rng(seed).normal(0, 0.01, (n_songs, n_songs)).astype(np.float32)
        return {"B": b}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = base._build(n_songs)
    return {k: v.detach().numpy() for k, v in net.state_dict().items()}


def synthetic_engine(
    n_songs: int, cfg: ApronConfig | SteeringConfig, *, seed: int, device: str, emb_dim: int = 0
) -> Engine:
    """An untrained model of ``cfg``'s kind over random unit-norm embeddings (``emb_dim``:
    APRON's own, else given), ~7 random tags per song."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # layer initialization
    emb_dim = cfg.emb_dim if isinstance(cfg, ApronConfig) else emb_dim
    songs = torch.nn.functional.normalize(torch.randn(n_songs, emb_dim, generator=g), dim=1)
    protos = torch.nn.functional.normalize(torch.randn(K, emb_dim, generator=g), dim=1)
    rng = np.random.default_rng(seed)
    tags = (rng.random((n_songs, K)) < 7 / K).astype(np.float32)
    if isinstance(cfg, SteeringConfig):
        model = synthetic_steering(n_songs, cfg, songs, protos, seed)
    else:
        model = Apron(ApronConfig.from_dict({**cfg.__dict__, "n_songs": n_songs}), protos, songs)
    ids = [f"X{i:06d}" for i in range(n_songs)]
    return Engine.from_parts(model, ids, tags, device=device)


def random_histories(engine: Engine, n: int, rng: np.random.Generator) -> list[list[str]]:
    """Histories of 20-100 random catalog songs (the demo world's minimum is 20)."""
    lengths = rng.integers(20, 101, size=n)
    return [
        [engine.song_ids[i] for i in rng.choice(engine.n_songs, size=m, replace=False)]
        for m in lengths
    ]


def edited_profiles(
    engine: Engine, histories: Sequence[list[str]], n: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, list[str]]]:
    """(edited profile, history to exclude) pairs: one random tag of a history's profile
    scaled by a random factor, renormalized, as after one slider move."""
    base = [(engine.profile(h), h) for h in histories]
    out = []
    for _ in range(n):
        p, h = base[rng.integers(len(base))]
        q = p.copy()
        q[rng.integers(K)] *= EDIT_FACTORS[rng.integers(len(EDIT_FACTORS))]
        out.append((q / q.sum(), h))
    return out


def timed_ms(fn: Callable[[], object], n: int, desc: str) -> np.ndarray:
    times = np.empty(n)
    for i in tqdm(range(n), desc=desc, leave=False, file=sys.stderr):
        t = time.perf_counter()
        fn()
        times[i] = (time.perf_counter() - t) * 1e3
    return times


def bench_case(
    case: str, engine: Engine, histories: list[list[str]], args: argparse.Namespace
) -> Row:
    rng = np.random.default_rng(args.seed)
    work = edited_profiles(engine, histories, args.profiles, rng)
    for h in histories:  # each listener's first call (grounded steering keeps its base)
        engine.recommend(engine.profile(h), k=args.k, exclude=h)
    for p, h in work[: args.warmup]:
        engine.recommend(p, k=args.k, exclude=h)
    it = iter(work)

    def one_edit() -> None:
        profile, history = next(it)
        engine.recommend(profile, k=args.k, exclude=history, explain=True)

    rec = timed_ms(one_edit, len(work), f"{case} recommend")
    hist = iter(histories * (args.profiles // len(histories) + 1))
    prof = timed_ms(lambda: engine.profile(next(hist)), args.profiles, f"{case} profile")
    fresh = iter(random_histories(engine, args.first_calls, rng))

    def first_call() -> None:
        h = next(fresh)
        engine.recommend(engine.profile(h), k=args.k, exclude=h, explain=True)

    first = timed_ms(first_call, args.first_calls, f"{case} new listener")
    return Row(
        case=case,
        songs=engine.n_songs,
        threads=torch.get_num_threads(),
        rec_median_ms=float(np.median(rec)),
        rec_p95_ms=float(np.percentile(rec, 95)),
        prof_median_ms=float(np.median(prof)),
        prof_p95_ms=float(np.percentile(prof, 95)),
        first_median_ms=float(np.median(first)),
        first_p95_ms=float(np.percentile(first, 95)),
    )


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def thread_counts(spec: str) -> list[int]:
    default = torch.get_num_threads()
    out = []
    for part in spec.split(","):
        part = part.strip()
        if part == "default":
            out.append(default)
        elif part.isdigit() and int(part) >= 1:
            out.append(int(part))
        else:
            raise ConfigError(
                f"--threads {spec!r}: use positive integers or 'default', e.g. 1,default"
            )
    return list(dict.fromkeys(out))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bundle", type=Path, default=Path("assets/demo"), help="bundle folder")
    ap.add_argument("--profiles", type=int, default=500, help="edited profiles timed per case")
    ap.add_argument("--warmup", type=int, default=20, help="untimed calls before timing")
    ap.add_argument(
        "--first-calls", type=int, default=50, help="new listeners timed (profile + recommend)"
    )
    ap.add_argument("--k", type=int, default=20, help="recommendations per call")
    ap.add_argument("--msd-songs", type=int, default=MSD_SONGS, help="synthetic catalog size")
    ap.add_argument("--threads", default="1,default", help="torch thread counts, e.g. 1,default")
    ap.add_argument("--load-repeats", type=int, default=3, help="Engine.load timings")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-msd", action="store_true", help="only the demo bundle")
    args = ap.parse_args(argv)
    if args.profiles < 20 or args.warmup < 0 or args.k < 1 or args.msd_songs < args.k:
        ap.error("need --profiles ≥ 20, --warmup ≥ 0, --k ≥ 1, --msd-songs ≥ k")
    if args.first_calls < 1:
        ap.error("need --first-calls ≥ 1")
    return args


def run(args: argparse.Namespace) -> list[Row]:
    threads = thread_counts(args.threads)
    rss0 = rss_mb()
    t = time.perf_counter()
    demo = Engine.load(args.bundle, device=args.device)
    first_load = time.perf_counter() - t
    rss_demo = rss_mb()
    loads = []
    for _ in range(args.load_repeats):
        t = time.perf_counter()
        Engine.load(args.bundle, device=args.device)
        loads.append(time.perf_counter() - t)
    gc.collect()
    load1, load5, _ = os.getloadavg()
    print(
        f"device: {demo.device}; torch {torch.__version__}; default threads "
        f"{torch.get_num_threads()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '-')}; "
        f"{os.cpu_count()} CPUs, load average {load1:.1f} (1 min), "
        f"{load5:.1f} (5 min): other jobs on the same cores inflate the tail"
    )
    print(f"bundle kind: {demo.kind}")
    print(
        f"Engine.load({args.bundle}): first {first_load * 1e3:.0f} ms (with lazy imports), "
        f"then median {np.median(loads) * 1e3:.0f} ms over {len(loads)}; "
        f"RSS {rss0:.0f} MB before, {rss_demo:.0f} MB after the first load"
    )
    rng = np.random.default_rng(args.seed)
    demo_hist = [d.history for d in demo.bundle.demo_listeners] + random_histories(demo, 100, rng)
    cases: list[tuple[str, Engine, list[list[str]]]] = [("demo", demo, demo_hist)]
    if not args.skip_msd:
        rss1 = rss_mb()
        t = time.perf_counter()
        big = synthetic_engine(
            args.msd_songs,
            demo.bundle.config,
            seed=args.seed,
            device=str(demo.device),
            emb_dim=int(demo.bundle.model.prototypes.shape[1]),
        )
        build = time.perf_counter() - t
        print(
            f"synthetic engine ({args.msd_songs:,} songs): built in {build * 1e3:.0f} ms, "
            f"RSS +{rss_mb() - rss1:.0f} MB"
        )
        cases.append(("msd-size", big, random_histories(big, 100, rng)))
    rows = []
    for n in threads:
        torch.set_num_threads(n)
        for case, engine, hist in cases:
            rows.append(bench_case(case, engine, hist, args))
    return rows


def table(rows: list[Row]) -> str:
    lines = [
        "| case | songs | torch threads | recommend median ms | recommend p95 ms | target p95 "
        "| profile(history) median ms | p95 ms | new listener median ms | p95 ms |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        target = TARGET_P95_MS.get(r.case)
        verdict = "" if target is None else f"≤ {target:g} {'✓' if r.rec_p95_ms <= target else '✗'}"
        lines.append(
            f"| {r.case} | {r.songs:,} | {r.threads} | {r.rec_median_ms:.2f} | "
            f"{r.rec_p95_ms:.2f} | {verdict} | {r.prof_median_ms:.3f} | {r.prof_p95_ms:.3f} | "
            f"{r.first_median_ms:.2f} | {r.first_p95_ms:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        rows = run(args)
    except ApronError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
