"""Hidden observed tags: seeded, nested, the same for every model; ground truth untouched."""

import numpy as np
import pandas as pd

from apron_core.dataset import Dataset
from apron_core.missing_tags import hidden_mask, hide_tags
from apron_core.tags import TAG_NAMES, K


def test_hidden_sets_are_nested_and_seeded(rng):
    tags = (rng.random((200, K)) < 0.1).astype(np.float32)
    quarter, half = hidden_mask(tags, 0.25, 3), hidden_mask(tags, 0.5, 3)
    assert np.all(half[quarter]) and not hidden_mask(tags, 0.0, 3).any()
    assert np.array_equal(quarter, hidden_mask(tags, 0.25, 3))
    assert not np.array_equal(quarter, hidden_mask(tags, 0.25, 4))
    assert 0.4 < half.sum() / tags.sum() < 0.6 and np.all(tags[half] > 0)


def test_hide_tags_changes_observed_tags_only(rng):
    tags = (rng.random((30, K)) < 0.2).astype(np.float32)
    truth = np.maximum(tags, (rng.random((30, K)) < 0.1).astype(np.float32))
    catalog = pd.DataFrame({"tags": [[TAG_NAMES[k] for k in np.flatnonzero(r)] for r in tags]})
    ds = Dataset(None, catalog, None, None, [], tags, truth, None, {"data": "x"})
    out = hide_tags(ds, 0.5, seed=1)
    hidden = hidden_mask(tags, 0.5, 1)
    assert np.array_equal(out.song_tags, np.where(hidden, 0, tags))
    assert out.true_tags is truth and ds.song_tags is tags  # the input is not changed
    assert [len(t) for t in out.catalog["tags"]] == list(out.song_tags.sum(1).astype(int))
    assert out.source["hidden_tags"] == {"share": 0.5, "seed": 1}
    assert hide_tags(ds, 0.0) is ds
