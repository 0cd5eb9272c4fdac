"""Controls below the sliders: zero or boost a tag quickly, export/import the profile as
JSON and share it as a link. (Locks, undo, redo and reset sit on the sliders.)"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from apron_core.tags import TAG_NAMES
from apron_core.ui import handlers as h
from apron_core.ui.errors import handle_errors
from apron_core.ui.events import QUIET, EventContext, start_outputs, view_outputs
from apron_core.ui.state import Session

# After the server returns "?p=<code>": make it a full link and put it in the address bar.
SHARE_JS = (
    "(q) => { if (!q) return q; const u = window.location.origin + window.location.pathname + q;"
    " window.history.replaceState(null, '', u); return u; }"
)


@dataclass(frozen=True)
class ControlsPanel:
    tag: gr.Dropdown
    zero: gr.Button
    boost: gr.Button
    export: gr.Button
    export_file: gr.File
    import_file: gr.File
    share: gr.Button
    share_url: gr.Textbox

    def wire(self, ev: EventContext) -> None:
        ctx = ev.app

        @handle_errors
        def zero(session: Session, tag: str) -> list:
            return view_outputs(h.zero(ctx, session, tag))

        @handle_errors
        def boost(session: Session, tag: str) -> list:
            return view_outputs(h.boost(ctx, session, tag))

        for button, fn, name in ((self.zero, zero, "zero"), (self.boost, boost, "boost")):
            button.click(fn, inputs=[ev.state, self.tag], outputs=ev.view, api_name=name, **QUIET)

        @handle_errors
        def export_profile(session: Session) -> str:
            return str(h.export_profile(ctx, session))

        self.export.click(
            export_profile,
            inputs=[ev.state],
            outputs=[self.export_file],
            api_name="export_profile",
        )

        @handle_errors
        def import_profile(path: str | None) -> list:
            return start_outputs(h.import_profile(ctx, path))

        self.import_file.upload(
            import_profile,
            inputs=[self.import_file],
            outputs=ev.start,
            api_name="import_profile",
        )

        @handle_errors
        def share(session: Session) -> str:
            return h.share_query(session)

        self.share.click(
            share, inputs=[ev.state], outputs=[self.share_url], api_name="share", **QUIET
        ).success(None, inputs=[self.share_url], outputs=[self.share_url], js=SHARE_JS)


def build_controls() -> ControlsPanel:
    with gr.Row(equal_height=False, elem_id="quick-edit"):
        tag = gr.Dropdown(
            choices=list(TAG_NAMES),
            value=None,
            label="Quick edit: tag",
            elem_id="tag-select",
            scale=2,
            min_width=160,
        )
        with gr.Column(scale=2, min_width=160):
            zero = gr.Button("Zero tag", elem_id="zero-tag", size="sm", min_width=80)
            boost = gr.Button("Boost tag ×2", elem_id="boost-tag", size="sm", min_width=80)
        with gr.Column(scale=3, min_width=200):
            share = gr.Button("Share link", elem_id="share", size="sm", min_width=80)
            share_url = gr.Textbox(
                label="Share link",
                show_label=False,
                placeholder="Share link appears here",
                elem_id="share-url",
                interactive=False,
                buttons=["copy"],
                max_lines=2,
            )
    with gr.Accordion("Save or load the profile (JSON)", open=False, elem_id="files"):
        export = gr.Button("Export JSON", elem_id="export", size="sm")
        with gr.Row(equal_height=False):
            export_file = gr.File(
                label="Exported profile", elem_id="export-file", interactive=False, height=90
            )
            import_file = gr.File(
                label="Import a profile (.json)", file_types=[".json"], elem_id="import", height=90
            )
    return ControlsPanel(tag, zero, boost, export, export_file, import_file, share, share_url)
