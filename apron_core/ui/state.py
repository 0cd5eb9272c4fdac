"""Profile edits and their encodings, as pure functions (no Gradio): what one session holds,
how a slider move, a lock, a zero or a boost changes the profile, the undo history, and
how a profile travels as JSON or in a URL.

Edit rule (every edit follows it; tested in tests/ui/test_state.py and, over random
edit sequences, tests/ui/test_edit_properties.py): tags are ranked in tiers — locked
tags first, then the tags the listener just moved, then (for an edit inside one
category) the other categories, then the rest. Walking the tiers in that order, a tier
keeps its weights while they fit in what is left of 1; the last tier that has any
weight is scaled to fill exactly what is left (so the untouched tags share the rest in
proportion to their weights). A tier that does not fit is scaled down to fit and every
later tier gets 0. Each time a kept tier has to be rescaled, the edit returns a note
saying so. Locked tags are never rescaled: an edit that would have to (every unlocked
weight at 0) is refused. The tag an edit names is exempt from its own lock. Zero and
boost follow docs/design.md §4's rule instead: scale ŵ_t (×0, ×2) and renormalize, locked
tags kept.

The sliders show shares within a category and each category's share (ui/scale.py);
`set_within` and `set_category` are their edits, `apply_command` a typed command's.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from apron_core.checks import check_profile
from apron_core.errors import DataError
from apron_core.tags import CATEGORIES, TAG_NAMES, K
from apron_core.ui.scale import CATEGORY_INDEX, TAG_CATEGORY, within_shares

STEP_PCT = 0.01  # resolution of a weight typed in percent of the profile (/set_weight)
MAX_SLIDER_PCT = 100.0  # a slider value is a percent (of the profile or of a category)
BOOST_FACTOR = 2.0
BOOST_FLOOR = 1.0 / K  # a boosted tag gets at least a uniform share before renormalizing
MAX_UNDO = 50  # edits a session can undo (each one 80 floats and a lock set)
SAME_SHARE = 1e-9  # a slider released where it was is no edit
LOCK_TOLERANCE = 1e-12  # relative: locked mass that "fits" despite float rounding
PROFILE_FORMAT = "apron-studio-profile"
PROFILE_VERSION = 1
MAX_JSON_BYTES = 64 * 1024
MAX_HISTORY = 5000
MAX_SONG_ID_CHARS = 64
MAX_INT_DIGITS = 30  # a longer integer in a profile file is an attack, not a weight
SHARE_VERSION = 1
_SHARE_SCALE = 65535  # weights travel as uint16 fractions of the largest weight
_LOCK_BYTES = (K + 7) // 8
MAX_SHARE_CHARS = 400


@dataclass(frozen=True)
class Snapshot:
    """One point of the undo history: what the profile and the locks were."""

    profile: np.ndarray  # (80,) sums to 1
    locked: frozenset[int]


@dataclass(frozen=True)
class Session:
    """Everything one browser tab holds (kept in gr.State, never in globals).

    The page's sliders are drawn from every view the server sends (the steering
    panel's payload), so the server never needs to know what a slider showed before
    it was moved."""

    inferred: np.ndarray | None = None  # (80,) profile inferred from history / uploads
    profile: np.ndarray | None = None  # (80,) current (edited) profile, sums to 1
    locked: frozenset[int] = frozenset()
    history: tuple[str, ...] = ()  # catalog songs excluded from recommendations
    source: str = ""  # where the profile came from, for the page and the export
    last_recs: tuple[str, ...] = ()  # previous top-k, for the entered/left markers
    last_mix: np.ndarray | None = None  # (80,) their tag mix, for "tag mix before → after"
    views: int = 0  # views sent so far (the page redraws the sliders on every new one)
    undo: tuple[Snapshot, ...] = field(default=(), repr=False)  # oldest first
    redo: tuple[Snapshot, ...] = field(default=(), repr=False)  # next redo last

    def with_profile(self, profile: np.ndarray) -> Session:
        """The same session with a new profile (no history entry: see `commit`)."""
        return replace(self, profile=np.asarray(profile, dtype=np.float64))


@dataclass(frozen=True)
class Edit:
    profile: np.ndarray  # (80,) sums to 1
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------- history


def commit(session: Session, profile: np.ndarray, locked: Collection[int] | None = None) -> Session:
    """The session after an edit: the new profile (and locks), the previous state pushed
    onto the undo history (at most MAX_UNDO kept), the redo history dropped. An edit
    that changes nothing leaves the session, and its history, as they are."""
    new = np.asarray(profile, dtype=np.float64)
    locks = session.locked if locked is None else frozenset(int(i) for i in locked)
    if session.profile is None:
        return replace(session, profile=new, locked=locks)
    if np.array_equal(new, session.profile) and locks == session.locked:
        return session
    undo = (*session.undo, Snapshot(session.profile, session.locked))[-MAX_UNDO:]
    return replace(session, profile=new, locked=locks, undo=undo, redo=())


def undo(session: Session) -> Session:
    """The profile and locks before the last edit; DataError when there is none."""
    if not session.undo or session.profile is None:
        raise DataError("there is nothing to undo: no edit since this profile started")
    back = session.undo[-1]
    redo = (*session.redo, Snapshot(session.profile, session.locked))
    return replace(
        session, profile=back.profile, locked=back.locked, undo=session.undo[:-1], redo=redo
    )


def redo(session: Session) -> Session:
    """The edit the last undo took back; DataError when there is none."""
    if not session.redo or session.profile is None:
        raise DataError("there is nothing to redo: undo an edit first")
    forward = session.redo[-1]
    back = (*session.undo, Snapshot(session.profile, session.locked))[-MAX_UNDO:]
    return replace(
        session, profile=forward.profile, locked=forward.locked, undo=back, redo=session.redo[:-1]
    )


# --------------------------------------------------------------------------- checks


def tag_indices(names: Iterable[str], *, what: str = "tags") -> frozenset[int]:
    """Indices of tag names; DataError naming the unknown ones."""
    names = list(names)
    unknown = [n for n in names if not isinstance(n, str) or n not in TAG_NAMES]
    if unknown:
        shown = ", ".join(repr(n)[:40] for n in unknown[:5])
        raise DataError(f"{what}: unknown tag(s) {shown}: use names from the sliders")
    return frozenset(TAG_NAMES.index(n) for n in names)


def to_percent(profile: np.ndarray) -> np.ndarray:
    """Weights in percent of the profile, rounded to STEP_PCT (the API's unit)."""
    return np.round(np.asarray(profile, dtype=np.float64) * 100.0, 2)


def _check_tag(tag: object) -> int:
    if isinstance(tag, bool) or not isinstance(tag, (int, np.integer)) or not 0 <= tag < K:
        raise DataError(f"tag index {str(tag)[:20]} is out of range 0-{K - 1}")
    return int(tag)


def _check_category(category: object) -> str:
    if category not in CATEGORIES:
        raise DataError(
            f"unknown category {str(category)[:30]!r}: use one of {', '.join(CATEGORIES)}"
        )
    return str(category)


# --------------------------------------------------------------------------- edits


def settle(
    weights, tiers: Sequence[tuple[str, Collection[int]]] = (), locked: Collection[int] = ()
) -> Edit:
    """Sum-1 profile from non-negative weights, keeping the locked tags' weights exactly,
    then the tiers' in priority order (see the module doc); tags in no tier form the last
    tier. DataError when the locked tags alone would have to be rescaled."""
    w = check_profile(weights, name="weights", allow_zero=True)
    if w.sum() <= 0:
        raise DataError("every weight is 0: raise at least one tag above 0 (or reset)")
    taken = np.zeros(K, dtype=bool)
    groups: list[tuple[str, np.ndarray]] = []
    for name, members in [("locked tags", locked), *tiers]:
        mask = np.zeros(K, dtype=bool)
        mask[[int(i) for i in members]] = True
        mask &= ~taken
        taken |= mask
        groups.append((name, mask))
    groups.append(("the other tags", ~taken))
    masses = [float(w[m].sum()) for _, m in groups]
    lock_mass = masses[0]
    if lock_mass > 1 + LOCK_TOLERANCE:
        raise DataError(
            f"the locked tags add up to {100 * lock_mass:.1f}%, more than 100%: unlock some"
        )
    last = max(i for i, m in enumerate(masses) if m > 0)
    if last == 0 and not math.isclose(lock_mass, 1.0, rel_tol=1e-9):
        raise DataError(
            f"only locked tags would keep any weight ({100 * lock_mass:.1f}%), and locked "
            "tags keep their share: unlock one, or raise a tag that is not locked"
        )
    out = np.zeros(K)
    room = 1.0
    notes: list[str] = []
    for i, ((name, mask), mass) in enumerate(zip(groups, masses, strict=True)):
        if mass <= 0:
            continue
        if i == last:
            out[mask] = w[mask] / mass * room  # divide first: a tiny mass must not overflow
            if i < len(groups) - 1 and not math.isclose(room, mass, rel_tol=1e-9):
                notes.append(
                    f"Nothing else carries weight, so {name} were scaled from "
                    f"{100 * mass:.1f}% to fill {100 * room:.1f}%."
                )
            break
        if i > 0 and mass > room * (1 + 1e-12):
            out[mask] = w[mask] / mass * room
            notes.append(
                f"{name[0].upper() + name[1:]} add up to {100 * mass:.1f}%, more than the "
                f"{100 * room:.1f}% left: scaled them down to fit; the rest get 0."
            )
            break
        out[mask] = w[mask]
        room = max(room - mass, 0.0)  # never below 0 from float rounding
    np.maximum(out, 0.0, out=out)
    return Edit(_normalized(out, locked), tuple(notes))


def _normalized(out: np.ndarray, locked: Collection[int]) -> np.ndarray:
    """`out` summing to 1 within float rounding, with the locked weights left exactly as
    they are (the unlocked ones absorb the rounding)."""
    total = out.sum()
    if math.isclose(total, 1.0, rel_tol=0, abs_tol=1e-12):
        return out
    lock = np.zeros(K, dtype=bool)
    lock[[int(i) for i in locked]] = True
    free = out[~lock].sum()
    if free > 0:
        out = out.copy()
        out[~lock] = out[~lock] / free * (1.0 - out[lock].sum())
        return out
    return out / total


def check_percent(percent: object, tag: int | str) -> float:
    """A slider value (percent) as a float in [0, 100]; DataError naming the tag (or
    category) and the value otherwise."""
    name = TAG_NAMES[tag] if isinstance(tag, int) else str(tag)
    if isinstance(percent, bool) or not isinstance(percent, (int, float, np.integer, np.floating)):
        raise DataError(f"the slider value {str(percent)[:30]!r} of {name!r} is not a number")
    value = float(percent)
    if not math.isfinite(value):
        raise DataError(f"the slider value of {name!r} ({value}) is not a finite number")
    if value < 0:
        raise DataError(f"the slider value of {name!r} ({value:g}) is negative: use 0-100")
    if value > MAX_SLIDER_PCT:
        raise DataError(
            f"the slider value of {name!r} ({value:g}) is above {MAX_SLIDER_PCT:g}: use 0-100"
        )
    return value


def set_tag(
    profile: np.ndarray, tag: int, percent: object, locked: Collection[int] = ()
) -> Edit | None:
    """The profile after one tag was set to `percent` of the whole profile (/set_weight):
    the tag keeps its new value, locked tags theirs, the rest rescale (the module doc's
    rule). None when the tag already shows `percent`."""
    tag = _check_tag(tag)
    value = check_percent(percent, tag)
    w = np.asarray(profile, dtype=np.float64).copy()
    if abs(to_percent(w[tag]) - value) <= STEP_PCT / 2:
        return None
    w[tag] = value / 100.0
    if w.sum() <= 0:
        raise DataError(
            f"setting {TAG_NAMES[tag]!r} to 0 leaves every weight at 0: "
            "raise at least one tag above 0"
        )
    return settle(w, [("the tags you moved", [tag])], locked=set(locked) - {tag})


def _other_categories(category: str) -> np.ndarray:
    return np.flatnonzero(np.not_equal(TAG_CATEGORY, CATEGORIES.index(category)))


def set_within(
    profile: np.ndarray, tag: int, percent: object, locked: Collection[int] = ()
) -> Edit | None:
    """The profile after a tag's slider was set to `percent` of its category: the
    category keeps its share of the profile, its locked tags theirs, its other tags
    rescale to fill the rest; other categories are untouched. None when the slider
    already shows `percent`."""
    tag = _check_tag(tag)
    value = check_percent(percent, tag) / 100.0
    w = np.asarray(profile, dtype=np.float64).copy()
    category = CATEGORIES[TAG_CATEGORY[tag]]
    total = float(w[CATEGORY_INDEX[category]].sum())
    if abs(within_shares(w)[tag] - value) <= SAME_SHARE:
        return None
    if total <= 0:
        raise DataError(
            f"{category} has a 0% share of your profile, so {TAG_NAMES[tag]!r} cannot move "
            f"within it: raise the {category} share first"
        )
    w[tag] = value * total
    if w.sum() <= 0:
        raise DataError(
            f"setting {TAG_NAMES[tag]!r} to 0 leaves every weight at 0: "
            "raise at least one tag above 0"
        )
    tiers = [("the tags you moved", [tag]), ("the other categories", _other_categories(category))]
    return settle(w, tiers, locked=set(locked) - {tag})


def set_category(
    profile: np.ndarray,
    category: str,
    percent: object,
    locked: Collection[int] = (),
    fallback: np.ndarray | None = None,
) -> Edit | None:
    """The profile after a category's share was set to `percent` of the profile: its
    tags keep their shares of the category (locked tags their weight), the other
    categories rescale. A category with no weight left takes its tags' shares from
    `fallback` (the inferred profile), else equal shares. None when it already shows
    `percent`."""
    category = _check_category(category)
    value = check_percent(percent, category) / 100.0
    w = np.asarray(profile, dtype=np.float64).copy()
    idx = CATEGORY_INDEX[category]
    if abs(float(w[idx].sum()) - value) <= SAME_SHARE:
        return None
    lock = np.zeros(K, dtype=bool)
    lock[[int(i) for i in locked]] = True
    free = idx[~lock[idx]]  # the category's unlocked tags
    if free.size == 0:
        raise DataError(
            f"every {category} tag is locked: unlock one to change the {category} share"
        )
    notes: list[str] = []
    room = value - float(w[idx[lock[idx]]].sum())
    if room < 0:
        notes.append(
            f"The locked {category} tags alone hold {100 * (value - room):.1f}%, more than "
            f"{100 * value:.1f}%: the other {category} tags get 0."
        )
        room = 0.0
    mass = float(w[free].sum())
    if mass <= 0:
        base = np.asarray(fallback, dtype=np.float64)[free] if fallback is not None else None
        if base is None or not np.isfinite(base).all() or base.sum() <= 0:
            base = np.ones(free.size)
        w[free] = base / base.sum() * room
    else:
        w[free] = w[free] / mass * room
    if w.sum() <= 0:
        raise DataError(
            f"setting {category} to 0% leaves every weight at 0: raise another category"
        )
    edit = settle(w, [(f"the {category} tags", free)], locked=locked)
    return Edit(edit.profile, (*notes, *edit.notes))


def scale_within(
    profile: np.ndarray, tag: int, factor: float, locked: Collection[int] = ()
) -> Edit:
    """The tag × factor against the unlocked tags of its category, which together keep
    their share of the profile: its odds against them are multiplied by `factor` (a tag
    at 0 is first lifted to an equal share of the category when `factor` > 1); ×0
    zeroes it. The typed commands' "more", "less", "no"."""
    tag = _check_tag(tag)
    w = np.asarray(profile, dtype=np.float64).copy()
    category = CATEGORIES[TAG_CATEGORY[tag]]
    idx = CATEGORY_INDEX[category]
    total = float(w[idx].sum())
    lock = np.zeros(K, dtype=bool)
    lock[[int(i) for i in locked]] = True
    lock[tag] = False
    rest = idx[(idx != tag) & ~lock[idx]]  # the unlocked tags it trades weight with
    x, free = float(w[tag]), float(w[rest].sum())
    if factor == 0:
        w[tag] = 0.0
    elif total <= 0:  # an empty category: the profile-wide rule lifts the tag from 0
        return scale_tag(w, tag, factor, locked)
    elif free > 0:
        lifted = max(x, total / idx.size) if factor > 1 else x
        pool = x + free  # what the tag and its unlocked neighbours hold, before and after
        w[tag] = min(pool, factor * lifted * pool / (factor * lifted + free))
    if w.sum() <= 0:
        raise DataError(f"zeroing {TAG_NAMES[tag]!r} would leave no weight at all")
    tiers = [("the tags you moved", [tag]), ("the other categories", _other_categories(category))]
    return settle(w, tiers, locked=np.flatnonzero(lock))


def only_tags(profile: np.ndarray, tags: Collection[int], locked: Collection[int] = ()) -> Edit:
    """Within each category of `tags`: those tags share the category's unlocked part
    equally, its other unlocked tags get 0 ("only sad and calm")."""
    chosen = sorted({_check_tag(t) for t in tags})
    if not chosen:
        raise DataError("name at least one tag after 'only'")
    w = np.asarray(profile, dtype=np.float64).copy()
    lock = np.zeros(K, dtype=bool)
    lock[[int(i) for i in locked]] = True
    lock[chosen] = False
    for n in sorted({int(TAG_CATEGORY[t]) for t in chosen}):
        idx = CATEGORY_INDEX[CATEGORIES[n]]
        mine = [t for t in chosen if TAG_CATEGORY[t] == n]
        free = idx[~lock[idx]]
        room = float(w[free].sum())
        if room <= 0:
            room = 1.0 / len(CATEGORIES)
        w[free] = 0.0
        w[mine] = room / len(mine)
    keep = np.flatnonzero(~np.isin(TAG_CATEGORY, [TAG_CATEGORY[t] for t in chosen]))
    tiers = [("the tags you named", chosen), ("the other categories", keep)]
    return settle(w, tiers, locked=np.flatnonzero(lock))


def scale_tag(profile: np.ndarray, tag: int, factor: float, locked: Collection[int] = ()) -> Edit:
    """ŵ_tag × factor (a boost lifts a zero weight to BOOST_FLOOR first), then renormalize
    with the other locked tags kept (docs/design.md §4's edit)."""
    tag = _check_tag(tag)
    w = np.asarray(profile, dtype=np.float64).copy()
    w[tag] = 0.0 if factor == 0 else max(w[tag], BOOST_FLOOR) * factor
    if w.sum() <= 0:
        raise DataError(f"zeroing {TAG_NAMES[tag]!r} would leave no weight at all")
    return settle(w, locked=set(locked) - {tag})


def zero_tag(profile: np.ndarray, tag: int, locked: Collection[int] = ()) -> Edit:
    return scale_tag(profile, tag, 0.0, locked)


def boost_tag(profile: np.ndarray, tag: int, locked: Collection[int] = ()) -> Edit:
    return scale_tag(profile, tag, BOOST_FACTOR, locked)


# --------------------------------------------------------------------------- JSON


@dataclass(frozen=True)
class ImportedProfile:
    profile: np.ndarray  # (80,) sums to 1
    locked: frozenset[int]
    history: tuple[str, ...]
    source: str


def export_json(session: Session) -> str:
    """The session's profile as a small, human-readable JSON document."""
    if session.profile is None:
        raise DataError("there is no profile to export yet: pick a listener first")
    doc = {
        "format": PROFILE_FORMAT,
        "version": PROFILE_VERSION,
        # 10 decimals: what the sliders show (0.01 % of a category) survives the round trip
        "weights": {
            t: round(float(v), 10) for t, v in zip(TAG_NAMES, session.profile, strict=True)
        },
        "locked": [TAG_NAMES[i] for i in sorted(session.locked)],
        "history": list(session.history),
        "source": session.source,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False)


def _reject_constant(name: str):
    raise DataError(f"the profile file contains {name}: every weight must be a finite number")


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise DataError(
            f"the profile file holds a {digits:,}-digit number ({text[:20]}…): every weight "
            "must be a small number such as 0.25"
        )
    return int(text)


def import_json(data: str | bytes) -> ImportedProfile:
    """Parse and validate an exported profile; DataError saying what is wrong with it."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_JSON_BYTES:
        raise DataError(
            f"the profile file is {len(raw):,} bytes, more than {MAX_JSON_BYTES:,}: "
            "use a file written by Export"
        )
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_int=_parse_int)
    except UnicodeDecodeError:
        raise DataError(
            "the profile file is not UTF-8 text: use a file written by Export"
        ) from None
    except (json.JSONDecodeError, RecursionError) as e:
        raise DataError(f"the profile file is not valid JSON ({str(e)[:80]})") from None
    if not isinstance(doc, dict) or doc.get("format") != PROFILE_FORMAT:
        raise DataError(
            f"this JSON is not an APRON Studio profile (needs format={PROFILE_FORMAT!r})"
        )
    if doc.get("version") != PROFILE_VERSION:
        raise DataError(
            f"profile version {str(doc.get('version'))[:20]!r} is not {PROFILE_VERSION}: "
            "export it again from this version of APRON Studio"
        )
    weights = doc.get("weights")
    if isinstance(weights, dict):
        tag_indices(weights, what="profile weights")  # unknown names → DataError
        w = np.zeros(K)
        for name, value in weights.items():
            w[TAG_NAMES.index(name)] = _number(value, name)
    elif isinstance(weights, list) and len(weights) == K:
        w = np.array([_number(v, TAG_NAMES[i]) for i, v in enumerate(weights)])
    else:
        raise DataError(f"'weights' must map tag names to numbers (or list {K} numbers)")
    locked_names = doc.get("locked", [])
    if not isinstance(locked_names, list):
        raise DataError("'locked' must be a list of tag names")
    locked = tag_indices(locked_names, what="locked tags")
    history = doc.get("history", [])
    if not isinstance(history, list) or len(history) > MAX_HISTORY:
        raise DataError(f"'history' must be a list of at most {MAX_HISTORY} song ids")
    if any(not isinstance(s, str) or not 0 < len(s) <= MAX_SONG_ID_CHARS for s in history):
        raise DataError("'history' must hold song ids (short strings such as 'S00001')")
    source = doc.get("source", "")
    source = source[:120] if isinstance(source, str) else ""
    edit = settle(check_profile(w, name="profile weights", allow_zero=True))
    return ImportedProfile(edit.profile, locked, tuple(dict.fromkeys(history)), source)


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"the weight of {name!r} is {str(value)[:30]!r}, not a number")
    return float(value)


# --------------------------------------------------------------------------- URL


def encode_share(profile: np.ndarray, locked: Collection[int] = ()) -> str:
    """A compact URL-safe code of a profile (and its locks): version byte, 80 uint16
    weights relative to the largest, optional 10-byte lock mask; base64url, no padding."""
    w = check_profile(profile, allow_zero=True)
    if w.max() <= 0:
        raise DataError("cannot share an all-zero profile")
    q = np.round(w / w.max() * _SHARE_SCALE).astype(">u2")
    payload = bytes([SHARE_VERSION]) + q.tobytes()
    if locked:
        mask = np.zeros(_LOCK_BYTES * 8, dtype=bool)
        mask[sorted(int(i) for i in locked)] = True
        payload += np.packbits(mask).tobytes()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_share(code: str) -> tuple[np.ndarray, frozenset[int]]:
    """Profile and locks from a share code; DataError when it is damaged."""
    if not isinstance(code, str) or not code or len(code) > MAX_SHARE_CHARS:
        raise DataError("the shared link is damaged (bad length): ask for the link again")
    try:
        payload = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
    except (binascii.Error, ValueError):
        raise DataError("the shared link is damaged (not base64url): ask for it again") from None
    if payload[:1] != bytes([SHARE_VERSION]):
        raise DataError("the shared link comes from another version (or is damaged)")
    body = payload[1:]
    if len(body) not in (2 * K, 2 * K + _LOCK_BYTES):
        raise DataError("the shared link is damaged (wrong length): ask for the link again")
    q = np.frombuffer(body[: 2 * K], dtype=">u2").astype(np.float64)
    if q.sum() <= 0:
        raise DataError("the shared link holds an all-zero profile: ask for the link again")
    locked: frozenset[int] = frozenset()
    if len(body) > 2 * K:
        bits = np.unpackbits(np.frombuffer(body[2 * K :], dtype=np.uint8))  # exactly K bits
        locked = frozenset(int(i) for i in np.flatnonzero(bits[:K]))
    return q / q.sum(), locked
