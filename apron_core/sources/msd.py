"""Million Song Dataset adapter: the Taste Profile triplets, track list, Last.fm tags and
audio previews → a generic source folder (:mod:`apron_core.sources.generic`).

Files (names as distributed):

* ``train_triplets.txt`` — ``user_id \\t song_id \\t play_count``, ~48 M lines, 2.9 GB;
  read in blocks with pyarrow, ids turned into integer codes as they stream by, so
  memory grows with the number of *rows kept* (12 bytes each), not with the file.
* ``unique_tracks.txt`` — ``track_id<SEP>song_id<SEP>artist<SEP>title``; a song may
  have several tracks. Tags and previews are keyed by track, interactions by song.
* ``lastfm_tags.db`` — SQLite: ``tids`` (rowid → track id), ``tags`` (rowid → tag
  string), ``tid_tag(tid, tag, val)`` with ``val`` in 0–100.
* ``tracks_per_year.txt`` (optional) — ``year<SEP>track_id<SEP>artist<SEP>title``.
* a folder of previews (optional) named by track id (``TRAAAAW128F429D538.mp3``),
  possibly nested; or precomputed embeddings keyed by track or song id.

Everything removed is recorded, with the reason, in a :class:`PrepLog`.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from tqdm.auto import tqdm

from apron_core.embed_folder import list_audio
from apron_core.errors import ConfigError, DataError
from apron_core.sources.generic import Embeddings, SourcePaths, read_embeddings, write_source
from apron_core.sources.lastfm_tags import TagMap, load_tag_map
from apron_core.sources.report import PrepLog

SEP = "<SEP>"
TRACK_RE = re.compile(r"^TR[A-Z0-9]{16}$")
SONG_RE = re.compile(r"^SO[A-Z0-9]{16}$")
USER_RE = "^[0-9a-f]{40}$"


@dataclass(frozen=True)
class MsdFiles:
    """Where the MSD files are; ``years`` is optional, and one of ``audio_dir`` and
    ``embeddings_dir`` is needed."""

    triplets: Path
    tracks: Path
    tags_db: Path | None = None
    years: Path | None = None
    audio_dir: Path | None = None
    embeddings_dir: Path | None = None

    @classmethod
    def in_folder(cls, folder: str | os.PathLike, **overrides: Path | None) -> MsdFiles:
        """The usual names inside one folder; optional files are used when present."""
        d = Path(folder)
        if not d.is_dir():
            raise DataError(f"MSD folder {d} not found; pass the folder holding the MSD files")

        def opt(name: str) -> Path | None:
            return d / name if (d / name).exists() else None

        found = {
            "triplets": d / "train_triplets.txt",
            "tracks": d / "unique_tracks.txt",
            "tags_db": opt("lastfm_tags.db"),
            "years": opt("tracks_per_year.txt"),
            "audio_dir": opt("audio"),
            "embeddings_dir": opt("embeddings"),
        }
        found.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**found)

    def check(self) -> None:
        if self.tags_db is None:
            raise DataError(
                "the Last.fm tags (lastfm_tags.db) are needed: prototypes are chosen per tag; "
                "pass --tags-db or put the file in --msd-dir"
            )
        for name in ("triplets", "tracks", "tags_db", "years"):
            p = getattr(self, name)
            if p is not None and not Path(p).is_file():
                raise DataError(f"MSD {name} file {p} not found; check the path (see docs/msd.md)")
        for name in ("audio_dir", "embeddings_dir"):
            p = getattr(self, name)
            if p is not None and not Path(p).is_dir():
                raise DataError(f"MSD {name} {p} is not a folder; check the path")
        if self.audio_dir is None and self.embeddings_dir is None:
            raise DataError(
                "APRON needs audio for its songs: pass a folder of previews named by track id "
                "(--audio-dir) or precomputed embeddings (--embeddings-dir)"
            )


@dataclass(frozen=True)
class MsdConfig:
    tag_map: str | None = None  # JSON mapping file; None: assets/lastfm_tag_map.json
    min_tag_weight: float | None = None  # Last.fm 0-100; None: the map's min_weight
    require_audio: bool = False  # drop songs without a preview or embedding before writing
    link: str = "symlink"  # how previews are placed in source/audio: "symlink" or "copy"
    block_bytes: int = 64 << 20  # triplet block size read at once

    def __post_init__(self) -> None:
        if self.min_tag_weight is not None and not 0 <= self.min_tag_weight <= 100:
            raise ConfigError(f"min_tag_weight={self.min_tag_weight} must be within 0-100")
        if self.link not in ("symlink", "copy"):
            raise ConfigError(f"link={self.link!r}: use 'symlink' or 'copy'")
        if self.block_bytes < 1 << 16:
            raise ConfigError(f"block_bytes={self.block_bytes} must be at least 65536")


# --------------------------------------------------------------------------- small text files


def _lines(path: Path) -> list[str]:
    text = Path(path).read_bytes().decode("utf-8", errors="replace")
    return [ln.rstrip("\r") for ln in text.split("\n") if ln.strip()]


def parse_unique_tracks(path: Path, log: PrepLog) -> pd.DataFrame:
    """``unique_tracks.txt`` → (track_id, song_id, artist, title), one row per valid track."""
    rows, bad, dup = [], [], []
    seen: set[str] = set()
    for line in _lines(path):
        parts = line.split(SEP, 3)
        if len(parts) != 4 or not TRACK_RE.match(parts[0]) or not SONG_RE.match(parts[1]):
            bad.append(line)
            continue
        if parts[0] in seen:
            dup.append(line)
            continue
        seen.add(parts[0])
        rows.append(parts)
    log.drop(
        "tracks", "malformed line (need TR…<SEP>SO…<SEP>artist<SEP>title)", len(bad), "lines", bad
    )
    log.drop("tracks", "repeated track id (first line kept)", len(dup), "lines", dup)
    if not rows:
        raise DataError(f"{path} has no valid track lines; is it MSD's unique_tracks.txt?")
    df = pd.DataFrame(rows, columns=["track_id", "song_id", "artist", "title"])
    log.keep("tracks", tracks=len(df), songs=df["song_id"].nunique())
    return df


def parse_years(path: Path, log: PrepLog) -> pd.DataFrame:
    """``tracks_per_year.txt`` → (track_id, year)."""
    rows, bad = [], []
    for line in _lines(path):
        parts = line.split(SEP, 3)
        ok = len(parts) == 4 and parts[0].isdigit() and TRACK_RE.match(parts[1])
        if not ok or not 1000 <= int(parts[0]) <= 2100:
            bad.append(line)
            continue
        rows.append((parts[1], int(parts[0])))
    log.drop(
        "years", "malformed line (need year<SEP>TR…<SEP>artist<SEP>title)", len(bad), "lines", bad
    )
    df = pd.DataFrame(rows, columns=["track_id", "year"]).drop_duplicates("track_id")
    log.keep("years", tracks=len(df))
    return df


# --------------------------------------------------------------------------- Last.fm tags


def _connect_ro(path: Path) -> sqlite3.Connection:
    try:
        con = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as e:
        raise DataError(f"{path} is not a readable SQLite database ({e}); re-download it") from None
    missing = {"tids", "tags", "tid_tag"} - tables
    if missing:
        con.close()
        raise DataError(
            f"{path} lacks table(s) {sorted(missing)}; expected MSD's lastfm_tags.db "
            "(tables tids, tags, tid_tag)"
        )
    return con


def read_lastfm_tags(
    db: Path, tag_map: TagMap, tracks: pd.DataFrame, log: PrepLog, *, min_weight: float
) -> pd.DataFrame:
    """Song-level APRON tags from ``lastfm_tags.db``: (song_id, tag, weight in (0, 1]).

    A song's weight for a tag is the largest Last.fm value among its tracks and among
    the Last.fm spellings that map to the tag, divided by 100.
    """
    con = _connect_ro(db)
    try:
        tag_rows = con.execute("SELECT rowid, tag FROM tags").fetchall()
        usage = dict(con.execute("SELECT tag, COUNT(*) FROM tid_tag GROUP BY tag").fetchall())
        targets: dict[int, tuple[str, ...]] = {}
        unmapped: Counter[str] = Counter()
        n_ignored_pairs = n_unmapped_pairs = 0
        for rowid, text in tag_rows:
            mapped = tag_map.lookup(text or "")
            if mapped:
                targets[int(rowid)] = mapped
            elif tag_map.is_ignored(text or ""):
                n_ignored_pairs += usage.get(rowid, 0)
            else:
                n_unmapped_pairs += usage.get(rowid, 0)
                unmapped[str(text)] += usage.get(rowid, 0)
        con.execute("CREATE TEMP TABLE wanted (id INTEGER PRIMARY KEY)")
        con.executemany("INSERT INTO temp.wanted VALUES (?)", [(k,) for k in targets])
        pairs = pd.read_sql_query(
            "SELECT tids.tid AS track_id, tid_tag.tag AS tag_row, tid_tag.val AS val "
            "FROM tid_tag JOIN temp.wanted ON temp.wanted.id = tid_tag.tag "
            "JOIN tids ON tids.rowid = tid_tag.tid",
            con,
        )
    except sqlite3.DatabaseError as e:
        raise DataError(f"cannot read tags from {db} ({e}); is it MSD's lastfm_tags.db?") from None
    finally:
        con.close()
    log.keep(
        "lastfm_tag_strings",
        total=len(tag_rows),
        mapped=len(targets),
        ignored=sum(1 for _, t in tag_rows if tag_map.is_ignored(t or "")),
    )
    log.drop(
        "lastfm_tags", "tag string listed under 'ignore' in the map", n_ignored_pairs, "track-tags"
    )
    top = ", ".join(f"{t!r} ({n:,})" for t, n in unmapped.most_common(15))
    log.drop("lastfm_tags", "tag string not in the map", n_unmapped_pairs, "track-tags")
    if top:
        log.note(f"most used unmapped Last.fm tags (tracks): {top}")
    val = pd.to_numeric(pairs["val"], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(val) | (val < 0) | (val > 100)
    log.drop("lastfm_tags", "weight not a number in 0-100", int(bad.sum()), "track-tags")
    weak = ~bad & ((val < min_weight) | (val <= 0))
    log.drop(
        "lastfm_tags",
        f"weight below min_weight={min_weight:g} (or 0)",
        int(weak.sum()),
        "track-tags",
    )
    pairs = pairs.loc[~bad & ~weak].assign(val=val[~bad & ~weak])
    song_of = pd.Series(tracks["song_id"].to_numpy(), index=tracks["track_id"].to_numpy())
    pairs["song_id"] = pairs["track_id"].map(song_of)
    orphan = pairs["song_id"].isna()
    log.drop(
        "lastfm_tags",
        "track not in unique_tracks.txt",
        int(orphan.sum()),
        "track-tags",
        pairs.loc[orphan, "track_id"].head(3).tolist(),
    )
    pairs = pairs.loc[~orphan]
    target_lists = pairs["tag_row"].map(targets)
    out = (
        pd.DataFrame(
            {"song_id": pairs["song_id"], "tag": target_lists, "weight": pairs["val"] / 100}
        )
        .explode("tag")
        .groupby(["song_id", "tag"], as_index=False)["weight"]
        .max()
    )
    log.keep("song_tags", pairs=len(out), songs=out["song_id"].nunique(), tags=out["tag"].nunique())
    return out


# --------------------------------------------------------------------------- triplets


class _ProgressFile:
    """A binary file whose reads advance a tqdm bar (pyarrow reads it block by block)."""

    def __init__(self, path: Path, bar: tqdm) -> None:
        self._f = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._bar = bar
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        b = self._f.read(n)
        self._bar.update(len(b))
        return b

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self._f.close()
        self.closed = True


@dataclass
class Triplets:
    """Integer-coded triplets: ``users[user[i]]`` played ``songs[song[i]]`` ``count[i]`` times."""

    user: np.ndarray  # (n,) int32 codes into users
    song: np.ndarray  # (n,) int32 codes into songs
    count: np.ndarray  # (n,) int32 >= 1
    users: np.ndarray  # user ids, object array
    songs: np.ndarray  # song ids, object array


def stream_triplets(
    path: Path,
    known_songs: pd.Index,
    log: PrepLog,
    *,
    block_bytes: int = 64 << 20,
    progress: bool = True,
) -> Triplets:
    """Read ``train_triplets.txt`` block by block into integer codes.

    Dropped, each with a count and examples: lines without exactly three fields, user
    ids that are not 40 hex digits, play counts that are not integers >= 1, and songs
    missing from ``known_songs`` (the track list). Repeated (user, song) lines are
    merged, their counts summed.
    """
    path = Path(path)
    if not known_songs.is_unique:
        raise DataError("known song ids must be unique")
    malformed: list[str] = []
    n_malformed = 0

    def on_invalid(row: pa_csv.InvalidRow) -> str:
        nonlocal n_malformed
        n_malformed += 1
        if len(malformed) < 3:
            malformed.append(row.text or "")
        return "skip"

    read = pa_csv.ReadOptions(
        column_names=["user", "song", "count"], block_size=block_bytes, use_threads=True
    )
    parse = pa_csv.ParseOptions(
        delimiter="\t", quote_char=False, escape_char=False, invalid_row_handler=on_invalid
    )
    dict_str = pa.dictionary(pa.int32(), pa.string())
    convert = pa_csv.ConvertOptions(
        column_types={"user": dict_str, "song": dict_str, "count": pa.string()},
        strings_can_be_null=False,
    )
    user_ids: dict[str, int] = {}
    parts_u, parts_s, parts_c = [], [], []
    bad_user: list[str] = []
    bad_count: list[str] = []
    unknown: list[str] = []
    n_bad_user = n_bad_count = n_unknown = 0
    unknown_songs: set[str] = set()
    bar = tqdm(
        total=path.stat().st_size, unit="B", unit_scale=True, desc="triplets", disable=not progress
    )
    stream = _ProgressFile(path, bar)
    try:
        reader = pa_csv.open_csv(
            stream, read_options=read, parse_options=parse, convert_options=convert
        )
        for batch in reader:
            if batch.num_rows == 0:
                continue
            u_col, s_col = batch.column(0), batch.column(1)
            # users: validate and code each distinct id of the block once
            u_dict = u_col.dictionary
            u_ok = pc.match_substring_regex(u_dict, USER_RE).to_numpy(zero_copy_only=False)
            u_map = np.array(
                [
                    user_ids.setdefault(x, len(user_ids)) if ok else -1
                    for x, ok in zip(u_dict.to_pylist(), u_ok, strict=True)
                ],
                dtype=np.int64,
            )
            u = u_map[u_col.indices.to_numpy(zero_copy_only=False)]
            # songs: codes into the track list's songs, -1 when unknown
            s_dict = s_col.dictionary
            s_map = known_songs.get_indexer(pd.Index(s_dict.to_numpy(zero_copy_only=False)))
            s_idx = s_col.indices.to_numpy(zero_copy_only=False)
            s = s_map[s_idx]
            # counts: at most 9 digits, >= 1
            c_str = pc.utf8_trim_whitespace(batch.column(2))
            c_ok = pc.fill_null(pc.utf8_is_digit(c_str), False).to_numpy(zero_copy_only=False)
            c_ok &= pc.utf8_length(c_str).to_numpy(zero_copy_only=False) <= 9
            c = pc.cast(pc.if_else(pa.array(c_ok), c_str, "0"), pa.int64()).to_numpy()
            c_ok &= c >= 1
            ok_u = u >= 0
            n_bad_user += _count_with_examples(~ok_u, batch, bad_user)
            n_bad_count += _count_with_examples(ok_u & ~c_ok, batch, bad_count)
            miss = ok_u & c_ok & (s < 0)
            if miss.any():
                n_unknown += int(miss.sum())
                miss_ids = s_dict.take(pa.array(np.unique(s_idx[miss]))).to_pylist()
                unknown_songs.update(miss_ids)
                unknown.extend(miss_ids[: max(0, 3 - len(unknown))])
            keep = ok_u & c_ok & (s >= 0)
            parts_u.append(u[keep].astype(np.int32))
            parts_s.append(s[keep].astype(np.int32))
            parts_c.append(np.minimum(c[keep], np.iinfo(np.int32).max).astype(np.int32))
    except pa.ArrowInvalid as e:
        raise DataError(f"cannot parse {path} as tab-separated triplets ({e})") from None
    finally:
        stream.close()
        bar.close()
    stage = "triplets"
    log.drop(
        stage, "malformed line (need user<TAB>song<TAB>count)", n_malformed, "lines", malformed
    )
    log.drop(stage, "user id is not 40 hex digits", n_bad_user, "lines", bad_user)
    log.drop(stage, "play count is not an integer >= 1", n_bad_count, "lines", bad_count)
    log.drop(
        stage,
        f"song id not in unique_tracks.txt ({len(unknown_songs):,} distinct songs)",
        n_unknown,
        "lines",
        unknown,
    )
    user = np.concatenate(parts_u) if parts_u else np.zeros(0, np.int32)
    song = np.concatenate(parts_s) if parts_s else np.zeros(0, np.int32)
    count = np.concatenate(parts_c) if parts_c else np.zeros(0, np.int32)
    del parts_u, parts_s, parts_c
    if len(user) == 0:
        raise DataError(f"{path} has no valid triplets; is it MSD's train_triplets.txt?")
    # canonical codes: ids sorted, unused ones removed, so rows sort as (user, song) ids
    user, users = _sorted_codes(user, np.array(list(user_ids), dtype=object))
    song, songs = _sorted_codes(song, known_songs.to_numpy(dtype=object))
    user, song, count, n_dup = _merge_pairs(user, song, count, len(songs))
    log.drop(stage, "repeated (user, song) line, merged (counts summed)", n_dup, "lines")
    log.keep(stage, triplets=len(user), users=len(users), songs=len(songs))
    return Triplets(user, song, count, users, songs)


def _count_with_examples(mask: np.ndarray, batch: pa.RecordBatch, sink: list[str]) -> int:
    """How many rows ``mask`` marks; the first few go to ``sink`` as text lines."""
    n = int(mask.sum())
    if n and len(sink) < 3:
        for i in np.flatnonzero(mask)[: 3 - len(sink)]:
            sink.append("\t".join(str(batch.column(j)[int(i)].as_py()) for j in range(3)))
    return n


def _sorted_codes(codes: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Re-code ``codes`` (into ``ids``) into the sorted list of the ids actually used."""
    used = np.flatnonzero(np.bincount(codes, minlength=len(ids)) > 0)
    order = used[np.argsort(ids[used], kind="stable")]
    rank = np.full(len(ids), -1, dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return rank[codes], ids[order]


def _merge_pairs(user, song, count, n_songs):
    key = user.astype(np.int64) * n_songs + song
    if len(key) < 2 or bool(np.all(key[1:] > key[:-1])):
        return user, song, count, 0
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(first)
    counts = np.add.reduceat(count[order].astype(np.int64), starts)
    order = order[starts]
    del key
    n_dup = len(first) - len(starts)
    return (
        user[order],
        song[order],
        np.minimum(counts, np.iinfo(np.int32).max).astype(np.int32),
        n_dup,
    )


def _categorical(codes: np.ndarray, ids: np.ndarray) -> pd.Categorical:
    """Codes into sorted ``ids`` as a categorical (what the source format stores)."""
    return pd.Categorical.from_codes(codes, categories=pd.Index(ids.astype(str), dtype=str))


# --------------------------------------------------------------------------- audio / embeddings


def song_audio(
    audio_dir: Path, tracks: pd.DataFrame, log: PrepLog, *, progress: bool = True
) -> dict[str, Path]:
    """One preview per song: files named by track id (or song id), searched recursively.

    A song with several tracks takes the file of its first track (by track id).
    """
    if progress:
        print(f"  scanning {audio_dir} for previews …", flush=True)
    files, clashes = list_audio(audio_dir)
    log.drop(
        "audio", "several files share one id (none used)", len(clashes), "ids", sorted(clashes)
    )
    song_of = dict(zip(tracks["track_id"], tracks["song_id"], strict=True))
    known_songs = set(tracks["song_id"])
    out: dict[str, Path] = {}
    orphans = []
    for stem in sorted(files):
        song = song_of.get(stem) or (stem if stem in known_songs else None)
        if song is None:
            orphans.append(stem)
        elif song not in out:
            out[song] = files[stem]
    log.drop("audio", "file not named by a known track or song id", len(orphans), "files", orphans)
    log.keep("audio", files=len(files), songs_with_audio=len(out))
    return out


def song_embeddings(folder: Path, tracks: pd.DataFrame, log: PrepLog) -> Embeddings:
    """Precomputed embeddings keyed by track or song id → one row per song (first track)."""
    emb = read_embeddings(folder)
    song_of = dict(zip(tracks["track_id"], tracks["song_id"], strict=True))
    known_songs = set(tracks["song_id"])
    rows: dict[str, int] = {}
    orphans = []
    for i, x in sorted(enumerate(emb.ids), key=lambda t: t[1]):
        song = song_of.get(x) or (x if x in known_songs else None)
        if song is None:
            orphans.append(x)
        elif song not in rows:
            rows[song] = i
    log.drop("embeddings", "id is not a known track or song id", len(orphans), "rows", orphans)
    ids = sorted(rows)
    log.keep("embeddings", rows=len(emb.ids), songs=len(ids))
    return Embeddings(ids, emb.raw[[rows[s] for s in ids]], emb.encoder, emb.encoder_config)


# --------------------------------------------------------------------------- the adapter


def msd_to_source(
    files: MsdFiles,
    out_dir: str | os.PathLike,
    cfg: MsdConfig | None = None,
    *,
    progress: bool = True,
    log: PrepLog | None = None,
) -> PrepLog:
    """Convert the MSD files into a source folder at ``out_dir``; returns the log.

    Stages (each timed and logged): tracks, years, triplets, audio/embeddings, tags,
    songs, write. With ``cfg.require_audio`` the interactions of songs without a
    preview or embedding are dropped here; otherwise ``prepare`` drops them later.
    ``log``: record into this one (e.g. a benchmark's) instead of a new log.
    """
    cfg = cfg or MsdConfig()
    files.check()
    tag_map = load_tag_map(cfg.tag_map)
    min_weight = tag_map.min_weight if cfg.min_tag_weight is None else cfg.min_tag_weight
    log = log if log is not None else PrepLog()
    with log.stage("tracks", progress=progress):
        tracks = parse_unique_tracks(files.tracks, log)
        first = tracks.drop_duplicates("song_id")
        known_songs = pd.Index(first["song_id"].to_numpy(), dtype=object)
    years = None
    if files.years is not None:
        with log.stage("years", progress=progress):
            years = parse_years(files.years, log)
    with log.stage("triplets", progress=progress):
        trip = stream_triplets(
            files.triplets, known_songs, log, block_bytes=cfg.block_bytes, progress=progress
        )
    audio: dict[str, Path] = {}
    emb = None
    with log.stage("audio", progress=progress):
        if files.audio_dir is not None:
            audio = song_audio(Path(files.audio_dir), tracks, log, progress=progress)
        if files.embeddings_dir is not None:
            emb = song_embeddings(Path(files.embeddings_dir), tracks, log)
    played = set(trip.songs)
    if cfg.require_audio:
        with log.stage("require_audio", progress=progress):
            has = set(audio) | (set(emb.ids) if emb is not None else set())
            ok_song = np.array([s in has for s in trip.songs], dtype=bool)
            keep = ok_song[trip.song]
            log.drop(
                "require_audio",
                f"song has no preview or embedding ({int((~ok_song).sum()):,} songs)",
                int((~keep).sum()),
                "triplets",
            )
            if not keep.any():
                raise DataError(
                    "no played song has a preview or an embedding: check that the audio files "
                    "are named by MSD track id (TR…) or song id (SO…)"
                )
            trip.user, trip.song, trip.count = trip.user[keep], trip.song[keep], trip.count[keep]
            played = set(trip.songs[ok_song])
            log.keep(
                "require_audio",
                triplets=len(trip.user),
                users=len(np.unique(trip.user)),
                songs=len(played),
            )
    with log.stage("tags", progress=progress):
        song_tags = read_lastfm_tags(files.tags_db, tag_map, tracks, log, min_weight=min_weight)
        song_tags = song_tags[song_tags["song_id"].isin(played)]
    with log.stage("songs", progress=progress):
        songs = first[first["song_id"].isin(played)][["song_id", "title", "artist"]]
        if years is not None:
            year_of = years.merge(tracks[["track_id", "song_id"]], on="track_id")
            year_of = year_of.groupby("song_id")["year"].min()  # earliest release of any track
            songs = songs.assign(year=songs["song_id"].map(year_of))
        else:
            songs = songs.assign(year=pd.NA)
        log.keep(
            "songs",
            songs=len(songs),
            with_year=int(songs["year"].notna().sum()),
            with_tags=song_tags["song_id"].nunique(),
            with_audio=sum(1 for s in played if s in audio),
            with_embeddings=sum(1 for s in (emb.ids if emb else []) if s in played),
        )
        audio = {s: p for s, p in audio.items() if s in played}
        if emb is not None:
            rows = [i for i, s in enumerate(emb.ids) if s in played]
            emb = Embeddings(
                [emb.ids[i] for i in rows], emb.raw[rows], emb.encoder, emb.encoder_config
            )
    with log.stage("write", progress=progress):
        interactions = pd.DataFrame(
            {
                "user_id": _categorical(trip.user, trip.users),
                "song_id": _categorical(trip.song, trip.songs),
                "count": trip.count,
            }
        )
        del trip
        if not audio and (emb is None or not emb.ids):
            raise DataError(
                "no played song has a preview or an embedding: check that the audio files are "
                "named by MSD track id (TR…) or song id (SO…)"
            )
        write_source(
            out_dir,
            interactions=interactions,
            songs=songs,
            song_tags=song_tags,
            audio=audio or None,
            embeddings=emb if emb is not None and emb.ids else None,
            name="msd",
            meta={
                "adapter": "apron_core.sources.msd",
                "files": {k: str(v) if v else None for k, v in files.__dict__.items()},
                "tag_map": tag_map.path,
                "min_tag_weight": min_weight,
            },
            link=cfg.link,
        )
    _store_log(out_dir, log)
    return log


def _store_log(out_dir: str | os.PathLike, log: PrepLog) -> None:
    p = SourcePaths(out_dir).meta
    meta = json.loads(p.read_text())
    meta["report"] = log.to_dict()
    p.write_text(json.dumps(meta, indent=1, default=str) + "\n")
