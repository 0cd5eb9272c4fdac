import numpy as np
import pytest

from apron_core import tags
from apron_core.errors import ConfigError


def test_table_has_80_tags_in_design_order():
    assert tags.K == 80
    assert [len(tags.CATEGORY_TAGS[c]) for c in tags.CATEGORIES] == [8, 32, 20, 20]
    assert tags.TAG_NAMES[:3] == ("1950s", "1960s", "1970s")
    assert tags.TAG_NAMES[8] == "rock"
    assert tags.TAG_NAMES[39] == "new age"
    assert tags.TAG_NAMES[40] == "happy"
    assert tags.TAG_NAMES[-1] == "drum machine"
    assert len(set(tags.TAG_NAMES)) == 80


@pytest.mark.parametrize(
    ("name", "index", "category"),
    [
        ("1950s", 0, "era"),
        ("drum and bass", 24, "genre"),
        ("r&b", 19, "genre"),
        ("sentimental", 59, "mood"),
        ("piano", 60, "instrumentation"),
    ],
)
def test_lookups_by_name_and_index(name, index, category):
    assert tags.tag_index(name) == index
    assert tags.tag_by_index(index).name == name
    assert tags.category_of(name) == category
    assert index in tags.category_indices(category)


def test_lookup_tolerates_case_but_not_unknown_names():
    assert tags.tag_index(" Jazz ") == tags.tag_index("jazz")
    with pytest.raises(ConfigError, match=r"unknown tag 'jaz'.*'jazz'"):
        tags.tag_index("jaz")
    with pytest.raises(ConfigError, match="out of range"):
        tags.tag_by_index(80)
    with pytest.raises(ConfigError, match="unknown category"):
        tags.category_indices("tempo")


def test_category_indices_partition_the_table():
    all_idx = sorted(i for c in tags.CATEGORIES for i in tags.category_indices(c))
    assert all_idx == list(range(80))


def test_tag_matrix_order_and_unknown_tags():
    a = tags.tag_matrix([["rock", "1950s"], []])
    assert a.shape == (2, 80) and a.dtype == np.float32
    assert a[0, tags.TAG_NAMES.index("rock")] == 1 and a[0, 0] == 1 and a.sum() == 2
    with pytest.raises(ConfigError, match="unknown tag 'Rock' in the tags of song row 1"):
        tags.tag_matrix([["rock"], ["Rock"]])
