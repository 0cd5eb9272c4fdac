"""The demo world's catalog: artists with coherent styles, songs with specs and noisy tags.

Ground-truth attributes come from each song's render spec; observed tags are a
Last.fm-like noisy copy (true tags dropped with a probability that falls with
popularity, plus a few spurious ones). Everything is a pure function of the config.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from apron_core.errors import ConfigError
from apron_core.tags import CATEGORY_TAGS, ERAS, GENRES, MOODS, TAG_NAMES
from apron_core.world.priors import ERA_FIRST_YEAR, ERA_INSTRUMENT_FACTOR, GENRE_PRIORS, LAST_YEAR
from apron_core.world.spec import SongSpec


@dataclass(frozen=True)
class CatalogConfig:
    n_songs: int = 4000
    n_artists: int = 400
    seed: int = 0
    song_duration_s: float = 12.0
    min_artists_per_genre: int = 8
    latent_dim: int = 16  # collaborative taste space, independent of tags
    n_scenes: int = 24  # clusters in that space (scenes, labels, cliques)
    p_song_keeps_artist_genre: float = 0.85
    p_song_keeps_artist_era: float = 0.8
    p_two_moods: float = 0.5
    tag_keep_base: float = 0.45  # chance a true tag is observed on the least popular song
    tag_keep_popular: float = 0.45  # extra chance on the most popular song
    spurious_tags_per_song: float = 0.3  # Poisson mean of wrong tags

    def __post_init__(self) -> None:
        if self.n_artists < len(GENRES) * self.min_artists_per_genre and self.n_artists < 32:
            raise ConfigError(f"n_artists={self.n_artists} must be at least {len(GENRES)}")
        if self.n_songs < self.n_artists:
            raise ConfigError(
                f"n_songs={self.n_songs} < n_artists={self.n_artists}: every artist needs a song"
            )


@dataclass
class Catalog:
    artists: pd.DataFrame  # artist_id, name, genre, era, palette, moods, popularity, scene
    songs: pd.DataFrame  # song_id, title, artist_id, artist, year, genre, era, ..., tags
    specs: list[SongSpec]
    song_latent: np.ndarray  # (n_songs, latent_dim), not a tag: the collaborative part
    artist_latent: np.ndarray  # (n_artists, latent_dim)


_WORDS_A = """
Velvet Silver Midnight Electric Golden Broken Quiet Neon Wild Crimson Lonely Paper Crystal
Hollow Distant Burning Frozen Gentle Restless Hidden Northern Southern Echo Marble Amber
Violet Rusty Lucky Faded Bright Blue Iron Sugar Cosmic Desert Ocean Urban Stone
""".split()
_WORDS_B = """
Lights Rivers Hearts Machines Roads Birds Shadows Kings Dreams Wolves Mirrors Tigers Waves
Gardens Engines Lanterns Stars Horses Bells Giants Pilots Saints Foxes Ghosts Lovers Signals
Canyons Harbors Comets Orchards Ravens Drifters Sparrows Strangers Voices
""".split()
_TITLE_WORDS = """
Love Night Road Home Fire Rain Light Heart Dance Dream Summer City River Song Time Sky Moon
Morning Shadow Memory Gold Wire Window Blue Glass Ocean Letter Highway Echo Storm Winter
Garden Candle Paradise Signal Silence Thunder Harbor Midnight Velvet Sun Roses
""".split()


def _pick(rng: np.random.Generator, weights: dict[str, float], n: int = 1) -> list[str]:
    names = list(weights)
    p = np.array([weights[k] for k in names], dtype=float)
    p /= p.sum()
    idx = rng.choice(len(names), size=min(n, int((p > 0).sum())), replace=False, p=p)
    return [names[i] for i in idx]


def _instrument_weights(genre: str, era: str) -> dict[str, float]:
    factor = ERA_INSTRUMENT_FACTOR[era]
    return {k: v * factor.get(k, 1.0) for k, v in GENRE_PRIORS[genre].palette.items()}


def _genre_weights_for_era(era: str) -> dict[str, float]:
    return {g: p.eras.get(era, 0.0) for g, p in GENRE_PRIORS.items() if p.eras.get(era, 0.0) > 0}


def _allocate_artist_genres(rng: np.random.Generator, cfg: CatalogConfig) -> list[str]:
    """Every genre gets a floor of artists; the rest follow a mild popularity skew."""
    floor = min(cfg.min_artists_per_genre, cfg.n_artists // len(GENRES))
    genres = [g for g in GENRES for _ in range(floor)]
    skew = rng.dirichlet(np.full(len(GENRES), 4.0))
    extra = rng.choice(len(GENRES), size=cfg.n_artists - len(genres), p=skew)
    genres += [GENRES[i] for i in extra]
    rng.shuffle(genres)
    return genres


def _make_artists(rng: np.random.Generator, cfg: CatalogConfig) -> tuple[pd.DataFrame, np.ndarray]:
    scenes = rng.normal(size=(cfg.n_scenes, cfg.latent_dim))
    rows = []
    latent = np.zeros((cfg.n_artists, cfg.latent_dim))
    used_names: set[str] = set()
    for i, genre in enumerate(_allocate_artist_genres(rng, cfg)):
        prior = GENRE_PRIORS[genre]
        era = _pick(rng, prior.eras)[0]
        inst_w = _instrument_weights(genre, era)
        palette = list(prior.required) + [
            x for x in _pick(rng, inst_w, n=int(rng.integers(3, 6))) if x not in prior.required
        ]
        mood_w = dict(
            zip(prior.moods, rng.dirichlet(np.array(list(prior.moods.values()))), strict=True)
        )
        scene = int(rng.integers(cfg.n_scenes))
        latent[i] = scenes[scene] + 0.6 * rng.normal(size=cfg.latent_dim)
        name = f"The {rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}"
        while name in used_names:
            name = f"{name} {len(used_names) % 9 + 2}"
        used_names.add(name)
        rows.append(
            {
                "artist_id": f"AR{i:04d}",
                "name": name,
                "genre": genre,
                "era": era,
                "palette": palette,
                "mood_weights": mood_w,
                "popularity": float(rng.lognormal(0.0, 1.0)),
                "scene": scene,
            }
        )
    return pd.DataFrame(rows), latent


def _song_counts(rng: np.random.Generator, artists: pd.DataFrame, n_songs: int) -> np.ndarray:
    """At least one song per artist; the rest ~ popularity-tilted, so big artists have more."""
    n = len(artists)
    w = artists["popularity"].to_numpy() ** 0.5
    counts = np.ones(n, dtype=int) + rng.multinomial(n_songs - n, w / w.sum())
    return counts


def _song_spec(
    rng: np.random.Generator, artist: pd.Series, song_id: str, seed: int, cfg: CatalogConfig
) -> SongSpec:
    era = artist.era
    if rng.random() > cfg.p_song_keeps_artist_era:
        i = ERAS.index(era) + int(rng.choice([-1, 1]))
        era = ERAS[min(max(i, 0), len(ERAS) - 1)]
    genre = artist.genre
    if rng.random() > cfg.p_song_keeps_artist_genre:
        genre = _pick(rng, _genre_weights_for_era(era))[0]
    if GENRE_PRIORS[genre].eras.get(era, 0.0) == 0.0:  # e.g. a grunge song in the 1950s
        era = _pick(rng, GENRE_PRIORS[genre].eras)[0]
    first = ERA_FIRST_YEAR[era]
    year = int(rng.integers(first, min(first + 9, LAST_YEAR) + 1))

    prior = GENRE_PRIORS[genre]
    mood_w = {m: prior.moods.get(m, 0.0) + 3.0 * artist.mood_weights.get(m, 0.0) for m in MOODS}
    mood_w = {m: w for m, w in mood_w.items() if w > 0}
    moods = _pick(rng, mood_w, n=2 if rng.random() < cfg.p_two_moods else 1)

    n_inst = int(rng.choice([2, 3, 4], p=[0.3, 0.45, 0.25]))
    inst_w = _instrument_weights(genre, era)
    if genre == artist.genre:  # the artist's palette dominates their own genre
        for x in artist.palette:
            inst_w[x] = inst_w.get(x, 0.0) + 4.0 * ERA_INSTRUMENT_FACTOR[era].get(x, 1.0)
    instruments = list(prior.required)
    for x in _pick(rng, {k: v for k, v in inst_w.items() if k not in instruments}, n=n_inst):
        if len(instruments) < n_inst:
            instruments.append(x)
    return SongSpec(
        song_id=song_id,
        seed=seed,
        genre=genre,
        era=era,
        year=year,
        moods=tuple(moods),
        instruments=tuple(instruments),
        duration_s=cfg.song_duration_s,
    )


def _observe_tags(
    rng: np.random.Generator,
    truth: list[tuple[str, ...]],
    popularity: np.ndarray,
    cfg: CatalogConfig,
) -> list[list[str]]:
    pct = popularity.argsort().argsort() / max(len(popularity) - 1, 1)
    observed = []
    for attrs, q in zip(truth, pct, strict=True):
        keep = cfg.tag_keep_base + cfg.tag_keep_popular * q
        tags = [t for t in attrs if rng.random() < keep]
        for _ in range(rng.poisson(cfg.spurious_tags_per_song)):
            t = TAG_NAMES[int(rng.integers(len(TAG_NAMES)))]
            if t not in tags and t not in attrs:
                tags.append(t)
        observed.append(sorted(tags, key=TAG_NAMES.index))
    return observed


def make_catalog(cfg: CatalogConfig) -> Catalog:
    """Artists, then songs around each artist's style, then their noisy tags."""
    rng = np.random.default_rng([cfg.seed, 1])
    artists, artist_latent = _make_artists(rng, cfg)
    counts = _song_counts(rng, artists, cfg.n_songs)
    specs: list[SongSpec] = []
    rows = []
    latent = np.zeros((cfg.n_songs, cfg.latent_dim))
    seeds = rng.integers(0, 2**31 - 1, size=cfg.n_songs)
    j = 0
    for a, artist in artists.iterrows():
        for _ in range(counts[a]):
            song_id = f"S{j:05d}"
            spec = _song_spec(rng, artist, song_id, int(seeds[j]), cfg)
            specs.append(spec)
            latent[j] = artist_latent[a] + 0.5 * rng.normal(size=cfg.latent_dim)
            title = " ".join(rng.choice(_TITLE_WORDS, size=int(rng.integers(1, 4)), replace=False))
            rows.append(
                {
                    "song_id": song_id,
                    "title": title,
                    "artist_id": artist.artist_id,
                    "artist": artist["name"],
                    "year": spec.year,
                    "popularity": float(artist.popularity * rng.lognormal(0.0, 0.8)),
                }
            )
            j += 1
    songs = pd.DataFrame(rows)
    truth = [s.attributes for s in specs]
    songs["true_tags"] = [sorted(t, key=TAG_NAMES.index) for t in truth]
    songs["tags"] = _observe_tags(rng, truth, songs["popularity"].to_numpy(), cfg)
    for category in CATEGORY_TAGS:
        songs[f"true_{category}"] = [
            [t for t in tags if t in CATEGORY_TAGS[category]] for tags in songs["true_tags"]
        ]
    return Catalog(
        artists=artists, songs=songs, specs=specs, song_latent=latent, artist_latent=artist_latent
    )
