"""The steering panel: four category tabs (era, genre, mood, instrumentation), each with
one slider for the category's share of the profile and one slider per tag for its
share of the category (on the log track of ui/scale.py), a ▶ that plays the tag's
prototype clip (and says which catalog song it was cut from), a lock per tag, and
Undo / Redo / Reset.

Why one gr.HTML instead of 80 gr.Sliders: a gr.Slider's track is linear in the value
its number box shows, so it cannot show a share on a log track; it sends its release
only on pointer-up (arrow keys never applied an edit); and 80 of them made 187 events
and a 323 kB page config. Here the page script builds plain <input type=range> and
number boxes (labelled, keyboard-operable), and sends each edit as one custom event
whose data names the slider and the share it showed ({"kind": "tag", "tag": 10,
"percent": 12.5}); the server's answer (`handlers.steer_payload`) redraws every slider.

Events. The edit events skip the queue (faster; reports/app_benchmarks.md), so notes
and the reason for a refused edit are printed in the list, not as toasts. The page
sends one edit at a time: an edit made while one is in flight waits for its answer
(the latest per slider wins), so no edit is lost and the answers arrive in order.
Arrow keys on a slider apply after a short pause (one edit per burst of key presses),
a dragged slider on release, a typed number on Enter or on leaving the box. Ctrl+Z /
Ctrl+Shift+Z (⌘ on a Mac) undo and redo outside text boxes. Gradio's progress and error
overlay is hidden on the panel (page.py): it is an output of the events that start a
profile, and an error there (a bad upload) would leave the overlay over the sliders.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from apron_core.tags import CATEGORIES, TAG_NAMES
from apron_core.ui import handlers as h
from apron_core.ui.context import AppContext
from apron_core.ui.errors import handle_errors
from apron_core.ui.events import QUIET, EventContext, view_outputs
from apron_core.ui.files import static_url
from apron_core.ui.scale import KNEE, TAG_CATEGORY
from apron_core.ui.song_lists import played_song
from apron_core.ui.state import MAX_UNDO, Session

TITLES = {"era": "Era", "genre": "Genre", "mood": "Mood", "instrumentation": "Instruments"}
TRACK_STEPS = 200  # positions of a tag slider (an arrow key moves 0.5 % of the track)
CATEGORY_STEP_PCT = 0.5  # resolution of a category slider
KEY_PAUSE_MS = 450  # arrow keys apply after this pause


def tag_slug(tag: str) -> str:
    """A tag as an HTML id fragment: 'drum and bass' → 'drum-and-bass', 'r&b' → 'r-b'."""
    return re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")


def clip_map(ctx: AppContext) -> dict[str, tuple[str, str, str, str]]:
    """Tag slug → (tag, static URL of its clip, the catalog song it was cut from as a line
    of text, that song's id)."""
    out = {}
    sources = {p.tag: p for p in ctx.engine.bundle.prototypes}
    for i, path in ctx.clips.items():
        tag = TAG_NAMES[i]
        proto = sources.get(tag)
        song = ctx.songs.get(proto.song_id) if proto is not None else None
        if proto is None or song is None:
            source, song_id = "", ""
        else:
            start, end = proto.start_s, proto.start_s + proto.duration_s
            source = (
                f"{_clock(start)}–{_clock(end)} of “{song.title}” by {song.artist} "
                f"({proto.song_id})"
            )
            song_id = proto.song_id
        out[tag_slug(tag)] = (tag, static_url(path), source, song_id)
    return out


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 60}:{s % 60:02d}"


@dataclass(frozen=True)
class PrototypePanel:
    steer: gr.HTML  # every slider, drawn from the value `handlers.steer_payload` sends

    def wire(self, ev: EventContext) -> None:
        ctx = ev.app

        @handle_errors
        def steer(session: Session, evt: gr.EventData) -> list:
            data = _event_data(evt, "kind", "tag", "category", "percent")
            return view_outputs(h.steer(ctx, session, data), toast=False)

        @handle_errors
        def lock(session: Session, evt: gr.EventData) -> list:
            data = _event_data(evt, "tag")
            return view_outputs(h.noted(ctx, session, h.toggle_lock, data), toast=False)

        def history(action: Callable[[AppContext, Session], h.View]) -> Callable[[Session], list]:
            @handle_errors
            def run(session: Session) -> list:
                return view_outputs(h.noted(ctx, session, action), toast=False)

            run.__name__ = action.__name__
            return run

        unqueued = {"queue": False, "trigger_mode": "always_last", **QUIET}
        self.steer.steer(
            steer, inputs=[ev.state], outputs=ev.view, api_visibility="private", **unqueued
        )
        self.steer.lock(
            lock, inputs=[ev.state], outputs=ev.view, api_visibility="private", **unqueued
        )
        for name, action in (("undo", h.undo), ("redo", h.redo), ("reset", h.reset)):
            getattr(self.steer, name)(
                history(action), inputs=[ev.state], outputs=ev.view, api_name=name, **unqueued
            )

        @handle_errors
        def play_source(evt: gr.EventData) -> str:
            return h.play(ctx, played_song(evt))

        self.steer.play(play_source, outputs=[ev.player], api_visibility="private", **QUIET)


def _event_data(evt: gr.EventData, *fields: str) -> dict:
    """The named fields of the dict a custom event of the panel carries (EventData reads
    fields of dict payloads; a missing field, or a payload that is no dict, is None)."""
    out = {}
    for name in fields:
        try:
            out[name] = getattr(evt, name)
        except (AttributeError, TypeError):
            out[name] = None
    return out


def build_prototypes(ctx: AppContext) -> PrototypePanel:
    steer = gr.HTML(
        "",
        html_template='<div class="steer" id="steer-root"></div>',
        js_on_load=steer_js(ctx),
        elem_id="steer",
        container=False,
        padding=False,
    )
    return PrototypePanel(steer)


def steer_js(ctx: AppContext) -> str:
    """The panel's script, with the tags, categories, clips and the scale's constants."""
    tags = [
        [name, CATEGORIES[int(TAG_CATEGORY[i])], tag_slug(name)] for i, name in enumerate(TAG_NAMES)
    ]
    consts = {
        "__TAGS__": tags,
        "__CATS__": [[c, TITLES[c]] for c in CATEGORIES],
        "__CLIPS__": clip_map(ctx),
        "__KNEE__": KNEE,
        "__STEPS__": TRACK_STEPS,
        "__CAT_STEP__": CATEGORY_STEP_PCT,
        "__PAUSE__": KEY_PAUSE_MS,
        "__MAX_UNDO__": MAX_UNDO,
    }
    js = STEER_JS.read_text(encoding="utf-8")
    for key, value in consts.items():
        js = js.replace(key, json.dumps(value, ensure_ascii=True).replace("</", "<\\/"))
    return js


STEER_JS = Path(__file__).with_name("steer.js")  # the panel's script (see the module doc)
