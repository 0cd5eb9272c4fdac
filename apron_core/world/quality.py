"""Objective stand-ins for a listening check: loudness, clipping, silent gaps."""

from __future__ import annotations

import numpy as np

SILENCE_DB = -50.0  # a 50-ms frame quieter than this (dBFS RMS) counts as silence
FRAME_S = 0.05


def audio_quality(y: np.ndarray, *, sr: int) -> dict[str, float]:
    """RMS loudness (dBFS), peak, and the longest silent stretch in seconds."""
    y = np.asarray(y, dtype=np.float64)
    frame = max(1, int(FRAME_S * sr))
    n = len(y) // frame
    frames = y[: n * frame].reshape(n, frame) if n else y[None, :]
    frame_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    silent = frame_db < SILENCE_DB
    longest = run = 0
    for s in silent:
        run = run + 1 if s else 0
        longest = max(longest, run)
    return {
        "rms_db": float(10 * np.log10(np.mean(y**2) + 1e-12)),
        "peak": float(np.max(np.abs(y))) if len(y) else 0.0,
        "longest_silence_s": float(longest * frame / sr),
    }
