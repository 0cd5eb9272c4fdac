"""The benchmark report: tables, target lines, the Pareto front, plots, argument errors."""

import math
from pathlib import Path

import pytest

from apron_core.errors import ConfigError
from training import benchmark_report as report
from training import evaluate


def _result(name, ndcg, rel=math.nan, coll=math.nan, rest=math.nan, group="baseline", **extra):
    control = {
        "delta": 0.1,
        "relative": rel,
        "collateral": coll,
        "collateral_rest": rest,
        "collateral_rest_signed": extra.pop("signed", math.nan),
    }
    control["per_category"] = {
        c: {"relative": extra.pop(c, rel)} for c in ("era", "genre", "mood", "instrumentation")
    }
    return {
        "name": name,
        "group": group,
        "accuracy": {"ndcg@100": ndcg, "recall@20": 0.2, "recall@50": 0.3},
        "control_observed": control,
        "control_truth": control,
        "response": {"median_rho": extra.pop("rho", 0.9)},
        "seconds": 12.0,
        **extra,
    }


def _results():
    return [
        _result("shipped: gs", 0.35, 0.9, 0.07, 0.05, "shipped", signed=0.02, rho=1.0,
                mood=0.5, train_seconds=600.0, command="python -m training.train --x"),
        _result("APRON", 0.286, 0.59, 0.077, 0.066, "model"),
        _result("recvae", 0.347),
        _result("ease", 0.322),
        _result("EASE + tag filter", 0.322, 0.75, 0.06, 0.035),
        _result("bce", 0.2, 0.3, group="ablation", epochs=10, best_epoch=9),
    ]  # fmt: skip


def test_markdown_sections_and_rows():
    sweep = [
        {"lambda_control": 30.0, "lambda_edit": 0.0, "epochs": 40, "ndcg@100": 0.28,
         "relative": 0.6, "relative_truth": 0.55, "collateral": 0.07, "collateral_rest": 0.06},
    ]  # fmt: skip
    md = report.markdown(_results(), sweep, title="T", commands={"evaluation": "make benchmark"})
    assert md.startswith("# T\n") and "evaluation: `make benchmark`" in md
    assert "| APRON | 0.286 | 0.200 | 0.300 | – | 12 s |" in md
    assert "| shipped: gs | 0.350 | 0.200 | 0.300 | 10.0 min | 12 s |" in md
    assert "| 0.077 | 0.77 | 0.066 |" in md  # collateral, collateral / Δ, collateral (rest)
    assert "| 30.0 | 0.0 | 40 | 0.280 | 60.0 % | 0.070 | 0.060 |" in md
    assert "| bce | 10 (9) | 0.200 |" in md  # ablations: their own table
    assert md.count("| bce |") == 1
    assert "| paper, APRON on the MSD | 0.327 | 0.277 | 0.377 | 0.054 | 33.8 % |" in md
    assert "| ours, shipped: gs | 0.350 |" in md and "| ours, APRON | 0.286 |" in md
    assert "| shipped: gs | `python -m training.train --x` |" in md


def test_target_lines_say_met_or_missed():
    lines = "\n".join(report.target_lines(_results()))
    assert "| NDCG@100 ≥ RecVAE's | 0.3500 vs 0.3470 | met |" in lines
    assert "| NDCG@100 ≥ 1.05 × EASE's | 0.3500 vs 0.3381 | met |" in lines
    # mood 50 % < the filter's 75 %: three categories of four
    assert "3 of 4 (era, genre, instrumentation) | met |" in lines
    assert "| collateral (rest) signed ≥ 0 (truth) | 0.0200 | met |" in lines
    assert "| training ≤ 20 min | 10.0 min | met |" in lines
    worse = _results()
    worse[0]["accuracy"]["ndcg@100"] = 0.30
    assert "| NDCG@100 ≥ RecVAE's | 0.3000 vs 0.3470 | **missed** |" in "\n".join(
        report.target_lines(worse)
    )
    assert report.target_lines(_results()[1:]) == []  # nothing shipped, nothing to check


def test_choice_lines_place_the_shipped_model():
    text = " ".join(report.choice_lines(_results()))
    assert "NDCG@100 0.3500 at relative Δ@20 90.0 %" in text
    assert "on the Pareto front" in text  # nothing beats 0.35 / 90 % on both axes
    assert "1.09× as accurate and steers 1.20× as far (90.0 % vs 75.0 %)" in text
    beaten = [*_results(), _result("better", 0.36, 0.95, group="variant")]
    text = " ".join(report.choice_lines(beaten))
    assert (
        "At least as good on both axes: better (NDCG@100 +0.0100, relative Δ@20 +5.0 points)."
        in text
    )
    assert "The most accurate model, better, reaches NDCG@100 0.3600" in text
    assert report.choice_lines(_results()[1:]) == []  # nothing shipped, nothing to place
    md = report.markdown(_results(), [], title="T", commands={})
    assert "## Why this model ships" in md


def test_pareto_front():
    points = [(0.30, 50.0), (0.35, 0.0), (0.29, 40.0), (0.35, 90.0), (0.20, 95.0)]
    assert report.pareto_front(points) == [3, 4]


def test_plots(tmp_path):
    log = [{"epoch": e, "recon": 500 - e, "control": 0.2, "val_ndcg@100": 0.1 + e / 100}
           for e in (1, 2, 3)]  # fmt: skip
    pngs = report.plots(_results(), [], log, tmp_path)
    assert [p.name for p in pngs] == ["pareto.png", "training_curves.png"]
    assert all(p.stat().st_size > 5_000 for p in pngs)


def test_commands_name_no_local_path(tmp_path):
    runs, data = tmp_path / "runs", tmp_path / "world"
    cmd = f"python -m training.train --data {data} --base {runs}/recvae --output {runs}/x"
    got = evaluate.portable(cmd, {runs: "$(RUNS)", data: "$(WORLD)"})
    assert got == (
        "python -m training.train --data $(WORLD) --base $(RUNS)/recvae --output $(RUNS)/x"
    )
    assert evaluate.portable(None, {}) is None
    assert evaluate.shown(Path("assets/demo")) == "assets/demo"
    assert evaluate.shown(tmp_path / "b") == "$(BUNDLE)"
    assert evaluate.shown(tmp_path / "r", "$(REPORTS)") == "$(REPORTS)"


def test_variant_arguments_are_checked(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "bundle.json").write_text("{}")
    assert evaluate._variants([f"my model={tmp_path / 'b'}"]) == [("my model", tmp_path / "b")]
    for bad in ("no-equals-sign", f"={tmp_path / 'b'}", f"x={tmp_path / 'missing'}"):
        with pytest.raises(ConfigError, match="LABEL=DIR"):
            evaluate._variants([bad])


def test_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as e:
        evaluate.parse_args(["--help"])
    assert e.value.code == 0 and "--variant" in capsys.readouterr().out
