"""How the sliders and the charts present a profile: the one place that maps the 80
weights the model uses to what the page shows, and back.

A profile ŵ (80 weights, sum 1) is shown per category c (era, genre, mood,
instrumentation) as

* the category's share of the whole, S_c = Σ_{t∈c} ŵ_t (one slider per category,
  linear, 0–100 %), and
* each tag's share within its category, s_t = ŵ_t / S_c (one slider per tag, 0–100 %
  of the category), on a track that is logarithmic above KNEE and linear below it:

      position(s) = ln(1 + s/KNEE) / ln(1 + 1/KNEE)        s, position ∈ [0, 1]
      share(p)    = KNEE · ((1 + 1/KNEE)^p − 1)

and back: ŵ_t = S_c · s_t. Why: a typical weight is 0.01–0.6 % of the profile and the
largest ~14 %; on a linear 0–100 % track every thumb sat at the left edge and a drag
moved a tag from 0.2 % to 20 %. Within its category a tag's share is 10–100× larger,
and the log track gives every doubling the same length (1 % of the category and 2 % are
as far apart as 20 % and 40 %), so "twice as much jazz" is the same move for any
listener; the linear part below KNEE keeps 0 at the left end. With KNEE = 0.1 % of the
category, every tag of the median demo listener with at least 0.5 % of its category
sits at least 5 % of the track from either end (98 % of them for the least even of the
12 listeners), and the median tag sits half-way out on the radar, where KNEE = 1 % put
it at a third (reports/app_benchmarks.md; `thumb_figure`).

The radar and the tag-mix chart draw the same positions (`tick_positions` labels
them), so what a chart shows is what a slider shows. The page mirrors `share_at` in
JavaScript (prototypes_panel.py, built from KNEE) to label a slider while it is dragged;
the server maps nothing back from positions: the page sends the share it showed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from apron_core.tags import CATEGORIES, K, category_indices

KNEE = 0.001  # within-category share below which the track is linear
_LOG_SPAN = math.log1p(1.0 / KNEE)
TICK_SHARES = (0.0, 0.001, 0.01, 0.1, 0.5, 1.0)  # labelled on the charts' axes
THUMB_MIN_SHARE = 0.005  # the thumb figure counts tags with ≥ 0.5 % of their category
THUMB_MARGIN = 0.05  # … whose thumb is at least 5 % of the track from either end

# category → indices into the 80-tag order, and each tag's category number
CATEGORY_INDEX: dict[str, np.ndarray] = {c: np.asarray(category_indices(c)) for c in CATEGORIES}
TAG_CATEGORY = np.empty(K, dtype=np.int64)
for _n, _c in enumerate(CATEGORIES):
    TAG_CATEGORY[CATEGORY_INDEX[_c]] = _n


def position_of(share):
    """Track position (0–1) of a within-category share (0–1); arrays element-wise."""
    s = np.clip(np.asarray(share, dtype=np.float64), 0.0, 1.0)
    p = np.log1p(s / KNEE) / _LOG_SPAN
    return float(p) if p.ndim == 0 else p


def share_at(position):
    """Within-category share (0–1) at a track position (0–1): `position_of`'s inverse."""
    p = np.clip(np.asarray(position, dtype=np.float64), 0.0, 1.0)
    s = KNEE * np.expm1(p * _LOG_SPAN)
    s = np.clip(s, 0.0, 1.0)
    return float(s) if s.ndim == 0 else s


def category_shares(profile: np.ndarray) -> np.ndarray:
    """(4,) S_c: each category's share of the profile, in CATEGORIES order."""
    w = np.asarray(profile, dtype=np.float64)
    return np.array([w[CATEGORY_INDEX[c]].sum() for c in CATEGORIES])


def within_shares(profile: np.ndarray) -> np.ndarray:
    """(80,) s_t: each tag's share of its category (0 for every tag of an empty category)."""
    w = np.asarray(profile, dtype=np.float64)
    totals = category_shares(w)[TAG_CATEGORY]  # (80,)
    out = np.zeros(K)
    np.divide(w, totals, out=out, where=totals > 0)
    return out


SHARE_DIGITS = 6  # shares sent to the page: 1e-6 of a category, below the track's 0.1 % knee


def wire_shares(profile: np.ndarray | None) -> list[float] | None:
    """The 80 within-category shares as the page receives them (sliders and charts
    alike), rounded once; None stays None."""
    if profile is None:
        return None
    return np.round(within_shares(profile), SHARE_DIGITS).tolist()


def compose(categories: Sequence[float], within: np.ndarray) -> np.ndarray:
    """(80,) ŵ_t = S_c · s_t: the profile the model receives from what the sliders show."""
    shares = np.asarray(categories, dtype=np.float64)
    if shares.shape != (len(CATEGORIES),):
        raise ValueError(f"need {len(CATEGORIES)} category shares, got shape {shares.shape}")
    return shares[TAG_CATEGORY] * np.asarray(within, dtype=np.float64)


def tick_positions() -> tuple[list[float], list[str]]:
    """Where the charts label the share axis, and the labels ('0', '1 %', … '100 %')."""
    labels = ["0" if s == 0 else f"{100 * s:g} %" for s in TICK_SHARES]
    return [round(position_of(s), 4) for s in TICK_SHARES], labels


def thumb_figure(profile: np.ndarray) -> tuple[int, int]:
    """(tags whose thumb is ≥ THUMB_MARGIN from either end, tags counted): tags with at
    least THUMB_MIN_SHARE of their category (the issue's 'a hand can steer it' figure)."""
    s = within_shares(profile)
    counted = s >= THUMB_MIN_SHARE
    p = position_of(s)
    ok = counted & (p >= THUMB_MARGIN) & (p <= 1 - THUMB_MARGIN)
    return int(ok.sum()), int(counted.sum())
