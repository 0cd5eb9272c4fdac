"""One vocabulary for checking arguments: integers, numbers, probabilities, profiles,
interaction matrices and devices.

Every public function of the project checks its arguments once, at the top, with these
functions, so the same mistake gets the same message wherever it is made. Each check
returns the value in the form the caller needs (an ``int``, a float64 array, a CSR
matrix, a ``torch.device``) or raises an error of :mod:`apron_core.errors` that names the
argument, quotes the bad value (cut to about :data:`QUOTE_CHARS` characters, so a huge
string or integer sent by a visitor cannot flood a log or a page) and says what to pass
instead. Scalar settings raise :class:`ConfigError`; arrays of data (profiles,
interactions) raise :class:`DataError`.

The value comes first, everything else is keyword-only, in every function.
"""

from __future__ import annotations

import math
import reprlib
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from apron_core.errors import ConfigError, DataError
from apron_core.tags import TAG_NAMES, K

__all__ = [
    "MAX_WEIGHT",
    "NEGATIVE_TOLERANCE",
    "QUOTE_CHARS",
    "check_int",
    "check_interaction_matrix",
    "check_number",
    "check_probability",
    "check_profile",
    "quote",
    "resolve_device",
]

QUOTE_CHARS = 80  # longest quote of a user-sent value in an error message
MAX_WEIGHT = 1e6  # a profile weight above this is a typo or an overflow, not a taste
# a weight in [-NEGATIVE_TOLERANCE, 0) is float round-off of 0 (a renormalized edit), not a
# negative taste: it is read as 0
NEGATIVE_TOLERANCE = 1e-9
_LONG_INT_BITS = 256  # an int wider than this (~77 digits) is described, not printed


# --------------------------------------------------------------------------- quoting


def _int_text(value: int) -> str:
    """Decimal text of an int, or a description when it is too long to print: Python
    refuses str() beyond 4300 digits, and a message has no room for that many anyway."""
    if value.bit_length() <= _LONG_INT_BITS:
        return str(value)
    digits = math.floor(value.bit_length() * math.log10(2)) + 1  # exact or one too many
    if abs(value) < 10 ** (digits - 1):
        digits -= 1
    sign = "negative " if value < 0 else ""
    return f"<a {sign}{digits}-digit integer>"


class _ShortRepr(reprlib.Repr):
    """reprlib's size-limited repr, with long ints described instead of printed."""

    def __init__(self) -> None:
        super().__init__()
        self.maxstring = QUOTE_CHARS
        self.maxother = QUOTE_CHARS
        self.maxlist = self.maxtuple = self.maxset = self.maxdict = 8
        self.maxlevel = 3

    def repr_int(self, x: int, level: int) -> str:
        return _int_text(x)


_SHORT_REPR = _ShortRepr()


def quote(value: Any) -> str:
    """A short repr of a (possibly user-sent) value: at most about QUOTE_CHARS characters,
    built without ever formatting the whole value."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        text = _int_text(int(value))
    elif isinstance(value, (str, bytes)):
        text = _SHORT_REPR.repr(value)
    else:
        text = " ".join(_SHORT_REPR.repr(value).split())  # an array's repr spans lines
    if len(text) > QUOTE_CHARS:
        text = text[: QUOTE_CHARS - 1] + "…"
    if isinstance(value, (str, bytes)) and len(value) > QUOTE_CHARS:
        text += f" ({len(value):,} characters)"
    return text


# --------------------------------------------------------------------------- scalars


def _span(
    minimum: float | None,
    maximum: float | None,
    above: float | None = None,
    below: float | None = None,
) -> str:
    low = f"≥ {minimum:g}" if minimum is not None else f"> {above:g}" if above is not None else ""
    high = f"≤ {maximum:g}" if maximum is not None else f"< {below:g}" if below is not None else ""
    if minimum is not None and maximum is not None:
        return f"from {minimum:g} to {maximum:g}"
    return " and ".join(part for part in (low, high) if part)


def check_int(
    value: Any,
    *,
    name: str,
    minimum: int | None = None,
    maximum: int | None = None,
    context: str = "",
) -> int:
    """``value`` as an ``int`` within [minimum, maximum] (either bound optional).

    Python and numpy integers pass; bools, floats (even 2.0) and strings do not, since a
    count given as 2.5 or "20" is a mistake upstream. ``context`` (e.g. "4000 songs, 2
    excluded") is added to the message to say where the bounds come from.
    """
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if ok:
        v = int(value)
        ok = (minimum is None or v >= minimum) and (maximum is None or v <= maximum)
    if not ok:
        span = _span(minimum, maximum)
        where = f" ({context})" if context else ""
        raise ConfigError(
            f"{name}={quote(value)} must be a whole number{' ' + span if span else ''}{where}: "
            f"pass an int{' in that range' if span else ''}"
        )
    return v


def check_number(
    value: Any,
    *,
    name: str,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    below: float | None = None,
) -> float:
    """``value`` as a finite ``float`` ≥ minimum (or > above) and ≤ maximum (or < below).

    ints, floats and their numpy kinds pass; bools and strings do not.
    """
    real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    ok = False
    if real:
        try:
            v = float(value)
        except OverflowError:  # an int beyond float range
            v = math.inf
        ok = (
            math.isfinite(v)
            and (minimum is None or v >= minimum)
            and (above is None or v > above)
            and (maximum is None or v <= maximum)
            and (below is None or v < below)
        )
    if not ok:
        span = _span(minimum, maximum, above, below)
        raise ConfigError(
            f"{name}={quote(value)} must be a finite number{' ' + span if span else ''}: "
            f"pass a float{' in that range' if span else ''}"
        )
    return v


def check_probability(value: Any, *, name: str, allow_one: bool = True) -> float:
    """``value`` as a float in [0, 1], or in [0, 1) when ``allow_one`` is False (a dropout
    rate of 1 would drop everything)."""
    if allow_one:
        return check_number(value, name=name, minimum=0.0, maximum=1.0)
    return check_number(value, name=name, minimum=0.0, below=1.0)


# --------------------------------------------------------------------------- profiles


def _weight_at(name: str, at: tuple[int, ...], batched: bool) -> str:
    """Where a weight sits: "profile: the weight of 'rock' (index 8)" or
    "profiles[3]: …" / "profiles[3, head 1]: …"."""
    if not batched:
        where = name
    elif len(at) == 2:
        where = f"{name}[{at[0]}]"
    else:
        where = f"{name}[{at[0]}, head {at[1]}]"
    return f"{where}: the weight of {TAG_NAMES[at[-1]]!r} (index {at[-1]})"


def check_profile(
    weights: Any,
    *,
    name: str = "profile",
    batched: bool = False,
    heads: bool = False,
    n_users: int | None = None,
    normalize: bool = False,
    allow_zero: bool = False,
    max_weight: float = MAX_WEIGHT,
) -> np.ndarray:
    """Tag weights as a float64 array, checked; the one profile check of the project.

    Shapes: (K,) one profile; with ``batched`` (U, K) one per user (``n_users`` fixes U),
    and with ``heads`` also (U, H, K) per-head profiles. Every weight must be finite, ≥ 0
    (values within NEGATIVE_TOLERANCE below 0 are round-off and read as 0) and
    ≤ ``max_weight``; every profile (every head) needs some weight unless ``allow_zero``.
    ``normalize`` divides each profile (each head) by its sum (all-zero ones stay 0).
    Raises DataError naming the first bad weight by user, head and tag.
    """
    if weights is None:
        raise DataError(f"{name} is None: pass {K} numbers, one per tag")
    if isinstance(weights, (str, bytes)):
        raise DataError(f"{name} is a string {quote(weights)}: pass {K} numbers, one per tag")
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().cpu().numpy()
    try:
        p = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as e:
        raise DataError(f"{name} must be {K} numbers, one per tag; got {quote(str(e))}") from None
    if not batched:
        shape_ok, want = p.shape == (K,), f"{K} numbers, one per tag"
    else:
        ndims = (2, 3) if heads else (2,)
        shape_ok = p.ndim in ndims and p.shape[-1] == K
        shape_ok = shape_ok and (n_users is None or p.shape[0] == n_users)
        users = "users" if n_users is None else str(n_users)
        want = f"({users}, {K})" + (f" or ({users}, heads, {K})" if heads else "")
        want += f": one row of {K} tag weights per user"
    if not shape_ok:
        raise DataError(
            f"{name} has shape {p.shape}: it must be {want}, in apron_core.tags.TAG_NAMES order"
        )
    bad = ~np.isfinite(p)
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        more = f" ({int(bad.sum())} weights are not)" if bad.sum() > 1 else ""
        raise DataError(
            f"{_weight_at(name, at, batched)} is {p[at]}, not a finite number{more}: "
            "every weight must be a finite number"
        )
    low = p < 0
    if low.any():
        bad = p < -NEGATIVE_TOLERANCE
        if bad.any():
            at = tuple(int(i) for i in np.argwhere(bad)[0])
            raise DataError(
                f"{_weight_at(name, at, batched)} is {p[at]:g}, negative: weights must be ≥ 0 "
                "(set it to 0 to turn the tag off)"
            )
        p = np.where(low, 0.0, p)
    bad = p > max_weight
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{_weight_at(name, at, batched)} is {p[at]:g}, above {max_weight:g}: weights are "
            f"relative, use numbers from 0 to {max_weight:g}"
        )
    total = p.sum(axis=-1, keepdims=True)
    if not allow_zero and (total <= 0).any():
        if not batched:
            raise DataError(f"every {name} weight is 0: raise at least one tag above 0")
        at = tuple(int(i) for i in np.argwhere(total[..., 0] <= 0)[0])
        where = f"{name}[{at[0]}]" if len(at) == 1 else f"{name}[{at[0]}, head {at[1]}]"
        raise DataError(f"{where}: every weight is 0: a profile needs at least one tag above 0")
    if normalize:
        p = np.divide(p, total, out=np.zeros_like(p), where=total > 0)
    return p


# --------------------------------------------------------------------------- interactions


def check_interaction_matrix(x: Any, *, name: str, n_songs: int | None = None) -> sp.csr_matrix:
    """A (users, songs) scipy sparse matrix of finite play indicators ≥ 0 (``n_songs``
    columns when given), as float32 CSR. (A table of interactions is checked by
    apron_core.sources.generic.check_interactions.)"""
    if not sp.issparse(x):
        raise DataError(
            f"{name} must be a scipy sparse matrix (users x songs), got {type(x).__name__}: "
            "build it with apron_core.data.train_matrix / heldout_matrices"
        )
    if x.ndim != 2:
        raise DataError(f"{name} must be 2-D (users x songs), got shape {x.shape}")
    if n_songs is not None and x.shape[1] != n_songs:
        raise DataError(
            f"{name} has {x.shape[1]} song columns but the model knows {n_songs} songs: "
            "use matrices built on the same split vocabulary"
        )
    m = sp.csr_matrix(x, dtype=np.float32)
    if m.nnz:
        bad = ~np.isfinite(m.data) | (m.data < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            row = int(np.searchsorted(m.indptr, i, side="right") - 1)
            raise DataError(
                f"{name}[{row}, {int(m.indices[i])}] is {m.data[i]}: interactions must be "
                "finite play indicators ≥ 0"
            )
    return m


# --------------------------------------------------------------------------- devices


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The torch device to run on. None or "auto": CUDA when torch sees a GPU, else the
    CPU. "cpu", "cuda", "cuda:N" (and "mps" on Apple) must be usable on this machine."""
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise ConfigError(
            f"device={quote(device)} is not a device: pass 'auto', 'cpu', 'cuda' or 'cuda:N'"
        )
    try:
        dev = torch.device(device.strip() if isinstance(device, str) else device)
    except (RuntimeError, ValueError, TypeError):
        raise ConfigError(
            f"device={quote(device)} is not a torch device: pass 'auto', 'cpu', 'cuda' or 'cuda:N'"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device={quote(device)} asked for, but torch sees no CUDA GPU here: "
                "pass 'cpu' (or 'auto')"
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise ConfigError(
                f"device={quote(device)} asked for, but torch sees {count} CUDA GPU(s): "
                f"pass 'cuda:0' to 'cuda:{count - 1}'"
            )
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(
                f"device={quote(device)} asked for, but MPS is not available here: pass 'cpu'"
            )
    elif dev.type != "cpu":
        raise ConfigError(
            f"device={quote(device)}: this project runs on 'cpu', 'cuda' or 'mps' only; "
            "pass 'auto' to pick"
        )
    return dev
