"""Popularity: every user gets the same scores, each song's count in the train matrix.

With the binary matrices of :mod:`apron_core.data` the count is the number of
train users who played the song.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from apron_core.baselines.base import Baseline
from apron_core.checks import check_int, check_interaction_matrix, resolve_device
from apron_core.errors import DataError


@dataclass
class PopularityConfig:
    """No hyper-parameters."""


class Popularity(Baseline):
    """Scores = training play counts per song, identical for every user."""

    name = "popularity"
    config_cls = PopularityConfig

    def fit(
        self,
        train: sp.csr_matrix,
        *,
        valid: tuple[sp.csr_matrix, sp.csr_matrix] | None = None,
        seed: int,
        device: str | torch.device | None = None,
        progress: bool = True,
    ) -> Popularity:
        """Count plays per song (on the CPU; ``device`` is only checked); ``valid``, ``seed``
        and ``progress`` are unused."""
        x = check_interaction_matrix(train, name="train")
        if x.nnz == 0:
            raise DataError("train matrix is empty; fit needs interactions.")
        check_int(seed, name="seed", minimum=0)
        resolve_device(device)  # the same devices are valid for every baseline
        self.n_items = x.shape[1]
        self.counts = np.asarray(x.sum(axis=0), dtype=np.float32).ravel()  # (N,)
        self.training = {"seed": seed}
        return self

    def _score_block(self, x: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.counts, (x.shape[0], len(self.counts))).copy()  # (u, N)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts}

    def _restore(self, arrays: dict[str, np.ndarray], device: torch.device) -> None:
        self.counts = arrays["counts"].astype(np.float32)
