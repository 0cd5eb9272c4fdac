"""End to end on a tiny world through the one road (world → source → prepare): files, song
order, truth and specs carried, clips, split invariants, determinism, report, CLI."""

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from apron_core import data, prototypes
from apron_core.audio import load_audio
from apron_core.dataset import load_dataset
from apron_core.errors import ConfigError
from apron_core.sources.generic import read_source
from apron_core.sources.prepare import prepare
from apron_core.tags import TAG_NAMES
from apron_core.world.build import WorldConfig, WorldPaths, build_world, rechoose_prototypes
from apron_core.world.catalog import CatalogConfig, make_catalog
from apron_core.world.checks import world_checks
from tests.worlds import TINY_WORLD
from training import build_world as build_cli
from training import world_report as report_cli

pytestmark = pytest.mark.slow

TINY = TINY_WORLD


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    report = build_world(
        TINY,
        root / "w",
        prototypes_dir=root / "protos",
        feature_cache=root / "cache",
        progress=False,
    )
    return root, report


def test_build_writes_a_prepared_folder_and_the_world_files(world):
    root, report = world
    paths = WorldPaths(root / "w")
    for p in (paths.artists, paths.users, paths.tastes, paths.audio_stats, paths.build_report):
        assert p.is_file(), p
    for p in (paths.prepared.meta, paths.prepared.catalog, paths.prepared.prototype_choices):
        assert p.is_file(), p
    assert set(report["timings_s"]) == {
        "catalog", "listeners", "render_embed", "source", "prepare", "export_clips", "total",
    }  # fmt: skip
    assert set(report["prepare_s"]) >= {"filter", "split", "prototypes"}
    src = read_source(paths.source.root)
    assert src.embeddings.raw.shape == src.clips.features.raw.shape == (400, 261)
    assert np.isfinite(src.clips.features.raw).all()
    assert not np.allclose(src.clips.features.raw, src.embeddings.raw)  # an excerpt, not the song
    assert (src.songs["spec"] != "").all() and src.song_truth["song_id"].nunique() == 400
    assert paths.read_config() == TINY
    assert len(pd.read_parquet(paths.audio_stats)) == 400


def test_a_rebuild_takes_every_song_from_the_feature_cache(world, tmp_path):
    root, report = world
    assert (report["songs_rendered"], report["songs_from_cache"]) == (400, 0)
    again = build_world(TINY, tmp_path / "w", feature_cache=root / "cache", progress=False)
    assert (again["songs_rendered"], again["songs_from_cache"]) == (0, 400)
    first, second = read_source(root / "w" / "source"), read_source(tmp_path / "w" / "source")
    np.testing.assert_array_equal(first.embeddings.raw, second.embeddings.raw)
    np.testing.assert_array_equal(first.clips.features.raw, second.clips.features.raw)
    pd.testing.assert_frame_equal(
        pd.read_parquet(root / "w" / "audio_stats.parquet"),
        pd.read_parquet(tmp_path / "w" / "audio_stats.parquet"),
    )
    for name in ("prototype_choices.json", "encoder/encoder.json"):
        assert (tmp_path / "w" / name).read_bytes() == (root / "w" / name).read_bytes(), name


def test_song_order_truth_and_specs_are_carried(world):
    root, _ = world
    ds = load_dataset(root / "w")
    assert ds.catalog["song_id"].tolist() == ds.split.unique_sid == sorted(ds.split.unique_sid)
    songs = make_catalog(TINY.catalog).songs.set_index("song_id")
    expected = songs.loc[ds.split.unique_sid]
    assert ds.catalog["true_tags"].tolist() == expected["true_tags"].tolist()
    assert ds.catalog["tags"].tolist() == expected["tags"].tolist()
    assert ds.true_tags.sum() == sum(map(len, expected["true_tags"]))
    assert ds.catalog["spec"].map(lambda s: s["song_id"]).tolist() == ds.split.unique_sid
    assert ds.catalog["title"].tolist() == expected["title"].tolist()
    assert ds.source["source"] == "demo-world" and ds.source["prototype_clips"] is None


def test_prototypes_are_the_rendered_excerpts(world):
    root, _ = world
    paths = WorldPaths(root / "w")
    src = read_source(paths.source.root)
    start, length = TINY.excerpt()
    assert (start, length) == (0.5, 2.0)
    for rule in prototypes.RULES:
        ds = load_dataset(root / "w", rule=rule)
        table = ds.prototype_table
        assert [p.tag for p in table] == list(TAG_NAMES)
        assert all((p.start_s, p.duration_s, p.rule) == (start, length, rule) for p in table)
        rows = [src.clips.row_of[p.song_id] for p in table]
        np.testing.assert_allclose(
            ds.prototypes, ds.encoder.transform(src.clips.features.raw[rows]), atol=1e-6
        )
    exported = prototypes.load_prototypes(root / "protos")
    assert exported == load_dataset(root / "w", rule=TINY.prototype_rule).prototype_table
    clip = load_audio(root / "protos" / exported[0].file, sr=TINY.sr)
    assert abs(len(clip) - length * TINY.sr) < 0.01 * TINY.sr and np.abs(clip).max() > 0.01


def test_split_invariants(world):
    root, _ = world
    split = data.read_vae_cf(root / "w" / "split")
    parts = [set(split.train_users), set(split.val_users), set(split.test_users)]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    for tr, te in ((split.val_tr, split.val_te), (split.test_tr, split.test_te)):
        pairs_tr = set(zip(tr.user_id, tr.song_id, strict=True))
        pairs_te = set(zip(te.user_id, te.song_id, strict=True))
        assert not pairs_tr & pairs_te
        assert te.groupby("user_id").size().min() >= 5
    kept = pd.concat([split.train, split.val_tr, split.val_te, split.test_tr, split.test_te])
    assert kept.groupby("user_id").size().min() >= TINY.min_user_songs
    listeners = read_source(root / "w" / "source").interactions
    listeners = listeners[listeners["user_id"].isin(set(kept["user_id"]))]
    per_song = listeners.groupby("song_id", observed=True).size()
    assert per_song.loc[split.unique_sid].min() >= TINY.min_song_listeners


def test_preparing_the_world_source_again_gives_the_same_folder(world, tmp_path):
    root, _ = world
    prepare(root / "w" / "source", tmp_path / "again", TINY.prepare_config(), progress=False)
    names = ["prototype_choices.json", "encoder/encoder.json"]
    names += [f"split/{p.name}" for p in (root / "w" / "split").iterdir()]
    for name in names:
        assert (tmp_path / "again" / name).read_bytes() == (root / "w" / name).read_bytes(), name
    for name in ("embeddings_raw.npy", "prototype_clip_embeddings_raw.npz"):
        a, b = np.load(tmp_path / "again" / name), np.load(root / "w" / name)
        for key in a if name.endswith(".npz") else [None]:
            np.testing.assert_array_equal(a[key] if key else a, b[key] if key else b)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "again" / "catalog.parquet"),
        pd.read_parquet(root / "w" / "catalog.parquet"),
    )


def test_rechoosing_prototypes_renders_only_the_new_rule(world, tmp_path):
    root, _ = world
    shutil.copytree(root / "w", tmp_path / "w", symlinks=True)
    cfg = rechoose_prototypes(tmp_path / "w", "most_listened", tmp_path / "protos", progress=False)
    assert cfg == dataclasses.replace(TINY, prototype_rule="most_listened")
    assert WorldPaths(tmp_path / "w").read_config().prototype_rule == "most_listened"
    exported = prototypes.load_prototypes(tmp_path / "protos")
    assert {p.rule for p in exported} == {"most_listened"}
    assert load_dataset(tmp_path / "w").source["rule"] == "most_listened"


def test_checks_report_on_the_tiny_world(world, tmp_path, capsys):
    root, _ = world
    result = world_checks(root / "w", root / "protos")
    names = [c["name"] for c in result["checks"]]
    assert any("faithfulness" in n for n in names) and any("ROC-AUC" in n for n in names)
    assert result["min_heldout_targets"] >= 5
    assert 0.5 < result["probe_auc_truth"]["genre"] <= 1.0  # the audio carries genre
    assert result["audio_prototype_clips"]["clipped"] == 0
    args = ["--prototypes-dir", str(root / "protos"), "--out", str(tmp_path)]
    code = report_cli.main(["--data", str(root / "w"), *args])
    assert code in (0, 1)  # 1 = some target missed on a tiny world, still a full report
    assert (tmp_path / "world_report.json").is_file()
    assert (tmp_path / "genre_spectrograms.png").stat().st_size > 10_000
    again = json.loads((tmp_path / "world_report.json").read_text())
    assert again["probe_auc_observed"] == result["probe_auc_observed"]  # seeded: same numbers
    capsys.readouterr()
    assert report_cli.main(["--world", str(root / "w"), *args]) == code  # deprecated alias
    assert "--world is deprecated" in capsys.readouterr().err


def test_world_config_validation():
    with pytest.raises(ConfigError, match="no longer than the songs"):
        WorldConfig(catalog=CatalogConfig(song_duration_s=5.0), clip_s=10.0)
    with pytest.raises(ConfigError, match="prototype_rule='loudest'"):
        WorldConfig(prototype_rule="loudest")


def test_cli_help_and_bad_arguments(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        build_cli.main(["--help"])
    assert e.value.code == 0
    assert "--songs" in capsys.readouterr().out
    assert build_cli.main(["--songs", "10", "--artists", "40", "--output", str(tmp_path)]) == 2
    assert "n_songs=10" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        build_cli.main(["--encoder", "wav2vec", "--output", str(tmp_path)])
    assert e.value.code == 2 and "invalid choice: 'wav2vec'" in capsys.readouterr().err
    bad_config = ["--encoder", "musicnn", "--encoder-config", "layer", "--output", str(tmp_path)]
    assert build_cli.main(bad_config) == 2
    assert "--encoder-config 'layer' must look like key=value" in capsys.readouterr().err
    bad_layer = ["--encoder", "musicnn", "--encoder-config", "layer=conv9"]
    assert build_cli.main([*bad_layer, "--output", str(tmp_path / "w")]) == 2
    assert "layer='conv9'" in capsys.readouterr().err
    assert not (tmp_path / "w" / "users.parquet").exists()  # refused before any work
    assert build_cli.main(["--only-prototypes", "--output", str(tmp_path / "nothing")]) == 2
    assert "not a built world" in capsys.readouterr().err
    assert report_cli.main(["--data", str(tmp_path / "nothing")]) == 2
    assert "not a built world" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        report_cli.main(["--data", str(tmp_path), "--world", str(tmp_path)])
    assert e.value.code == 2 and "give --data only" in capsys.readouterr().err
