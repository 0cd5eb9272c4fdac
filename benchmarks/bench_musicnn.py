"""musicnn encoder speed on this CPU: an uploaded 30-s file → its embedding.

python -m benchmarks.bench_musicnn                    # 1 torch thread and the default
python -m benchmarks.bench_musicnn --threads 1 --repeats 20

For each thread setting: median and p95 seconds of `embed_file` on a 30-s 44.1 kHz stereo
MP3 (decode + resample to 16 kHz, log-mel, the network on its 10 patches), the same split
into decoding, log-mel and network, and the throughput of `raw_features_batch` on 8 such
clips at once (the folder embedder's path). Once: loading the weights (first call), and
the cold import of `apron_core.encoders.musicnn` in a fresh interpreter after
`apron_core.encoders` (median of 3) and whether it pulled in torch or librosa. The audio
is seeded synthetic music; speed does not depend on what the music is.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def synthetic_song(rng: np.random.Generator, seconds: float, sr: int) -> np.ndarray:
    """(2, n) float32: a chord progression with harmonics, a kick every half second, noise."""
    t = np.arange(round(seconds * sr)) / sr
    root = 110.0 * 2 ** (np.array([0, 5, 7, 3])[(t // 2).astype(int) % 4] / 12)
    y = sum(
        0.2 / (h + 1) * np.sin(2 * np.pi * root * r * (h + 1) * t)
        for r in (1, 1.25, 1.5)
        for h in range(3)
    )
    y = y + 0.5 * np.exp(-30 * (t % 0.5)) * np.sin(2 * np.pi * 60 * t)
    y = y + 0.02 * rng.standard_normal(t.size)
    y = 0.5 * y / np.abs(y).max()
    return np.stack([y, np.roll(y, 200)]).astype(np.float32)


def stats(times: list[float]) -> str:
    return f"p50 {np.median(times):.3f} s, p95 {np.percentile(times, 95):.3f} s (n={len(times)})"


def cold_import(runs: int = 3) -> tuple[float, float, list[str]]:
    """Median seconds, in a fresh interpreter, to import apron_core.encoders (which every
    encoder needs and the app has loaded anyway) and then apron_core.encoders.musicnn;
    and which heavy modules the latter pulled in."""
    code = (
        "import time, sys; t0 = time.perf_counter(); import apron_core.encoders; "
        "t1 = time.perf_counter(); import apron_core.encoders.musicnn; "
        "print(t1 - t0, time.perf_counter() - t1); "
        "print(' '.join(m for m in ('torch', 'librosa', 'safetensors') if m in sys.modules))"
    )
    base, own, loaded = [], [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.splitlines()
        t_base, t_own = (float(v) for v in out[0].split())
        base.append(t_base)
        own.append(t_own)
        loaded = out[1].split() if len(out) > 1 else []
    return float(np.median(base)), float(np.median(own)), loaded


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_musicnn",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=None,
        help="torch thread settings to measure (default: 1 and torch's default)",
    )
    p.add_argument("--repeats", type=int, default=15, help="timed files per setting (default 15)")
    p.add_argument("--weights", choices=["msd", "mtt"], default="msd")
    p.add_argument("--seconds", type=float, default=30.0, help="file length (default 30)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.repeats < 2 or a.seconds < 3 or (a.threads and min(a.threads) < 1):
        print("error: --repeats >= 2, --seconds >= 3 and --threads >= 1 needed", file=sys.stderr)
        return 2

    import torch

    from apron_core.audio import load_audio, write_audio
    from apron_core.encoders import get_encoder
    from apron_core.encoders.musicnn import MUSICNN_SR, log_mel, split_patches

    base_s, import_s, imported = cold_import()
    heavy = ", ".join(imported) or "none"
    print(
        f"cold import: apron_core.encoders {base_s * 1000:.0f} ms, then "
        f"apron_core.encoders.musicnn {import_s * 1000:.1f} ms (heavy modules: {heavy})"
    )
    thread_settings = a.threads or sorted({1, torch.get_num_threads()})
    rng = np.random.default_rng(a.seed)
    results: dict = {
        "seconds": a.seconds,
        "weights": a.weights,
        "cold_import_s": import_s,
        "base_import_s": base_s,
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = write_audio(
            Path(tmp) / "upload.mp3", synthetic_song(rng, a.seconds, 44100), sr=44100
        )
        enc = get_encoder("musicnn", weights=a.weights, device="cpu")
        t0 = time.perf_counter()
        enc.load_weights()
        results["load_weights_s"] = time.perf_counter() - t0
        print(f"load weights: {results['load_weights_s'] * 1000:.0f} ms")
        clips = [load_audio(path, sr=MUSICNN_SR, mono=True)] * 8
        for threads in thread_settings:
            torch.set_num_threads(threads)
            enc.raw_features_file(path)  # warm-up
            total, decode, mel, net = [], [], [], []
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                y = load_audio(path, sr=MUSICNN_SR, mono=True, duration_s=enc.max_input_s)
                t1 = time.perf_counter()
                patches = split_patches(log_mel(y))
                t2 = time.perf_counter()
                enc.patch_outputs(patches)
                t3 = time.perf_counter()
                enc.raw_features_file(path)
                t4 = time.perf_counter()
                decode.append(t1 - t0)
                mel.append(t2 - t1)
                net.append(t3 - t2)
                total.append(t4 - t3)
            t0 = time.perf_counter()
            enc.raw_features_batch(clips)
            batch_s = time.perf_counter() - t0
            print(f"threads={threads}: {a.seconds:g}-s MP3 → embedding {stats(total)}")
            print(f"  decode+resample {stats(decode)}")
            print(f"  log-mel {stats(mel)}")
            print(f"  network ({len(patches)} patches) {stats(net)}")
            rate = 8 / batch_s
            print(f"  8 clips in one raw_features_batch: {batch_s:.2f} s ({rate:.2f} clips/s)")
            results[f"threads_{threads}"] = {
                "file_p50_s": float(np.median(total)),
                "file_p95_s": float(np.percentile(total, 95)),
                "decode_p50_s": float(np.median(decode)),
                "log_mel_p50_s": float(np.median(mel)),
                "network_p50_s": float(np.median(net)),
                "batch8_clips_per_s": 8 / batch_s,
            }
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
