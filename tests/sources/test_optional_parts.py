"""The source format's optional parts (ground truth, render specs, clip embeddings): written,
read, refused when wrong, and carried by the prepare step into what training loads."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from apron_core.dataset import load_dataset
from apron_core.errors import DataError
from apron_core.sources.generic import ClipEmbeddings, Embeddings, read_source, write_source
from apron_core.sources.prepare import prepare
from apron_core.sources.prepared import PreparedPaths, read_meta
from apron_core.tags import TAG_NAMES
from tests.sources.test_generic import N_SONGS, SMALL, D, make_source_parts

CLIP_OFFSET = 1000.0  # clip features = song features + this: tells clip rows from song rows


def optional_parts(parts: dict, *, clip_songs: int = N_SONGS - 5) -> dict:
    """Truth for even songs (two tags each), a spec for every song but S001, clips of the
    first ``clip_songs`` songs starting at 0.25 s and lasting 1.5 s."""
    ids = parts["songs"]["song_id"].tolist()
    truth = pd.DataFrame(
        [(s, TAG_NAMES[(3 * i + k) % 80]) for i, s in enumerate(ids[::2]) for k in (0, 1)],
        columns=["song_id", "tag"],
    )
    specs = [{"seed": i, "song": s} if s != "S001" else None for i, s in enumerate(ids)]
    emb = parts["embeddings"]
    clips = ClipEmbeddings(
        Embeddings(emb.ids[:clip_songs], emb.raw[:clip_songs] + CLIP_OFFSET, "librosa", {}),
        np.full(clip_songs, 0.25),
        np.full(clip_songs, 1.5),
    )
    return {"songs": parts["songs"].assign(spec=specs), "song_truth": truth, "clips": clips}


@pytest.fixture(scope="module")
def rich(tmp_path_factory):
    """A source with every optional part, and the folder prepared from it."""
    root = tmp_path_factory.mktemp("rich")
    parts = make_source_parts()
    extra = optional_parts(parts)
    write_source(root / "source", **{**parts, **extra})
    prepare(root / "source", root / "prepared", SMALL, progress=False)
    return root, parts, extra


def test_optional_parts_round_trip(rich):
    root, _, extra = rich
    src = read_source(root / "source")
    pd.testing.assert_frame_equal(
        src.song_truth, extra["song_truth"].sort_values(["song_id", "tag"], ignore_index=True)
    )
    spec = src.songs.set_index("song_id")["spec"]
    assert json.loads(spec["S007"]) == {"seed": 7, "song": "S007"} and spec["S001"] == ""
    assert src.clips.features.ids == extra["clips"].features.ids
    np.testing.assert_array_equal(src.clips.features.raw, extra["clips"].features.raw)
    assert src.clips.start_s.tolist() == [0.25] * (N_SONGS - 5)
    assert src.meta["counts"]["clip_embeddings"] == N_SONGS - 5
    plain = read_source(write_source(root / "plain", **make_source_parts()))
    assert plain.song_truth is None and plain.clips is None and "spec" not in plain.songs


def test_prepare_carries_truth_specs_and_embedded_clips(rich):
    root, parts, extra = rich
    ds = load_dataset(root / "prepared")
    truth = extra["song_truth"].groupby("song_id")["tag"].agg(set)
    for row, song in enumerate(ds.split.unique_sid):
        expected = truth.get(song, set())
        assert {TAG_NAMES[k] for k in np.flatnonzero(ds.true_tags[row])} == expected, song
    assert ds.true_tags.shape == (ds.n_songs, 80) and ds.true_tags.sum() > 0
    specs = ds.catalog.set_index("song_id")["spec"]
    assert all(
        specs[s] == (None if s == "S001" else {"seed": int(s[1:]), "song": s}) for s in specs.index
    )
    row_of = {s: i for i, s in enumerate(parts["embeddings"].ids)}
    table = ds.prototype_table
    assert all((p.start_s, p.duration_s) == (0.25, 1.5) for p in table)
    clip_raw = parts["embeddings"].raw[[row_of[p.song_id] for p in table]] + CLIP_OFFSET
    np.testing.assert_allclose(ds.prototypes, ds.encoder.transform(clip_raw), atol=1e-5)
    meta = read_meta(root / "prepared")
    assert not meta["clips_exported"] and not PreparedPaths(root / "prepared").prototypes.exists()
    assert any("clip embeddings" in n for n in meta["report"]["notes"])
    assert ds.songs.shape == (ds.n_songs, D)


def test_clips_missing_for_a_prototype_song_fall_back_to_whole_songs(tmp_path):
    parts = make_source_parts()
    write_source(tmp_path / "s", **parts, clips=optional_parts(parts, clip_songs=3)["clips"])
    prepare(tmp_path / "s", tmp_path / "p", SMALL, progress=False)
    ds = load_dataset(tmp_path / "p")
    assert all(p.duration_s == 0.0 for p in ds.prototype_table)
    row = {s: i for i, s in enumerate(ds.split.unique_sid)}
    np.testing.assert_allclose(
        ds.prototypes, ds.songs[[row[p.song_id] for p in ds.prototype_table]], atol=1e-5
    )
    assert any("whole-song" in n for n in read_meta(tmp_path / "p")["report"]["notes"])


def _broken(what: str) -> dict:
    parts = make_source_parts()
    extra = optional_parts(parts)
    if what == "truth tag":
        extra["song_truth"] = pd.DataFrame({"song_id": ["S000"], "tag": ["vaporwave"]})
    elif what == "truth song":
        extra["song_truth"] = pd.DataFrame({"song_id": ["S999"], "tag": ["rock"]})
    elif what == "truth repeat":
        extra["song_truth"] = pd.DataFrame({"song_id": ["S000", "S000"], "tag": ["rock", "rock"]})
    elif what == "spec":
        extra["songs"] = parts["songs"].assign(spec=["[1, 2]"] + [None] * (N_SONGS - 1))
    elif what == "clip encoder":
        clips = extra["clips"]
        extra["clips"] = ClipEmbeddings(
            Embeddings(clips.features.ids, clips.features.raw, "mert", {}),
            clips.start_s,
            clips.duration_s,
        )
    return {**parts, **extra}


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("truth tag", r"song_truth name tag\(s\) \['vaporwave'\]"),
        ("truth song", r"song_truth name 1 song\(s\) missing from songs.parquet"),
        ("truth repeat", r"song_truth repeat a \(song_id, tag\) pair"),
        ("spec", r"songs table: the spec of 'S000' is not a JSON object \('\[1, 2\]'\)"),
        ("clip encoder", "clip embeddings come from encoder 'mert'"),
    ],
)
def test_bad_optional_parts_are_refused_with_the_reason(tmp_path, what, message):
    with pytest.raises(DataError, match=message):
        write_source(tmp_path / "s", **_broken(what))


def test_bad_excerpts_are_refused(tmp_path):
    emb = Embeddings(["a", "b"], np.zeros((2, 4)), "librosa")
    with pytest.raises(DataError, match="2 ids but"):
        ClipEmbeddings(emb, np.zeros(3), np.ones(3))
    with pytest.raises(DataError, match=r"excerpt of 'b' starts at -1.0 s"):
        ClipEmbeddings(emb, np.array([0.0, -1.0]), np.ones(2))
    parts = make_source_parts()
    root = write_source(tmp_path / "s", **parts, clips=optional_parts(parts)["clips"])
    excerpts = root / "clip_embeddings" / "excerpts.parquet"
    pd.read_parquet(excerpts).iloc[::-1].to_parquet(excerpts)
    with pytest.raises(DataError, match="in their order"):
        read_source(root)
    excerpts.unlink()
    with pytest.raises(DataError, match=r"lack excerpts\.parquet"):
        read_source(root)
