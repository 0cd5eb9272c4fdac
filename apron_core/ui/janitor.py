"""What keeps a long-running app from growing: every `interval_s` it forgets the
sessions nobody used for `ttl_s` and prunes each disk folder to its cap.

Gradio keeps, per session, a copy of the page config (~0.6 MB here: 80 sliders) for as
long as the session is among the `state_session_capacity` most recent, whatever the
`gr.State`'s time_to_live (that frees the state value only). So the janitor also drops
whole sessions idle for longer than the time-to-live from Gradio's StateHolder, then
hands the freed memory back to the OS (glibc's malloc_trim). It runs as the server's
lifespan (`lifespan(app)`), so it starts and stops with the server.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from apron_core.ui.disk import Folder, prune

log = logging.getLogger("apron_studio")


def release_free_memory() -> None:
    """Give freed heap pages back to the OS (glibc; a no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def forget_idle_sessions(holder: Any, ttl_s: float, now: datetime.datetime | None = None) -> int:
    """Drop from Gradio's StateHolder every session not used for `ttl_s` seconds (its state
    values' delete callbacks run first); how many. The holder's own LRU cap only counts
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
    return len(stale)


class Janitor:
    """A daemon thread: every `interval_s`, forget idle sessions (once `attach`ed to the
    running app's StateHolder) and prune each folder."""

    def __init__(self, folders: Sequence[Folder], *, ttl_s: float, interval_s: float) -> None:
        self.folders = tuple(folders)
        self.ttl_s = ttl_s
        self.interval_s = interval_s
        self.holder: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sessions_forgotten = 0
        self.files_removed = 0

    def attach(self, holder: Any) -> None:
        self.holder = holder

    def run_once(self) -> None:
        if self.holder is not None:
            n = forget_idle_sessions(self.holder, self.ttl_s)
            if n:
                self.sessions_forgotten += n
                gc.collect()
                release_free_memory()
                log.info("forgot %d idle sessions (%d held)", n, len(self.holder.session_data))
        for folder in self.folders:
            pruned = prune(folder.path, folder.cap)
            self.files_removed += pruned.entries
            if pruned.entries:
                log.info(
                    "pruned %d entries (%.1f MB) from %s", pruned.entries, pruned.bytes / 1e6,
                    folder.path,
                )  # fmt: skip

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
            self.attach(getattr(app, "state_holder", None))
            self.start()
            try:
                yield
            finally:
                self.stop()

        return span
