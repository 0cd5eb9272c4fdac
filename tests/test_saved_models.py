"""The registry of saved model kinds: every kind loads through one call, a wrapper's inner
models first; the baselines package refuses grounded steering with a pointer here."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from apron_core.baselines import EASE, Popularity, TagFilter, load_baseline
from apron_core.errors import ConfigError, DataError
from apron_core.saved_models import KINDS, load_saved_model
from apron_core.steering import GroundedSteering
from apron_core.tags import K

N_SONGS, DIM = 60, 8


@pytest.fixture(scope="module")
def parts():
    rng = np.random.default_rng(3)
    x = sp.csr_matrix((rng.random((80, N_SONGS)) < 0.15).astype(np.float32))
    tags = (rng.random((N_SONGS, K)) < 0.1).astype(np.float32)
    songs = rng.normal(size=(N_SONGS, DIM)).astype(np.float32)
    protos = rng.normal(size=(K, DIM)).astype(np.float32)
    return x, tags, songs, protos


@pytest.fixture(scope="module")
def steering(parts) -> GroundedSteering:
    x, tags, songs, protos = parts
    m = GroundedSteering(bases=("ease",), grounding={"epochs": 10, "d_model": 4, "folds": 2})
    m.set_catalog(songs, protos, tags)
    return m.fit(x[:60], seed=0, device="cpu", progress=False)


def test_every_kind_is_registered():
    assert {"ease", "recvae", "macridvae", TagFilter.name, GroundedSteering.name} <= set(KINDS)


def test_grounded_steering_round_trip(steering, parts, tmp_path):
    x = parts[0][60:]
    steering.save(tmp_path / "gs")
    back = load_saved_model(tmp_path / "gs", device="cpu")
    assert isinstance(back, GroundedSteering) and isinstance(back.bases[0], EASE)
    p = steering.profiles(x)[:, ::-1].copy()  # an edit: every tag moved
    np.testing.assert_allclose(
        back.score_with_control(x, p), steering.score_with_control(x, p), atol=1e-6
    )


def test_baselines_and_wrappers_load_through_the_registry(parts, tmp_path):
    x, tags, _, _ = parts
    ease = EASE().fit(x[:60], seed=0, progress=False)
    TagFilter(ease, tags).save(tmp_path / "tf")
    back = load_saved_model(tmp_path / "tf", device="cpu")
    assert isinstance(back, TagFilter) and isinstance(back.base, EASE)
    np.testing.assert_allclose(back.score(x[60:]), ease.score(x[60:]), atol=1e-6)
    Popularity().fit(x[:60], seed=0, progress=False).save(tmp_path / "pop")
    assert isinstance(load_saved_model(tmp_path / "pop", device="cpu"), Popularity)


def test_load_baseline_points_grounded_steering_to_the_registry(steering, tmp_path):
    steering.save(tmp_path / "gs")
    with pytest.raises(DataError, match="load_saved_model"):
        load_baseline(tmp_path / "gs", device="cpu")
    with pytest.raises(TypeError, match="load_saved_model"):
        GroundedSteering._from_dir(tmp_path / "gs", {}, None)


def test_unknown_kind_is_named(steering, tmp_path):
    out = steering.save(tmp_path / "gs")
    meta = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**meta, "model": "mystery-net"}))
    with pytest.raises(DataError, match=r"'mystery-net'.*training\.train"):
        load_saved_model(out, device="cpu")


def test_a_base_of_the_wrong_kind_is_refused(steering, parts, tmp_path):
    out = steering.save(tmp_path / "gs")
    Popularity().fit(parts[0][:60], seed=0, progress=False).save(out / "base0")
    with pytest.raises(ConfigError, match=r"do not match config\.bases"):
        load_saved_model(out, device="cpu")
