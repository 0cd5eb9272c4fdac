"""TagFilter: "EASE + tag filter", the obvious non-neural control (docs/design.md §4).

Wraps a fitted baseline and re-ranks its scores by the songs' *observed* tags.
Rule, for user u with unedited profile ``p0`` and edited profile ``p`` (both K
tag weights):

    r_ut      = strength · (1 − p_ut / p0_ut)   for tags with p_ut < p0_ut (else 0)
    score'_uj = score_uj − range_u · Σ_t r_ut · tag_jt

where ``tag_jt`` ∈ {0, 1} says song j carries observed tag t and ``range_u`` is the
spread (max − min over finite values) of the user's base scores. So:

* an unedited profile (p = p0) leaves the scores exactly unchanged (relative
  reductions below 1e-6 count as none, so renormalizing round-off does nothing);
* the penalty grows monotonically with how much a tag was turned down; raising a
  tag never penalizes it (after renormalization the *other* tags are reduced, so
  songs with the raised tag move up relative to them);
* with ``strength`` ≥ 1, zeroing a tag pushes every song carrying it below every
  song that carries no reduced tag — a hard filter.

The unedited profile ``p0`` is ``reference`` when given (e.g. the profile the
APRON model computed, which the evaluation then edited); otherwise
:meth:`TagFilter.profiles` — the mean observed-tag vector of the user's fold-in
songs, normalized to sum 1 — so an evaluation can edit that profile instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from safetensors.numpy import load_file

from apron_core.baselines.base import CONFIG_FILE, SCORE_BATCH_USERS, WEIGHTS_FILE, Baseline
from apron_core.checks import check_interaction_matrix, check_number, check_profile
from apron_core.errors import ConfigError, DataError
from apron_core.tags import K

BASE_DIR = "base"  # sub-folder of a saved TagFilter holding the wrapped model
_TOLERANCE = 1e-6  # relative reductions at or below this are no edit


@dataclass
class TagFilterConfig:
    strength: float = 1.0  # 1: a zeroed tag sinks its songs below all others


class TagFilter(Baseline):
    """Down-weights songs whose observed tags the user turned down (see module doc)."""

    name = "tag-filter"
    config_cls = TagFilterConfig

    def __init__(self, base: Baseline, song_tags: Any, strength: float = 1.0) -> None:
        super().__init__(TagFilterConfig(strength=strength))
        check_number(strength, name="strength", minimum=0.0)
        if not isinstance(base, Baseline) or isinstance(base, TagFilter):
            raise ConfigError(f"base must be a (non-TagFilter) Baseline, got {type(base).__name__}")
        self.base = base
        tags = song_tags.toarray() if sp.issparse(song_tags) else np.asarray(song_tags)
        if tags.ndim != 2 or tags.shape[1] != K:
            raise DataError(
                f"song_tags has shape {tags.shape}; expected (n_songs, {K}), one row per "
                "song in the split's unique_sid order, columns in apron_core.tags order."
            )
        self.song_tags = (tags > 0).astype(np.float32)  # (N, K) observed tags, binary
        if base.n_items is not None:
            self._check_catalog(base.n_items)
            self.n_items = base.n_items

    def _check_catalog(self, n_items: int) -> None:
        if self.song_tags.shape[0] != n_items:
            raise DataError(
                f"song_tags has {self.song_tags.shape[0]} rows but the model scores "
                f"{n_items} songs; build both on the same split vocabulary."
            )

    def fit(
        self,
        train: sp.csr_matrix,
        *,
        valid: tuple[sp.csr_matrix, sp.csr_matrix] | None = None,
        seed: int,
        device: str | torch.device | None = None,
        progress: bool = True,
    ) -> TagFilter:
        """Fit the wrapped baseline (the filter itself has nothing to learn)."""
        self._check_catalog(check_interaction_matrix(train, name="train").shape[1])
        self.base.fit(train, valid=valid, seed=seed, device=device, progress=progress)
        self.n_items, self.device, self.training = self.base.n_items, self.base.device, {}
        return self

    def _score_block(self, x: sp.csr_matrix) -> np.ndarray:
        return self.base._score_block(x)

    def profiles(self, fold_in: sp.csr_matrix) -> np.ndarray:
        """(U, K) tag profile from observed tags: mean tag vector of the fold-in songs,
        normalized to sum 1 (uniform for users none of whose songs are tagged)."""
        x = check_interaction_matrix(fold_in, name="fold_in", n_songs=self._require_fitted())
        counts = np.asarray(x @ self.song_tags, dtype=np.float64)  # (U, K)
        total = counts.sum(axis=1, keepdims=True)
        return np.where(total > 0, counts / np.where(total > 0, total, 1.0), 1.0 / K)

    def reductions(self, profiles: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """r (U, K) = strength · (1 − p / p0) where p < p0 (beyond round-off), else 0."""
        with np.errstate(divide="ignore", invalid="ignore"):
            drop = np.where(reference > 0, 1.0 - profiles / reference, 0.0)
        drop = np.where(drop > _TOLERANCE, np.minimum(drop, 1.0), 0.0)
        return self.config.strength * drop

    def score_with_control(
        self,
        fold_in: sp.csr_matrix,
        profiles: np.ndarray,
        *,
        reference: np.ndarray | None = None,
    ) -> np.ndarray:
        """Base scores with songs of turned-down tags pushed down (rule in the module doc).

        ``profiles``: edited (U, K) profiles; ``reference``: the unedited ones
        (default :meth:`profiles` of ``fold_in``). Profiles equal to the reference
        give exactly :meth:`score`.
        """
        x = check_interaction_matrix(fold_in, name="fold_in", n_songs=self._require_fitted())
        p = check_profile(profiles, name="profiles", batched=True, n_users=x.shape[0])
        if reference is None:
            p0 = self.profiles(x)
        else:
            p0 = check_profile(reference, name="reference", batched=True, n_users=x.shape[0])
        r = self.reductions(p, p0)  # (U, K)
        scores = self.score(x)  # (U, N) float32
        edited = np.flatnonzero(r.any(axis=1))
        for start in range(0, len(edited), SCORE_BATCH_USERS):
            rows = edited[start : start + SCORE_BATCH_USERS]
            s = scores[rows]  # (b, N)
            finite = np.isfinite(s)
            hi = np.where(finite, s, -np.inf).max(axis=1)
            lo = np.where(finite, s, np.inf).min(axis=1)
            spread = np.where(finite.any(axis=1), hi.astype(np.float64) - lo, 0.0)  # (b,)
            penalty = (r[rows] @ self.song_tags.T) * spread[:, None]  # (b, N)
            scores[rows] = s - penalty.astype(np.float32)
        return scores

    # ---------------------------------------------------------------- files

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"song_tags": self.song_tags}

    def _restore(self, arrays: dict[str, np.ndarray], device: torch.device) -> None:
        # Never called: load_baseline restores the wrapped model, then calls from_base.
        raise TypeError("TagFilter is restored with load_baseline(dir), not _restore")

    def save(self, out_dir: str | Path) -> Path:
        """Save the filter (config + song tags) and the wrapped model in ``base/``."""
        out = super().save(out_dir)
        self.base.save(out / BASE_DIR)
        meta = json.loads((out / CONFIG_FILE).read_text())
        meta["base"] = {"model": self.base.name, "dir": BASE_DIR}
        (out / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        return out

    @classmethod
    def base_dir(cls, meta: dict[str, Any]) -> str:
        """The subfolder holding the wrapped model (`load_baseline` restores it first)."""
        return str(meta.get("base", {}).get("dir", BASE_DIR))

    @classmethod
    def from_base(cls, in_dir: Path, meta: dict[str, Any], base: Baseline) -> TagFilter:
        config = meta.get("config", {})
        model = cls(base, load_file(str(in_dir / WEIGHTS_FILE))["song_tags"], **config)
        model.training = meta.get("training", {})
        return model
