"""MacridVAE and the tag-aligned SEM-MacridVAE on a small clustered world.

400 users in 4 taste clusters over 160 songs: cluster c plays mostly its own block of
40 songs, and every song of block c carries tag c (a quarter also carry tag 10, at
random), so concepts can line up with tags. Small nets keep the file fast.
"""

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from torch.nn import functional as F

from apron_core.baselines import (
    MacridVAE,
    SemMacridVAE,
    load_baseline,
    make_baseline,
    validation_ndcg,
)
from apron_core.data import heldout_matrices, split_strong_generalization, train_matrix
from apron_core.errors import ConfigError, DataError
from apron_core.metrics import scale_tag_rows as scale_tag
from apron_core.tags import K

N_ITEMS, N_CLUSTERS = 160, 4
BLOCK = N_ITEMS // N_CLUSTERS
EXTRA_TAG = 10
SMALL = {"latent_dim": 16, "batch_size": 50, "epochs": 12, "patience": None}
CONFIGS = {"macridvae": {**SMALL, "n_concepts": 4}, "sem-macridvae": SMALL}


def clustered_interactions(seed: int = 0, n_users: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        c = u % N_CLUSTERS
        liked = c * BLOCK + rng.choice(BLOCK, rng.integers(12, 24), replace=False)
        noise = rng.choice(N_ITEMS, rng.integers(1, 4), replace=False)
        rows += [(f"u{u:04d}", f"s{i:03d}") for i in sorted(set(liked) | set(noise))]
    return pd.DataFrame(rows, columns=["user_id", "song_id"])


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    split = split_strong_generalization(clustered_interactions(), n_heldout_users=80, seed=1)
    assert len(split.unique_sid) == N_ITEMS
    block = np.array([int(s[1:]) // BLOCK for s in split.unique_sid])
    tags = np.zeros((N_ITEMS, K), dtype=np.float32)
    tags[np.arange(N_ITEMS), block] = 1
    tags[np.random.default_rng(3).random(N_ITEMS) < 0.25, EXTRA_TAG] = 1
    features = np.random.default_rng(4).normal(size=(N_ITEMS, 12)).astype(np.float32)
    return {
        "train": train_matrix(split),
        "valid": heldout_matrices(split, "validation"),
        "test": heldout_matrices(split, "test"),
        "tags": tags,
        "block": block,
        "features": features,
    }


def _model(name: str, data, **overrides):
    return make_baseline(name, **{**CONFIGS[name], **overrides}).set_song_info(
        data["tags"], data["features"]
    )


@pytest.fixture(scope="module")
def fitted(data):
    return {
        name: _model(name, data).fit(data["train"], valid=data["valid"], seed=0, progress=False)
        for name in CONFIGS
    }


def _built(model: MacridVAE, n_items: int) -> MacridVAE:
    """A model with its net built (seeded) but not trained: for hand-set weights."""
    model.n_items = n_items
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model.net = model._build(n_items).eval()
    return model


# --------------------------------------------------------------------------- config


def test_paper_defaults():
    m = make_baseline("macridvae")
    c = m.config
    assert (c.n_concepts, c.latent_dim, c.tau, c.prior_std) == (7, 100, 0.1, 0.075)
    assert (c.anneal_cap, c.dropout, c.lr, c.gumbel) == (0.2, 0.5, 1e-3, True)
    assert isinstance(make_baseline("sem-macridvae"), SemMacridVAE)


@pytest.mark.parametrize(
    ("name", "overrides", "match"),
    [
        ("macridvae", {"n_concepts": 0}, "n_concepts=0"),
        ("macridvae", {"tau": 0.0}, "tau=0.0"),
        ("macridvae", {"prior_std": -1.0}, "prior_std=-1.0"),
        ("macridvae", {"hidden_dims": (0,)}, "hidden_dims entry=0"),
        ("sem-macridvae", {"use_song_features": "yes"}, "use_song_features='yes'"),
        ("sem-macridvae", {"n_concepts": 80}, "no field"),
    ],
)
def test_bad_config_raises(name, overrides, match):
    with pytest.raises(ConfigError, match=match):
        make_baseline(name, **overrides)


# --------------------------------------------------------------------------- inputs


def test_fit_needs_song_tags(data):
    with pytest.raises(ConfigError, match=r"set_song_info\(song_tags"):
        make_baseline("macridvae", **SMALL).fit(data["train"], seed=0, progress=False)


def test_sem_needs_features_unless_turned_off(data):
    m = make_baseline("sem-macridvae", **SMALL).set_song_info(data["tags"])
    with pytest.raises(ConfigError, match="use_song_features=false"):
        m.fit(data["train"], seed=0, progress=False)
    m = make_baseline("sem-macridvae", **{**SMALL, "epochs": 1, "use_song_features": False})
    m.set_song_info(data["tags"]).fit(data["train"], seed=0, progress=False)
    assert m.net.feature_proj is None


def test_bad_song_info_names_the_shape(data):
    m = make_baseline("macridvae")
    with pytest.raises(DataError, match=r"song_tags has shape \(160, 12\)"):
        m.set_song_info(data["tags"][:, :12])
    with pytest.raises(DataError, match="finite 0/1"):
        m.set_song_info(-data["tags"])
    with pytest.raises(DataError, match=r"song_features has shape \(5, 12\)"):
        make_baseline("sem-macridvae").set_song_info(data["tags"], data["features"][:5])
    m.set_song_info(data["tags"][:100])
    with pytest.raises(DataError, match="100 rows but the interactions have 160 songs"):
        m.fit(data["train"], seed=0, progress=False)


def test_bad_profiles_raise(fitted, data):
    fold_in = data["test"][0]
    with pytest.raises(DataError, match="profiles has shape"):
        fitted["sem-macridvae"].score_with_control(fold_in, np.ones((fold_in.shape[0], 10)))
    with pytest.raises(DataError, match="negative: weights must be"):
        fitted["macridvae"].concept_shares(fold_in, -np.ones((fold_in.shape[0], K)))


# --------------------------------------------------------------------------- hand checks


def test_sem_assignment_by_hand(data):
    """Single-tag song: all on its tag; two tags: softmax of cos/τ over them; none: all 80."""
    tags = np.zeros((3, K), dtype=np.float32)
    tags[0, 3] = 1
    tags[1, [1, 2]] = 1
    m = make_baseline("sem-macridvae", latent_dim=4, use_song_features=False)
    m = _built(m.set_song_info(tags), 3)
    with torch.no_grad():
        m.net.concepts.zero_()
        m.net.concepts[:, 0] = 1.0  # every concept along e0 ...
        m.net.concepts[1] = torch.tensor([0.0, 1.0, 0.0, 0.0])  # ... but tag 1 along e1
        m.net.items.copy_(torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]]))
    c = m.assignment()
    assert c.shape == (3, K)
    np.testing.assert_allclose(c.sum(axis=1), 1.0, rtol=1e-6)
    assert c[0, 3] == pytest.approx(1.0) and c[0].sum() == pytest.approx(1.0)
    # song 1 = e1: cos 1 with tag 1, 0 with tag 2 → e^10 / (e^10 + 1) on tag 1
    assert c[1, 1] == pytest.approx(np.exp(10) / (np.exp(10) + 1), rel=1e-5)
    assert c[1, 2] == pytest.approx(1 / (np.exp(10) + 1), rel=1e-4)
    assert c[1, [0, *range(3, K)]].sum() == 0.0
    # song 2 = e2: orthogonal to every concept → uniform over all 80
    np.testing.assert_allclose(c[2], 1.0 / K, rtol=1e-5)


def test_macridvae_assignment_by_hand(data):
    m = make_baseline("macridvae", n_concepts=2, latent_dim=2)
    m = _built(m.set_song_info(data["tags"][:2]), 2)
    with torch.no_grad():
        m.net.concepts.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        m.net.items.copy_(torch.tensor([[2.0, 0.0], [1.0, 1.0]]))  # cos (1, 0) and (.71, .71)
    c = m.assignment()
    assert c[0, 0] == pytest.approx(1 / (1 + np.exp(-10)), rel=1e-6)
    np.testing.assert_allclose(c[1], [0.5, 0.5], rtol=1e-6)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_sparse_encoder_matches_dense_definition(fitted, data, name):
    """First layer = Σ_i x̂_i c_ik W_i for every concept k (x̂: L2-normalized plays)."""
    m = fitted[name]
    x = torch.from_numpy(data["test"][0][:7].toarray())  # (7, N)
    with torch.no_grad():
        hn = m.net.item_reps()
        mu, ell = m.net.encode(x, m.net.log_assignment(hn, None), 0.0, None)
        dense_c = torch.from_numpy(m.assignment()).float()  # (N, K)
        h = torch.einsum("bn,nk,nh->bkh", F.normalize(x, dim=-1), dense_c, m.net.enc_in)
        h = h + m.net.enc_in_bias
    d = m.config.latent_dim
    assert mu.shape == ell.shape == (7, m.net.n_concepts, d)
    torch.testing.assert_close(ell, h[..., d:], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(mu, F.normalize(h[..., :d], dim=-1), rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- training


@pytest.mark.parametrize("name", list(CONFIGS))
def test_shapes(fitted, data, name):
    m, fold_in = fitted[name], data["test"][0]
    n_users, n_concepts = fold_in.shape[0], (4 if name == "macridvae" else K)
    scores = m.score(fold_in)
    assert scores.shape == (n_users, N_ITEMS) and scores.dtype == np.float32
    assert np.isfinite(scores).all()
    shares = m.concept_shares(fold_in)
    assert shares.shape == (n_users, n_concepts)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    profiles = m.profiles(fold_in)
    assert profiles.shape == (n_users, K) and (profiles >= 0).all()
    np.testing.assert_allclose(profiles.sum(axis=1), 1.0)
    assert m.assignment().shape == (N_ITEMS, n_concepts)
    assert m.concept_tags.shape == (n_concepts, K)


def test_sem_assignment_stays_on_observed_tags(fitted, data):
    c = fitted["sem-macridvae"].assignment()
    assert (c[data["tags"] == 0] == 0).all()
    np.testing.assert_allclose(c.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_training_lowers_the_loss(fitted, data, name):
    m = fitted[name]
    losses = [r["loss"] for r in m.training["history"]]
    assert losses[-1] < 0.9 * losses[0]
    # the deterministic likelihood of the train users, untrained net vs trained one
    x = torch.from_numpy(data["train"].toarray())
    untrained = _built(_model(name, data), N_ITEMS)
    with torch.no_grad():
        nll_before, _ = untrained.loss(x, None)
        nll_after, _ = m.loss(x, None)
    assert float(nll_after) < 0.9 * float(nll_before)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_beats_popularity(fitted, data, name):
    pop = make_baseline("popularity").fit(data["train"], seed=0)
    assert validation_ndcg(fitted[name], *data["test"]) > validation_ndcg(pop, *data["test"]) + 0.1


def test_same_seed_same_scores(fitted, data):
    again = _model("sem-macridvae", data).fit(
        data["train"], valid=data["valid"], seed=0, progress=False
    )
    fold_in = data["test"][0]
    np.testing.assert_array_equal(again.score(fold_in), fitted["sem-macridvae"].score(fold_in))


# --------------------------------------------------------------------------- control


@pytest.mark.parametrize("name", list(CONFIGS))
def test_unedited_profile_changes_nothing(fitted, data, name):
    m, fold_in = fitted[name], data["test"][0]
    p0 = m.profiles(fold_in)
    np.testing.assert_array_equal(m.score_with_control(fold_in, p0), m.score(fold_in))
    np.testing.assert_array_equal(
        m.score_with_control(fold_in, p0 / p0.sum(axis=1, keepdims=True), reference=p0),
        m.score(fold_in),
    )


def test_sem_edit_sets_the_concept_shares_exactly(fitted, data):
    """Zeroing tag t: concept t's share → 0, the others are p' (the edited profile)."""
    m, fold_in = fitted["sem-macridvae"], data["test"][0]
    p0 = m.profiles(fold_in)
    top = p0.argmax(axis=1)
    p = scale_tag(p0, top, 0.0)
    after = m.concept_shares(fold_in, p)
    np.testing.assert_allclose(after, p, atol=1e-12)
    assert (after[np.arange(len(top)), top] == 0).all()


def test_sem_edit_sinks_the_concepts_songs(fitted, data):
    """Zeroing tag t: songs assigned (almost) only to concept t leave the top-10."""
    m, fold_in = fitted["sem-macridvae"], data["test"][0]
    p0 = m.profiles(fold_in)
    top = p0[:, :N_CLUSTERS].argmax(axis=1)  # the user's cluster tag
    only_t = m.assignment()[:, top].T > 0.99  # (U, N)
    before = np.argsort(-m.score(fold_in), axis=1)[:, :10]
    after = np.argsort(-m.score_with_control(fold_in, scale_tag(p0, top, 0.0)), axis=1)[:, :10]
    assert np.take_along_axis(only_t, before, axis=1).mean() > 0.3
    assert np.take_along_axis(only_t, after, axis=1).sum() == 0


def test_macridvae_edit_lowers_the_concept_of_the_tag(fitted, data):
    """The concept that holds most of tag t loses share (g < 1 where Q_kt > p_t), and
    songs carrying t lose places in the top-20."""
    m, fold_in = fitted["macridvae"], data["test"][0]
    p0 = m.profiles(fold_in)
    top = p0[:, :N_CLUSTERS].argmax(axis=1)  # the user's cluster tag
    concept = m.concept_tags[:, :N_CLUSTERS].argmax(axis=0)[top]  # its concept
    rows = np.arange(len(top))
    w0 = m.concept_shares(fold_in)[rows, concept]
    w1 = m.concept_shares(fold_in, scale_tag(p0, top, 0.0))[rows, concept]
    assert (w1 < w0).all()
    tagged = data["tags"][:, top].T > 0  # (U, N)
    before = np.argsort(-m.score(fold_in), axis=1)[:, :20]
    after = np.argsort(-m.score_with_control(fold_in, scale_tag(p0, top, 0.0)), axis=1)[:, :20]
    assert (
        np.take_along_axis(tagged, after, 1).mean() < np.take_along_axis(tagged, before, 1).mean()
    )


@pytest.mark.parametrize("name", list(CONFIGS))
def test_raising_a_tag_raises_its_songs(fitted, data, name):
    m, fold_in = fitted[name], data["test"][0]
    p0 = m.profiles(fold_in)
    low = p0[:, :N_CLUSTERS].argmin(axis=1)  # a cluster tag the user hardly plays
    w0 = m.concept_shares(fold_in)
    w4 = m.concept_shares(fold_in, scale_tag(p0, low, 4.0))
    q = m.concept_tags[:, low].T  # (U, K): how much of each concept is the raised tag
    assert ((w4 * q).sum(axis=1) > (w0 * q).sum(axis=1)).all()


# --------------------------------------------------------------------------- files


@pytest.mark.parametrize("name", list(CONFIGS))
def test_save_load_round_trip(fitted, data, tmp_path, name):
    out = fitted[name].save(tmp_path / name)
    meta = json.loads((out / "config.json").read_text())
    assert (meta["model"], meta["n_items"]) == (name, N_ITEMS)
    loaded = load_baseline(out)
    assert type(loaded) is type(fitted[name]) and loaded.config == fitted[name].config
    fold_in = data["test"][0]
    np.testing.assert_array_equal(loaded.score(fold_in), fitted[name].score(fold_in))
    np.testing.assert_array_equal(loaded.profiles(fold_in), fitted[name].profiles(fold_in))
    np.testing.assert_array_equal(loaded.concept_tags, fitted[name].concept_tags)
    p = scale_tag(loaded.profiles(fold_in), np.zeros(fold_in.shape[0], dtype=int), 0.0)
    np.testing.assert_array_equal(
        loaded.score_with_control(fold_in, p), fitted[name].score_with_control(fold_in, p)
    )


def test_load_without_song_tags_raises(fitted, tmp_path):
    from safetensors.numpy import load_file, save_file

    out = fitted["macridvae"].save(tmp_path / "m")
    arrays = load_file(str(out / "weights.safetensors"))
    del arrays["song_tags"]
    save_file(arrays, str(out / "weights.safetensors"))
    with pytest.raises(DataError, match="lack song_tags"):
        load_baseline(out)


def test_scores_sparse_input_of_other_catalog_raise(fitted):
    with pytest.raises(DataError, match="160"):
        fitted["macridvae"].score(sp.csr_matrix((2, N_ITEMS + 1), dtype=np.float32))
