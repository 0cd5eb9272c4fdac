"""Interaction data: validate, filter (MSD-style), split (strong generalization), store.

Interactions are a pandas DataFrame with string columns ``user_id`` and ``song_id``
and an optional integer ``count``. The pipeline follows the preprocessing of the
vae_cf reference (Liang et al. 2018, "Variational Autoencoders for Collaborative
Filtering", notebook ``VAE_ML20M_WWW2018.ipynb``) and writes its file layout, so
its loaders (and ours, :func:`train_matrix` / :func:`heldout_matrices`) read
the result unchanged::

    df = validate_interactions(raw)
    df, report = filter_interactions(df, min_song_listeners=200, min_user_songs=20)
    split = split_strong_generalization(df, n_heldout_users=50_000, seed=98765)
    write_vae_cf(split, "data/msd")

Everything works on integer codes with numpy; nothing loops over interactions.
Functions that count listeners assume one row per (user, song) pair, which
:func:`validate_interactions` guarantees; they raise :class:`DataError` otherwise.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import scipy.sparse as sp

from apron_core.checks import check_int
from apron_core.errors import ConfigError, DataError

__all__ = [
    "FilterReport",
    "FilterStep",
    "Split",
    "dataset_stats",
    "filter_interactions",
    "heldout_matrices",
    "read_vae_cf",
    "split_strong_generalization",
    "to_csr",
    "train_matrix",
    "validate_interactions",
    "write_vae_cf",
]

REQUIRED_COLUMNS = ("user_id", "song_id")
VAE_CF_FILES = ("train", "validation_tr", "validation_te", "test_tr", "test_te")
_FRAME_ATTRS = ("train", "val_tr", "val_te", "test_tr", "test_te")  # Split fields, file order
_PARTS = {
    "validation": ("val_tr", "val_te", "val_users"),
    "test": ("test_tr", "test_te", "test_users"),
}


# --------------------------------------------------------------------------- helpers


def _pair_codes(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.Index, pd.Index]:
    """Integer codes for users and songs (categories sorted, so codes are deterministic).

    Returns ``(user_codes, song_codes, users, songs)`` with ``users[user_codes[i]]``
    the user of row i. Raises DataError on missing columns or repeated pairs.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"interactions lack column(s) {missing}; got {list(df.columns)}. "
            "Rename your columns to user_id and song_id."
        )
    uc, users = pd.factorize(df["user_id"], sort=True)
    sc, songs = pd.factorize(df["song_id"], sort=True)
    if (uc < 0).any() or (sc < 0).any():
        raise DataError("interactions contain null ids; run validate_interactions first.")
    uc = uc.astype(np.int64, copy=False)
    sc = sc.astype(np.int64, copy=False)
    if len(uc) and pd.Series(uc * len(songs) + sc).duplicated().any():
        raise DataError(
            "interactions repeat some (user_id, song_id) pairs; "
            "run validate_interactions first to merge them."
        )
    return uc, sc, users, songs


def _frame(user_ids: pd.Index, song_ids: pd.Index) -> pd.DataFrame:
    """A (user_id, song_id) frame of str columns with a fresh RangeIndex."""
    return pd.DataFrame(
        {
            "user_id": pd.Series(user_ids, dtype=str).reset_index(drop=True),
            "song_id": pd.Series(song_ids, dtype=str).reset_index(drop=True),
        }
    )


def _quantiles(values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return {}
    qs = np.quantile(values, [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0])
    names = ("min", "p5", "p25", "median", "p75", "p95", "max")
    out = {k: float(v) for k, v in zip(names, qs, strict=True)}
    out["mean"] = float(np.mean(values))
    return out


# --------------------------------------------------------------------------- validate


def whole_counts(values: pd.Series, *, what: str) -> np.ndarray:
    """Play counts as int64, or a DataError naming a value that is not a whole number
    >= 1. Integer columns skip the float round trip (MSD has 48 M rows)."""
    if pd.api.types.is_integer_dtype(values.dtype):
        counts = values.to_numpy()
        bad = counts < 1
    else:
        counts = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(counts) | (counts < 1) | (counts != np.round(counts))
    if bad.any():
        example = values.to_numpy()[np.flatnonzero(bad)[0]]
        example = example.item() if isinstance(example, np.generic) else example
        raise DataError(
            f"{what}: {int(bad.sum())} count(s) are not integers >= 1 "
            f"(e.g. {example!r}); fix or drop those rows"
        )
    return counts.astype(np.int64, copy=False)


def validate_interactions(df: pd.DataFrame) -> pd.DataFrame:
    """Check an interaction table and return a clean copy.

    * ``user_id`` and ``song_id`` must be present and non-null; they are returned
      as strings (numbers are converted; empty ids are rejected).
    * ``count``, if present, must be non-null integers >= 1.
    * Exact duplicate (user, song) pairs are merged into one row, summing
      ``count`` when present. First-occurrence order is kept.

    Only ``user_id``, ``song_id`` (and ``count``) are returned.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"interactions must be a pandas DataFrame, got {type(df).__name__}.")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"interactions lack column(s) {missing}; got {list(df.columns)}. "
            "Rename your columns to user_id and song_id."
        )
    if len(df) == 0:
        raise DataError("interactions are empty (0 rows); pass a table with listening events.")
    has_count = "count" in df.columns
    cols = [*REQUIRED_COLUMNS, "count"] if has_count else list(REQUIRED_COLUMNS)
    for c in cols:
        n_null = int(df[c].isna().sum())
        if n_null:
            raise DataError(
                f"column {c!r} has {n_null} null value(s) out of {len(df)} rows; "
                "drop or fill those rows before loading."
            )
    out = pd.DataFrame({c: df[c].astype(str) for c in REQUIRED_COLUMNS})
    for c in REQUIRED_COLUMNS:
        n_empty = int((out[c].str.len() == 0).sum())
        if n_empty:
            raise DataError(f"column {c!r} has {n_empty} empty id(s); give every row an id.")
    if has_count:
        out["count"] = whole_counts(df["count"], what="column 'count'")
        out = out.groupby(list(REQUIRED_COLUMNS), sort=False, as_index=False)["count"].sum()
    else:
        out = out.drop_duplicates(ignore_index=True)
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- filter


@dataclass
class FilterStep:
    """Counts around one filtering step (``step`` is "songs" or "users")."""

    round: int
    step: str
    users_before: int
    songs_before: int
    interactions_before: int
    users_after: int
    songs_after: int
    interactions_after: int


@dataclass
class FilterReport:
    """What :func:`filter_interactions` did; ``asdict(report)`` is JSON-able."""

    min_song_listeners: int
    min_user_songs: int
    iterate: bool
    users_before: int
    songs_before: int
    interactions_before: int
    users_after: int = 0
    songs_after: int = 0
    interactions_after: int = 0
    rounds: int = 0
    converged: bool = False  # both thresholds hold on the result
    steps: list[FilterStep] = field(default_factory=list)


def filter_interactions(
    df: pd.DataFrame, *, min_song_listeners: int, min_user_songs: int, iterate: bool = True
) -> tuple[pd.DataFrame, FilterReport]:
    """Drop rare songs, then light users, MSD-style (Liang et al. 2018).

    Each round drops songs with fewer than ``min_song_listeners`` distinct users,
    then users with fewer than ``min_user_songs`` (remaining) songs. Dropping users
    can push songs back under their threshold, so with ``iterate=True`` rounds
    repeat until both thresholds hold at once. The vae_cf reference
    (``filter_triplets``) does a single pass, i.e. ``iterate=False``; then
    ``report.converged`` says whether the song threshold still holds.

    ``df`` must have one row per (user, song) pair (see :func:`validate_interactions`).
    Returns the kept rows (original order and columns) and a :class:`FilterReport`.
    Raises DataError if nothing survives.
    """
    min_song_listeners = check_int(min_song_listeners, name="min_song_listeners", minimum=0)
    min_user_songs = check_int(min_user_songs, name="min_user_songs", minimum=0)
    uc, sc, users, songs = _pair_codes(df)
    n_u, n_s = len(users), len(songs)
    keep = np.ones(len(uc), dtype=bool)

    def counts() -> tuple[int, int, int]:
        return (
            int(np.count_nonzero(np.bincount(uc[keep], minlength=n_u))),
            int(np.count_nonzero(np.bincount(sc[keep], minlength=n_s))),
            int(keep.sum()),
        )

    before = counts()
    report = FilterReport(min_song_listeners, min_user_songs, bool(iterate), *before)
    current = before
    while True:
        report.rounds += 1
        for step in ("songs", "users"):
            if step == "songs":
                listeners = np.bincount(sc[keep], minlength=n_s)
                keep &= (listeners >= min_song_listeners)[sc]
            else:
                lengths = np.bincount(uc[keep], minlength=n_u)
                keep &= (lengths >= min_user_songs)[uc]
            after = counts()
            report.steps.append(FilterStep(report.rounds, step, *current, *after))
            current = after
        listeners = np.bincount(sc[keep], minlength=n_s)
        songs_ok = bool(np.all((listeners == 0) | (listeners >= min_song_listeners)))
        if songs_ok or not iterate:
            report.converged = songs_ok
            break
    report.users_after, report.songs_after, report.interactions_after = current
    if current[2] == 0:
        raise DataError(
            f"filtering with min_song_listeners={min_song_listeners}, "
            f"min_user_songs={min_user_songs} removed all {before[2]} interactions "
            f"({before[0]} users, {before[1]} songs); lower the thresholds."
        )
    return df.loc[keep].reset_index(drop=True), report


# --------------------------------------------------------------------------- split


@dataclass
class Split:
    """A strong-generalization split (train users / held-out validation and test users).

    ``unique_sid`` is the song vocabulary in index order (column j of every matrix);
    ``train_users``, ``val_users``, ``test_users`` are in uid order (row order of
    :func:`train_matrix` and :func:`heldout_matrices`; vae_cf's ``profile2id`` order).
    Frames have string columns ``user_id``, ``song_id``, sorted by (uid, sid).
    ``dropped_val_users`` / ``dropped_test_users``: held-out users with too few songs
    left after the vocabulary restriction (see :func:`split_strong_generalization`).
    """

    unique_sid: list[str]
    train_users: list[str]
    val_users: list[str]
    test_users: list[str]
    train: pd.DataFrame
    val_tr: pd.DataFrame
    val_te: pd.DataFrame
    test_tr: pd.DataFrame
    test_te: pd.DataFrame
    seed: int | None
    params: dict[str, Any]
    dropped_val_users: list[str] = field(default_factory=list)
    dropped_test_users: list[str] = field(default_factory=list)

    @property
    def unique_uid(self) -> list[str]:
        """All users in uid order: train, then validation, then test."""
        return [*self.train_users, *self.val_users, *self.test_users]

    def summary(self) -> dict[str, Any]:
        """JSON-able counts (what ``split.json`` stores besides params and seed)."""
        return {
            "n_songs": len(self.unique_sid),
            "n_train_users": len(self.train_users),
            "n_val_users": len(self.val_users),
            "n_test_users": len(self.test_users),
            "n_dropped_val_users": len(self.dropped_val_users),
            "n_dropped_test_users": len(self.dropped_test_users),
            "interactions": {
                name: len(getattr(self, attr))
                for name, attr in zip(VAE_CF_FILES, _FRAME_ATTRS, strict=True)
            },
        }


def split_strong_generalization(
    df: pd.DataFrame,
    *,
    n_heldout_users: int,
    seed: int,
    heldout_prop: float = 0.2,
    min_heldout_targets: int = 5,
) -> Split:
    """Split users into train / validation / test, then each held-out user into fold-in / targets.

    As vae_cf: users are shuffled (``np.random.default_rng(seed)``, users sorted
    first so the result does not depend on row order); the last ``2 *
    n_heldout_users`` become validation then test users, the rest train users.
    The vocabulary ``unique_sid`` is the set of songs train users listened to
    (sorted); held-out users' interactions outside it are discarded.

    For each held-out user with n remaining songs, ``n_te = max(min_heldout_targets,
    round(heldout_prop * n))`` songs chosen at random are targets ("te"), the other
    ``n - n_te`` (at least one) the fold-in history ("tr"). ``round`` is numpy's
    (half to even, like Python's). Held-out users with fewer than
    ``min_heldout_targets + 1`` songs after the restriction are dropped from the
    split and listed in ``dropped_val_users`` / ``dropped_test_users``; after MSD
    filtering (>= 20 songs per user) that only happens to users who lost songs to
    the vocabulary. (vae_cf instead uses ``int(0.2 * n)`` targets and puts users
    with < 5 songs wholly in fold-in.)

    Raises DataError if there are not more than ``2 * n_heldout_users`` users or
    if a held-out part ends up empty.
    """
    n_heldout_users = check_int(n_heldout_users, name="n_heldout_users", minimum=1)
    min_heldout_targets = check_int(min_heldout_targets, name="min_heldout_targets", minimum=1)
    seed = check_int(seed, name="seed", minimum=0)
    if not 0.0 < float(heldout_prop) < 1.0:
        raise ConfigError(f"heldout_prop={heldout_prop!r} must be strictly between 0 and 1")
    heldout_prop = float(heldout_prop)
    uc, sc, users, songs = _pair_codes(df)
    n_users, n_songs = len(users), len(songs)
    n_train = n_users - 2 * n_heldout_users
    if n_train < 1:
        raise DataError(
            f"{n_users} users cannot give {n_heldout_users} validation + {n_heldout_users} "
            f"test users and still leave train users; use n_heldout_users <= "
            f"{max((n_users - 1) // 2, 0)} or more data."
        )

    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_users)  # uid order, before dropping held-out users
    pos = np.empty(n_users, dtype=np.int64)
    pos[perm] = np.arange(n_users)
    role = np.zeros(n_users, dtype=np.int8)  # 0 train, 1 validation, 2 test
    role[perm[n_train : n_train + n_heldout_users]] = 1
    role[perm[n_train + n_heldout_users :]] = 2
    row_role = role[uc]

    in_train = row_role == 0
    in_vocab = np.bincount(sc[in_train], minlength=n_songs) > 0
    vocab = np.flatnonzero(in_vocab)
    sid = np.full(n_songs, -1, dtype=np.int64)
    sid[vocab] = np.arange(len(vocab))
    unique_sid = songs[vocab]

    def frame(u: np.ndarray, s: np.ndarray) -> pd.DataFrame:
        order = np.lexsort((s, pos[u]))  # by uid, then sid
        return _frame(users[u[order]], unique_sid[s[order]])

    train = frame(uc[in_train], sid[sc[in_train]])
    parts: dict[int, tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]] = {}
    for part in (1, 2):
        m = (row_role == part) & in_vocab[sc]
        u, s = uc[m], sid[sc[m]]
        order = np.lexsort((s, u))  # canonical order before drawing random keys
        u, s = u[order], s[order]
        n = np.bincount(u, minlength=n_users)
        key = rng.random(len(u))
        order = np.lexsort((key, u))  # random order within each user
        u, s = u[order], s[order]
        start = np.cumsum(n) - n
        rank = np.arange(len(u)) - start[u]
        n_te = np.maximum(min_heldout_targets, np.rint(heldout_prop * n).astype(np.int64))
        n_te = np.minimum(n_te, n - 1)
        ok = n >= min_heldout_targets + 1
        keep_row = ok[u]
        is_te = rank < n_te[u]
        members = perm[n_train + (part - 1) * n_heldout_users :][:n_heldout_users]
        kept = [str(x) for x in users[members[ok[members]]]]
        dropped = [str(x) for x in users[members[~ok[members]]]]
        if not kept:
            name = "validation" if part == 1 else "test"
            raise DataError(
                f"all {n_heldout_users} {name} users have fewer than "
                f"{min_heldout_targets + 1} songs in the train vocabulary; lower "
                "min_heldout_targets or filter the data (min_user_songs) first."
            )
        tr = frame(u[keep_row & ~is_te], s[keep_row & ~is_te])
        te = frame(u[keep_row & is_te], s[keep_row & is_te])
        parts[part] = (tr, te, kept, dropped)

    return Split(
        unique_sid=[str(x) for x in unique_sid],
        train_users=[str(x) for x in users[perm[:n_train]]],
        val_users=parts[1][2],
        test_users=parts[2][2],
        train=train,
        val_tr=parts[1][0],
        val_te=parts[1][1],
        test_tr=parts[2][0],
        test_te=parts[2][1],
        seed=seed,
        params={
            "n_heldout_users": n_heldout_users,
            "heldout_prop": heldout_prop,
            "min_heldout_targets": min_heldout_targets,
        },
        dropped_val_users=parts[1][3],
        dropped_test_users=parts[2][3],
    )


# --------------------------------------------------------------------------- vae_cf files


def _check_line_ids(name: str, ids: list[str]) -> None:
    bad = [x for x in ids if "\n" in x or "\r" in x or x == ""]
    if bad:
        raise DataError(
            f"{len(bad)} {name} id(s) are empty or contain line breaks (e.g. {bad[0]!r}); "
            "they cannot be written one per line. Rename them."
        )


def _write_uid_sid(path: Path, uid: np.ndarray, sid: np.ndarray) -> None:
    table = pa.table({"uid": uid.astype(np.int64), "sid": sid.astype(np.int64)})
    buf = io.BytesIO()
    pa_csv.write_csv(table, buf, pa_csv.WriteOptions(include_header=False))
    path.write_bytes(b"uid,sid\n" + buf.getvalue())


def write_vae_cf(split: Split, out_dir: str | Path) -> Path:
    """Write ``split`` in vae_cf's layout; returns the directory.

    Files: ``unique_sid.txt`` (song ids, one per line, index order), ``unique_uid.txt``
    (user ids in uid order: train, validation, test), ``train.csv``,
    ``validation_tr.csv``, ``validation_te.csv``, ``test_tr.csv``, ``test_te.csv``
    (header ``uid,sid``, integer indices into those two lists), and ``split.json``
    (seed, params, counts, dropped held-out users).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    unique_uid = split.unique_uid
    _check_line_ids("song", split.unique_sid)
    _check_line_ids("user", unique_uid)
    uid_index = pd.Index(unique_uid, dtype=str)
    sid_index = pd.Index(split.unique_sid, dtype=str)
    if not (uid_index.is_unique and sid_index.is_unique):
        raise DataError("split has repeated user or song ids; rebuild it from validated data.")
    for name, attr in zip(VAE_CF_FILES, _FRAME_ATTRS, strict=True):
        frame = getattr(split, attr)
        uid = uid_index.get_indexer(frame["user_id"])
        sid = sid_index.get_indexer(frame["song_id"])
        if (uid < 0).any() or (sid < 0).any():
            raise DataError(
                f"split.{attr} has users or songs outside the split's user lists or "
                "unique_sid; rebuild it with split_strong_generalization."
            )
        _write_uid_sid(out / f"{name}.csv", uid, sid)
    (out / "unique_sid.txt").write_text("".join(f"{x}\n" for x in split.unique_sid))
    (out / "unique_uid.txt").write_text("".join(f"{x}\n" for x in unique_uid))
    meta = {
        "format": "vae_cf",
        "seed": split.seed,
        "params": split.params,
        **split.summary(),
        "dropped_val_users": split.dropped_val_users,
        "dropped_test_users": split.dropped_test_users,
    }
    (out / "split.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


def _read_lines(path: Path) -> list[str]:
    text = path.read_text()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def read_vae_cf(in_dir: str | Path) -> Split:
    """Read a directory written by :func:`write_vae_cf` back into a :class:`Split`.

    Also reads a plain vae_cf output (no ``unique_uid.txt`` / ``split.json``): user
    ids are then the uid numbers as strings and the parts are inferred from which
    file each uid appears in.
    """
    d = Path(in_dir)
    needed = ["unique_sid.txt", *(f"{n}.csv" for n in VAE_CF_FILES)]
    missing = [n for n in needed if not (d / n).is_file()]
    if missing:
        raise DataError(f"{d} lacks vae_cf file(s) {missing}; write it with write_vae_cf.")
    unique_sid = _read_lines(d / "unique_sid.txt")
    codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in VAE_CF_FILES:
        t = pd.read_csv(d / f"{name}.csv", dtype=np.int64)
        if list(t.columns) != ["uid", "sid"]:
            raise DataError(
                f"{d / name}.csv has header {list(t.columns)}; expected ['uid', 'sid']."
            )
        codes[name] = (t["uid"].to_numpy(), t["sid"].to_numpy())
    meta = json.loads((d / "split.json").read_text()) if (d / "split.json").is_file() else {}
    if (d / "unique_uid.txt").is_file():
        unique_uid = _read_lines(d / "unique_uid.txt")
    else:
        n_uid = 1 + max(int(u.max()) for u, _ in codes.values() if len(u))
        unique_uid = [str(i) for i in range(n_uid)]
    if "n_train_users" in meta:
        a = meta["n_train_users"]
        b = a + meta["n_val_users"]
        c = b + meta["n_test_users"]
    else:
        a = int(np.unique(codes["train"][0]).size)
        b = a + int(np.unique(codes["validation_tr"][0]).size)
        c = b + int(np.unique(codes["test_tr"][0]).size)
    if c != len(unique_uid):
        raise DataError(
            f"{d}: {len(unique_uid)} user ids but the parts hold {c} users; the files are "
            "inconsistent, rewrite them with write_vae_cf."
        )
    uid_arr = pd.Index(unique_uid, dtype=str)
    sid_arr = pd.Index(unique_sid, dtype=str)
    frames = {}
    for name, attr in zip(VAE_CF_FILES, _FRAME_ATTRS, strict=True):
        u, s = codes[name]
        if len(u) and (u.min() < 0 or u.max() >= c or s.min() < 0 or s.max() >= len(sid_arr)):
            raise DataError(f"{d / name}.csv has uid/sid out of range; rewrite the split.")
        frames[attr] = _frame(uid_arr[u], sid_arr[s])
    return Split(
        unique_sid=unique_sid,
        train_users=unique_uid[:a],
        val_users=unique_uid[a:b],
        test_users=unique_uid[b:c],
        **frames,
        seed=meta.get("seed"),
        params=meta.get("params", {}),
        dropped_val_users=meta.get("dropped_val_users", []),
        dropped_test_users=meta.get("dropped_test_users", []),
    )


# --------------------------------------------------------------------------- matrices


def to_csr(df: pd.DataFrame, user_index: Any, song_index: Any) -> sp.csr_matrix:
    """Binary float32 CSR matrix, rows in ``user_index`` order, columns in ``song_index``.

    ``user_index`` / ``song_index``: sequences (or pd.Index) of ids, unique. Every
    user and song in ``df`` must appear in them; repeated pairs count once.
    """
    ui = pd.Index(user_index, dtype=str)
    si = pd.Index(song_index, dtype=str)
    if not (ui.is_unique and si.is_unique):
        raise DataError("to_csr needs unique user_index and song_index.")
    rows = ui.get_indexer(df["user_id"].astype(str))
    cols = si.get_indexer(df["song_id"].astype(str))
    for name, idx, col in (("user", rows, "user_id"), ("song", cols, "song_id")):
        if (idx < 0).any():
            example = df[col].to_numpy()[np.flatnonzero(idx < 0)[0]]
            raise DataError(
                f"{int((idx < 0).sum())} row(s) have a {name} not in the {name} index "
                f"(e.g. {example!r}); restrict the frame or extend the index."
            )
    m = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(len(ui), len(si)),
        dtype=np.float32,
    )  # (n_users, n_songs)
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def train_matrix(split: Split) -> sp.csr_matrix:
    """(n_train_users, n_songs) binary float32 CSR, rows in ``split.train_users`` order."""
    return to_csr(split.train, split.train_users, split.unique_sid)


def heldout_matrices(split: Split, part: str = "validation") -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Fold-in and target matrices ``(tr, te)`` for ``part`` ("validation" or "test").

    Both are (n_part_users, n_songs) binary float32 CSR; row i of each is the user
    ``split.val_users[i]`` (or ``test_users[i]``), as vae_cf's ``load_tr_te_data``.
    """
    if part not in _PARTS:
        raise ConfigError(f"part={part!r} must be 'validation' or 'test'")
    tr_attr, te_attr, users_attr = _PARTS[part]
    users = getattr(split, users_attr)
    tr = to_csr(getattr(split, tr_attr), users, split.unique_sid)
    te = to_csr(getattr(split, te_attr), users, split.unique_sid)
    return tr, te


# --------------------------------------------------------------------------- stats


def dataset_stats(df: pd.DataFrame) -> dict[str, Any]:
    """JSON-able shape of an interaction table (one row per user-song pair).

    Keys: users, songs, interactions, density (interactions / (users * songs)),
    history_length and song_listeners, each a dict of min, p5, p25, median, p75,
    p95, max, mean.
    """
    uc, sc, users, songs = _pair_codes(df)
    n_u, n_s, n_i = len(users), len(songs), len(uc)
    return {
        "users": n_u,
        "songs": n_s,
        "interactions": n_i,
        "density": float(n_i / (n_u * n_s)) if n_u and n_s else 0.0,
        "history_length": _quantiles(np.bincount(uc, minlength=n_u)),
        "song_listeners": _quantiles(np.bincount(sc, minlength=n_s)),
    }
