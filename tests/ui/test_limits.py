"""The caps: their settings refuse nonsense, and the checks the handlers call name what
is wrong with a value, quoted short, whatever its size."""

from __future__ import annotations

import pytest

from apron_core.errors import ConfigError, DataError
from apron_core.ui.commands import MAX_COMMAND_CHARS
from apron_core.ui.context import AppConfig
from apron_core.ui.limits import MAX_SONG_ID_CHARS, Limits, check_query, check_song_ids


def test_defaults_are_consistent():
    limits = Limits()
    assert limits.event_burst >= limits.events_per_s  # a burst holds at least a second
    assert limits.queue_max_size >= limits.max_waiting_queued
    # every text a handler takes reaches it, so that the handler names its own limit
    assert limits.max_text_chars >= max(
        MAX_SONG_ID_CHARS, MAX_COMMAND_CHARS, AppConfig.max_query_chars
    )


@pytest.mark.parametrize(
    "field, value",
    [("max_sessions", 0), ("event_burst", -1), ("max_text_chars", 2.5), ("queue_max_size", True),
     ("unqueued_concurrency", 0), ("session_ttl_s", 0), ("events_per_s", -1.0),
     ("janitor_interval_s", "10")],
)  # fmt: skip
def test_nonsense_limits_are_refused(field, value):
    with pytest.raises(ConfigError, match=field):
        Limits(**{field: value})


def test_song_ids_deduplicated_in_order():
    assert check_song_ids(["S2", "S1", "S2"], what="your songs", limit=5) == ["S2", "S1"]
    assert check_song_ids(None, what="your songs", limit=5) == []


@pytest.mark.parametrize(
    "values, match",
    [
        ("S0001", "must be a list of song ids"),
        (42, "must be a list"),
        ([1, 2], "1 is not a song id"),
        (["S" * 10_000_000], r"\(10,000,000 characters\) is not a song id"),
        ([""], "'' is not a song id"),
        ([f"S{i}" for i in range(11)], "11 songs, more than the 10"),
    ],
)
def test_bad_song_ids_are_named_short(values, match):
    with pytest.raises(DataError, match=match) as e:
        check_song_ids(values, what="your songs", limit=10)
    assert len(str(e.value)) < 250


def test_query_length_and_type():
    assert check_query("jazz piano", limit=100) == "jazz piano"
    with pytest.raises(DataError, match=r"\(10,000,000 characters\) is longer than 100") as e:
        check_query("q" * 10_000_000, limit=100)
    assert len(str(e.value)) < 200
    with pytest.raises(DataError, match="must be text"):
        check_query(["jazz"], limit=100)
