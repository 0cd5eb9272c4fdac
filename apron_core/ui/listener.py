"""Listener panel: pick a demo listener (history shown, each song playable) or build a
profile from catalog songs (search by title, artist, tag) and uploaded audio. Each way
starts a new profile (`EventContext.start`), and so does opening the page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gradio as gr

from apron_core.ui import handlers as h
from apron_core.ui.context import AppContext
from apron_core.ui.errors import handle_errors
from apron_core.ui.events import QUIET, EventContext, start_outputs
from apron_core.ui.recommendations import wire_play_buttons
from apron_core.ui.song_lists import PLAY_JS

BUILD_CONCURRENCY = 2  # profile builds at once (each may encode 10 uploaded files)


@dataclass(frozen=True)
class ListenerPanel:
    select: gr.Dropdown
    history: gr.HTML
    search: gr.Textbox
    results: gr.CheckboxGroup
    add: gr.Button
    picked: gr.Dropdown
    upload: gr.File
    build: gr.Button

    def wire(self, ev: EventContext) -> None:
        ctx = ev.app

        @handle_errors
        def first_profile(request: gr.Request) -> list:
            """A shared link's profile (?p=…), else the first demo listener."""
            code = request.query_params.get("p") if request is not None else None
            return start_outputs(h.page_load(ctx, code))

        ev.page.load(first_profile, outputs=ev.start, api_visibility="private")

        @handle_errors
        def listener(listener_id: str) -> list:
            return start_outputs(h.start_listener(ctx, listener_id))

        self.select.input(
            listener, inputs=[self.select], outputs=ev.start, api_name="listener", **QUIET
        )

        @handle_errors
        def search(query: str) -> gr.CheckboxGroup:
            return gr.CheckboxGroup(choices=h.search_catalog(ctx, query), value=[])

        gr.on(
            [self.search.input, self.search.submit],
            search,
            inputs=[self.search],
            outputs=[self.results],
            trigger_mode="always_last",
            api_name="search",
            **QUIET,
        )

        @handle_errors
        def add(ticked: Sequence[str] | None, picked: Sequence[str] | None) -> gr.Dropdown:
            choices = h.add_songs(ctx, picked, ticked)
            return gr.Dropdown(choices=choices, value=[sid for _, sid in choices])

        self.add.click(
            add,
            inputs=[self.results, self.picked],
            outputs=[self.picked],
            api_visibility="private",
            **QUIET,
        )

        @handle_errors
        def build_profile(picked: Sequence[str] | None, files: Sequence[str] | None) -> list:
            return start_outputs(h.build_profile(ctx, picked, files))

        self.build.click(
            build_profile,
            inputs=[self.picked, self.upload],
            outputs=ev.start,
            api_name="build_profile",
            concurrency_limit=BUILD_CONCURRENCY,
        )
        wire_play_buttons(self.history, ev)


def build_listener(ctx: AppContext) -> ListenerPanel:
    choices = [
        (f"{d.listener_id} — {d.description}", d.listener_id) for d in ctx.listeners.values()
    ]
    n_up = ctx.config.audio.max_uploads
    with gr.Tabs(elem_id="listener-tabs"):
        with gr.Tab("Demo listeners", id="tab-demo", elem_id="tab-demo"):
            select = gr.Dropdown(
                choices=choices,
                value=choices[0][1] if choices else None,
                label="Listener",
                info="Each one has a listening history; the profile is inferred from it.",
                elem_id="listener-select",
                interactive=True,
                allow_custom_value=True,  # the handler names an unknown id (escaped)
            )
        with gr.Tab("Build your own", id="tab-build", elem_id="tab-build"):
            search = gr.Textbox(
                label="Search the catalog",
                placeholder="title, artist or tag — e.g. 'jazz piano' or 'Crystal Birds'",
                elem_id="catalog-search",
                max_lines=1,
                max_length=ctx.config.max_query_chars,
            )
            results = gr.CheckboxGroup(
                choices=[], label="Matches (tick, then Add)", elem_id="catalog-results"
            )
            add = gr.Button("Add ticked songs", elem_id="add-songs", size="sm")
            picked = gr.Dropdown(
                choices=[],
                value=[],
                multiselect=True,
                label=f"Your songs (up to {ctx.config.limits.max_picked_songs})",
                elem_id="picked-songs",
                interactive=True,
                allow_custom_value=True,  # ids are checked against the catalog by the handler
            )
            upload = gr.File(
                file_count="multiple",
                file_types=["audio"],
                label=f"…and/or up to {n_up} audio files of your own",
                elem_id="upload",
                height=110,
            )
            build = gr.Button("Infer my profile", variant="primary", elem_id="build-profile")
    history = gr.HTML("", elem_id="history", js_on_load=PLAY_JS, max_height=240)
    return ListenerPanel(select, history, search, results, add, picked, upload, build)
