"""The small context every panel wires its events against: the app, the tab's session
and the components that more than one panel writes, plus how a handler's result becomes
those components' new values.

A panel's event that changes the profile writes `EventContext.view` (session, list,
radar, tag mix, steering panel); one that starts a new profile writes
`EventContext.start` (the view, the history, the selected listener). The steering
panel (ui/prototypes_panel.py) redraws every slider from its own new value, so no
event writes a slider. A new event is a plain handler (ui/handlers.py) bound in its
panel's `wire`, e.g.

    @handle_errors
    def boost(session: Session, tag: str) -> list:
        return view_outputs(h.boost(ev.app, session, tag))

    self.boost.click(boost, inputs=[ev.state, self.tag], outputs=ev.view, **QUIET)
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import gradio as gr

from apron_core.ui.charts import figure_json
from apron_core.ui.context import AppContext
from apron_core.ui.errors import warn_all
from apron_core.ui.handlers import Start, View

N_VIEW = 5  # session, list, radar, tag mix, steering panel
QUIET = {"show_progress": "hidden"}  # edits redraw in place: no progress overlay


@dataclass(frozen=True)
class EventContext:
    app: AppContext
    page: gr.Blocks  # for page events (load)
    state: gr.State  # the tab's `state.Session`
    recs: gr.HTML  # the recommendation list
    radar: gr.HTML
    tagmix: gr.HTML
    steer: gr.HTML  # the sliders (and undo / redo / reset)
    player: gr.HTML  # the shared song player
    history: gr.HTML  # what the profile was inferred from
    listener: gr.Dropdown  # the demo listener selected

    @property
    def view(self) -> list[gr.components.Component]:
        """Outputs of an event that changes the profile (see `view_outputs`)."""
        return [self.state, self.recs, self.radar, self.tagmix, self.steer]

    @property
    def start(self) -> list[gr.components.Component]:
        """Outputs of an event that starts a new profile (see `start_outputs`)."""
        return [*self.view, self.history, self.listener]


def steer_json(payload: dict) -> str:
    """The compact JSON the steering panel receives (`handlers.steer_payload`)."""
    return json.dumps(payload, separators=(",", ":"))


def view_outputs(view: View, *, toast: bool = True) -> list:
    """The values of `EventContext.view`. The view's notes are in the list either way;
    `toast` also pops them up (queued events only: an unqueued one cannot show toasts)."""
    if toast:
        warn_all(view.notes)
    opens = view.steer.get("open")  # a typed command's category: the charts turn to it too
    return [
        view.session,
        view.recs_html,
        figure_json(view.radar, opens),
        figure_json(view.tagmix, opens),
        steer_json(view.steer),
    ]


def start_outputs(start: Start) -> list:
    """The values of `EventContext.start`."""
    return [*view_outputs(start.view), start.history_html, start.listener_id]


def unchanged() -> list:
    """The values of `EventContext.view` when an edit changed nothing."""
    return [gr.skip()] * N_VIEW
