"""The generic source format (with its optional truth, render specs and clip embeddings),
the prepare step's filter/split invariants, prototypes with fallbacks, and the one loader."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apron_core import data
from apron_core.dataset import load_dataset
from apron_core.errors import ConfigError, DataError
from apron_core.sources.clips import resolve_fallbacks
from apron_core.sources.generic import (
    Embeddings,
    SourcePaths,
    check_interactions,
    read_source,
    write_source,
)
from apron_core.sources.prepare import PrepareConfig, prepare
from apron_core.sources.prepared import PreparedPaths, read_meta
from apron_core.tags import TAG_NAMES
from training import prepare as prepare_cli

D = 261  # the librosa encoder's raw feature size
N_SONGS, N_USERS = 120, 360


def make_source_parts(seed: int = 0, *, tag_2020s: bool = False) -> dict:
    """Songs S000..S119 in 6 taste groups; every tag but 2020s carried by some song.

    Raw features hold the song number in column 0 (to check alignment) and its group
    in the rest; songs S115..S119 have no features.
    """
    rng = np.random.default_rng(seed)
    song_ids = [f"S{i:03d}" for i in range(N_SONGS)]
    group = np.arange(N_SONGS) % 6
    rows = []
    for u in range(N_USERS):
        liked = rng.choice(6, size=2, replace=False)
        pool = np.flatnonzero(np.isin(group, liked))
        n = int(rng.integers(12, 30))
        for j in rng.choice(pool, size=min(n, len(pool)), replace=False):
            rows.append((f"U{u:04d}", song_ids[j], int(rng.integers(1, 9))))
    inter = pd.DataFrame(rows, columns=["user_id", "song_id", "count"])
    tags = [t for t in TAG_NAMES if tag_2020s or t != "2020s"]
    tag_rows = [(song_ids[i % N_SONGS], t, 0.5 + 0.5 * rng.random()) for i, t in enumerate(tags)]
    tag_rows += [(song_ids[i], "rock", 0.05) for i in range(0, N_SONGS, 7)]  # weak tags
    tag_rows += [("S100", "2010s", 0.9), ("S101", "2010s", 0.8)]  # 2020s borrows these
    song_tags = pd.DataFrame(tag_rows, columns=["song_id", "tag", "weight"])
    song_tags = song_tags.drop_duplicates(["song_id", "tag"])
    songs = pd.DataFrame(
        {
            "song_id": song_ids,
            "title": [f"Title {i}" for i in range(N_SONGS)],
            "artist": [f"Artist {i % 17}" for i in range(N_SONGS)],
            "year": [1960 + i % 50 if i % 4 else None for i in range(N_SONGS)],
        }
    )
    raw = rng.normal(size=(N_SONGS, D)).astype(np.float32) + group[:, None]
    raw[:, 0] = np.arange(N_SONGS)
    keep = N_SONGS - 5
    emb = Embeddings(song_ids[:keep], raw[:keep], "librosa", {})
    return {"interactions": inter, "songs": songs, "song_tags": song_tags, "embeddings": emb}


SMALL = PrepareConfig(
    min_song_listeners=10,
    min_user_songs=10,
    n_heldout_users=40,
    split_seed=3,
    clip_s=1.0,
    min_tag_weight=0.1,
)


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("src") / "source"
    write_source(root, **make_source_parts(), name="tiny")
    return root


@pytest.fixture(scope="module")
def prepared(source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prep") / "prepared"
    prepare(source, out, SMALL, progress=False)
    return out


# --------------------------------------------------------------------------- the format


def test_source_round_trip(source):
    src = read_source(source)
    parts = make_source_parts()
    assert src.meta["name"] == "tiny" and src.meta["counts"]["songs"] == N_SONGS
    cats = src.interactions["user_id"].cat.categories
    assert list(cats) == sorted(cats)  # codes follow sorted ids
    assert src.interactions["count"].dtype == np.int32
    assert len(src.interactions) == len(parts["interactions"])
    assert src.embeddings.ids == parts["embeddings"].ids
    np.testing.assert_array_equal(src.embeddings.raw, parts["embeddings"].raw)
    assert src.songs["year"].isna().sum() == N_SONGS // 4  # None and 0 both mean unknown
    assert src.audio == {}


def test_audio_files_are_placed_by_song_id(tmp_path):
    from apron_core.audio import write_audio

    parts = make_source_parts()
    clip = (0.2 * np.sin(np.arange(22050) / 10)).astype(np.float32)
    files = {"S000": write_audio(tmp_path / "x" / "whatever.WAV", clip, sr=22050)}
    for link in ("symlink", "copy"):
        root = write_source(tmp_path / link, **parts, audio=files, link=link)
        src = read_source(root)
        assert set(src.audio) == {"S000"}
        assert src.audio["S000"].name == "S000.wav"
        assert src.audio["S000"].is_symlink() == (link == "symlink")


def test_embed_audio_output_is_accepted_as_embeddings(tmp_path):
    """A folder written by `training.embed_audio` (apron_core.embed_folder) works as is."""
    from apron_core.audio import write_audio
    from apron_core.embed_folder import embed_folder
    from apron_core.encoders import get_encoder
    from apron_core.sources.generic import read_embeddings

    t = np.arange(22050 * 2) / 22050
    for i, f0 in enumerate((220, 330, 440)):
        y = (0.3 * np.sin(2 * np.pi * f0 * t)).astype(np.float32)
        write_audio(tmp_path / "audio" / f"S{i:03d}.wav", y, sr=22050)
    embed_folder(get_encoder("librosa"), tmp_path / "audio", tmp_path / "emb", progress=False)
    emb = read_embeddings(tmp_path / "emb")
    assert emb.ids == ["S000", "S001", "S002"] and emb.raw.shape == (3, D)
    assert emb.encoder == "librosa" and emb.encoder_config["n_mels"] == 64
    parts = make_source_parts()
    write_source(tmp_path / "src", **{**parts, "embeddings": emb})
    assert read_source(tmp_path / "src").embeddings.ids == emb.ids


def test_duplicates_are_refused_or_merged(tmp_path):
    parts = make_source_parts()
    inter = parts["interactions"]
    doubled = pd.concat([inter, inter.iloc[:3]], ignore_index=True)
    with pytest.raises(DataError, match="repeat 3"):
        write_source(tmp_path / "a", **{**parts, "interactions": doubled})
    write_source(tmp_path / "b", **{**parts, "interactions": doubled}, merge_duplicates=True)
    got = read_source(tmp_path / "b").interactions
    assert len(got) == len(inter)
    first = inter.iloc[0]
    row = got[(got["user_id"] == first["user_id"]) & (got["song_id"] == first["song_id"])]
    assert int(row["count"].iloc[0]) == 2 * first["count"]


def _broken(what: str) -> dict:
    parts = make_source_parts()
    inter, songs, tags = parts["interactions"], parts["songs"], parts["song_tags"]
    if what == "unknown tag":
        parts["song_tags"] = pd.concat(
            [tags, pd.DataFrame([["S000", "vaporwave", 1.0]], columns=tags.columns)]
        )
    elif what == "weight":
        parts["song_tags"] = tags.assign(weight=tags["weight"] * 100)
    elif what == "unknown song":
        parts["interactions"] = pd.concat(
            [inter, pd.DataFrame([["U9", "S999", 1]], columns=inter.columns)]
        )
    elif what == "count":
        parts["interactions"] = inter.assign(count=0)
    elif what == "null user":
        parts["interactions"] = inter.assign(user_id=inter["user_id"].where(inter.index > 0))
    elif what == "repeated song":
        parts["songs"] = pd.concat([songs, songs.iloc[:1]])
    elif what == "no features":
        parts["embeddings"] = None
    elif what == "columns":
        parts["interactions"] = inter.rename(columns={"user_id": "user"})
    return parts


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("unknown tag", "'vaporwave'"),
        ("weight", r"outside \(0, 1\]"),
        ("unknown song", "missing from songs.parquet"),
        ("count", "not integers >= 1"),
        ("null user", "null id"),
        ("repeated song", "repeats song_id 'S000'"),
        ("no features", "audio files or precomputed embeddings"),
        ("columns", r"lack column\(s\) \['user_id'\]"),
    ],
)
def test_bad_sources_are_refused_with_the_reason(tmp_path, what, message):
    with pytest.raises(DataError, match=message):
        write_source(tmp_path / "s", **_broken(what))


def test_bad_embeddings_and_folders(tmp_path, source):
    with pytest.raises(DataError, match="one row of features per id"):
        Embeddings(["a", "b"], np.zeros((3, 4)), "librosa")
    with pytest.raises(DataError, match="NaN"):
        Embeddings(["a"], np.full((1, 4), np.nan), "librosa")
    with pytest.raises(DataError, match="not a source folder"):
        read_source(tmp_path)
    meta = json.loads(SourcePaths(source).meta.read_text())
    bad = tmp_path / "old"
    write_source(bad, **make_source_parts())
    SourcePaths(bad).meta.write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(DataError, match="version 99"):
        read_source(bad)


def test_categorical_codes_do_not_depend_on_row_order(rng):
    inter = make_source_parts()["interactions"]
    a = check_interactions(inter)
    b = check_interactions(inter.sample(frac=1.0, random_state=1))
    pd.testing.assert_frame_equal(a, b)
    sa = data.split_strong_generalization(a, n_heldout_users=30, seed=5)
    sb = data.split_strong_generalization(inter, n_heldout_users=30, seed=5)  # plain strings
    assert sa.unique_sid == sb.unique_sid and sa.test_users == sb.test_users
    pd.testing.assert_frame_equal(sa.test_te, sb.test_te)


def test_compact_split_writes_exactly_the_direct_split(tmp_path):
    """Stand-in ids (sources.split) give apron_core.data's split, file for file."""
    from apron_core.sources.split import split_and_write

    inter = make_source_parts()["interactions"]
    inter = inter.assign(  # ids of uneven length: lexical order differs from numeric
        user_id="user-" + inter["user_id"].str[1:].astype(int).astype(str),
        song_id="s" + inter["song_id"].str[1:].astype(int).astype(str),
    )
    args = {"n_heldout_users": 30, "seed": 5, "min_heldout_targets": 12}
    direct = data.split_strong_generalization(inter, **args)
    assert direct.dropped_val_users or direct.dropped_test_users  # the lists are translated too
    data.write_vae_cf(direct, tmp_path / "direct")
    written = split_and_write(check_interactions(inter), tmp_path / "compact", **args)
    for f in sorted(p.name for p in (tmp_path / "direct").iterdir()):
        assert (tmp_path / "compact" / f).read_bytes() == (tmp_path / "direct" / f).read_bytes(), f
    assert written.unique_sid == direct.unique_sid and written.train_users == direct.train_users


# --------------------------------------------------------------------------- prepare


def test_prepared_split_satisfies_the_filter_and_split_invariants(prepared, source):
    split = data.read_vae_cf(PreparedPaths(prepared).split)
    train, val, test = set(split.train_users), set(split.val_users), set(split.test_users)
    assert not (train & val or train & test or val & test)
    assert len(val) + len(split.dropped_val_users) == SMALL.n_heldout_users
    assert len(test) + len(split.dropped_test_users) == SMALL.n_heldout_users
    everything = pd.concat([split.train, split.val_tr, split.val_te, split.test_tr, split.test_te])
    assert everything.groupby("user_id").size().min() >= SMALL.min_user_songs
    assert not set(everything["song_id"]) - set(split.unique_sid)
    no_features = {f"S{i:03d}" for i in range(N_SONGS - 5, N_SONGS)}
    assert not no_features & set(split.unique_sid)
    for tr, te in ((split.val_tr, split.val_te), (split.test_tr, split.test_te)):
        n_tr, n_te = tr.groupby("user_id").size(), te.groupby("user_id").size()
        share = n_te / (n_tr + n_te)
        assert share.between(0.1, 0.5).all() and (n_tr >= 1).all()
        assert not pd.merge(tr, te).shape[0]  # fold-in and targets are disjoint
    # the source's interactions of kept users and songs are all there, once
    src = read_source(source).interactions
    src = src[src["user_id"].isin(train | val | test) & src["song_id"].isin(split.unique_sid)]
    assert len(everything) == len(src)


def test_prepared_report_explains_every_drop(prepared):
    meta = read_meta(prepared)
    drops = meta["report"]["drops"]
    reasons = {d["stage"]: d for d in drops}
    assert reasons["features"]["count"] == 5 and "no audio file" in reasons["features"]["reason"]
    assert reasons["restrict"]["unit"] == "interactions"
    assert any("weight below" in d["reason"] for d in drops)
    assert set(meta["report"]["seconds"]) >= {
        "read_source",
        "features",
        "filter",
        "split",
        "prototypes",
    }
    assert meta["fallbacks_used"] == {"2020s": "2010s"}
    assert any("'2020s'" in n for n in meta["report"]["notes"])
    assert meta["split"]["n_songs"] == len(pd.read_parquet(PreparedPaths(prepared).catalog))


def test_prepared_folder_loads(prepared):
    ds = load_dataset(prepared)  # what `training.train --data DIR` calls
    assert ds.catalog["song_id"].tolist() == ds.split.unique_sid
    raw = np.load(PreparedPaths(prepared).raw_embeddings)
    assert raw[:, 0].tolist() == [int(s[1:]) for s in ds.split.unique_sid]  # rows aligned
    np.testing.assert_allclose(ds.songs, ds.encoder.transform(raw), atol=1e-6)
    assert np.abs(ds.songs.mean(0)).max() < 1e-4  # normalization fitted on these songs
    assert ds.songs.shape == (ds.n_songs, D) and ds.prototypes.shape == (80, D)
    assert [p.tag for p in ds.prototype_table] == list(TAG_NAMES)
    assert ds.true_tags is None and ds.song_tags.shape == (ds.n_songs, 80)
    assert ds.catalog["spec"].isna().all() and ds.catalog["true_tags"].map(len).eq(0).all()
    assert ds.song_tags[:, TAG_NAMES.index("2020s")].sum() == 0  # borrowed, not invented
    tags = make_source_parts()["song_tags"].query("tag == 'rock'")
    weak = set(tags[tags["weight"] < 0.1]["song_id"]) & set(ds.split.unique_sid)
    strong = set(tags[tags["weight"] >= 0.1]["song_id"]) & set(ds.split.unique_sid)
    by_id = ds.catalog.set_index("song_id")["tags"]
    assert weak and all("rock" not in by_id[s] for s in weak)  # below min_tag_weight
    assert strong and all("rock" in by_id[s] for s in strong)
    assert set(ds.catalog["year"]) >= {0}  # unknown year
    assert ds.source["rule"] == "purity_aware" and ds.source["prototype_clips"] is None
    other = load_dataset(prepared, rule="most_listened")
    assert other.source["rule"] == "most_listened"
    with pytest.raises(DataError, match="rule"):
        load_dataset(prepared, rule="loudest")


def test_fallback_prototypes_avoid_reusing_songs(prepared):
    choices = json.loads(PreparedPaths(prepared).prototype_choices.read_text())
    for rule, table in choices.items():
        by_tag = {p["tag"]: p for p in table}
        carriers = {"S006", "S100", "S101"}  # the songs tagged 2010s
        assert {by_tag["2010s"]["song_id"], by_tag["2020s"]["song_id"]} <= carriers
        assert by_tag["2020s"]["song_id"] != by_tag["2010s"]["song_id"], rule
        assert all(p["duration_s"] == 0.0 for p in table)  # no audio: whole-song features


def test_tags_without_songs_need_a_fallback(source, tmp_path):
    with pytest.raises(DataError, match=r"\['2020s'\].*--fallback"):
        prepare(source, tmp_path / "p", replace(SMALL, fallbacks={}), progress=False)
    carriers = {t: 1 for t in TAG_NAMES} | {"2020s": 0, "2010s": 0}
    assert resolve_fallbacks(carriers, {"2020s": "2010s", "2010s": "2000s"}) == {
        "2020s": "2000s",
        "2010s": "2000s",
    }
    with pytest.raises(DataError, match="'vinyl' is not one of the 80"):
        resolve_fallbacks(carriers, {"2020s": "vinyl"})


def test_prepare_is_deterministic_and_ignores_row_order(tmp_path):
    parts = make_source_parts()
    write_source(tmp_path / "a", **parts)
    shuffled = parts["interactions"].sample(frac=1.0, random_state=7)
    write_source(tmp_path / "b", **{**parts, "interactions": shuffled})
    for name in ("a", "b"):
        prepare(tmp_path / name, tmp_path / f"p{name}", SMALL, progress=False)
    for f in ("train.csv", "test_te.csv", "unique_uid.txt", "unique_sid.txt"):
        assert (tmp_path / "pa" / "split" / f).read_bytes() == (
            tmp_path / "pb" / "split" / f
        ).read_bytes()
    a = json.loads((tmp_path / "pa" / "prototype_choices.json").read_text())
    b = json.loads((tmp_path / "pb" / "prototype_choices.json").read_text())
    assert a == b


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("min_user_songs", -1, "min_user_songs=-1"),
        ("n_heldout_users", 0, "n_heldout_users=0"),
        ("min_tag_weight", 2.0, "min_tag_weight=2.0"),
        ("prototype_rule", "loudest", "prototype_rule='loudest'"),
        ("clip_s", 0.0, "clip_s=0.0"),
    ],
)
def test_prepare_config_validation(field, value, message):
    with pytest.raises(ConfigError, match=message):
        PrepareConfig(**{field: value})


def test_too_many_heldout_users_is_a_clear_error(source, tmp_path):
    with pytest.raises(DataError, match="cannot give 5000 validation"):
        prepare(source, tmp_path / "p", replace(SMALL, n_heldout_users=5000), progress=False)


def test_prepare_cli(capsys, source, tmp_path):
    with pytest.raises(SystemExit) as e:
        prepare_cli.main(["--help"])
    assert e.value.code == 0
    assert "--min-song-listeners" in capsys.readouterr().out
    assert (
        prepare_cli.main(["--source", str(tmp_path / "none"), "--output", str(tmp_path / "o")]) == 2
    )
    assert "not a source folder" in capsys.readouterr().err
    assert prepare_cli.main(["--source", str(source)]) == 2
    assert "--output is required" in capsys.readouterr().err
    args = ["--source", str(source), "--output", str(tmp_path / "o"), "--quiet"]
    args += ["--min-song-listeners", "10", "--min-user-songs", "10", "--heldout-users", "40"]
    assert prepare_cli.main([*args, "--fallback", "2020s=vinyl"]) == 2
    assert "'vinyl' is not one of the 80" in capsys.readouterr().err
    assert prepare_cli.main([*args, "--rule", "most_listened"]) == 0
    assert read_meta(tmp_path / "o")["config"]["prototype_rule"] == "most_listened"
