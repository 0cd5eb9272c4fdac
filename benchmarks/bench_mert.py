"""MERT encoder throughput on CPU: clips/s for 10-s clips at batch 1 and 8.

python -m benchmarks.bench_mert                 # tiny model + a random MERT-95M-shaped model
python -m benchmarks.bench_mert --skip-95m      # tiny model only (seconds)

Both models are random checkpoints written in MERT's layout (no download): the tiny test
model and one with MERT-v1-95M's exact shape, which costs what MERT-95M costs (speed does
not depend on the weights' values). Prints median and p95 seconds per batch over
repeats, clips/s at the median, the model's analytic GFLOP per clip, and the 95M speed
that scaling the tiny model's measurement by FLOPs would have predicted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from typing import Any

import numpy as np


def gflop_per_window(arch: Mapping[str, Any], n_samples: int) -> float:
    """Multiply-adds ×2 of one forward pass over `n_samples` samples (all layers)."""
    flops, n, c_in = 0.0, n_samples, 1
    for c_out, k, s in zip(arch["conv_dim"], arch["conv_kernel"], arch["conv_stride"], strict=True):
        n = (n - k) // s + 1
        flops += 2 * n * c_out * c_in * k
        c_in = c_out
    T, H, I = n, arch["hidden_size"], arch["intermediate_size"]  # noqa: E741
    flops += 2 * T * c_in * H  # feature projection
    k, g = arch["num_conv_pos_embeddings"], arch["num_conv_pos_embedding_groups"]
    flops += 2 * T * H * (H // g) * k  # positional convolution
    per_layer = 2 * T * H * 4 * H + 2 * 2 * T * T * H + 2 * 2 * T * H * I  # QKVO, QKᵀ·V, FFN
    return (flops + arch["num_hidden_layers"] * per_layer) / 1e9


def measure(model_dir: str, clips: list[np.ndarray], batch: int, repeats: int) -> list[float]:
    """Seconds per call of raw_features_batch on `batch` clips, after one warm-up call."""
    from apron_core.encoders import get_encoder

    enc = get_encoder("mert", model=model_dir, layer="mean", batch_size=batch, device="cpu")
    enc.raw_features_batch(clips[:batch])  # loads the model, warms the kernels
    times = []
    for r in range(repeats):
        group = [clips[(r * batch + i) % len(clips)] for i in range(batch)]
        t0 = time.perf_counter()
        enc.raw_features_batch(group)
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_mert", description=__doc__)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--seconds", type=float, default=10.0, help="clip length (default 10)")
    p.add_argument("--repeats", type=int, default=7, help="timed calls per setting, tiny model")
    p.add_argument("--repeats-95m", type=int, default=3, help="timed calls per setting, 95M")
    p.add_argument("--skip-95m", action="store_true", help="tiny model only")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.threads < 1 or a.seconds < 1 or a.repeats < 1 or a.repeats_95m < 1:
        print(
            "error: --threads, --seconds, --repeats and --repeats-95m must be >= 1", file=sys.stderr
        )
        return 2

    import psutil
    import torch

    from apron_core.encoders.mert import MERT_95M_ARCH, MERT_SR, TINY_ARCH
    from tests.encoders.mert_checkpoints import write_random_checkpoint

    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(a.seed)
    n = round(a.seconds * MERT_SR)
    clips = [(0.1 * rng.standard_normal(n)).astype(np.float32) for _ in range(8)]
    models = [("tiny", TINY_ARCH, a.repeats)]
    if not a.skip_95m:
        models.append(("MERT-95M shape", MERT_95M_ARCH, a.repeats_95m))
    print(
        f"CPU, {a.threads} thread(s), torch {torch.__version__}, {a.seconds:g}-s clips, layer=mean"
    )
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, arch, repeats in models:
            model_dir = os.path.join(tmp, name.split()[0])
            write_random_checkpoint(model_dir, arch=arch, seed=a.seed)
            gflop = gflop_per_window(arch, n)
            row: dict[str, Any] = {"gflop_per_clip": gflop}
            for batch in (1, 8):
                times = np.array(measure(model_dir, clips, batch, repeats))
                med, p95 = float(np.median(times)), float(np.percentile(times, 95))
                row[f"batch{batch}"] = {"median_s": med, "p95_s": p95, "clips_per_s": batch / med}
                print(
                    f"{name:15s} batch {batch}: median {med:7.3f} s, p95 {p95:7.3f} s per batch "
                    f"→ {batch / med:8.2f} clips/s  ({gflop:6.1f} GFLOP/clip, "
                    f"{gflop * batch / med:5.1f} GFLOP/s, n={repeats})"
                )
            row["rss_gib"] = psutil.Process().memory_info().rss / 2**30
            results[name] = row
    tiny = results["tiny"]
    for batch in (1, 8):
        speed = tiny[f"batch{batch}"]["clips_per_s"] * tiny["gflop_per_clip"]
        predicted = speed / gflop_per_window(MERT_95M_ARCH, n)
        line = f"MERT-95M predicted from tiny by FLOPs, batch {batch}: {predicted:.3f} clips/s"
        if "MERT-95M shape" in results:
            measured = results["MERT-95M shape"][f"batch{batch}"]["clips_per_s"]
            line += f" (measured {measured:.3f})"
        print(line)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
