"""Prototype panel: four tabs (era, genre, mood, instrumentation), one slider per tag
showing its share of the profile, and a ▶ that plays the tag's prototype clip.

The ▶ buttons are added by the page script (page.py) from `clip_map`, pointing at the
static clip files; one shared <audio> element plays them, so the page holds 80 sliders
and no audio players. (A slider's `info` is shown as text, so it cannot hold a button.)

Events. Releasing a slider edits that one tag (`handlers.release_slider`). Gradio 6 gives
the server a released slider's value only as a component input: the release event's
`gr.EventData` keeps it in a private field (the slider sends a bare number; EventData
exposes fields of dict payloads only). So every slider has its own release event with
itself as the only input: a few bytes per edit, where one event for all 80 sliders
would have to send all 80 values (about 100 ms more in the browser; see
reports/app_benchmarks.md). tests/ui/test_panels.py checks that Gradio still offers no
public value, so this can become one event again when it does. Each slider's event is
`always_last` on its own: two sliders released within one round trip are edited in
parallel and the later answer wins (the page then shows the profile the server kept).

The events skip the queue (faster; reports/app_benchmarks.md), so their notes, and the
reason for a refused edit, are shown in the list, not as toasts. After each, the page
copies the slider values the radar's payload carries into the sliders
(`EventContext.catch_up`): no slider is an output of any server event.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from apron_core.tags import CATEGORIES, TAG_NAMES, category_indices
from apron_core.ui import handlers as h
from apron_core.ui.context import AppContext
from apron_core.ui.errors import handle_errors
from apron_core.ui.events import QUIET, EventContext, unchanged, view_outputs
from apron_core.ui.files import static_url
from apron_core.ui.state import STEP_PCT, Session

_TAB_TITLES = {"era": "Era", "genre": "Genre", "mood": "Mood", "instrumentation": "Instruments"}
COLUMNS = 2
HEADING = (
    "**Your taste, tag by tag** (share of the profile, %). Drag a slider and let go; "
    "the others rescale so the shares still add up to 100 %."
)


def tag_slug(tag: str) -> str:
    """A tag as an HTML id fragment: 'drum and bass' → 'drum-and-bass', 'r&b' → 'r-b'."""
    return re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")


def clip_map(ctx: AppContext) -> dict[str, tuple[str, str]]:
    """Tag slug → (tag, static URL of its clip), for the page script's ▶ buttons."""
    return {tag_slug(TAG_NAMES[i]): (TAG_NAMES[i], static_url(p)) for i, p in ctx.clips.items()}


@dataclass(frozen=True)
class PrototypePanel:
    sliders: tuple[gr.Slider, ...]  # 80, in TAG_NAMES order

    def wire(self, ev: EventContext) -> None:
        for tag, slider in enumerate(self.sliders):
            released = slider.release(
                release_handler(ev, tag),
                inputs=[ev.state, slider],
                outputs=ev.view,
                trigger_mode="always_last",
                queue=False,
                api_visibility="private",
                **QUIET,
            )
            ev.catch_up(released)


def release_handler(ev: EventContext, tag: int) -> Callable[[Session, float], list]:
    """The handler of one slider's release: that tag set to the released value."""

    @handle_errors
    def set_slider(session: Session, percent: float) -> list:
        view = h.release_slider(ev.app, session, tag, percent)
        return unchanged() if view is None else view_outputs(view, toast=False)

    return set_slider


def build_prototypes() -> PrototypePanel:
    gr.Markdown(HEADING)
    sliders: dict[int, gr.Slider] = {}
    with gr.Tabs(elem_id="proto-tabs"):
        for category in CATEGORIES:
            with gr.Tab(_TAB_TITLES[category], id=f"tab-{category}", elem_id=f"tab-{category}"):
                idx = category_indices(category)
                per_col = -(-len(idx) // COLUMNS)
                with gr.Row(equal_height=False):
                    for c in range(COLUMNS):
                        with gr.Column(min_width=220):
                            for i in idx[c * per_col : (c + 1) * per_col]:
                                sliders[i] = gr.Slider(
                                    minimum=0,
                                    maximum=100,
                                    value=0,
                                    step=STEP_PCT,
                                    label=TAG_NAMES[i],
                                    buttons=[],
                                    elem_id=f"slider-{tag_slug(TAG_NAMES[i])}",
                                    elem_classes=["tag-slider"],
                                    min_width=200,
                                    interactive=True,
                                )
    return PrototypePanel(tuple(sliders[i] for i in range(len(TAG_NAMES))))
