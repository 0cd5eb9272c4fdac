"""A tiny synthetic world where tags are audible: APRON must learn it and obey edits."""

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from apron_core import metrics
from apron_core.bundle import DemoListener, load_bundle, save_bundle
from apron_core.encoders import get_encoder
from apron_core.errors import ConfigError, DataError
from apron_core.model import ApronConfig, keep_rest_loss, zero_tag_rows
from apron_core.prototypes import Prototype
from apron_core.tags import TAG_NAMES, K, category_of
from apron_core.training import TrainConfig, profile_scorer, profiles_of, train_apron

N_SONGS, D, N_USERS = 240, 261, 400


def _world(seed=0):
    """Each song carries one of 8 genre tags; embeddings = tag direction + noise."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(K, D))
    genre = rng.integers(0, 8, size=N_SONGS) + TAG_NAMES.index("rock")
    songs = directions[genre] + 0.3 * rng.normal(size=(N_SONGS, D))
    song_tags = np.zeros((N_SONGS, K), dtype=np.float32)
    song_tags[np.arange(N_SONGS), genre] = 1
    rows, cols = [], []
    for u in range(N_USERS):
        liked = rng.choice(np.arange(8) + TAG_NAMES.index("rock"), size=2, replace=False)
        pool = np.flatnonzero(np.isin(genre, liked))
        picks = rng.choice(pool, size=20, replace=False)
        rows += [u] * len(picks)
        cols += list(picks)
    x = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(N_USERS, N_SONGS))
    return songs.astype(np.float32), directions.astype(np.float32), song_tags, x


def _holdout(x, rng):
    tr, te = x.copy().tolil(), sp.lil_matrix(x.shape, dtype=np.float32)
    for u in range(x.shape[0]):
        idx = x[u].indices
        held = rng.choice(idx, size=5, replace=False)
        for j in held:
            tr[u, j] = 0
            te[u, j] = 1
    return tr.tocsr(), te.tocsr()


@pytest.fixture(scope="module")
def trained():
    songs, protos, song_tags, x = _world()
    rng = np.random.default_rng(1)
    train, held = x[:300], x[300:]
    valid = _holdout(held, rng)
    cfg = ApronConfig(n_songs=N_SONGS, emb_dim=D, d_model=64, n_heads=4, hidden=(64,), dropout=0.2)
    tc = TrainConfig(epochs=40, batch_size=50, lr=3e-3, lambda_control=5.0, patience=40)
    res = train_apron(
        cfg,
        tc,
        prototypes=protos,
        songs=songs,
        song_tags=song_tags,
        train=train,
        valid=valid,
        device="cpu",
        progress=False,
    )
    return res, valid, song_tags


def test_tiny_model_learns_the_tiny_world(trained):
    res, valid, _ = trained
    first, best = res.log[0]["val_ndcg@100"], res.best_val_ndcg
    assert best > first + 0.05
    scores = metrics.mask_fold_in(
        res.model.forward_profile(torch.zeros(1, K)).detach().numpy().repeat(valid[0].shape[0], 0),
        valid[0],
    )
    popularity_like = np.nanmean(metrics.ndcg_at_k(scores, valid[1], 100))
    assert best > popularity_like + 0.1
    assert [r["epoch"] for r in res.log] == list(range(1, len(res.log) + 1))


def test_zeroing_a_tag_lowers_its_share(trained):
    res, valid, song_tags = trained
    prof = profiles_of(res.model, valid[0], device=torch.device("cpu"))
    score = profile_scorer(res.model, torch.device("cpu"))
    top_tag = prof.argmax(1)
    before = metrics.top_k(metrics.mask_fold_in(score(prof), valid[0]), 20)
    edited = metrics.scale_tag_rows(prof, top_tag, 0.0)
    after = metrics.top_k(metrics.mask_fold_in(score(edited), valid[0]), 20)
    share = lambda top: song_tags[top, top_tag[:, None]].mean()  # noqa: E731
    assert share(after) < share(before) - 0.2


def test_bundle_round_trip_and_errors(trained, tmp_path):
    res, _, song_tags = trained
    catalog = pd.DataFrame(
        {
            "song_id": [f"S{i:03d}" for i in range(N_SONGS)],
            "title": "t",
            "artist": "a",
            "year": 1990,
            "tags": [[TAG_NAMES[int(np.argmax(r))]] for r in song_tags],
            "true_tags": [[TAG_NAMES[int(np.argmax(r))]] for r in song_tags],
            "spec": [{"song_id": f"S{i:03d}"} for i in range(N_SONGS)],
        }
    )
    protos = [
        Prototype(t, category_of(t), "S000", 1.0, 10.0, "most_listened", 1, f"{i}.ogg")
        for i, t in enumerate(TAG_NAMES)
    ]
    enc = get_encoder("librosa").fit_normalization(np.random.default_rng(0).normal(size=(5, D)))
    listeners = [DemoListener("U1", "rock lover", ["S001", "S002"])]
    out = save_bundle(
        tmp_path / "b",
        res.model,
        catalog=catalog,
        prototypes=protos,
        encoder=enc,
        demo_listeners=listeners,
        evaluation={"x": 1.0},
        meta={"seed": 0},
    )
    b = load_bundle(out)
    p = torch.softmax(torch.randn(3, K), -1)
    torch.testing.assert_close(b.model.forward_profile(p), res.model.forward_profile(p))
    assert b.demo_listeners == listeners and b.evaluation == {"x": 1.0}
    assert b.song_tags.shape == (N_SONGS, K)

    meta = json.loads((out / "bundle.json").read_text())
    (out / "bundle.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(DataError, match="format version 99"):
        load_bundle(out)
    (out / "bundle.json").write_text(json.dumps(meta))
    (out / "demo_listeners.json").write_text(
        json.dumps([{"listener_id": "U", "description": "", "history": ["nope"]}])
    )
    with pytest.raises(DataError, match="unknown songs"):
        load_bundle(out)
    (out / "demo_listeners.json").write_text("[]")
    (out / "catalog.jsonl").write_text(
        "\n".join((out / "catalog.jsonl").read_text().splitlines()[:-1]) + "\n"
    )
    with pytest.raises(DataError, match="mismatched shapes"):
        load_bundle(out)
    (out / "model.safetensors").unlink()
    with pytest.raises(DataError, match="missing file"):
        load_bundle(out)
    with pytest.raises(DataError, match="not a folder"):
        load_bundle(tmp_path / "nowhere")


def test_edit_consistency_training_lowers_the_reshuffle():
    """λ_edit > 0 logs the edit terms, and its keep-the-rest term ends lower than without."""
    songs, protos, song_tags, x = _world()
    rng = np.random.default_rng(1)
    valid = _holdout(x[300:], rng)
    cfg = ApronConfig(n_songs=N_SONGS, emb_dim=D, d_model=32, n_heads=4, hidden=(32,), dropout=0.2)
    kw = dict(prototypes=protos, songs=songs, song_tags=song_tags, train=x[:300], valid=valid)
    keep = {}
    for lam in (0.0, 50.0):
        tc = TrainConfig(epochs=12, batch_size=50, lr=3e-3, lambda_control=5.0, lambda_edit=lam)
        res = train_apron(cfg, tc, device="cpu", progress=False, **kw)
        if lam:
            assert {"edit_control", "edit_keep"} <= set(res.log[-1])
        prof = torch.from_numpy(profiles_of(res.model, valid[0], device=torch.device("cpu")))
        tag = prof.argmax(1)
        with torch.no_grad():
            before = res.model.forward_profile(prof)
            after = res.model.forward_profile(zero_tag_rows(prof, tag))
        removed = torch.from_numpy(song_tags[:, tag.numpy()].T > 0)
        keep[lam] = keep_rest_loss(before, after, removed).item()
    assert keep[50.0] < keep[0.0]


@pytest.mark.parametrize(
    ("setting", "match"),
    [
        ({"recon": "mse"}, "recon='mse'"),
        ({"history_dropout": 1.0}, r"history_dropout=1\.0 must be a finite number ≥ 0 and < 1"),
        ({"lambda_edit": -1.0}, r"lambda_edit=-1\.0 .*≥ 0"),
        ({"edit_top_n": 0}, "edit_top_n=0 must be a whole number from 1 to 80"),
        ({"epochs": 2.5}, r"epochs=2\.5 must be a whole number ≥ 1"),
        ({"patience": 0}, "patience=0"),
        ({"lr": 0.0}, r"lr=0\.0 must be a finite number > 0"),
        ({"seed": -1}, "seed=-1"),
        ({"detach_profile_in_control": "yes"}, "detach_profile_in_control='yes'"),
    ],
)
def test_train_config_validation(setting, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**setting)
