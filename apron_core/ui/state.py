"""Profile edits and their encodings, as pure functions (no Gradio): what one session holds,
how a slider move, a lock, a zero or a boost changes the profile, and how a profile
travels as JSON or in a URL.

Edit rule (the one the sliders follow, tested in tests/ui/test_state.py): tags are
ranked in tiers — locked tags first, then the tags the listener just moved, then the
rest. Walking the tiers in that order, a tier keeps its weights while they fit in what
is left of 1; the last tier that has any weight is scaled to fill exactly what is left
(so the untouched tags share the rest in proportion to their weights). A tier that does
not fit is scaled down to fit and every later tier gets 0. Each time a kept tier has to
be rescaled, the edit returns a note saying so. Zero and boost follow docs/design.md §4's
rule instead: scale ŵ_t (×0, ×2) and renormalize, locked tags kept.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from apron_core.checks import check_profile
from apron_core.errors import DataError
from apron_core.tags import TAG_NAMES, K

STEP_PCT = 0.01  # slider resolution, in percent of the profile
MAX_SLIDER_PCT = 100.0  # a slider value is a percent of the profile
BOOST_FACTOR = 2.0
BOOST_FLOOR = 1.0 / K  # a boosted tag gets at least a uniform share before renormalizing
PROFILE_FORMAT = "apron-studio-profile"
PROFILE_VERSION = 1
MAX_JSON_BYTES = 64 * 1024
MAX_HISTORY = 5000
MAX_SONG_ID_CHARS = 64
SHARE_VERSION = 1
_SHARE_SCALE = 65535  # weights travel as uint16 fractions of the largest weight
_LOCK_BYTES = (K + 7) // 8
MAX_SHARE_CHARS = 400


@dataclass(frozen=True)
class Session:
    """Everything one browser tab holds (kept in gr.State, never in globals).

    The page's sliders show `to_percent(profile)`: every view the server sends carries
    those values and the page copies them into the sliders, so the server never needs
    to know what a slider showed before it was moved."""

    inferred: np.ndarray | None = None  # (80,) profile inferred from history / uploads
    profile: np.ndarray | None = None  # (80,) current (edited) profile, sums to 1
    locked: frozenset[int] = frozenset()
    history: tuple[str, ...] = ()  # catalog songs excluded from recommendations
    source: str = ""  # where the profile came from, for the page and the export
    last_recs: tuple[str, ...] = ()  # previous top-k, for the entered/left markers

    def with_profile(self, profile: np.ndarray) -> Session:
        """The same session with a new profile."""
        return replace(self, profile=np.asarray(profile, dtype=np.float64))


@dataclass(frozen=True)
class Edit:
    profile: np.ndarray  # (80,) sums to 1
    notes: tuple[str, ...] = ()


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
    """Slider values (percent, rounded to STEP_PCT) of a profile."""
    return np.round(np.asarray(profile, dtype=np.float64) * 100.0, 2)


# --------------------------------------------------------------------------- edits


def settle(weights, tiers: Sequence[tuple[str, Collection[int]]] = ()) -> Edit:
    """Sum-1 profile from non-negative weights, keeping the tiers' weights in priority
    order (see the module doc); tags in no tier form the last tier."""
    w = check_profile(weights, name="weights", allow_zero=True)
    if w.sum() <= 0:
        raise DataError("every weight is 0: raise at least one tag above 0 (or reset)")
    taken = np.zeros(K, dtype=bool)
    groups: list[tuple[str, np.ndarray]] = []
    for name, members in tiers:
        mask = np.zeros(K, dtype=bool)
        mask[[int(i) for i in members]] = True
        mask &= ~taken
        taken |= mask
        if mask.any():
            groups.append((name, mask))
    groups.append(("the other tags", ~taken))
    masses = [float(w[m].sum()) for _, m in groups]
    last = max(i for i, m in enumerate(masses) if m > 0)
    out = np.zeros(K)
    room = 1.0
    notes: list[str] = []
    for i, ((name, mask), mass) in enumerate(zip(groups, masses, strict=True)):
        if i == last:
            out[mask] = w[mask] * (room / mass)
            if i < len(groups) - 1 and not math.isclose(room, mass, rel_tol=1e-9):
                notes.append(
                    f"Nothing else carries weight, so {name} were scaled from "
                    f"{100 * mass:.1f}% to fill {100 * room:.1f}%."
                )
            break
        if mass > room * (1 + 1e-12):
            out[mask] = w[mask] * (room / mass)
            notes.append(
                f"{name.capitalize()} add up to {100 * mass:.1f}%, more than the "
                f"{100 * room:.1f}% left: scaled them down to fit; the rest get 0."
            )
            break
        out[mask] = w[mask]
        room -= mass
    return Edit(out / out.sum(), tuple(notes))


def check_percent(percent: object, tag: int) -> float:
    """A slider value (percent of the profile) as a float in [0, 100]; DataError naming
    the tag and the value otherwise."""
    name = TAG_NAMES[tag]
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
    """The profile after the listener set one tag's slider to `percent`: the tag keeps
    its new value, locked tags theirs, the rest rescale (the module doc's rule). None
    when the slider already shows `percent` (releasing it there is no edit)."""
    if not 0 <= tag < K:
        raise DataError(f"tag index {tag} is out of range 0-{K - 1}")
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
    return settle(w, [("locked tags", locked), ("the tags you moved", [tag])])


def scale_tag(profile: np.ndarray, tag: int, factor: float, locked: Collection[int] = ()) -> Edit:
    """ŵ_tag × factor (a boost lifts a zero weight to BOOST_FLOOR first), then renormalize
    with the other locked tags kept (docs/design.md §4's edit)."""
    if not 0 <= tag < K:
        raise DataError(f"tag index {tag} is out of range 0-{K - 1}")
    w = np.asarray(profile, dtype=np.float64).copy()
    w[tag] = 0.0 if factor == 0 else max(w[tag], BOOST_FLOOR) * factor
    if w.sum() <= 0:
        raise DataError(f"zeroing {TAG_NAMES[tag]!r} would leave no weight at all")
    return settle(w, [("locked tags", set(locked) - {tag})])


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
        "weights": {t: round(float(v), 6) for t, v in zip(TAG_NAMES, session.profile, strict=True)},
        "locked": [TAG_NAMES[i] for i in sorted(session.locked)],
        "history": list(session.history),
        "source": session.source,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False)


def _reject_constant(name: str):
    raise DataError(f"the profile file contains {name}: every weight must be a finite number")


def import_json(data: str | bytes) -> ImportedProfile:
    """Parse and validate an exported profile; DataError saying what is wrong with it."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_JSON_BYTES:
        raise DataError(
            f"the profile file is {len(raw):,} bytes, more than {MAX_JSON_BYTES:,}: "
            "use a file written by Export"
        )
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
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
