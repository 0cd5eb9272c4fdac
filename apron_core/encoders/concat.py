"""musicnn + librosa: a pretrained tagger's view and hand-made statistics, side by side.

The raw features are musicnn's (the configured weights and layer, on the signal
resampled to 16 kHz) followed by librosa's 261 descriptors (at 22,050 Hz). Each part
keeps its own per-dimension standardization; with ``balance`` the two blocks are then
scaled so each carries half of the total variance, so that neither part outvotes the
other merely by having more dimensions (musicnn's 1506-dim ``pool`` layer would otherwise
swamp librosa's 261). The scaling is folded into the saved ``std``, so a saved encoder
transforms exactly as it was fitted.

Its `parts` are the two encoders, so a feature cache keyed by `feature_key` (the world
build's) computes each part once and serves the concatenation and either part alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from apron_core.encoders.base import Encoder, register_encoder
from apron_core.encoders.librosa_encoder import LibrosaEncoder
from apron_core.encoders.musicnn import LAYER_DIMS, WEIGHTS, MusicnnEncoder
from apron_core.errors import ConfigError

CONCAT_SR = 22050  # librosa's rate; musicnn's part is resampled to 16 kHz from it


@dataclass(frozen=True)
class ConcatEncoderConfig:
    """``musicnn_weights`` / ``musicnn_layer``: as musicnn's ``weights`` / ``layer``.
    ``balance``: scale the standardized blocks to equal total variance."""

    musicnn_weights: str = "msd"
    musicnn_layer: str = "penultimate"
    balance: bool = True
    sr: int = CONCAT_SR
    max_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.musicnn_weights not in WEIGHTS:
            raise ConfigError(
                f"musicnn_weights={self.musicnn_weights!r:.80} must be one of {list(WEIGHTS)}"
            )
        if self.musicnn_layer not in LAYER_DIMS:
            raise ConfigError(
                f"musicnn_layer={self.musicnn_layer!r:.80} must be one of {list(LAYER_DIMS)}"
            )
        if not isinstance(self.balance, bool):
            raise ConfigError(f"balance={self.balance!r:.80} must be true or false")
        if self.sr != CONCAT_SR or isinstance(self.sr, bool):
            raise ConfigError(f"sr={self.sr!r:.80}: musicnn+librosa reads {CONCAT_SR} Hz")


@register_encoder
class ConcatEncoder(Encoder):
    """musicnn's features, then librosa's (see the module docstring)."""

    name = "musicnn+librosa"
    config_cls = ConcatEncoderConfig

    def __init__(self, config: ConcatEncoderConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self._musicnn = MusicnnEncoder(
            weights=c.musicnn_weights, layer=c.musicnn_layer, max_seconds=c.max_seconds
        )
        self._librosa = LibrosaEncoder(max_duration_s=c.max_seconds)

    def describe(self) -> str:
        c = self.config
        return f"musicnn ({c.musicnn_weights.upper()} weights, {c.musicnn_layer} layer) + librosa"

    @property
    def dim(self) -> int:
        return self._musicnn.dim + self._librosa.dim

    @property
    def max_input_s(self) -> float | None:
        return float(self.config.max_seconds)

    def parts(self) -> list[Encoder]:
        return [self._musicnn, self._librosa]

    def raw_features(self, y: np.ndarray) -> np.ndarray:
        y = self._check_signal(y)
        return self.join_parts([p.raw_features_at(y, self.sr) for p in self.parts()])

    def fit_normalization(self, raw: np.ndarray) -> ConcatEncoder:
        super().fit_normalization(raw)
        if self.config.balance:
            self.std = self.std / block_weights(self.block_dims())
        return self

    def block_dims(self) -> list[int]:
        return [p.dim for p in self.parts()]


def block_weights(dims: Sequence[int]) -> np.ndarray:
    """Per-dimension factors (sum(dims),) giving every block of unit-variance dimensions
    the same total variance: sqrt(D / (B · D_b)) for a block of D_b of D dimensions."""
    total, n = sum(dims), len(dims)
    return np.concatenate([np.full(d, np.sqrt(total / (n * d))) for d in dims])
