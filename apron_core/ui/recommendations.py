"""Recommendations panel: the shared song player and the top-k list (rendered by
`song_lists`); a ▶ in the list, or in the listener's history, plays that song."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from apron_core.ui import handlers as h
from apron_core.ui.errors import handle_errors
from apron_core.ui.events import QUIET, EventContext
from apron_core.ui.song_lists import PLAY_JS, played_song


@dataclass(frozen=True)
class RecommendationsPanel:
    player: gr.HTML
    recs: gr.HTML

    def wire(self, ev: EventContext) -> None:
        wire_play_buttons(self.recs, ev)


def wire_play_buttons(songs: gr.HTML, ev: EventContext) -> None:
    """A ▶ in `songs` (a list rendered by song_lists) plays the song in the shared player."""

    @handle_errors
    def play_pressed(evt: gr.EventData) -> str:
        return h.play(ev.app, played_song(evt))

    songs.play(play_pressed, outputs=[ev.player], api_visibility="private", **QUIET)


def build_recommendations() -> RecommendationsPanel:
    player = gr.HTML(
        '<div class="player idle">Press ▶ on any song to hear it.</div>',
        elem_id="player",
        js_on_load=None,  # gr.HTML's default script would send every click to the server
    )
    recs = gr.HTML("", elem_id="recs", js_on_load=PLAY_JS)
    return RecommendationsPanel(player, recs)
