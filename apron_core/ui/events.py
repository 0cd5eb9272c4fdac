"""The small context every panel wires its events against: the app, the tab's session
and the components that more than one panel writes, plus how a handler's result becomes
those components' new values.

A panel's event that changes the profile writes `EventContext.view` (session, list,
radar, tag mix); one that starts a new profile writes `EventContext.start` (the view,
the history, the selected listener, the locks). The sliders need no output of their
own: the radar's payload carries their values (`SLIDERS_KEY`) and the prototype panel
copies them into the sliders in the page whenever the radar changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from apron_core.tags import TAG_NAMES
from apron_core.ui.charts import figure_json
from apron_core.ui.context import AppContext
from apron_core.ui.errors import warn_all
from apron_core.ui.handlers import Start, View
from apron_core.ui.state import to_percent

SLIDERS_KEY = "sliders"  # in the radar's payload: the 80 slider values, percent
REVISION_KEY = "revision"  # in the radar's payload: makes every view new to the page
N_VIEW = 4  # session, list, radar, tag mix
QUIET = {"show_progress": "hidden"}  # edits redraw in place: no progress overlay


@dataclass(frozen=True)
class EventContext:
    app: AppContext
    page: gr.Blocks  # for page events (load)
    state: gr.State  # the tab's `state.Session`
    recs: gr.HTML  # the recommendation list
    radar: gr.HTML
    tagmix: gr.HTML
    player: gr.HTML  # the shared song player
    history: gr.HTML  # what the profile was inferred from
    listener: gr.Dropdown  # the demo listener selected
    locks: gr.Dropdown  # the locked tags

    @property
    def view(self) -> list[gr.components.Component]:
        """Outputs of an event that changes the profile (see `view_outputs`)."""
        return [self.state, self.recs, self.radar, self.tagmix]

    @property
    def start(self) -> list[gr.components.Component]:
        """Outputs of an event that starts a new profile (see `start_outputs`)."""
        return [*self.view, self.history, self.listener, self.locks]


def view_outputs(view: View, *, toast: bool = True) -> list:
    """The values of `EventContext.view`. The view's notes are in the list either way;
    `toast` also pops them up (queued events only: an unqueued one cannot show toasts)."""
    if toast:
        warn_all(view.notes)
    session = view.session
    radar = {
        **view.radar,
        SLIDERS_KEY: [float(v) for v in to_percent(session.profile)],
        REVISION_KEY: session.revision,
    }
    return [session, view.recs_html, figure_json(radar), figure_json(view.tagmix)]


def start_outputs(start: Start) -> list:
    """The values of `EventContext.start`."""
    locked = [TAG_NAMES[i] for i in sorted(start.view.session.locked)]
    return [*view_outputs(start.view), start.history_html, start.listener_id, locked]


def unchanged() -> list:
    """The values of `EventContext.view` when an edit changed nothing."""
    return [gr.skip()] * N_VIEW
