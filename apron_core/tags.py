"""The 80 prototype tags of APRON Studio (docs/design.md §1): names, order and category.

The order is part of the data format: profiles, prototype tables and song-tag
matrices are indexed by it. Never reorder; append a new table version instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from apron_core.errors import ConfigError

CATEGORY_TAGS: dict[str, tuple[str, ...]] = {
    "era": ("1950s", "1960s", "1970s", "1980s", "1990s", "2000s", "2010s", "2020s"),
    "genre": (
        "rock", "pop", "jazz", "blues", "country", "folk", "soul", "funk", "disco",
        "reggae", "hip-hop", "r&b", "electronic", "house", "techno", "ambient",
        "drum and bass", "metal", "punk", "indie", "classical", "latin", "bossa nova",
        "gospel", "synthpop", "grunge", "trip-hop", "lo-fi", "swing", "rockabilly", "ska",
        "new age",
    ),
    "mood": (
        "happy", "sad", "energetic", "calm", "dark", "romantic", "melancholic", "uplifting",
        "aggressive", "dreamy", "playful", "tense", "nostalgic", "peaceful", "epic", "groovy",
        "mellow", "hopeful", "mysterious", "sentimental",
    ),
    "instrumentation": (
        "piano", "electric piano", "organ", "acoustic guitar", "electric guitar",
        "distorted guitar", "strings", "cello", "brass", "saxophone", "trumpet", "flute",
        "harp", "synth lead", "synth pad", "synth bass", "choir", "banjo", "accordion",
        "drum machine",
    ),
}  # fmt: skip

CATEGORIES: tuple[str, ...] = tuple(CATEGORY_TAGS)
ERAS = CATEGORY_TAGS["era"]
GENRES = CATEGORY_TAGS["genre"]
MOODS = CATEGORY_TAGS["mood"]
INSTRUMENTS = CATEGORY_TAGS["instrumentation"]


@dataclass(frozen=True)
class Tag:
    index: int
    name: str
    category: str


TAGS: tuple[Tag, ...] = tuple(
    Tag(index=i, name=name, category=category)
    for i, (category, name) in enumerate(
        (category, name) for category, names in CATEGORY_TAGS.items() for name in names
    )
)
TAG_NAMES: tuple[str, ...] = tuple(tag.name for tag in TAGS)
K = len(TAGS)
_INDEX = {tag.name: tag.index for tag in TAGS}


def tag_index(name: str) -> int:
    """Index of a tag by its exact name; raises ConfigError naming close matches."""
    try:
        return _INDEX[name]
    except KeyError:
        lowered = name.strip().lower()
        if lowered in _INDEX:
            return _INDEX[lowered]
        hint = [t for t in TAG_NAMES if lowered[:3] and t.startswith(lowered[:3])]
        raise ConfigError(
            f"unknown tag {name!r}: use one of the {K} tags in apron_core.tags.TAG_NAMES"
            + (f" (did you mean {', '.join(map(repr, hint))}?)" if hint else "")
        ) from None


def tag_by_name(name: str) -> Tag:
    return TAGS[tag_index(name)]


def tag_by_index(index: int) -> Tag:
    if not 0 <= index < K:
        raise ConfigError(f"tag index {index} out of range: must be in [0, {K})")
    return TAGS[index]


def category_of(name: str) -> str:
    return tag_by_name(name).category


def category_indices(category: str) -> list[int]:
    """Indices (into the 80-tag order) of the tags of one category (a fresh list: the
    charts call this on every edit, so the table is built once)."""
    if category not in _CATEGORY_INDICES:
        raise ConfigError(f"unknown category {category!r}: use one of {CATEGORIES}")
    return list(_CATEGORY_INDICES[category])


_CATEGORY_INDICES = {c: tuple(t.index for t in TAGS if t.category == c) for c in CATEGORY_TAGS}


def tag_matrix(tag_lists: Sequence[Iterable[str]]) -> np.ndarray:
    """(N, 80) binary song-tag matrix in the fixed tag order; raises ConfigError on an
    unknown tag (naming it), since a silently dropped tag would skew every metric."""
    a = np.zeros((len(tag_lists), K), dtype=np.float32)
    for row, tags in enumerate(tag_lists):
        for t in tags:
            k = _INDEX.get(t)
            if k is None:
                raise ConfigError(
                    f"unknown tag {str(t)[:80]!r} in the tags of song row {row}: use the {K} "
                    "names of apron_core.tags.TAG_NAMES (map other spellings first)"
                )
            a[row, k] = 1.0
    return a
