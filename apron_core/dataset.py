"""Everything a model trains and is evaluated on, aligned to one song order.

``load_dataset`` reads either kind of data folder: a built demo world, or a folder
prepared from a generic source (``python -m training.prepare``; the MSD goes this way).
``load_world_dataset`` accepts both too, so ``--world`` of the training and evaluation
commands takes a prepared folder unchanged. The split's song vocabulary (``unique_sid``)
fixes the order of songs in embeddings, tag matrices and catalog.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from apron_core import data, prototypes
from apron_core.encoders import Encoder, load_encoder
from apron_core.errors import DataError
from apron_core.world.build import WorldPaths
from apron_core.world.catalog import tag_matrix


@dataclass
class Dataset:
    split: data.Split
    catalog: pd.DataFrame  # one row per song, in unique_sid order
    songs: np.ndarray  # (N, D) normalized song embeddings
    prototypes: np.ndarray  # (K, D) normalized prototype clip embeddings
    prototype_table: list[prototypes.Prototype]
    song_tags: np.ndarray  # (N, K) observed tags, 0/1
    true_tags: np.ndarray | None  # (N, K) ground truth where the world knows it
    encoder: Encoder
    source: dict  # where it came from (world folder, rule, seeds)

    @property
    def n_songs(self) -> int:
        return len(self.split.unique_sid)

    def train(self) -> sp.csr_matrix:
        return data.train_matrix(self.split)

    def heldout(self, part: str) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        return data.heldout_matrices(self.split, part)


def load_dataset(folder: Path, *, rule: str | None = None) -> Dataset:
    """A built world or a prepared folder; ``rule`` picks the prototype rule (default: its own)."""
    return load_world_dataset(folder, rule=rule)


def load_world_dataset(world: Path, *, rule: str | None = None) -> Dataset:
    """Read a built world folder (or a prepared one, see ``apron_core.sources.prepared``);
    ``rule`` picks the prototype rule (default: the folder's)."""
    from apron_core.sources.prepared import is_prepared, load_prepared_dataset

    if is_prepared(world):
        return load_prepared_dataset(world, rule=rule)
    paths = WorldPaths(world)
    if not paths.build_report.is_file():
        raise DataError(
            f"{world} is neither a built world nor a prepared folder: run "
            f"`python -m training.build_world --output {world}` or "
            f"`python -m training.prepare --source SOURCE --output {world}`"
        )
    cfg = json.loads(paths.config.read_text())
    rule = rule or cfg["prototype_rule"]
    split = data.read_vae_cf(paths.split)
    songs_all = paths.read_songs().set_index("song_id", drop=False)
    missing = set(split.unique_sid) - set(songs_all.index)
    if missing:
        raise DataError(
            f"{len(missing)} split songs are not in {paths.songs} (e.g. {min(missing)})"
        )
    row = pd.Series(np.arange(len(songs_all)), index=songs_all.index)
    order = row.loc[split.unique_sid].to_numpy()
    catalog = songs_all.iloc[order].reset_index(drop=True)
    specs = paths.read_specs()
    catalog["spec"] = [specs[i].to_dict() for i in order]
    encoder = load_encoder(paths.encoder)
    songs = encoder.transform(np.load(paths.raw_embeddings)[order]).astype(np.float32)
    choices = json.loads(paths.prototype_choices.read_text())
    if rule not in choices:
        raise DataError(f"prototype rule {rule!r} not in {paths.prototype_choices}")
    clip_raw = np.load(paths.clip_embeddings)[rule]
    return Dataset(
        split=split,
        catalog=catalog,
        songs=songs,
        prototypes=encoder.transform(clip_raw).astype(np.float32),
        prototype_table=[prototypes.Prototype(**p) for p in choices[rule]],
        song_tags=tag_matrix(catalog["tags"]),
        true_tags=tag_matrix(catalog["true_tags"]),
        encoder=encoder,
        source={"world": str(world), "rule": rule, "world_seed": cfg["catalog"]["seed"]},
    )
