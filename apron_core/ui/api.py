"""Endpoints for API clients only (gradio_client, HTTP): set one tag's weight in the
session, lock tags (the page does both on the sliders), play a song, recommend from 80
weights, infer a profile from song ids. `Client.view_api()` lists them with the page's
named events."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from apron_core.tags import TAG_NAMES
from apron_core.ui import handlers as h
from apron_core.ui.errors import handle_errors
from apron_core.ui.events import QUIET, EventContext, unchanged, view_outputs
from apron_core.ui.state import Session


@dataclass(frozen=True)
class ApiPanel:
    """Hidden inputs of /set_weight and /locks (an API event needs components to take its
    values)."""

    tag: gr.Textbox
    percent: gr.Number
    set_weight: gr.Button
    locks: gr.Dropdown

    def wire(self, ev: EventContext) -> None:
        ctx = ev.app

        @handle_errors
        def set_weight(session: Session, tag: str, percent: float) -> list:
            view = h.set_weight(ctx, session, tag, percent)
            return unchanged() if view is None else view_outputs(view)

        self.set_weight.click(
            set_weight,
            inputs=[ev.state, self.tag, self.percent],
            outputs=ev.view,
            api_name="set_weight",
            **QUIET,
        )

        @handle_errors
        def locks(session: Session, names: list[str] | None) -> list:
            """Lock exactly these tags (they keep their share while others move)."""
            return view_outputs(h.refresh(ctx, h.set_locks(session, names)))

        self.locks.change(
            locks, inputs=[ev.state, self.locks], outputs=ev.view, api_name="locks", **QUIET
        )

        @handle_errors
        def play_song(song_id: str) -> str:
            """HTML of a player for a catalog song (rendered on first request)."""
            return h.play(ctx, song_id)

        gr.api(play_song, api_name="play")

        @handle_errors
        def recommend(weights: list[float], exclude: list[str], k: int = 20) -> dict:
            """Top-k for 80 weights (tag order of the sliders), never one of `exclude`."""
            return h.recommend_api(ctx, weights, exclude, k)

        gr.api(recommend, api_name="recommend")

        @handle_errors
        def profile(song_ids: list[str]) -> list[float]:
            """The profile (80 weights summing to 1) inferred from catalog song ids."""
            return h.profile_api(ctx, song_ids)

        gr.api(profile, api_name="profile")


def build_api() -> ApiPanel:
    with gr.Row(visible=False):
        tag = gr.Textbox(label="tag")
        percent = gr.Number(label="percent")
        set_weight = gr.Button("set weight")
        locks = gr.Dropdown(choices=list(TAG_NAMES), value=[], multiselect=True, label="locks")
    return ApiPanel(tag, percent, set_weight, locks)
