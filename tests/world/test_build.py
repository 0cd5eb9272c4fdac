"""End to end on a tiny world: build, files, split invariants, prototypes, report, CLI."""

import json

import numpy as np
import pandas as pd
import pytest

from apron_core import data, prototypes
from apron_core.world.build import WorldConfig, WorldPaths, build_world
from apron_core.world.checks import world_checks
from tests.worlds import TINY_WORLD
from training import build_world as build_cli
from training import world_report as report_cli

pytestmark = pytest.mark.slow

TINY = TINY_WORLD


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    report = build_world(TINY, root / "w", prototypes_dir=root / "protos", progress=False)
    return root, report


def test_build_writes_every_stage(world):
    root, report = world
    paths = WorldPaths(root / "w")
    for p in (
        paths.songs,
        paths.artists,
        paths.specs,
        paths.interactions,
        paths.raw_embeddings,
        paths.audio_stats,
        paths.prototype_choices,
        paths.clip_embeddings,
    ):
        assert p.is_file(), p
    assert set(report["timings_s"]) >= {
        "catalog",
        "listeners",
        "filter_split",
        "render_embed",
        "prototypes",
        "total",
    }
    songs = paths.read_songs()
    raw = np.load(paths.raw_embeddings)
    assert raw.shape[0] == len(songs) == 400 and np.isfinite(raw).all()
    assert len(paths.read_specs()) == 400
    cfg = json.loads(paths.config.read_text())
    assert WorldConfig.from_dict(cfg) == TINY


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
    interactions = pd.read_parquet(root / "w" / "interactions.parquet")
    assert interactions.groupby("song_id").size().min() >= TINY.min_song_listeners
    assert interactions.groupby("user_id").size().min() >= TINY.min_user_songs


def test_prototype_clips_exported(world):
    root, _ = world
    protos = prototypes.load_prototypes(root / "protos")
    assert len(protos) == 80 and all(p.rule == TINY.prototype_rule for p in protos)
    choices = json.loads((root / "w" / "prototype_choices.json").read_text())
    assert set(choices) == set(prototypes.RULES)
    clip = np.load(root / "w" / "prototype_clip_embeddings_raw.npz")
    assert clip["most_listened"].shape[0] == 80


def test_checks_report_on_the_tiny_world(world, tmp_path):
    root, _ = world
    result = world_checks(root / "w", root / "protos")
    names = [c["name"] for c in result["checks"]]
    assert any("faithfulness" in n for n in names) and any("ROC-AUC" in n for n in names)
    assert result["min_heldout_targets"] >= 5
    assert 0.5 < result["probe_auc_truth"]["genre"] <= 1.0  # the audio carries genre
    assert result["audio_prototype_clips"]["clipped"] == 0
    code = report_cli.main(
        [
            "--world",
            str(root / "w"),
            "--prototypes-dir",
            str(root / "protos"),
            "--out",
            str(tmp_path),
        ]
    )
    assert code in (0, 1)  # 1 = some target missed on a tiny world, still a full report
    assert (tmp_path / "world_report.json").is_file()
    assert (tmp_path / "genre_spectrograms.png").stat().st_size > 10_000


def test_cli_help_and_bad_arguments(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        build_cli.main(["--help"])
    assert e.value.code == 0
    assert "--songs" in capsys.readouterr().out
    assert build_cli.main(["--songs", "10", "--artists", "40", "--output", str(tmp_path)]) == 2
    assert "n_songs=10" in capsys.readouterr().err
    assert report_cli.main(["--world", str(tmp_path / "nothing")]) == 2
    assert "not a built world" in capsys.readouterr().err
