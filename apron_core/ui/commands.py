"""Steer in words: a rule-based parser that turns a short typed command over the 80
tags into one edit ("more jazz, less drum machine", "no 1980s", "only sad and calm",
"jazz 20%", "more like the 1970s"), and applies it through `state`'s edits.

How a command is read: the text is cut into words; tag names are matched longest
first against an alias table (spelling variants, plurals, synonyms: "hip hop",
"rnb", "80s", "sax"), then verbs ("more", "much less", "no", "only", "double") and
numbers ("20%", "x2") are attached to the tags they govern. A verb carries over to
the tags after it until the next verb ("more jazz and blues, less metal"). A word that
is neither a tag, a verb nor a filler word ("please", "the", "music") is corrected to
a tag only when exactly one tag is that close (edit distance 1 for short words, 2 or
3 for long ones); otherwise the whole command is refused with the nearest tags, so a
command is either understood as a whole or not applied at all.

Edits (ui/state.py): "more/less X" multiplies X against the other tags of its category
(×2, ×½; "much" ×4, "a bit" ×1.5), "no X" zeroes it, "X 20%" sets it to 20 % of its
category (the unit its slider shows), "only X and Y" gives X and Y equal shares of
their category and the other tags of it 0. The category's share of the profile stays
as it is in each case.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np

from apron_core.errors import DataError
from apron_core.tags import CATEGORY_TAGS, TAG_NAMES
from apron_core.ui import state as st

MAX_COMMAND_CHARS = 300
MAX_WORDS_IN_ALIAS = 4
_SHOWN_CHARS = 80  # of a bad value quoted in a message


class CommandError(DataError):
    """A typed command that was not understood; the message says why and what to try."""


@dataclass(frozen=True)
class Step:
    """One part of a command: what happens to which tags."""

    action: str  # "scale" (value = factor; 0 = none), "set" (value = % of category), "only"
    tags: tuple[int, ...]
    value: float = 0.0

    def describe(self) -> str:
        names = ", ".join(TAG_NAMES[t] for t in self.tags)
        if self.action == "only":
            return f"only {names}"
        if self.action == "set":
            category = _CATEGORY_OF[self.tags[0]]
            return f"{names} → {self.value:g} % of {category}"
        if self.value == 0:
            return f"no {names}"
        return f"{names} ×{_FACTOR_TEXT.get(self.value, f'{self.value:g}')}"


@dataclass(frozen=True)
class Command:
    """What a typed text was understood as: steps applied in order as one edit, or one of
    the history actions ("undo", "redo", "reset")."""

    steps: tuple[Step, ...] = ()
    action: str = "edit"  # "edit" | "undo" | "redo" | "reset"
    corrections: tuple[str, ...] = ()  # "'jaz' read as jazz"

    def describe(self) -> str:
        """The line the page shows, e.g. "jazz ×2, no drum machine"."""
        if self.action != "edit":
            return self.action
        return ", ".join(s.describe() for s in self.steps)


_CATEGORY_OF = {TAG_NAMES.index(t): c for c, tags in CATEGORY_TAGS.items() for t in tags}
_FACTOR_TEXT = {0.5: "½", 0.25: "¼", 2 / 3: "⅔", 4.0: "4", 2.0: "2", 1.5: "1.5", 3.0: "3"}

# --------------------------------------------------------------------------- vocabulary

# Verbs: the words (longest first) and the factor they stand for; "only" and "set" are
# kinds of their own.
_VERBS: dict[str, tuple[str, float]] = {}
for _words, _kind, _value in [
    ("much more|a lot more|lots more|way more|far more|loads more|tons more|a ton more|"
     "a lot of|lots of|loads of|tons of|heaps of|plenty of", "scale", 4.0),
    ("a bit more|a little more|slightly more|somewhat more|bit more|little more|"
     "a touch more|a tad more|a bit of|a little|a touch of|a hint of", "scale", 1.5),
    ("more|add|boost|increase|extra|raise|up|higher|heavier|stronger|amplify|"
     "more of|even more|some more|double|twice as much|twice|+", "scale", 2.0),
    ("triple|three times", "scale", 3.0),
    ("much less|a lot less|way less|far less|much fewer|a lot fewer|far fewer|"
     "way fewer|much lower", "scale", 0.25),
    ("a bit less|a little less|slightly less|somewhat less|bit less|little less|"
     "a bit fewer|a little fewer|slightly fewer|a touch less|a tad less", "scale", 2 / 3),
    ("less|fewer|reduce|decrease|lower|down|lighter|weaker|tone down|cut back on|cut back|"
     "cut down on|cut down|less of|half|halve|half as much|-", "scale", 0.5),
    ("no|no more|none|not|without|remove|drop|get rid of|zero|skip|stop|ban|exclude|"
     "never|mute|kill|avoid|hate|dislike|don't like|dont like|do not like|don't want|"
     "dont want|do not want|no more of|nothing of|minus", "scale", 0.0),
    ("only|just|nothing but|exclusively|purely|solely|all", "only", 0.0),
    ("set|make|put", "set", 0.0),
]:  # fmt: skip
    for _w in _words.split("|"):
        _VERBS[_w] = (_kind, _value)

_HISTORY_WORDS = {"undo": "undo", "redo": "redo", "reset": "reset", "start over": "reset"}

# Words that carry no meaning here ("more like the 1970s please").
_FILLER = set(
    """a an the of to at for in on with from by my me i i'd i'm im id we us you it its it's
    is be am are was please pls thanks thank maybe really very quite so too bit lot lots
    some any kind sort type way like love want wanna would could can should let's lets
    give play playing be get have need music songs song tracks track tunes tune stuff
    things thing sound sounds sounding style styles genre genres mood moods era eras
    decade decades instrument instruments vibe vibes feel feeling feels ish percent pct
    as much that this those these : = one ones bits parts part okay
    ok hey hi now overall around about ~""".split()
)
_SEPARATORS = {"and", "or", "&", ",", ";", ".", "!", "?", "then", "but", "also", "plus", "/"}

_DIGIT_DECADES = {
    "1950s": "50", "1960s": "60", "1970s": "70", "1980s": "80", "1990s": "90",
    "2000s": "00", "2010s": "10", "2020s": "20",
}  # fmt: skip
_WORD_DECADES = {
    "1950s": "fifties|fiftys", "1960s": "sixties|sixtys", "1970s": "seventies|seventys",
    "1980s": "eighties|eightys", "1990s": "nineties|ninetys",
    "2000s": "noughties|aughts|two thousands", "2010s": "twenty tens|tens",
    "2020s": "twenty twenties",
}  # fmt: skip
_SYNONYMS = {
    # genres
    "hip-hop": "rap|hiphop|hip hop",
    "r&b": "rnb|r n b|r'n'b|r & b|r and b|randb|rhythm and blues|rhythm & blues|"
    "rythm and blues|rhythm n blues",
    "drum and bass": "drum n bass|drum'n'bass|drum & bass|drumnbass|dnb|d&b|d n b|"
    "drum 'n' bass|drum-and-bass",
    "electronic": "electronica|electro|edm",
    "synthpop": "synth pop|synth-pop",
    "trip-hop": "triphop|trip hop",
    "lo-fi": "lofi|lo fi|low fi|low-fi",
    "bossa nova": "bossa|bossanova|bossa-nova",
    "new age": "newage|new-age",
    "metal": "heavy metal",
    "rock": "rock and roll|rock n roll|rock'n'roll|rock & roll",
    "jazz": "jazzy",
    "blues": "bluesy",
    "funk": "funky",
    "soul": "soulful",
    "folk": "folky|folksy",
    "punk": "punky|punkish",
    "pop": "poppy",
    "country": "country and western",
    "classical": "classic music",
    "ambient": "ambience",
    "swing": "big band",
    "latin": "latino",
    "disco": "discos",
    "reggae": "reggay",
    # moods
    "happy": "happiness|cheerful|joyful",
    "sad": "sadness",
    "energetic": "energy|high energy|upbeat",
    "calm": "chill|chilled|chill out|relaxed|relaxing",
    "dark": "darkness",
    "romantic": "romance",
    "melancholic": "melancholy|melancholia",
    "uplifting": "uplift",
    "aggressive": "aggression|angry",
    "dreamy": "dreamlike",
    "playful": "fun",
    "tense": "tension",
    "nostalgic": "nostalgia",
    "peaceful": "peace",
    "epic": "epics",
    "groovy": "groove|grooves",
    "mellow": "mellow out",
    "hopeful": "hope",
    "mysterious": "mystery",
    "sentimental": "sentiment",
    # instruments
    "electric piano": "e-piano|epiano|rhodes|wurlitzer",
    "organ": "hammond",
    "acoustic guitar": "acoustic",
    "distorted guitar": "distortion|fuzz guitar",
    "strings": "string section|violin|violins|string",
    "brass": "horns|horn section|horn",
    "saxophone": "sax|saxes|tenor sax|alto sax",
    "synth lead": "lead synth|synth leads",
    "synth pad": "pads|synth pads|pad",
    "synth bass": "bass synth|synthbass",
    "choir": "choral|choirs",
    "drum machine": "drum-machine|drummachine|808",
}
_GROUPS = {  # one word for several tags
    "guitar": ("acoustic guitar", "electric guitar", "distorted guitar"),
    "guitars": ("acoustic guitar", "electric guitar", "distorted guitar"),
    "synth": ("synth lead", "synth pad", "synth bass"),
    "synths": ("synth lead", "synth pad", "synth bass"),
    "synthesizer": ("synth lead", "synth pad", "synth bass"),
    "synthesizers": ("synth lead", "synth pad", "synth bass"),
}


# Music words that are no tag (or several), close enough to one that a typo correction
# would guess wrong ("bass" is one letter from "brass"): refused with these hints.
_NOT_TAGS = {
    "bass": "synth bass, drum and bass",
    "electric": "electric piano, electric guitar, electronic",
    "keys|keyboard|keyboards": "piano, electric piano, organ",
    "drum|drums|beat|beats|percussion": "drum machine, drum and bass",
    "dance|dancey|danceable|club": "disco, house, techno",
    "vocal|vocals|voice|voices|singing|sing|singer|lyrics": "choir",
    "hard|heavy|loud|soft|quiet|fast|slow|slower|faster|tempo": "energetic, calm, aggressive",
    "old|older|oldies|new|newer|modern|recent|retro|vintage": "the decades: 1950s … 2020s",
    "instrumental|live": "piano, strings, acoustic guitar",
}
# Comparisons the parser cannot do: refused with a way to say it.
_CANNOT = {"than|instead|rather|versus|vs|over": "steer each tag instead: 'more jazz, less rock'"}
_CANNOT_HINT = {w: hint for words, hint in _CANNOT.items() for w in words.split("|")}
# "happier" = "more happy" (when no verb comes before it)
_COMPARATIVES = {
    "happier": "happy", "sadder": "sad", "calmer": "calm", "darker": "dark",
    "dreamier": "dreamy", "mellower": "mellow", "tenser": "tense", "jazzier": "jazz",
    "funkier": "funk", "groovier": "groovy", "moodier": "melancholic", "punkier": "punk",
    "poppier": "pop", "bluesier": "blues", "folkier": "folk", "softer": "calm",
}  # fmt: skip
_NOT_TAG_HINT = {w: hint for words, hint in _NOT_TAGS.items() for w in words.split("|")}


def _plural(name: str) -> str:
    return name if name.endswith("s") else name + ("es" if name.endswith(("x", "sh")) else "s")


def _build_aliases() -> dict[tuple[str, ...], tuple[int, ...]]:
    """Alias (as a tuple of words) → tag indices."""
    table: dict[str, tuple[int, ...]] = {}

    def add(alias: str, tags: Iterable[str]) -> None:
        table[alias] = tuple(TAG_NAMES.index(t) for t in tags)

    for tag in TAG_NAMES:
        for form in {tag, tag.replace("-", " "), tag.replace("-", ""), tag.replace(" ", "")}:
            add(form, [tag])
            if _CATEGORY_OF[TAG_NAMES.index(tag)] == "instrumentation":
                add(_plural(form), [tag])
    for decade, digits in _DIGIT_DECADES.items():
        century = decade[:2]
        for form in (
            f"{digits}s", f"{digits}'s", f"'{digits}s", f"'{digits}", f"{century}{digits}'s",
            f"{century}{digits}", f"the {digits}s",
        ):  # fmt: skip
            add(form, [decade])
        for year in range(10):  # "1985" → 1980s
            add(f"{century}{digits[0]}{year}", [decade])
        for words in _WORD_DECADES[decade].split("|"):
            add(words, [decade])
    for tag, words in _SYNONYMS.items():
        for w in words.split("|"):
            add(w, [tag])
    for word, tags in _GROUPS.items():
        add(word, tags)
    return {tuple(_words(alias)): tags for alias, tags in table.items()}


# --------------------------------------------------------------------------- words

_TOKEN = re.compile(
    r"""
    (?P<mult>[x×*]\s?\d+(?:\.\d+)?|\d+(?:\.\d+)?\s?[x×](?![a-z]))   # x2, ×3, 2x
  | (?P<num>\d+(?:\.\d+)?(?:\s?(?:%|percent\b|pct\b)|(?![a-z0-9'])))  # 20, 20%
  | (?P<word>'?[a-z0-9]+(?:['&][a-z0-9]+)*(?:-[a-z0-9]+)*'?s?)      # words, r&b, 80's, lo-fi
  | (?P<sep>[,;.!?/&+=:~-])
    """,
    re.VERBOSE,
)


def _words(text: str) -> list[str]:
    return [m.group(0).strip() for m in _TOKEN.finditer(_normalize(text))]


def _normalize(text: str) -> str:
    t = text.lower()
    for a, b in (("’", "'"), ("‘", "'"), ("–", "-"), ("—", "-"), ("＆", "&"), ("´", "'")):
        t = t.replace(a, b)
    return t


_ALIASES = _build_aliases()
_VERB_WORDS = {tuple(_words(v)): k for v, k in _VERBS.items()}
_HISTORY = {tuple(_words(w)): a for w, a in _HISTORY_WORDS.items()}
_LONGEST = max(len(a) for a in [*_ALIASES, *_VERB_WORDS, *_HISTORY])
# single-word spellings a misspelling is compared with: alias → tags
_SPELLINGS = {"".join(a): t for a, t in _ALIASES.items()}
_SINGLE_WORD_VERBS = {v[0]: k for v, k in _VERB_WORDS.items() if len(v) == 1 and len(v[0]) >= 3}


@dataclass(frozen=True)
class _Token:
    kind: str  # "tag" | "verb" | "num" | "mult" | "sep" | "history"
    text: str
    tags: tuple[int, ...] = ()
    verb: tuple[str, float] = ("", 0.0)
    value: float = 0.0
    percent: bool = False


def _distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (adjacent transpositions), or limit + 1 past limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], prev2[j - 2] + 1)
        if min(row) > limit:
            return limit + 1
        prev2, prev = prev, row
    return prev[-1]


def _allowed_typos(word: str) -> int:
    return 1 if len(word) <= 7 else 2


def _correct(word: str) -> _Token | None:
    """The tag (or verb) a misspelled word stands for: the one alias within the allowed
    distance (`_allowed_typos`) that is closer than every alias meaning something else;
    None when there is none or a tie."""
    limit = _allowed_typos(word)
    best: dict[object, tuple[int, _Token]] = {}
    for spelling, tags in _SPELLINGS.items():
        d = _distance(word, spelling, limit)
        if d <= limit and d < best.get(tags, (limit + 1,))[0]:
            best[tags] = (d, _Token("tag", word, tags=tags))
    if len(word) >= 4:  # verbs: one typo ("mroe", "lesss")
        for verb, meaning in _SINGLE_WORD_VERBS.items():
            d = _distance(word, verb, 1)
            if d <= 1 and d < best.get(meaning, (2,))[0]:
                best[meaning] = (d, _Token("verb", word, verb=meaning))
    if not best:
        return None
    top = min(d for d, _ in best.values())
    winners = [tok for d, tok in best.values() if d == top]
    return winners[0] if len(winners) == 1 else None


def _verb_text(meaning: tuple[str, float]) -> str:
    return next(v for v, k in _VERBS.items() if k == meaning)


def nearest_tags(word: str, n: int = 3) -> list[str]:
    """The n tags whose spellings look most like `word` (for a refusal's message)."""
    scores: dict[int, float] = {}
    for spelling, tags in _SPELLINGS.items():
        score = difflib.SequenceMatcher(None, word, spelling).ratio()
        for t in tags:
            scores[t] = max(scores.get(t, 0.0), score)
    return [TAG_NAMES[t] for t in sorted(scores, key=lambda t: (-scores[t], t))[:n]]


def _quote(text: str) -> str:
    return repr(text[:_SHOWN_CHARS] + ("…" if len(text) > _SHOWN_CHARS else ""))


def _tokens(text: str) -> tuple[list[_Token], list[str]]:
    """The command as tokens (longest alias first), and the corrections made."""
    words = _words(text)
    out: list[_Token] = []
    corrections: list[str] = []
    i = 0
    while i < len(words):
        matched = False
        for n in range(min(_LONGEST, len(words) - i), 0, -1):
            key = tuple(words[i : i + n])
            surface = " ".join(key)
            if key in _ALIASES:
                out.append(_Token("tag", surface, tags=_ALIASES[key]))
            elif key in _VERB_WORDS:
                out.append(_Token("verb", surface, verb=_VERB_WORDS[key]))
            elif key in _HISTORY:
                out.append(_Token("history", _HISTORY[key]))
            else:
                continue
            i += n
            matched = True
            break
        if matched:
            continue
        word = words[i]
        i += 1
        number = re.fullmatch(r"(\d+(?:\.\d+)?)\s?(%|percent|pct)?", word)
        mult = re.fullmatch(r"[x×*]\s?(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s?[x×]", word)
        if mult:
            out.append(_Token("mult", word, value=float(mult.group(1) or mult.group(2))))
        elif number:
            out.append(_Token("num", word, value=float(number.group(1)), percent=True))
        elif word in _SEPARATORS:
            out.append(_Token("sep", word))
        elif word in _FILLER:
            continue
        elif word in _CANNOT_HINT:
            raise CommandError(f"{_quote(word)}: I cannot compare tags; {_CANNOT_HINT[word]}")
        elif word in _COMPARATIVES and not (out and out[-1].kind == "verb"):
            out.append(_Token("verb", word, verb=_VERBS["more"]))
            out.append(_Token("tag", word, tags=(TAG_NAMES.index(_COMPARATIVES[word]),)))
        elif word in _COMPARATIVES:
            out.append(_Token("tag", word, tags=(TAG_NAMES.index(_COMPARATIVES[word]),)))
        elif word in _NOT_TAG_HINT:
            raise CommandError(
                f"{_quote(word)} is not one of the 80 tags: try {_NOT_TAG_HINT[word]}"
            )
        else:
            bare = word.strip("'")
            parts = [w for w in bare.split("-") if (w,) in _ALIASES]
            if "-" in bare and parts:  # "k-pop": a tag inside a word that is no tag
                raise CommandError(
                    f"{_quote(word)} is not one of the 80 tags: did you mean {parts[0]!r}?"
                )
            fixed = _correct(bare.replace("-", "").replace("'", "")) if len(bare) >= 3 else None
            if fixed is None:
                near = ", ".join(nearest_tags(bare))
                raise CommandError(
                    f"I don't know the word {_quote(word)}: the nearest tags are {near}. "
                    "Use tag names from the sliders, e.g. 'more jazz, no 1980s'"
                )
            meant = ", ".join(TAG_NAMES[t] for t in fixed.tags) or repr(_verb_text(fixed.verb))
            corrections.append(f"{_quote(word)} read as {meant}")
            out.append(fixed)
    return out, corrections


# --------------------------------------------------------------------------- parse


def parse(text: object) -> Command:
    """The command a typed text stands for; CommandError saying what was not understood
    (nothing is applied then)."""
    if not isinstance(text, str) or not text.strip():
        raise CommandError("type a command, e.g. 'more jazz, less drum machine' or 'no 1980s'")
    if len(text) > MAX_COMMAND_CHARS:
        raise CommandError(
            f"the command is {len(text)} characters long, more than {MAX_COMMAND_CHARS}: "
            "say it in fewer words"
        )
    tokens, corrections = _tokens(text)
    history = [t for t in tokens if t.kind == "history"]
    if history:
        if len(tokens) != 1:
            raise CommandError(
                f"{history[0].text!r} works on its own: type just '{history[0].text}'"
            )
        return Command(action=history[0].text)
    steps = _steps(tokens)
    if not steps:
        raise CommandError(
            f"no tag named in {_quote(text.strip())}: name one, e.g. 'more jazz' or 'no 1980s'"
        )
    return Command(steps=tuple(steps), corrections=tuple(corrections))


def _steps(tokens: list[_Token]) -> list[Step]:
    """Attach verbs and numbers to tags (see the module doc)."""
    steps: list[Step] = []
    verb: _Token | None = None  # the verb in force
    verb_used = True
    pending: _Token | None = None  # "20% jazz": a number waiting for its tag
    only: list[int] = []  # tags of the "only" in force, applied as one step
    last: int | None = None  # index in steps of the tag just read (a number may follow)

    def flush_only() -> None:
        if only:
            steps.append(Step("only", tuple(dict.fromkeys(only))))
            only.clear()

    for n, tok in enumerate(tokens):
        if tok.kind == "verb":
            if not verb_used and verb is not None:
                raise CommandError(f"{verb.text!r} what? Name a tag after it, e.g. 'more jazz'")
            flush_only()
            verb, verb_used, last = tok, False, None
        elif tok.kind == "sep":
            if pending is not None:
                raise CommandError(f"{pending.text!r} of what? Write e.g. 'jazz 20%'")
            last = None
        elif tok.kind in ("num", "mult"):
            if last is not None:
                if steps[last].value != _AWAITS_NUMBER:
                    tag = TAG_NAMES[steps[last].tags[0]]
                    raise CommandError(
                        f"a verb and a number both apply to {tag!r}: write "
                        f"'more {tag}' or '{tag} {tok.text}', not both"
                    )
                steps[last] = _numbered(steps[last], tok)
                last = None
            elif pending is None:
                pending = tok
            else:
                raise CommandError(f"two numbers in a row ({pending.text!r}, {tok.text!r})")
        else:  # a tag
            if pending is not None:
                steps.append(_numbered(Step("scale", tok.tags, _AWAITS_NUMBER), pending))
                pending, last = None, None
                verb_used = True
            elif verb is not None and verb.verb[0] == "only":
                only.extend(tok.tags)
                verb_used = True
            elif verb is not None and verb.verb[0] == "scale":
                steps.append(Step("scale", tok.tags, verb.verb[1]))
                verb_used, last = True, len(steps) - 1
            elif n + 1 < len(tokens) and tokens[n + 1].kind in ("num", "mult"):
                steps.append(Step("scale", tok.tags, _AWAITS_NUMBER))  # "(set) jazz 20%"
                verb_used, last = True, len(steps) - 1
            else:
                t = tok.text
                raise CommandError(
                    f"what should happen to {t!r}? Say 'more {t}', 'less {t}', 'no {t}', "
                    f"'only {t}' or '{t} 20%'"
                )
    if pending is not None:
        raise CommandError(f"{pending.text!r} of what? Write e.g. 'jazz 20%'")
    if verb is not None and not verb_used:
        raise CommandError(f"{verb.text!r} what? Name a tag after it, e.g. 'more jazz'")
    flush_only()
    return _split_groups(steps)


_AWAITS_NUMBER = -1.0  # the factor of a step whose number comes next


def _numbered(step: Step, number: _Token) -> Step:
    """`step` with the number applied: a percent sets, a multiplier scales."""
    name = " / ".join(TAG_NAMES[t] for t in step.tags)
    if number.kind == "mult":
        if not 0 <= number.value <= 10:
            raise CommandError(f"{number.text!r} for {name!r}: use a factor from x0 to x10")
        return Step("scale", step.tags, number.value)
    if number.value > 100:
        raise CommandError(f"{number.text!r} for {name!r}: a tag's share is 0-100% of its category")
    if len(step.tags) > 1:
        raise CommandError(f"{name!r} are several tags: give the share of one of them")
    return Step("set", step.tags, number.value)


def _split_groups(steps: list[Step]) -> list[Step]:
    """A scale step over a group ("more guitar") as one step per tag."""
    out: list[Step] = []
    for s in steps:
        if s.action == "scale" and len(s.tags) > 1:
            out.extend(Step("scale", (t,), s.value) for t in s.tags)
        else:
            out.append(s)
    return out


# --------------------------------------------------------------------------- apply


def apply(command: Command, profile: np.ndarray, locked: Collection[int] = ()) -> st.Edit:
    """The profile after the command's steps, in order, as one edit (the notes of every
    step are kept). DataError when a step is refused: then nothing is applied."""
    w = np.asarray(profile, dtype=np.float64)
    notes: list[str] = []
    for step in command.steps:
        if step.action == "only":
            edit: st.Edit | None = st.only_tags(w, step.tags, locked)
        elif step.action == "set":
            edit = st.set_within(w, step.tags[0], step.value, locked)
        else:
            edit = st.scale_within(w, step.tags[0], step.value, locked)
        if edit is not None:
            w = edit.profile
            notes.extend(edit.notes)
    return st.Edit(w, tuple(dict.fromkeys(notes)))
