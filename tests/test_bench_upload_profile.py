"""benchmarks/bench_upload_profile.py: the timed path is the app's upload path, and the
figures it prints and saves are consistent."""

from __future__ import annotations

import json

import numpy as np
import pytest

from apron_core.engine import Engine
from apron_core.ui.audio import AudioConfig
from benchmarks import bench_upload_profile as bench


def test_synthetic_uploads_are_seeded_stereo_music():
    a, b = bench.synthetic_upload(1, 3.0), bench.synthetic_upload(1, 3.0)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 3 * 44100) and a.dtype == np.float32
    assert 0.4 < np.abs(a).max() <= 0.5
    assert not np.array_equal(a, bench.synthetic_upload(2, 3.0))


@pytest.mark.slow  # two engine loads and five uploads
def test_the_timed_path_is_the_apps_and_the_figures_add_up(tmp_path, capsys):
    engine = Engine.load("assets/demo", device="cpu")
    (path,) = bench.write_uploads(tmp_path, 1, 4.0)
    got = bench.upload_to_profile(engine, path, AudioConfig())
    song = engine.encode_upload(path)  # embedding and tag evidence, as the app takes them
    want = engine.profile(embeddings=song.embedding[None], evidence=song.evidence[None])
    np.testing.assert_allclose(got, want, atol=1e-12)
    out = tmp_path / "figures.json"
    assert bench.main(["--files", "2", "--seconds", "4", "--json", str(out)]) == 0
    line = capsys.readouterr().out
    encoder = engine.bundle.encoder
    assert f"assets/demo ({encoder.describe()})" in line and "p95" in line
    figures = json.loads(out.read_text())
    assert figures["files"] == 2 and figures["encoder"] == encoder.describe()
    assert 0 < figures["p50_s"] <= figures["p95_s"] <= figures["max_s"]
    assert bench.main(["--files", "0"]) == 2
    assert "--files=0 must be ≥ 1" in capsys.readouterr().err
