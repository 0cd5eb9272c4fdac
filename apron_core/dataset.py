"""Everything a model trains and is evaluated on, aligned to one song order.

One loader for every data set: a prepared folder (``python -m training.prepare``; the
MSD goes this way) and the demo world, which is a prepared folder with the world's own
files beside it (``python -m training.build_world``). The split's song vocabulary
(``unique_sid``) fixes the order of songs in embeddings, tag matrices and catalog.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from apron_core import data, prototypes
from apron_core.encoders import Encoder, load_encoder
from apron_core.errors import DataError
from apron_core.sources.prepared import PREPARED_FILE, PreparedPaths, read_meta
from apron_core.tags import tag_matrix


@dataclass
class Dataset:
    split: data.Split
    catalog: pd.DataFrame  # one row per song, in unique_sid order
    songs: np.ndarray  # (N, D) normalized song embeddings
    prototypes: np.ndarray  # (K, D) normalized prototype clip embeddings
    prototype_table: list[prototypes.Prototype]
    song_tags: np.ndarray  # (N, K) observed tags, 0/1
    true_tags: np.ndarray | None  # (N, K) ground truth where the source knows it
    encoder: Encoder
    source: dict  # where it came from (folder, source name, rule, exported clips)

    @property
    def n_songs(self) -> int:
        return len(self.split.unique_sid)

    def train(self) -> sp.csr_matrix:
        return data.train_matrix(self.split)

    def heldout(self, part: str) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        return data.heldout_matrices(self.split, part)


def load_dataset(folder: str | os.PathLike, *, rule: str | None = None) -> Dataset:
    """A prepared folder (a built demo world is one); ``rule`` picks the prototype rule
    (default: the one it was prepared with)."""
    paths = PreparedPaths(folder)
    if not paths.meta.is_file() and (paths.root / "world_config.json").is_file():
        raise DataError(
            f"{str(folder)[:80]} is a demo world built by an older APRON Studio (no "
            f"{PREPARED_FILE}); rebuild it: python -m training.build_world --output "
            f"{str(folder)[:80]}"
        )
    meta = read_meta(folder)
    rule = rule or meta["config"]["prototype_rule"]
    if rule not in prototypes.RULES:
        raise DataError(f"prototype rule {str(rule)[:80]!r}: use one of {prototypes.RULES}")
    split = data.read_vae_cf(paths.split)
    catalog = pd.read_parquet(paths.catalog)
    if catalog["song_id"].tolist() != split.unique_sid:
        raise DataError(
            f"{paths.catalog} is not in the split's song order; prepare the source again"
        )
    catalog["tags"] = catalog["tags"].map(list)
    has_truth = "true_tags" in catalog
    catalog["true_tags"] = catalog["true_tags"].map(list) if has_truth else [[]] * len(catalog)
    specs = catalog["spec"] if "spec" in catalog else pd.Series([""] * len(catalog))
    catalog["spec"] = [json.loads(s) if s else None for s in specs]
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
        true_tags=tag_matrix(catalog["true_tags"]) if has_truth else None,
        encoder=encoder,
        source={
            "data": str(paths.root),
            "source": meta.get("source", {}).get("name"),
            "rule": rule,
            "prototype_clips": str(clips) if (clips / prototypes.TABLE_FILE).is_file() else None,
        },
    )
