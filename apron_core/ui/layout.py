"""The page: where each panel goes. Every panel builds its own components and wires its
own events (`<Panel>.wire`) against the shared `events.EventContext`; to add a panel,
place its `build_<panel>()` here and wire it with the others."""

from __future__ import annotations

import gradio as gr

from apron_core.ui.api import build_api
from apron_core.ui.charts import build_charts
from apron_core.ui.context import AppContext
from apron_core.ui.controls import build_controls
from apron_core.ui.events import EventContext
from apron_core.ui.listener import build_listener
from apron_core.ui.page import CSS, head_html
from apron_core.ui.prototypes_panel import build_prototypes, clip_map
from apron_core.ui.recommendations import build_recommendations
from apron_core.ui.state import Session

INTRO = """
<div id="apron-intro">
<h1>APRON Studio</h1>
<p>Your taste as 80 weights, one per musical tag; each tag is a clip you can hear (▶).
Move a slider and the recommendations follow; ▶ on a song plays it.</p>
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
        gr.HTML(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=400):
                listener = build_listener(ctx)
                prototypes = build_prototypes()
                controls = build_controls()
            with gr.Column(scale=6, min_width=400):
                recommendations = build_recommendations()
        with gr.Row(equal_height=False):
            charts = build_charts()
        api = build_api()

        ev = EventContext(
            app=ctx,
            page=demo,
            state=state,
            recs=recommendations.recs,
            radar=charts.radar,
            tagmix=charts.tagmix,
            player=recommendations.player,
            history=listener.history,
            listener=listener.select,
            locks=controls.locks,
            sliders=prototypes.sliders,
        )
        for panel in (listener, prototypes, controls, recommendations, api):
            panel.wire(ev)
    limits = ctx.config.limits  # queued events of one kind at once; events waiting, in all
    demo.queue(
        default_concurrency_limit=limits.queue_concurrency,
        max_size=limits.queue_max_size,
        status_update_rate=QUEUE_STATUS_S,
    )
    return demo


def launch_options(ctx: AppContext) -> dict:
    """Keyword arguments for demo.launch(): the page's CSS/script and the upload cap."""
    return {
        "css": CSS,
        "head": head_html(clip_map(ctx)),
        "max_file_size": ctx.config.audio.max_upload_bytes,
        "allowed_paths": [],
        "footer_links": ["api"],
    }
