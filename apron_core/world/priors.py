"""Which tags go together in the demo world: era affinities, palettes and moods per genre.

These tables drive the catalog (what artists and songs are made of); the renderer
turns any resulting spec into sound. They encode ordinary musical common sense
(rockabilly is a 1950s genre, techno uses a drum machine) and nothing about APRON.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apron_core.errors import ConfigError
from apron_core.tags import ERAS, GENRES, INSTRUMENTS, MOODS

ERA_FIRST_YEAR: dict[str, int] = {era: 1950 + 10 * i for i, era in enumerate(ERAS)}
LAST_YEAR = 2026  # the 2020s are not over: years 2020..2026


@dataclass(frozen=True)
class GenrePrior:
    eras: dict[str, float]  # era tag -> weight
    palette: dict[str, float]  # instrumentation tag -> weight
    moods: dict[str, float]  # mood tag -> weight
    required: tuple[str, ...] = field(default=())  # instruments every song of the genre has


def _w(spec: str) -> dict[str, float]:
    """Parse 'name:weight, name:weight' (weight defaults to 1) into a dict."""
    out: dict[str, float] = {}
    for part in spec.split(","):
        name, _, weight = part.strip().partition(":")
        out[name.strip()] = float(weight) if weight else 1.0
    return out


GENRE_PRIORS: dict[str, GenrePrior] = {
    "rock": GenrePrior(
        _w("1960s:2, 1970s:3, 1980s:2, 1990s:2, 2000s:1.5, 2010s:1, 2020s:0.5"),
        _w("electric guitar:4, distorted guitar:1.5, piano:1, organ:1.5, brass:0.3"),
        _w("energetic:3, happy:1, aggressive:1, uplifting:1, nostalgic:1, epic:1, dark:0.5"),
        required=("electric guitar",),
    ),
    "pop": GenrePrior(
        _w("1960s:1, 1970s:1, 1980s:1.5, 1990s:1.5, 2000s:2, 2010s:2, 2020s:2"),
        _w(
            "piano:3, electric guitar:1.5, acoustic guitar:1.5, synth pad:1.5, strings:1, "
            "synth lead:1, electric piano:1, drum machine:1, synth bass:0.7"
        ),
        _w("happy:3, uplifting:2, romantic:2, playful:1.5, energetic:1, hopeful:1, sad:0.5"),
    ),
    "jazz": GenrePrior(
        _w("1950s:3, 1960s:3, 1970s:1.5, 1980s:0.7, 1990s:0.5, 2000s:0.5, 2010s:0.5, 2020s:0.3"),
        _w("piano:4, saxophone:3, trumpet:2.5, electric piano:0.7, flute:0.7, cello:0.3"),
        _w("mellow:3, calm:1.5, romantic:1.5, mysterious:1, groovy:1, playful:1, melancholic:1"),
        required=("piano",),
    ),
    "blues": GenrePrior(
        _w("1950s:3, 1960s:3, 1970s:2, 1980s:0.7, 1990s:0.7, 2000s:0.3, 2010s:0.3"),
        _w("electric guitar:4, piano:2, organ:1.5, saxophone:1, acoustic guitar:1, brass:0.5"),
        _w("sad:3, melancholic:2, sentimental:1.5, groovy:1, dark:1, nostalgic:1, mellow:1"),
    ),
    "country": GenrePrior(
        _w("1950s:2, 1960s:2, 1970s:2, 1980s:1, 1990s:1.5, 2000s:1.5, 2010s:1, 2020s:0.5"),
        _w("acoustic guitar:4, banjo:3, electric guitar:1.5, piano:1, strings:0.5, accordion:0.3"),
        _w("happy:2, nostalgic:2, sentimental:2, sad:1, hopeful:1, playful:1, mellow:1"),
        required=("acoustic guitar",),
    ),
    "folk": GenrePrior(
        _w("1950s:1, 1960s:3, 1970s:2, 1980s:0.5, 1990s:0.5, 2000s:1, 2010s:1.5, 2020s:1"),
        _w("acoustic guitar:4, banjo:1.5, accordion:1.5, flute:1.5, harp:1, cello:1, strings:0.5"),
        _w("melancholic:2, peaceful:2, nostalgic:2, sentimental:1.5, hopeful:1, calm:1, sad:1"),
        required=("acoustic guitar",),
    ),
    "soul": GenrePrior(
        _w("1960s:3, 1970s:3, 1980s:1, 1990s:0.7, 2000s:0.7, 2010s:0.5, 2020s:0.3"),
        _w(
            "organ:3, brass:2.5, electric piano:1.5, piano:1.5, strings:1, electric guitar:1, "
            "saxophone:1, choir:0.5"
        ),
        _w("romantic:3, sentimental:2, groovy:2, hopeful:1, uplifting:1, sad:1, mellow:1"),
    ),
    "funk": GenrePrior(
        _w("1960s:1, 1970s:4, 1980s:1.5, 1990s:0.7, 2000s:0.5, 2010s:0.5, 2020s:0.3"),
        _w(
            "electric guitar:3, brass:3, electric piano:2, organ:1.5, synth bass:1, "
            "saxophone:1, trumpet:1"
        ),
        _w("groovy:4, energetic:2, playful:2, happy:1, uplifting:0.5"),
        required=("electric guitar",),
    ),
    "disco": GenrePrior(
        _w("1970s:4, 1980s:1.5, 1990s:0.3, 2000s:0.3, 2010s:0.3, 2020s:0.5"),
        _w(
            "strings:3.5, brass:2, electric piano:1.5, electric guitar:1.5, synth bass:1, "
            "synth pad:1, piano:0.5"
        ),
        _w("happy:3, groovy:3, energetic:2, uplifting:2, playful:1, romantic:0.5"),
        required=("strings",),
    ),
    "reggae": GenrePrior(
        _w("1960s:1, 1970s:3, 1980s:2, 1990s:1, 2000s:0.7, 2010s:0.5, 2020s:0.3"),
        _w(
            "organ:3, electric guitar:3, piano:1, brass:1, trumpet:0.7, saxophone:0.5, "
            "synth bass:0.3"
        ),
        _w("mellow:3, peaceful:2, happy:1.5, groovy:2, hopeful:1, calm:1"),
        required=("organ",),
    ),
    "hip-hop": GenrePrior(
        _w("1980s:1, 1990s:3, 2000s:3, 2010s:2.5, 2020s:2"),
        _w(
            "drum machine:5, synth bass:2.5, piano:2, electric piano:1.5, strings:1, "
            "synth pad:1, brass:0.7, saxophone:0.3"
        ),
        _w("aggressive:2, dark:2, groovy:2, energetic:1.5, tense:1, nostalgic:1, melancholic:1"),
        required=("drum machine",),
    ),
    "r&b": GenrePrior(
        _w("1980s:1, 1990s:3, 2000s:3, 2010s:2, 2020s:1.5"),
        _w(
            "electric piano:3, synth pad:2.5, drum machine:2.5, synth bass:2, piano:1.5, "
            "strings:1, saxophone:0.5"
        ),
        _w("romantic:4, sentimental:2, mellow:2, groovy:1.5, dreamy:1, sad:1"),
    ),
    "electronic": GenrePrior(
        _w("1970s:0.5, 1980s:1, 1990s:2, 2000s:2.5, 2010s:3, 2020s:2.5"),
        _w(
            "synth lead:3.5, synth pad:3, synth bass:3, drum machine:3, electric piano:0.5, "
            "strings:0.5"
        ),
        _w("energetic:2, dreamy:2, uplifting:1.5, mysterious:1.5, tense:1, epic:1, dark:1"),
        required=("synth lead",),
    ),
    "house": GenrePrior(
        _w("1980s:2, 1990s:3, 2000s:2, 2010s:2, 2020s:1.5"),
        _w(
            "drum machine:5, piano:2.5, synth bass:2.5, synth pad:2, organ:1, synth lead:1, "
            "strings:0.5"
        ),
        _w("groovy:3, happy:2, energetic:2, uplifting:2, playful:1"),
        required=("drum machine",),
    ),
    "techno": GenrePrior(
        _w("1980s:1, 1990s:3, 2000s:2.5, 2010s:2, 2020s:1.5"),
        _w("drum machine:5, synth bass:3, synth lead:2.5, synth pad:1.5"),
        _w("energetic:3, dark:2.5, tense:2, mysterious:1.5, aggressive:1"),
        required=("drum machine",),
    ),
    "ambient": GenrePrior(
        _w("1970s:0.5, 1980s:1.5, 1990s:2, 2000s:1.5, 2010s:2, 2020s:2"),
        _w("synth pad:4, strings:2, piano:1.5, harp:1, choir:1, flute:0.5, cello:0.5"),
        _w("calm:3, dreamy:3, peaceful:2, mysterious:2, melancholic:1, dark:0.5"),
        required=("synth pad",),
    ),
    "drum and bass": GenrePrior(
        _w("1990s:3, 2000s:3, 2010s:1.5, 2020s:1"),
        _w("drum machine:5, synth bass:4, synth pad:2, synth lead:1.5, strings:0.5, piano:0.5"),
        _w("energetic:3, tense:2, dark:2, aggressive:1, mysterious:1, uplifting:1"),
        required=("drum machine", "synth bass"),
    ),
    "metal": GenrePrior(
        _w("1970s:1, 1980s:3, 1990s:2.5, 2000s:2, 2010s:1.5, 2020s:1"),
        _w("distorted guitar:5, electric guitar:1, organ:0.5, choir:0.5, strings:0.5"),
        _w("aggressive:4, dark:3, energetic:2, epic:2, tense:1.5"),
        required=("distorted guitar",),
    ),
    "punk": GenrePrior(
        _w("1970s:3, 1980s:2.5, 1990s:1.5, 2000s:1, 2010s:0.5, 2020s:0.3"),
        _w("distorted guitar:4, electric guitar:2, organ:0.5, piano:0.3"),
        _w("aggressive:3, energetic:4, playful:1, tense:1, happy:0.5"),
        required=("distorted guitar",),
    ),
    "indie": GenrePrior(
        _w("1980s:0.5, 1990s:1, 2000s:3, 2010s:3, 2020s:2"),
        _w(
            "electric guitar:3, acoustic guitar:2, synth pad:1, piano:1, strings:0.5, "
            "organ:0.5, synth lead:0.5"
        ),
        _w("melancholic:2, dreamy:2, nostalgic:1.5, hopeful:1.5, mellow:1, happy:1, sad:1"),
    ),
    "classical": GenrePrior(
        _w("1950s:1.5, 1960s:1, 1970s:1, 1980s:1, 1990s:1, 2000s:1, 2010s:1, 2020s:1"),
        _w("strings:4, piano:3, cello:2.5, flute:2, harp:1.5, brass:1, choir:0.5"),
        _w("peaceful:2, epic:2, melancholic:2, romantic:1.5, calm:1.5, tense:1, sad:1"),
    ),
    "latin": GenrePrior(
        _w("1960s:1, 1970s:1.5, 1980s:1, 1990s:1.5, 2000s:2, 2010s:2, 2020s:2"),
        _w("acoustic guitar:3, trumpet:3, brass:2, piano:2, accordion:1.5, flute:0.5"),
        _w("happy:2.5, energetic:2, romantic:2, groovy:2, playful:1.5"),
    ),
    "bossa nova": GenrePrior(
        _w("1950s:1, 1960s:4, 1970s:2, 1980s:0.5, 1990s:0.5, 2000s:0.5, 2010s:0.3"),
        _w("acoustic guitar:5, flute:2, piano:1.5, saxophone:1, strings:1"),
        _w("mellow:3, romantic:2.5, calm:2, dreamy:1, nostalgic:1, peaceful:1"),
        required=("acoustic guitar",),
    ),
    "gospel": GenrePrior(
        _w("1950s:3, 1960s:2.5, 1970s:2, 1980s:1, 1990s:1, 2000s:0.7, 2010s:0.5, 2020s:0.5"),
        _w("choir:5, organ:4, piano:2.5, brass:0.5"),
        _w("uplifting:4, hopeful:3, epic:1, happy:1, sentimental:1, peaceful:1"),
        required=("choir",),
    ),
    "synthpop": GenrePrior(
        _w("1970s:0.3, 1980s:5, 1990s:1, 2000s:1, 2010s:2, 2020s:1.5"),
        _w(
            "synth lead:4, synth pad:3, synth bass:3, drum machine:3.5, electric piano:1, "
            "electric guitar:0.5"
        ),
        _w("nostalgic:2, dreamy:2, happy:2, energetic:1.5, melancholic:1.5, uplifting:1"),
        required=("synth lead",),
    ),
    "grunge": GenrePrior(
        _w("1980s:0.5, 1990s:5, 2000s:1, 2010s:0.3"),
        _w("distorted guitar:5, electric guitar:2, cello:0.3"),
        _w("dark:3, melancholic:2.5, aggressive:2, sad:1.5, tense:1, energetic:1"),
        required=("distorted guitar",),
    ),
    "trip-hop": GenrePrior(
        _w("1990s:5, 2000s:2, 2010s:1, 2020s:0.5"),
        _w(
            "drum machine:4, strings:2, electric piano:2, synth pad:2, synth bass:1.5, "
            "piano:1, cello:1, harp:0.5"
        ),
        _w("dark:3, mysterious:3, melancholic:2, dreamy:2, tense:1, mellow:1"),
        required=("drum machine",),
    ),
    "lo-fi": GenrePrior(
        _w("2000s:0.5, 2010s:4, 2020s:5"),
        _w(
            "electric piano:4, piano:2.5, drum machine:3, acoustic guitar:1, synth pad:1.5, "
            "saxophone:0.5, flute:0.5"
        ),
        _w("calm:3, mellow:3, nostalgic:2, dreamy:2, peaceful:1.5, melancholic:1"),
    ),
    "swing": GenrePrior(
        _w("1950s:5, 1960s:1.5, 1990s:0.5, 2000s:0.5, 2010s:0.3"),
        _w("brass:4, trumpet:3, saxophone:3, piano:2.5, electric guitar:0.3"),
        _w("happy:3, energetic:2, playful:2, groovy:2, romantic:1, nostalgic:1"),
        required=("brass",),
    ),
    "rockabilly": GenrePrior(
        _w("1950s:5, 1960s:1.5, 1970s:0.3, 1980s:0.7, 1990s:0.3, 2000s:0.3"),
        _w("electric guitar:5, piano:2, acoustic guitar:1.5, saxophone:1, banjo:0.3"),
        _w("energetic:3, happy:2.5, playful:2, nostalgic:1, romantic:0.5"),
        required=("electric guitar",),
    ),
    "ska": GenrePrior(
        _w("1960s:3, 1970s:1, 1980s:2, 1990s:2.5, 2000s:1, 2010s:0.5"),
        _w("trumpet:3, brass:3, electric guitar:3, organ:2, saxophone:1.5, piano:0.5"),
        _w("happy:3, energetic:3, playful:3, groovy:1.5, uplifting:1"),
        required=("brass",),
    ),
    "new age": GenrePrior(
        _w("1970s:0.5, 1980s:3, 1990s:3, 2000s:1.5, 2010s:1, 2020s:1"),
        _w("synth pad:3, harp:3, flute:3, piano:2, strings:2, choir:1.5"),
        _w("peaceful:4, calm:3, dreamy:2, hopeful:1.5, uplifting:1, mysterious:0.5"),
        required=("synth pad",),
    ),
}

# Production-era priors on instruments (multipliers): synthesizers arrive in the
# late 1970s, banjos and accordions thin out.
ERA_INSTRUMENT_FACTOR: dict[str, dict[str, float]] = {
    "1950s": _w(
        "synth lead:0.02, synth pad:0.02, synth bass:0.02, drum machine:0.02, "
        "electric piano:0.1, distorted guitar:0.1, banjo:1.5, accordion:1.5"
    ),
    "1960s": _w(
        "synth lead:0.05, synth pad:0.05, synth bass:0.05, drum machine:0.05, "
        "electric piano:0.7, distorted guitar:0.5, organ:1.5, banjo:1.3"
    ),
    "1970s": _w(
        "synth lead:0.4, synth pad:0.4, synth bass:0.5, drum machine:0.3, "
        "electric piano:1.8, organ:1.3"
    ),
    "1980s": _w(
        "synth lead:1.8, synth pad:1.8, synth bass:1.8, drum machine:1.8, "
        "electric piano:1.3, banjo:0.5, accordion:0.5"
    ),
    "1990s": _w("piano:1.0"),
    "2000s": _w("banjo:0.8, accordion:0.8"),
    "2010s": _w("synth pad:1.3, banjo:0.8, organ:0.7"),
    "2020s": _w("synth pad:1.3, synth bass:1.3, organ:0.6"),
}


def table_problems(
    priors: dict[str, GenrePrior] = GENRE_PRIORS,
    era_factor: dict[str, dict[str, float]] = ERA_INSTRUMENT_FACTOR,
) -> list[str]:
    """What is inconsistent in the prior tables (empty when they fit the 80 tags)."""
    problems = []
    if set(priors) != set(GENRES):
        problems.append(f"genres without a prior or unknown: {sorted(set(priors) ^ set(GENRES))}")
    for genre, prior in priors.items():
        for table, names in (
            (prior.eras, ERAS),
            (prior.moods, MOODS),
            (prior.palette, INSTRUMENTS),
            (dict.fromkeys(prior.required), INSTRUMENTS),
        ):
            unknown = set(table) - set(names)
            if unknown:
                problems.append(f"{genre}: unknown tags {sorted(unknown)}")
    if set(era_factor) != set(ERAS):
        problems.append(f"era instrument factors: eras {sorted(set(era_factor) ^ set(ERAS))}")
    unused_moods = set(MOODS) - {m for p in priors.values() for m in p.moods}
    unused_instruments = set(INSTRUMENTS) - {i for p in priors.values() for i in p.palette}
    if unused_moods or unused_instruments:
        problems.append(f"tags no genre uses: {sorted(unused_moods | unused_instruments)}")
    return problems


if _problems := table_problems():  # the world would silently lack tags: refuse to import
    raise ConfigError("apron_core.world.priors: " + "; ".join(_problems))
