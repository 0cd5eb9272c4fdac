"""The page: where each panel goes. Every panel builds its own components and wires its
own events (`<Panel>.wire`) against the shared `events.EventContext`; to add a panel,
place its `build_<panel>()` here and wire it with the others.

The page, top to bottom: the title with the honest note and "How it works" beside the
listener picker; the workbench — steering (words and sliders) | charts | list — where
the charts and the list stay in view while the sliders scroll (page.py's CSS: at
1366×768 the moved slider, its category's radar and the list's first five rows are on
screen together); then the quick edits, share and save/load. Below ~1000 px the columns
stack (phones: one column, no horizontal scroll).
"""

from __future__ import annotations

import gradio as gr

from apron_core.ui.api import build_api
from apron_core.ui.charts import build_charts
from apron_core.ui.commands_panel import build_commands
from apron_core.ui.context import AppContext
from apron_core.ui.controls import build_controls
from apron_core.ui.events import EventContext
from apron_core.ui.help_panel import build_help
from apron_core.ui.listener import build_listener
from apron_core.ui.page import CSS, head_html
from apron_core.ui.prototypes_panel import build_prototypes
from apron_core.ui.recommendations import build_recommendations
from apron_core.ui.state import Session

INTRO = """
<div id="apron-intro">
<h1>APRON Studio</h1>
<p>Your taste as 80 weights, one per musical tag; each tag is a clip you can hear (▶).
Steer with the sliders or in words and the recommendations follow; ▶ on a song plays it.</p>
</div>
"""
# Queued visitors hear their place every second, not after every finished job (a
# sixth of the server's CPU under load: reports/app_benchmarks.md).
QUEUE_STATUS_S = 1.0


def build_app(ctx: AppContext) -> gr.Blocks:
    """The Blocks of the app (launch it with `launch_options(ctx)`)."""
    with gr.Blocks(
        title="APRON Studio", analytics_enabled=False, fill_width=True, delete_cache=(3600, 3600)
    ) as demo:
        state = gr.State(Session(), time_to_live=ctx.config.limits.session_ttl_s)
        with gr.Row(equal_height=False, elem_id="top"):
            with gr.Column(scale=5, min_width=320, elem_id="top-intro"):
                gr.HTML(INTRO, js_on_load=None)
                build_help()
            with gr.Column(scale=6, min_width=320, elem_id="top-listener"):
                listener = build_listener(ctx)
        with gr.Row(equal_height=False, elem_id="workbench"):
            with gr.Column(scale=5, min_width=340, elem_id="steer-col"):
                commands = build_commands()
                prototypes = build_prototypes(ctx)
            with gr.Column(scale=5, min_width=300, elem_id="charts-col"):
                charts = build_charts()
            with gr.Column(scale=5, min_width=340, elem_id="list-col"):
                recommendations = build_recommendations()
        controls = build_controls()
        api = build_api()

        ev = EventContext(
            app=ctx,
            page=demo,
            state=state,
            recs=recommendations.recs,
            radar=charts.radar,
            tagmix=charts.tagmix,
            steer=prototypes.steer,
            player=recommendations.player,
            history=listener.history,
            listener=listener.select,
        )
        for panel in (listener, commands, prototypes, controls, recommendations, api):
            panel.wire(ev)
    limits = ctx.config.limits  # queued events of one kind at once; events waiting, in all
    demo.queue(
        default_concurrency_limit=limits.queue_concurrency,
        max_size=limits.queue_max_size,
        status_update_rate=QUEUE_STATUS_S,
    )
    return demo


def launch_options(ctx: AppContext) -> dict:
    """Keyword arguments for demo.launch(): the page's CSS/script and the upload cap.
    Gradio's run history is off: it stores every public event's inputs and outputs (the
    list HTML and both figures, ~40 kB) in the browser's localStorage, rewriting up to
    100 runs as one JSON string before and after each event — ~80 ms a typed command on
    the development machine (reports/app_benchmarks.md); the share link and the export
    already carry the profile."""
    return {
        "css": CSS,
        "head": head_html(),
        "max_file_size": ctx.config.audio.max_upload_bytes,
        "allowed_paths": [],
        "footer_links": ["api"],
        "run_history": False,
    }
