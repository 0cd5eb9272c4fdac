"""Simulated listeners: tag-level tastes, a latent taste no tag explains, and popularity.

A listener's utility for a song is a weighted sum of three standardized parts:
  tag    Σ_c log(taste_c · attributes_c(song))  — per-category mixtures over the true tags
  latent <user_latent, song_latent>             — scenes, artist loyalty (invisible to tags)
  pop    sensitivity_u · log(popularity_song)
Histories are drawn without replacement with probability ∝ exp(sharpness · utility)
(Gumbel top-k), with heavy-tailed (log-normal) lengths of at least `min_history`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from apron_core.errors import ConfigError
from apron_core.tags import CATEGORY_TAGS, TAG_NAMES, category_indices, tag_matrix
from apron_core.world.catalog import Catalog


@dataclass(frozen=True)
class ListenerConfig:
    n_users: int = 25000
    seed: int = 0
    share_tag: float = 0.45  # target variance shares of the utility's three parts
    share_latent: float = 0.35
    share_pop: float = 0.20
    sharpness: float = 2.5  # how strongly utility decides what is played
    taste_concentration: float = 0.25  # Dirichlet α scale: lower → narrower tastes
    history_median: float = 45.0
    history_sigma: float = 0.8  # log-normal spread of history lengths
    min_history: int = 20
    max_history: int = 600
    chunk_users: int = 1000

    def __post_init__(self) -> None:
        shares = (self.share_tag, self.share_latent, self.share_pop)
        if min(shares) < 0 or abs(sum(shares) - 1.0) > 1e-6:
            raise ConfigError(f"utility shares {shares} must be non-negative and sum to 1")
        if not 1 <= self.min_history <= self.history_median <= self.max_history:
            raise ConfigError(
                f"need 1 ≤ min_history ≤ history_median ≤ max_history, got "
                f"{self.min_history}, {self.history_median}, {self.max_history}"
            )


@dataclass
class Listeners:
    users: pd.DataFrame  # user_id, history_length, pop_sensitivity, top tags
    interactions: pd.DataFrame  # user_id, song_id, count
    tastes: np.ndarray  # (n_users, 80) per-category tag tastes (each category sums to 1)
    variance_split: dict[str, float]


_CATEGORY_WEIGHT = {"genre": 1.0, "era": 0.5, "mood": 0.7, "instrumentation": 0.7}


def _draw_tastes(
    rng: np.random.Generator, n_users: int, base: np.ndarray, alpha: float
) -> np.ndarray:
    """Per category, a Dirichlet around the catalog's tag frequencies (popular tags liked more)."""
    tastes = np.zeros((n_users, len(TAG_NAMES)))
    for category in CATEGORY_TAGS:
        idx = category_indices(category)
        b = base[idx] / base[idx].sum()
        conc = alpha * len(idx) * b + 1e-3
        tastes[:, idx] = rng.dirichlet(conc, size=n_users)
    return tastes


def _tag_utility(tastes: np.ndarray, song_attr: np.ndarray) -> np.ndarray:
    """(U, N): Σ_c w_c log(ε + taste_c · attributes_c) with attributes normalized per category."""
    out = np.zeros((tastes.shape[0], song_attr.shape[0]))
    for category in CATEGORY_TAGS:
        idx = category_indices(category)
        a = song_attr[:, idx]
        a = a / np.maximum(a.sum(1, keepdims=True), 1.0)
        out += _CATEGORY_WEIGHT[category] * np.log(0.02 + tastes[:, idx] @ a.T)
    return out


def simulate_listeners(
    catalog: Catalog, cfg: ListenerConfig, *, progress: bool = True
) -> Listeners:
    rng = np.random.default_rng([cfg.seed, 2])
    songs = catalog.songs
    n_songs = len(songs)
    attr = tag_matrix(songs["true_tags"])  # ground truth drives taste, not the noisy tags
    tastes = _draw_tastes(rng, cfg.n_users, attr.sum(0) + 1.0, cfg.taste_concentration)

    scene_dim = catalog.song_latent.shape[1]
    centroids = catalog.artist_latent[rng.integers(len(catalog.artist_latent), size=cfg.n_users)]
    user_latent = centroids + 0.7 * rng.normal(size=(cfg.n_users, scene_dim))
    log_pop = np.log(songs["popularity"].to_numpy())
    log_pop = (log_pop - log_pop.mean()) / log_pop.std()
    pop_sens = rng.gamma(2.0, 0.5, size=cfg.n_users)  # mean 1, some users chase hits

    # Standardize each part with moments from a sample of users, then weight by √share.
    sample = rng.choice(cfg.n_users, size=min(2000, cfg.n_users), replace=False)
    parts_sample = {
        "tag": _tag_utility(tastes[sample], attr),
        "latent": user_latent[sample] @ catalog.song_latent.T,
        "pop": pop_sens[sample, None] * log_pop[None, :],
    }
    moments = {k: (v.mean(), v.std()) for k, v in parts_sample.items()}
    scale = {
        "tag": np.sqrt(cfg.share_tag) / moments["tag"][1],
        "latent": np.sqrt(cfg.share_latent) / moments["latent"][1],
        "pop": np.sqrt(cfg.share_pop) / moments["pop"][1],
    }
    weighted = {k: (v - moments[k][0]) * scale[k] for k, v in parts_sample.items()}
    total_var = np.var(sum(weighted.values()))
    variance_split = {k: float(np.var(v) / total_var) for k, v in weighted.items()}
    variance_split["covariance"] = float(1.0 - sum(variance_split.values()))

    lengths = rng.lognormal(np.log(cfg.history_median), cfg.history_sigma, size=cfg.n_users)
    lengths = np.clip(np.round(lengths), cfg.min_history, min(cfg.max_history, n_songs)).astype(int)

    user_rows, song_rows = [], []
    chunks = range(0, cfg.n_users, cfg.chunk_users)
    for start in tqdm(chunks, desc="listeners", unit="chunk", disable=not progress):
        sl = slice(start, min(start + cfg.chunk_users, cfg.n_users))
        u = (_tag_utility(tastes[sl], attr) - moments["tag"][0]) * scale["tag"]
        u += (user_latent[sl] @ catalog.song_latent.T - moments["latent"][0]) * scale["latent"]
        u += (pop_sens[sl, None] * log_pop[None, :] - moments["pop"][0]) * scale["pop"]
        keys = cfg.sharpness * u + rng.gumbel(
            size=u.shape
        )  # Gumbel top-k = sampling w/o replacement
        for row, length in zip(range(sl.start, sl.stop), lengths[sl], strict=True):
            top = np.argpartition(-keys[row - sl.start], length - 1)[:length]
            user_rows.append(np.full(length, row))
            song_rows.append(np.sort(top))
    users_idx = np.concatenate(user_rows)
    songs_idx = np.concatenate(song_rows)
    counts = rng.geometric(0.45, size=len(users_idx))  # play counts ≥ 1, like MSD's
    user_ids = np.array([f"U{i:06d}" for i in range(cfg.n_users)])
    interactions = pd.DataFrame(
        {
            "user_id": user_ids[users_idx],
            "song_id": songs["song_id"].to_numpy()[songs_idx],
            "count": counts.astype(np.int32),
        }
    )
    users = pd.DataFrame(
        {
            "user_id": user_ids,
            "history_length": lengths,
            "pop_sensitivity": pop_sens,
            "favourite_genre": [
                TAG_NAMES[category_indices("genre")[int(i)]]
                for i in tastes[:, category_indices("genre")].argmax(1)
            ],
        }
    )
    return Listeners(
        users=users,
        interactions=interactions,
        tastes=tastes.astype(np.float32),
        variance_split=variance_split,
    )
