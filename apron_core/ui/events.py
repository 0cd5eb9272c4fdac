"""The small context every panel wires its events against: the app, the tab's session
and the components that more than one panel writes, plus how a handler's result becomes
those components' new values.

A panel's event that changes the profile writes `EventContext.view` (session, list,
radar, tag mix); one that starts a new profile writes `EventContext.start` (the view,
the history, the selected listener, the locks). Neither writes the 80 sliders from the
server: the radar's payload carries their values (`SLIDERS_KEY`) and `catch_up` chains
a page-only step that copies them into the sliders. A new event is a plain handler
(ui/handlers.py) bound in its panel's `wire`, e.g.

    @handle_errors
    def undo(session: Session) -> list:
        return view_outputs(h.undo(ev.app, session))

    ev.catch_up(self.undo.click(undo, inputs=[ev.state], outputs=ev.view, **QUIET))
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
from gradio.events import Dependency

from apron_core.tags import TAG_NAMES
from apron_core.ui.charts import figure_json
from apron_core.ui.context import AppContext
from apron_core.ui.errors import warn_all
from apron_core.ui.handlers import Start, View
from apron_core.ui.state import to_percent

SLIDERS_KEY = "sliders"  # in the radar's payload: the 80 slider values, percent
# (radar payload, current slider values) → the values the sliders must show
CATCH_UP_JS = f"""(radar, ...shown) => {{
  if (!radar) return shown;
  const values = (typeof radar === 'string' ? JSON.parse(radar) : radar)[{SLIDERS_KEY!r}];
  return Array.isArray(values) && values.length === shown.length ? values : shown;
}}"""
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
    sliders: tuple[gr.Slider, ...]  # the 80 prototype sliders, in TAG_NAMES order

    @property
    def view(self) -> list[gr.components.Component]:
        """Outputs of an event that changes the profile (see `view_outputs`)."""
        return [self.state, self.recs, self.radar, self.tagmix]

    @property
    def start(self) -> list[gr.components.Component]:
        """Outputs of an event that starts a new profile (see `start_outputs`)."""
        return [*self.view, self.history, self.listener, self.locks]

    def catch_up(self, event: Dependency) -> None:
        """After `event` (one that wrote the view), copy the slider values of the radar's
        payload into the sliders, in the page. Also after a refused edit, so a slider the
        server did not follow shows the profile again. Chained rather than triggered by
        the radar's change: that ran in the same frame as the list and the charts and
        delayed them (reports/app_benchmarks.md)."""
        event.then(
            None,
            inputs=[self.radar, *self.sliders],
            outputs=list(self.sliders),
            js=CATCH_UP_JS,
            api_visibility="private",
            **QUIET,
        )


def view_outputs(view: View, *, toast: bool = True) -> list:
    """The values of `EventContext.view`. The view's notes are in the list either way;
    `toast` also pops them up (queued events only: an unqueued one cannot show toasts)."""
    if toast:
        warn_all(view.notes)
    session = view.session
    radar = {**view.radar, SLIDERS_KEY: [float(v) for v in to_percent(session.profile)]}
    return [session, view.recs_html, figure_json(radar), figure_json(view.tagmix)]


def start_outputs(start: Start) -> list:
    """The values of `EventContext.start`."""
    locked = [TAG_NAMES[i] for i in sorted(start.view.session.locked)]
    return [*view_outputs(start.view), start.history_html, start.listener_id, locked]


def unchanged() -> list:
    """The values of `EventContext.view` when an edit changed nothing."""
    return [gr.skip()] * N_VIEW
