"""The janitor forgets sessions idle past their time-to-live from Gradio's own
StateHolder, and prunes folders, while a server runs."""

from __future__ import annotations

import asyncio
import datetime
import os
import time

import gradio as gr
from gradio.state_holder import StateHolder

from apron_core.ui.disk import Folder, FolderCap
from apron_core.ui.janitor import Janitor, forget_idle_sessions, forget_queue_leftovers


def _holder() -> StateHolder:
    with gr.Blocks() as demo:
        gr.State(value=1, time_to_live=10)
    holder = StateHolder()
    holder.set_blocks(demo)
    return holder


def test_idle_sessions_are_forgotten_and_used_ones_kept():
    holder = _holder()
    holder["old"]  # a session appears when first used
    holder["new"]
    now = datetime.datetime.now()
    holder.time_last_used["old"] = now - datetime.timedelta(seconds=120)
    assert forget_idle_sessions(holder, ttl_s=60, now=now) == ["old"]
    assert "old" not in holder and "new" in holder
    assert set(holder.time_last_used) == {"new"}
    # Gradio's own attributes the janitor relies on (checked here so an upgrade fails loudly)
    assert hasattr(holder, "lock") and hasattr(holder, "session_data")


def test_janitor_prunes_its_folders_and_attaches_to_the_app(tmp_path):
    old = tmp_path / "old.json"
    old.write_text("{}")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    (tmp_path / "new.json").write_text("{}")
    holder = _holder()
    holder["gone"]
    holder.time_last_used["gone"] = datetime.datetime.now() - datetime.timedelta(hours=2)
    janitor = Janitor([Folder(tmp_path, FolderCap(10**6, 100, 3600))], ttl_s=60, interval_s=60)
    janitor.attach(holder)
    janitor.run_once()
    assert [p.name for p in tmp_path.iterdir()] == ["new.json"]
    assert "gone" not in holder and janitor.sessions_forgotten == 1 and janitor.files_removed == 1


def _queue(demo: gr.Blocks):
    demo.queue()
    return demo._queue


def test_queue_leftovers_of_forgotten_sessions_are_dropped_unless_pending():
    with gr.Blocks() as demo:
        gr.State(value=1)
    queue = _queue(demo)
    # what Gradio's queue keeps per session once its events are delivered (it never
    # removes these), and one session with an event still on its way
    for sid in ("gone", "busy", "kept"):
        queue.pending_messages_per_session[sid] = asyncio.Queue()
        queue.pending_event_ids_session[sid] = set()
    queue.pending_event_ids_session["busy"].add("event-1")
    assert forget_queue_leftovers(queue, ["gone", "busy", "never-seen"]) == 1
    assert set(queue.pending_messages_per_session) == {"busy", "kept"}
    assert set(queue.pending_event_ids_session) == {"busy", "kept"}
    queue.pending_messages_per_session["kept"].put_nowait("a message not yet read")
    assert forget_queue_leftovers(queue, ["kept"]) == 0  # its stream will read it


def test_janitor_forgets_the_queue_leftovers_with_the_session():
    with gr.Blocks() as demo:
        gr.State(value=1, time_to_live=10)
    holder = StateHolder()
    holder.set_blocks(demo)
    queue = _queue(demo)
    holder["gone"]
    holder.time_last_used["gone"] = datetime.datetime.now() - datetime.timedelta(hours=2)
    queue.pending_messages_per_session["gone"] = asyncio.Queue()
    queue.pending_event_ids_session["gone"] = set()
    janitor = Janitor([], ttl_s=60, interval_s=60)
    janitor.attach(holder, queue)
    janitor.run_once()
    assert "gone" not in queue.pending_messages_per_session
    assert "gone" not in queue.pending_event_ids_session


def test_janitor_thread_starts_and_stops():
    janitor = Janitor([], ttl_s=60, interval_s=0.01)
    janitor.start()
    time.sleep(0.05)
    janitor.stop()
    assert janitor._thread is not None and not janitor._thread.is_alive()
