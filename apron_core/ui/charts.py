"""The two charts, one per category, drawn in the page by plotly.js for the category
whose slider tab is open.

* radar ("profile picture"): the inferred profile (dashed) and the edited one (filled);
* tag mix: the profile beside the tag distribution of the recommendations (and, as
  open diamonds, that of the list before the last edit).

Both show each tag's share within its category on the sliders' track (ui/scale.py:
logarithmic above 1 %, so a doubling is the same distance for every tag) and label
the axis in shares; hovering shows the exact share. The model receives the 80 weights
these shares compose (scale.compose).

Each chart is a gr.HTML. An edit sends it only the numbers that change — the 80
within-category shares of each series (`radar_values`, `tag_mix_values`), ~2 kB — and
its script builds the open category's Plotly figure from them and from `chart_spec`
(tag names, titles, colours, ticks: fixed, so written into the script once) with one
Plotly.react. Sending whole figures for the four categories (~21 kB an edit) cost the
server more than the model did: a 50-visitor load test served ~110 edits/s with them and
~160-210 without (reports/app_benchmarks.md). Why not gr.Plot: it drew the same update
3-4× slower ("Design choices" there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import gradio as gr
import numpy as np

from apron_core.tags import CATEGORIES, TAG_NAMES, category_indices
from apron_core.ui.files import PLOTLY_JS, static_url
from apron_core.ui.scale import KNEE, tick_positions, wire_shares

INFERRED_COLOR = "#4b5563"
PROFILE_COLOR = "#c2410c"
MIX_COLOR = "#1d4ed8"
RADAR_HEIGHT = 330
MIX_HEIGHT = 300
TITLES = {"era": "Era", "genre": "Genre", "mood": "Mood", "instrumentation": "Instruments"}


def radar_values(inferred: np.ndarray | None, profile: np.ndarray) -> dict:
    """What the radar draws: the inferred profile (None for a profile never inferred)
    and the edited one, as within-category shares of all 80 tags."""
    return {"inferred": wire_shares(inferred), "profile": wire_shares(profile)}


def tag_mix_values(
    profile: np.ndarray, mix: np.ndarray, k: int, before: np.ndarray | None = None
) -> dict:
    """What the tag-mix bars draw: the profile, the top-k's tag mix and the mix before
    the last edit (None on a first list), as within-category shares."""
    return {
        "k": k,
        "profile": wire_shares(profile),
        "mix": wire_shares(mix),
        "before": wire_shares(before),
    }


def figure_json(values: dict, open_category: str | None = None) -> str:
    """The compact JSON a chart component receives, with "open": the category the page
    turns to with this value (a typed command's), if any."""
    doc = values if open_category is None else {**values, "open": open_category}
    return json.dumps(doc, separators=(",", ":"))


def chart_spec() -> dict:
    """What every figure of a category shares and no edit changes (read by _DRAW_JS)."""
    ticks, tick_text = tick_positions()
    return {
        "knee": KNEE,
        "ticks": ticks,
        "tickText": tick_text,
        "colors": {"inferred": INFERRED_COLOR, "profile": PROFILE_COLOR, "mix": MIX_COLOR},
        "heights": {"radar": RADAR_HEIGHT, "tagmix": MIX_HEIGHT},
        "categories": {
            c: {
                "title": TITLES[c],
                "idx": category_indices(c),
                "names": [TAG_NAMES[i] for i in category_indices(c)],
            }
            for c in CATEGORIES
        },
    }


# Builds and draws the open category (window.__apronCategory, kept by the page script)
# on load, on every new value and when another slider tab opens: one Plotly.react each
# time, and only while the chart is on screen (an off-screen chart draws when scrolled
# into view). A value that names a category to open (a typed command's) turns the page
# to it before anything is drawn, so each chart draws once, in the new category.
# `KIND` ('radar' or 'tagmix') and `SPEC` (chart_spec) are prepended per chart.
_DRAW_JS = """
const SPAN = Math.log1p(1 / SPEC.knee);
// ui/scale.py's position_of, mirrored, and the share in percent for the hover
const clip = (s) => Math.min(1, Math.max(0, s));
const track = (s) => Math.round((Math.log1p(clip(s) / SPEC.knee) / SPAN) * 1e4) / 1e4;
const percent = (s) => Math.round(s * 1e4) / 100;
const hover = (x, cat, name) => `%{${x}}: %{customdata:.2f}% of ${cat}<extra>${name}</extra>`;
const layout = (title, height) => ({
  title: {text: title, x: 0.5, xanchor: 'center', font: {size: 13}},
  margin: {l: 58, r: 58, t: 40, b: 26},
  height: height,
  font: {family: 'system-ui, sans-serif', size: 11},
  paper_bgcolor: 'rgba(0,0,0,0)',
  plot_bgcolor: 'rgba(0,0,0,0)',
  legend: {orientation: 'h', x: 0.5, xanchor: 'center', y: -0.06},
});
function radar(v, cat) {
  const c = SPEC.categories[cat];
  const theta = [...c.names, c.names[0]];  // close the loop
  const series = [];
  if (v.inferred) series.push(['inferred', v.inferred, SPEC.colors.inferred, 'none', 'dash']);
  series.push(['your profile', v.profile, SPEC.colors.profile, 'toself', 'solid']);
  const data = series.map(([name, values, color, fill, dash]) => {
    const shares = c.idx.map((i) => values[i]);
    const r = shares.map(track), pct = shares.map(percent);
    return {type: 'scatterpolar', name, r: [...r, r[0]], theta, customdata: [...pct, pct[0]],
      mode: 'lines', fill, line: {color, dash, width: 2}, hovertemplate: hover('theta', cat, name)};
  });
  const lay = layout(`${c.title}: each tag's share of ${cat}`, SPEC.heights.radar);
  lay.polar = {
    radialaxis: {range: [0, 1], tickvals: SPEC.ticks.slice(1), ticktext: SPEC.tickText.slice(1),
      tickfont: {size: 8, color: '#4b5563'}, angle: 90 - 180 / c.idx.length, showline: false},
    angularaxis: {tickfont: {size: 9}, direction: 'clockwise'},
    bgcolor: 'rgba(0,0,0,0)',
  };
  return {data, layout: lay};
}
function tagmix(v, cat) {
  const c = SPEC.categories[cat];
  const mixName = `top-${v.k} tag mix`;
  const series = [
    ['your profile', v.profile, SPEC.colors.profile], [mixName, v.mix, SPEC.colors.mix],
  ];
  const data = series.map(([name, values, color]) => {
    const shares = c.idx.map((i) => values[i]);
    return {type: 'bar', name, x: c.names, y: shares.map(track), customdata: shares.map(percent),
      marker: {color}, hovertemplate: hover('x', cat, name)};
  });
  if (v.before) {
    const shares = c.idx.map((i) => v.before[i]);
    // a tag the list did not carry before has no marker: a row of diamonds on the
    // axis would hide the bars' feet and say nothing
    data.push({type: 'scatter', mode: 'markers', name: 'before the edit', x: c.names,
      y: shares.map((s) => (s > 0 ? track(s) : null)), customdata: shares.map(percent),
      offsetgroup: mixName,
      marker: {symbol: 'diamond-open', color: '#111827', size: 7, line: {width: 1.5}},
      hovertemplate: `%{x}: %{customdata:.2f}% of ${cat} before<extra></extra>`});
  }
  const lay = layout(`${c.title}: your profile vs your top ${v.k}'s tags`, SPEC.heights.tagmix);
  lay.title.y = 0.97;
  Object.assign(lay, {
    barmode: 'group', bargap: 0.25, margin: {l: 44, r: 10, t: 62, b: 96},
    legend: {orientation: 'h', x: 0.5, xanchor: 'center', y: 1.0, yanchor: 'bottom',
      font: {size: 10}},
    xaxis: {tickangle: -50, tickfont: {size: 10}, automargin: false},
    yaxis: {range: [0, 1], tickvals: SPEC.ticks, ticktext: SPEC.tickText,
      gridcolor: 'rgba(128,128,128,0.25)'},
  });
  return {data, layout: lay};
}
const build = KIND === 'radar' ? radar : tagmix;
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
  const cat = SPEC.categories[window.__apronCategory] ? window.__apronCategory : 'era';
  if (!all.profile || (drawnValue === v && drawnCategory === cat)) return;
  drawnValue = v;
  drawnCategory = cat;
  box.dataset.category = cat;
  const fig = build(all, cat);
  window.Plotly.react(box, fig.data, fig.layout, {responsive: true, displayModeBar: false});
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


def draw_js(kind: str) -> str:
    """The script of one chart ('radar' or 'tagmix'): its kind, the spec, _DRAW_JS."""
    spec = json.dumps(chart_spec(), separators=(",", ":"))
    return f"const KIND = {json.dumps(kind)};\nconst SPEC = {spec};\n{_DRAW_JS}"


@dataclass(frozen=True)
class ChartsPanel:
    """The radar (profile picture) and the tag-mix bars: written by every view
    (`events.EventContext.view`), drawn in the page; no events of their own."""

    radar: gr.HTML
    tagmix: gr.HTML


def build_charts() -> ChartsPanel:
    head = f'<script src="{static_url(PLOTLY_JS)}"></script>'
    charts = []
    for kind, label in (
        ("radar", "Radar chart of your profile in the open category"),
        ("tagmix", "Bar chart: your profile beside the tags of your list"),
    ):
        height = RADAR_HEIGHT if kind == "radar" else MIX_HEIGHT
        template = (
            f'<div class="apron-chart" role="img" aria-label="{label}" '
            f'style="min-height:{height}px"></div>'
        )
        charts.append(
            gr.HTML(
                "",
                html_template=template,
                js_on_load=draw_js(kind),
                head=head,
                elem_id=kind,
                container=True,
                padding=True,
            )
        )
    return ChartsPanel(*charts)
