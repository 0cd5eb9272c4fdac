"""Baselines on a small clustered world: 600 users in 4 taste clusters over 240 songs.

Each cluster favors its own block of 60 songs (popularity-skewed inside the block)
plus a few random songs, so any model that reads a user's history beats Popularity.
Neural models use a small architecture here so the whole file runs in seconds.
"""

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from apron_core import metrics
from apron_core.baselines import (
    BASELINES,
    EASE,
    FORMAT_VERSION,
    MultVAE,
    Popularity,
    TagFilter,
    load_baseline,
    make_baseline,
    tune_ease,
    validation_ndcg,
)
from apron_core.data import heldout_matrices, split_strong_generalization, train_matrix
from apron_core.errors import ConfigError, DataError
from apron_core.tags import K

N_ITEMS, N_CLUSTERS = 240, 4
BLOCK = N_ITEMS // N_CLUSTERS
SMALL = {"hidden_dims": (64,), "latent_dim": 32, "batch_size": 50}
CONFIGS = {
    "popularity": {},
    "ease": {"lam": 100.0},
    "mult-dae": {**SMALL, "epochs": 20, "l2": 0.0},
    "mult-vae": {**SMALL, "epochs": 20},
    "recvae": {"hidden_dim": 64, "latent_dim": 32, "batch_size": 50, "epochs": 6},
}
NEURAL = ("mult-dae", "mult-vae", "recvae")


def clustered_interactions(seed: int = 0, n_users: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, BLOCK + 1) ** 0.5
    weights /= weights.sum()
    rows = []
    for u in range(n_users):
        c = u % N_CLUSTERS
        liked = c * BLOCK + rng.choice(BLOCK, rng.integers(15, 30), replace=False, p=weights)
        noise = rng.choice(N_ITEMS, rng.integers(2, 6), replace=False)
        rows += [(f"u{u:04d}", f"s{i:03d}") for i in sorted(set(liked) | set(noise))]
    return pd.DataFrame(rows, columns=["user_id", "song_id"])


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny nets: one thread is as fast, and avoids OpenMP thrashing on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    split = split_strong_generalization(clustered_interactions(), n_heldout_users=100, seed=1)
    assert len(split.unique_sid) == N_ITEMS
    return {
        "train": train_matrix(split),
        "valid": heldout_matrices(split, "validation"),
        "test": heldout_matrices(split, "test"),
        "song_ids": split.unique_sid,
    }


@pytest.fixture(scope="module")
def fitted(data):
    return {
        name: make_baseline(name, **cfg).fit(
            data["train"], valid=data["valid"], seed=0, progress=False
        )
        for name, cfg in CONFIGS.items()
    }


@pytest.fixture(scope="module")
def song_tags(data):
    """Observed tags: song in block c carries tag c; 10 % of songs one random extra tag."""
    rng = np.random.default_rng(3)
    block = np.array([int(s[1:]) // BLOCK for s in data["song_ids"]])
    tags = np.zeros((N_ITEMS, K), dtype=np.float32)
    tags[np.arange(N_ITEMS), block] = 1
    extra = rng.random(N_ITEMS) < 0.1
    tags[np.flatnonzero(extra), rng.integers(N_CLUSTERS, K, extra.sum())] = 1
    return tags


# --------------------------------------------------------------------------- registry


def test_registry_names():
    assert set(BASELINES) == {
        *("popularity", "ease", "mult-dae", "mult-vae", "recvae"),
        *("macridvae", "sem-macridvae"),  # tests/baselines/test_macridvae.py
    }
    for name in BASELINES:
        assert make_baseline(name).name == name


def test_unknown_name_lists_the_names():
    with pytest.raises(ConfigError, match=r"unknown baseline 'svd'.*mult-vae"):
        make_baseline("svd")


@pytest.mark.parametrize(
    ("name", "overrides", "match"),
    [
        ("ease", {"lambda": 5.0}, "no field"),
        ("ease", {"lam": -1.0}, "lam=-1.0"),
        ("mult-vae", {"dropout": 1.0}, "dropout"),
        ("mult-dae", {"epochs": 0}, "epochs=0"),
        ("mult-dae", {"epochs": 2.0}, r"epochs=2\.0 must be a whole number"),
        ("mult-vae", {"lr": float("nan")}, "lr=nan must be a finite number > 0"),
        ("recvae", {"mixture_weights": (0.5, -0.5, 1.0)}, r"mixture_weights entry=-0\.5"),
        ("recvae", {"gamma": None}, "gamma"),
        ("recvae", {"mixture_weights": (0.5, 0.5, 0.5)}, "sum to 1"),
    ],
)
def test_bad_config_raises(name, overrides, match):
    with pytest.raises(ConfigError, match=match):
        make_baseline(name, **overrides)


def test_paper_defaults():
    vae, rec, ease = make_baseline("mult-vae"), make_baseline("recvae"), make_baseline("ease")
    assert (vae.config.hidden_dims, vae.config.latent_dim, vae.config.anneal_cap) == (
        (600,),
        200,
        0.2,
    )
    assert (vae.config.lr, vae.config.batch_size, vae.config.dropout) == (1e-3, 500, 0.5)
    assert rec.config.mixture_weights == (3 / 20, 15 / 20, 2 / 20)
    assert (rec.config.gamma, rec.config.lr, rec.config.n_enc_epochs) == (0.005, 5e-4, 3)
    assert ease.config.lam == 500.0


# --------------------------------------------------------------------------- inputs


def test_fit_rejects_dense_input():
    with pytest.raises(DataError, match="scipy sparse"):
        make_baseline("popularity").fit(np.ones((3, 4)), seed=0)


def test_score_before_fit_raises(data):
    with pytest.raises(ConfigError, match="not fitted"):
        make_baseline("ease").score(data["test"][0])


def test_score_rejects_other_catalog(fitted):
    with pytest.raises(DataError, match="240"):
        fitted["ease"].score(sp.csr_matrix((2, N_ITEMS + 1), dtype=np.float32))


# --------------------------------------------------------------------------- quality


def test_fit_rejects_an_unknown_device(data):
    with pytest.raises(ConfigError, match="device='tpu'"):
        make_baseline("ease").fit(data["train"], seed=0, device="tpu", progress=False)
    with pytest.raises(ConfigError, match="device='tpu'"):
        make_baseline("popularity").fit(data["train"], seed=0, device="tpu", progress=False)


def test_validation_ndcg_breaks_ties_like_the_evaluation():
    """Popularity ties: songs 1, 2, 3 are each played once. The evaluation ranks tied
    songs by index, so for a user who played song 0 (masked) and held out song 3 the list
    is 1, 2, 3, 4, 0: song 3 at rank 3, NDCG = 1/log2(4) = 0.5 (a catalog of 5 songs caps
    NDCG@100 at NDCG@5). The user without a held-out song is skipped."""
    train = sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [1, 0, 1, 0, 0], [0, 0, 0, 1, 0]]))
    model = Popularity().fit(train, seed=0, progress=False)
    fold_in = sp.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0]], dtype=np.float32))
    heldout = sp.csr_matrix(np.array([[0, 0, 0, 1, 0], [0, 0, 0, 0, 0]], dtype=np.float32))
    assert validation_ndcg(model, fold_in, heldout) == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_scores_shape_and_dtype(fitted, data, name):
    fold_in = data["test"][0]
    scores = fitted[name].score(fold_in, batch_users=37)  # several blocks
    assert scores.shape == (fold_in.shape[0], N_ITEMS)
    assert scores.dtype == np.float32
    assert np.all(np.isfinite(scores))
    np.testing.assert_allclose(scores, fitted[name].score(fold_in), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("name", "margin"), [("ease", 0.2), ("mult-dae", 0.2), ("mult-vae", 0.2),
                                              ("recvae", 0.05)])  # fmt: skip
def test_beats_popularity_on_test_users(fitted, data, name, margin):
    pop = validation_ndcg(fitted["popularity"], *data["test"])
    got = validation_ndcg(fitted[name], *data["test"])
    assert got > pop + margin, (name, got, pop)


@pytest.mark.parametrize("name", NEURAL)
def test_keeps_best_epoch(fitted, data, name):
    t = fitted[name].training
    best = max(r["val_ndcg@100"] for r in t["history"])
    assert t["best_val_ndcg@100"] == best
    assert validation_ndcg(fitted[name], *data["valid"]) == pytest.approx(best, abs=1e-6)


def test_early_stopping_stops(data):
    m = make_baseline("mult-vae", **SMALL, epochs=30, patience=1, lr=0.05)
    m.fit(data["train"], valid=data["valid"], seed=0, progress=False)
    t = m.training
    assert t["epochs_run"] < 30
    assert t["epochs_run"] == t["best_epoch"] + 1  # one epoch without a better NDCG, then stop


def test_vae_anneal_reaches_cap(data):
    m = MultVAE(**SMALL, epochs=2, total_anneal_steps=5)
    m.fit(data["train"], seed=0, progress=False)
    assert m.training["final_beta"] == pytest.approx(0.2)
    scaled = MultVAE(**SMALL, epochs=2).anneal_steps_for(400)  # 8 updates/epoch
    assert scaled == round(0.85 * 8 * 2 / 0.2)  # cap after 85 % of the updates


@pytest.mark.parametrize("name", NEURAL)
def test_same_seed_same_scores(fitted, data, name):
    cfg = {**CONFIGS[name], "epochs": 2}
    runs = [
        make_baseline(name, **cfg).fit(data["train"], seed=s, progress=False).score(data["test"][0])
        for s in (5, 5, 6)
    ]
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(runs[0], runs[2])


# --------------------------------------------------------------------------- EASE


def test_ease_matches_closed_form():
    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((50, 12)) < 0.3).astype(np.float32))
    m = EASE(lam=2.0).fit(x, seed=0, progress=False)
    g = (x.T @ x).toarray().astype(np.float64) + 2.0 * np.eye(12)
    p = np.linalg.inv(g)
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    assert m.B.dtype == np.float32
    np.testing.assert_allclose(m.B, b, atol=1e-5)
    np.testing.assert_allclose(m.score(x), x @ b, atol=1e-4)


def test_ease_zero_diagonal(fitted):
    assert np.all(np.diag(fitted["ease"].B) == 0.0)


def test_tune_ease_picks_best(data):
    best, results = tune_ease(data["train"], data["valid"], (10.0, 100.0, 1000.0), progress=False)
    assert set(results) == {10.0, 100.0, 1000.0}
    assert best.config.lam == max(results, key=results.get)
    assert validation_ndcg(best, *data["valid"]) == pytest.approx(results[best.config.lam])


# --------------------------------------------------------------------------- save / load


@pytest.mark.parametrize("name", list(CONFIGS))
def test_save_load_round_trip(fitted, data, tmp_path, name):
    out = fitted[name].save(tmp_path / name)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "weights.safetensors"]
    meta = json.loads((out / "config.json").read_text())
    assert (meta["model"], meta["format_version"], meta["n_items"]) == (
        name,
        FORMAT_VERSION,
        N_ITEMS,
    )
    loaded = load_baseline(out)
    assert type(loaded) is type(fitted[name]) and loaded.config == fitted[name].config
    fold_in = data["test"][0]
    np.testing.assert_array_equal(loaded.score(fold_in), fitted[name].score(fold_in))


def test_load_rejects_other_format_version(fitted, tmp_path):
    out = fitted["popularity"].save(tmp_path / "pop")
    meta = json.loads((out / "config.json").read_text())
    meta["format_version"] = FORMAT_VERSION + 1
    (out / "config.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="format_version"):
        load_baseline(out)


def test_load_missing_dir_raises(tmp_path):
    with pytest.raises(DataError, match="not a saved baseline"):
        load_baseline(tmp_path)


# --------------------------------------------------------------------------- control


@pytest.mark.parametrize("name", list(CONFIGS))
def test_plain_baselines_ignore_profiles(fitted, data, rng, name):
    fold_in = data["test"][0]
    profiles = rng.dirichlet(np.ones(K), size=fold_in.shape[0])
    np.testing.assert_array_equal(
        fitted[name].score_with_control(fold_in, profiles), fitted[name].score(fold_in)
    )
    with pytest.raises(DataError, match=r"profiles has shape \(100, 10\)"):
        fitted[name].score_with_control(fold_in, profiles[:, :10])


def test_tag_filter_without_edit_is_unchanged(fitted, data, song_tags):
    f = TagFilter(fitted["ease"], song_tags, strength=1.0)
    fold_in = data["test"][0]
    base = fitted["ease"].score(fold_in)
    p0 = f.profiles(fold_in)
    assert p0.shape == (fold_in.shape[0], K)
    np.testing.assert_allclose(p0.sum(axis=1), 1.0)
    np.testing.assert_array_equal(f.score_with_control(fold_in, p0), base)
    np.testing.assert_array_equal(f.score(fold_in), base)
    renormalized = p0 / p0.sum(axis=1, keepdims=True)  # round-off only
    np.testing.assert_array_equal(f.score_with_control(fold_in, renormalized), base)


def _zero_top_tag(p0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    top = p0.argmax(axis=1)
    p = p0.copy()
    p[np.arange(len(p)), top] = 0.0
    return p / p.sum(axis=1, keepdims=True), top


def test_tag_filter_edit_sinks_tagged_songs(fitted, data, song_tags):
    f = TagFilter(fitted["ease"], song_tags, strength=1.0)
    fold_in = data["test"][0]
    p0 = f.profiles(fold_in)
    p, top = _zero_top_tag(p0)
    base = f.score(fold_in)
    edited = f.score_with_control(fold_in, p)
    rank_base = (-base).argsort(axis=1).argsort(axis=1)
    rank_edit = (-edited).argsort(axis=1).argsort(axis=1)
    for u in range(fold_in.shape[0]):
        tagged = song_tags[:, top[u]] > 0
        assert rank_edit[u, tagged].mean() > rank_base[u, tagged].mean()
        spread = base[u].max() - base[u].min()  # strength 1: a hard filter (up to round-off)
        assert edited[u, tagged].max() <= edited[u, ~tagged].min() + 1e-6 * spread
    # a weaker filter moves them less; strength 0 changes nothing
    half = TagFilter(fitted["ease"], song_tags, strength=0.25).score_with_control(fold_in, p)
    rank_half = (-half).argsort(axis=1).argsort(axis=1)
    tagged_all = song_tags[:, top].T > 0  # (U, N)
    assert (
        rank_base[tagged_all].mean() < rank_half[tagged_all].mean() < rank_edit[tagged_all].mean()
    )
    zero = TagFilter(fitted["ease"], song_tags, strength=0.0).score_with_control(fold_in, p)
    np.testing.assert_array_equal(zero, base)


def test_tag_filter_uses_given_reference(fitted, data, song_tags, rng):
    f = TagFilter(fitted["ease"], song_tags)
    fold_in = data["test"][0]
    ref = rng.dirichlet(np.ones(K), size=fold_in.shape[0])
    np.testing.assert_array_equal(
        f.score_with_control(fold_in, ref, reference=ref), f.score(fold_in)
    )
    raised = ref * np.where(np.arange(K) == 0, 4.0, 1.0)
    raised /= raised.sum(axis=1, keepdims=True)
    boosted = f.score_with_control(fold_in, raised, reference=ref)
    tag0 = song_tags[:, 0] > 0
    base = f.score(fold_in)
    np.testing.assert_array_equal(boosted[:, tag0 & (song_tags.sum(1) == 1)],
                                  base[:, tag0 & (song_tags.sum(1) == 1)])  # fmt: skip
    assert (boosted[:, ~tag0] <= base[:, ~tag0]).all()


def test_tag_filter_save_load(fitted, data, song_tags, tmp_path):
    f = TagFilter(fitted["ease"], song_tags, strength=0.5)
    out = f.save(tmp_path / "ease-tags")
    loaded = load_baseline(out)
    assert isinstance(loaded, TagFilter) and loaded.config.strength == 0.5
    fold_in = data["test"][0]
    p, _ = _zero_top_tag(f.profiles(fold_in))
    np.testing.assert_array_equal(
        loaded.score_with_control(fold_in, p), f.score_with_control(fold_in, p)
    )


def test_tag_filter_checks_song_tags(fitted):
    with pytest.raises(DataError, match="song_tags has shape"):
        TagFilter(fitted["ease"], np.zeros((N_ITEMS, K - 1)))
    with pytest.raises(DataError, match="rows"):
        TagFilter(fitted["ease"], np.zeros((N_ITEMS - 1, K)))
    with pytest.raises(ConfigError, match="base must be"):
        TagFilter("ease", np.zeros((N_ITEMS, K)))


def test_tag_filter_fit_fits_base(data, song_tags):
    f = TagFilter(Popularity(), song_tags).fit(data["train"], seed=0, progress=False)
    assert f.n_items == N_ITEMS
    np.testing.assert_array_equal(f.score(data["test"][0])[0], f.base.counts)


@pytest.mark.parametrize("name", ["popularity", "ease"])  # popularity: many ties
def test_validation_ndcg_is_the_evaluations_ndcg(fitted, data, name):
    fold_in, heldout = data["test"]
    scores = fitted[name].score(fold_in)
    want = metrics.evaluate_accuracy(scores, fold_in, heldout, ks=(100,))["ndcg@100"]
    assert validation_ndcg(fitted[name], fold_in, heldout) == pytest.approx(want, rel=1e-12)
