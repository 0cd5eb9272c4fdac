"""What every baseline shares: the interface, input checks, chunked scoring and the files.

A baseline is fitted on the train users' matrix and scores users it has never
seen from their fold-in rows (strong generalization, docs/design.md §4)::

    model = make_baseline("ease", lam=500.0).fit(train, valid=(val_tr, val_te), seed=0)
    scores = model.score(test_tr)  # (U, N) float32, fold-in songs not masked
    model.save("runs/ease")
    model = load_baseline("runs/ease")

On disk a baseline is a folder with ``config.json`` (model name, format version,
config, catalog size, training record) and ``weights.safetensors`` (arrays only,
never pickle).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from safetensors.numpy import load_file, save_file

from apron_core import metrics
from apron_core.checks import check_int, check_interaction_matrix, check_profile
from apron_core.errors import ConfigError, DataError

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
SCORE_BATCH_USERS = 1000


# --------------------------------------------------------------------------- checks


def check_valid(valid: Any, n_items: int) -> tuple[sp.csr_matrix, sp.csr_matrix] | None:
    """``valid`` = ``(fold_in, heldout)`` of the validation users, or None."""
    if valid is None:
        return None
    if not isinstance(valid, tuple | list) or len(valid) != 2:
        raise DataError("valid must be a (fold_in, heldout) pair of sparse matrices or None.")
    tr = check_interaction_matrix(valid[0], name="valid[0] (fold-in)", n_songs=n_items)
    te = check_interaction_matrix(valid[1], name="valid[1] (held-out)", n_songs=n_items)
    if tr.shape != te.shape:
        raise DataError(f"valid fold-in {tr.shape} and held-out {te.shape} shapes differ.")
    if te.nnz == 0:
        raise DataError("valid held-out matrix is empty; no NDCG can be computed from it.")
    return tr, te


VALIDATION_K = 100  # early stopping and tuning watch NDCG@100 (docs/design.md §4)


def validation_ndcg(model: Baseline, fold_in: sp.csr_matrix, heldout: sp.csr_matrix) -> float:
    """Mean NDCG@100 of ``heldout`` given ``fold_in`` (fold-in songs masked), in user blocks,
    with the evaluation's own metric code (apron_core.metrics: same ranking, same ties)."""
    k = min(VALIDATION_K, model._require_fitted())
    values = []
    for start, block in model.iter_scores(fold_in):
        rows = slice(start, start + len(block))
        masked = metrics.mask_fold_in(block, fold_in[rows])
        values.append(metrics.ndcg_at_k(masked, heldout[rows], k))
    return float(np.nanmean(np.concatenate(values)))


# --------------------------------------------------------------------------- interface


def config_from_dict(cls: type, values: dict[str, Any]) -> Any:
    """Build dataclass ``cls`` from ``values``; unknown keys raise ConfigError.

    Lists become tuples where the field is a tuple (JSON has no tuples).
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"{cls.__name__} has no field(s) {unknown}; valid fields: {sorted(names)}"
        )
    hints = typing.get_type_hints(cls)
    out = {}
    for key, v in values.items():
        hint = hints.get(key)
        origins = {typing.get_origin(hint)} | {typing.get_origin(a) for a in typing.get_args(hint)}
        is_tuple = hint is tuple or tuple in origins
        if isinstance(v, list) and is_tuple:
            v = tuple(v)
        out[key] = v
    return cls(**out)


class Baseline(ABC):
    """Interface of every recommender baseline.

    Subclasses set ``name`` and ``config_cls`` and implement :meth:`fit`,
    :meth:`_score_block`, :meth:`_arrays` and :meth:`_restore`.
    """

    name: ClassVar[str]
    config_cls: ClassVar[type]

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        if config is None:
            config = config_from_dict(self.config_cls, overrides)
        if not isinstance(config, self.config_cls):
            raise ConfigError(
                f"{type(self).__name__} needs a {self.config_cls.__name__}, "
                f"got {type(config).__name__}"
            )
        if overrides:
            config = config_from_dict(self.config_cls, {**dataclasses.asdict(config), **overrides})
        self.config = config
        self.n_items: int | None = None
        self.device = torch.device("cpu")
        self.training: dict[str, Any] = {}  # what fit recorded (epochs, best NDCG, ...)

    def __repr__(self) -> str:
        fitted = f"n_items={self.n_items}" if self.n_items is not None else "not fitted"
        return f"{type(self).__name__}({self.config}, {fitted})"

    # ---------------------------------------------------------------- fit / score

    @abstractmethod
    def fit(
        self,
        train: sp.csr_matrix,
        *,
        valid: tuple[sp.csr_matrix, sp.csr_matrix] | None = None,
        seed: int,
        device: str | torch.device | None = None,
        progress: bool = True,
    ) -> Baseline:
        """Fit on ``train`` (train users x songs) on ``device`` (None or "auto": CUDA when
        torch sees it, else the CPU; see apron_core.checks.resolve_device); returns self."""

    @abstractmethod
    def _score_block(self, x: sp.csr_matrix) -> np.ndarray:
        """Scores (u, N) float32 for a block of fold-in rows (at most a few thousand)."""

    def _require_fitted(self) -> int:
        if self.n_items is None:
            raise ConfigError(f"{type(self).__name__} is not fitted; call fit() or load it.")
        return self.n_items

    def iter_scores(
        self, fold_in: sp.csr_matrix, *, batch_users: int = SCORE_BATCH_USERS
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_row, scores)`` blocks of at most ``batch_users`` users.

        For streaming evaluation without holding the whole (U, N) matrix.
        """
        x = check_interaction_matrix(fold_in, name="fold_in", n_songs=self._require_fitted())
        check_int(batch_users, name="batch_users", minimum=1)
        for start in range(0, x.shape[0], batch_users):
            block = self._score_block(x[start : start + batch_users])
            yield start, np.ascontiguousarray(block, dtype=np.float32)

    def score(self, fold_in: sp.csr_matrix, *, batch_users: int = SCORE_BATCH_USERS) -> np.ndarray:
        """Raw scores (U, N) float32 for users given by their fold-in rows.

        Users need not have been seen in training. Fold-in songs are not masked;
        the evaluation sets them to ``-inf`` before ranking.
        """
        n_items = self._require_fitted()
        x = check_interaction_matrix(fold_in, name="fold_in", n_songs=n_items)
        out = np.empty((x.shape[0], n_items), dtype=np.float32)
        for start, block in self.iter_scores(x, batch_users=batch_users):
            out[start : start + len(block)] = block
        return out

    def score_with_control(
        self,
        fold_in: sp.csr_matrix,
        profiles: np.ndarray,
        *,
        reference: np.ndarray | None = None,
    ) -> np.ndarray:
        """Scores under an edited tag profile — ignored here: returns :meth:`score`.

        Plain baselines have no notion of tags, so editing a profile changes
        nothing and their controllability Δ is exactly 0 *by construction*.
        ``profiles`` (and ``reference``) are still checked to be (U, K).
        """
        x = check_interaction_matrix(fold_in, name="fold_in", n_songs=self._require_fitted())
        check_profile(profiles, name="profiles", batched=True, n_users=x.shape[0])
        if reference is not None:
            check_profile(reference, name="reference", batched=True, n_users=x.shape[0])
        return self.score(x)

    # ---------------------------------------------------------------- files

    @abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]:
        """The fitted state as named arrays (written to weights.safetensors)."""

    @abstractmethod
    def _restore(self, arrays: dict[str, np.ndarray], device: torch.device) -> None:
        """Inverse of :meth:`_arrays` (``self.config`` and ``self.n_items`` already set)."""

    def _meta(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "format_version": FORMAT_VERSION,
            "config": dataclasses.asdict(self.config),
            "n_items": self.n_items,
            "training": self.training,
        }

    def save(self, out_dir: str | Path) -> Path:
        """Write ``config.json`` and ``weights.safetensors`` into ``out_dir``; returns it."""
        self._require_fitted()
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        arrays = {k: np.ascontiguousarray(v) for k, v in self._arrays().items()}
        save_file(arrays, str(out / WEIGHTS_FILE), metadata={"model": self.name})
        (out / CONFIG_FILE).write_text(json.dumps(self._meta(), indent=2) + "\n")
        return out

    @classmethod
    def _from_dir(cls, in_dir: Path, meta: dict[str, Any], device: torch.device) -> Baseline:
        model = cls(config_from_dict(cls.config_cls, meta.get("config", {})))
        model.n_items = int(meta["n_items"])
        model.training = meta.get("training", {})
        model.device = device
        model._restore(load_file(str(in_dir / WEIGHTS_FILE)), device)
        return model


def read_meta(in_dir: str | Path) -> dict[str, Any]:
    """``config.json`` of a saved baseline, checked for a known format version."""
    d = Path(in_dir)
    for f in (CONFIG_FILE, WEIGHTS_FILE):
        if not (d / f).is_file():
            raise DataError(f"{d} lacks {f}; it is not a saved baseline (see Baseline.save).")
    meta = json.loads((d / CONFIG_FILE).read_text())
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise DataError(
            f"{d / CONFIG_FILE} has format_version={version!r}; this code reads "
            f"version {FORMAT_VERSION}. Re-save the model with this version."
        )
    if "model" not in meta or "n_items" not in meta:
        raise DataError(f"{d / CONFIG_FILE} lacks 'model' or 'n_items'; re-save the model.")
    return meta
