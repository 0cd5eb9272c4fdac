"""The two charts as plain Plotly figure dicts, one per category, drawn in the page by
plotly.js for the category whose slider tab is open.

* radar ("profile picture"): the inferred profile (dashed) and the edited one (filled);
* tag mix: the profile beside the tag distribution of the recommendations (and, as
  open diamonds, that of the list before the last edit).

Both show each tag's share within its category on the sliders' track (ui/scale.py:
logarithmic above 1 %, so a doubling is the same distance for every tag) and label
the axis in shares; hovering shows the exact share. The model receives the 80 weights
these shares compose (scale.compose).

Each chart is a gr.HTML whose value holds the four categories' figures as compact JSON;
its script draws the open category with one Plotly.react, with the plotly.js shipped in
the installed plotly package. Why not gr.Plot: it drew the same update 3-4× slower
(reports/app_benchmarks.md, "Design choices").
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import gradio as gr
import numpy as np

from apron_core.tags import CATEGORIES, TAG_NAMES, category_indices
from apron_core.ui.files import PLOTLY_JS, static_url
from apron_core.ui.scale import position_of, tick_positions, within_shares

INFERRED_COLOR = "#4b5563"
PROFILE_COLOR = "#c2410c"
MIX_COLOR = "#1d4ed8"
RADAR_HEIGHT = 330
MIX_HEIGHT = 300
_CONFIG = {"displayModeBar": False}  # no toolbar: less to draw on every edit
_FONT = {"family": "system-ui, sans-serif", "size": 11}
TITLES = {"era": "Era", "genre": "Genre", "mood": "Mood", "instrumentation": "Instruments"}
_TICKS, _TICK_TEXT = tick_positions()


def _layout(title: str, height: int) -> dict:
    return {
        "title": {"text": title, "x": 0.5, "xanchor": "center", "font": {"size": 13}},
        "margin": {"l": 58, "r": 58, "t": 40, "b": 26},
        "height": height,
        "font": _FONT,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "x": 0.5, "xanchor": "center", "y": -0.06},
    }


def _track(shares: np.ndarray) -> list[float]:
    """Positions on the sliders' track (0–1) of within-category shares."""
    return [round(float(v), 4) for v in position_of(shares)]


def _pct(shares: np.ndarray) -> list[float]:
    return [round(float(v) * 100.0, 2) for v in shares]


def radar_figure(inferred: np.ndarray | None, profile: np.ndarray, category: str) -> dict:
    """The category's tags on a polar chart: the edited profile filled, the inferred
    one dashed (absent for a profile that was never inferred)."""
    idx = category_indices(category)
    names = [TAG_NAMES[i] for i in idx]
    theta = [*names, names[0]]  # close the loop
    traces = (
        [("inferred", inferred, INFERRED_COLOR, "none", "dash")] if inferred is not None else []
    )
    traces.append(("your profile", profile, PROFILE_COLOR, "toself", "solid"))
    data = []
    for name, values, color, fill, dash in traces:
        shares = within_shares(values)[idx]
        r, pct = _track(shares), _pct(shares)
        data.append(
            {
                "type": "scatterpolar",
                "name": name,
                "r": [*r, r[0]],
                "theta": theta,
                "customdata": [*pct, pct[0]],
                "mode": "lines",
                "fill": fill,
                "line": {"color": color, "dash": dash, "width": 2},
                "hovertemplate": "%{theta}: %{customdata:.2f}% of "
                + category
                + "<extra>"
                + name
                + "</extra>",
            }
        )
    layout = _layout(f"{TITLES[category]}: each tag's share of {category}", RADAR_HEIGHT)
    layout["polar"] = {
        "radialaxis": {
            "range": [0, 1],
            "tickvals": _TICKS[1:],
            "ticktext": _TICK_TEXT[1:],
            "tickfont": {"size": 8, "color": "#4b5563"},
            "angle": 90 - 180 / len(idx),  # between the first two tags' labels
            "showline": False,
        },
        "angularaxis": {"tickfont": {"size": 9}, "direction": "clockwise"},
        "bgcolor": "rgba(0,0,0,0)",
    }
    return {"data": data, "layout": layout, "config": _CONFIG}


def tag_mix_figure(
    profile: np.ndarray,
    mix: np.ndarray,
    k: int,
    category: str,
    before: np.ndarray | None = None,
) -> dict:
    """Grouped bars over the category's tags: the profile beside the top-k's tag mix
    (and the mix before the last edit as open diamonds), as shares of the category."""
    idx = category_indices(category)
    names = [TAG_NAMES[i] for i in idx]
    series = (("your profile", profile, PROFILE_COLOR), (f"top-{k} tag mix", mix, MIX_COLOR))
    data = []
    for name, values, color in series:
        shares = within_shares(values)[idx]
        data.append(
            {
                "type": "bar",
                "name": name,
                "x": names,
                "y": _track(shares),
                "customdata": _pct(shares),
                "marker": {"color": color},
                "hovertemplate": "%{x}: %{customdata:.2f}% of "
                + category
                + "<extra>"
                + name
                + "</extra>",
            }
        )
    if before is not None:
        shares = within_shares(before)[idx]
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "before the edit",
                "x": names,
                "y": _track(shares),
                "customdata": _pct(shares),
                "offsetgroup": f"top-{k} tag mix",
                "marker": {
                    "symbol": "diamond-open",
                    "color": "#111827",
                    "size": 7,
                    "line": {"width": 1.5},
                },
                "hovertemplate": "%{x}: %{customdata:.2f}% of "
                + category
                + " before<extra></extra>",
            }
        )
    layout = _layout(f"{TITLES[category]}: your profile vs your top {k}'s tags", MIX_HEIGHT)
    layout["title"]["y"] = 0.97
    layout.update(
        barmode="group",
        bargap=0.25,
        margin={"l": 44, "r": 10, "t": 62, "b": 96},
        legend={
            "orientation": "h",
            "x": 0.5,
            "xanchor": "center",
            "y": 1.0,
            "yanchor": "bottom",
            "font": {"size": 10},
        },
        xaxis={"tickangle": -50, "tickfont": {"size": 10}, "automargin": False},
        yaxis={
            "range": [0, 1],
            "tickvals": _TICKS,
            "ticktext": _TICK_TEXT,
            "gridcolor": "rgba(128,128,128,0.25)",
        },
    )
    return {"data": data, "layout": layout, "config": _CONFIG}


def radar_figures(inferred: np.ndarray | None, profile: np.ndarray) -> dict[str, dict]:
    return {c: radar_figure(inferred, profile, c) for c in CATEGORIES}


def tag_mix_figures(
    profile: np.ndarray, mix: np.ndarray, k: int, before: np.ndarray | None = None
) -> dict[str, dict]:
    return {c: tag_mix_figure(profile, mix, k, c, before) for c in CATEGORIES}


def figure_json(figures: dict[str, dict], open_category: str | None = None) -> str:
    """The compact JSON a chart component receives (category → figure), with "open":
    the category the page turns to with this value (a typed command's), if any."""
    doc = figures if open_category is None else {**figures, "open": open_category}
    return json.dumps(doc, separators=(",", ":"))


# Draws the open category (window.__apronCategory, kept by the page script) on load, on
# every new value and when another slider tab opens: one Plotly.react each time, and
# only while the chart is on screen (an off-screen chart draws when scrolled into view).
# A value that names a category to open (a typed command's) turns the page to it before
# anything is drawn, so each chart draws once, in the new category.
_DRAW_JS = """
let visible = false, pending = true;
let seen = null, all = null;  // the last value, parsed
let drawnValue = null, drawnCategory = null;  // what is on screen: not drawn twice
const draw = () => {
  const box = element.querySelector('.apron-chart');
  const v = props.value;
  if (!box || !v || !window.Plotly) return;
  pending = false;
  if (v !== seen) {
    seen = v;
    all = typeof v === 'string' ? JSON.parse(v) : v;
    if (all.open && all.open !== window.__apronCategory) {
      window.__apronCategory = all.open;
      // the sliders and both charts follow, this one too (it draws then)
      document.dispatchEvent(new Event('apron-category'));
      return;
    }
  }
  const cat = window.__apronCategory || 'era';
  const fig = all[cat] || all.era;
  if (!fig || (drawnValue === v && drawnCategory === cat)) return;
  drawnValue = v;
  drawnCategory = cat;
  box.dataset.category = cat;
  const config = Object.assign({responsive: true}, fig.config || {});
  window.Plotly.react(box, fig.data, fig.layout, config);
};
// at once, in the task that applies the new value: the list and both charts reach the
// screen in one paint (reports/app_benchmarks.md)
const request = () => { if (visible) { draw(); } else { pending = true; } };
new IntersectionObserver((entries) => {
  visible = entries.some((e) => e.isIntersecting);
  if (visible && pending) draw();
}).observe(element);
// plotly.js arrives by its own script tag, which may finish after the window's load
// event and after the first value: draw once it is there, however late
const whenPlotly = () => { if (window.Plotly) { request(); } else { setTimeout(whenPlotly, 50); } };
if (!window.Plotly) whenPlotly();
document.addEventListener('apron-category', request);
watch('value', request);
"""


@dataclass(frozen=True)
class ChartsPanel:
    """The radar (profile picture) and the tag-mix bars: written by every view
    (`events.EventContext.view`), drawn in the page; no events of their own."""

    radar: gr.HTML
    tagmix: gr.HTML


def build_charts() -> ChartsPanel:
    head = f'<script src="{static_url(PLOTLY_JS)}"></script>'
    charts = []
    for elem_id, height, label in (
        ("radar", RADAR_HEIGHT, "Radar chart of your profile in the open category"),
        ("tagmix", MIX_HEIGHT, "Bar chart: your profile beside the tags of your list"),
    ):
        template = (
            f'<div class="apron-chart" role="img" aria-label="{label}" '
            f'style="min-height:{height}px"></div>'
        )
        charts.append(
            gr.HTML(
                "",
                html_template=template,
                js_on_load=_DRAW_JS,
                head=head,
                elem_id=elem_id,
                container=True,
                padding=True,
            )
        )
    return ChartsPanel(*charts)
