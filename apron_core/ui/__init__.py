"""The Gradio UI of APRON Studio: one module per panel, each building its components and
wiring its own events against `events.EventContext`; what an event does lives in
`handlers` (plain functions), pure profile edits in `state`; `layout` places the panels.
What keeps a public server standing (caps, rate limits, pruning) is in `limits`,
`guard`, `janitor` and `disk`.

    ctx = AppContext.build(Engine.load("assets/demo"), AppConfig())
    demo, options = create_app(ctx)
    demo.launch(**options)
"""

from __future__ import annotations

import gradio as gr
from starlette.middleware import Middleware

from apron_core.ui.context import AppConfig, AppContext
from apron_core.ui.errors import tidy_gradio_errors
from apron_core.ui.guard import RequestGuard
from apron_core.ui.janitor import Janitor
from apron_core.ui.layout import build_app, launch_options

__all__ = ["AppConfig", "AppContext", "build_app", "create_app", "launch_options"]


def create_app(ctx: AppContext) -> tuple[gr.Blocks, dict]:
    """The Blocks and the launch() options; the clip and render folders (and plotly.js)
    become the only static paths (set before the page is built)."""
    ctx.audio.folder.mkdir(parents=True, exist_ok=True)
    gr.set_static_paths([str(p) for p in ctx.static_paths()])
    tidy_gradio_errors()
    return build_app(ctx), {**launch_options(ctx), **serving_options(ctx)}


def serving_options(ctx: AppContext) -> dict:
    """launch() options that bound what strangers can cost the server: the session
    capacity, handler threads, the request guard in front of the event routes and the
    janitor that forgets idle sessions and prunes the folders while the server runs."""
    limits = ctx.config.limits
    janitor = Janitor(
        ctx.folders(), ttl_s=limits.session_ttl_s, interval_s=limits.janitor_interval_s
    )
    return {
        "state_session_capacity": limits.max_sessions,
        "max_threads": limits.max_threads,
        "max_file_size": ctx.config.audio.max_upload_bytes,
        "app_kwargs": {
            "middleware": [Middleware(RequestGuard, limits=limits)],
            "lifespan": janitor.lifespan(),
        },
    }
