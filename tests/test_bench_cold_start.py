"""bench_cold_start's options: what it refuses before starting any app."""

from __future__ import annotations

import pytest

from benchmarks import bench_cold_start as bench


def test_compare_bundle_defaults_to_the_same_bundle_and_is_checked(tmp_path, capsys):
    args = bench.parse_args(["--compare", "."])
    assert args.compare_bundle is None  # the other checkout serves --bundle too
    args = bench.parse_args(["--compare", ".", "--compare-bundle", "assets/apron"])
    assert str(args.compare_bundle) == "assets/apron"
    for argv, message in [
        (["--compare-bundle", "assets/apron"], "--compare-bundle needs --compare"),
        (["--compare", ".", "--compare-bundle", str(tmp_path)], "no bundle.json there"),
        (["--compare", str(tmp_path)], "no app.py there"),
        (["--runs", "0"], "need --runs ≥ 1"),
    ]:
        with pytest.raises(SystemExit) as e:
            bench.parse_args(argv)
        assert e.value.code == 2 and message in capsys.readouterr().err
