"""MSD adapter: parsers on hand-written lines in the real formats, the Last.fm tag map,
the adapter end to end on a small fixture, and its CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apron_core.audio import write_audio
from apron_core.errors import ConfigError, DataError
from apron_core.sources.generic import read_source
from apron_core.sources.lastfm_tags import (
    DEFAULT_TAG_MAP,
    decade_of,
    load_tag_map,
    normalize_tag,
    parse_tag_map,
)
from apron_core.sources.msd import (
    MsdConfig,
    MsdFiles,
    msd_to_source,
    parse_unique_tracks,
    parse_years,
    read_lastfm_tags,
    song_audio,
    stream_triplets,
)
from apron_core.sources.report import PrepLog
from apron_core.tags import TAG_NAMES
from training import prepare_msd as cli

U1 = "b80344d063b5ccb3212f76538f3d9e43d87dca9e"
U2 = "85c1f87fea955d09b4bec2e36aee110927aab3a3"
U3 = "969cc6fb74e076a68e36a04409cb9d3765757508"
S = {  # song ids in MSD's shape
    "a": "SOAKIMP12A8C130995",
    "b": "SOAPDEY12A81C210A9",
    "c": "SOBBMDR12A8C13253B",
    "d": "SOBFNSP12AF72A0E22",
}
T = {  # track ids; song d has two tracks
    "a": "TRAAAAW128F429D538",
    "b": "TRAAABD128F429CF47",
    "c": "TRAAADZ128F9348C2E",
    "d": "TRAAAEF128F4273421",
    "d2": "TRAAAFD128F92F423A",
}

TRACK_LINES = [
    f"{T['a']}<SEP>{S['a']}<SEP>Casual<SEP>I Didn't Mean To",
    f"{T['b']}<SEP>{S['b']}<SEP>The Box Tops<SEP>Soul Deep",
    f"{T['c']}<SEP>{S['c']}<SEP>Sonora Santanera<SEP>Amor De Cabaret <SEP> live",  # <SEP> in title
    f"{T['d']}<SEP>{S['d']}<SEP>Adam Ant<SEP>Something Girls",
    f"{T['d2']}<SEP>{S['d']}<SEP>Adam Ant<SEP>Something Girls (remaster)",
    f"{T['a']}<SEP>{S['b']}<SEP>Dup<SEP>repeated track id",
    "TRBROKEN<SEP>SOBROKEN<SEP>x<SEP>y",  # ids of the wrong shape
    f"{T['b']}<SEP>only three<SEP>fields",
]


def write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    return path


# --------------------------------------------------------------------------- unique_tracks / years


def test_unique_tracks_keeps_valid_lines_and_reports_the_rest(tmp_path):
    log = PrepLog()
    df = parse_unique_tracks(write(tmp_path / "t.txt", TRACK_LINES), log)
    assert df["track_id"].tolist() == [T["a"], T["b"], T["c"], T["d"], T["d2"]]
    assert df.loc[2, "title"] == "Amor De Cabaret <SEP> live"  # only the first 3 separators split
    reasons = {d.reason.split(" (")[0]: d.count for d in log.drops}
    assert reasons == {"malformed line": 2, "repeated track id": 1}
    assert log.kept["tracks"] == {"tracks": 5, "songs": 4}


def test_unique_tracks_without_valid_lines_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no valid track lines"):
        parse_unique_tracks(write(tmp_path / "t.txt", ["hello", "world"]), PrepLog())


def test_years_file_skips_malformed_lines(tmp_path):
    lines = [
        f"2003<SEP>{T['a']}<SEP>Casual<SEP>x",
        f"19xx<SEP>{T['b']}<SEP>a<SEP>b",
        f"0<SEP>{T['c']}<SEP>a<SEP>b",
    ]
    log = PrepLog()
    df = parse_years(write(tmp_path / "y.txt", lines, newline="\r\n"), log)
    assert df.to_dict("records") == [{"track_id": T["a"], "year": 2003}]
    assert log.drops[0].count == 2


# --------------------------------------------------------------------------- triplets

TRIPLET_LINES = [
    f"{U1}\t{S['a']}\t1",
    f"{U1}\t{S['b']}\t3",
    f"{U1}\t{S['a']}\t2",  # duplicate pair: merged, counts summed (1 + 2)
    f"{U2}\t{S['c']}\t5",
    f"{U2}\t{S['d']}\t0",  # count 0
    f"{U2}\t{S['d']}\tx",  # not a number
    f"{U2}\t{S['d']}\t1.5",  # not an integer
    f"{U2}\tSOUNKNOWN0000000000\t4",  # song not in unique_tracks
    "nothexuser\t" + S["a"] + "\t1",  # user id not 40 hex
    f"{U3}\t{S['a']}",  # two fields
    f"{U3}\t{S['a']}\t1\textra",  # four fields
    "",
    f"{U3}\t{S['d']}\t7",
]


@pytest.mark.parametrize("block_bytes", [1 << 20, 256])  # one block, and many blocks
def test_triplets_stream_parses_merges_and_reports(tmp_path, block_bytes):
    known = pd.Index(list(S.values()), dtype=object)
    log = PrepLog()
    path = write(tmp_path / "train_triplets.txt", TRIPLET_LINES, newline="\r\n")
    trip = stream_triplets(path, known, log, block_bytes=block_bytes, progress=False)
    rows = {
        (trip.users[u], trip.songs[s]): int(c)
        for u, s, c in zip(trip.user, trip.song, trip.count, strict=True)
    }
    assert rows == {
        (U1, S["a"]): 3,
        (U1, S["b"]): 3,
        (U2, S["c"]): 5,
        (U3, S["d"]): 7,
    }
    assert list(trip.users) == sorted(trip.users) and list(trip.songs) == sorted(trip.songs)
    key = trip.user.astype(np.int64) * len(trip.songs) + trip.song
    assert np.all(np.diff(key) > 0)  # sorted, one row per pair
    drops = {d.reason.split(" (")[0]: d.count for d in log.drops}
    assert drops == {
        "malformed line": 2,
        "user id is not 40 hex digits": 1,
        "play count is not an integer >= 1": 3,
        "song id not in unique_tracks.txt": 1,
        "repeated": 1,
    }
    unknown = next(d for d in log.drops if d.reason.startswith("song id"))
    assert unknown.examples == ["SOUNKNOWN0000000000"]
    bad_count = next(d for d in log.drops if d.reason.startswith("play count"))
    assert len(bad_count.examples) == 3 and all(U2 in e for e in bad_count.examples)


def test_triplets_with_nothing_valid_fail_clearly(tmp_path):
    path = write(tmp_path / "t.txt", [f"{U1}\tSONOPE\t1"])
    with pytest.raises(DataError, match="no valid triplets"):
        stream_triplets(path, pd.Index([S["a"]]), PrepLog(), progress=False)


# --------------------------------------------------------------------------- Last.fm tags


def make_tags_db(path: Path, rows: list[tuple[str, str, float]]) -> Path:
    """A database in lastfm_tags.db's schema (tables tids, tags, tid_tag; rowid keys)."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE tids (tid TEXT)")
    con.execute("CREATE TABLE tags (tag TEXT)")
    con.execute("CREATE TABLE tid_tag (tid INT, tag INT, val FLOAT)")
    tids = sorted({r[0] for r in rows})
    tags = sorted({r[1] for r in rows})
    con.executemany("INSERT INTO tids VALUES (?)", [(t,) for t in tids])
    con.executemany("INSERT INTO tags VALUES (?)", [(t,) for t in tags])
    con.executemany(
        "INSERT INTO tid_tag VALUES (?, ?, ?)",
        [(tids.index(t) + 1, tags.index(g) + 1, v) for t, g, v in rows],
    )
    con.commit()
    con.close()
    return path


TAG_ROWS = [
    (T["a"], "Hip-Hop", 100.0),
    (T["a"], "hip hop", 40.0),  # same APRON tag: the larger weight wins
    (T["a"], "80's", 55.0),
    (T["a"], "female vocalists", 100.0),  # ignored on purpose
    (T["a"], "Drum 'n' Bass", 5.0),  # below min_weight
    (T["a"], "awesome tune", 90.0),  # unmapped
    (T["b"], "indie rock", 60.0),  # two APRON tags
    (T["b"], "ROCK", 0.0),  # weight 0
    (T["d"], "R&B", 30.0),
    (T["d2"], "rnb", 70.0),  # the song's other track: max over tracks
    (T["d2"], "1985", 20.0),  # year tag → decade
    ("TRZZZZZ128F0000000", "jazz", 100.0),  # track not in unique_tracks
    (T["c"], "Lo_Fi", 12.0),
]


def test_lastfm_tags_mapped_to_song_level_weights(tmp_path):
    log = PrepLog()
    tracks = parse_unique_tracks(write(tmp_path / "t.txt", TRACK_LINES), PrepLog())
    db = make_tags_db(tmp_path / "lastfm_tags.db", TAG_ROWS)
    out = read_lastfm_tags(db, load_tag_map(), tracks, log, min_weight=10)
    got = {(r.song_id, r.tag): round(r.weight, 3) for r in out.itertuples()}
    assert got == {
        (S["a"], "hip-hop"): 1.0,
        (S["a"], "1980s"): 0.55,
        (S["b"], "indie"): 0.6,
        (S["b"], "rock"): 0.6,
        (S["c"], "lo-fi"): 0.12,
        (S["d"], "r&b"): 0.7,
        (S["d"], "1980s"): 0.2,
    }
    drops = {d.reason: d.count for d in log.drops}
    assert drops["tag string listed under 'ignore' in the map"] == 1
    assert drops["tag string not in the map"] == 1
    assert drops["weight below min_weight=10 (or 0)"] == 2
    assert drops["track not in unique_tracks.txt"] == 1
    assert any("awesome tune" in n for n in log.notes)


def test_tags_db_with_the_wrong_schema_is_named(tmp_path):
    con = sqlite3.connect(tmp_path / "x.db")
    con.execute("CREATE TABLE tags (tag TEXT)")
    con.close()
    with pytest.raises(DataError, match=r"lacks table\(s\) \['tid_tag', 'tids'\]"):
        read_lastfm_tags(
            tmp_path / "x.db", load_tag_map(), pd.DataFrame(), PrepLog(), min_weight=10
        )
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(DataError, match="not a readable SQLite database"):
        read_lastfm_tags(
            tmp_path / "junk.db", load_tag_map(), pd.DataFrame(), PrepLog(), min_weight=10
        )


# --------------------------------------------------------------------------- tag map


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("Hip-Hop", "hip hop"),
        ("hip_hop", "hip hop"),
        ("  HIP   HOP ", "hip hop"),
        ("R&B", "r and b"),
        ("Drum 'n' Bass", "drum and bass"),
        ("rock'n'roll", "rocknroll"),
        ("80's", "80s"),
        ("r.n.b", "rnb"),
        ("Lo-Fi", "lo fi"),
    ],
)
def test_normalize_tag(raw, norm):
    assert normalize_tag(raw) == norm


@pytest.mark.parametrize(
    ("spelling", "era"),
    [
        ("80s", "1980s"),
        ("80's", "1980s"),
        ("'80s", "1980s"),
        ("1980s", "1980s"),
        ("1980's", "1980s"),
        ("the 80s", "1980s"),
        ("eighties", "1980s"),
        ("50s", "1950s"),
        ("00s", "2000s"),
        ("2010s", "2010s"),
        ("1985", "1980s"),
        ("2020s", "2020s"),
        ("10s", None),  # 1910s or 2010s: not mapped
        ("20s", None),
        ("1940s", None),  # not an APRON era
        ("1890", None),
    ],
)
def test_decade_spellings(spelling, era):
    tag_map = load_tag_map()
    assert tag_map.lookup(spelling) == ((era,) if era else ())


def test_decade_rule_respects_years_flag():
    assert decade_of("1985", years=False) is None
    assert decade_of("1985") == "1980s"


def test_shipped_map_is_valid_and_covers_every_tag():
    tag_map = load_tag_map(DEFAULT_TAG_MAP)
    covered = {t for targets in tag_map.spellings.values() for t in targets}
    assert covered | {"2020s"} == set(TAG_NAMES)  # 2020s comes from the decade rule
    assert tag_map.lookup("female vocalists") == () and tag_map.is_ignored("Female Vocalists")
    assert 0 < tag_map.min_weight <= 100


def base_map(**changes) -> dict:
    raw = {"tags": {"rock": ["rock", "Hard Rock"], "hip-hop": ["hip hop"]}, "min_weight": 10}
    raw.update(changes)
    return raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (base_map(tags={"rok": ["rock"]}), "unknown target tag 'rok'"),
        (base_map(tags={"Hip Hop": ["hiphop"]}), "did you mean 'hip-hop'"),
        (base_map(tags={"rock": "rock"}), "must be a list of strings"),
        (base_map(tags={"rock": ["--"]}), "empty spelling"),
        (base_map(ignore=["hard rock"]), "both ignored and mapped"),
        (base_map(min_weight=150), "min_weight=150 must be between 0 and 100"),
        (base_map(min_weight="ten"), "must be a number"),
        (base_map(years_to_decades="yes"), "must be true or false"),
        (base_map(colour="red"), "unknown key"),
        (base_map(tags={}), "'tags' must be an object"),
        ([], "must be a JSON object"),
    ],
)
def test_tag_map_validation_names_the_problem(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_tag_map(raw, source="test.json")


def test_tag_map_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_tag_map(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{ not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_tag_map(tmp_path / "bad.json")
    (tmp_path / "ok.json").write_text(json.dumps(base_map()))
    assert load_tag_map(tmp_path / "ok.json").lookup("HARD-ROCK") == ("rock",)


# --------------------------------------------------------------------------- adapter end to end


def tone(freq: float, seconds: float = 1.5, sr: int = 22050) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def msd_dir(tmp_path) -> Path:
    d = tmp_path / "msd"
    d.mkdir()
    write(d / "unique_tracks.txt", TRACK_LINES)
    write(d / "train_triplets.txt", TRIPLET_LINES)
    write(
        d / "tracks_per_year.txt",
        [f"2001<SEP>{T['d']}<SEP>a<SEP>b", f"1984<SEP>{T['d2']}<SEP>a<SEP>b"],
    )
    make_tags_db(d / "lastfm_tags.db", TAG_ROWS)
    audio = d / "audio"
    (audio / "A" / "A").mkdir(parents=True)
    write_audio(audio / "A" / "A" / f"{T['a']}.wav", tone(220), sr=22050)  # nested, MSD-style
    write_audio(audio / f"{T['d2']}.ogg", tone(330), sr=22050)  # second track of song d
    write_audio(audio / f"{S['c']}.wav", tone(440), sr=22050)  # named by song id
    write_audio(audio / "TRNOTINTHELIST0000.wav", tone(550), sr=22050)  # unknown id
    return d


def test_adapter_writes_a_valid_source_and_reports_every_drop(msd_dir, tmp_path):
    log = msd_to_source(MsdFiles.in_folder(msd_dir), tmp_path / "src", MsdConfig(), progress=False)
    src = read_source(tmp_path / "src")
    assert set(src.audio) == {S["a"], S["c"], S["d"]}  # song b has no preview
    assert src.audio[S["d"]].name == f"{S['d']}.ogg"
    songs = src.songs.set_index("song_id")
    assert songs.loc[S["d"], "year"] == 1984  # earliest of its tracks
    assert pd.isna(songs.loc[S["a"], "year"])  # unknown
    assert songs.loc[S["b"], "title"] == "Soul Deep"
    assert len(src.interactions) == 4
    assert set(src.song_tags["tag"]) == {"hip-hop", "1980s", "indie", "rock", "lo-fi", "r&b"}
    stages = {d.stage for d in log.drops}
    assert {"tracks", "triplets", "lastfm_tags", "audio"} <= stages
    meta = json.loads((tmp_path / "src" / "source.json").read_text())
    assert meta["report"]["drops"] and meta["report"]["seconds"]["triplets"] >= 0
    assert "triplets" in log.table()


def test_require_audio_drops_songs_without_previews(msd_dir, tmp_path):
    log = msd_to_source(
        MsdFiles.in_folder(msd_dir), tmp_path / "src", MsdConfig(require_audio=True), progress=False
    )
    src = read_source(tmp_path / "src")
    assert set(src.interactions["song_id"].cat.categories) == {S["a"], S["c"], S["d"]}
    drop = next(d for d in log.drops if d.stage == "require_audio")
    assert drop.count == 1 and "1 songs" in drop.reason  # U1's play of song b


def test_adapter_without_audio_or_embeddings_says_what_is_missing(msd_dir, tmp_path):
    files = MsdFiles(triplets=msd_dir / "train_triplets.txt", tracks=msd_dir / "unique_tracks.txt")
    with pytest.raises(DataError, match=r"lastfm_tags\.db"):
        msd_to_source(files, tmp_path / "src", progress=False)
    files = MsdFiles(files.triplets, files.tracks, tags_db=msd_dir / "lastfm_tags.db")
    with pytest.raises(DataError, match="needs audio"):
        msd_to_source(files, tmp_path / "src", progress=False)
    with pytest.raises(DataError, match="not found"):
        msd_to_source(
            MsdFiles(msd_dir / "nope.txt", files.tracks, tags_db=files.tags_db),
            tmp_path / "src",
            progress=False,
        )


def test_song_audio_prefers_the_first_track(tmp_path):
    tracks = pd.DataFrame(
        {"track_id": [T["d"], T["d2"]], "song_id": [S["d"], S["d"]], "artist": "", "title": ""}
    )
    for t in (T["d2"], T["d"]):
        write_audio(tmp_path / f"{t}.wav", tone(200), sr=22050)
    got = song_audio(tmp_path, tracks, PrepLog(), progress=False)
    assert got == {S["d"]: tmp_path / f"{T['d']}.wav"}


def test_msd_config_validation():
    with pytest.raises(ConfigError, match="min_tag_weight"):
        MsdConfig(min_tag_weight=101)
    with pytest.raises(ConfigError, match="link"):
        MsdConfig(link="hardlink")


# --------------------------------------------------------------------------- CLI


def test_cli_help_check_map_and_bad_input(capsys, tmp_path, msd_dir):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    assert "--min-lastfm-weight" in capsys.readouterr().out
    assert cli.main(["--check-tag-map", str(DEFAULT_TAG_MAP)]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(base_map(tags={"rok": ["rock"]})))
    assert cli.main(["--check-tag-map", str(bad)]) == 2
    assert "unknown target tag 'rok'" in capsys.readouterr().err
    assert cli.main(["--msd-dir", str(tmp_path / "nowhere")]) == 2
    assert "not found" in capsys.readouterr().err
    assert cli.main(["--triplets", str(msd_dir / "train_triplets.txt")]) == 2
    assert "--tracks" in capsys.readouterr().err
    assert cli.main(["--msd-dir", str(msd_dir), "--fallback", "2020s", "--quiet"]) == 2
    assert "TAG=OTHER" in capsys.readouterr().err


def test_cli_source_only(capsys, tmp_path, msd_dir):
    out = tmp_path / "src"
    code = cli.main(["--msd-dir", str(msd_dir), "--source", str(out), "--source-only", "--quiet"])
    assert code == 0
    assert read_source(out).meta["name"] == "msd"
    assert "dropped:" in capsys.readouterr().out
