"""The strong-generalization split of ``apron_core.data``, run on short stand-in ids.

``data.split_strong_generalization`` materializes its frames as strings; with MSD's
40-character user ids that is most of its memory (figures: reports/data_pipeline.md). Here each
id is replaced by its zero-padded rank among the sorted ids: ranks sort exactly like
the ids, so the split (which sorts ids before shuffling with its seed) is the same one,
row for row. The vae_cf CSVs hold only indices, so after ``data.write_vae_cf`` only the
id lists (``unique_uid.txt``, ``unique_sid.txt``) and the dropped users in ``split.json``
are translated back to the real ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from apron_core import data
from apron_core.errors import DataError


def _stand_ins(col: pd.Series, name: str) -> tuple[pd.Categorical, pd.Index]:
    """Codes of ``col`` over zero-padded rank strings, and the real ids by rank."""
    if not isinstance(col.dtype, pd.CategoricalDtype):
        raise DataError(
            f"{name} must be categorical (apron_core.sources.generic.sorted_categorical)"
        )
    cats = col.cat.categories
    if not cats.is_monotonic_increasing:
        raise DataError(
            f"{name} categories must be sorted; pass the frame through sorted_categorical"
        )
    width = len(str(max(len(cats) - 1, 0)))
    ranks = pd.Index([f"{i:0{width}d}" for i in range(len(cats))], dtype=str)
    return pd.Categorical.from_codes(col.cat.codes.to_numpy(), categories=ranks), cats


@dataclass
class WrittenSplit:
    """What the prepare step needs from a split once its files are written (real ids)."""

    summary: dict
    unique_sid: list[str]
    train_users: list[str]
    dropped_val_users: list[str]
    dropped_test_users: list[str]


def split_and_write(df: pd.DataFrame, out_dir: Path, **split_args) -> WrittenSplit:
    """``data.split_strong_generalization(df, **split_args)`` written with
    ``data.write_vae_cf`` to ``out_dir``; ``df`` has sorted categorical id columns."""
    users, user_ids = _stand_ins(df["user_id"], "user_id")
    songs, song_ids = _stand_ins(df["song_id"], "song_id")
    split = data.split_strong_generalization(
        pd.DataFrame({"user_id": users, "song_id": songs}), **split_args
    )
    data.write_vae_cf(split, out_dir)
    out = Path(out_dir)
    written = WrittenSplit(
        summary=split.summary(),
        unique_sid=real_ids(split.unique_sid, song_ids),
        train_users=real_ids(split.train_users, user_ids),
        dropped_val_users=real_ids(split.dropped_val_users, user_ids),
        dropped_test_users=real_ids(split.dropped_test_users, user_ids),
    )
    uid = real_ids(split.unique_uid, user_ids)
    del split
    (out / "unique_uid.txt").write_text("".join(f"{x}\n" for x in uid))
    (out / "unique_sid.txt").write_text("".join(f"{x}\n" for x in written.unique_sid))
    meta = json.loads((out / "split.json").read_text())
    meta["dropped_val_users"] = written.dropped_val_users
    meta["dropped_test_users"] = written.dropped_test_users
    (out / "split.json").write_text(json.dumps(meta, indent=2) + "\n")
    return written


def real_ids(stand_ins: list[str], ids: pd.Index) -> list[str]:
    """Stand-in rank strings → the ids they stand for."""
    return [str(x) for x in ids[np.asarray(stand_ins, dtype=np.int64)]] if stand_ins else []
