"""training.tune_steering: its checks fail fast, before any slow work, and its table.
(The run itself is covered end to end in tests/test_steering_e2e.py.)"""

from __future__ import annotations

import pytest

from training import tune_steering as tune_cli


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--betas", "-1"], "--betas -1.0"),
        (["--betas", "nan"], "--betas nan"),
        (["--ease-weights", "0"], "--ease-weights 0.0"),
        (["--response-users", "-3"], "--response-users -3"),
    ],
)
def test_bad_settings_are_refused_by_name(flags, named, capsys):
    with pytest.raises(SystemExit) as e:
        tune_cli.parse_args(flags)
    assert e.value.code == 2
    assert named in capsys.readouterr().err


def test_missing_runs_say_which_and_what_to_run(tmp_path, capsys):
    data = ["--data", str(tmp_path / "nowhere"), "--runs", str(tmp_path / "runs")]
    assert tune_cli.main([*data, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "runs/recvae" in err and "make baselines" in err

    (tmp_path / "runs" / "recvae").mkdir(parents=True)
    (tmp_path / "runs" / "recvae" / "config.json").write_text("{}")
    assert tune_cli.main([*data, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "runs/ease" in err and "--ease-weights" in err


def test_table_shows_accuracy_rows_without_control():
    steered = {
        "accuracy": {"ndcg@100": 0.3412},
        "control_observed": {"relative": 0.95},
        "control_truth": {
            "relative": 0.9,
            "collateral": 0.07,
            "collateral_rest_signed": 0.03,
            "per_category": {c: {"relative": 0.9} for c in ("era", "genre", "mood", "instr")},
        },
        "response": {"median_rho": 1.0},
    }
    rows = [
        tune_cli._row("RecVAE base, β=3", steered),
        tune_cli._row("RecVAE + 0.5 × EASE base (accuracy only)", {"accuracy": {"ndcg@100": 0.35}}),
    ]
    lines = tune_cli.markdown(rows).splitlines()
    assert lines[-2].startswith("| RecVAE base, β=3 | 0.3412 | 95.0 % | 90.0 % | 90.0 % / 90.0")
    assert lines[-1] == (
        "| RecVAE + 0.5 × EASE base (accuracy only) | 0.3500 | – | – | – | – | – | – |"
    )
