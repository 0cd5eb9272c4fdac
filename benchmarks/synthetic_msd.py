"""Write MSD-format files of any size (benchmarks and tests of the MSD adapter).

Real formats, made-up content: ``train_triplets.txt`` (grouped by user, 40-hex user
ids, Zipf-like song popularity, heavy-tailed history lengths, seeded),
``unique_tracks.txt`` (some songs have two tracks; some listed songs are never played),
``tracks_per_year.txt`` and ``lastfm_tags.db`` (every APRON tag spelled the ways people
spell it on Last.fm, plus junk tags and weights across 0–100). The triplets are written
in chunks of users, so the full 48 M-line file needs little memory.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from tqdm.auto import tqdm

from apron_core.errors import ConfigError
from apron_core.sources.lastfm_tags import load_tag_map
from apron_core.tags import ERAS, TAG_NAMES

_ALPHABET = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8)


@dataclass(frozen=True)
class SyntheticMsdConfig:
    n_lines: int = 48_373_586  # the real train_triplets.txt
    n_users: int = 1_019_318
    n_songs: int = 384_546  # songs that are played
    n_unplayed_songs: int = 20_000  # listed in unique_tracks.txt, never played
    second_track_share: float = 0.05  # songs with two tracks
    # popularity of rank r: a Zipf head (∝ 1/(r+10), share head_share, the hits) plus a
    # body ∝ (r + body_offset)^-body_exponent; calibrated so that, as in the real file,
    # ~41 k songs have >= 200 listeners and hold ~3/4 of the plays
    head_share: float = 0.1
    body_offset: float = 10_000.0
    body_exponent: float = 1.8
    history_median: float = 27.0  # songs per user (lognormal above the minimum, mean fixed)
    min_user_songs: int = 10  # the Taste Profile subset keeps users with >= 10 songs
    tagged_share: float = 0.5  # tracks with Last.fm tags (505 k of 1 M in the real set)
    tags_per_track: int = 17  # 8.6 M rows in the real lastfm_tags.db
    junk_tags: int = 200_000  # the real db has 522 k distinct tag strings
    seed: int = 0
    chunk_users: int = 50_000

    def __post_init__(self) -> None:
        for name in ("n_lines", "n_users", "n_songs", "min_user_songs", "chunk_users"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 1")
        if self.n_lines < self.n_users * self.min_user_songs:
            raise ConfigError(
                f"n_lines={self.n_lines} < n_users * min_user_songs = "
                f"{self.n_users * self.min_user_songs}; lower n_users"
            )
        if self.min_user_songs > self.n_songs:
            raise ConfigError(f"min_user_songs={self.min_user_songs} > n_songs={self.n_songs}")


def _ids(rng: np.random.Generator, prefix: bytes, n: int) -> np.ndarray:
    """``n`` unique MSD-looking ids (prefix + 16 of A-Z0-9): 9 random chars + base-36 index."""
    body = _ALPHABET[rng.integers(0, 36, size=(n, 16))]
    idx = np.arange(n, dtype=np.int64)
    for k in range(7):
        body[:, 15 - k] = _ALPHABET[idx % 36]
        idx //= 36
    raw = np.concatenate([np.tile(np.frombuffer(prefix, np.uint8), (n, 1)), body], axis=1)
    return raw.view(f"S{raw.shape[1]}").ravel().astype(str)


def _user_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    words = rng.integers(0, 2**32, size=(n, 5), dtype=np.uint64)
    ids = np.array(["".join(f"{int(w):08x}" for w in row) for row in words])
    ids[:] = [f"{i:08x}" + s[8:] for i, s in enumerate(ids)]  # unique by construction
    return ids


def tag_spellings() -> dict[str, list[str]]:
    """APRON tag → Last.fm spellings the shipped map accepts, in varied case/separators."""
    tag_map = load_tag_map()
    out: dict[str, list[str]] = {t: [] for t in TAG_NAMES}
    for spelling, targets in tag_map.spellings.items():
        if len(targets) == 1:
            out[targets[0]].append(spelling)
    for era in ERAS:
        out[era] += [era, f"{era[2:]}", f"{era[:-1]}'s"]
    out["hip-hop"] += ["Hip-Hop", "HIP HOP", "hip_hop"]
    out["r&b"] += ["R&B", "RnB"]
    out["drum and bass"] += ["Drum 'n' Bass", "drum&bass"]
    return out


def write_synthetic_msd(
    folder: str | os.PathLike, cfg: SyntheticMsdConfig | None = None, *, progress: bool = True
) -> dict:
    """Write the four MSD files into ``folder``; returns counts and paths."""
    cfg = cfg or SyntheticMsdConfig()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    n_all = cfg.n_songs + cfg.n_unplayed_songs
    songs = _ids(rng, b"SO", n_all)
    n_second = int(cfg.second_track_share * n_all)
    tracks = _ids(rng, b"TR", n_all + n_second)
    track_song = np.concatenate([np.arange(n_all), rng.choice(n_all, n_second, replace=False)])
    order = rng.permutation(len(tracks))
    with open(out / "unique_tracks.txt", "w") as f:
        for i in order:
            s = track_song[i]
            f.write(f"{tracks[i]}<SEP>{songs[s]}<SEP>Artist {s % 9973}<SEP>Song {s}\n")
    with open(out / "tracks_per_year.txt", "w") as f:
        years = rng.integers(1950, 2011, size=len(tracks))
        for i in np.flatnonzero(rng.random(len(tracks)) < 0.5):
            s = track_song[i]
            f.write(f"{years[i]}<SEP>{tracks[i]}<SEP>Artist {s % 9973}<SEP>Song {s}\n")
    n_lines = _write_triplets(out / "train_triplets.txt", songs[: cfg.n_songs], cfg, rng, progress)
    n_tag_rows = _write_tags_db(out / "lastfm_tags.db", tracks, cfg, rng)
    return {
        "folder": str(out),
        "lines": n_lines,
        "tracks": len(tracks),
        "songs": n_all,
        "tag_rows": n_tag_rows,
    }


def _write_triplets(
    path: Path, songs: np.ndarray, cfg: SyntheticMsdConfig, rng: np.random.Generator, progress
) -> int:
    n_s = len(songs)
    rank = np.arange(n_s, dtype=np.float64)
    head = 1.0 / (rank + 10.0)
    body = (rank + cfg.body_offset) ** -cfg.body_exponent
    pop = cfg.head_share * head / head.sum() + (1 - cfg.head_share) * body / body.sum()
    cdf = np.cumsum(pop / pop.sum())
    song_of_rank = rng.permutation(n_s)  # popularity does not follow id order
    mean_extra = cfg.n_lines / cfg.n_users - cfg.min_user_songs
    median_extra = max(1.0, min(cfg.history_median - cfg.min_user_songs, 0.9 * mean_extra))
    sigma = np.sqrt(2 * np.log(mean_extra / median_extra))  # lognormal: mean/median = e^(σ²/2)
    tail = rng.lognormal(np.log(median_extra), sigma, cfg.n_users)  # heavy-tailed extra songs
    tail *= (cfg.n_lines - cfg.n_users * cfg.min_user_songs) / max(tail.sum(), 1e-9)
    lengths = cfg.min_user_songs + np.floor(tail)
    lengths = np.minimum(lengths, max(cfg.min_user_songs, n_s // 2)).astype(np.int64)
    users = _user_ids(rng, cfg.n_users)
    options = pa_csv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    written = 0
    bar = tqdm(total=cfg.n_users, unit="user", desc="synthetic triplets", disable=not progress)
    with open(path, "wb") as f:
        for start in range(0, cfg.n_users, cfg.chunk_users):
            stop = min(start + cfg.chunk_users, cfg.n_users)
            want = lengths[start:stop]
            draws = (want * 1.6 + 10).astype(np.int64)  # oversample, then drop repeats
            owner = np.repeat(np.arange(start, stop), draws)
            ranks = np.minimum(np.searchsorted(cdf, rng.random(len(owner))), n_s - 1)
            key = np.unique(owner * n_s + song_of_rank[ranks])  # sorted by user, no repeats
            u, s = key // n_s, key % n_s
            first = np.searchsorted(u, np.arange(start, stop))
            pos = np.arange(len(u)) - first[u - start]
            keep = pos < want[u - start]
            u, s = u[keep], s[keep]
            shuffle = np.lexsort((rng.random(len(u)), u))  # songs in no order within a user
            u, s = u[shuffle], s[shuffle]
            counts = np.minimum(rng.geometric(0.4, len(u)) + (rng.random(len(u)) < 0.01) * 50, 9999)
            table = pa.table(
                {"u": pa.array(users[u]), "s": pa.array(songs[s]), "c": pa.array(counts)}
            )
            pa_csv.write_csv(table, f, write_options=options)
            written += len(u)
            bar.update(stop - start)
    bar.close()
    return written


def _write_tags_db(
    path: Path, tracks: np.ndarray, cfg: SyntheticMsdConfig, rng: np.random.Generator
) -> int:
    spellings = tag_spellings()
    vocab = [s for t in TAG_NAMES for s in spellings[t]]
    vocab += ["female vocalists", "seen live", "Favorites", "awesome"]
    vocab += [f"junk tag {i}" for i in range(cfg.junk_tags)]
    tagged = np.flatnonzero(rng.random(len(tracks)) < cfg.tagged_share)
    n_rows = len(tagged) * cfg.tags_per_track
    tid = np.repeat(np.arange(len(tagged)), cfg.tags_per_track) + 1  # rowids start at 1
    # half the tags from the mapped vocabulary (rotating so every APRON tag is used)
    tag = rng.integers(0, len(vocab), size=n_rows)
    mapped = rng.random(n_rows) < 0.5
    n_mapped = sum(len(spellings[t]) for t in TAG_NAMES)
    tag[mapped] = rng.integers(0, n_mapped, size=int(mapped.sum()))
    tag[: min(n_rows, n_mapped)] = np.arange(min(n_rows, n_mapped))
    val = np.clip(np.round(100 * rng.beta(0.6, 1.5, size=n_rows)), 0, 100)
    if path.exists():
        path.unlink()
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE tids (tid TEXT)")
    con.execute("CREATE TABLE tags (tag TEXT)")
    con.execute("CREATE TABLE tid_tag (tid INT, tag INT, val FLOAT)")
    con.executemany("INSERT INTO tids VALUES (?)", ((str(t),) for t in tracks[tagged]))
    con.executemany("INSERT INTO tags VALUES (?)", ((t,) for t in vocab))
    con.executemany(
        "INSERT INTO tid_tag VALUES (?, ?, ?)",
        zip(tid.tolist(), (tag + 1).tolist(), val.tolist(), strict=True),
    )
    con.execute("CREATE INDEX idx_tid_tag_tid ON tid_tag(tid)")
    con.execute("CREATE INDEX idx_tid_tag_tag ON tid_tag(tag)")
    con.commit()
    con.close()
    return n_rows
