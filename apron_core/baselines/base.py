"""What every baseline shares: the interface, input checks, chunked scoring and the files.

A baseline is fitted on the train users' matrix and scores users it has never
seen from their fold-in rows (strong generalization, DESIGN.md §3)::

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

from apron_core.errors import ConfigError, DataError
from apron_core.tags import K

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
SCORE_BATCH_USERS = 1000


# --------------------------------------------------------------------------- checks


def check_interactions(name: str, x: Any, n_items: int | None = None) -> sp.csr_matrix:
    """``x`` as a float32 CSR matrix; raises DataError unless it is a 2-D sparse matrix
    of finite non-negative values (with ``n_items`` columns when given)."""
    if not sp.issparse(x):
        raise DataError(
            f"{name} must be a scipy sparse matrix (users x songs), got {type(x).__name__}; "
            "build it with apron_core.data.train_matrix / heldout_matrices."
        )
    if x.ndim != 2:
        raise DataError(f"{name} must be 2-D, got shape {x.shape}.")
    if n_items is not None and x.shape[1] != n_items:
        raise DataError(
            f"{name} has {x.shape[1]} song columns but the model was fitted on {n_items}; "
            "use matrices built on the same split vocabulary."
        )
    x = sp.csr_matrix(x, dtype=np.float32)
    if x.nnz and (not np.all(np.isfinite(x.data)) or x.data.min() < 0):
        raise DataError(f"{name} has negative or non-finite entries; pass play indicators >= 0.")
    return x


def check_valid(valid: Any, n_items: int) -> tuple[sp.csr_matrix, sp.csr_matrix] | None:
    """``valid`` = ``(fold_in, heldout)`` of the validation users, or None."""
    if valid is None:
        return None
    if not isinstance(valid, tuple | list) or len(valid) != 2:
        raise DataError("valid must be a (fold_in, heldout) pair of sparse matrices or None.")
    tr = check_interactions("valid[0] (fold-in)", valid[0], n_items)
    te = check_interactions("valid[1] (held-out)", valid[1], n_items)
    if tr.shape != te.shape:
        raise DataError(f"valid fold-in {tr.shape} and held-out {te.shape} shapes differ.")
    if te.nnz == 0:
        raise DataError("valid held-out matrix is empty; no NDCG can be computed from it.")
    return tr, te


def check_profiles(profiles: Any, n_users: int) -> np.ndarray:
    """``profiles`` as a (U, K) float64 array of finite non-negative tag weights."""
    p = np.asarray(profiles, dtype=np.float64)
    if p.shape != (n_users, K):
        raise DataError(
            f"profiles have shape {p.shape}; expected ({n_users}, {K}): one row of {K} tag "
            "weights per fold-in user, in apron_core.tags order."
        )
    if not np.all(np.isfinite(p)) or (p < 0).any():
        raise DataError("profiles must be finite and non-negative.")
    return p


def check_positive(name: str, value: Any, *, integer: bool = False, allow_zero: bool = False):
    """Raise ConfigError unless ``value`` is a positive (or zero) int / float."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    if ok:
        ok = np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        what = "an integer" if integer else "a number"
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name}={value!r} must be {what} {bound}")


def resolve_device(device: str | torch.device) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ConfigError(f"device={device!r} is not a torch device (e.g. 'cpu', 'cuda:0')") from e


# --------------------------------------------------------------------------- ndcg


def ndcg_at_k(scores: np.ndarray, heldout: sp.csr_matrix, k: int = 100) -> np.ndarray:
    """Per-user NDCG@k with binary relevance (DESIGN.md §3); NaN for users with no targets.

    Private copy for early stopping, so training does not depend on
    ``apron_core.metrics``. Mask fold-in songs (set them to ``-inf``) first.
    """
    n_users, n_items = scores.shape
    k = min(k, n_items)
    idx = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (U, k) unordered
    part = np.take_along_axis(scores, idx, axis=1)
    top = np.take_along_axis(idx, np.argsort(-part, axis=1, kind="stable"), axis=1)  # (U, k)
    rel = np.asarray(heldout[np.arange(n_users)[:, None], top].todense()) > 0  # (U, k)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = rel @ discount
    n_rel = np.minimum(heldout.getnnz(axis=1), k)
    idcg = np.concatenate([[0.0], np.cumsum(discount)])[n_rel]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, dcg / idcg, np.nan)


def validation_ndcg(model: Baseline, fold_in: sp.csr_matrix, heldout: sp.csr_matrix) -> float:
    """Mean NDCG@100 of ``heldout`` given ``fold_in`` (fold-in songs masked), in user blocks."""
    values = []
    for start, block in model.iter_scores(fold_in):
        block[fold_in[start : start + len(block)].nonzero()] = -np.inf
        values.append(ndcg_at_k(block, heldout[start : start + len(block)], 100))
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
        device: str | torch.device = "cpu",
        progress: bool = True,
    ) -> Baseline:
        """Fit on ``train`` (train users x songs); returns self."""

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
        x = check_interactions("fold_in", fold_in, self._require_fitted())
        check_positive("batch_users", batch_users, integer=True)
        for start in range(0, x.shape[0], batch_users):
            block = self._score_block(x[start : start + batch_users])
            yield start, np.ascontiguousarray(block, dtype=np.float32)

    def score(self, fold_in: sp.csr_matrix, *, batch_users: int = SCORE_BATCH_USERS) -> np.ndarray:
        """Raw scores (U, N) float32 for users given by their fold-in rows.

        Users need not have been seen in training. Fold-in songs are not masked;
        the evaluation sets them to ``-inf`` before ranking.
        """
        n_items = self._require_fitted()
        x = check_interactions("fold_in", fold_in, n_items)
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
        x = check_interactions("fold_in", fold_in, self._require_fitted())
        check_profiles(profiles, x.shape[0])
        if reference is not None:
            check_profiles(reference, x.shape[0])
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
