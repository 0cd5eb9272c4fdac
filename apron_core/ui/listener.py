"""Listener panel: pick a demo listener (history shown, each song playable) or build a
profile from catalog songs (search by title, artist, tag) and uploaded audio."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from apron_core.ui.context import AppContext
from apron_core.ui.recommendations import PLAY_JS


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
            )
            results = gr.CheckboxGroup(
                choices=[], label="Matches (tick, then Add)", elem_id="catalog-results"
            )
            add = gr.Button("Add ticked songs", elem_id="add-songs", size="sm")
            picked = gr.Dropdown(
                choices=[],
                value=[],
                multiselect=True,
                label="Your songs",
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
