"""Map free-form Last.fm tag strings onto the 80 APRON tags with an editable JSON file.

The shipped file is ``assets/lastfm_tag_map.json``; its ``about`` list explains the
format. Matching is exact after :func:`normalize_tag`, so the file lists word forms
once and every case/separator variant follows. Numeric decade spellings are mapped by
rule (:func:`decade_of`) rather than listed.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from apron_core.errors import ConfigError
from apron_core.tags import ERAS, TAG_NAMES

DEFAULT_TAG_MAP = Path(__file__).resolve().parents[2] / "assets" / "lastfm_tag_map.json"

_APOSTROPHES = re.compile(r"[’'`´‘.]")
_SEPARATORS = re.compile(r"[-_/]+")
_SPACES = re.compile(r"\s+")
_DECADE = re.compile(r"^(?:the )?(19|20)?([0-9])0s$")
_YEAR = re.compile(r"^(19[5-9][0-9]|20[0-2][0-9])$")


def normalize_tag(text: str) -> str:
    """Canonical form of a tag string: 'Hip-Hop' → 'hip hop', "80's" → '80s', 'R&B' → 'r and b'."""
    s = unicodedata.normalize("NFKC", str(text)).lower()
    s = s.replace("&", " and ").replace("+", " and ")
    s = _APOSTROPHES.sub("", s)
    s = _SEPARATORS.sub(" ", s)
    s = _SPACES.sub(" ", s).strip()
    return " ".join("and" if w == "n" else w for w in s.split(" ")) if s else ""


def decade_of(norm: str, *, years: bool = True) -> str | None:
    """The era tag a normalized spelling names by number ('80s', '1980s', 'the 80s', '1985').

    Two-digit 50s–90s are 19xx and 00s is 2000s; '10s' and '20s' are ambiguous (1910s or
    2010s) and give None, as does anything else.
    """
    m = _DECADE.match(norm)
    if m:
        century, digit = m.group(1), int(m.group(2))
        if century is None:
            if digit >= 5:
                century = "19"
            elif digit == 0:
                century = "20"
            else:
                return None
        tag = f"{century}{digit}0s"
        return tag if tag in ERAS else None
    if years and _YEAR.match(norm):
        tag = f"{norm[:3]}0s"
        return tag if tag in ERAS else None
    return None


@dataclass(frozen=True)
class TagMap:
    """Normalized Last.fm spelling → APRON tags, plus the weight threshold."""

    spellings: dict[str, tuple[str, ...]]
    ignored: frozenset[str]
    min_weight: float
    years_to_decades: bool = True
    path: str = ""

    def lookup(self, text: str) -> tuple[str, ...]:
        """APRON tags a raw Last.fm tag string stands for (empty when unmapped)."""
        norm = normalize_tag(text)
        if norm in self.spellings:
            return self.spellings[norm]
        era = decade_of(norm, years=self.years_to_decades)
        return (era,) if era else ()

    def is_ignored(self, text: str) -> bool:
        return normalize_tag(text) in self.ignored


def _fail(source: str, what: str) -> ConfigError:
    return ConfigError(f"tag map {source}: {what}")


def parse_tag_map(raw: dict, *, source: str = "<dict>") -> TagMap:
    """Validate a decoded tag-map document; every problem names the entry and the fix."""
    if not isinstance(raw, dict):
        raise _fail(source, "must be a JSON object with 'tags', 'min_weight' and 'ignore'")
    unknown_keys = sorted(set(raw) - {"about", "tags", "ignore", "min_weight", "years_to_decades"})
    if unknown_keys:
        raise _fail(
            source,
            f"unknown key(s) {unknown_keys}; allowed: about, tags, ignore, min_weight, "
            "years_to_decades",
        )
    tags = raw.get("tags")
    if not isinstance(tags, dict) or not tags:
        raise _fail(source, "'tags' must be an object mapping APRON tags to lists of spellings")
    spellings: dict[str, list[str]] = {}
    for target, names in tags.items():
        if target not in TAG_NAMES:
            close = [t for t in TAG_NAMES if normalize_tag(t) == normalize_tag(target)]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _fail(
                source,
                f"unknown target tag {target!r}{hint}; keys of 'tags' must be one of the 80 "
                "names in apron_core.tags.TAG_NAMES, spelled exactly",
            )
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise _fail(source, f"tags[{target!r}] must be a list of strings")
        for name in names:
            norm = normalize_tag(name)
            if not norm:
                raise _fail(source, f"tags[{target!r}] has an empty spelling {name!r}; remove it")
            targets = spellings.setdefault(norm, [])
            if target not in targets:
                targets.append(target)
    ignore = raw.get("ignore", [])
    if not isinstance(ignore, list) or not all(isinstance(n, str) for n in ignore):
        raise _fail(source, "'ignore' must be a list of strings")
    ignored = frozenset(normalize_tag(n) for n in ignore) - {""}
    both = sorted(ignored & set(spellings))
    if both:
        raise _fail(
            source,
            f"spelling(s) {both[:5]} are both ignored and mapped; remove them from one list",
        )
    min_weight = raw.get("min_weight", 10)
    if isinstance(min_weight, bool) or not isinstance(min_weight, int | float):
        raise _fail(source, f"min_weight={min_weight!r} must be a number between 0 and 100")
    if not 0 <= min_weight <= 100:
        raise _fail(source, f"min_weight={min_weight!r} must be between 0 and 100")
    years = raw.get("years_to_decades", True)
    if not isinstance(years, bool):
        raise _fail(source, f"years_to_decades={years!r} must be true or false")
    return TagMap(
        spellings={k: tuple(v) for k, v in spellings.items()},
        ignored=ignored,
        min_weight=float(min_weight),
        years_to_decades=years,
        path=source,
    )


def load_tag_map(path: str | Path | None = None) -> TagMap:
    """Read and validate a tag-map JSON file (default: the shipped one)."""
    path = Path(path) if path is not None else DEFAULT_TAG_MAP
    if not path.is_file():
        raise ConfigError(
            f"tag map {path} not found; pass an existing JSON file (the shipped one is "
            f"{DEFAULT_TAG_MAP})"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"tag map {path} is not valid JSON ({e}); fix the file") from None
    return parse_tag_map(raw, source=str(path))
