"""The evaluation harness on a tiny synthetic dataset: every model through one code path."""

import pandas as pd
import pytest
import torch

from apron_core import data
from apron_core.baselines import TagFilter, make_baseline
from apron_core.dataset import Dataset
from apron_core.encoders import get_encoder
from apron_core.evaluation import apron_candidate, baseline_candidate, evaluate_candidate
from apron_core.model import ApronConfig
from apron_core.tags import TAG_NAMES
from apron_core.training import TrainConfig, train_apron
from tests.test_training import N_SONGS, D, _world


@pytest.fixture(scope="module")
def dataset():
    songs, protos, song_tags, x = _world(seed=2)
    coo = x.tocoo()
    df = pd.DataFrame(
        {"user_id": [f"U{u:03d}" for u in coo.row], "song_id": [f"S{j:03d}" for j in coo.col]}
    )
    split = data.split_strong_generalization(df, n_heldout_users=60, seed=0)
    order = [int(s[1:]) for s in split.unique_sid]
    catalog = pd.DataFrame({"song_id": split.unique_sid})
    tags = song_tags[order]
    return Dataset(
        split=split,
        catalog=catalog,
        songs=songs[order],
        prototypes=protos,
        prototype_table=[],
        song_tags=tags,
        true_tags=tags,
        encoder=get_encoder("librosa"),
        source={},
    )


def test_apron_and_baselines_share_one_evaluation(dataset):
    assert dataset.n_songs == N_SONGS
    cfg = ApronConfig(n_songs=N_SONGS, emb_dim=D, d_model=64, n_heads=4, hidden=(64,), dropout=0.2)
    res = train_apron(
        cfg,
        TrainConfig(epochs=15, batch_size=50, lr=3e-3, lambda_control=5.0),
        prototypes=dataset.prototypes,
        songs=dataset.songs,
        song_tags=dataset.song_tags,
        train=dataset.train(),
        valid=dataset.heldout("validation"),
        device="cpu",
        progress=False,
    )
    apron = evaluate_candidate(
        apron_candidate(res.model, torch.device("cpu")), dataset, response_users=20
    )
    pop = make_baseline("popularity").fit(dataset.train(), seed=0, progress=False)
    tag_profiles = TagFilter(pop, dataset.song_tags).profiles
    popular = evaluate_candidate(
        baseline_candidate("popularity", pop, tag_profiles=tag_profiles), dataset, response_users=20
    )
    ease = make_baseline("ease", lam=50.0).fit(dataset.train(), seed=0, progress=False)
    filtered = evaluate_candidate(
        baseline_candidate("EASE + tag filter", TagFilter(ease, dataset.song_tags)),
        dataset,
        response_users=20,
    )

    assert apron["accuracy"]["ndcg@100"] > popular["accuracy"]["ndcg@100"]
    assert popular["control_observed"]["delta"] == 0.0  # ignores the profile by construction
    assert popular["control_observed"]["collateral"] == 0.0
    assert "response" not in popular
    assert apron["control_observed"]["relative"] > 0.2
    assert filtered["control_observed"]["relative"] > 0.5  # a hard filter on tagged songs
    assert apron["response"]["median_rho"] > 0.5
    per_category = apron["control_truth"]["per_category"]  # only genre tags in this world
    assert per_category["genre"]["n_pairs"] == apron["control_truth"]["n_pairs"]
    assert TAG_NAMES[8] in apron["response"]["rho"]
