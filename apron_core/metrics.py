"""Evaluation metrics (docs/design.md §4): accuracy, per-tag NDCG, controllability, response.

Pure functions over numpy arrays, in the style of the vae_cf / RecVAE ``utils``:
``scores`` is a float array (U, N), higher is better, ``-inf`` marks a masked
song; ``heldout`` and ``fold_in`` are binary (U, N) arrays, scipy sparse or dense
(any non-zero entry counts as 1). Nothing here mutates its inputs.

Ranking rule (everywhere): songs are ordered by score, descending; equal scores
are ordered by song index, ascending, so a ranking is a pure function of the
scores. A ``-inf`` song is ranked after every finite one and never counts as a
hit, so masked fold-in songs never earn credit even when a list is longer than
the number of unmasked songs.

Definitions follow vae_cf (``NDCG_binary_at_k_batch``, ``Recall_at_k_batch``)::

    DCG@k    = sum_{r<=k} rel_r / log2(r + 1)
    IDCG@k   = sum_{i<=min(k, |heldout|)} 1 / log2(i + 1)
    Recall@k = |top-k ∩ heldout| / min(k, |heldout|)

A user with no held-out song has NDCG = Recall = NaN (vae_cf divides 0 by 0);
means skip them. Work is chunked over users (about 16 M score entries a chunk),
so the full (U, N) problem never needs more than one chunk of temporaries.

Controllability and response take the model as a callable
``score_profiles(profiles) -> scores`` (unmasked scores; fold-in is masked here).
Profiles are (U, 80) tag weights, or (U, H, 80) for a per-head model (docs/design.md §3
option); the head mean is what the sliders show and picks a listener's top tags.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from apron_core.checks import check_int, check_profile
from apron_core.errors import ConfigError, DataError
from apron_core.tags import CATEGORIES, TAG_NAMES, TAGS, K, tag_index

__all__ = [
    "ControlReport",
    "ControlStats",
    "ResponseReport",
    "controllability",
    "evaluate_accuracy",
    "mask_fold_in",
    "ndcg_at_k",
    "ndcg_per_tag",
    "ndcg_t_at_k",
    "recall_at_k",
    "response",
    "scale_tag_rows",
    "tag_mix",
    "tag_mix_per_category",
    "top_k",
]

Binary = Any  # np.ndarray | scipy.sparse matrix/array, (U, N), non-zero = relevant
ScoreFn = Callable[[np.ndarray], np.ndarray]
EditFn = Callable[[np.ndarray, np.ndarray, float], np.ndarray]

RHO_THRESHOLD = 0.8  # a tag "responds" when Spearman rho(scale, share) >= this
_CHUNK_ELEMS = 1 << 24  # score entries ranked at once (~16 M: 128 MB of int64 indices)
_TAG_CATEGORY = np.array([t.category for t in TAGS])


# --------------------------------------------------------------------------- checks


def _check_k(k: Any, n_songs: int, name: str = "k") -> int:
    """A list length: 1 to the number of songs (when there are songs)."""
    maximum = n_songs if n_songs >= 1 else None
    return check_int(k, name=name, minimum=1, maximum=maximum, context=f"{n_songs} songs")


def _check_scores(scores: Any, name: str = "scores") -> np.ndarray:
    """A 2-D float view of ``scores`` (no copy when already float); NaN is an error."""
    s = np.asarray(scores)
    if s.ndim != 2:
        raise DataError(f"{name} must be a 2-D (users, songs) array, got shape {s.shape}")
    if not np.issubdtype(s.dtype, np.floating):
        if not (np.issubdtype(s.dtype, np.integer) or s.dtype == bool):
            raise DataError(f"{name} must hold numbers, got dtype {s.dtype}")
        s = s.astype(np.float64)
    nan = np.isnan(s)
    if nan.any():
        u, j = np.argwhere(nan)[0]
        raise DataError(
            f"{name}[{u}, {j}] is NaN: scores must be numbers (use -inf to mask a song)"
        )
    return s


@dataclass(frozen=True)
class _Bin:
    """A binary (U, N) matrix as canonical CSR plus sorted row-major keys for lookups."""

    csr: sp.csr_matrix  # float32 ones
    keys: np.ndarray  # (nnz,) int64, row * N + col, ascending
    counts: np.ndarray  # (U,) int64, non-zeros per row

    @property
    def shape(self) -> tuple[int, int]:
        return self.csr.shape

    def rows(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """(local row, col) of the non-zeros of rows a..b-1."""
        lo, hi = self.csr.indptr[a], self.csr.indptr[b]
        local = np.repeat(np.arange(b - a), np.diff(self.csr.indptr[a : b + 1]))
        return local, self.csr.indices[lo:hi]

    def contains(self, row0: int, idx: np.ndarray) -> np.ndarray:
        """(c, k) bool: is song idx[i, r] non-zero in row row0 + i?"""
        if self.keys.size == 0:
            return np.zeros(idx.shape, dtype=bool)
        n = self.shape[1]
        q = (np.arange(row0, row0 + idx.shape[0], dtype=np.int64)[:, None]) * n + idx
        pos = np.minimum(np.searchsorted(self.keys, q), self.keys.size - 1)
        return self.keys[pos] == q


def _binary(x: Binary, name: str, shape: tuple[int, int] | None = None) -> _Bin:
    if isinstance(x, _Bin):
        m = x.csr
    elif sp.issparse(x):
        if x.ndim != 2:
            raise DataError(f"{name} must be 2-D (users, songs), got shape {x.shape}")
        m = sp.csr_matrix(x, copy=True)
        m.data = (m.data != 0).astype(np.float32)
        m.eliminate_zeros()
        m.sum_duplicates()
        m.data[:] = 1.0
        m.sort_indices()
    else:
        a = np.asarray(x)
        if a.ndim != 2:
            raise DataError(f"{name} must be a 2-D (users, songs) array, got shape {a.shape}")
        if np.issubdtype(a.dtype, np.floating) and np.isnan(a).any():
            raise DataError(f"{name} contains NaN at {tuple(np.argwhere(np.isnan(a))[0])}")
        m = sp.csr_matrix(a != 0, dtype=np.float32)
    if shape is not None and m.shape != tuple(shape):
        raise DataError(f"{name} has shape {m.shape}, expected {tuple(shape)} (users, songs)")
    if isinstance(x, _Bin):
        return x
    n = m.shape[1]
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    return _Bin(m, rows * n + m.indices, np.diff(m.indptr).astype(np.int64))


def _song_tags(song_tags: Any, n_songs: int) -> np.ndarray:
    """(N, 80) float32 0/1 matrix from a dense or sparse binary song-tag matrix."""
    a = song_tags.toarray() if sp.issparse(song_tags) else np.asarray(song_tags)
    if a.shape != (n_songs, K):
        raise DataError(f"song_tags has shape {a.shape}, expected ({n_songs}, {K}) (songs, tags)")
    if np.issubdtype(a.dtype, np.floating) and np.isnan(a).any():
        raise DataError(f"song_tags contains NaN at {tuple(np.argwhere(np.isnan(a))[0])}")
    return (a != 0).astype(np.float32)


def _tag_list(tags: Any) -> np.ndarray:
    if tags is None:
        return np.arange(K)
    items = [tags] if isinstance(tags, (str, int, np.integer)) else list(tags)
    if not items:
        raise ConfigError("tags=[] is empty: pass None for all 80 tags or some tag indices")
    out = [
        tag_index(t) if isinstance(t, str) else check_int(t, name="tag", minimum=0, maximum=K - 1)
        for t in items
    ]
    return np.asarray(out, dtype=np.int64)


def _call_scores(score_profiles: ScoreFn, profiles: np.ndarray, n_songs: int | None) -> np.ndarray:
    out = np.asarray(score_profiles(profiles))
    n_rows = profiles.shape[0]
    if out.ndim != 2 or out.shape[0] != n_rows or (n_songs is not None and out.shape[1] != n_songs):
        want = f"({n_rows}, {n_songs if n_songs is not None else 'N'})"
        raise DataError(f"score_profiles returned shape {out.shape}, expected {want}")
    return _check_scores(out, "score_profiles(...)")


# --------------------------------------------------------------------------- ranking


def _top_k_rows(s: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k song indices (c, k) by the module's ranking rule, and their scores."""
    n = s.shape[1]
    part = np.argpartition(s, n - k, axis=1)[:, n - k :]  # (c, k) the k best, any order
    thr = np.take_along_axis(s, part, axis=1).min(axis=1)  # (c,) k-th best score
    # argpartition picks arbitrarily among songs tied at the boundary score; redo those
    # rows so the lowest song indices win (exact, and rare with real-valued scores).
    tied = np.flatnonzero((s >= thr[:, None]).sum(axis=1) > k)
    if tied.size:
        sub, t = s[tied], thr[tied, None]
        gt, eq = sub > t, sub == t
        need = k - gt.sum(axis=1, keepdims=True)
        keep = gt | (eq & (np.cumsum(eq, axis=1) <= need))
        part[tied] = np.nonzero(keep)[1].reshape(tied.size, k)
    part.sort(axis=1)  # index order, so the stable sort below breaks ties by index
    vals = np.take_along_axis(s, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def _chunks(n_users: int, n_songs: int) -> Iterator[tuple[int, int]]:
    step = max(1, _CHUNK_ELEMS // max(1, n_songs))
    for a in range(0, n_users, step):
        yield a, min(n_users, a + step)


def _masked(s: np.ndarray, fold: _Bin | None, row0: int) -> np.ndarray:
    """A float copy of score rows row0.. with -inf at their fold-in songs."""
    out = np.array(s, dtype=s.dtype if np.issubdtype(s.dtype, np.floating) else np.float64)
    if fold is not None:
        r, c = fold.rows(row0, row0 + out.shape[0])
        out[r, c] = -np.inf
    return out


def _hits(s: np.ndarray, held: _Bin, row0: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k indices (c, k) and hit flags (c, k): held out and not masked."""
    idx, vals = _top_k_rows(s, k)
    return idx, held.contains(row0, idx) & (vals > -np.inf)


def _discount(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))  # (k,) 1/log2(r+1), r = 1..k


def _idcg(n_rel: np.ndarray, k: int) -> np.ndarray:
    """IDCG@k for n_rel relevant songs (any shape); NaN where n_rel == 0."""
    cum = np.concatenate([[np.nan], np.cumsum(_discount(k))])
    return cum[np.minimum(n_rel, k).astype(np.int64)]


def _ndcg_from_hits(hit: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    return (hit * _discount(k)).sum(axis=1) / _idcg(n_rel, k)


def _recall_from_hits(hit: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    den = np.minimum(n_rel, k).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, hit.sum(axis=1) / den, np.nan)


def _tag_sums(idx: np.ndarray, weights: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """(c, 80): sum over list positions r of weights[u, r] * tags[idx[u, r]]."""
    c, k = idx.shape
    w = sp.csr_matrix(
        (weights.ravel().astype(np.float64), idx.ravel(), np.arange(0, c * k + 1, k)),
        shape=(c, tags.shape[0]),
    )
    return np.asarray(w @ tags, dtype=np.float64)


def _per_tag_rows(
    s: np.ndarray, held: _Bin, row0: int, tags: np.ndarray, k: int, n_tag: np.ndarray
) -> np.ndarray:
    """NDCG_t@k for all tags of score rows row0.. (already masked): (c, 80)."""
    idx, hit = _hits(s, held, row0, k)
    dcg = _tag_sums(idx, hit * _discount(k), tags)  # (c, 80)
    return dcg / _idcg(n_tag, k)


# --------------------------------------------------------------------------- basics


def mask_fold_in(scores: Any, fold_in: Binary) -> np.ndarray:
    """A copy of ``scores`` with -inf at the fold-in songs (float dtype kept, ints -> float64)."""
    s = _check_scores(scores)
    fold = _binary(fold_in, "fold_in", s.shape)
    return _masked(s, fold, 0)


def top_k(scores: Any, k: int) -> np.ndarray:
    """(U, k) int64 song indices, best first.

    Ties are broken by lower song index first; -inf songs come after all finite
    ones. Uses argpartition, then a stable sort of the k winners (O(N + k log k)).
    """
    s = _check_scores(scores)
    k = _check_k(k, s.shape[1])
    out = np.empty((s.shape[0], k), dtype=np.int64)
    for a, b in _chunks(*s.shape):
        out[a:b] = _top_k_rows(s[a:b], k)[0]
    return out


def _per_user(scores: Any, heldout: Binary, k: int, fn) -> np.ndarray:
    s = _check_scores(scores)
    held = _binary(heldout, "heldout", s.shape)
    k = _check_k(k, s.shape[1])
    out = np.empty(s.shape[0])
    for a, b in _chunks(*s.shape):
        _, hit = _hits(s[a:b], held, a, k)
        out[a:b] = fn(hit, held.counts[a:b], k)
    return out


def ndcg_at_k(scores: Any, heldout: Binary, k: int) -> np.ndarray:
    """(U,) binary NDCG@k (vae_cf's NDCG_binary_at_k_batch); NaN for users with no held-out song.

    ``scores`` is ranked as given: mask fold-in first (:func:`mask_fold_in`).
    """
    return _per_user(scores, heldout, k, _ndcg_from_hits)


def recall_at_k(scores: Any, heldout: Binary, k: int) -> np.ndarray:
    """(U,) |top-k ∩ heldout| / min(k, |heldout|) (vae_cf's Recall_at_k_batch).

    NaN for users with no held-out song.
    """
    return _per_user(scores, heldout, k, _recall_from_hits)


def ndcg_t_at_k(scores: Any, heldout: Binary, song_tags: Any, tag: int | str, k: int) -> np.ndarray:
    """(U,) NDCG@k where only held-out songs carrying ``tag`` (index or name) are relevant.

    NaN for users with no held-out song carrying the tag (they are skipped for t).
    """
    s = _check_scores(scores)
    t = _tag_list(tag)[0]
    tags = _song_tags(song_tags, s.shape[1])
    held = _binary(heldout, "heldout", s.shape).csr
    return ndcg_at_k(s, held.multiply(tags[:, t][None, :]).tocsr(), k)


def ndcg_per_tag(scores: Any, heldout: Binary, song_tags: Any, k: int) -> np.ndarray:
    """(U, 80) NDCG_t@k for every tag t at once (NaN where the user has no held-out t song).

    One ranking per user; DCG per tag gathers the tags of the top-k hits, IDCG per
    tag comes from the count of held-out songs carrying it.
    """
    s = _check_scores(scores)
    held = _binary(heldout, "heldout", s.shape)
    tags = _song_tags(song_tags, s.shape[1])
    k = _check_k(k, s.shape[1])
    n_tag = np.rint(np.asarray(held.csr @ tags)).astype(np.int64)  # (U, 80) held-out per tag
    out = np.empty((s.shape[0], K))
    for a, b in _chunks(*s.shape):
        out[a:b] = _per_tag_rows(s[a:b], held, a, tags, k, n_tag[a:b])
    return out


def tag_mix(top_idx: Any, song_tags: Any) -> np.ndarray:
    """(U, 80) tag mix of recommendation lists: tag counts over each list, normalized to sum 1.

    A list whose songs carry no tag gets a row of zeros. (The training loss uses a soft,
    differentiable mix instead: :func:`apron_core.model.soft_tag_mix`.)
    """
    idx = np.asarray(top_idx)
    tags = np.asarray(song_tags.toarray() if sp.issparse(song_tags) else song_tags)
    if tags.ndim != 2 or tags.shape[1] != K:
        raise DataError(f"song_tags has shape {tags.shape}, expected (songs, {K})")
    tags = _song_tags(tags, tags.shape[0])
    if idx.ndim != 2 or not np.issubdtype(idx.dtype, np.integer):
        raise DataError(f"top_idx must be a 2-D integer array, got {idx.dtype} {idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= tags.shape[0]):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise DataError(f"top_idx holds song index {bad}, outside [0, {tags.shape[0]})")
    counts = _tag_sums(idx, np.ones(idx.shape), tags)
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)


def tag_mix_per_category(top_idx: Any, song_tags: Any) -> dict[str, np.ndarray]:
    """{category: (U, n_tags_in_category)} tag mix normalized within each category (or zeros)."""
    dist = tag_mix(top_idx, song_tags)
    out = {}
    for cat in CATEGORIES:
        block = dist[:, np.equal(_TAG_CATEGORY, cat)]
        total = block.sum(axis=1, keepdims=True)
        out[cat] = np.divide(block, total, out=np.zeros_like(block), where=total > 0)
    return out


def evaluate_accuracy(
    scores: np.ndarray | Callable[[slice], np.ndarray],
    fold_in: Binary,
    heldout: Binary,
    ks: Sequence[int] = (20, 50, 100),
) -> dict[str, float]:
    """Mean ``ndcg@k`` and ``recall@k`` for each k in ``ks`` (default gives the usual trio
    ndcg@100, recall@20, recall@50), after masking fold-in, over users with held-out songs.

    ``scores`` is a (U, N) array (float32 is fine, it is read in chunks and never
    copied whole) or a callable ``rows -> scores[rows]`` taking a ``slice`` of user
    rows, so a model can produce scores chunk by chunk (about 16 M entries per call).
    Returns the metrics plus ``n_users`` (users counted).
    """
    fold = _binary(fold_in, "fold_in")
    n_users, n_songs = fold.shape
    held = _binary(heldout, "heldout", fold.shape)
    if isinstance(ks, (int, np.integer)):
        ks = (ks,)
    ks = sorted({_check_k(k, n_songs, "ks") for k in ks})
    if not ks:
        raise ConfigError("ks=() is empty: pass at least one cut-off, e.g. ks=(20, 50, 100)")
    if callable(scores):
        get = scores
    else:
        arr = np.asarray(scores)
        if arr.shape != fold.shape:
            raise DataError(f"scores has shape {arr.shape}, expected {fold.shape} (users, songs)")

        def get(rows: slice) -> np.ndarray:
            return arr[rows]

    sums = {f"{m}@{k}": 0.0 for k in ks for m in ("ndcg", "recall")}
    counted = 0
    for a, b in _chunks(n_users, n_songs):
        s = np.asarray(get(slice(a, b)))
        if s.shape != (b - a, n_songs):
            raise DataError(
                f"scores(slice({a}, {b})) has shape {s.shape}, expected {(b - a, n_songs)}"
            )
        s = _masked(_check_scores(s), fold, a)
        _, hit = _hits(s, held, a, ks[-1])
        n = held.counts[a:b]
        has = n > 0
        counted += int(has.sum())
        for k in ks:
            sums[f"ndcg@{k}"] += float(_ndcg_from_hits(hit[:, :k], n, k)[has].sum())
            sums[f"recall@{k}"] += float(_recall_from_hits(hit[:, :k], n, k)[has].sum())
    if counted == 0:
        raise DataError("no user has a held-out song: accuracy is undefined")
    out: dict[str, float] = {name: v / counted for name, v in sums.items()}
    out["n_users"] = counted
    return out


# --------------------------------------------------------------------------- edits


def scale_tag_rows(profiles: np.ndarray, tag_idx: np.ndarray, factor: float) -> np.ndarray:
    """Multiply weight ``tag_idx[u]`` of each profile by ``factor``, then renormalize to sum 1:
    the metrics' batched edit, one tag per row (the app's edit of one profile, with locks,
    is :func:`apron_core.ui.state.scale_tag`; the training's torch edit is
    :func:`apron_core.model.zero_tag_rows`).

    Works on (U, 80) profiles and on (U, H, 80) per-head profiles (every head
    scaled by the same factor, then each head renormalized, docs/design.md §3). A row (or
    head) left with no mass comes back as zeros; callers skip those.
    """
    p = np.array(profiles, dtype=np.float64)
    rows = np.arange(p.shape[0])
    p[rows, ..., tag_idx] *= factor
    total = p.sum(axis=-1, keepdims=True)
    return np.divide(p, total, out=np.zeros_like(p), where=total > 0)


def _mass_outside(p: np.ndarray, tag_idx: np.ndarray) -> np.ndarray:
    """(U,) smallest (over heads) profile mass outside tag tag_idx[u]."""
    q = p.copy()
    q[np.arange(p.shape[0]), ..., tag_idx] = 0.0
    rest = q.sum(axis=-1)
    return rest if rest.ndim == 1 else rest.min(axis=1)


def _weight_of(p: np.ndarray, tag_idx: np.ndarray) -> np.ndarray:
    """(U,) slider weight (head mean) of tag tag_idx[u]."""
    slider = p if p.ndim == 2 else p.mean(axis=1)
    return slider[np.arange(p.shape[0]), tag_idx]


# --------------------------------------------------------------------------- controllability


@dataclass(frozen=True)
class ControlStats:
    """Controllability figures over a set of (user, tag) pairs."""

    delta: float  # mean NDCG_t@k(before) - NDCG_t@k(after)
    relative: float  # delta / mean NDCG_t@k(before)
    collateral: float  # mean over pairs of mean |change| of NDCG_t'@k, t' != t
    n_pairs: int
    ndcg_before: float
    ndcg_after: float
    # the same, with only held-out songs *without* t relevant for t': what the edit does
    # to the songs it did not target (a pure tag filter only lifts them)
    collateral_rest: float = math.nan
    collateral_rest_signed: float = math.nan

    @classmethod
    def of(
        cls,
        before: np.ndarray,
        after: np.ndarray,
        collateral: np.ndarray,
        rest: np.ndarray | None = None,
        rest_signed: np.ndarray | None = None,
    ) -> ControlStats:
        if before.size == 0:
            return cls(math.nan, math.nan, math.nan, 0, math.nan, math.nan)
        delta = float(np.mean(before - after))
        mean_before = float(np.mean(before))
        return cls(
            delta=delta,
            relative=delta / mean_before if mean_before > 0 else math.nan,
            collateral=_nanmean(collateral),
            n_pairs=int(before.size),
            ndcg_before=mean_before,
            ndcg_after=float(np.mean(after)),
            collateral_rest=_nanmean(rest),
            collateral_rest_signed=_nanmean(rest_signed),
        )


def _nanmean(x: np.ndarray | None) -> float:
    if x is None:
        return math.nan
    finite = x[~np.isnan(x)]
    return float(finite.mean()) if finite.size else math.nan


@dataclass
class ControlReport:
    """Controllability Δ@k (docs/design.md §4) over (user, tag) pairs, overall and per category."""

    delta: float
    relative: float
    collateral: float
    n_pairs: int
    ndcg_before: float
    ndcg_after: float
    k: int
    top_n: int
    collateral_rest: float = math.nan
    collateral_rest_signed: float = math.nan
    per_category: dict[str, ControlStats] = field(default_factory=dict)
    # one entry per (user, tag) pair counted: for confidence intervals and per-tag views
    pair_user: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    pair_tag: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    pair_before: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    pair_after: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    pair_collateral: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    pair_collateral_rest: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-pair arrays); NaN stays float('nan')."""
        keys = ("delta", "relative", "collateral", "n_pairs", "ndcg_before", "ndcg_after")
        keys += ("collateral_rest", "collateral_rest_signed")
        out: dict[str, Any] = {key: getattr(self, key) for key in keys}
        out.update(k=self.k, top_n=self.top_n)
        out["per_category"] = {c: vars(s).copy() for c, s in self.per_category.items()}
        return out


def controllability(
    score_profiles: ScoreFn,
    profiles: Any,
    fold_in: Binary,
    heldout: Binary,
    song_tags: Any,
    *,
    k: int = 20,
    top_n: int = 5,
    categories: bool = True,
    edit: EditFn | None = None,
    batch_users: int | None = None,
) -> ControlReport:
    """Controllability Δ@k: remove each of a user's top-``top_n`` tags and measure NDCG_t@k.

    For each user u and each tag t among the ``top_n`` largest slider weights (ties:
    lower tag index first; tags of weight 0 are not "top" and are skipped):
    ``edit(profiles, t_per_user, 0.0)`` (default :func:`scale_tag_rows`: ŵ_t = 0, renormalize),
    re-score, mask fold-in, and compare NDCG_t@k before and after. Skipped pairs:
    NDCG_t@k(before) is NaN (no held-out song with t), or the edit leaves no mass
    (the profile, or one of its heads, was all t). ``collateral`` of a pair is the
    mean |change| of NDCG_t'@k over the other tags t' the user has a held-out song
    for (pairs without such a tag don't enter the collateral mean). Songs carry several
    tags, so removing t's songs also moves held-out songs of t' that carry t: even an exact
    tag filter has collateral. ``collateral_rest`` (and its signed mean) counts only the
    held-out songs without t as relevant for t' — the effect on the songs not targeted.

    Calls ``score_profiles`` top_n + 1 times per batch of users (once unedited, once
    per rank r with every user's r-th tag edited); ``batch_users`` (default: all)
    bounds the rows of one call.
    """
    p = check_profile(profiles, name="profiles", batched=True, heads=True)
    n_users = p.shape[0]
    fold = _binary(fold_in, "fold_in")
    if fold.shape[0] != n_users:
        raise DataError(f"fold_in has {fold.shape[0]} users but profiles has {n_users}")
    n_songs = fold.shape[1]
    held = _binary(heldout, "heldout", fold.shape)
    tags = _song_tags(song_tags, n_songs)
    k = _check_k(k, n_songs)
    top_n = check_int(top_n, name="top_n", minimum=1, maximum=K)
    step = n_users if batch_users is None else check_int(batch_users, name="batch_users", minimum=1)
    edit = scale_tag_rows if edit is None else edit
    if not callable(edit) or not callable(score_profiles):
        raise ConfigError("score_profiles and edit must be callables")

    slider = p if p.ndim == 2 else p.mean(axis=1)  # (U, 80)
    order = np.argsort(-slider, axis=1, kind="stable")[:, :top_n]  # (U, top_n)
    n_tag = np.rint(np.asarray(held.csr @ tags)).astype(np.int64)  # (U, 80)

    def scores(prof: np.ndarray, a: int) -> np.ndarray:  # (c, N) masked
        return _masked(_call_scores(score_profiles, prof, n_songs), fold, a)

    def ndcg_tags(s: np.ndarray, hb: _Bin, row0: int, n_rel: np.ndarray) -> np.ndarray:
        out = np.empty((s.shape[0], K))  # (c, 80)
        for i, j in _chunks(s.shape[0], n_songs):
            out[i:j] = _per_tag_rows(s[i:j], hb, row0 + i, tags, k, n_rel[i:j])
        return out

    def mean_change(before: np.ndarray, after: np.ndarray, others: np.ndarray, fn) -> np.ndarray:
        change = np.where(others, fn(np.nan_to_num(after - before)), 0.0).sum(axis=1)
        n_other = others.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n_other > 0, change / n_other, np.nan)

    parts: list[tuple[np.ndarray, ...]] = []
    for a in range(0, n_users, step):
        b = min(n_users, a + step)
        pb = p[a:b]
        rows = np.arange(b - a)
        s_before = scores(pb, a)
        before = ndcg_tags(s_before, held, a, n_tag[a:b])  # (c, 80)
        known = ~np.isnan(before)
        for r in range(top_n):
            t = order[a:b, r]  # (c,) one tag per user
            ok = (_weight_of(pb, t) > 0) & (_mass_outside(pb, t) > 0) & known[rows, t]
            if not ok.any():
                continue
            edited = np.array(edit(pb.copy(), t.copy(), 0.0), dtype=np.float64)
            if edited.shape != pb.shape:
                raise DataError(f"edit returned shape {edited.shape}, expected {pb.shape}")
            edited[~ok] = pb[~ok]  # the model never sees a skipped (possibly empty) row
            s_after = scores(edited, a)
            after = ndcg_tags(s_after, held, a, n_tag[a:b])
            # collateral: mean |change| over the other tags the user has held-out songs for
            others = known.copy()
            others[rows, t] = False
            coll = mean_change(before, after, others, np.abs)
            # the same on the held-out songs without t (the songs the edit did not target)
            rest = sp.csr_matrix(held.csr[a:b].multiply(1.0 - tags[:, t].T))
            rest_bin = _binary(rest, "heldout without t")
            n_rest = np.rint(np.asarray(rest_bin.csr @ tags)).astype(np.int64)
            rest_before = ndcg_tags(s_before, rest_bin, 0, n_rest)
            rest_after = ndcg_tags(s_after, rest_bin, 0, n_rest)
            others_rest = ~np.isnan(rest_before)
            others_rest[rows, t] = False
            c_rest = mean_change(rest_before, rest_after, others_rest, np.abs)
            c_signed = mean_change(rest_before, rest_after, others_rest, lambda x: x)
            u = rows[ok]
            parts.append(
                (u + a, t[ok], before[u, t[ok]], after[u, t[ok]], coll[ok], c_rest[ok],
                 c_signed[ok])
            )  # fmt: skip

    if parts:
        pu, pt, pb4, pa4, pc, pr, ps = (np.concatenate(x) for x in zip(*parts, strict=True))
    else:
        pu, pt = np.zeros(0, np.int64), np.zeros(0, np.int64)
        pb4, pa4, pc, pr, ps = (np.zeros(0) for _ in range(5))
    overall = ControlStats.of(pb4, pa4, pc, pr, ps)
    per_category = {}
    if categories:
        cat = _TAG_CATEGORY[pt]
        per_category = {
            c: ControlStats.of(pb4[m], pa4[m], pc[m], pr[m], ps[m])
            for c in CATEGORIES
            for m in [cat == c]
        }
    return ControlReport(
        **vars(overall),
        k=k,
        top_n=top_n,
        per_category=per_category,
        pair_user=pu,
        pair_tag=pt,
        pair_before=pb4,
        pair_after=pa4,
        pair_collateral=pc,
        pair_collateral_rest=pr,
    )


# --------------------------------------------------------------------------- response


@dataclass
class ResponseReport:
    """Share of tag t in the top-k as ŵ_t is scaled (docs/design.md §4), and Spearman ρ per tag."""

    scales: tuple[float, ...]
    tags: tuple[int, ...]  # tag indices, in the order of the rows below
    share: np.ndarray  # (T, S) mean over users of (#top-k songs carrying t) / k
    rho: np.ndarray  # (T,) Spearman ρ(scales, share[t]); NaN when share is constant
    n_users: np.ndarray  # (T,) users in each curve
    median_rho: float  # nanmedian over tags
    frac_rho_ge_0_8: float  # over tags with catalog songs and users; NaN ρ counts as < 0.8
    k: int
    per_category: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: curves and ρ keyed by tag name."""
        names = [TAG_NAMES[t] for t in self.tags]
        return {
            "scales": list(self.scales),
            "k": self.k,
            "share": {n: [float(v) for v in row] for n, row in zip(names, self.share, strict=True)},
            "rho": {n: float(v) for n, v in zip(names, self.rho, strict=True)},
            "median_rho": self.median_rho,
            "frac_rho_ge_0_8": self.frac_rho_ge_0_8,
            "per_category": self.per_category,
        }


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy import stats  # here, not at import: the app loads this module with every
    # bundle and never calls it, and scipy.stats costs about a second of its cold start

    if np.isnan(y).any() or np.ptp(y) == 0:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(x, y)[0])


def _rho_summary(rho: np.ndarray, eligible: np.ndarray) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = float(np.nanmedian(rho)) if (~np.isnan(rho)).any() else math.nan
    r = rho[eligible]
    frac = float(np.mean(np.nan_to_num(r, nan=-np.inf) >= RHO_THRESHOLD)) if r.size else math.nan
    return median, frac


def response(
    score_profiles: ScoreFn,
    profiles: Any,
    fold_in: Binary,
    song_tags: Any,
    *,
    scales: Sequence[float] = (0, 0.5, 1, 2, 4),
    k: int = 20,
    tags: Sequence[int | str] | None = None,
    users: Sequence[int] | None = None,
    edit: EditFn | None = None,
) -> ResponseReport:
    """Response curves: share of tag t in each user's top-k as ŵ_t is scaled by each factor.

    For each tag t (default all 80; indices or names) and scale f: ``edit(profiles,
    t, f)`` (default :func:`scale_tag_rows`: ŵ_t × f, renormalize), re-score, mask fold-in,
    take the top-k, and average over users the fraction of the k songs carrying t.
    ρ is Spearman's between ``scales`` and that curve (NaN when the curve is flat).
    Users whose profile (or a head of it) is all t are left out of t's curve (0×
    would leave them empty). ``users`` picks a subset of rows.

    Cost: about len(scales) × len(tags) calls of ``score_profiles`` on the chosen
    users (with the default edit, scale 1 is scored once for all tags), so pass a
    sample of users for large U.
    """
    p = check_profile(profiles, name="profiles", batched=True, heads=True)
    fold = _binary(fold_in, "fold_in")
    if fold.shape[0] != p.shape[0]:
        raise DataError(f"fold_in has {fold.shape[0]} users but profiles has {p.shape[0]}")
    if users is not None:
        sel = np.asarray(users)
        if sel.ndim != 1 or sel.size == 0 or not np.issubdtype(sel.dtype, np.integer):
            raise ConfigError(f"users={users!r} must be a non-empty 1-D sequence of user rows")
        if sel.min() < 0 or sel.max() >= p.shape[0]:
            bad = sel.min() if sel.min() < 0 else sel.max()
            raise ConfigError(f"users holds row {bad}, outside [0, {p.shape[0]})")
        p = p[sel]
        fold = _binary(fold.csr[sel], "fold_in")
    n_songs = fold.shape[1]
    a_tags = _song_tags(song_tags, n_songs)
    k = _check_k(k, n_songs)
    sc = np.asarray(scales, dtype=np.float64)
    if sc.ndim != 1 or np.unique(sc).size < 2 or not np.isfinite(sc).all() or (sc < 0).any():
        raise ConfigError(
            f"scales={tuple(scales)!r} must be >= 2 distinct finite non-negative factors"
        )
    tag_list = _tag_list(tags)
    default_edit = edit is None
    edit = scale_tag_rows if edit is None else edit

    def top(prof: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f = _binary(fold.csr[rows], "fold_in") if rows.size != fold.shape[0] else fold
        s = _masked(_call_scores(score_profiles, prof, n_songs), f, 0)
        idx = np.empty((prof.shape[0], k), np.int64)
        live = np.empty((prof.shape[0], k), bool)
        for i, j in _chunks(prof.shape[0], n_songs):
            idx[i:j], v = _top_k_rows(s[i:j], k)
            live[i:j] = v > -np.inf
        return idx, live

    base: tuple[np.ndarray, np.ndarray] | None = None
    share = np.full((tag_list.size, sc.size), np.nan)
    n_in = np.zeros(tag_list.size, np.int64)
    for ti, t in enumerate(tag_list):
        tt = np.full(p.shape[0], t)
        keep = np.flatnonzero(_mass_outside(p, tt) > 0)
        n_in[ti] = keep.size
        if keep.size == 0:
            continue
        pk = p[keep]
        for si, f in enumerate(sc):
            if default_edit and f == 1.0 and keep.size == p.shape[0]:
                if base is None:  # identical for every tag: renormalize only
                    base = top(scale_tag_rows(p, tt, 1.0), keep)
                idx, live = base
            else:
                edited = np.asarray(edit(pk.copy(), tt[keep].copy(), float(f)), dtype=np.float64)
                if edited.shape != pk.shape:
                    raise DataError(f"edit returned shape {edited.shape}, expected {pk.shape}")
                idx, live = top(edited, keep)
            share[ti, si] = float(((a_tags[idx, t] > 0) & live).sum(axis=1).mean() / k)

    rho = np.array([_spearman(sc, row) for row in share])
    eligible = (a_tags[:, tag_list].sum(axis=0) > 0) & (n_in > 0)
    median, frac = _rho_summary(rho, eligible)
    per_category = {}
    for c in CATEGORIES:
        in_c = _TAG_CATEGORY[tag_list] == c
        if in_c.any():
            m, fr = _rho_summary(rho[in_c], eligible[in_c])
            per_category[c] = {"median_rho": m, "frac_rho_ge_0_8": fr, "n_tags": int(in_c.sum())}
    return ResponseReport(
        scales=tuple(float(x) for x in sc),
        tags=tuple(int(t) for t in tag_list),
        share=share,
        rho=rho,
        n_users=n_in,
        median_rho=median,
        frac_rho_ge_0_8=frac,
        k=k,
        per_category=per_category,
    )
