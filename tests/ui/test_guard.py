"""The request guard in front of Gradio's event routes, on a tiny ASGI app that records
what reached it: caps on body, text and integers, the per-session token bucket, the
running and waiting caps, and what passes through untouched."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from apron_core.ui.guard import MAX_KEYS, QUEUE_ATTR, RequestGuard, TokenBuckets
from apron_core.ui.limits import Limits

PREDICT = "/gradio_api/run/predict"
JOIN = "/gradio_api/queue/join"


class FakeQueue:
    def __init__(self) -> None:
        setattr(self, QUEUE_ATTR, {})


class FakeBlocks:
    def __init__(self) -> None:
        self._queue = FakeQueue()


def make_client(limits: Limits, *, gate: threading.Event | None = None):
    """A Starlette app behind the guard; its routes echo the body they received. With a
    `gate`, run/predict waits for it (to hold requests "running")."""
    seen: list[dict] = []

    async def echo(request: Request) -> JSONResponse:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode()
        seen.append(body)
        if gate is not None and request.url.path == PREDICT:
            while not gate.is_set():
                await asyncio.sleep(0.01)
        return JSONResponse({"ok": True, "echo": body})

    app = Starlette(
        routes=[Route(PREDICT, echo, methods=["POST"]), Route(JOIN, echo, methods=["POST"]),
                Route("/gradio_api/upload", echo, methods=["POST"]),
                Route("/other", echo, methods=["POST"])],
        middleware=[Middleware(RequestGuard, limits=limits)],
    )  # fmt: skip
    blocks = FakeBlocks()
    app.get_blocks = lambda: blocks  # what the guard asks Gradio's App
    return TestClient(app), seen, app


def body(session: str = "abc", data: list | None = None) -> dict:
    return {"data": data if data is not None else [None, 12.5], "fn_index": 3,
            "session_hash": session}  # fmt: skip


def test_an_ordinary_event_passes_unchanged():
    client, seen, _ = make_client(Limits())
    r = client.post(PREDICT, json=body())
    assert r.status_code == 200 and r.json()["echo"] == body()
    assert seen == [body()]


def test_a_large_body_is_refused_before_it_is_read():
    client, seen, _ = make_client(Limits(max_request_bytes=1000))
    r = client.post(PREDICT, json=body(data=["x" * 50] * 100))
    assert r.status_code == 413 and seen == []
    message = r.json()["error"]
    assert "MB" in message and "at most" in message and len(message) < 200


@pytest.mark.parametrize("path", [PREDICT, JOIN])
def test_a_long_string_is_named_and_quoted_short(path):
    client, seen, _ = make_client(Limits(max_text_chars=200))
    r = client.post(path, json=body(data=["S" * 500_000]))
    assert r.status_code == 400 and seen == []
    message = r.json()["detail"]
    assert "500,000 characters" in message and "at most 200" in message
    assert len(message) < 250 and message.count("S") <= 80


def test_file_paths_may_be_longer_than_text():
    client, _, _ = make_client(Limits(max_text_chars=50))
    file = {"path": "/tmp/gradio/" + "a" * 200 + "/song.wav", "orig_name": "song.wav"}
    assert client.post(JOIN, json=body(data=[[], [file]])).status_code == 200
    too_long = {"path": "/" + "a" * 5000}
    assert client.post(JOIN, json=body(data=[[], [too_long]])).status_code == 400


def test_a_huge_integer_is_refused_without_converting_it():
    client, seen, _ = make_client(Limits(max_int_digits=30))
    raw = '{"data": [null, ' + "9" * 5000 + '], "fn_index": 1, "session_hash": "a"}'
    r = client.post(PREDICT, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400 and seen == []
    assert "5,000 digits" in r.json()["error"] and len(r.json()["error"]) < 200
    ok = raw.replace("9" * 5000, "9" * 30)
    assert client.post(PREDICT, content=ok).status_code == 200


def test_a_body_that_is_not_json_reaches_gradio_which_answers_it():
    client, seen, _ = make_client(Limits())
    r = client.post(PREDICT, content=b"not json {")
    assert r.status_code == 200 and seen == ["not json {"]  # passed on, byte for byte


def test_uploads_and_other_routes_are_not_guarded():
    client, _, _ = make_client(Limits(max_text_chars=5))
    assert client.post("/gradio_api/upload", json={"x": "long text"}).status_code == 200
    assert client.post("/other", json={"x": "long text"}).status_code == 200


def test_one_session_is_slowed_down_and_another_is_not():
    client, _, _ = make_client(Limits(events_per_s=0.001, event_burst=5))
    codes = [client.post(PREDICT, json=body("flood")).status_code for _ in range(8)]
    assert codes == [200] * 5 + [429] * 3
    r = client.post(PREDICT, json=body("flood"))
    assert "slow down" in r.json()["error"] and r.headers["retry-after"] == "1"
    assert client.post(PREDICT, json=body("honest")).status_code == 200


def test_api_callers_without_a_session_count_by_address():
    client, _, _ = make_client(Limits(events_per_s=0.001, event_burst=2))
    no_session = {"data": [1]}
    codes = [client.post(JOIN, json=no_session).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_a_session_with_events_waiting_in_the_queue_is_refused_more():
    client, _, app = make_client(Limits(max_waiting_queued=2))
    pending = getattr(app.get_blocks()._queue, QUEUE_ATTR)
    pending["busy"] = {"e1", "e2"}
    r = client.post(JOIN, json=body("busy"))
    assert r.status_code == 429 and "2 requests waiting" in r.json()["detail"]
    assert client.post(JOIN, json=body("calm")).status_code == 200
    pending["busy"] = {"e1"}
    assert client.post(JOIN, json=body("busy")).status_code == 200


def test_unqueued_events_of_one_session_running_at_once_are_capped():
    gate = threading.Event()
    limits = Limits(max_running_unqueued=2, unqueued_concurrency=4)
    client, seen, _ = make_client(limits, gate=gate)
    results: list[int] = []

    def send() -> None:
        results.append(client.post(PREDICT, json=body("many")).status_code)

    with client:  # one event loop for every request, as in the server
        threads = [threading.Thread(target=send) for _ in range(2)]
        for t in threads:
            t.start()
        for _ in range(500):  # until both are running inside the app
            if len(seen) == 2:
                break
            threading.Event().wait(0.01)
        third = client.post(PREDICT, json=body("many"))
        gate.set()
        for t in threads:
            t.join(10)
        assert third.status_code == 429 and "on their way" in third.json()["error"]
        assert results == [200, 200]
        assert client.post(PREDICT, json=body("many")).status_code == 200  # released


def test_unqueued_events_of_all_sessions_run_a_few_at_a_time_in_arrival_order():
    gate = threading.Event()
    client, seen, _ = make_client(Limits(unqueued_concurrency=1), gate=gate)
    results: dict[str, int] = {}

    def send(session: str) -> None:
        results[session] = client.post(PREDICT, json=body(session)).status_code

    with client:  # one event loop for every request, as in the server
        first = threading.Thread(target=send, args=("first",))
        first.start()
        for _ in range(500):  # until it runs inside the app
            if seen:
                break
            threading.Event().wait(0.01)
        second = threading.Thread(target=send, args=("second",))
        second.start()
        second.join(0.5)
        assert [b["session_hash"] for b in seen] == ["first"]  # the second waits its turn
        assert second.is_alive() and results == {}  # not refused: waiting
        gate.set()
        first.join(10)
        second.join(10)
    assert results == {"first": 200, "second": 200}
    assert [b["session_hash"] for b in seen] == ["first", "second"]


def test_token_buckets_refill_and_forget_idle_keys():
    now = [0.0]
    buckets = TokenBuckets(per_s=2.0, burst=3, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(4)] == [True, True, True, False]
    now[0] = 0.5  # one token back
    assert buckets.take("a") and not buckets.take("a")
    buckets.take("b")
    now[0] = 10.0
    assert buckets.forget_idle() == 2 and len(buckets) == 0
    assert MAX_KEYS >= 10_000  # a table bounded well above the sessions a Space holds


def test_token_buckets_of_gone_sessions_are_swept_while_others_keep_coming():
    now = [0.0]
    buckets = TokenBuckets(per_s=10.0, burst=20, clock=lambda: now[0], sweep_s=60.0)
    for i in range(500):  # 500 sessions that each send one event and leave
        buckets.take(f"gone{i}")
    busy = buckets.bucket("busy")
    busy.running = 1  # one with an event running right now
    now[0] = 30.0
    buckets.take("new")
    assert len(buckets) == 502  # not yet a minute
    now[0] = 61.0
    buckets.take("newer")  # the first request after a minute sweeps
    assert len(buckets) == 2 and buckets.bucket("busy") is busy


def test_refusals_are_json_in_the_shapes_gradio_pages_read():
    client, _, _ = make_client(Limits(events_per_s=0.001, event_burst=1))
    client.post(JOIN, json=body("x"))
    r = client.post(JOIN, json=body("x"))
    doc = json.loads(r.text)
    assert r.headers["content-type"] == "application/json"
    assert doc["error"] == doc["detail"] and doc["title"] == "Slow down" and doc["visible"]
