"""Prototype selection (one clip per tag) and the prototype table on disk.

Two rules:
* ``most_listened`` — the paper's: for each tag, the most-played song carrying it.
* ``purity_aware`` — among known songs (at least the median plays) whose observed tags
  name only this tag within its category, the one whose audio most clearly says the
  tag, as judged by cross-fitted tag classifiers on the embeddings. It guards against a
  famous song that carries a tag by noise, and against a song that is one of several
  genres. Neither rule looks at ground truth, so both work on real data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from apron_core.errors import ConfigError, DataError
from apron_core.tags import CATEGORY_TAGS, TAG_NAMES, TAGS, category_of

RULES = ("most_listened", "purity_aware")
TABLE_VERSION = 1
TABLE_FILE = "prototypes.json"


@dataclass(frozen=True)
class Prototype:
    tag: str
    category: str
    song_id: str
    start_s: float  # where the excerpt starts in the song
    duration_s: float  # 0: no excerpt (yet): the rules choose songs, the data places clips
    rule: str
    plays: int
    file: str  # clip file name inside the prototype folder


def _check_inputs(songs: pd.DataFrame, plays: pd.Series) -> None:
    for col in ("song_id", "tags"):
        if col not in songs:
            raise DataError(f"songs table lacks column {col!r} (needs song_id and tags)")
    if songs["song_id"].duplicated().any():
        raise DataError("songs table has duplicate song_id values")
    missing = [t for t in TAG_NAMES if not songs["tags"].map(lambda ts, t=t: t in ts).any()]
    if missing:
        raise DataError(f"no song carries the tags {missing}: every tag needs a prototype")
    if plays.index.has_duplicates:
        raise DataError("plays has duplicate song ids")


def _clip_file(tag: str) -> str:
    safe = "".join(c if c.isalnum() else "_" for c in tag).strip("_")
    return f"{TAG_NAMES.index(tag):02d}_{safe}.ogg"


def select_most_listened(songs: pd.DataFrame, plays: pd.Series) -> list[Prototype]:
    """The paper's rule; ties break by song id so the choice is deterministic."""
    _check_inputs(songs, plays)
    p = plays.reindex(songs["song_id"]).fillna(0).to_numpy()
    out = []
    for tag in TAG_NAMES:
        has = songs["tags"].map(lambda ts, t=tag: t in ts).to_numpy()
        cand = np.flatnonzero(has)
        best = cand[np.lexsort((songs["song_id"].to_numpy()[cand], -p[cand]))[0]]
        out.append(_prototype(tag, songs, p, best, "most_listened"))
    return out


def crossfit_tag_margins(
    embeddings: np.ndarray, tags: np.ndarray, *, folds: int = 3, seed: int = 0
) -> np.ndarray:
    """(N, 80): how strongly each song's audio says tag t rather than its category's rivals.

    One logistic regression per tag on the observed tags, cross-fitted: a song is scored
    by classifiers that never saw it. The margin of tag t is its decision value minus the
    best decision value of the other tags of the same category.
    """
    from sklearn.linear_model import LogisticRegression

    n = len(embeddings)
    fold = np.random.default_rng(seed).integers(0, folds, size=n)
    decision = np.zeros((n, tags.shape[1]))
    for f in range(folds):
        train, test = fold != f, fold == f
        for k in range(tags.shape[1]):
            y = tags[train, k]
            if 0 < y.sum() < len(y):
                clf = LogisticRegression(C=0.1, class_weight="balanced", max_iter=1000)
                decision[test, k] = clf.fit(embeddings[train], y).decision_function(
                    embeddings[test]
                )
            else:
                decision[test, k] = -np.inf if y.sum() == 0 else np.inf
    margins = np.zeros_like(decision)
    for category in CATEGORY_TAGS:
        idx = [TAG_NAMES.index(t) for t in CATEGORY_TAGS[category]]
        d = decision[:, idx]
        for j, k in enumerate(idx):
            rivals = np.delete(d, j, axis=1).max(1) if len(idx) > 1 else 0.0
            margins[:, k] = d[:, j] - rivals
    return margins


def select_purity_aware(
    songs: pd.DataFrame,
    plays: pd.Series,
    embeddings: np.ndarray,
    *,
    seed: int = 0,
) -> list[Prototype]:
    """Among songs whose observed tags name only this tag in its category and that are at
    least as played as the median such song, the one whose audio says the tag most clearly
    (:func:`crossfit_tag_margins`); a song serves at most one tag when it can."""
    _check_inputs(songs, plays)
    if len(embeddings) != len(songs):
        raise DataError(f"{len(embeddings)} embeddings for {len(songs)} songs")
    p = plays.reindex(songs["song_id"]).fillna(0).to_numpy()
    tag_sets = songs["tags"].map(set).tolist()
    observed = np.array([[t in ts for t in TAG_NAMES] for ts in tag_sets], dtype=float)
    margins = crossfit_tag_margins(embeddings, observed, seed=seed)
    categories = [category_of(t) for t in TAG_NAMES]
    per_category = np.stack(  # (N, 80): observed tags of the song in each tag's category
        [
            observed[:, [j for j, c in enumerate(categories) if c == categories[k]]].sum(1)
            for k in range(len(TAG_NAMES))
        ],
        axis=1,
    )
    ranked: dict[str, np.ndarray] = {}
    for k, tag in enumerate(TAG_NAMES):
        cand = np.flatnonzero(observed[:, k] > 0)
        purity = 1.0 / per_category[cand, k]
        cand = cand[purity == purity.max()]
        cand = cand[p[cand] >= np.median(p[cand])]  # known songs: at least median plays
        ranked[tag] = cand[np.argsort(-margins[cand, k], kind="stable")]
    used: set[int] = set()
    out = []
    for tag in sorted(TAG_NAMES, key=lambda t: len(ranked[t])):  # scarce tags choose first
        choice = next((i for i in ranked[tag] if i not in used), ranked[tag][0])
        used.add(int(choice))
        out.append(_prototype(tag, songs, p, choice, "purity_aware"))
    return sorted(out, key=lambda pr: TAG_NAMES.index(pr.tag))


def _prototype(tag: str, songs: pd.DataFrame, plays: np.ndarray, row: int, rule: str) -> Prototype:
    return Prototype(
        tag=tag,
        category=category_of(tag),
        song_id=str(songs["song_id"].iloc[row]),
        start_s=0.0,
        duration_s=0.0,
        rule=rule,
        plays=int(plays[row]),
        file=_clip_file(tag),
    )


def export_prototypes(
    prototypes: Sequence[Prototype],
    out_dir: Path,
    clip_audio: Callable[[Prototype], np.ndarray],
    *,
    sr: int,
    extra: dict | None = None,
) -> Path:
    """Write one OGG clip per tag and ``prototypes.json`` describing them."""
    from apron_core.audio import write_audio

    if [p.tag for p in prototypes] != list(TAG_NAMES):
        raise ConfigError("prototypes must cover the 80 tags in apron_core.tags order")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for proto in prototypes:
        write_audio(out_dir / proto.file, clip_audio(proto), sr=sr)
    table = {
        "version": TABLE_VERSION,
        "sr": sr,
        "rule": prototypes[0].rule,
        **(extra or {}),
        "prototypes": [asdict(p) for p in prototypes],
    }
    path = out_dir / TABLE_FILE
    path.write_text(json.dumps(table, indent=1) + "\n")
    return path


def load_prototypes(folder: Path, *, check_files: bool = True) -> list[Prototype]:
    """Read and validate a prototype table: 80 tags in order, clip files present."""
    path = Path(folder) / TABLE_FILE
    if not path.is_file():
        raise DataError(
            f"{path} not found: export prototypes with `python -m training.build_world`"
        )
    try:
        table = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(f"{path} is not valid JSON ({e}); re-export the prototypes") from None
    if table.get("version") != TABLE_VERSION:
        raise DataError(
            f"{path} has table version {table.get('version')}, expected {TABLE_VERSION}: "
            "re-export the prototypes with this version of APRON Studio"
        )
    protos = [Prototype(**p) for p in table["prototypes"]]
    if [p.tag for p in protos] != [t.name for t in TAGS]:
        raise DataError(f"{path} does not list the 80 tags in order")
    if check_files:
        missing = [p.file for p in protos if not (Path(folder) / p.file).is_file()]
        if missing:
            raise DataError(f"{path}: clip files missing: {missing[:5]}…")
    return protos
