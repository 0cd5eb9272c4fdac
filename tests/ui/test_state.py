"""Pure profile-edit logic of the app (apron_core.ui.state): the slider rule, locks,
zero/boost, the slider sync, JSON export/import and the share-link code."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from apron_core.errors import DataError
from apron_core.tags import TAG_NAMES, K
from apron_core.ui import state as st
from apron_core.ui.state import Session


@pytest.fixture
def profile(rng) -> np.ndarray:
    return rng.dirichlet(np.ones(K))


# --------------------------------------------------------------------------- checks


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ([float("nan")] + [1.0] * (K - 1), "not a finite number"),
        ([float("inf")] + [1.0] * (K - 1), "not a finite number"),
        ([-1.0] + [1.0] * (K - 1), "negative"),
        ([1e7] + [1.0] * (K - 1), "above"),
        ([1.0] * (K - 1), "shape"),
        ([1.0] * (K + 1), "shape"),
        ("0.5,0.5", "80 numbers"),
        (None, "80 numbers"),
        ([["a"]] * K, "80 numbers"),
    ],
)
def test_settle_refuses_bad_weights(bad, fragment):
    with pytest.raises(DataError, match=fragment):
        st.settle(bad)


def test_a_bad_weight_is_named_by_its_tag():
    w = [1.0] * K
    w[TAG_NAMES.index("rock")] = float("nan")
    with pytest.raises(DataError, match="'rock'"):
        st.settle(w)


def test_tag_indices():
    assert st.tag_indices(["rock", "1950s"]) == {TAG_NAMES.index("rock"), 0}
    with pytest.raises(DataError, match="rokc"):
        st.tag_indices(["rokc"])


# --------------------------------------------------------------------------- settle


def test_settle_without_tiers_normalizes(profile):
    edit = st.settle(profile * 7.0)
    np.testing.assert_allclose(edit.profile, profile, atol=1e-12)
    assert edit.notes == ()


def test_settle_keeps_tiers_and_scales_the_rest_proportionally(profile):
    w = profile.copy()
    w[3], w[10] = 0.2, 0.1  # held tags
    edit = st.settle(w, [("locked tags", [3]), ("moved", [10])])
    p = edit.profile
    assert p.sum() == pytest.approx(1.0)
    assert p[3] == pytest.approx(0.2) and p[10] == pytest.approx(0.1)
    free = np.setdiff1d(np.arange(K), [3, 10])
    np.testing.assert_allclose(p[free] / p[free].sum(), w[free] / w[free].sum(), rtol=1e-9)
    assert p[free].sum() == pytest.approx(0.7)
    assert edit.notes == ()


def test_settle_scales_an_overfull_tier_down_and_zeroes_the_rest(profile):
    w = profile.copy()
    w[[0, 1]] = [0.9, 0.6]
    edit = st.settle(w, [("locked tags", [0, 1])])
    assert edit.profile[[0, 1]] == pytest.approx([0.6, 0.4])
    assert edit.profile[2:].sum() == 0
    assert "more than" in edit.notes[0]


def test_settle_priority_locked_before_moved(profile):
    w = profile.copy()
    w[0], w[1] = 0.7, 0.6  # locked 0.7 fits; moved 0.6 does not fit in the 0.3 left
    edit = st.settle(w, [("locked tags", [0]), ("the tags you moved", [1])])
    assert edit.profile[0] == pytest.approx(0.7)
    assert edit.profile[1] == pytest.approx(0.3)
    assert edit.profile.sum() == pytest.approx(1.0)


def test_settle_fills_with_the_last_tier_when_the_others_are_zero():
    w = np.zeros(K)
    w[5] = 0.3  # locked, nothing else has weight
    edit = st.settle(w, [("locked tags", [5])])
    assert edit.profile[5] == pytest.approx(1.0)
    assert "fill" in edit.notes[0]


def test_settle_refuses_all_zero():
    with pytest.raises(DataError, match="every weight is 0"):
        st.settle(np.zeros(K))


def test_settle_always_sums_to_one(rng):
    for _ in range(200):
        w = rng.dirichlet(np.ones(K)) * rng.uniform(0.1, 3)
        w[rng.random(K) < 0.3] = 0
        w[rng.integers(K)] += 0.01
        tiers = [("a", rng.choice(K, 3, replace=False)), ("b", rng.choice(K, 2, replace=False))]
        p = st.settle(w, tiers).profile
        assert p.sum() == pytest.approx(1.0) and (p >= 0).all()


# --------------------------------------------------------------------------- slider edits


def test_set_tag_keeps_the_moved_value_and_rescales_the_rest(profile):
    p = st.set_tag(profile, 7, 30.0).profile
    assert p[7] == pytest.approx(0.30)
    others = np.arange(K) != 7
    np.testing.assert_allclose(p[others], profile[others] * 0.70 / profile[others].sum())


def test_set_tag_keeps_locked_tags(profile):
    edit = st.set_tag(profile, 0, 50.0, locked={1, 2})
    assert edit.profile[[1, 2]] == pytest.approx(profile[[1, 2]])
    assert edit.profile[0] == pytest.approx(0.5)
    assert edit.profile.sum() == pytest.approx(1.0)


def test_set_tag_to_100_percent_is_one_tag(profile):
    p = st.set_tag(profile, 4, 100.0).profile
    assert p[4] == pytest.approx(1.0) and p.sum() == pytest.approx(1.0)


def test_set_tag_to_what_the_slider_shows_is_no_edit(profile):
    shown = float(st.to_percent(profile)[9])
    assert st.set_tag(profile, 9, shown) is None
    assert st.set_tag(profile, 9, shown + st.STEP_PCT / 4) is None  # below half a step
    assert st.set_tag(profile, 9, shown + st.STEP_PCT) is not None


def test_set_tag_past_what_locked_tags_leave_is_scaled_down_with_a_note(profile):
    locked = st.set_tag(profile, 0, 80.0).profile
    edit = st.set_tag(locked, 1, 50.0, locked={0})
    assert edit.profile[0] == pytest.approx(0.8)
    assert edit.profile[1] == pytest.approx(0.2)
    assert "more than the 20.0% left" in edit.notes[0]


@pytest.mark.parametrize(
    "value, fragment",
    [
        (float("nan"), "not a finite number"),
        (float("inf"), "not a finite number"),
        (-0.5, "negative"),
        (100.5, "above 100"),
        ("50", "not a number"),
        (None, "not a number"),
        (True, "not a number"),
    ],
)
def test_set_tag_refuses_bad_slider_values(profile, value, fragment):
    with pytest.raises(DataError, match=fragment) as e:
        st.set_tag(profile, 0, value)
    assert repr(TAG_NAMES[0]) in str(e.value)


@pytest.mark.parametrize("tag", [-1, K])
def test_set_tag_refuses_an_index_out_of_range(profile, tag):
    with pytest.raises(DataError, match="out of range"):
        st.set_tag(profile, tag, 10.0)


def test_set_tag_refuses_zeroing_everything():
    profile = np.zeros(K)
    profile[3] = 1.0
    with pytest.raises(DataError, match="every weight at 0"):
        st.set_tag(profile, 3, 0.0)


# --------------------------------------------------------------------------- zero / boost


def test_zero_tag_renormalizes_like_the_controllability_metric(profile):
    t = 12
    p = st.zero_tag(profile, t).profile
    assert p[t] == 0
    expected = profile.copy()
    expected[t] = 0
    np.testing.assert_allclose(p, expected / expected.sum())


def test_zero_tag_keeps_locked(profile):
    p = st.zero_tag(profile, 12, locked={0, 1}).profile
    assert p[[0, 1]] == pytest.approx(profile[[0, 1]])
    assert p[12] == 0 and p.sum() == pytest.approx(1.0)


def test_zero_the_only_tag_is_refused():
    profile = np.zeros(K)
    profile[9] = 1.0
    with pytest.raises(DataError, match="no weight at all"):
        st.zero_tag(profile, 9)


def test_boost_tag_doubles_then_renormalizes(profile):
    t = 20
    p = st.boost_tag(profile, t).profile
    expected = profile.copy()
    expected[t] = max(expected[t], st.BOOST_FLOOR) * 2
    np.testing.assert_allclose(p, expected / expected.sum())
    assert p[t] > profile[t]


def test_boost_lifts_a_zero_weight(profile):
    profile = profile.copy()
    profile[5] = 0
    profile /= profile.sum()
    assert st.boost_tag(profile, 5).profile[5] > 0


def test_scale_tag_refuses_out_of_range_index(profile):
    with pytest.raises(DataError, match="out of range"):
        st.scale_tag(profile, K, 2.0)


# --------------------------------------------------------------------------- JSON


def _session(profile) -> Session:
    return Session(
        inferred=profile, locked=frozenset({0, 5}), history=("S00001", "S00002"), source="test"
    ).with_profile(profile)


def test_json_round_trip(profile):
    text = st.export_json(_session(profile))
    doc = json.loads(text)
    assert doc["format"] == st.PROFILE_FORMAT and len(doc["weights"]) == K
    back = st.import_json(text)
    np.testing.assert_allclose(back.profile, profile, atol=1e-5)
    assert back.locked == {0, 5} and back.history == ("S00001", "S00002")
    assert back.source == "test"


def test_json_accepts_partial_weights_and_lists():
    doc = {"format": st.PROFILE_FORMAT, "version": 1, "weights": {"rock": 3, "jazz": 1}}
    p = st.import_json(json.dumps(doc)).profile
    assert p[TAG_NAMES.index("rock")] == pytest.approx(0.75) and p.sum() == pytest.approx(1)
    doc["weights"] = [1] * K
    np.testing.assert_allclose(st.import_json(json.dumps(doc)).profile, np.full(K, 1 / K))


def test_export_without_profile_is_refused():
    with pytest.raises(DataError, match="no profile"):
        st.export_json(Session())


def _doc(**changes) -> str:
    doc = {"format": st.PROFILE_FORMAT, "version": 1, "weights": {"rock": 1.0}}
    doc.update(changes)
    return json.dumps(doc)


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"x" * (st.MAX_JSON_BYTES + 1), "more than"),
        ("{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        ("[" * 50_000 + "]" * 50_000, "more than|not valid JSON"),
        ("[" * 20_000 + "]" * 20_000, "not valid JSON|not an APRON"),
        ('{"format": "apron-studio-profile", "version": 1, "weights": {"rock": NaN}}', "finite"),
        (
            '{"format": "apron-studio-profile", "version": 1, "weights": {"rock": Infinity}}',
            "finite",
        ),
        ('{"format": "apron-studio-profile", "version": 1, "weights": {"rock": 1e999}}', "rock"),
        (json.dumps([1, 2, 3]), "not an APRON"),
        (_doc(format="something else"), "not an APRON"),
        (_doc(version=2), "version"),
        (_doc(weights={"rokc": 1}), "rokc"),
        (_doc(weights={"rock": -1}), "negative"),
        (_doc(weights={"rock": True}), "not a number"),
        (_doc(weights={"rock": "1"}), "not a number"),
        (_doc(weights={"rock": 0}), "every weight is 0"),
        (_doc(weights={"rock": 1e9}), "above"),
        (_doc(weights=[1] * 3), "weights"),
        (_doc(weights="rock"), "weights"),
        (_doc(locked=["nope"]), "nope"),
        (_doc(locked="rock"), "locked"),
        (_doc(history="S00001"), "history"),
        (_doc(history=[1, 2]), "song ids"),
        (_doc(history=["x" * 500]), "song ids"),
        (_doc(history=["S1"] * (st.MAX_HISTORY + 1)), "at most"),
    ],
)
def test_import_refuses_malformed_profiles(data, fragment):
    with pytest.raises(DataError, match=fragment):
        st.import_json(data)


# --------------------------------------------------------------------------- share code


def test_share_round_trip(profile):
    code = st.encode_share(profile, {1, 79})
    assert len(code) <= st.MAX_SHARE_CHARS and "=" not in code and "/" not in code
    p, locked = st.decode_share(code)
    assert locked == {1, 79}
    np.testing.assert_allclose(p, profile, atol=profile.max() / 65535 * 2)
    p2, locked2 = st.decode_share(st.encode_share(profile))
    assert locked2 == frozenset()
    np.testing.assert_allclose(p2, p)


def _raw(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


@pytest.mark.parametrize(
    "code",
    [
        "",
        "A" * (st.MAX_SHARE_CHARS + 1),
        "!!!not-base64!!!",
        "<script>alert(1)</script>",
        _raw(bytes([2]) + bytes(2 * K)),  # another version
        _raw(bytes([1]) + bytes(10)),  # truncated
        _raw(bytes([1]) + b"\x00\x01" * K + b"\x00"),  # one byte too many
        _raw(bytes([1]) + bytes(2 * K)),  # all zero
        _raw(bytes([1]) + b"\x00\x01" * K + b"\x00" * 5),  # lock mask cut short
    ],
)
def test_decode_share_refuses_tampered_codes(code):
    with pytest.raises(DataError, match="shared link"):
        st.decode_share(code)


def test_decode_share_of_a_flipped_code_stays_a_valid_profile(profile):
    code = list(st.encode_share(profile))
    code[10] = "A" if code[10] != "A" else "B"
    p, _ = st.decode_share("".join(code))  # still 80 finite weights summing to 1
    assert p.shape == (K,) and np.isfinite(p).all() and p.sum() == pytest.approx(1.0)
