"""The one input format the training side reads: a *source* folder.

Every data set reaches training through this folder; the MSD and the demo world are
adapters that write it (``apron_core.sources.msd``, ``apron_core.sources.world``)::

    source/
      source.json            format version, name, what wrote it, its drop report
      interactions.parquet   user_id, song_id, count (int >= 1, one row per pair)
      songs.parquet          song_id, title, artist, year (nullable: unknown)
      song_tags.parquet      song_id, tag (one of the 80 APRON tags), weight in (0, 1]
      audio/                 optional: <song_id>.<mp3|wav|flac|ogg|opus>, one file per song
      embeddings/            optional: ids.txt (one song id a line), features.npy (N, D raw
                             encoder features, float32) and encoder.json ({"encoder": name,
                             "config": {...}}: which encoder, so new audio can be embedded
                             alike) -- or a folder written by `python -m training.embed_audio`
                             (apron_core.embed_folder: embed.json + shards/)

A source has audio, embeddings, or both; ``python -m training.prepare`` turns it into
the folder training reads. Ids are compared as strings. Interactions, tags, audio and
embeddings may only name songs of ``songs.parquet``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from apron_core.data import whole_counts
from apron_core.embed_folder import AUDIO_SUFFIXES as EMBED_SUFFIXES
from apron_core.embed_folder import META_FILE as EMBED_META_FILE
from apron_core.embed_folder import load_embeddings
from apron_core.errors import DataError
from apron_core.tags import TAG_NAMES

SOURCE_VERSION = 1
SOURCE_FILE = "source.json"
AUDIO_SUFFIXES = EMBED_SUFFIXES  # what the audio layer decodes: wav, flac, ogg, mp3
SONG_COLUMNS = ("song_id", "title", "artist", "year")
TAG_COLUMNS = ("song_id", "tag", "weight")
INTERACTION_COLUMNS = ("user_id", "song_id", "count")


class SourcePaths:
    """File names inside a source folder, in one place."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.meta = self.root / SOURCE_FILE
        self.interactions = self.root / "interactions.parquet"
        self.songs = self.root / "songs.parquet"
        self.song_tags = self.root / "song_tags.parquet"
        self.audio = self.root / "audio"
        self.embeddings = self.root / "embeddings"


@dataclass
class Embeddings:
    """Precomputed raw encoder features, one row per id."""

    ids: list[str]
    raw: np.ndarray  # (N, D) float32, not normalized
    encoder: str
    encoder_config: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.raw = np.asarray(self.raw, dtype=np.float32)
        if self.raw.ndim != 2 or self.raw.shape[0] != len(self.ids):
            raise DataError(
                f"embeddings: {len(self.ids)} ids but features of shape {self.raw.shape}; "
                "give one row of features per id"
            )
        if len(set(self.ids)) != len(self.ids):
            raise DataError("embeddings: repeated ids; give each song one row")
        if not np.all(np.isfinite(self.raw)):
            bad = np.flatnonzero(~np.isfinite(self.raw).all(1))[:3]
            raise DataError(
                f"embeddings: rows of {[self.ids[i] for i in bad]} hold NaN/inf; re-embed them"
            )


@dataclass
class Source:
    root: Path
    meta: dict
    interactions: pd.DataFrame  # user_id, song_id (categorical, sorted categories), count int32
    songs: pd.DataFrame  # song_id, title, artist, year (Int32, <NA> unknown)
    song_tags: pd.DataFrame  # song_id, tag, weight
    audio: dict[str, Path]  # song_id -> file; empty when the source has no audio
    embeddings: Embeddings | None

    def songs_with_features(self) -> set[str]:
        """Songs that can be embedded: an audio file or a precomputed row."""
        ids = set(self.audio)
        if self.embeddings is not None:
            ids |= set(self.embeddings.ids)
        return ids


# --------------------------------------------------------------------------- checks


def sorted_categorical(values: pd.Series, name: str) -> pd.Series:
    """``values`` as a categorical of str ids with lexically sorted, used-only categories.

    Sorted categories make integer codes (and everything ``apron_core.data`` derives
    from them) independent of row order, exactly as with plain string columns. Linear
    in the rows (no sort of them), so it stays cheap on 48 M interactions.
    """
    if not isinstance(values.dtype, pd.CategoricalDtype):
        if values.isna().any():
            raise DataError(
                f"column {name!r} has {int(values.isna().sum())} null id(s); give every row an id"
            )
        values = values.astype(str).astype("category")
    codes = values.cat.codes.to_numpy()
    cats = values.cat.categories
    if (codes < 0).any():
        raise DataError(
            f"column {name!r} has {int((codes < 0).sum())} null id(s); give every row an id"
        )
    used = np.bincount(codes, minlength=len(cats)) > 0
    if not used.all():
        codes = (np.cumsum(used) - 1).astype(codes.dtype)[codes]
        cats = cats[used]
    cats = pd.Index(cats.astype(str), dtype=str)
    if not cats.is_unique:
        raise DataError(f"column {name!r} has ids that differ only in type (e.g. 1 and '1')")
    if (cats.str.len() == 0).any():
        raise DataError(f"column {name!r} has empty ids; give every row a non-empty id")
    if not cats.is_monotonic_increasing:
        order = np.argsort(cats.to_numpy(), kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes = rank[codes]
        cats = cats[order]
    return pd.Series(pd.Categorical.from_codes(codes, categories=cats), name=name)


def merge_duplicate_pairs(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Sum the counts of repeated (user, song) rows; returns the frame sorted by (user, song)
    codes and how many rows were merged away. Columns must be :func:`sorted_categorical`."""
    uc = df["user_id"].cat.codes.to_numpy().astype(np.int64)
    sc = df["song_id"].cat.codes.to_numpy().astype(np.int64)
    key = uc * len(df["song_id"].cat.categories) + sc
    if len(key) < 2 or bool(np.all(key[1:] > key[:-1])):  # already one sorted row per pair
        counts = np.minimum(df["count"].to_numpy(), np.iinfo(np.int32).max).astype(np.int32)
        return df.assign(count=counts).reset_index(drop=True), 0
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    n_dup = int(len(key) - first.sum())
    counts = df["count"].to_numpy()[order]
    if n_dup:
        starts = np.flatnonzero(first)
        counts = np.add.reduceat(counts.astype(np.int64), starts)
        order = order[starts]
    out = pd.DataFrame(
        {
            "user_id": df["user_id"].iloc[order],
            "song_id": df["song_id"].iloc[order],
            "count": np.minimum(counts, np.iinfo(np.int32).max).astype(np.int32),
        }
    ).reset_index(drop=True)
    return out, n_dup


def check_interactions(df: pd.DataFrame, *, merge_duplicates: bool = False) -> pd.DataFrame:
    """Validated interactions: categorical ids, int32 counts >= 1, one row per pair.

    Repeated pairs are summed when ``merge_duplicates``, an error otherwise.
    """
    missing = [c for c in ("user_id", "song_id") if c not in df.columns]
    if missing:
        raise DataError(
            f"interactions lack column(s) {missing}; got {list(df.columns)}. "
            "Name them user_id, song_id and count."
        )
    if len(df) == 0:
        raise DataError("interactions are empty (0 rows); a source needs listening events")
    if "count" in df.columns:
        counts = whole_counts(df["count"], what="interactions")
    else:
        counts = np.ones(len(df), dtype=np.int64)
    out = pd.DataFrame(
        {
            "user_id": sorted_categorical(df["user_id"], "user_id"),
            "song_id": sorted_categorical(df["song_id"], "song_id"),
            "count": counts,
        }
    )
    out, n_dup = merge_duplicate_pairs(out)
    if n_dup and not merge_duplicates:
        raise DataError(
            f"interactions repeat {n_dup} (user_id, song_id) pair(s); write one row per pair "
            "(sum their counts), e.g. with write_source(..., merge_duplicates=True)"
        )
    return out


def check_songs(df: pd.DataFrame) -> pd.DataFrame:
    """song_id unique and non-empty; title/artist strings ('' when unknown); year Int32."""
    if "song_id" not in df.columns:
        raise DataError(f"songs table lacks column 'song_id'; got {list(df.columns)}")
    ids = df["song_id"]
    if ids.isna().any() or (ids.astype(str).str.len() == 0).any():
        raise DataError("songs table has null or empty song_id values; give every song an id")
    ids = ids.astype(str)
    if ids.duplicated().any():
        raise DataError(
            f"songs table repeats song_id {ids[ids.duplicated()].iloc[0]!r}; one row per song"
        )
    out = pd.DataFrame({"song_id": ids.reset_index(drop=True)})
    for col in ("title", "artist"):
        vals = df[col] if col in df.columns else pd.Series([""] * len(df))
        out[col] = vals.fillna("").astype(str).reset_index(drop=True)
    year = df["year"] if "year" in df.columns else pd.Series([None] * len(df))
    year = pd.to_numeric(year, errors="coerce").reset_index(drop=True)
    year = year.where((year >= 1000) & (year <= 2100))  # 0 and junk: unknown
    out["year"] = year.round().astype("Int32")
    return out


def check_song_tags(df: pd.DataFrame) -> pd.DataFrame:
    """Tags must be APRON tag names; weights in (0, 1]; one row per (song, tag)."""
    missing = [c for c in TAG_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"song_tags lack column(s) {missing}; got {list(df.columns)}")
    out = pd.DataFrame(
        {
            "song_id": df["song_id"].astype(str).to_numpy(),
            "tag": df["tag"].astype(str).to_numpy(),
            "weight": pd.to_numeric(df["weight"], errors="coerce").to_numpy(dtype=np.float32),
        }
    )
    unknown = sorted(set(out["tag"]) - set(TAG_NAMES))
    if unknown:
        raise DataError(
            f"song_tags name tag(s) {unknown[:5]} that are not APRON tags; map them onto the 80 "
            "names in apron_core.tags.TAG_NAMES first"
        )
    w = out["weight"].to_numpy()
    bad = ~np.isfinite(w) | (w <= 0) | (w > 1)
    if bad.any():
        raise DataError(
            f"song_tags: {int(bad.sum())} weight(s) outside (0, 1] (e.g. {w[bad][0]!r}); "
            "scale weights to (0, 1] and drop zero ones"
        )
    if out.duplicated(["song_id", "tag"]).any():
        raise DataError("song_tags repeat a (song_id, tag) pair; keep one row (the max weight)")
    return out.sort_values(["song_id", "tag"], kind="stable").reset_index(drop=True)


def audio_files(folder: str | os.PathLike) -> dict[str, Path]:
    """``{file stem: path}`` of the audio files in a source's ``audio/`` (stems unique)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"audio folder {folder} does not exist; pass a folder of audio files")
    found: dict[str, Path] = {}
    for p in folder.iterdir():
        if p.suffix.lower() not in AUDIO_SUFFIXES or p.name.startswith("."):
            continue
        if p.stem in found:
            raise DataError(
                f"two audio files for id {p.stem!r}: {found[p.stem]} and {p}; keep one per id"
            )
        found[p.stem] = p
    return found


def _check_refs(what: str, ids: set[str] | pd.Index, known: set[str]) -> None:
    unknown = [x for x in ids if x not in known]
    if unknown:
        raise DataError(
            f"{what} name {len(unknown)} song(s) missing from songs.parquet "
            f"(e.g. {sorted(unknown)[:3]}); add them to the songs table or drop them"
        )


# --------------------------------------------------------------------------- write / read


def _place(src: Path, dst: Path, link: str) -> None:
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    if link == "symlink":
        try:
            dst.symlink_to(src.resolve())
            return
        except OSError:  # filesystems without symlinks: fall back to a copy
            pass
    shutil.copyfile(src, dst)


def write_embeddings(folder: str | os.PathLike, emb: Embeddings) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    bad = [i for i in emb.ids if "\n" in i or not i]
    if bad:
        raise DataError(f"embedding ids must be non-empty single-line strings, got {bad[0]!r}")
    (folder / "ids.txt").write_text("".join(f"{i}\n" for i in emb.ids))
    np.save(folder / "features.npy", emb.raw.astype(np.float32))
    (folder / "encoder.json").write_text(
        json.dumps({"encoder": emb.encoder, "config": emb.encoder_config}, indent=1) + "\n"
    )
    return folder


def read_embeddings(folder: str | os.PathLike) -> Embeddings:
    """Precomputed embeddings: this format, or an ``apron_core.embed_folder`` output."""
    folder = Path(folder)
    if (folder / EMBED_META_FILE).is_file():
        try:
            meta = json.loads((folder / EMBED_META_FILE).read_text())
            name, config = meta["encoder"], meta.get("config", {})
        except (json.JSONDecodeError, KeyError, TypeError):
            raise DataError(f"{folder / EMBED_META_FILE} is not an embed_folder header") from None
        ids, raw = load_embeddings(folder)
        return Embeddings(ids=ids, raw=raw, encoder=str(name), encoder_config=config)
    files = [folder / n for n in ("ids.txt", "features.npy", "encoder.json")]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise DataError(
            f"embeddings folder {folder} lacks {missing}; it needs ids.txt, features.npy and "
            "encoder.json (see apron_core.sources.generic), or is the output of "
            "`python -m training.embed_audio`"
        )
    ids = files[0].read_text().split("\n")
    if ids and ids[-1] == "":
        ids.pop()
    try:
        enc = json.loads(files[2].read_text())
        name, config = enc["encoder"], enc.get("config", {})
    except (json.JSONDecodeError, KeyError, TypeError):
        raise DataError(
            f"{files[2]} must be JSON like {{'encoder': 'librosa', 'config': {{}}}}"
        ) from None
    return Embeddings(ids=ids, raw=np.load(files[1]), encoder=str(name), encoder_config=config)


def write_source(
    out_dir: str | os.PathLike,
    *,
    interactions: pd.DataFrame,
    songs: pd.DataFrame,
    song_tags: pd.DataFrame,
    audio: Mapping[str, str | os.PathLike] | None = None,
    embeddings: Embeddings | None = None,
    name: str = "source",
    meta: dict | None = None,
    link: str = "symlink",
    merge_duplicates: bool = False,
) -> Path:
    """Validate and write a source folder; returns its path.

    ``audio`` maps song ids to files, placed as ``audio/<song_id><suffix>`` (``link``:
    "symlink", falling back to a copy, or "copy"). Raises DataError on anything a
    reader would refuse.
    """
    if link not in ("symlink", "copy"):
        raise DataError(f"link={link!r}: use 'symlink' or 'copy'")
    if not audio and embeddings is None:
        raise DataError(
            "a source needs audio files or precomputed embeddings for its songs; pass one"
        )
    paths = SourcePaths(out_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    songs = check_songs(songs)
    known = set(songs["song_id"])
    inter = check_interactions(interactions, merge_duplicates=merge_duplicates)
    _check_refs("interactions", set(inter["song_id"].cat.categories), known)
    tags = check_song_tags(song_tags)
    _check_refs("song_tags", set(tags["song_id"]), known)
    if embeddings is not None:
        _check_refs("embeddings", set(embeddings.ids), known)
    if audio:
        _check_refs("audio", set(audio), known)
        bad = [p for p in audio.values() if Path(p).suffix.lower() not in AUDIO_SUFFIXES]
        if bad:
            raise DataError(f"audio file {bad[0]} is not one of {AUDIO_SUFFIXES}; convert it")
    songs.to_parquet(paths.songs, index=False)
    tags.to_parquet(paths.song_tags, index=False)
    # one row group: the id dictionaries are stored once (per row group they would be
    # repeated, ten times the size, and unifying them on read takes minutes at MSD size)
    inter.to_parquet(paths.interactions, index=False, row_group_size=max(1, len(inter)))
    if paths.audio.exists():
        shutil.rmtree(paths.audio)
    if audio:
        paths.audio.mkdir()
        for song_id, src in audio.items():
            src = Path(src)
            if not src.is_file():
                raise DataError(f"audio file {src} for song {song_id!r} does not exist")
            _place(src, paths.audio / f"{song_id}{src.suffix.lower()}", link)
    if paths.embeddings.exists():
        shutil.rmtree(paths.embeddings)
    if embeddings is not None:
        write_embeddings(paths.embeddings, embeddings)
    info = {
        "format": "apron-source",
        "version": SOURCE_VERSION,
        "name": name,
        "counts": {
            "interactions": len(inter),
            "users": len(inter["user_id"].cat.categories),
            "songs": len(songs),
            "song_tags": len(tags),
            "audio_files": len(audio or {}),
            "embeddings": len(embeddings.ids) if embeddings is not None else 0,
        },
        **(meta or {}),
    }
    paths.meta.write_text(json.dumps(info, indent=1, default=str) + "\n")
    return paths.root


def read_source(root: str | os.PathLike, *, check_refs: bool = True) -> Source:
    """Read and validate a source folder written by :func:`write_source` (or by hand)."""
    paths = SourcePaths(root)
    if not paths.meta.is_file():
        raise DataError(
            f"{paths.root} is not a source folder (no {SOURCE_FILE}); write one with an adapter "
            "such as `python -m training.prepare_msd`"
        )
    meta = json.loads(paths.meta.read_text())
    if meta.get("format") != "apron-source" or meta.get("version") != SOURCE_VERSION:
        raise DataError(
            f"{paths.meta}: format {meta.get('format')!r} version {meta.get('version')!r}; this "
            f"code reads apron-source version {SOURCE_VERSION}: rewrite it with its adapter"
        )
    for p in (paths.interactions, paths.songs, paths.song_tags):
        if not p.is_file():
            raise DataError(f"source {paths.root} lacks {p.name}; rewrite it with its adapter")
    songs = check_songs(pd.read_parquet(paths.songs))
    tags = check_song_tags(pd.read_parquet(paths.song_tags))
    inter = check_interactions(pd.read_parquet(paths.interactions))
    audio = audio_files(paths.audio) if paths.audio.is_dir() else {}
    emb = read_embeddings(paths.embeddings) if paths.embeddings.is_dir() else None
    if not audio and emb is None:
        raise DataError(
            f"source {paths.root} has neither audio/ nor embeddings/; songs need one of them"
        )
    if check_refs:
        known = set(songs["song_id"])
        _check_refs("interactions", set(inter["song_id"].cat.categories), known)
        _check_refs("song_tags", set(tags["song_id"]), known)
        _check_refs("audio files", set(audio), known)
        if emb is not None:
            _check_refs("embeddings", set(emb.ids), known)
    return Source(paths.root, meta, inter, songs, tags, audio, emb)
