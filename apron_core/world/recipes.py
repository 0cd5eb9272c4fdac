# ruff: noqa: E501  (the mood and era tables are aligned columns, one row per tag)
"""Data tables the composer and renderer read: genre recipes, mood shifts, era production,
and what each instrumentation tag sounds like (General MIDI program, roles, register).

Nothing here is random; `compose.py` draws from these tables with the song's seed.
Grids are strings with one character per step (a 16th note in 4/4, a triplet 8th in 12/8):
``X`` accent, ``x`` normal hit, ``o`` ghost note, ``-`` hold the previous hit, ``.`` rest.
A grid may span several bars (its length a multiple of the bar's steps); a shorter or
longer grid is cycled or cut to fit the bar.

Drum machine: TimGM6mb.sf2 has the GM2 drum kits in bank 128 — 0 Standard, 8 Room,
16 Power, 24 Electronic, 25 TR 808, 32 Jazz, 40 Brush, 48 Orchestra — so "drum machine"
is the TR-808 or Electronic kit, machine-quantised with fixed velocities, while songs
without the tag get an acoustic kit (Standard/Room/Power/Jazz/Brush) played with
era-dependent timing and velocity humanisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apron_core.errors import ConfigError
from apron_core.tags import ERAS, GENRES, INSTRUMENTS, MOODS

# GM percussion keys (channel 10) by the names the grids use.
DRUM_KEYS: dict[str, int] = {
    "kick": 36, "kick2": 35, "rim": 37, "snare": 38, "clap": 39, "snare2": 40,
    "floor": 41, "hat": 42, "tom_lo": 45, "pedal": 44, "open": 46, "tom_mid": 47,
    "tom_hi": 50, "crash": 49, "ride": 51, "bell": 53, "tamb": 54, "cowbell": 56,
    "bongo_hi": 60, "bongo_lo": 61, "conga_hi": 62, "conga_open": 63, "conga_lo": 64,
    "timbale_hi": 65, "timbale_lo": 66, "shaker": 70, "guiro": 73, "clave": 75,
    "block": 76,
}  # fmt: skip

# GM2 drum kits (bank 128 program) present in TimGM6mb.sf2.
KIT_STANDARD, KIT_ROOM, KIT_POWER, KIT_ELECTRONIC, KIT_808, KIT_JAZZ, KIT_BRUSH = (
    0, 8, 16, 24, 25, 32, 40,
)  # fmt: skip

ROLES = ("lead", "counter", "comp", "pad", "arp", "bass", "drums")

MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
}


# --------------------------------------------------------------------------- genres
@dataclass(frozen=True)
class GenreRecipe:
    tempo: tuple[float, float]  # bpm range before mood/era factors
    grooves: tuple[dict[str, str], ...]  # drum grids, one chosen per song; () = no drums
    bass: str  # bass style (see compose._bass_bar)
    bass_program: int  # GM program of the non-tag bass (unless "synth bass" is listed)
    chords: str  # "triad" | "seventh" | "ninth" | "power" | "dominant" | "sus"
    progressions: tuple[tuple[int, ...], ...]  # scale degrees (0 = tonic) of the song's mode
    comp: str  # comping grid name in COMP_GRIDS, or a generator: arp8/arp16/alberti/jazz/montuno
    beats: int = 4  # beats per bar
    subdiv: int = 4  # steps per beat: 4 = 16ths, 3 = triplet 8ths (12/8)
    swing: float = 0.0  # 0 straight .. 1 full triplet swing
    swing_unit: int = 8  # swing the offbeat 8ths (8) or 16ths (16)
    bars_per_chord: float = 1.0
    kit: int = KIT_STANDARD  # acoustic kit when the song has no "drum machine"
    machine_kit: int = KIT_808  # kit when it has one
    fill: str = "rock"  # "rock" | "jazz" | "electronic" | "latin" | "none"
    crash: bool = True  # crash cymbal on section starts
    drum_prob: float = 1.0  # chance an acoustic song of the genre has drums at all
    drum_db: float = 0.0  # level of the drum kit relative to the band
    melody_density: float = 1.0  # melody notes per beat
    melody_shift: int = 0  # semitones added to each instrument's melody register
    modes: tuple[str, ...] = ("major", "minor")  # modes when the moods don't pick one
    human: float = 1.0  # timing/velocity humanisation factor (0 = quantised)
    legato: float = 0.9  # note length as a fraction of the gap to the next note
    meters: tuple[int, ...] = ()  # alternative beats-per-bar the genre may use
    programs: dict[str, int] = field(default_factory=dict)  # tag -> GM program override
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)  # tag -> role prefs
    production: str = ""  # genre production extra: "lofi" (wow, crackle, low-pass)


G = GenreRecipe
_BACKBEAT = "....X.......X..."
_EIGHTHS = "x.x.x.x.x.x.x.x."
_FOUR = "X...X...X...X..."
_OFF8 = "..x...x...x...x."

GENRE_RECIPES: dict[str, GenreRecipe] = {
    "rock": G(
        (112, 140),
        (
            {"kick": "x.......x.x.....", "snare": _BACKBEAT, "hat": "X.x.X.x.X.x.X.x."},
            {"kick": "x.....x.x.......", "snare": _BACKBEAT, "hat": "X.x.X.x.X.x.X.x."},
        ),
        "root8",
        33,
        "triad",
        ((0, 4, 5, 3), (0, 3, 4, 3), (0, 6, 3, 0)),
        "power8",
        modes=("major", "mixolydian", "minor"),
    ),
    "pop": G(
        (96, 124),
        (
            {"kick": "x.....x.x.....x.", "snare": _BACKBEAT, "clap": _BACKBEAT, "hat": _EIGHTHS},
            {"kick": "x.......x.......", "snare": _BACKBEAT, "hat": _EIGHTHS, "tamb": _BACKBEAT},
        ),
        "pop",
        33,
        "triad",
        ((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4)),
        "pop",
        melody_density=1.2,
        melody_shift=2,
        modes=("major",),
        kit=KIT_STANDARD,
        machine_kit=KIT_ELECTRONIC,
    ),
    "jazz": G(
        (110, 170),
        (
            {
                "ride": "X...x.x.X...x.x.",
                "pedal": "....x.......x...",
                "kick": "o...o...o...o...",
                "snare": ".......o......o.",
            },
        ),
        "walking",
        32,
        "ninth",
        ((1, 4, 0, 5), (0, 5, 1, 4), (1, 4, 0, 0)),
        "jazz",
        swing=1.0,
        kit=KIT_JAZZ,
        fill="jazz",
        crash=False,
        drum_db=-3,
        melody_density=1.5,
        modes=("major", "dorian"),
        human=1.3,
        legato=0.8,
        programs={"electric guitar": 26},
    ),
    "blues": G(
        (60, 84),
        (
            {"kick": "x.....x.....", "snare": "...X.....X..", "hat": "x.xx.xx.xx.x"},
            {"kick": "x.....x.....", "snare": "...X.....X..", "ride": "x.xx.xx.xx.x"},
        ),
        "shuffle",
        32,
        "dominant",
        ((0, 3, 0, 0, 3, 3, 0, 4), (0, 0, 3, 0, 4, 3, 0, 4)),
        "shuffle",
        subdiv=3,
        fill="jazz",
        crash=False,
        melody_density=0.9,
        human=1.3,
        modes=("mixolydian",),
        programs={"electric guitar": 26},
        roles={"electric guitar": ("lead", "comp")},
    ),
    "country": G(
        (100, 130),
        (
            {"kick": "x.......x.......", "snare": "o.o.X.o.o.o.X.o."},
            {"kick": "x.......x.......", "rim": "....X.......X...", "hat": _EIGHTHS},
        ),
        "root_fifth",
        32,
        "triad",
        ((0, 3, 4, 0), (0, 0, 3, 4), (0, 3, 0, 4)),
        "strum",
        kit=KIT_BRUSH,
        crash=False,
        melody_density=1.0,
        modes=("major",),
        programs={"electric guitar": 27},
        roles={"acoustic guitar": ("comp", "arp", "lead")},
    ),
    "folk": G(
        (84, 112),
        ({"kick": "x.......x.......", "tamb": "....x.......x..."},),
        "root_fifth",
        32,
        "triad",
        ((0, 3, 0, 4), (5, 3, 0, 4), (0, 4, 5, 3)),
        "arp8",
        kit=KIT_BRUSH,
        fill="none",
        crash=False,
        drum_prob=0.35,
        drum_db=-4,
        melody_density=0.9,
        meters=(3,),
        modes=("major", "dorian", "minor"),
        roles={"acoustic guitar": ("arp", "comp", "lead"), "banjo": ("arp", "lead")},
    ),
    "soul": G(
        (72, 104),
        (
            {
                "kick": "x.....x.x.......",
                "snare": "o...X...o...X...",
                "tamb": "....x.......x...",
                "hat": _EIGHTHS,
            },
        ),
        "soul",
        33,
        "seventh",
        ((0, 3, 1, 4), (0, 5, 1, 4), (3, 4, 2, 5)),
        "block4",
        swing=0.3,
        kit=KIT_ROOM,
        melody_density=1.0,
        modes=("major", "dorian"),
    ),
    "funk": G(
        (96, 114),
        (
            {"kick": "X.x...x...x..x..", "snare": "....X..o.o..X..o", "hat": "XoxoXoxoXoxoXoxo"},
            {"kick": "X..x..x...x.....", "snare": "....X..o.o..X.o.", "hat": "xxxxxxxxxxxxxxox"},
        ),
        "funk",
        36,
        "ninth",
        ((0, 0, 3, 3), (0, 3, 0, 3), (0, 0, 0, 6)),
        "chank16",
        swing=0.25,
        swing_unit=16,
        kit=KIT_ROOM,
        melody_density=1.3,
        legato=0.5,
        modes=("dorian", "mixolydian"),
        programs={"electric guitar": 28},
    ),
    "disco": G(
        (114, 128),
        (
            {
                "kick": "X...X...X...X...",
                "snare": _BACKBEAT,
                "hat": "x...x...x...x...",
                "open": _OFF8,
            },
        ),
        "octave",
        33,
        "seventh",
        ((1, 4, 0, 0), (0, 5, 1, 4), (0, 3, 0, 3)),
        "chank16",
        melody_density=1.2,
        modes=("major", "dorian", "minor"),
        machine_kit=KIT_ELECTRONIC,
        programs={"electric guitar": 28},
        roles={"strings": ("counter", "pad")},
    ),
    "reggae": G(
        (66, 82),
        (
            {"kick": "........x.......", "rim": "........x.......", "hat": _EIGHTHS},
            {"kick": "X...X...X...X...", "rim": "........x.......", "hat": _EIGHTHS},
        ),
        "reggae",
        33,
        "triad",
        ((0, 3, 0, 4), (0, 0, 3, 3), (0, 4, 3, 3)),
        "skank",
        swing=0.35,
        swing_unit=16,
        kit=KIT_ROOM,
        crash=False,
        melody_density=0.8,
        modes=("major", "minor"),
        legato=0.4,
        roles={"organ": ("comp", "pad")},
    ),
    "hip-hop": G(
        (84, 96),
        (
            {"kick": "x......x..x.....", "snare": _BACKBEAT, "hat": _EIGHTHS},
            {"kick": "x.........x..x..", "snare": _BACKBEAT, "hat": "x.x.x.x.x.x.xxx."},
        ),
        "sub",
        33,
        "seventh",
        ((0, 5, 3, 4), (0, 0, 5, 5), (0, 6, 5, 6)),
        "loop",
        swing=0.5,
        swing_unit=16,
        fill="none",
        crash=False,
        drum_db=2,
        melody_density=0.7,
        modes=("minor", "dorian"),
        machine_kit=KIT_808,
    ),
    "r&b": G(
        (64, 92),
        (
            {
                "kick": "x......x.x......",
                "snare": _BACKBEAT,
                "clap": _BACKBEAT,
                "hat": "xxxxxxxxxxxxxxox",
            },
        ),
        "sub",
        35,
        "ninth",
        ((3, 4, 2, 5), (1, 4, 0, 5), (0, 5, 3, 4)),
        "whole",
        swing=0.3,
        swing_unit=16,
        fill="none",
        crash=False,
        melody_density=1.1,
        modes=("major", "dorian"),
        machine_kit=KIT_808,
        legato=1.0,
    ),
    "electronic": G(
        (120, 134),
        ({"kick": _FOUR, "clap": _BACKBEAT, "hat": "o.o.o.o.o.o.o.o.", "open": _OFF8},),
        "offbeat",
        33,
        "triad",
        ((5, 3, 0, 4), (0, 5, 2, 6), (0, 0, 5, 5)),
        "arp16",
        fill="electronic",
        melody_density=1.0,
        modes=("minor", "major"),
        human=0.2,
        machine_kit=KIT_ELECTRONIC,
    ),
    "house": G(
        (120, 126),
        ({"kick": _FOUR, "clap": _BACKBEAT, "open": _OFF8, "shaker": "xxxxxxxxxxxxxxxx"},),
        "offbeat",
        33,
        "seventh",
        ((1, 4, 0, 5), (0, 3, 0, 3), (5, 3, 4, 4)),
        "house",
        fill="electronic",
        melody_density=0.8,
        modes=("minor", "dorian", "major"),
        human=0.2,
        machine_kit=KIT_808,
    ),
    "techno": G(
        (128, 138),
        (
            {"kick": _FOUR, "open": _OFF8, "hat": "xoxoxoxoxoxoxoxo", "rim": "...x..x....x..x."},
            {"kick": _FOUR, "clap": "....x.......x...", "hat": "xxxxxxxxxxxxxxxx", "open": _OFF8},
        ),
        "rolling",
        38,
        "triad",
        ((0, 0, 0, 0), (0, 0, 5, 5), (0, 0, 1, 1)),
        "stab",
        bars_per_chord=2,
        fill="electronic",
        crash=False,
        drum_db=2,
        melody_density=1.0,
        modes=("phrygian", "minor"),
        human=0.0,
        machine_kit=KIT_ELECTRONIC,
        roles={"synth lead": ("arp", "lead")},
    ),
    "ambient": G(
        (60, 76),
        (),
        "drone",
        35,
        "sus",
        ((0, 3), (0, 5), (0, 4, 5, 3)),
        "whole",
        bars_per_chord=2,
        fill="none",
        crash=False,
        melody_density=0.35,
        meters=(3,),
        modes=("lydian", "major", "minor"),
        human=0.6,
        legato=1.2,
        programs={"strings": 49, "piano": 0},
        roles={"piano": ("arp", "lead")},
    ),
    "drum and bass": G(
        (166, 176),
        (
            {"kick": "x.........x.....", "snare": "....X..o.o..X..o", "ride": _EIGHTHS},
            {"kick": "x.........xx....", "snare": "....X.......X...", "hat": "xxxxxxxxxxxxxxxx"},
        ),
        "dnb",
        35,
        "seventh",
        ((0, 5, 3, 4), (0, 0, 5, 5)),
        "whole",
        bars_per_chord=2,
        fill="electronic",
        drum_db=2,
        melody_density=0.5,
        modes=("minor", "dorian"),
        human=0.0,
        machine_kit=KIT_ELECTRONIC,
    ),
    "metal": G(
        (140, 180),
        (
            {"kick": "xxxxxxxxxxxxxxxx", "snare": _BACKBEAT, "ride": _EIGHTHS},
            {"kick": "x.x.x.x.x.x.x.x.", "snare": "..x...x...x...x.", "crash": "x...x...x...x..."},
        ),
        "root8",
        34,
        "power",
        ((0, 5, 6, 0), (0, 1, 0, 6), (0, 0, 5, 6)),
        "chug16",
        kit=KIT_POWER,
        drum_db=1,
        melody_density=1.5,
        melody_shift=-5,
        modes=("phrygian", "minor", "harmonic minor"),
        legato=0.6,
        roles={"distorted guitar": ("comp", "lead"), "electric guitar": ("lead", "comp")},
    ),
    "punk": G(
        (164, 196),
        ({"kick": "x.x...x.x.x...x.", "snare": _BACKBEAT, "open": _EIGHTHS},),
        "root8",
        34,
        "power",
        ((0, 3, 4, 3), (0, 4, 5, 3), (0, 3, 0, 4)),
        "power8",
        kit=KIT_POWER,
        melody_density=1.2,
        modes=("major", "mixolydian"),
        legato=0.7,
    ),
    "indie": G(
        (104, 132),
        (
            {
                "kick": "x.......x.......",
                "snare": _BACKBEAT,
                "floor": "x.xx.xx.x.xx.xx.",
                "tamb": _EIGHTHS,
            },
            {"kick": "x.....x...x.....", "snare": _BACKBEAT, "ride": _EIGHTHS},
        ),
        "root8",
        33,
        "sus",
        ((0, 2, 5, 3), (3, 0, 4, 5), (0, 5, 3, 3)),
        "arp16",
        kit=KIT_ROOM,
        melody_density=0.9,
        modes=("major", "dorian", "lydian"),
        programs={"electric guitar": 27},
        roles={"electric guitar": ("arp", "comp", "lead")},
    ),
    "classical": G(
        (66, 100),
        (),
        "pizz",
        32,
        "triad",
        ((0, 3, 4, 0), (0, 5, 1, 4), (0, 4, 5, 2, 3, 0, 3, 4)),
        "alberti",
        fill="none",
        crash=False,
        melody_density=1.0,
        meters=(3,),
        human=1.0,
        legato=0.95,
        modes=("major", "minor", "harmonic minor"),
        roles={
            "piano": ("arp", "lead", "comp"),
            "strings": ("pad", "counter", "lead"),
            "harp": ("arp", "lead"),
        },
    ),
    "latin": G(
        (92, 110),
        (
            {
                "clave": "x..x..x...x.x...",
                "conga_hi": ".x..x....x..x...",
                "conga_open": ".......x......x.",
                "cowbell": "X...x...X...x...",
                "shaker": _EIGHTHS,
            },
            {
                "clave": "x..x..x...x.x...",
                "bongo_hi": "x.xxx.xxx.xxx.xx",
                "conga_lo": "......x.......x.",
                "timbale_hi": "..x..x..x..x..x.",
                "guiro": "x.xxx.xx",
            },
        ),
        "tumbao",
        32,
        "seventh",
        ((0, 3, 4, 4), (0, 4, 0, 4), (0, 3, 4, 3)),
        "montuno",
        fill="latin",
        crash=False,
        melody_density=1.3,
        modes=("minor", "major"),
        programs={"acoustic guitar": 24},
    ),
    "bossa nova": G(
        (118, 140),
        (
            {
                "rim": "x..x..x...x..x....x..x...x..x...",
                "kick": "x..xx..xx..xx..x",
                "hat": "oooooooooooooooo",
            },
        ),
        "bossa",
        32,
        "ninth",
        ((0, 1, 4, 0), (1, 4, 0, 0), (0, 6, 1, 4)),
        "bossa",
        kit=KIT_BRUSH,
        fill="none",
        crash=False,
        drum_db=-3,
        melody_density=0.9,
        modes=("major", "dorian"),
        programs={"acoustic guitar": 24, "electric guitar": 26},
    ),
    "gospel": G(
        (68, 96),
        ({"kick": "x.....x.x.......", "snare": _BACKBEAT, "clap": _BACKBEAT, "tamb": _EIGHTHS},),
        "walking",
        33,
        "seventh",
        ((0, 3, 0, 4), (0, 3, 5, 4), (3, 0, 1, 4)),
        "block4",
        swing=0.6,
        kit=KIT_ROOM,
        melody_density=0.8,
        modes=("major",),
        programs={"organ": 16},
        roles={"choir": ("comp", "pad", "lead"), "organ": ("pad", "comp")},
    ),
    "synthpop": G(
        (110, 128),
        (
            {"kick": "x.......x.x.....", "snare": _BACKBEAT, "hat": "xxxxxxxxxxxxxxxx"},
            {"kick": _FOUR, "snare": _BACKBEAT, "clap": _BACKBEAT, "hat": _EIGHTHS},
        ),
        "pulse8",
        33,
        "triad",
        ((5, 3, 0, 4), (0, 4, 5, 3), (0, 5, 3, 4)),
        "arp8",
        melody_density=1.0,
        modes=("minor", "major"),
        human=0.2,
        machine_kit=KIT_ELECTRONIC,
        roles={"synth lead": ("lead", "arp")},
    ),
    "grunge": G(
        (92, 124),
        ({"kick": "x.....x.x.x.....", "snare": _BACKBEAT, "open": _EIGHTHS},),
        "root8",
        33,
        "power",
        ((0, 2, 3, 5), (0, 5, 2, 6), (0, 6, 3, 5)),
        "power8",
        kit=KIT_ROOM,
        melody_density=0.8,
        melody_shift=-3,
        modes=("minor", "phrygian"),
    ),
    "trip-hop": G(
        (70, 86),
        (
            {
                "kick": "x.........x..x..",
                "snare": _BACKBEAT,
                "hat": "x.x.x.x.x.x.x.x.",
                "shaker": "..x...x...x...x.",
            },
        ),
        "sub",
        33,
        "seventh",
        ((0, 0, 5, 5), (0, 6, 5, 4), (0, 3, 0, 5)),
        "whole",
        swing=0.3,
        swing_unit=16,
        fill="none",
        crash=False,
        drum_db=2,
        melody_density=0.5,
        modes=("minor", "harmonic minor"),
        machine_kit=KIT_808,
        legato=1.0,
    ),
    "lo-fi": G(
        (70, 88),
        ({"kick": "x......x..x.....", "snare": _BACKBEAT, "hat": "x.x.x.xxx.x.x.x."},),
        "sub",
        35,
        "ninth",
        ((1, 4, 0, 5), (3, 2, 1, 0), (0, 5, 1, 4)),
        "lofi",
        swing=0.6,
        swing_unit=16,
        fill="none",
        crash=False,
        melody_density=0.6,
        modes=("major", "dorian"),
        machine_kit=KIT_808,
        production="lofi",
    ),
    "swing": G(
        (150, 200),
        (
            {
                "ride": "X...x.x.X...x.x.",
                "pedal": "....x.......x...",
                "kick": "o...o...o...o...",
                "snare": "......o.......o.",
            },
        ),
        "walking",
        32,
        "seventh",
        ((0, 5, 1, 4), (0, 3, 0, 4), (1, 4, 0, 5)),
        "fourbeat",
        swing=1.0,
        kit=KIT_JAZZ,
        fill="jazz",
        crash=False,
        melody_density=1.3,
        modes=("major",),
        human=1.2,
        legato=0.7,
        programs={"electric guitar": 26},
        roles={"brass": ("comp", "counter", "lead")},
    ),
    "rockabilly": G(
        (160, 192),
        ({"kick": "x.......x.......", "snare": _BACKBEAT, "hat": _EIGHTHS},),
        "boogie",
        32,
        "dominant",
        ((0, 0, 3, 0, 4, 3, 0, 4), (0, 3, 0, 4)),
        "boomchick",
        swing=0.5,
        fill="rock",
        crash=False,
        melody_density=1.2,
        modes=("mixolydian",),
        programs={"electric guitar": 26},
        roles={"electric guitar": ("lead", "comp")},
    ),
    "ska": G(
        (136, 168),
        ({"kick": "x.......x.......", "rim": _BACKBEAT, "hat": "..X...X...X...X."},),
        "walking",
        33,
        "triad",
        ((0, 3, 4, 3), (0, 5, 3, 4), (0, 4, 0, 4)),
        "skank8",
        melody_density=1.2,
        modes=("major", "minor"),
        legato=0.5,
        programs={"electric guitar": 27},
        roles={"brass": ("lead", "counter"), "trumpet": ("lead",)},
    ),
    "new age": G(
        (62, 80),
        (),
        "drone",
        35,
        "sus",
        ((0, 3, 5, 4), (0, 4, 3, 0), (3, 0, 4, 4)),
        "arp8",
        bars_per_chord=2,
        fill="none",
        crash=False,
        melody_density=0.5,
        meters=(3,),
        modes=("major", "lydian"),
        human=0.6,
        legato=1.1,
        roles={"piano": ("arp", "lead"), "harp": ("arp", "lead")},
    ),
}

# Drum grids used when a genre without drums (ambient, classical, ...) has a drum machine.
MACHINE_SOFT: dict[str, str] = {"kick": "x.......x.....x.", "rim": _BACKBEAT, "hat": _EIGHTHS}

# Comping grids; other comp names are generators in compose.py.
COMP_GRIDS: dict[str, str] = {
    "strum": "X---x-x---X-x-x-",
    "boomchick": "....x-......x-..",
    "block4": "x---x---x---x-x-",
    "whole": "x---------------",
    "half": "x-------x-------",
    "skank": "....x-......x-..",
    "skank8": "..x-..x-..x-..x-",
    "chank16": "x.xxx.x.xx.xx.x.",
    "house": "x..x..x...x..x..",
    "stab": "..x...x...x...x.",
    "power8": "x-x-x-x-x-x-x-x-",
    "chug16": "xxxxxxxxx-x-xxxx",
    "fourbeat": "x.x.x.x.x.x.x.x.",
    "bossa": "x..x..x...x..x....x..x...x..x...",
    "shuffle": "x-xx-xx-xx-x",
    "lofi": "x-------..x-----",
    "pop": "x-.x-.x-x-.x-.x-",
    "loop": "x-----x-----x---",
    "waltz": "....x-..x-..",
}
COMP_GENERATORS = ("arp8", "arp16", "alberti", "jazz", "montuno")


# --------------------------------------------------------------------------- instruments
@dataclass(frozen=True)
class InstrumentSound:
    program: int  # default GM program (bank 0)
    roles: tuple[str, ...]  # role preferences, best first
    low: int  # playable MIDI range
    high: int
    poly: bool  # can play chords
    volume: int  # MIDI CC7 level that balances the SoundFont's presets
    sustained: bool = False  # holds notes (pads, bowed, blown) rather than decaying


INSTRUMENT_SOUNDS: dict[str, InstrumentSound] = {
    "piano": InstrumentSound(0, ("comp", "lead", "arp"), 36, 96, True, 100),
    "electric piano": InstrumentSound(4, ("comp", "lead", "pad"), 40, 88, True, 115),
    "organ": InstrumentSound(16, ("comp", "pad", "lead"), 43, 84, True, 88, True),
    "acoustic guitar": InstrumentSound(25, ("comp", "arp", "lead"), 40, 84, True, 110),
    "electric guitar": InstrumentSound(27, ("comp", "lead", "arp"), 40, 86, True, 105),
    "distorted guitar": InstrumentSound(30, ("comp", "lead"), 40, 86, True, 92, True),
    "strings": InstrumentSound(48, ("pad", "counter", "comp"), 43, 91, True, 112, True),
    "cello": InstrumentSound(42, ("counter", "lead"), 36, 72, False, 118, True),
    "brass": InstrumentSound(61, ("comp", "counter", "lead"), 46, 82, True, 100, True),
    "saxophone": InstrumentSound(65, ("lead", "counter"), 49, 80, False, 105, True),
    "trumpet": InstrumentSound(56, ("lead", "counter"), 55, 84, False, 100, True),
    "flute": InstrumentSound(73, ("lead", "counter"), 60, 93, False, 118, True),
    "harp": InstrumentSound(46, ("arp", "lead", "comp"), 36, 96, True, 122),
    "synth lead": InstrumentSound(81, ("lead", "arp"), 48, 88, False, 88, True),
    "synth pad": InstrumentSound(89, ("pad", "comp"), 43, 84, True, 118, True),
    "synth bass": InstrumentSound(38, ("bass",), 28, 55, False, 105),
    "choir": InstrumentSound(52, ("pad", "lead"), 48, 79, True, 122, True),
    "banjo": InstrumentSound(105, ("arp", "comp", "lead"), 48, 86, True, 110),
    "accordion": InstrumentSound(21, ("comp", "lead"), 48, 84, True, 100, True),
    "drum machine": InstrumentSound(KIT_808, ("drums",), 35, 81, False, 105),
}

# Registers (MIDI note of the centre) per role.
ROLE_CENTRE: dict[str, int] = {"lead": 70, "counter": 62, "comp": 60, "pad": 62, "arp": 67}
ROLE_VELOCITY: dict[str, int] = {
    "lead": 100, "counter": 84, "comp": 80, "pad": 74, "arp": 78, "bass": 96, "drums": 96,
}  # fmt: skip
BASS_VOLUME = 110
DRUM_VOLUME = 100


# --------------------------------------------------------------------------- moods
@dataclass(frozen=True)
class MoodShift:
    tempo: float  # tempo factor
    mode: str  # preferred mode ("" = the genre decides)
    velocity: float  # added to every velocity
    register: float  # semitones added to melodic registers
    articulation: float  # note length factor (0.4 staccato .. 1.3 legato)
    tension: float  # 0..1: sevenths, added ninths, suspensions
    dissonance: float  # 0..1: diminished chords, flat ninths, tritones
    density: float  # melody/arp note density factor
    reverb: float  # 0..1 extra reverb
    brightness: float  # dB of high-shelf (+) or cut (-)
    drums: float  # drum activity: <1 drops hats/ghosts and softens, >1 adds 16ths/crashes
    drive: float = 0.0  # dB of extra saturation
    wow: float = 0.0  # 0..1 tape wow/flutter (slow pitch wobble)
    doubling: float = 0.0  # 0..1 octave doubling of lead and pad (a bigger, thicker sound)


MOOD_SHIFTS: dict[str, MoodShift] = {
    "happy":       MoodShift(1.10, "major", 8, 3, 0.7, 0.0, 0.0, 1.2, 0.15, 3, 1.1),
    "sad":         MoodShift(0.72, "minor", -18, -5, 1.2, 0.3, 0.1, 0.45, 0.40, -7, 0.5),
    "energetic":   MoodShift(1.22, "mixolydian", 18, 2, 0.6, 0.1, 0.0, 1.5, 0.08, 4, 1.5, 2),
    "calm":        MoodShift(0.80, "major", -20, 0, 1.25, 0.15, 0.0, 0.5, 0.40, -6, 0.45),
    "dark":        MoodShift(0.90, "phrygian", 0, -8, 1.0, 0.3, 0.6, 0.8, 0.35, -8, 0.9, 2),
    "romantic":    MoodShift(0.88, "major", -8, 2, 1.3, 0.7, 0.0, 0.7, 0.45, -1, 0.6, 0, 0.2),
    "melancholic": MoodShift(0.85, "dorian", -12, -2, 1.1, 0.45, 0.15, 0.7, 0.40, -4, 0.7),
    "uplifting":   MoodShift(1.10, "lydian", 12, 6, 0.9, 0.2, 0.0, 1.2, 0.45, 4, 1.3, 0, 0, 0.5),
    "aggressive":  MoodShift(1.18, "phrygian", 25, -6, 0.5, 0.2, 0.5, 1.3, 0.05, 2, 1.6, 8),
    "dreamy":      MoodShift(0.84, "lydian", -12, 7, 1.3, 0.6, 0.1, 0.6, 0.65, -3, 0.6),
    "playful":     MoodShift(1.12, "major", 5, 7, 0.4, 0.1, 0.0, 1.4, 0.10, 4, 1.1),
    "tense":       MoodShift(1.05, "harmonic minor", 5, 0, 0.6, 0.3, 0.9, 1.2, 0.20, 0, 1.2, 3),
    "nostalgic":   MoodShift(0.92, "mixolydian", -5, 0, 1.0, 0.45, 0.0, 0.8, 0.30, -8, 0.85, 3, 1.0),
    "peaceful":    MoodShift(0.78, "major", -18, 3, 1.3, 0.1, 0.0, 0.5, 0.45, -5, 0.4),
    "epic":        MoodShift(0.95, "minor", 22, 0, 1.1, 0.2, 0.1, 0.9, 0.70, 3, 1.5, 2, 0, 1.0),
    "groovy":      MoodShift(1.00, "dorian", 6, -2, 0.5, 0.5, 0.0, 1.2, 0.10, 0, 1.3),
    "mellow":      MoodShift(0.88, "major", -15, -3, 1.1, 0.45, 0.0, 0.7, 0.25, -7, 0.6),
    "hopeful":     MoodShift(1.03, "major", 2, 4, 1.0, 0.35, 0.0, 0.9, 0.25, 2, 1.0),
    "mysterious":  MoodShift(0.84, "harmonic minor", -10, -3, 1.2, 0.3, 0.8, 0.5, 0.55, -4, 0.6),
    "sentimental": MoodShift(0.86, "major", -8, 0, 1.2, 0.35, 0.05, 0.7, 0.35, -3, 0.7),
}  # fmt: skip


# --------------------------------------------------------------------------- eras
@dataclass(frozen=True)
class EraProduction:
    highpass_hz: float
    lowpass_hz: float  # 0 = none
    drive_db: float  # tape/tube saturation
    reverb_room: float  # room size 0..1
    reverb_wet: float
    compress_db: float  # threshold of the bus compressor (0 = off)
    compress_ratio: float
    chorus: float  # chorus mix on the band (not drums)
    gated_drums: bool  # 1980s gated reverb on the kit
    slapback: float  # mix of a short slapback echo
    noise: float  # tape hiss level (linear, relative to the normalised mix)
    sub_db: float  # low-shelf at 70 Hz
    presence_db: float  # peak at 2.5 kHz
    air_db: float  # high-shelf at 6 kHz
    pump: float  # 0..1 side-chain ducking of the band by the kick
    timing_ms: float  # humanisation (std of onset jitter)
    velocity_sd: float  # humanisation of velocities
    tempo: float  # tempo factor


ERA_PRODUCTION: dict[str, EraProduction] = {
    #                    hp    lp     drv rev_r wet  comp ratio chor gate slap noise  sub pres air pump  ms  vsd  tempo
    "1950s": EraProduction(280, 3600, 6, 0.35, 0.22, -14, 2.0, 0.0, False, 0.35, 0.012, 0, 5, -3, 0.0, 18, 12, 0.96),
    "1960s": EraProduction(110, 6500, 8, 0.65, 0.28, -16, 2.5, 0.0, False, 0.10, 0.006, -2, 3, -2, 0.0, 13, 10, 0.98),
    "1970s": EraProduction(50, 9000, 3, 0.40, 0.14, -18, 2.0, 0.0, False, 0.0, 0.003, 2, 1, -1, 0.0, 9, 8, 1.00),
    "1980s": EraProduction(35, 0, 0, 0.85, 0.30, -18, 3.0, 0.45, True, 0.0, 0.0, 0, 2, 4, 0.0, 4, 6, 1.02),
    "1990s": EraProduction(35, 0, 1, 0.45, 0.15, -20, 3.0, 0.0, False, 0.0, 0.0, 3, 3, 1, 0.0, 5, 6, 1.00),
    "2000s": EraProduction(30, 0, 3, 0.30, 0.08, -26, 6.0, 0.0, False, 0.0, 0.0, 3, 2, 5, 0.0, 3, 4, 1.01),
    "2010s": EraProduction(30, 0, 2, 0.60, 0.12, -24, 5.0, 0.0, False, 0.0, 0.0, 7, 0, 3, 0.45, 2, 3, 1.02),
    "2020s": EraProduction(25, 0, 4, 0.50, 0.10, -28, 8.0, 0.15, False, 0.0, 0.0, 8, -2, 6, 0.25, 1, 2, 1.03),
}  # fmt: skip


@dataclass(frozen=True)
class RecipeTables:
    """Everything compose() and render_song() read; swap in edited tables to experiment."""

    genres: dict[str, GenreRecipe] = field(default_factory=lambda: GENRE_RECIPES)
    moods: dict[str, MoodShift] = field(default_factory=lambda: MOOD_SHIFTS)
    eras: dict[str, EraProduction] = field(default_factory=lambda: ERA_PRODUCTION)
    instruments: dict[str, InstrumentSound] = field(default_factory=lambda: INSTRUMENT_SOUNDS)


DEFAULT_TABLES = RecipeTables()


def table_problems(tables: RecipeTables = DEFAULT_TABLES) -> list[str]:
    """What is inconsistent in recipe tables (empty when every tag has a sound and every
    recipe names known parts); check edited tables with it before rendering."""
    problems = []
    for what, table, names in (
        ("genre recipes", tables.genres, GENRES),
        ("mood shifts", tables.moods, MOODS),
        ("era productions", tables.eras, ERAS),
        ("instrument sounds", tables.instruments, INSTRUMENTS),
    ):
        if set(table) != set(names):
            problems.append(f"{what}: missing or unknown {sorted(set(table) ^ set(names))}")
    for name, r in tables.genres.items():
        if r.comp not in COMP_GRIDS and r.comp not in COMP_GENERATORS:
            problems.append(f"{name}: unknown comp {r.comp!r}")
        for groove in r.grooves:
            if not set(groove) <= set(DRUM_KEYS):
                problems.append(f"{name}: unknown drums {sorted(set(groove) - set(DRUM_KEYS))}")
        if not (set(r.programs) <= set(INSTRUMENTS) and set(r.roles) <= set(INSTRUMENTS)):
            problems.append(f"{name}: programs or roles name unknown instruments")
    for mood, m in tables.moods.items():
        if m.mode not in MODES and m.mode != "":
            problems.append(f"{mood}: unknown mode {m.mode!r}")
    return problems


if _problems := table_problems():  # a song would fail mid-render: refuse to import
    raise ConfigError("apron_core.world.recipes: " + "; ".join(_problems))
