"""What keeps a long-running app from growing: every `interval_s` it forgets the
sessions nobody used for `ttl_s` and prunes each disk folder to its cap.

Gradio keeps, per session, a copy of the page config (~0.3 MB of Python objects here:
80 sliders) for as long as the session is among the `state_session_capacity` most
recent, whatever the `gr.State`'s time_to_live (that frees the state value only). So the
janitor also drops whole sessions idle for longer than the time-to-live from Gradio's
StateHolder, and what its queue keeps per session once every event of it is delivered
(an empty message queue and an empty set of event ids, never removed by Gradio: one
entry per session ever seen), then hands the freed memory back to the OS (glibc's
malloc_trim). It runs as the server's lifespan (`lifespan(app)`), so it starts and stops
with the server; the queue's dicts are touched on the server's event loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime
import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from typing import Any

from apron_core.ui.disk import Folder, prune

log = logging.getLogger("apron_studio")


def release_free_memory() -> None:
    """Give freed heap pages back to the OS (glibc; a no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def forget_idle_sessions(
    holder: Any, ttl_s: float, now: datetime.datetime | None = None
) -> list[str]:
    """Drop from Gradio's StateHolder every session not used for `ttl_s` seconds (its state
    values' delete callbacks run first); their ids. The holder's own LRU cap only counts
    sessions, so an abandoned session would otherwise stay until 2,000 newer ones came."""
    now = now or datetime.datetime.now()
    cutoff = now - datetime.timedelta(seconds=ttl_s)
    with holder.lock:
        stale = [sid for sid, used in list(holder.time_last_used.items()) if used < cutoff]
    for sid in stale:
        with contextlib.suppress(Exception):  # a callback's failure must not keep the session
            holder.delete_state(sid)
        with holder.lock:
            holder.session_data.pop(sid, None)
            holder.time_last_used.pop(sid, None)
    return stale


def forget_queue_leftovers(queue: Any, session_ids: Collection[str]) -> int:
    """Drop what Gradio's queue still keeps for these sessions when nothing of theirs is
    pending (an empty message queue, an empty set of event ids); how many sessions. Call
    on the server's event loop: the queue's own coroutines iterate these dicts."""
    messages = getattr(queue, "pending_messages_per_session", None)
    event_ids = getattr(queue, "pending_event_ids_session", None)
    if messages is None or event_ids is None:
        return 0  # another Gradio: tests/ui/test_janitor.py says which attributes
    dropped = 0
    for sid in session_ids:
        waiting = messages.get(sid)
        if event_ids.get(sid) or (waiting is not None and not waiting.empty()):
            continue  # an event of it is still on its way: Gradio removes it later
        found = messages.pop(sid, None) is not None
        found |= event_ids.pop(sid, None) is not None
        dropped += found
    return dropped


class Janitor:
    """A daemon thread: every `interval_s`, forget idle sessions (once `attach`ed to the
    running app's StateHolder) and prune each folder."""

    def __init__(self, folders: Sequence[Folder], *, ttl_s: float, interval_s: float) -> None:
        self.folders = tuple(folders)
        self.ttl_s = ttl_s
        self.interval_s = interval_s
        self.holder: Any = None
        self.queue: Any = None  # Gradio's queue and the loop it runs on, once attached
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sessions_forgotten = 0
        self.files_removed = 0

    def attach(
        self, holder: Any, queue: Any = None, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        self.holder, self.queue, self.loop = holder, queue, loop

    def run_once(self) -> None:
        if self.holder is not None:
            stale = forget_idle_sessions(self.holder, self.ttl_s)
            if stale:
                self.sessions_forgotten += len(stale)
                self._forget_in_queue(stale)
                gc.collect()
                release_free_memory()
                log.info(
                    "forgot %d idle sessions (%d held)", len(stale), len(self.holder.session_data)
                )
        for folder in self.folders:
            pruned = prune(folder.path, folder.cap)
            self.files_removed += pruned.entries
            if pruned.entries:
                log.info(
                    "pruned %d entries (%.1f MB) from %s", pruned.entries, pruned.bytes / 1e6,
                    folder.path,
                )  # fmt: skip

    def _forget_in_queue(self, stale: list[str]) -> None:
        if self.queue is None:
            return
        if self.loop is None:  # no server loop (tests): nothing else touches the queue
            forget_queue_leftovers(self.queue, stale)
            return
        future = asyncio.run_coroutine_threadsafe(
            _call(forget_queue_leftovers, self.queue, stale), self.loop
        )
        with contextlib.suppress(Exception):  # a stopping server: its queue goes with it
            future.result(timeout=self.interval_s)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception:  # the janitor must outlive one bad folder or session
                log.exception("janitor round failed")

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="apron-janitor", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def lifespan(self) -> Callable[[Any], contextlib.AbstractAsyncContextManager]:
        """The server's lifespan: attach to the app's sessions, run while it serves."""

        @contextlib.asynccontextmanager
        async def span(app: Any) -> AsyncIterator[None]:
            blocks = app.get_blocks() if hasattr(app, "get_blocks") else None
            queue = getattr(blocks, "_queue", None)
            self.attach(getattr(app, "state_holder", None), queue, asyncio.get_running_loop())
            self.start()
            try:
                yield
            finally:
                self.stop()

        return span


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)
