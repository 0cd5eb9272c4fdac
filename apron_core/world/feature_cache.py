"""Cached features of rendered songs, keyed by what their audio is a function of.

Rendering is most of a world build's time, and a song's audio is a pure function of its
spec, the renderer, the SoundFont and the sample rate. So every render leaves, per
encoder part (``Encoder.parts``, keyed by ``Encoder.feature_key``), the raw features of
the whole song and of its prototype excerpt, plus the song's audio quality stats. A
rebuild — after an interruption, with other thresholds, or with another encoder whose
parts were already computed (``musicnn+librosa`` caches ``musicnn`` and ``librosa``) —
renders only songs that miss something.

Layout (one small file per song and part; written atomically, so concurrent workers and
an interrupted build never leave a half-written entry)::

    <cache>/quality/<song key>.json          rms_db, peak, longest_silence_s
    <cache>/<feature key>/<song key>.npy     (2, D) float32: the song, then its excerpt

Stale entries cannot be hit: the song key hashes the spec, ``RENDERER_VERSION``, the
SoundFont's name and size, the sample rate and the excerpt; the feature key names the
encoder, its ``features_version`` and its config. Delete the folder to reclaim space.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from apron_core.errors import DataError

QUALITY = "quality"


def song_key(
    spec: dict, *, sr: int, soundfont: Path, excerpt: tuple[float, float], renderer: str
) -> str:
    """The name of one render's cache entries (see the module docstring)."""
    payload = json.dumps(
        {
            "spec": spec,
            "renderer": renderer,
            "sr": sr,
            "soundfont": soundfont.name,
            "sf_bytes": soundfont.stat().st_size,
            "excerpt": list(excerpt),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _write_atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class FeatureCache:
    """Raw features (song, excerpt) and quality stats of rendered songs under ``root``."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def _features(self, feature_key: str, key: str) -> Path:
        return self.root / feature_key / f"{key}.npy"

    def _quality(self, key: str) -> Path:
        return self.root / QUALITY / f"{key}.json"

    def has(self, key: str, feature_key: str) -> bool:
        return self._features(feature_key, key).is_file()

    def has_quality(self, key: str) -> bool:
        return self._quality(key).is_file()

    def put(self, key: str, feature_key: str, song: np.ndarray, excerpt: np.ndarray) -> None:
        pair = np.stack([song, excerpt]).astype(np.float32)  # (2, D)
        _write_atomic(self._features(feature_key, key), lambda f: np.save(f, pair))

    def put_quality(self, key: str, stats: dict) -> None:
        _write_atomic(self._quality(key), lambda f: f.write(json.dumps(stats).encode()))

    def get(self, key: str, feature_key: str, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(song (D,), excerpt (D,)); DataError naming the file when it is unreadable or
        of another size (delete it and build again)."""
        path = self._features(feature_key, key)
        try:
            pair = np.load(path)
        except (OSError, ValueError) as e:
            raise DataError(f"cached features {path} cannot be read ({e}): delete it") from None
        if pair.shape != (2, dim) or not np.all(np.isfinite(pair)):
            raise DataError(
                f"cached features {path} have shape {pair.shape} (expected (2, {dim})) or "
                "non-finite values: delete the file and build again"
            )
        return pair[0], pair[1]

    def get_quality(self, key: str) -> dict:
        path = self._quality(key)
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise DataError(
                f"cached quality stats {path} cannot be read ({e}): delete it"
            ) from None
