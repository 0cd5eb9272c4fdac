"""How much one visitor may make the server hold or do: the caps a public Space needs
against the visitor who sends the worst request they can think of, and the checks that
apply them to what a handler receives.

Defaults suit a Space with 2 vCPUs and 16 GB shared by everyone: what one session holds
(picked songs, history, state lifetime), what one request may carry, how fast one
session may send events, and how many events wait in Gradio's queue. `guard.RequestGuard`
enforces the per-request ones before Gradio sees the request; the handlers call the
checks below; `janitor.Janitor` drops idle sessions and prunes the disk caches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from apron_core.checks import quote
from apron_core.errors import ConfigError, DataError

MAX_SONG_ID_CHARS = 64  # catalog ids are short ('S00001', MSD track ids are 18)


@dataclass(frozen=True)
class Limits:
    # what one session may hold
    max_picked_songs: int = 500  # "Your songs" (demo listeners have 20-92)
    max_history: int = 5000  # songs an imported profile may exclude
    session_ttl_s: float = 3600.0  # an idle session is forgotten after this
    max_sessions: int = 2000  # sessions held at once (~0.6 MB each); least recent dropped
    # what one request may carry
    max_request_bytes: int = 1_000_000  # JSON body of one event (uploads have their own cap)
    max_text_chars: int = 400  # any one string in it (commands ≤ 300, search ≤ 100, ids ≤ 64;
    # file paths exempt): past what any handler takes, so the handler names its own limit
    max_int_digits: int = 30  # any one integer in it
    # how fast one session (or one API caller without a session) may send events
    events_per_s: float = 10.0  # sustained
    event_burst: int = 40  # at once, after a pause
    max_running_unqueued: int = 4  # unqueued events (slider releases) of one session at once
    unqueued_concurrency: int = 2  # unqueued events running at once, all sessions (FIFO)
    max_waiting_queued: int = 8  # queued events of one session not yet delivered
    # Gradio's queue
    queue_max_size: int = 256  # events waiting, all sessions together
    queue_concurrency: int = 4  # queued events of one kind running at once
    max_threads: int = 40  # handler threads, queued and unqueued together (Gradio's default)
    janitor_interval_s: float = 10.0  # how often idle sessions and old files are dropped

    def __post_init__(self) -> None:
        counts = {
            "max_picked_songs": self.max_picked_songs,
            "max_history": self.max_history,
            "max_sessions": self.max_sessions,
            "max_request_bytes": self.max_request_bytes,
            "max_text_chars": self.max_text_chars,
            "max_int_digits": self.max_int_digits,
            "event_burst": self.event_burst,
            "max_running_unqueued": self.max_running_unqueued,
            "unqueued_concurrency": self.unqueued_concurrency,
            "max_waiting_queued": self.max_waiting_queued,
            "queue_max_size": self.queue_max_size,
            "queue_concurrency": self.queue_concurrency,
            "max_threads": self.max_threads,
        }
        bad = {k: v for k, v in counts.items() if isinstance(v, bool) or not isinstance(v, int)}
        bad |= {k: v for k, v in counts.items() if k not in bad and v < 1}
        if bad:
            raise ConfigError(f"limits must be positive integers: {bad}")
        for name in ("session_ttl_s", "events_per_s", "janitor_interval_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{name}={value!r} must be a positive number of seconds")


# --------------------------------------------------------------------------- checks


def check_song_ids(values: object, *, what: str, limit: int) -> list[str]:
    """A list of at most `limit` song ids (short strings), duplicates dropped in order;
    DataError naming the first bad one (quoted short) otherwise. Unknown ids are left to
    the engine, which names them."""
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise DataError(f"{what} must be a list of song ids, not {quote(values)}")
    for value in values:
        if not isinstance(value, str) or not 0 < len(value) <= MAX_SONG_ID_CHARS:
            raise DataError(
                f"{what}: {quote(value)} is not a song id (ids are short text such as "
                "'S00001'): pick songs from the catalog"
            )
    ids = list(dict.fromkeys(values))
    if len(ids) > limit:
        raise DataError(
            f"{what}: {len(ids):,} songs, more than the {limit:,} this app keeps per "
            "visitor: remove some and try again"
        )
    return ids


def check_query(query: object, *, limit: int) -> str:
    """A catalog search of at most `limit` characters."""
    if not isinstance(query, str):
        raise DataError(f"the search must be text, not {quote(query)}")
    if len(query) > limit:
        raise DataError(
            f"the search {quote(query)} is longer than {limit} characters: use a few words"
        )
    return query
