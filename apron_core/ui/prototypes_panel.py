"""Prototype panel: four tabs (era, genre, mood, instrumentation), one slider per tag
showing its share of the profile, and a ▶ that plays the tag's prototype clip.

The ▶ buttons are added by the page script (page.py) from `clip_map`, pointing at the
static clip files; one shared <audio> element plays them, so the page holds 80 sliders
and no audio players. (A slider's `info` is shown as text, so it cannot hold a button.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import gradio as gr

from apron_core.tags import CATEGORIES, TAG_NAMES, category_indices
from apron_core.ui.context import AppContext
from apron_core.ui.files import static_url
from apron_core.ui.state import STEP_PCT

_TAB_TITLES = {"era": "Era", "genre": "Genre", "mood": "Mood", "instrumentation": "Instruments"}
COLUMNS = 2


def tag_slug(tag: str) -> str:
    """A tag as an HTML id fragment: 'drum and bass' → 'drum-and-bass', 'r&b' → 'r-b'."""
    return re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")


def clip_map(ctx: AppContext) -> dict[str, tuple[str, str]]:
    """Tag slug → (tag, static URL of its clip), for the page script's ▶ buttons."""
    return {tag_slug(TAG_NAMES[i]): (TAG_NAMES[i], static_url(p)) for i, p in ctx.clips.items()}


@dataclass(frozen=True)
class PrototypePanel:
    sliders: list[gr.Slider]  # 80, in TAG_NAMES order


def build_prototypes(ctx: AppContext) -> PrototypePanel:
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
    return PrototypePanel([sliders[i] for i in range(len(TAG_NAMES))])
