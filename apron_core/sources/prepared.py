"""A prepared folder: what :func:`apron_core.sources.prepare.prepare` writes and training reads.

    prepared.json                    version, config, source, drop report, timings, split summary
    split/                           vae_cf layout (apron_core.data.write_vae_cf)
    catalog.parquet                  one row per song of the split, in unique_sid order:
                                     song_id, title, artist, year (0 = unknown), tags, plays,
                                     audio, true_tags and spec ("" = none; both only when the
                                     source has truth / render specs)
    embeddings_raw.npy               (N, D) raw encoder features, catalog order
    encoder/encoder.json             the encoder, normalization fitted on those songs
    prototype_choices.json           {rule: [Prototype, ...]} for both rules
    prototype_clip_embeddings_raw.npz {rule: (80, D) raw features of the clips}
    prototypes/<rule>/               80 OGG clips + prototypes.json (sources with audio)
    features/                        cache of raw features of every embedded song

:func:`apron_core.dataset.load_dataset` reads it (``--data DIR`` of the training and
evaluation commands). A built demo world is such a folder, with the world's own files
beside it (:mod:`apron_core.world.build`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from apron_core.errors import DataError

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


def read_meta(folder: str | os.PathLike) -> dict:
    paths = PreparedPaths(folder)
    if not paths.meta.is_file():
        raise DataError(
            f"{str(folder)[:80]} is not a prepared folder (no {PREPARED_FILE}); build the demo "
            f"world there (`python -m training.build_world --output {str(folder)[:80]}`) or "
            "prepare a source into it (`python -m training.prepare --source SOURCE --output "
            f"{str(folder)[:80]}`)"
        )
    meta = json.loads(paths.meta.read_text())
    if meta.get("version") != PREPARED_VERSION:
        raise DataError(
            f"{paths.meta} has version {meta.get('version')!r}; this code reads version "
            f"{PREPARED_VERSION}: prepare the source (or build the world) again"
        )
    return meta
