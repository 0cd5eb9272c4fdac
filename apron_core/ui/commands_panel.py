"""Steer in words: a text box whose command ("more jazz, no 1980s", ui/commands.py) is
applied as one edit, and a line that says what was understood (or why not, with the
nearest tags). Unqueued like the sliders, so a refusal is shown in that line, not as a
toast."""

from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from apron_core.ui import handlers as h
from apron_core.ui.commands import MAX_COMMAND_CHARS
from apron_core.ui.errors import handle_errors
from apron_core.ui.events import QUIET, EventContext, unchanged, view_outputs
from apron_core.ui.state import Session

EXAMPLES = "more jazz, less drum machine · no 1980s · only sad and calm · jazz 20% · undo"
IDLE = f'<p class="echo idle">Try: {html.escape(EXAMPLES)}</p>'


def echo_html(typed: h.Typed) -> str:
    """The line under the box: what was understood (green) or why not (red)."""
    cls, role = ("ok", "status") if typed.ok else ("bad", "alert")
    return f'<p class="echo {cls}" role="{role}">{html.escape(typed.echo, quote=False)}</p>'


@dataclass(frozen=True)
class CommandsPanel:
    text: gr.Textbox
    apply: gr.Button
    echo: gr.HTML

    def wire(self, ev: EventContext) -> None:
        ctx = ev.app

        @handle_errors
        def command(session: Session, text: str) -> list:
            typed = h.command(ctx, session, text)
            view = unchanged() if typed.view is None else view_outputs(typed.view, toast=False)
            return [*view, echo_html(typed)]

        gr.on(
            [self.text.submit, self.apply.click],
            command,
            inputs=[ev.state, self.text],
            outputs=[*ev.view, self.echo],
            queue=False,
            trigger_mode="always_last",
            api_name="command",
            **QUIET,
        )


def build_commands() -> CommandsPanel:
    with gr.Row(equal_height=True, elem_id="command-row"):
        text = gr.Textbox(
            label="Steer in words",
            placeholder="e.g. more jazz, less drum machine",
            elem_id="command",
            max_lines=1,
            max_length=MAX_COMMAND_CHARS,
            scale=5,
            min_width=200,
        )
        apply = gr.Button("Apply", elem_id="command-apply", size="sm", scale=1, min_width=70)
    echo = gr.HTML(IDLE, elem_id="command-echo", js_on_load=None)
    return CommandsPanel(text, apply, echo)
