"""End to end on a tiny prepared folder: train a base and grounded steering (a bundle),
evaluate it with the benchmark, hide tags, and serve it from the engine."""

from __future__ import annotations

import json

import pytest

from apron_core.engine import Engine
from apron_core.missing_tags import hidden_mask
from tests.sources.test_prepare_e2e import write_msd_fixture
from training import evaluate as evaluate_cli
from training import hide_tags as hide_cli
from training import prepare_msd as prepare_cli
from training import train as train_cli
from training import tune_steering as tune_cli

pytestmark = pytest.mark.slow

TINY_APRON = ["--set", "epochs=2", "--set", "batch_size=64", "--set", "d_model=32"]
TINY_APRON += ["--set", "n_heads=4", "--set", "hidden=[32]"]
TINY_GROUNDING = ["--set", 'grounding={"epochs": 30, "d_model": 8, "folds": 2}']


def _ok(code: int, capsys) -> None:
    assert code == 0, capsys.readouterr().err


def test_steering_from_training_to_the_engine(tmp_path, capsys):
    write_msd_fixture(tmp_path / "msd")
    prepared, runs = tmp_path / "prepared", tmp_path / "runs"
    _ok(
        prepare_cli.main(
            [
                "--msd-dir", str(tmp_path / "msd"),
                "--source", str(tmp_path / "source"),
                "--output", str(prepared),
                "--min-song-listeners", "5",
                "--min-user-songs", "10",
                "--heldout-users", "40",
                "--clip-s", "1.5",
                "--quiet",
            ]
        ),
        capsys,
    )  # fmt: skip
    data = ["--data", str(prepared), "--device", "cpu"]
    _ok(train_cli.main([*data, "--model", "ease", "--output", str(runs / "ease")]), capsys)
    shipped = tmp_path / "bundle"
    _ok(
        train_cli.main(
            [*data, "--model", "grounded-steering", "--base", str(runs / "ease"),
             "--set", 'bases=["ease"]', *TINY_GROUNDING, "--label", "tiny steering",
             "--output", str(shipped)]
        ),
        capsys,
    )  # fmt: skip
    evaluation = json.loads((shipped / "evaluation.json").read_text())
    assert evaluation["reused_bases"] == [str(runs / "ease")]
    ease_ndcg = json.loads((runs / "ease" / "config.json").read_text())["training"]
    assert evaluation["validation_ndcg@100"] == pytest.approx(ease_ndcg["val_ndcg@100"])

    _ok(
        train_cli.main([*data, *TINY_APRON, "--no-eval", "--output", str(runs / "apron")]),
        capsys,
    )
    _ok(
        evaluate_cli.main(
            [*data, "--bundle", str(shipped), "--runs", str(runs), "--out",
             str(tmp_path / "reports"), "--response-users", "10"]
        ),
        capsys,
    )  # fmt: skip
    report = json.loads((tmp_path / "reports" / "benchmark.json").read_text())
    names = [r["name"] for r in report["results"]]
    assert names[:2] == ["shipped: tiny steering", "APRON"]
    assert {"ease", "EASE + tag filter"} <= set(names)
    shipped_row, ease_row = report["results"][0], report["results"][names.index("ease")]
    # the base's ranking, untouched by an unedited profile
    assert shipped_row["accuracy"] == pytest.approx(ease_row["accuracy"])
    assert "control_truth" not in shipped_row  # MSD-like data: no ground truth
    assert shipped_row["control_observed"]["relative"] > 0.2
    md = (tmp_path / "reports" / "benchmark.md").read_text()
    assert "## Targets of issue 12" in md and str(tmp_path) not in md
    assert "--model grounded-steering --base $(RUNS)/ease" in md

    for share in ("0", "0.5"):
        folder = runs / "hidden" / share
        hide = ["--hide-tags", share, "--no-eval"]
        _ok(train_cli.main([*data, *hide, *TINY_APRON, "--output", str(folder / "apron")]), capsys)
        _ok(
            train_cli.main(
                [*data, *hide, "--model", "grounded-steering", "--base", str(runs / "ease"),
                 "--set", 'bases=["ease"]', *TINY_GROUNDING, "--output", str(folder / "steering")]
            ),
            capsys,
        )  # fmt: skip
    _ok(
        hide_cli.main(
            [*data, "--runs", str(runs), "--shares", "0", "0.5", "--out", str(tmp_path / "rep")]
        ),
        capsys,
    )
    rows = json.loads((tmp_path / "rep" / "missing_tags.json").read_text())
    # the report says how long APRON was trained (TINY_APRON: 2 epochs)
    assert (
        "APRON trained for 2 epochs per share" in (tmp_path / "rep" / "missing_tags.md").read_text()
    )
    assert {(r["model"], r["share"]) for r in rows} == {
        (m, s) for m in hide_cli.MODELS for s in (0.0, 0.5)
    }
    with pytest.raises(SystemExit):
        hide_cli.parse_args(["--shares", "1.0"])
    assert hide_cli.main([*data, "--runs", str(runs), "--shares", "0.25"]) == 2
    assert "make hidden" in capsys.readouterr().err

    recvae = ["--model", "recvae", "--set", "epochs=1", "--set", "hidden_dim=16"]
    _ok(train_cli.main([*data, *recvae, "--output", str(runs / "recvae")]), capsys)
    _ok(
        tune_cli.main(
            [*data, "--runs", str(runs), "--betas", "0", "3", "--ease-weights", "0.5",
             "--response-users", "5", "--out", str(tmp_path / "tune")]
        ),
        capsys,
    )  # fmt: skip
    tuned = json.loads((tmp_path / "tune" / "steering_tuning.json").read_text())
    assert [r["setting"] for r in tuned] == [
        "RecVAE base, β=0",
        "RecVAE base, β=3",
        "RecVAE + 0.5 × EASE base (accuracy only)",
    ]
    assert tuned[0]["ndcg@100"] == tuned[1]["ndcg@100"]  # β never moves an unedited list
    assert tuned[0]["relative_observed"] == 0.0  # β = 0: the sliders do nothing
    assert tuned[1]["relative_observed"] > 0.2

    engine = Engine.load(shipped, device="cpu")
    assert engine.kind == "grounded-steering"
    listener = engine.bundle.demo_listeners[0]
    p0 = engine.profile(listener.history)
    rec = engine.recommend(p0, k=10, exclude=listener.history)
    for e in rec.explanations:
        assert e.contributions.sum() + e.baseline_score == pytest.approx(e.score, abs=1e-4)
    hidden = hidden_mask(engine.bundle.song_tags, 0.5, 0)
    assert hidden.sum() > 0
