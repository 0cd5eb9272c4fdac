"""The sliders' scale (apron_core.ui.scale): position ↔ share both ways, the 80 weights
↔ category shares and within-category shares both ways, and the figure the scale was
chosen for (thumbs a hand can reach on the demo listeners)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from apron_core.bundle import load_bundle
from apron_core.engine import Engine
from apron_core.tags import CATEGORIES, K, category_indices
from apron_core.ui import scale

BUNDLE = Path(__file__).resolve().parents[2] / "assets" / "demo"


def test_position_and_share_are_inverse():
    shares = np.concatenate([[0.0, scale.KNEE, 1.0], np.geomspace(1e-6, 1.0, 200)])
    np.testing.assert_allclose(scale.share_at(scale.position_of(shares)), shares, atol=1e-12)
    positions = np.linspace(0, 1, 201)
    np.testing.assert_allclose(scale.position_of(scale.share_at(positions)), positions, atol=1e-12)
    assert scale.position_of(0.0) == 0.0 and scale.position_of(1.0) == pytest.approx(1.0)
    assert isinstance(scale.position_of(0.5), float) and isinstance(scale.share_at(0.5), float)


def test_the_track_is_logarithmic_above_the_knee():
    """A doubling is the same distance wherever it starts (above the knee)."""
    steps = [scale.position_of(2 * s) - scale.position_of(s) for s in (0.02, 0.05, 0.1, 0.25)]
    assert max(steps) - min(steps) < 0.01
    assert np.all(np.diff(scale.position_of(np.linspace(0, 1, 1001))) > 0)  # monotone


def test_out_of_range_values_are_clipped_not_extrapolated():
    assert scale.position_of([-1.0, 2.0]).tolist() == [0.0, pytest.approx(1.0)]
    assert scale.share_at([-0.5, 1.5]).tolist() == [0.0, pytest.approx(1.0)]


def test_compose_and_decompose_round_trip(rng):
    for _ in range(50):
        w = rng.dirichlet(np.full(K, 0.3))
        w[rng.random(K) < 0.2] = 0
        w /= w.sum()
        cats, within = scale.category_shares(w), scale.within_shares(w)
        assert cats.sum() == pytest.approx(1.0)
        for n, c in enumerate(CATEGORIES):
            if cats[n] > 0:
                assert within[category_indices(c)].sum() == pytest.approx(1.0)
        np.testing.assert_allclose(scale.compose(cats, within), w, atol=1e-15)


def test_an_empty_category_has_zero_shares():
    w = np.zeros(K)
    w[category_indices("genre")] = 1 / 32
    within = scale.within_shares(w)
    assert within[category_indices("era")].sum() == 0
    np.testing.assert_allclose(scale.category_shares(w), [0, 1, 0, 0])
    np.testing.assert_allclose(scale.compose(scale.category_shares(w), within), w)
    with pytest.raises(ValueError, match="4 category shares"):
        scale.compose([0.5, 0.5], within)


def test_ticks_label_shares_at_their_positions():
    positions, labels = scale.tick_positions()
    assert labels[0] == "0" and labels[-1] == "100 %" and "1 %" in labels
    assert positions == sorted(positions) and positions[0] == 0.0
    assert positions[labels.index("1 %")] == pytest.approx(scale.position_of(0.01), abs=1e-4)


@pytest.mark.slow
def test_thumbs_a_hand_can_reach_on_the_demo_listeners():
    """Issue 13's figure: for the median demo listener, ≥ 90 % of the tags with at least
    0.5 % of their category sit ≥ 5 % of the track from either end (on the linear
    0–100 %-of-the-profile sliders it was 6 %)."""
    engine = Engine.load(BUNDLE, device="cpu")
    fractions, linear = [], []
    for listener in load_bundle(BUNDLE).demo_listeners:
        w = engine.profile(listener.history)
        ok, counted = scale.thumb_figure(w)
        fractions.append(ok / counted)
        counted_mask = scale.within_shares(w) >= scale.THUMB_MIN_SHARE
        old = w[counted_mask]  # the old slider position: the share of the whole profile
        linear.append(float(np.mean((old >= 0.05) & (old <= 0.95))))
    print(  # the figure for the closing note (shown with -s)
        f"thumbs ≥ {scale.THUMB_MARGIN:.0%} from either end, of the tags with ≥ "
        f"{scale.THUMB_MIN_SHARE:.1%} of their category, over {len(fractions)} demo "
        f"listeners: median {np.median(fractions):.1%}, least {min(fractions):.1%}; "
        f"on the linear 0-100 % sliders: median {np.median(linear):.1%}"
    )
    assert np.median(fractions) >= 0.90
    assert min(fractions) >= 0.9
    assert np.median(linear) < 0.1  # the problem the scale solves
