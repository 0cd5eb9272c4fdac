"""The benchmark report: tables and plots from evaluation results, and argument errors."""

import math

import pytest

from apron_core.errors import ConfigError
from training import evaluate


def _result(name, ndcg, rel=math.nan, coll=math.nan, rest=math.nan):
    control = {"delta": 0.1, "relative": rel, "collateral": coll, "collateral_rest": rest}
    control["per_category"] = {"era": {"relative": rel}}
    return {
        "name": name,
        "accuracy": {"ndcg@100": ndcg, "recall@20": 0.2, "recall@50": 0.3},
        "control_observed": control,
        "control_truth": control,
        "response": {"median_rho": 0.9},
        "seconds": 12.0,
    }


def test_markdown_and_plots(tmp_path):
    results = [_result("APRON", 0.286, 0.59, 0.077, 0.066), _result("EASE", 0.322)]
    sweep = [
        {"lambda_control": 0.0, "lambda_edit": 0.0, "epochs": 40, "ndcg@100": 0.29,
         "relative": 0.1, "collateral": 0.05, "collateral_rest": 0.04},
        {"lambda_control": 30.0, "lambda_edit": 0.0, "epochs": 40, "ndcg@100": 0.28,
         "relative": 0.6, "collateral": 0.07, "collateral_rest": 0.06},
    ]  # fmt: skip
    md = evaluate.markdown(results, sweep)
    assert "| APRON | 0.286 | 0.200 | 0.300 | 12 s |" in md
    assert "| 0.077 | 0.77 | 0.066 |" in md  # collateral, collateral / Δ, collateral (rest)
    assert "| 30.0 | 0.0 | 40 | 0.280 | 60.0 % | 0.070 | 0.060 |" in md
    log = [{"epoch": e, "recon": 500 - e, "control": 0.2, "val_ndcg@100": 0.1 + e / 100}
           for e in (1, 2, 3)]  # fmt: skip
    pngs = evaluate.plots(results, sweep, log, tmp_path)
    assert [p.name for p in pngs] == ["pareto.png", "training_curves.png"]
    assert all(p.stat().st_size > 5_000 for p in pngs)


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
