"""Hide a share of the observed tags, the same way for every model (issue 12, item 3).

Real Last.fm tags are sparse; a tag filter can only remove what is tagged. To measure how
each model copes, a seeded share of the observed (song, tag) pairs is hidden before
training *and* at evaluation, identically for every model. Each pair draws one uniform
key from ``seed``; a pair is hidden when its key is below the share, so the hidden sets
are nested (what 25 % hides, 50 % hides too) and the same for every model and command.

The prototype clips stay those chosen with every tag (choosing them again would re-run
the prepare step's cross-fitted classifiers); ground truth is never touched.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from apron_core.checks import check_int, check_probability
from apron_core.dataset import Dataset
from apron_core.tags import TAG_NAMES


def hidden_mask(song_tags: np.ndarray, share: float, seed: int = 0) -> np.ndarray:
    """(N, K) bool: the observed pairs hidden at ``share`` (nested in the share)."""
    share = check_probability(share, name="share of hidden tags")
    check_int(seed, name="seed", minimum=0)
    keys = np.random.default_rng(seed).random(song_tags.shape)  # one key per (song, tag)
    return (np.asarray(song_tags) > 0) & (keys < share)


def hide_tags(ds: Dataset, share: float, seed: int = 0) -> Dataset:
    """A copy of ``ds`` whose observed tags (matrix and catalog lists) lack the hidden pairs."""
    if share == 0:
        return ds
    hidden = hidden_mask(ds.song_tags, share, seed)
    tags = np.where(hidden, 0, ds.song_tags).astype(ds.song_tags.dtype)
    catalog = ds.catalog.copy()
    catalog["tags"] = [[TAG_NAMES[k] for k in np.flatnonzero(row)] for row in tags]
    source = {**ds.source, "hidden_tags": {"share": float(share), "seed": int(seed)}}
    return dataclasses.replace(ds, song_tags=tags, catalog=catalog, source=source)
