"""The Gradio UI of APRON Studio: one module per panel, each building its components and
wiring its own events against `events.EventContext`; what an event does lives in
`handlers` (plain functions), pure profile edits in `state`; `layout` places the panels.

    ctx = AppContext.build(Engine.load("assets/demo"), AppConfig())
    demo, options = create_app(ctx)
    demo.launch(**options)
"""

from __future__ import annotations

import gradio as gr

from apron_core.ui.context import AppConfig, AppContext
from apron_core.ui.layout import build_app, launch_options

__all__ = ["AppConfig", "AppContext", "build_app", "create_app", "launch_options"]


def create_app(ctx: AppContext) -> tuple[gr.Blocks, dict]:
    """The Blocks and the launch() options; the clip and render folders (and plotly.js)
    become the only static paths (set before the page is built)."""
    ctx.audio.folder.mkdir(parents=True, exist_ok=True)
    gr.set_static_paths([str(p) for p in ctx.static_paths()])
    return build_app(ctx), launch_options(ctx)
