"""The first minute: a one-line honest note that is always on screen, and a "How it
works" a visitor can open (what a prototype is, what the sliders and both charts show,
what "because" means, how to get back after a bad edit, and where real data comes in)."""

from __future__ import annotations

import gradio as gr

from apron_core.ui.state import MAX_UNDO

NOTE = (
    "The catalog, its songs and its listeners are generated for this demo: General MIDI "
    "renderings of a made-up catalog, so they sound like it. The same app serves a model "
    "trained on real listening data."
)

HOW_IT_WORKS = f"""
**Prototypes.** Each of the 80 tags (8 eras, 32 genres, 20 moods, 20 instruments) has a
*prototype*: a 10-second clip cut from one catalog song that carries the tag clearly.
Press ▶ beside a slider to hear it; the line under the sliders names the song it was cut
from. The model compares every song with these 80 clips.

**Your profile** is how much attention your listening history pays to each prototype:
80 weights that add up to 100 %. The sliders show them per category: the top slider is
the category's share of your whole profile, the others each tag's share *within* the
category, on a logarithmic track (every doubling is the same distance; the small tick
marks what your history says). Drag and let go, type a number, or use the arrow keys:
the other tags of the category make room, and a locked tag (padlock) keeps its share. The
model receives the 80 weights these shares make up.

**The charts.** The radar is your profile within the open category (filled) and what
was inferred from your history (dashed), on the sliders' scale. The bars put your
profile beside the tags of the songs now recommended; ◇ marks that mix before your last
edit. Above the list, the last edit's effect: songs that entered (green) and left (with
▶), and the tag shares that moved most.

**"because …"** Each song's score is split exactly over the 80 prototypes; the line
names the ones that lift it most.

**Steer in words.** "more jazz", "less drum machine", "no 1980s", "only sad and calm",
"jazz 20%" (of its category), "much more 70s, a bit less electronic". What was
understood is shown under the box; a word it does not know gets the nearest tags.

**Getting back.** Undo and Redo (Ctrl+Z, Ctrl+Shift+Z) step through your last
{MAX_UNDO} edits; Reset returns to the profile inferred from your history. Share link
and Export carry the current profile and its locks.

**Real data.** This demo's songs are synthetic. The real-data path trains the same
model on the Million Song Dataset (Taste Profile plays, Last.fm tags, audio previews;
`docs/msd.md` in the repository) or on any data in the generic source format, and
serves it with `python app.py --bundle DIR`.
"""


def build_help() -> None:
    """The note and the closed "How it works" (no events)."""
    gr.HTML(f'<p id="honest-note">{NOTE}</p>', js_on_load=None)
    with gr.Accordion("How it works", open=False, elem_id="how-it-works"):
        gr.Markdown(HOW_IT_WORKS)
