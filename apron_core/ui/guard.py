"""A small ASGI middleware in front of Gradio's event routes, so that one visitor
flooding the server (or sending one absurd request) costs a JSON parse, not a handler
run: per session, a token bucket on events, a cap on unqueued events running at once and
on queued events waiting; for all sessions together, a few unqueued events at a time,
first come first served (Gradio's queue does the same for queued ones); per request,
caps on the body, on any one string and on any one integer. A refused request gets HTTP
400/413/429 with a short message that the page shows as an error and that quotes at
most ~80 characters of what was sent.

Why here and not in the handlers: a refusal inside a handler comes after Gradio has
parsed, queued, preprocessed and scheduled the event on a worker thread, and a queued
flood would already fill the queue for everyone (its `max_size` is global). Sessions are
keyed by Gradio's session hash (`session_hash` in the body); a request without one (the
`/call/<api>` routes of API clients) is keyed by its client address.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from apron_core.checks import quote
from apron_core.ui.limits import Limits

log = logging.getLogger("apron_studio")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

API = "/gradio_api/"
UNQUEUED = "/gradio_api/run/"  # run/predict: the slider releases
UNGUARDED = ("/gradio_api/upload",)  # multipart; capped by launch(max_file_size=…)
FILE_KEYS = frozenset({"path", "url", "orig_name"})  # FileData strings: paths, not text
MAX_PATH_CHARS = 4096
MAX_KEYS = 100_000  # idle buckets are dropped at once beyond this many sessions
SWEEP_S = 60.0  # and every minute anyway: one bucket per session ever seen is a leak
QUEUE_ATTR = "pending_event_ids_session"  # Gradio's queue: session → events not delivered


class Refused(Exception):
    """A request the guard answers itself: HTTP status, title and message."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    running: int = 0


class TokenBuckets:
    """Per-key token buckets (rate `per_s`, capacity `burst`) plus a count of running
    requests; one event loop uses it, so no lock. Keys idle long enough to be full again
    (they would start over full anyway) are dropped every `sweep_s`, and at once when the
    table grows past MAX_KEYS."""

    def __init__(
        self,
        per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        sweep_s: float = SWEEP_S,
    ):
        self.per_s = float(per_s)
        self.burst = int(burst)
        self.clock = clock
        self.sweep_s = sweep_s
        self._buckets: dict[str, _Bucket] = {}
        self._swept = clock()

    def __len__(self) -> int:
        return len(self._buckets)

    def bucket(self, key: str) -> _Bucket:
        now = self.clock()
        if now - self._swept > self.sweep_s:
            self.forget_idle()
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= MAX_KEYS:
                self.forget_idle()
            b = self._buckets[key] = _Bucket(float(self.burst), now)
        else:
            b.tokens = min(self.burst, b.tokens + (now - b.stamp) * self.per_s)
            b.stamp = now
        return b

    def take(self, key: str) -> bool:
        """One event for `key`: True if it may run now."""
        b = self.bucket(key)
        if b.tokens < 1.0:
            return False
        b.tokens -= 1.0
        return True

    def forget_idle(self) -> int:
        """Drop the keys whose bucket is full again and that run nothing; how many."""
        now = self._swept = self.clock()
        idle = [
            k
            for k, b in self._buckets.items()
            if b.running == 0 and b.tokens + (now - b.stamp) * self.per_s >= self.burst
        ]
        for k in idle:
            del self._buckets[k]
        return len(idle)


class RequestGuard:
    """ASGI middleware: see the module doc. Install with
    `launch(app_kwargs={"middleware": [Middleware(RequestGuard, limits=…)]})`."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self.buckets = TokenBuckets(limits.events_per_s, limits.event_burst)
        # Gradio runs unqueued events on up to 40 threads at once, which then share one
        # GIL in no order: under load the unlucky ones wait many times longer than the
        # rest. A few at a time, the others waiting first come first served, keeps the
        # wait the same for everyone (reports/app_benchmarks.md).
        self.unqueued = asyncio.Semaphore(limits.unqueued_concurrency)
        self.refused = 0  # requests answered by the guard (for logs and benchmarks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope.get("method") != "POST" or API not in path or path.endswith(UNGUARDED):
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(scope, receive)
            key = self._check_body(scope, body)
            unqueued = UNQUEUED in path
            self._admit(scope, key, queued=not unqueued)
        except Refused as e:
            self.refused += 1
            if self.refused % 1000 == 1:
                log.warning("guard refused a request (%d so far): %s", self.refused, e.message)
            await _answer(send, e)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        if not unqueued:
            await self.app(scope, replay, send)
            return
        bucket = self.buckets.bucket(key)
        bucket.running += 1
        try:
            async with self.unqueued:
                await self.app(scope, replay, send)
        finally:
            bucket.running -= 1

    # ----------------------------------------------------------------- checks

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        cap = self.limits.max_request_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise _too_big(int(declared), cap)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Refused(400, "Request aborted", "the request was cut off: send it again")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                raise _too_big(size, cap)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _check_body(self, scope: Scope, body: bytes) -> str:
        """The key the request counts against; Refused if it carries an oversized value."""
        try:
            doc = json.loads(body, parse_int=self._parse_int) if body.strip() else {}
        except Refused:
            raise
        except (ValueError, RecursionError):
            doc = None  # not JSON (or nested absurdly): Gradio answers it, cheaply
        if doc is not None:
            self._check_value(doc)
        session = doc.get("session_hash") if isinstance(doc, dict) else None
        if isinstance(session, str) and session:
            return "s:" + session
        client = scope.get("client")
        return "a:" + (str(client[0]) if client else "?")

    def _parse_int(self, text: str) -> int:
        digits = len(text.lstrip("-"))
        if digits > self.limits.max_int_digits:
            raise Refused(
                400,
                "Number too large",
                f"a number you sent has {digits:,} digits ({text[:20]}…); this app takes "
                f"numbers of at most {self.limits.max_int_digits} digits: send a "
                "percent, a weight or a count",
            )
        return int(text)

    def _check_value(self, doc: object) -> None:
        """Every string in the body within max_text_chars (file paths within PATH_MAX)."""
        cap = self.limits.max_text_chars
        stack: list[tuple[object, int]] = [(doc, cap)]
        while stack:
            value, limit = stack.pop()
            if isinstance(value, str):
                if len(value) > limit:
                    raise Refused(
                        400,
                        "Text too long",
                        f"you sent {quote(value)}; this app takes text of at most "
                        f"{limit:,} characters here: send something shorter",
                    )
            elif isinstance(value, dict):
                for k, v in value.items():
                    stack.append((k, cap))
                    stack.append((v, MAX_PATH_CHARS if k in FILE_KEYS else cap))
            elif isinstance(value, list):
                stack.extend((v, limit) for v in value)

    def _admit(self, scope: Scope, key: str, *, queued: bool) -> None:
        limits = self.limits
        bucket = self.buckets.bucket(key)
        if not queued and bucket.running >= limits.max_running_unqueued:
            raise Refused(
                429,
                "Slow down",
                f"slow down: this tab already has {bucket.running} edits on their way "
                "(more cannot help); wait for the list to update",
            )
        if queued and key.startswith("s:"):
            waiting = _waiting(scope, key[2:])
            if waiting >= limits.max_waiting_queued:
                raise Refused(
                    429,
                    "Slow down",
                    f"slow down: this tab already has {waiting} requests waiting; "
                    "wait for them to finish",
                )
        if not self.buckets.take(key):
            raise Refused(
                429,
                "Slow down",
                f"slow down: more than {limits.event_burst} requests at once, or "
                f"{limits.events_per_s:g} a second, from this tab; wait a few seconds and "
                "try again",
            )


# --------------------------------------------------------------------------- helpers


def _too_big(size: int, cap: int) -> Refused:
    return Refused(
        413,
        "Request too large",
        f"the request is {size / 1e6:.1f} MB; this app takes at most {cap / 1e6:g} MB "
        "per request (upload audio as a file): send less",
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _waiting(scope: Scope, session: str) -> int:
    """Queued events of `session` not yet delivered (0 if Gradio's queue is not there)."""
    app = scope.get("app")
    try:
        pending = getattr(app.get_blocks()._queue, QUEUE_ATTR)
    except AttributeError:
        return 0
    return len(pending.get(session, ()))


async def _answer(send: Send, refusal: Refused) -> None:
    """A JSON error in the shapes Gradio's page reads: `error` for an unqueued event,
    `detail` for a queue join."""
    payload = {
        "error": refusal.message,
        "detail": refusal.message,
        "title": refusal.title,
        "visible": True,
    }
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if refusal.status == 429:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
