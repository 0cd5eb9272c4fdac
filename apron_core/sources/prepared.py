"""A prepared folder: what ``python -m training.prepare`` writes and training reads.

    prepared.json                    version, config, source, drop report, timings, split summary
    split/                           vae_cf layout (apron_core.data.write_vae_cf)
    catalog.parquet                  one row per song of the split, in unique_sid order:
                                     song_id, title, artist, year (0 = unknown), tags, plays, audio
    embeddings_raw.npy               (N, D) raw encoder features, catalog order
    encoder/encoder.json             the encoder, normalization fitted on those songs
    prototype_choices.json           {rule: [Prototype, ...]} for both rules
    prototype_clip_embeddings_raw.npz {rule: (80, D) raw features of the clips}
    prototypes/<rule>/               80 OGG clips + prototypes.json (sources with audio)
    features/                        cache of raw features of every embedded song

``training.train --world DIR`` and ``training.evaluate --world DIR`` accept it as they
are: :func:`apron_core.dataset.load_world_dataset` hands such folders to
:func:`load_prepared_dataset`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from apron_core import data, prototypes
from apron_core.encoders import load_encoder
from apron_core.errors import DataError
from apron_core.world.catalog import tag_matrix

PREPARED_VERSION = 1
PREPARED_FILE = "prepared.json"


class PreparedPaths:
    """File names inside a prepared folder, in one place."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.meta = self.root / PREPARED_FILE
        self.split = self.root / "split"
        self.catalog = self.root / "catalog.parquet"
        self.raw_embeddings = self.root / "embeddings_raw.npy"
        self.encoder = self.root / "encoder"
        self.prototype_choices = self.root / "prototype_choices.json"
        self.clip_embeddings = self.root / "prototype_clip_embeddings_raw.npz"
        self.prototypes = self.root / "prototypes"
        self.features = self.root / "features"

    def clips(self, rule: str) -> Path:
        return self.prototypes / rule


def is_prepared(folder: str | os.PathLike) -> bool:
    return (Path(folder) / PREPARED_FILE).is_file()


def read_meta(folder: str | os.PathLike) -> dict:
    paths = PreparedPaths(folder)
    if not paths.meta.is_file():
        raise DataError(
            f"{folder} is not a prepared folder (no {PREPARED_FILE}); run "
            f"`python -m training.prepare --source SOURCE --output {folder}`"
        )
    meta = json.loads(paths.meta.read_text())
    if meta.get("version") != PREPARED_VERSION:
        raise DataError(
            f"{paths.meta} has version {meta.get('version')!r}; this code reads version "
            f"{PREPARED_VERSION}: prepare the source again"
        )
    return meta


def load_prepared_dataset(folder: str | os.PathLike, *, rule: str | None = None):
    """A :class:`apron_core.dataset.Dataset` from a prepared folder (no ground-truth tags)."""
    from apron_core.dataset import Dataset

    paths = PreparedPaths(folder)
    meta = read_meta(folder)
    rule = rule or meta["config"]["prototype_rule"]
    if rule not in prototypes.RULES:
        raise DataError(f"prototype rule {rule!r}: use one of {prototypes.RULES}")
    split = data.read_vae_cf(paths.split)
    catalog = pd.read_parquet(paths.catalog)
    if catalog["song_id"].tolist() != split.unique_sid:
        raise DataError(
            f"{paths.catalog} is not in the split's song order; prepare the source again"
        )
    catalog["tags"] = catalog["tags"].map(list)
    catalog["true_tags"] = [[] for _ in range(len(catalog))]
    catalog["spec"] = None
    encoder = load_encoder(paths.encoder)
    raw = np.load(paths.raw_embeddings)
    if raw.shape != (len(catalog), encoder.dim):
        raise DataError(
            f"{paths.raw_embeddings} has shape {raw.shape}, expected ({len(catalog)}, "
            f"{encoder.dim}); prepare the source again"
        )
    choices = json.loads(paths.prototype_choices.read_text())
    if rule not in choices:
        raise DataError(f"prototype rule {rule!r} not in {paths.prototype_choices}")
    clip_raw = np.load(paths.clip_embeddings)[rule]
    clips = paths.clips(rule)
    return Dataset(
        split=split,
        catalog=catalog,
        songs=encoder.transform(raw),
        prototypes=encoder.transform(clip_raw),
        prototype_table=[prototypes.Prototype(**p) for p in choices[rule]],
        song_tags=tag_matrix(catalog["tags"]),
        true_tags=None,
        encoder=encoder,
        source={
            "prepared": str(paths.root),
            "source": meta.get("source", {}).get("name"),
            "rule": rule,
            "prototype_clips": str(clips) if (clips / prototypes.TABLE_FILE).is_file() else None,
        },
    )
