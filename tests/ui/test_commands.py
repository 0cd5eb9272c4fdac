"""Steer in words (apron_core.ui.commands): a table of phrasings a visitor might type —
commands, synonyms and spelling variants, misspellings, numbers, several edits at once,
and things that are no command — each with the edit it must be read as (or None: it
must be refused). Issue 13's figure: ≥ 95 % read right, and every miss is a refusal
with a message, never a different edit. Then what the edits do to a profile."""

from __future__ import annotations

import numpy as np
import pytest

from apron_core.errors import DataError
from apron_core.tags import TAG_NAMES, K, category_indices
from apron_core.ui import commands
from apron_core.ui.commands import CommandError
from apron_core.ui.scale import within_shares

# (what a visitor types, what it must be understood as; None = refused with a message)
TABLE: list[tuple[str, str | None]] = [
    # the examples
    ("more jazz", "jazz ×2"),
    ("less drum machine", "drum machine ×½"),
    ("no 1980s", "no 1980s"),
    ("only sad and calm", "only sad, calm"),
    ("jazz 20%", "jazz → 20 % of genre"),
    ("more like the 1970s, less electronic", "1970s ×2, electronic ×½"),
    # synonyms and spelling variants
    ("more hip hop", "hip-hop ×2"),
    ("more hip-hop", "hip-hop ×2"),
    ("more hiphop", "hip-hop ×2"),
    ("more rap", "hip-hop ×2"),
    ("more rnb", "r&b ×2"),
    ("more r&b", "r&b ×2"),
    ("more r & b", "r&b ×2"),
    ("more r'n'b", "r&b ×2"),
    ("more rhythm and blues", "r&b ×2"),
    ("no 80s", "no 1980s"),
    ("no '80s", "no 1980s"),
    ("no 80's", "no 1980s"),
    ("no 1980's", "no 1980s"),
    ("no eighties", "no 1980s"),
    ("no music from 1985", "no 1980s"),
    ("more sax", "saxophone ×2"),
    ("more saxophone", "saxophone ×2"),
    ("more saxophones", "saxophone ×2"),
    ("more lofi", "lo-fi ×2"),
    ("more lo fi", "lo-fi ×2"),
    ("more lo-fi", "lo-fi ×2"),
    ("less dnb", "drum and bass ×½"),
    ("less drum n bass", "drum and bass ×½"),
    ("less drum & bass", "drum and bass ×½"),
    ("less drum'n'bass", "drum and bass ×½"),
    ("more synth pop", "synthpop ×2"),
    ("more synth-pop", "synthpop ×2"),
    ("more trip hop", "trip-hop ×2"),
    ("more triphop", "trip-hop ×2"),
    ("more bossa", "bossa nova ×2"),
    ("more bossanova", "bossa nova ×2"),
    ("more new-age", "new age ×2"),
    ("more electronica", "electronic ×2"),
    ("more edm", "electronic ×2"),
    ("more heavy metal", "metal ×2"),
    ("more rock and roll", "rock ×2"),
    ("more big band", "swing ×2"),
    ("more jazzy stuff", "jazz ×2"),
    ("more funky songs", "funk ×2"),
    ("more soulful music", "soul ×2"),
    ("more chill", "calm ×2"),
    ("more relaxing music", "calm ×2"),
    ("more upbeat", "energetic ×2"),
    ("more energy", "energetic ×2"),
    ("less melancholy", "melancholic ×½"),
    ("more nostalgia", "nostalgic ×2"),
    ("more romance", "romantic ×2"),
    ("less tension", "tense ×½"),
    ("more groove", "groovy ×2"),
    ("more violins", "strings ×2"),
    ("more horns", "brass ×2"),
    ("more rhodes", "electric piano ×2"),
    ("more hammond", "organ ×2"),
    ("less distortion", "distorted guitar ×½"),
    ("more choral", "choir ×2"),
    ("less 808", "drum machine ×½"),
    ("more acoustic", "acoustic guitar ×2"),
    ("more pads", "synth pad ×2"),
    ("more lead synth", "synth lead ×2"),
    ("more bass synth", "synth bass ×2"),
    ("more 60s", "1960s ×2"),
    ("more sixties", "1960s ×2"),
    ("more 1960s", "1960s ×2"),
    ("more nineties", "1990s ×2"),
    ("more 90s", "1990s ×2"),
    ("more 00s", "2000s ×2"),
    ("more noughties", "2000s ×2"),
    ("more 2010s", "2010s ×2"),
    ("less 2020s", "2020s ×½"),
    ("more fifties", "1950s ×2"),
    ("more seventies", "1970s ×2"),
    # groups
    ("more guitar", "acoustic guitar ×2, electric guitar ×2, distorted guitar ×2"),
    ("no synths", "no synth lead, no synth pad, no synth bass"),
    ("only guitars", "only acoustic guitar, electric guitar, distorted guitar"),
    # intensity
    ("much more jazz", "jazz ×4"),
    ("a lot more jazz", "jazz ×4"),
    ("way more jazz", "jazz ×4"),
    ("a bit more jazz", "jazz ×1.5"),
    ("slightly more jazz", "jazz ×1.5"),
    ("a little more jazz", "jazz ×1.5"),
    ("much less jazz", "jazz ×¼"),
    ("a lot less jazz", "jazz ×¼"),
    ("a bit less jazz", "jazz ×⅔"),
    ("slightly less jazz", "jazz ×⅔"),
    ("fewer drum machines", "drum machine ×½"),
    ("double the jazz", "jazz ×2"),
    ("twice as much jazz", "jazz ×2"),
    ("half the jazz", "jazz ×½"),
    ("halve the jazz", "jazz ×½"),
    ("triple jazz", "jazz ×3"),
    ("lots of jazz", "jazz ×4"),
    ("boost jazz", "jazz ×2"),
    ("increase jazz", "jazz ×2"),
    ("reduce jazz", "jazz ×½"),
    ("decrease the jazz", "jazz ×½"),
    ("tone down the jazz", "jazz ×½"),
    ("+jazz", "jazz ×2"),
    ("-jazz", "jazz ×½"),
    ("happier", "happy ×2"),
    ("sadder", "sad ×2"),
    ("calmer and darker", "calm ×2, dark ×2"),
    ("jazzier", "jazz ×2"),
    # removing
    ("no jazz", "no jazz"),
    ("without jazz", "no jazz"),
    ("remove jazz", "no jazz"),
    ("drop the jazz", "no jazz"),
    ("get rid of the jazz", "no jazz"),
    ("no more jazz", "no jazz"),
    ("skip metal", "no metal"),
    ("i hate metal", "no metal"),
    ("i don't like metal", "no metal"),
    ("i don't want any metal", "no metal"),
    ("zero metal", "no metal"),
    # only
    ("only jazz", "only jazz"),
    ("just jazz", "only jazz"),
    ("nothing but jazz", "only jazz"),
    ("only sad, calm", "only sad, calm"),
    ("only sad & calm", "only sad, calm"),
    ("only 1960s and 1970s", "only 1960s, 1970s"),
    ("only jazz and sad", "only jazz, sad"),
    # numbers
    ("jazz 20 %", "jazz → 20 % of genre"),
    ("jazz 20", "jazz → 20 % of genre"),
    ("jazz 12.5%", "jazz → 12.5 % of genre"),
    ("20% jazz", "jazz → 20 % of genre"),
    ("set jazz to 20%", "jazz → 20 % of genre"),
    ("set jazz to 20 percent", "jazz → 20 % of genre"),
    ("jazz at 20%", "jazz → 20 % of genre"),
    ("jazz = 20%", "jazz → 20 % of genre"),
    ("jazz: 20%", "jazz → 20 % of genre"),
    ("make jazz 20%", "jazz → 20 % of genre"),
    ("jazz 0%", "jazz → 0 % of genre"),
    ("jazz 100%", "jazz → 100 % of genre"),
    ("80s 50%", "1980s → 50 % of era"),
    ("sad 30%, calm 30%", "sad → 30 % of mood, calm → 30 % of mood"),
    ("jazz x2", "jazz ×2"),
    ("jazz ×3", "jazz ×3"),
    ("jazz *2", "jazz ×2"),
    ("2x jazz", "jazz ×2"),
    ("x0.5 jazz", "jazz ×½"),
    # several at once
    ("more jazz, no 1980s", "jazz ×2, no 1980s"),
    ("more jazz and blues", "jazz ×2, blues ×2"),
    ("more jazz and less blues", "jazz ×2, blues ×½"),
    ("more jazz but less blues", "jazz ×2, blues ×½"),
    ("more jazz; less blues; no metal", "jazz ×2, blues ×½, no metal"),
    ("less 80s and 90s", "1980s ×½, 1990s ×½"),
    ("no 80s or 90s", "no 1980s, no 1990s"),
    ("more sax, less drum machine, only calm", "saxophone ×2, drum machine ×½, only calm"),
    ("jazz 20%, more piano", "jazz → 20 % of genre, piano ×2"),
    ("more piano then less strings", "piano ×2, strings ×½"),
    ("More Jazz PLEASE", "jazz ×2"),
    ("  more   jazz  ", "jazz ×2"),
    ("more jazz.", "jazz ×2"),
    ("more jazz!", "jazz ×2"),
    ("Could you give me some more jazz please?", "jazz ×2"),
    ("i want more sad songs", "sad ×2"),
    ("more 70s funk", "1970s ×2, funk ×2"),
    ("much more 70s, a bit less electronic", "1970s ×4, electronic ×⅔"),
    ("no 80s, only jazz and soul", "no 1980s, only jazz, soul"),
    # misspellings
    ("more jaz", "jazz ×2"),
    ("more jazzz", "jazz ×2"),
    ("more saxaphone", "saxophone ×2"),
    ("less electornic", "electronic ×½"),
    ("less eletronic", "electronic ×½"),
    ("more melancolic", "melancholic ×2"),
    ("more clasical", "classical ×2"),
    ("more reggea", "reggae ×2"),
    ("more raggae", "reggae ×2"),
    ("more accordian", "accordion ×2"),
    ("less trumphet", "trumpet ×½"),
    ("more techo", "techno ×2"),
    ("more punck", "punk ×2"),
    ("more blus", "blues ×2"),
    ("more dreamey", "dreamy ×2"),
    ("more nostalgik", "nostalgic ×2"),
    ("more sevnties", "1970s ×2"),
    ("mroe jazz", "jazz ×2"),
    ("more rythm and blues", "r&b ×2"),
    ("less drumachine", "drum machine ×½"),
    ("more synthpopp", "synthpop ×2"),
    ("more ambiant", "ambient ×2"),
    ("more hiphopp", "hip-hop ×2"),
    ("more mysterius", "mysterious ×2"),
    # history
    ("undo", "undo"),
    ("redo", "redo"),
    ("reset", "reset"),
    ("start over", "reset"),
    # written after the parser and added unchanged, misses included (held out: 48/50)
    ("give me more blues", "blues ×2"),
    ("less country please", "country ×½"),
    ("no more techno", "no techno"),
    ("way less aggressive", "aggressive ×¼"),
    ("a touch more harp", "harp ×1.5"),
    ("more cello and strings", "cello ×2, strings ×2"),
    ("kill the drum machine", "no drum machine"),
    ("only 2000s", "only 2000s"),
    ("only the 90s", "only 1990s"),
    ("just happy music", "only happy"),
    ("remove sadness", "no sad"),
    ("banjo 10%", "banjo → 10 % of instrumentation"),
    ("10 percent banjo", "banjo → 10 % of instrumentation"),
    ("more electric guitar", "electric guitar ×2"),
    ("less distorted guitars", "distorted guitar ×½"),
    (
        "more acoustic guitars, less synth",
        "acoustic guitar ×2, synth lead ×½, synth pad ×½, synth bass ×½",
    ),
    ("more dreamy and mysterious", "dreamy ×2, mysterious ×2"),
    ("more uplifting, no dark", "uplifting ×2, no dark"),
    ("more 50s rockabilly", "1950s ×2, rockabilly ×2"),
    ("more gospel choir", "gospel ×2, choir ×2"),
    ("no punk, no metal", "no punk, no metal"),
    ("more latin", "latin ×2"),
    ("more bosa nova", "bossa nova ×2"),
    ("more trumpets", "trumpet ×2"),
    ("more flutes", "flute ×2"),
    ("more organs", "organ ×2"),
    ("less grunge", "grunge ×½"),
    ("more disco and funk", "disco ×2, funk ×2"),
    ("more peacefull", "peaceful ×2"),
    ("more sentimantal", "sentimental ×2"),
    ("more hopefull", "hopeful ×2"),
    ("more playfull songs", "playful ×2"),
    ("much more mellow", "mellow ×4"),
    ("less epic", "epic ×½"),
    ("ska 5%", "ska → 5 % of genre"),
    ("set 1990s to 40%", "1990s → 40 % of era"),
    ("more indie", "indie ×2"),
    ("more classical piano", "classical ×2, piano ×2"),
    ("more house music", "house ×2"),
    ("less ambient", "ambient ×½"),
    ("more ambient music from the 2010s", "ambient ×2, 2010s ×2"),
    ("more relaxed, less tense", "calm ×2, tense ×½"),
    ("no energetic songs", "no energetic"),
    ("more romantic ballads", None),  # "ballads": no tag
    ("more country & western", "country ×2"),
    ("more soul, r&b and funk", "soul ×2, r&b ×2, funk ×2"),
    ("increase the brass", "brass ×2"),
    ("less synth bass", "synth bass ×½"),
    ("more new age", "new age ×2"),
    ("no accordion please", "no accordion"),
    # refused (with a message)
    ("", None),
    ("   ", None),
    ("more", None),
    ("jazz", None),
    ("more dubstep", None),
    ("more k-pop", None),
    ("more bass", None),
    ("more electric", None),
    ("more drums", None),
    ("more vocals", None),
    ("faster songs", None),
    ("more jazz than rock", None),
    ("jazz instead of rock", None),
    ("jazz 150%", None),
    ("guitar 20%", None),
    ("20%", None),
    ("more jazz 20%", None),
    ("asdfgh", None),
    ("<script>alert(1)</script>", None),
    ("more " + "jazz " * 80, None),
    ("DROP TABLE tags;", None),
    ("more old music", None),
    ("play something nice", None),
]


def _read(text: str) -> str | None:
    try:
        return commands.parse(text).describe()
    except CommandError as e:
        assert str(e), text
        return None


def test_the_table_is_large_enough():
    assert len(TABLE) >= 150
    assert len({t for t, _ in TABLE}) == len(TABLE)  # no phrasing twice


def test_phrasings_are_read_right_or_refused():
    """≥ 95 % right; a miss is always a refusal (never another edit)."""
    right, refused, wrong = 0, [], []
    for text, expected in TABLE:
        got = _read(text)
        if got == expected:
            right += 1
        elif got is None:
            refused.append(text)
        else:
            wrong.append((text, expected, got))
    print(f"{right}/{len(TABLE)} right ({right / len(TABLE):.1%}); refused: {refused}")
    assert wrong == []
    assert right / len(TABLE) >= 0.95


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("more dubstep", r"'dubstep'.*nearest tags are"),
        ("more bass", r"'bass' is not one of the 80 tags: try synth bass, drum and bass"),
        ("more", r"'more' what\?"),
        ("jazz", r"what should happen to 'jazz'\?"),
        ("jazz 150%", r"0-100%"),
        ("x" * 400, r"400 characters"),
        ("more jazz than rock", r"cannot compare"),
    ],
)
def test_a_refusal_says_what_to_do(text, fragment):
    with pytest.raises(CommandError, match=fragment) as e:
        commands.parse(text)
    assert len(str(e.value)) < 400


def test_a_quoted_bad_word_is_cut_short():
    with pytest.raises(CommandError) as e:
        commands.parse("more " + "z" * 200)
    assert "z" * 81 not in str(e.value) and "…" in str(e.value)


def test_non_text_is_refused():
    for bad in (None, 3, ["more jazz"]):
        with pytest.raises(CommandError, match="type a command"):
            commands.parse(bad)


# --------------------------------------------------------------------------- what they do


@pytest.fixture
def profile(rng) -> np.ndarray:
    return rng.dirichlet(np.ones(K))


def _apply(text: str, profile: np.ndarray, locked=()) -> np.ndarray:
    return commands.apply(commands.parse(text), profile, locked).profile


def test_more_doubles_the_odds_within_the_category(profile):
    jazz, genre = TAG_NAMES.index("jazz"), category_indices("genre")
    p = _apply("more jazz", profile)
    s0, s1 = within_shares(profile)[jazz], within_shares(p)[jazz]
    assert s1 / (1 - s1) == pytest.approx(2 * s0 / (1 - s0))
    assert p[genre].sum() == pytest.approx(profile[genre].sum())  # the category keeps its share
    others = [i for i in range(K) if i not in genre]
    np.testing.assert_allclose(p[others], profile[others])


def test_no_zeroes_and_only_keeps_the_named_tags(profile):
    p = _apply("no 1980s", profile)
    assert p[TAG_NAMES.index("1980s")] == 0 and p.sum() == pytest.approx(1.0)
    p = _apply("only sad and calm", profile)
    mood = category_indices("mood")
    sad, calm = TAG_NAMES.index("sad"), TAG_NAMES.index("calm")
    assert p[sad] == pytest.approx(p[calm]) and p[sad] + p[calm] == pytest.approx(p[mood].sum())
    assert p[mood].sum() == pytest.approx(profile[mood].sum())


def test_a_percent_is_of_the_category(profile):
    p = _apply("jazz 20%", profile)
    assert within_shares(p)[TAG_NAMES.index("jazz")] == pytest.approx(0.20)


def test_commands_keep_locks(profile):
    locked = {TAG_NAMES.index("blues"), TAG_NAMES.index("1980s")}
    p = _apply("much more jazz, only 1990s", profile, locked)
    np.testing.assert_array_equal(p[sorted(locked)], profile[sorted(locked)])


def test_a_whole_command_is_refused_when_one_word_is_not_understood(profile):
    with pytest.raises(CommandError, match="dubstep"):
        commands.parse("more jazz, more dubstep")  # not even the jazz part is applied


def test_a_step_the_edit_rules_refuse_refuses_the_command():
    one = np.zeros(K)
    one[TAG_NAMES.index("jazz")] = 1.0
    with pytest.raises(DataError, match="no weight at all"):
        _apply("no jazz", one)
