"""The demo world as an adapter: a built world folder → a generic source folder.

How the two paths relate (checked by tests/sources/test_generic.py): the source holds
the world's *filtered* interactions, its songs, observed tags (weight 1) and the raw
features of every song (no audio: songs are rendered on demand, not stored). Preparing
it with :func:`world_prepare_config` (the world's thresholds, iterated filter, held-out
count and split seed) drops nothing, and gives the world's split, song order, song
embeddings, encoder statistics and prototype *songs* for both rules exactly. Only the
prototype embeddings differ: the world embeds a rendered 10 s excerpt, the source
path the whole song's features (it has no audio to cut from).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from apron_core.encoders import load_encoder
from apron_core.errors import DataError
from apron_core.sources.generic import Embeddings, write_source
from apron_core.sources.prepare import PrepareConfig
from apron_core.world.build import WorldPaths


def world_to_source(world: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Write the built world at ``world`` as a source folder at ``out_dir``."""
    paths = WorldPaths(Path(world))
    if not paths.build_report.is_file():
        raise DataError(
            f"{world} is not a built world: run `python -m training.build_world --output {world}`"
        )
    songs = paths.read_songs()
    raw = np.load(paths.raw_embeddings)
    if len(raw) != len(songs):
        raise DataError(f"{paths.raw_embeddings} has {len(raw)} rows for {len(songs)} songs")
    encoder = load_encoder(paths.encoder)
    tags = songs[["song_id", "tags"]].explode("tags").dropna()
    song_tags = pd.DataFrame(
        {"song_id": tags["song_id"].to_numpy(), "tag": tags["tags"].to_numpy(), "weight": 1.0}
    )
    return write_source(
        out_dir,
        interactions=pd.read_parquet(paths.interactions),
        songs=songs[["song_id", "title", "artist", "year"]],
        song_tags=song_tags,
        embeddings=Embeddings(
            songs["song_id"].astype(str).tolist(), raw, encoder.name, asdict(encoder.config)
        ),
        name="demo-world",
        meta={"adapter": "apron_core.sources.world", "world": str(Path(world).resolve())},
    )


def world_prepare_config(world: str | os.PathLike, **overrides) -> PrepareConfig:
    """The PrepareConfig that reproduces the world's own split and prototype choice."""
    cfg = json.loads(WorldPaths(Path(world)).config.read_text())
    settings = {
        "min_song_listeners": cfg["min_song_listeners"],
        "min_user_songs": cfg["min_user_songs"],
        "iterate": True,  # the world's filter iterates (apron_core.data default)
        "n_heldout_users": cfg["n_heldout_users"],
        "split_seed": cfg["split_seed"],
        "prototype_rule": cfg["prototype_rule"],
        "clip_s": cfg["clip_s"],
        **overrides,
    }
    return PrepareConfig(**settings)
