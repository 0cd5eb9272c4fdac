"""--data of the commands that read a prepared folder, and --world, its deprecated alias."""

from pathlib import Path

import pytest

from training import evaluate, train, world_report


@pytest.mark.parametrize("cli", [train, evaluate, world_report])
def test_data_default_alias_and_conflict(cli, capsys):
    assert cli.parse_args([]).data == Path("data/world")
    assert cli.parse_args(["--data", "d"]).data == Path("d")
    assert "deprecated" not in capsys.readouterr().err
    args = cli.parse_args(["--world", "w"])
    assert args.data == Path("w") and not hasattr(args, "world")
    assert "--world is deprecated" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.parse_args(["--data", "d", "--world", "w"])
    assert e.value.code == 2 and "give --data only" in capsys.readouterr().err


def test_help_names_data(capsys):
    with pytest.raises(SystemExit):
        train.parse_args(["--help"])
    out = capsys.readouterr().out
    assert "--data DATA" in out and "deprecated alias of --data" in out
