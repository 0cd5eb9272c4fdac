"""Grounded steering: the log-ratio edit, the model's scores and profiles, files, the engine."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from apron_core import metrics
from apron_core.baselines import EASE
from apron_core.encoders import get_encoder
from apron_core.engine import Engine
from apron_core.errors import ConfigError, DataError
from apron_core.saved_models import load_saved_model
from apron_core.steering import (
    GroundedSteering,
    SteeringConfig,
    log_ratio,
    standardize,
)
from apron_core.tags import K

N_SONGS = 120
DIM = get_encoder("librosa").dim  # so a bundle can carry the toy model


@pytest.fixture(scope="module")
def world():
    """Songs whose embedding says their tags (tag k ↔ prototype k), tags seen half the
    time, and listeners who play songs of a few tags."""
    rng = np.random.default_rng(7)
    protos = rng.normal(size=(K, DIM)).astype(np.float32)
    truth = np.zeros((N_SONGS, K), np.float32)
    truth[np.arange(N_SONGS), rng.integers(0, K, N_SONGS)] = 1
    truth[np.arange(N_SONGS), rng.integers(0, K, N_SONGS)] = 1
    songs = truth @ protos / truth.sum(1, keepdims=True) + 0.1 * rng.normal(size=(N_SONGS, DIM))
    observed = truth * (rng.random(truth.shape) < 0.5)
    users = []
    for _ in range(300):
        liked = rng.choice(K, 4, replace=False)
        pool = np.flatnonzero(truth[:, liked].sum(1) > 0)
        pool = pool if pool.size >= 6 else np.arange(N_SONGS)
        users.append(rng.choice(pool, min(8, pool.size), replace=False))
    rows = np.repeat(np.arange(len(users)), [len(u) for u in users])
    x = sp.csr_matrix(
        (np.ones(rows.size, np.float32), (rows, np.concatenate(users))),
        shape=(len(users), N_SONGS),
    )
    return songs.astype(np.float32), protos, observed, truth, x


@pytest.fixture(scope="module")
def model(world) -> GroundedSteering:
    songs, protos, observed, _, x = world
    m = GroundedSteering(bases=("ease",), grounding={"epochs": 150, "d_model": 16, "folds": 3})
    m.set_catalog(songs, protos, observed)
    return m.fit(x[:250], seed=0, device="cpu", progress=False)


# ---------------------------------------------------------------- the edit
def test_unedited_profile_moves_nothing(rng) -> None:
    p = rng.dirichlet(np.ones(K), size=4)
    r = log_ratio(torch.from_numpy(p), torch.from_numpy(p), 1e-3, undo=True)
    assert torch.all(r == 0)


def test_zeroing_a_tag_reads_as_that_tag_alone(rng) -> None:
    p0 = rng.dirichlet(np.ones(K), size=3)
    t = p0.argmax(1)  # a top tag, as the Δ metric edits
    edited = metrics.scale_tag_rows(p0, t, 0.0)
    r = log_ratio(torch.from_numpy(edited), torch.from_numpy(p0), 1e-3, undo=True).numpy()
    rows = np.arange(3)
    common = np.log(1.0 / (1.0 - p0[rows, t]))  # what renormalizing did to every other tag
    np.testing.assert_allclose(r[rows, t], np.log(1e-3 / p0[rows, t]) - common, rtol=1e-9)
    others = np.ones_like(r, dtype=bool)
    others[rows, t] = False
    big = p0 >= 1e-3  # tags floored on both sides are not moved either way
    np.testing.assert_allclose(r[others & big], 0.0, atol=1e-12)
    # without the undo, every other tag reads as raised by the renormalization
    kept = log_ratio(torch.from_numpy(edited), torch.from_numpy(p0), 1e-3, undo=False).numpy()
    assert np.all(kept[others & big] > 0)


@pytest.mark.parametrize("factor", [0.5, 2.0, 4.0])
def test_scaling_a_tag_reads_as_log_factor(rng, factor: float) -> None:
    p0 = rng.dirichlet(np.full(K, 20.0), size=2)  # every tag well above the floor
    edited = metrics.scale_tag_rows(p0, np.array([5, 6]), factor)
    r = log_ratio(torch.from_numpy(edited), torch.from_numpy(p0), 1e-3, undo=True).numpy()
    np.testing.assert_allclose(r[[0, 1], [5, 6]], np.log(factor), atol=1e-9)
    assert np.abs(np.delete(r[0], 5)).max() < 1e-9


def test_standardize_rows(rng) -> None:
    s = torch.from_numpy(rng.normal(3.0, 5.0, size=(4, 50)))
    z = standardize(s)
    np.testing.assert_allclose(z.mean(-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.pow(2).mean(-1), 1.0, atol=1e-12)
    assert torch.all(standardize(torch.ones(2, 5)) == 0)  # a constant row has no spread


# ---------------------------------------------------------------- the model
def test_unedited_scores_are_the_base_ranking(model, world) -> None:
    x = world[4][250:]
    plain = model.score(x)
    p0 = model.profiles(x)
    np.testing.assert_array_equal(model.score_with_control(x, p0), plain)
    base = model.bases[0].score(x)
    np.testing.assert_array_equal(  # standardizing never reorders a listener's songs
        metrics.top_k(plain, 20), metrics.top_k(base, 20)
    )


def test_profiles_are_the_histories_affinity_mix(model, world) -> None:
    x = world[4][250:260]
    p = model.profiles(x)
    np.testing.assert_allclose(p.sum(1), 1.0)
    a = model.affinity().numpy()
    want = x.toarray() @ a
    np.testing.assert_allclose(p, want / want.sum(1, keepdims=True), rtol=1e-5)
    empty = sp.csr_matrix((2, N_SONGS), dtype=np.float32)
    np.testing.assert_allclose(model.profiles(empty), 1.0 / K)


def test_affinity_is_audio_plus_observed(model, world) -> None:
    _, _, observed, truth, _ = world
    a = model.affinity().numpy()
    assert np.all(a[observed > 0] == 1.0)
    np.testing.assert_allclose(a[observed == 0], model.crossfit[observed == 0])
    # the audio finds untagged true tags: they rank above untagged false ones on average
    hidden = (observed == 0) & (truth > 0)
    assert a[hidden].mean() > 3 * a[(observed == 0) & (truth == 0)].mean()
    unobserved = model.with_config(observed=False).affinity().numpy()
    np.testing.assert_allclose(unobserved, model.crossfit)


def test_zeroing_a_tag_sinks_its_songs(model, world) -> None:
    x = world[4][250:]
    p0 = model.profiles(x)
    t = p0.argmax(1)
    edited = metrics.scale_tag_rows(p0, t, 0.0)
    before = metrics.top_k(metrics.mask_fold_in(model.score(x), x), 10)
    after = metrics.top_k(metrics.mask_fold_in(model.score_with_control(x, edited), x), 10)
    a = model.affinity().numpy()
    assert a[after, t[:, None]].mean() < 0.5 * a[before, t[:, None]].mean()


def test_stronger_beta_steers_harder(model, world) -> None:
    x = world[4][250:]
    p0 = model.profiles(x)
    edited = metrics.scale_tag_rows(p0, p0.argmax(1), 0.0)
    a = model.affinity().numpy()
    shares = []
    for beta in (0.0, 0.5, 3.0):
        m = model.with_config(beta=beta)
        top = metrics.top_k(metrics.mask_fold_in(m.score_with_control(x, edited), x), 10)
        shares.append(a[top, p0.argmax(1)[:, None]].mean())
    assert shares[0] > shares[1] > shares[2]


def test_save_and_load(model, world, tmp_path) -> None:
    x = world[4][250:]
    model.save(tmp_path / "gs")
    back = load_saved_model(tmp_path / "gs", device="cpu")
    assert isinstance(back, GroundedSteering) and back.config == model.config
    p = metrics.scale_tag_rows(model.profiles(x), np.zeros(len(x.indptr) - 1, int), 2.0)
    np.testing.assert_allclose(
        back.score_with_control(x, p), model.score_with_control(x, p), atol=1e-6
    )
    np.testing.assert_allclose(back.profiles(x), model.profiles(x), atol=1e-7)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"renormalization": "sometimes"}, "renormalization='sometimes'"),
        ({"bases": ("ease", "recvae")}, "same length"),
        ({"floor": 0.5}, "floor"),
        ({"beta": -1.0}, "beta"),
        ({"grounding": {"folds": 1}}, "folds"),
        ({"grounding": {"depth": 3}}, "depth"),
    ],
)
def test_bad_config(overrides: dict, match: str) -> None:
    with pytest.raises((ConfigError, TypeError), match=match):
        SteeringConfig(**overrides)


def test_fit_needs_the_catalog(world) -> None:
    with pytest.raises(ConfigError, match="set_catalog"):
        GroundedSteering(bases=("ease",)).fit(world[4], seed=0, progress=False)
    with pytest.raises(DataError, match="song_tags has shape"):
        GroundedSteering().set_catalog(world[0], world[1], world[2][:, :5])


def test_given_bases_are_reused(world) -> None:
    songs, protos, observed, _, x = world
    ease = EASE(lam=50.0).fit(x, seed=0)
    m = GroundedSteering(bases=("ease",), grounding={"epochs": 20, "folds": 2})
    m.set_catalog(songs, protos, observed).use_bases([ease])
    m.fit(x, seed=0, progress=False)
    assert m.bases[0] is ease
    with pytest.raises(ConfigError, match="do not match"):
        m.use_bases([EASE(), EASE()])


# ---------------------------------------------------------------- the engine
@pytest.fixture(scope="module")
def engine(model) -> Engine:
    return Engine.from_parts(model, [f"S{i:03d}" for i in range(N_SONGS)], model.song_tags)


def test_engine_scores_are_the_models(engine, model, world) -> None:
    x = world[4][250:251]
    history = [engine.song_ids[i] for i in x.indices]
    p0 = engine.profile(history)
    np.testing.assert_allclose(p0, model.profiles(x)[0], atol=1e-6)
    edited = metrics.scale_tag_rows(p0[None], np.array([int(p0.argmax())]), 0.0)[0]
    rec = engine.recommend(edited, k=15, exclude=history)
    want = metrics.mask_fold_in(model.score_with_control(x, edited[None]), x)[0]
    np.testing.assert_array_equal(rec.indices, np.argsort(-want, kind="stable")[:15])
    np.testing.assert_allclose(rec.scores, want[rec.indices], atol=1e-4)
    # history= given explicitly reads the same listener; excluding nothing changes the list only
    same = engine.recommend(edited, k=15, exclude=history, history=history)
    np.testing.assert_array_equal(same.indices, rec.indices)
    free = engine.recommend(edited, k=15, history=history)  # same listener, nothing excluded
    unmasked = model.score_with_control(x, edited[None])[0]
    np.testing.assert_array_equal(free.indices, np.argsort(-unmasked, kind="stable")[:15])


def test_engine_explanations_add_up(engine, world) -> None:
    x = world[4][251:252]
    history = [engine.song_ids[i] for i in x.indices]
    p0 = engine.profile(history)
    for profile in (p0, metrics.scale_tag_rows(p0[None], np.array([3]), 4.0)[0]):
        rec = engine.recommend(profile, k=10, exclude=history)
        for e, score in zip(rec.explanations, rec.scores, strict=True):
            assert e.score == pytest.approx(float(score), abs=1e-6)
            assert e.contributions.sum() + e.baseline_score == pytest.approx(e.score, abs=1e-4)
        one = engine.explain(rec.song_ids[2], profile, top=3, history=history)
        np.testing.assert_allclose(one.contributions, rec.explanations[2].contributions)


def test_engine_contributions_follow_the_profile(engine, model) -> None:
    """With no history the reference is the uniform profile: a tag raised above the others
    lifts the songs that have it, in proportion to their affinity, and nothing else moves
    (the others' common factor is undone); the uniform profile scores the base alone."""
    p = np.full(K, 0.5 / (K - 1))
    p[7] = 0.5
    rec = engine.recommend(p, k=5)
    a = model.affinity().numpy()
    lift = np.log(0.5) - np.log(0.5 / (K - 1))  # tag 7 against the others
    for e, row in zip(rec.explanations, rec.indices, strict=True):
        want = np.zeros(K)
        want[7] = model.config.beta * a[row, 7] * lift
        np.testing.assert_allclose(e.contributions, want, rtol=1e-6, atol=1e-9)
    assert all(7 in [t for t, _ in e.top] for e in rec.explanations[:3])
    flat = engine.recommend(np.full(K, 1.0 / K), k=5)
    assert all(np.allclose(e.contributions, 0.0) for e in flat.explanations)


def test_engine_uploads_use_the_grounding(engine, model, world) -> None:
    songs = world[0]
    p = engine.profile(embeddings=songs[:3])
    with torch.inference_mode():
        mass = model.grounding(torch.from_numpy(songs[:3])).double().sum(0).numpy()
    np.testing.assert_allclose(p, mass / mass.sum(), rtol=1e-5)
    with pytest.raises(DataError, match="shape"):
        engine.profile(embeddings=np.zeros((2, DIM + 1)))


def test_engine_bundle_roundtrip(model, world, tmp_path) -> None:
    import pandas as pd

    from apron_core.bundle import load_bundle, save_bundle
    from apron_core.prototypes import Prototype

    songs = world[0]
    ids = [f"S{i:03d}" for i in range(N_SONGS)]
    catalog = pd.DataFrame(
        {
            "song_id": ids,
            "title": ids,
            "artist": ["a"] * N_SONGS,
            "year": [2000] * N_SONGS,
            "tags": [[] for _ in ids],
            "true_tags": [[] for _ in ids],
            "spec": [None] * N_SONGS,
        }
    )
    encoder = get_encoder("librosa").fit_normalization(songs[:5])
    protos = [Prototype("t", "genre", ids[0], 0.0, 0.0, "r", 1, "f.ogg")] * K
    out = save_bundle(
        tmp_path / "b",
        model,
        catalog=catalog,
        prototypes=protos,
        encoder=encoder,
        demo_listeners=[],
        evaluation={},
        meta={},
    )
    b = load_bundle(out)
    assert b.kind == "grounded-steering" and b.config == model.config
    np.testing.assert_allclose(b.model.songs, songs)
    x = world[4][250:]
    p = model.profiles(x)
    np.testing.assert_allclose(
        b.model.score_with_control(x, p[::-1].copy()),
        model.score_with_control(x, p[::-1].copy()),
        atol=1e-6,
    )
    (out / "model" / "weights.safetensors").unlink()
    with pytest.raises(DataError, match="missing file"):
        load_bundle(out)


def test_benchmark_builds_an_untrained_engine_of_either_kind(rng) -> None:
    from benchmarks.bench_recommend import synthetic_engine

    for cfg in (SteeringConfig(), SteeringConfig(bases=("ease", "recvae"), base_weights=(1, 1))):
        e = synthetic_engine(150, cfg, seed=0, device="cpu", emb_dim=12)
        assert e.kind == "grounded-steering" and e.n_songs == 150
        history = e.song_ids[:20]
        p = e.profile(history)
        rec = e.recommend(p, k=10, exclude=history)
        assert len(rec.song_ids) == 10 and not set(rec.song_ids) & set(history)


def test_engine_unedited_profile_lists_the_base_ranking(engine, model, world) -> None:
    x = world[4][252:253]
    history = [engine.song_ids[i] for i in x.indices]
    rec = engine.recommend(engine.profile(history), k=20, exclude=history)
    base = metrics.mask_fold_in(model.bases[0].score(x), x)[0]
    np.testing.assert_array_equal(rec.indices, np.argsort(-base, kind="stable")[:20])
