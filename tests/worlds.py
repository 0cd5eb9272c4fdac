"""The tiny demo world the slow end-to-end tests build (seconds, not minutes)."""

from apron_core.world.build import WorldConfig
from apron_core.world.catalog import CatalogConfig
from apron_core.world.listeners import ListenerConfig

TINY_WORLD = WorldConfig(
    catalog=CatalogConfig(
        n_songs=400, n_artists=40, min_artists_per_genre=1, seed=1, song_duration_s=3.0
    ),
    listeners=ListenerConfig(n_users=700, seed=1),
    min_song_listeners=5,
    n_heldout_users=60,
    clip_s=2.0,
    encoder="librosa",  # fast, and musicnn needs 3-s clips
    workers=2,
)
