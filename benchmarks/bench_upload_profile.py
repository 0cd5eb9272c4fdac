"""Upload → profile through the engine, as "Build your own" runs it: one 30-s file.

python -m benchmarks.bench_upload_profile                       # the shipped bundle
python -m benchmarks.bench_upload_profile --bundle runs/musicnn --files 20 --threads 2

For each of ``--files`` seeded synthetic 30-s 44.1 kHz stereo MP3 files (what a visitor
uploads; the speed does not depend on what the music is): the app's own upload step
(``apron_core.ui.audio.encode_uploads`` with ``Engine.encode_upload``: size checks,
decoding, resampling, the bundle's encoder and its tag heads) then
``Engine.profile(embeddings=..., evidence=...)``,
timed end to end. Prints median and p95 over the files, after one untimed warm-up upload,
and that first upload's time on its own (it loads what the encoder loads lazily, e.g.
musicnn's weights); plus the engine's load time. ``--threads`` sets torch's threads (the
app leaves torch's default).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a file, not with -m: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apron_core.errors import ApronError, ConfigError

TARGET_P95_S = 2.0  # issue 11: upload → profile ≤ 2 s for a 30-s file (p95 over 20 files)


def synthetic_upload(seed: int, seconds: float, sr: int = 44100) -> np.ndarray:
    """(2, n) float32: a seeded chord progression with harmonics, a kick, a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sr)) / sr
    steps = rng.integers(0, 12, size=4)
    root = rng.uniform(90, 180) * 2 ** (steps[(t // 2).astype(int) % 4] / 12)
    y = sum(
        0.2 / (h + 1) * np.sin(2 * np.pi * root * r * (h + 1) * t)
        for r in (1, 1.25, 1.5)
        for h in range(3)
    )
    beat = rng.uniform(0.4, 0.7)
    y = y + 0.5 * np.exp(-30 * (t % beat)) * np.sin(2 * np.pi * 60 * t)
    y = y + 0.02 * rng.standard_normal(t.size)
    y = 0.5 * y / np.abs(y).max()
    return np.stack([y, np.roll(y, 200)]).astype(np.float32)


def write_uploads(folder: Path, n: int, seconds: float) -> list[Path]:
    from apron_core.audio import write_audio

    paths = []
    for i in range(n):
        path = folder / f"upload_{i:02d}.mp3"
        write_audio(path, synthetic_upload(i, seconds), sr=44100)
        paths.append(path)
    return paths


def upload_to_profile(engine, path: Path, config) -> np.ndarray:
    """What the app's profile build does with one uploaded file and no picked songs."""
    from apron_core.ui.audio import encode_uploads

    uploads = encode_uploads([path], engine.encode_upload, config)
    if uploads.embeddings is None:
        raise ApronError(f"the upload was refused: {' '.join(uploads.problems)[:200]}")
    return engine.profile([], embeddings=uploads.embeddings, evidence=uploads.evidence)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_upload_profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bundle", type=Path, default=Path("assets/demo"), help="bundle folder")
    p.add_argument("--files", type=int, default=20, help="timed uploads (default 20)")
    p.add_argument("--seconds", type=float, default=30.0, help="upload length (default 30)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    a = p.parse_args(argv)
    try:
        if a.files < 1 or a.seconds < 3:
            raise ConfigError(f"--files={a.files} must be ≥ 1 and --seconds={a.seconds} ≥ 3")
        import torch

        from apron_core.engine import Engine
        from apron_core.ui.audio import AudioConfig

        if a.threads is not None:
            torch.set_num_threads(a.threads)
        t0 = time.perf_counter()
        engine = Engine.load(a.bundle, device="cpu")
        load_s = time.perf_counter() - t0
        config = AudioConfig()
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_uploads(Path(tmp), a.files + 1, a.seconds)
            t0 = time.perf_counter()
            upload_to_profile(engine, paths[0], config)  # warm-up: lazy loads
            first_s = time.perf_counter() - t0
            times = []
            for path in paths[1:]:
                t0 = time.perf_counter()
                profile = upload_to_profile(engine, path, config)
                times.append(time.perf_counter() - t0)
                assert profile.shape == (80,) and abs(profile.sum() - 1) < 1e-6
    except ApronError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    encoder = engine.bundle.encoder
    result = {
        "bundle": str(a.bundle),
        "encoder": encoder.describe(),
        "torch_threads": torch.get_num_threads(),
        "files": a.files,
        "seconds": a.seconds,
        "engine_load_s": round(load_s, 3),
        "first_upload_s": round(first_s, 3),
        "p50_s": round(float(np.median(times)), 3),
        "p95_s": round(float(np.percentile(times, 95)), 3),
        "max_s": round(float(np.max(times)), 3),
    }
    print(
        f"{a.bundle} ({result['encoder']}), {result['torch_threads']} torch thread(s): "
        f"{a.seconds:g}-s upload → profile p50 {result['p50_s']:.3f} s, "
        f"p95 {result['p95_s']:.3f} s (n={a.files}; target p95 ≤ {TARGET_P95_S:g} s); "
        f"first upload {first_s:.3f} s; engine load {load_s:.2f} s"
    )
    if a.json is not None:
        a.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
