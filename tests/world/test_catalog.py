import dataclasses

import numpy as np
import pytest

from apron_core.errors import ConfigError
from apron_core.tags import CATEGORY_TAGS, tag_matrix
from apron_core.world import priors
from apron_core.world.catalog import CatalogConfig, make_catalog
from apron_core.world.listeners import ListenerConfig, simulate_listeners
from apron_core.world.spec import SongSpec

SMALL = CatalogConfig(n_songs=600, n_artists=64, min_artists_per_genre=2, seed=3)


@pytest.fixture(scope="module")
def catalog():
    return make_catalog(SMALL)


@pytest.fixture(scope="module")
def listeners(catalog):
    return simulate_listeners(catalog, ListenerConfig(n_users=800, seed=3), progress=False)


def test_catalog_is_deterministic_by_seed(catalog):
    again = make_catalog(SMALL)
    assert again.songs.drop(columns=[]).equals(catalog.songs)
    assert [s.to_dict() for s in again.specs] == [s.to_dict() for s in catalog.specs]
    other = make_catalog(CatalogConfig(n_songs=600, n_artists=64, min_artists_per_genre=2, seed=4))
    assert [s.genre for s in other.specs] != [s.genre for s in catalog.specs]


def test_songs_have_valid_specs_and_truth(catalog):
    assert len(catalog.specs) == SMALL.n_songs == len(catalog.songs)
    assert catalog.songs["song_id"].is_unique
    for spec, truth in zip(catalog.specs, catalog.songs["true_tags"], strict=True):
        assert SongSpec.from_dict(spec.to_dict()) == spec
        assert set(truth) == set(spec.attributes)
        assert str(spec.year).startswith(spec.era[:3])


def test_every_genre_has_artists_and_artists_are_coherent(catalog):
    assert set(catalog.artists["genre"]) == set(CATEGORY_TAGS["genre"])
    by_artist = catalog.songs.assign(genre=[s.genre for s in catalog.specs]).merge(
        catalog.artists[["artist_id", "genre"]], on="artist_id", suffixes=("", "_artist")
    )
    same = (by_artist["genre"] == by_artist["genre_artist"]).mean()
    assert 0.7 < same < 0.97  # coherent styles, some variety


def test_observed_tags_are_a_noisy_copy(catalog):
    obs = tag_matrix(catalog.songs["tags"])
    truth = tag_matrix(catalog.songs["true_tags"])
    kept = (obs * truth).sum() / truth.sum()
    spurious = (obs * (1 - truth)).sum() / obs.sum()
    assert 0.5 < kept < 0.95
    assert 0.0 < spurious < 0.15
    pop = catalog.songs["popularity"].to_numpy()
    top, bottom = pop > np.quantile(pop, 0.8), pop < np.quantile(pop, 0.2)
    recall = (obs * truth).sum(1) / truth.sum(1)
    assert recall[top].mean() > recall[bottom].mean() + 0.15  # popular songs are tagged more


def test_prior_tables_fit_the_tags_and_broken_ones_are_named():
    assert priors.table_problems() == []
    broken = dict(priors.GENRE_PRIORS)
    rock = broken.pop("rock")
    broken["jazz"] = dataclasses.replace(rock, moods={**rock.moods, "sleepy": 1.0})
    problems = priors.table_problems(broken)
    assert any("'rock'" in p for p in problems)  # a genre without a prior
    assert any("jazz: unknown tags ['sleepy']" in p for p in problems)


def test_bad_catalog_config():
    with pytest.raises(ConfigError, match="n_songs"):
        CatalogConfig(n_songs=10, n_artists=40)


def test_listener_histories(listeners, catalog):
    sizes = listeners.interactions.groupby("user_id").size()
    assert sizes.min() >= 20
    assert len(sizes) == 800
    assert not listeners.interactions.duplicated(["user_id", "song_id"]).any()
    assert set(listeners.interactions["song_id"]) <= set(catalog.songs["song_id"])
    assert (listeners.interactions["count"] >= 1).all()
    assert 25 <= sizes.median() <= 80
    assert sizes.max() > 3 * sizes.median()  # heavy tail


def test_listener_variance_split_and_determinism(listeners, catalog):
    vs = listeners.variance_split
    assert vs["tag"] == pytest.approx(0.45, abs=0.05)
    assert vs["latent"] == pytest.approx(0.35, abs=0.05)
    assert vs["pop"] == pytest.approx(0.20, abs=0.05)
    again = simulate_listeners(catalog, ListenerConfig(n_users=800, seed=3), progress=False)
    assert again.interactions.equals(listeners.interactions)


def test_listeners_follow_their_tastes(listeners, catalog):
    """A user's favourite genre is over-represented in their history."""
    genre = dict(zip(catalog.songs["song_id"], [s.genre for s in catalog.specs], strict=True))
    hist = listeners.interactions.assign(genre=listeners.interactions["song_id"].map(genre))
    fav = listeners.users.set_index("user_id")["favourite_genre"]
    share_fav = (hist["genre"] == hist["user_id"].map(fav)).mean()
    assert share_fav > 3 / 32  # well above chance


def test_bad_listener_config():
    with pytest.raises(ConfigError, match="shares"):
        ListenerConfig(share_tag=0.9)
    with pytest.raises(ConfigError, match="min_history"):
        ListenerConfig(min_history=50, history_median=30)
