"""Uploads from the worst visitor: what each hostile file costs the app, and whether the
server still answers others while two builds of hostile files run.

1. Per file, through the encoder as the app uses it (`ui.audio.encode_uploads` with the
   bundle's `Engine.encode`, in this process after one warm-up upload): the outcome
   (refused, with the first words of the message, or encoded), wall time and peak extra
   resident memory (Linux VmHWM, reset before each run once freed heap is back with the
   OS), median and p95 over --repeats.
   The files: every one of `benchmarks.hostile_audio` plus three that are valid but as
   costly as an upload may be (8 channels at 96 kHz, a 14-minute file, 15 minutes of
   noise), all written into a temporary folder. Targets: peak extra memory ≤ 64 MB per
   file; a hostile file refused in ≤ 0.5 s (p95; most by their header, before decoding).
2. Against `python app.py` (started on a free port): two visitors build profiles from 10
   hostile files each, at once (`/build_profile`), while a third switches demo listener
   every 0.25 s (`/listener`); the switch latency while the builds run, p50/p95/max,
   over --rounds such pairs of builds.
   Target: every switch answered within 2 s.

python -m benchmarks.bench_uploads                 # both parts
python -m benchmarks.bench_uploads --repeats 9 --skip-server
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

if __package__ in (None, ""):  # run as a file, not with -m: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apron_core.errors import ApronError
from benchmarks.hostile_audio import HOSTILE, make_all, wide_and_fast

TARGET_PEAK_MB = 64.0
TARGET_REFUSAL_S = 0.5
TARGET_SWITCH_S = 2.0
SWITCH_EVERY_S = 0.25  # the switcher's pace: well under the app's per-session rate limit


# --------------------------------------------------------------------------- memory


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise ApronError(f"/proc/self/status has no {field} (Linux only)")


def reset_peak() -> None:
    """Make VmHWM (peak resident memory) start again from the current RSS."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


# --------------------------------------------------------------------------- files


def costly_valid_files(folder: Path) -> dict[str, Path]:
    """Files a visitor may legitimately send that cost the most to decode."""
    rng = np.random.default_rng(0)
    fourteen = folder / "fourteen_minutes.flac"  # 8 kHz mono: ~10 MB, only 30 s decoded
    t = np.arange(14 * 60 * 8000) / 8000
    sf.write(fourteen, (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 8000)
    noise = folder / "fifteen_minutes_noise.ogg"  # lossy, 22.05 kHz: decoding is real work
    with sf.SoundFile(noise, "w", samplerate=22050, channels=1) as f:
        for _ in range(15 * 6):  # 10-s blocks: libsndfile's Vorbis writer crashes on one
            f.write((0.1 * rng.standard_normal(10 * 22050)).astype(np.float32))  # huge write
    return {
        "8 ch × 96 kHz, 40 s": wide_and_fast(folder),
        "14 minutes (8 kHz)": fourteen,
        "15 minutes of noise (OGG)": noise,
    }


def all_files(folder: Path) -> dict[str, Path]:
    files = make_all(folder / "hostile")
    (folder / "valid").mkdir()
    files.update(costly_valid_files(folder / "valid"))
    return files


# --------------------------------------------------------------------------- part 1


@dataclass(frozen=True)
class FileCost:
    name: str
    outcome: str
    refused: bool
    seconds: list[float]
    peak_mb: list[float]


def measure_file(name: str, path: Path, engine, config, repeats: int) -> FileCost:
    from apron_core.ui.audio import encode_uploads
    from apron_core.ui.janitor import release_free_memory

    seconds, peaks, outcome = [], [], ""
    for _ in range(repeats):
        gc.collect()  # what earlier runs freed goes back to the OS, so that RSS before the
        release_free_memory()  # run is tight and reused heap pages count as extra memory
        engine.forget_recent()  # every repeat a cold upload
        reset_peak()
        before = _status_kb("VmRSS")
        t = time.perf_counter()
        out = encode_uploads([path], engine.encode_upload, config)
        seconds.append(time.perf_counter() - t)
        peaks.append(max(0, _status_kb("VmHWM") - before) / 1024)
        outcome = f"refused: {out.problems[0]}" if out.problems else "encoded"
    refused = outcome.startswith("refused")
    return FileCost(name, outcome, refused, seconds, peaks)


def part_one(bundle: Path, repeats: int, folder: Path) -> bool:
    from apron_core.engine import Engine
    from apron_core.ui.audio import AudioConfig

    engine = Engine.load(bundle, device="cpu")
    config = AudioConfig()
    files = all_files(folder)
    warm = folder / "warm.wav"  # lazy imports and first-call costs are not the files'
    t = np.arange(4 * 22050) / 22050  # musicnn needs 3 s
    sf.write(warm, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050)
    engine.encode_upload(warm)
    costs = [
        measure_file(name, path, engine, config, repeats)
        for name, path in tqdm(files.items(), desc="files", file=sys.stderr)
    ]
    print(
        f"\n1. Each file through the app's encoder ({engine.bundle.encoder.name}), {repeats} "
        "runs; peak extra memory = VmHWM − RSS before the run\n"
    )
    print("| file | size | outcome | time p50 / p95 (ms) | peak extra MB p50 / p95 / max |")
    print("|---|---:|---|---:|---:|")
    for c, path in zip(costs, files.values(), strict=True):
        outcome = c.outcome if len(c.outcome) <= 70 else c.outcome[:69] + "…"
        outcome = outcome.replace("|", "/")
        print(
            f"| {c.name} | {path.stat().st_size / 1e6:.2f} MB | {outcome} | "
            f"{np.median(c.seconds) * 1e3:.0f} / {np.percentile(c.seconds, 95) * 1e3:.0f} | "
            f"{np.median(c.peak_mb):.1f} / {np.percentile(c.peak_mb, 95):.1f} / "
            f"{max(c.peak_mb):.1f} |"
        )
    worst_peak = max(max(c.peak_mb) for c in costs)
    refusals = [np.percentile(c.seconds, 95) for c in costs if c.refused]
    worst_refusal = max(refusals) if refusals else float("nan")
    ok_mem, ok_time = worst_peak <= TARGET_PEAK_MB, worst_refusal <= TARGET_REFUSAL_S
    print(
        f"\ntargets: peak extra memory ≤ {TARGET_PEAK_MB:g} MB (worst {worst_peak:.1f}) "
        f"{'✓' if ok_mem else '✗'}; hostile file refused in ≤ {TARGET_REFUSAL_S:g} s "
        f"(worst p95 {worst_refusal * 1e3:.0f} ms over {len(refusals)} files) "
        f"{'✓' if ok_time else '✗'}"
    )
    return ok_mem and ok_time


# --------------------------------------------------------------------------- part 2


def hostile_build_set(files: dict[str, Path]) -> list[Path]:
    """10 files: the costliest valid ones first, then hostile headers and bodies."""
    order = [
        "8 ch × 96 kHz, 40 s", "15 minutes of noise (OGG)", "14 minutes (8 kHz)", "garbage MP3",
        "many channels", "4 MHz rate", "2-hour header", "4 GiB data chunk", "truncated",
        "HTML as .mp3",
    ]  # fmt: skip
    return [files[name] for name in order]


def part_two(bundle: Path, folder: Path, rounds: int) -> bool:
    import httpx
    from gradio_client import Client, handle_file

    from benchmarks._app_process import WARMED_UP, AppProcess, AppProcessConfig
    from benchmarks.bench_load import Endpoints, Session

    files = hostile_build_set(all_files(folder))
    config = AppProcessConfig(bundle=bundle, log_path=folder / "app.log")
    with AppProcess.start(config) as app:
        with httpx.Client(timeout=60) as http:
            ep = Endpoints.discover(http, app.url)
        switcher = Session(app.url, "switcher")
        switcher.queued(ep.listener_fn, [ep.listener_ids[0]])  # warm
        app.wait_log(WARMED_UP)  # the app's own upload warm-up, then one build
        warm = Client(app.url, verbose=False, httpx_kwargs={"timeout": 120})
        warm.predict([], [handle_file(files[0])], api_name="/build_profile")
        builds: list[float] = []
        errors: list[str] = []

        def build(i: int) -> None:
            client = Client(app.url, verbose=False, httpx_kwargs={"timeout": 120})
            t = time.perf_counter()
            try:
                recs, *_ = client.predict(
                    [], [handle_file(p) for p in files], api_name="/build_profile"
                )
                if "upload" not in recs:
                    errors.append(f"build {i}: no profile in the answer")
            except Exception as e:  # a refused build (all files bad) is an answer too
                if "could be used" not in str(e):
                    errors.append(f"build {i}: {str(e)[:120]}")
            builds.append(time.perf_counter() - t)

        switches: list[float] = []
        i = 0
        for r in tqdm(range(rounds), desc="rounds", file=sys.stderr):
            threads = [threading.Thread(target=build, args=(2 * r + j,)) for j in range(2)]
            for t in threads:
                t.start()
            while any(t.is_alive() for t in threads):
                i += 1
                t0 = time.perf_counter()
                try:
                    out = switcher.queued(
                        ep.listener_fn, [ep.listener_ids[i % len(ep.listener_ids)]]
                    )
                    if '<li class="song' not in str(out[1]):
                        errors.append("a listener switch came back without a list")
                except ApronError as e:  # counted: the switcher must always be answered
                    errors.append(f"switch {i}: {str(e)[:120]}")
                switches.append(time.perf_counter() - t0)
                time.sleep(max(0.0, SWITCH_EVERY_S - switches[-1]))  # a visitor, not a flood
            for t in threads:
                t.join()
        switcher.close()
    load1, _, _ = os.getloadavg()
    print(
        f"\n2. Two builds of {len(files)} hostile files at once against app.py ({rounds} "
        f"rounds), a third visitor switching listener meanwhile (load average {load1:.1f})\n"
    )
    print("| what | n | p50 (s) | p95 (s) | max (s) |\n|---|---:|---:|---:|---:|")
    for label, v in (("listener switch during the builds", switches), ("build", builds)):
        print(
            f"| {label} | {len(v)} | {np.median(v):.2f} | {np.percentile(v, 95):.2f} | "
            f"{max(v):.2f} |"
        )
    for e in errors:
        print("  error:", e)
    ok = bool(switches) and max(switches) <= TARGET_SWITCH_S and not errors
    print(
        f"\ntarget: every switch within {TARGET_SWITCH_S:g} s (max {max(switches):.2f} s), "
        f"no errors: {'✓' if ok else '✗'}"
    )
    return ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="runs per file (default 5)")
    ap.add_argument("--bundle", type=Path, default=Path("assets/demo"), help="bundle to use")
    ap.add_argument("--rounds", type=int, default=5, help="pairs of builds (default 5)")
    ap.add_argument("--skip-server", action="store_true", help="part 1 only")
    ap.add_argument("--skip-files", action="store_true", help="part 2 only")
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.rounds < 1:
        ap.error(f"--repeats {args.repeats} and --rounds {args.rounds} must be at least 1")
    if not (args.bundle / "bundle.json").is_file():
        ap.error(f"--bundle {args.bundle}: no bundle.json there (default: assets/demo)")
    if len(HOSTILE) < 10:
        ap.error("benchmarks.hostile_audio has fewer than 10 files")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load1, load5, _ = os.getloadavg()
    print(
        f"{os.cpu_count()} CPUs, load average {load1:.1f} (1 min) {load5:.1f} (5 min): "
        "other jobs share them"
    )
    ok = True
    try:
        with tempfile.TemporaryDirectory(prefix="apron_uploads_") as tmp:
            if not args.skip_files:
                ok &= part_one(args.bundle, args.repeats, Path(tmp) / "one")
            if not args.skip_server:
                ok &= part_two(args.bundle, Path(tmp) / "two", args.rounds)
    except ApronError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
