"""Time and memory of preparing MSD-sized data: synthetic files → source → prepared folder.

    nice -n 10 python -m benchmarks.bench_prepare_msd                   # full size (48 M lines)
    python -m benchmarks.bench_prepare_msd --lines 2000000              # quick, while developing
    python -m benchmarks.bench_prepare_msd --lines 2000000 --repeat 3   # median / p95 per stage

Writes (once per size and seed, reused after) MSD-format files in --workdir: a
``train_triplets.txt`` of --lines lines (Zipf-like song popularity, heavy-tailed
histories, seeded; users and songs scale with the lines unless given), the track list,
a year file, a Last.fm tag database and precomputed raw features for 90 % of the
songs (no audio: decoding previews is the encoder's cost, measured by its own
benchmark). Then runs ``msd_to_source`` and ``prepare`` with the MSD settings
(200 listeners / 20 songs / 50,000 held-out users, scaled with the size) and prints
seconds and peak resident memory per stage (psutil, sampled every 20 ms), the totals
and the process's peak (getrusage).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import statistics
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psutil

FULL_LINES, FULL_USERS, FULL_SONGS = 48_373_586, 1_019_318, 384_546


class RssSampler:
    """Peak RSS of this process since the last reset, sampled on a thread."""

    def __init__(self, every_s: float = 0.02) -> None:
        self._proc = psutil.Process()
        self._every = every_s
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self._proc.memory_info().rss)
            time.sleep(self._every)

    def reset(self) -> None:
        self._peak = self._proc.memory_info().rss

    @property
    def peak_mb(self) -> float:
        return max(self._peak, self._proc.memory_info().rss) / 2**20

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def measured_log(sampler: RssSampler):
    from apron_core.sources.report import PrepLog

    class MeasuredLog(PrepLog):
        @contextmanager
        def stage(self, name: str, *, progress: bool = False):
            sampler.reset()
            with super().stage(name, progress=False):
                yield
            self.peak_rss_mb[name] = round(sampler.peak_mb, 1)
            if progress:
                secs, peak = self.seconds[name], self.peak_rss_mb[name]
                print(f"  {name:<14} {secs:8.1f} s   peak {peak:8.0f} MB", flush=True)

    return MeasuredLog()


def _generate(folder: str, cfg_dict: dict) -> None:
    """In a child process, so the generator's memory does not count against the stages."""
    from apron_core.sources.generic import Embeddings, write_embeddings
    from benchmarks.synthetic_msd import SyntheticMsdConfig, write_synthetic_msd

    info = write_synthetic_msd(folder, SyntheticMsdConfig(**cfg_dict), progress=True)
    lines = (Path(folder) / "unique_tracks.txt").read_text().splitlines()
    tracks = [ln.split("<SEP>", 1)[0] for ln in lines]
    rng = np.random.default_rng(cfg_dict["seed"] + 1)
    keep = [t for t in tracks if rng.random() < 0.9]
    raw = rng.standard_normal((len(keep), 261), dtype=np.float32)
    write_embeddings(Path(folder) / "embeddings", Embeddings(keep, raw, "librosa", {}))
    (Path(folder) / "generated.json").write_text(json.dumps({**info, "config": cfg_dict}))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_prepare_msd",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--lines", type=int, default=FULL_LINES, help="triplet lines to generate")
    p.add_argument("--users", type=int, default=None, help="default: scaled with --lines")
    p.add_argument("--songs", type=int, default=None, help="default: scaled with --lines")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/apron_bench_msd"))
    p.add_argument("--repeat", type=int, default=1, help="runs of the pipeline (same files)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument("--keep", action="store_true", help="keep the source/prepared folders")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.lines < 1000 or args.repeat < 1:
        print("error: --lines must be >= 1000 and --repeat >= 1", file=sys.stderr)
        return 2
    scale = args.lines / FULL_LINES
    gen = {
        "n_lines": args.lines,
        "n_users": args.users or max(100, round(FULL_USERS * scale)),
        "n_songs": args.songs or max(1000, round(FULL_SONGS * scale)),
        "n_unplayed_songs": max(100, round(20_000 * scale)),
        "seed": args.seed,
    }
    folder = args.workdir / f"msd_{args.lines}_{args.seed}"
    made = folder / "generated.json"
    if not made.is_file() or json.loads(made.read_text())["config"] != gen:
        print(f"generating MSD-format files in {folder} …", flush=True)
        t = time.perf_counter()
        ctx = multiprocessing.get_context("spawn")
        child = ctx.Process(target=_generate, args=(str(folder), gen))
        child.start()
        child.join()
        if child.exitcode != 0:
            print("error: generating the files failed", file=sys.stderr)
            return 1
        print(f"  generated in {time.perf_counter() - t:.0f} s", flush=True)
    info = json.loads(made.read_text())
    size_gb = (folder / "train_triplets.txt").stat().st_size / 1e9
    print(
        f"{info['lines']:,} triplet lines ({size_gb:.2f} GB), {gen['n_users']:,} users, "
        f"{gen['n_songs']:,} played songs, {info['tag_rows']:,} Last.fm tag rows",
        flush=True,
    )

    from apron_core.sources.msd import MsdFiles, msd_to_source
    from apron_core.sources.prepare import PrepareConfig, prepare

    heldout = max(10, round(50_000 * scale))
    cfg = PrepareConfig(
        min_song_listeners=max(2, round(200 * scale)) if scale < 1 else 200,
        n_heldout_users=heldout,
        prototype_rule="most_listened",
    )
    runs = []
    sampler = RssSampler()
    try:
        for r in range(args.repeat):
            print(f"run {r + 1}/{args.repeat}", flush=True)
            source, prepared = args.workdir / "source", args.workdir / "prepared"
            for d in (source, prepared):
                shutil.rmtree(d, ignore_errors=True)
            log = measured_log(sampler)
            t = time.perf_counter()
            msd_to_source(MsdFiles.in_folder(folder), source, progress=True, log=log)
            meta = prepare(source, prepared, cfg, progress=True, log=log)
            total = time.perf_counter() - t
            runs.append(
                {
                    "seconds": dict(log.seconds),
                    "peak_rss_mb": dict(log.peak_rss_mb),
                    "total_s": round(total, 1),
                    "kept": log.kept,
                    "split": meta["split"],
                }
            )
            if not args.keep:
                for d in (source, prepared):
                    shutil.rmtree(d, ignore_errors=True)
    finally:
        sampler.close()

    stages = list(runs[0]["seconds"])
    print(f"\n{'stage':<14} {'median s':>10} {'p95 s':>10} {'peak RSS MB':>12}")
    for st in stages:
        secs = [run["seconds"][st] for run in runs]
        p95 = float(np.percentile(secs, 95))
        peak = max(run["peak_rss_mb"][st] for run in runs)
        print(f"{st:<14} {statistics.median(secs):>10.1f} {p95:>10.1f} {peak:>12.0f}")
    totals = [run["total_s"] for run in runs]
    peak = max(max(run["peak_rss_mb"].values()) for run in runs)
    p95 = float(np.percentile(totals, 95))
    print(f"{'total':<14} {statistics.median(totals):>10.1f} {p95:>10.1f} {peak:>12.0f}")
    from apron_core.sources.report import peak_rss_mb

    print(f"process peak RSS (getrusage, includes spikes between samples): {peak_rss_mb():.0f} MB")
    split = runs[0]["split"]
    print(
        f"prepared: {split['n_songs']:,} songs, {split['n_train_users']:,} train / "
        f"{split['n_val_users']:,} validation / {split['n_test_users']:,} test users"
    )
    if args.json:
        args.json.write_text(json.dumps({"generated": info, "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
