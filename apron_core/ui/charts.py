"""The two charts as plain Plotly figure dicts, one per category, drawn in the page by
plotly.js for the category whose slider tab is open.

* radar ("profile picture"): the inferred profile (dashed) and the edited one (filled);
* tag mix: the profile's weights beside the tag distribution of the recommendations.

Values are shown in percent of the whole profile (80 tags sum to 100 %), exactly the
numbers the model uses: nothing is renormalized per category.

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

INFERRED_COLOR = "#6b7280"
PROFILE_COLOR = "#ea580c"
MIX_COLOR = "#2563eb"
CHART_HEIGHT = 430
_CONFIG = {"displayModeBar": False}  # no toolbar: less to draw on every edit
_FONT = {"family": "system-ui, sans-serif", "size": 11}
TITLES = {"era": "Era", "genre": "Genre", "mood": "Mood", "instrumentation": "Instruments"}


def nice_max(peak_pct: float) -> float:
    """An axis maximum a little above `peak_pct` that changes in steps, so small edits
    keep the axes as they are (Plotly then only redraws the traces)."""
    for step in (1.0, 2.0, 5.0, 10.0, 20.0):
        if peak_pct * 1.05 <= 5 * step:
            return float(np.ceil(peak_pct * 1.05 / step) * step) or step
    return 100.0


def _pct(values: np.ndarray) -> list[float]:
    return [round(float(v) * 100.0, 2) for v in values]


def _layout(title: str) -> dict:
    return {
        "title": {"text": title, "x": 0.5, "xanchor": "center", "font": {"size": 13}},
        "margin": {"l": 50, "r": 50, "t": 50, "b": 40},
        "height": CHART_HEIGHT,
        "font": _FONT,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "legend": {"orientation": "h", "x": 0.5, "xanchor": "center", "y": -0.08},
    }


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
    peak = 0.0
    for name, values, color, fill, dash in traces:
        r = _pct(values[idx])
        peak = max(peak, *r)
        data.append(
            {
                "type": "scatterpolar",
                "name": name,
                "r": [*r, r[0]],
                "theta": theta,
                "mode": "lines",
                "fill": fill,
                "line": {"color": color, "dash": dash, "width": 2},
                "hovertemplate": "%{theta}: %{r:.2f}%<extra>" + name + "</extra>",
            }
        )
    layout = _layout(f"{TITLES[category]}: your profile (share of all 80 tags)")
    layout["polar"] = {
        "radialaxis": {
            "range": [0, nice_max(peak)],
            "nticks": 4,
            "ticksuffix": "%",
            "tickfont": {"size": 9},
            "angle": 90,
            "showline": False,
        },
        "angularaxis": {"tickfont": {"size": 10}, "direction": "clockwise"},
        "bgcolor": "rgba(0,0,0,0)",
    }
    return {"data": data, "layout": layout, "config": _CONFIG}


def tag_mix_figure(profile: np.ndarray, mix: np.ndarray, k: int, category: str) -> dict:
    """Grouped bars over the category's tags: profile ŵ beside the top-k's tag mix."""
    idx = category_indices(category)
    names = [TAG_NAMES[i] for i in idx]
    series = (("your profile", profile, PROFILE_COLOR), (f"top-{k} tag mix", mix, MIX_COLOR))
    data = [
        {
            "type": "bar",
            "name": name,
            "x": names,
            "y": _pct(values[idx]),
            "marker": {"color": color},
            "hovertemplate": "%{x}: %{y:.2f}%<extra>" + name + "</extra>",
        }
        for name, values, color in series
    ]
    peak = max(float(profile[idx].max()), float(mix[idx].max())) * 100.0
    layout = _layout(f"{TITLES[category]}: your profile vs the tags of your top {k}")
    layout.update(
        barmode="group",
        bargap=0.25,
        margin={"l": 50, "r": 20, "t": 50, "b": 110},
        legend={"orientation": "h", "x": 0.5, "xanchor": "center", "y": 1.0, "yanchor": "bottom"},
        xaxis={"tickangle": -50, "tickfont": {"size": 10}, "automargin": False},
        yaxis={
            "range": [0, nice_max(peak)],
            "nticks": 5,
            "ticksuffix": "%",
            "gridcolor": "rgba(128,128,128,0.25)",
        },
    )
    return {"data": data, "layout": layout, "config": _CONFIG}


def radar_figures(inferred: np.ndarray | None, profile: np.ndarray) -> dict[str, dict]:
    return {c: radar_figure(inferred, profile, c) for c in CATEGORIES}


def tag_mix_figures(profile: np.ndarray, mix: np.ndarray, k: int) -> dict[str, dict]:
    return {c: tag_mix_figure(profile, mix, k, c) for c in CATEGORIES}


def figure_json(figures: dict[str, dict]) -> str:
    """The compact JSON a chart component receives (category → figure)."""
    return json.dumps(figures, separators=(",", ":"))


# Draws the open category (window.__apronCategory, kept by the page script) on load, on
# every new value and when another slider tab opens: one Plotly.react each time, and
# only while the chart is on screen (an off-screen chart draws when scrolled into view).
_DRAW_JS = """
let visible = false, pending = true;
const draw = () => {
  const box = element.querySelector('.apron-chart');
  const v = props.value;
  if (!box || !v || !window.Plotly) return;
  pending = false;
  const all = typeof v === 'string' ? JSON.parse(v) : v;
  const cat = window.__apronCategory || 'era';
  const fig = all[cat] || all.era;
  if (!fig) return;
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
    template = f'<div class="apron-chart" style="min-height:{CHART_HEIGHT}px"></div>'
    radar, tagmix = (
        gr.HTML(
            "",
            html_template=template,
            js_on_load=_DRAW_JS,
            head=head,
            elem_id=elem_id,
            container=True,
            padding=True,
        )
        for elem_id in ("radar", "tagmix")
    )
    return ChartsPanel(radar, tagmix)
