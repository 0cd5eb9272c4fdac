"""The one input format the training side reads: a *source* folder.

Every data set reaches training through this folder; the MSD and the demo world write
it (``apron_core.sources.msd``, ``apron_core.world.build``)::

    source/
      source.json            format version, name, what wrote it, its drop report
      interactions.parquet   user_id, song_id, count (int >= 1, one row per pair)
      songs.parquet          song_id, title, artist, year (nullable: unknown), and optionally
                             spec: a JSON object as text ("" = none), opaque here -- how to
                             render the song, carried into the catalog for playback
      song_tags.parquet      song_id, tag (one of the 80 APRON tags), weight in (0, 1]
      audio/                 optional: <song_id>.<mp3|wav|flac|ogg|opus>, one file per song
      embeddings/            optional: ids.txt (one song id a line), features.npy (N, D raw
                             encoder features, float32) and encoder.json ({"encoder": name,
                             "config": {...}}: which encoder, so new audio can be embedded
                             alike) -- or a folder written by `python -m training.embed_audio`
                             (apron_core.embed_folder: embed.json + shards/)
      song_truth.parquet     optional: song_id, tag -- what each song really is (a simulated
                             world knows it); evaluation then also scores edits against it
      clip_embeddings/       optional: raw features of one excerpt per song (the embeddings
                             layout) and excerpts.parquet (song_id, start_s, duration_s), so
                             prototypes are clips even when the source has no audio files

A source has audio, embeddings, or both; ``python -m training.prepare`` turns it into
the folder training reads. Ids are compared as strings. Interactions, tags, truth,
audio and embeddings may only name songs of ``songs.parquet``.
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
TRUTH_COLUMNS = ("song_id", "tag")
EXCERPT_COLUMNS = ("song_id", "start_s", "duration_s")
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
        self.song_truth = self.root / "song_truth.parquet"
        self.clip_embeddings = self.root / "clip_embeddings"


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
class ClipEmbeddings:
    """Raw features of one excerpt per song, and where the excerpt lies in the song."""

    features: Embeddings
    start_s: np.ndarray  # (N,) seconds from the song's start, aligned to features.ids
    duration_s: np.ndarray  # (N,) seconds
    row_of: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.features.ids)
        self.row_of = {s: i for i, s in enumerate(self.features.ids)}
        self.start_s = np.asarray(self.start_s, dtype=np.float64)
        self.duration_s = np.asarray(self.duration_s, dtype=np.float64)
        if self.start_s.shape != (n,) or self.duration_s.shape != (n,):
            raise DataError(
                f"clip embeddings: {n} ids but {self.start_s.shape} starts and "
                f"{self.duration_s.shape} durations; give one excerpt per id"
            )
        bad = ~(np.isfinite(self.start_s) & (self.start_s >= 0) & (self.duration_s > 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"clip embeddings: excerpt of {self.features.ids[i][:80]!r} starts at "
                f"{float(self.start_s[i])} s and lasts {float(self.duration_s[i])} s; starts "
                "must be >= 0 and durations > 0"
            )


@dataclass
class Source:
    root: Path
    meta: dict
    interactions: pd.DataFrame  # user_id, song_id (categorical, sorted categories), count int32
    songs: pd.DataFrame  # song_id, title, artist, year (Int32, <NA> unknown)[, spec (JSON text)]
    song_tags: pd.DataFrame  # song_id, tag, weight
    audio: dict[str, Path]  # song_id -> file; empty when the source has no audio
    embeddings: Embeddings | None
    song_truth: pd.DataFrame | None = None  # song_id, tag; None: the source knows no truth
    clips: ClipEmbeddings | None = None


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
    """song_id unique and non-empty; title/artist strings ('' when unknown); year Int32;
    the optional spec a JSON object as text ('' when none)."""
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
    if "spec" in df.columns:
        out["spec"] = [_spec_text(s, i) for s, i in zip(df["spec"], out["song_id"], strict=True)]
    return out


def _spec_text(spec, song_id: str) -> str:
    """A render spec (dict or JSON text, None/'' for none) as JSON text."""
    if spec is None or isinstance(spec, float) or (isinstance(spec, str) and not spec):
        return ""
    text = spec if isinstance(spec, str) else json.dumps(spec)
    try:
        ok = isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        ok = False
    if not ok:
        raise DataError(
            f"songs table: the spec of {song_id[:80]!r} is not a JSON object "
            f"({str(spec)[:80]!r}); give a dict or its JSON text"
        )
    return text


def _song_tag_pairs(df: pd.DataFrame, what: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """song_id and tag as strings, tags checked against the 80 names, pairs unique."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{what} lack column(s) {missing}; got {list(df.columns)}")
    out = pd.DataFrame(
        {"song_id": df["song_id"].astype(str).to_numpy(), "tag": df["tag"].astype(str).to_numpy()}
    )
    unknown = sorted(set(out["tag"]) - set(TAG_NAMES))
    if unknown:
        raise DataError(
            f"{what} name tag(s) {[t[:40] for t in unknown[:5]]} that are not APRON tags; map "
            "them onto the 80 names in apron_core.tags.TAG_NAMES first"
        )
    if out.duplicated(["song_id", "tag"]).any():
        raise DataError(f"{what} repeat a (song_id, tag) pair; keep one row per pair")
    return out


def check_song_tags(df: pd.DataFrame) -> pd.DataFrame:
    """Tags must be APRON tag names; weights in (0, 1]; one row per (song, tag)."""
    out = _song_tag_pairs(df, "song_tags", TAG_COLUMNS)
    out["weight"] = pd.to_numeric(df["weight"], errors="coerce").to_numpy(dtype=np.float32)
    w = out["weight"].to_numpy()
    bad = ~np.isfinite(w) | (w <= 0) | (w > 1)
    if bad.any():
        raise DataError(
            f"song_tags: {int(bad.sum())} weight(s) outside (0, 1] (e.g. {w[bad][0]!r}); "
            "scale weights to (0, 1] and drop zero ones"
        )
    return out.sort_values(["song_id", "tag"], kind="stable").reset_index(drop=True)


def check_song_truth(df: pd.DataFrame) -> pd.DataFrame:
    """Ground-truth tags: APRON tag names, one row per (song, tag)."""
    out = _song_tag_pairs(df, "song_truth", TRUTH_COLUMNS)
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


def write_clip_embeddings(folder: str | os.PathLike, clips: ClipEmbeddings) -> Path:
    folder = write_embeddings(folder, clips.features)
    excerpts = pd.DataFrame(
        {"song_id": clips.features.ids, "start_s": clips.start_s, "duration_s": clips.duration_s}
    )
    excerpts.to_parquet(folder / "excerpts.parquet", index=False)
    return folder


def read_clip_embeddings(folder: str | os.PathLike) -> ClipEmbeddings:
    """Clip features (the embeddings layout) with their excerpts, aligned by song id."""
    folder = Path(folder)
    features = read_embeddings(folder)
    path = folder / "excerpts.parquet"
    if not path.is_file():
        raise DataError(
            f"clip embeddings {folder} lack excerpts.parquet ({', '.join(EXCERPT_COLUMNS)}); "
            "rewrite the source with write_source(..., clips=...)"
        )
    excerpts = pd.read_parquet(path)
    missing = [c for c in EXCERPT_COLUMNS if c not in excerpts.columns]
    if missing:
        raise DataError(f"{path} lacks column(s) {missing}; got {list(excerpts.columns)}")
    if excerpts["song_id"].astype(str).tolist() != features.ids:
        raise DataError(f"{path} does not list the songs of {folder / 'ids.txt'} in their order")
    return ClipEmbeddings(features, excerpts["start_s"], excerpts["duration_s"])


def _check_clip_encoder(clips: ClipEmbeddings | None, emb: Embeddings | None) -> None:
    """Clips and songs must live in one feature space, or prototypes compare apples to pears."""
    same = (
        clips is None
        or emb is None
        or (
            (clips.features.encoder, clips.features.encoder_config)
            == (emb.encoder, emb.encoder_config)
        )
    )
    if not same:
        raise DataError(
            f"clip embeddings come from encoder {clips.features.encoder!r} "
            f"{clips.features.encoder_config}, the song embeddings from {emb.encoder!r} "
            f"{emb.encoder_config}; embed both with the same encoder and settings"
        )


def write_source(
    out_dir: str | os.PathLike,
    *,
    interactions: pd.DataFrame,
    songs: pd.DataFrame,
    song_tags: pd.DataFrame,
    audio: Mapping[str, str | os.PathLike] | None = None,
    embeddings: Embeddings | None = None,
    song_truth: pd.DataFrame | None = None,
    clips: ClipEmbeddings | None = None,
    name: str = "source",
    meta: dict | None = None,
    link: str = "symlink",
    merge_duplicates: bool = False,
) -> Path:
    """Validate and write a source folder; returns its path.

    ``audio`` maps song ids to files, placed as ``audio/<song_id><suffix>`` (``link``:
    "symlink", falling back to a copy, or "copy"). ``song_truth`` (song_id, tag),
    ``clips`` and a ``spec`` column of ``songs`` are optional (see the module doc).
    Raises DataError on anything a reader would refuse.
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
    truth = check_song_truth(song_truth) if song_truth is not None else None
    if truth is not None:
        _check_refs("song_truth", set(truth["song_id"]), known)
    if clips is not None:
        _check_refs("clip embeddings", set(clips.features.ids), known)
    _check_clip_encoder(clips, embeddings)
    if audio:
        _check_refs("audio", set(audio), known)
        bad = [p for p in audio.values() if Path(p).suffix.lower() not in AUDIO_SUFFIXES]
        if bad:
            raise DataError(f"audio file {bad[0]} is not one of {AUDIO_SUFFIXES}; convert it")
    songs.to_parquet(paths.songs, index=False)
    tags.to_parquet(paths.song_tags, index=False)
    # one row group: the id dictionaries are stored once, not once per row group (size and
    # read time at MSD scale: reports/data_pipeline.md)
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
    for folder in (paths.embeddings, paths.clip_embeddings):
        if folder.exists():
            shutil.rmtree(folder)
    if embeddings is not None:
        write_embeddings(paths.embeddings, embeddings)
    if clips is not None:
        write_clip_embeddings(paths.clip_embeddings, clips)
    if truth is not None:
        truth.to_parquet(paths.song_truth, index=False)
    else:
        paths.song_truth.unlink(missing_ok=True)
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
            "song_truth": len(truth) if truth is not None else 0,
            "clip_embeddings": len(clips.features.ids) if clips is not None else 0,
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
    truth = (
        check_song_truth(pd.read_parquet(paths.song_truth)) if paths.song_truth.is_file() else None
    )
    clips = read_clip_embeddings(paths.clip_embeddings) if paths.clip_embeddings.is_dir() else None
    _check_clip_encoder(clips, emb)
    if check_refs:
        known = set(songs["song_id"])
        _check_refs("interactions", set(inter["song_id"].cat.categories), known)
        _check_refs("song_tags", set(tags["song_id"]), known)
        _check_refs("audio files", set(audio), known)
        for what, ids in (
            ("embeddings", emb.ids if emb is not None else ()),
            ("song_truth", truth["song_id"] if truth is not None else ()),
            ("clip embeddings", clips.features.ids if clips is not None else ()),
        ):
            _check_refs(what, set(ids), known)
    return Source(paths.root, meta, inter, songs, tags, audio, emb, truth, clips)
