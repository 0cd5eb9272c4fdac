"""Compose a song's MIDI from its spec: a pure function of the spec and its seed.

The genre recipe gives groove, bass style, harmony and comping; the moods shift mode,
tempo, register, dynamics, articulation, tension and density; the era adds tempo and
humanisation. Each listed instrument gets a role that suits it (lead, counter-melody,
comping, pad, arpeggio; "synth bass" plays the bass, "drum machine" the drums). Only the
bass (a bass guitar or upright when no synth bass is listed) and an acoustic kit (when no
drum machine is listed) are added beyond the listed instruments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pretty_midi

from apron_core.world.recipes import (
    BASS_VOLUME,
    COMP_GRIDS,
    DEFAULT_TABLES,
    DRUM_KEYS,
    DRUM_VOLUME,
    MACHINE_SOFT,
    MODES,
    ROLE_CENTRE,
    ROLE_VELOCITY,
    GenreRecipe,
    MoodShift,
    RecipeTables,
)
from apron_core.world.spec import SongSpec

_GRID_VELOCITY = {"X": 1.0, "x": 0.82, "o": 0.45}
MIN_TEMPO, MAX_TEMPO = 50.0, 220.0


def combine_moods(moods: tuple[str, ...], tables: RecipeTables = DEFAULT_TABLES) -> MoodShift:
    """Average the numeric shifts of 1-2 moods; the first mood that names a mode picks it."""
    shifts = [tables.moods[m] for m in moods]
    mode = next((s.mode for s in shifts if s.mode), "")
    fields = MoodShift.__dataclass_fields__
    avg = {
        name: float(np.mean([getattr(s, name) for s in shifts]))
        for name in fields
        if name != "mode"
    }
    if len(shifts) > 1:
        avg["tempo"] = float(np.prod([s.tempo for s in shifts]) ** (1 / len(shifts)))
    return MoodShift(mode=mode, **avg)


@dataclass
class _Chord:
    root: int  # pitch class 0..11
    tones: tuple[int, ...]  # semitones above the root, sorted, root first

    def pcs(self) -> list[int]:
        return [(self.root + t) % 12 for t in self.tones]


class _Composer:
    def __init__(self, spec: SongSpec, tables: RecipeTables) -> None:
        self.spec = spec
        self.t = tables
        self.rng = np.random.default_rng(spec.seed)
        self.recipe: GenreRecipe = tables.genres[spec.genre]
        self.mood = combine_moods(spec.moods, tables)
        self.era = tables.eras[spec.era]
        self.machine = "drum machine" in spec.instruments
        r, rng = self.recipe, self.rng

        self.beats = r.beats
        if r.meters and rng.random() < 0.35:
            self.beats = int(rng.choice(r.meters))
        self.subdiv = r.subdiv
        self.steps = self.beats * self.subdiv
        tempo = rng.uniform(*r.tempo) * self.mood.tempo * self.era.tempo
        self.tempo = float(np.clip(tempo, MIN_TEMPO, MAX_TEMPO))
        self.beat_s = 60.0 / self.tempo
        self.bar_s = self.beat_s * self.beats
        self.n_bars = math.ceil(spec.duration_s / self.bar_s) + 1
        self.tonic = int(rng.integers(12))
        self.mode = self.mood.mode or str(rng.choice(r.modes))
        if r.chords == "dominant" and self.mode in ("major", "lydian"):
            self.mode = "mixolydian"
        self.scale = MODES[self.mode]
        self.progression = r.progressions[int(rng.integers(len(r.progressions)))]
        self.slot_chords = [self._build_chord(d) for d in self.progression]
        self.human = r.human
        self.midi = pretty_midi.PrettyMIDI(initial_tempo=self.tempo)

    # ------------------------------------------------------------------ time & harmony
    def time(self, bar: int, step: float) -> float:
        """Seconds at (bar, step), with the recipe's swing applied."""
        beat, sub = divmod(step, self.subdiv)
        frac = sub / self.subdiv
        sw = self.recipe.swing
        if self.subdiv == 4 and sw > 0:
            if self.recipe.swing_unit == 8:
                p8 = 0.5 + sw / 6.0
                frac = {0.25: p8 / 2, 0.5: p8, 0.75: p8 + (1 - p8) / 2}.get(frac, frac)
            elif frac in (0.25, 0.75):
                frac += sw / 12.0
        return bar * self.bar_s + (beat + frac) * self.beat_s

    def chord_at(self, bar: int) -> _Chord:
        slot = int(bar / self.recipe.bars_per_chord) % len(self.progression)
        return self.slot_chords[slot]

    def _build_chord(self, degree: int) -> _Chord:
        r, m, rng, sc = self.recipe, self.mood, self.rng, self.scale
        root = (self.tonic + sc[degree % 7]) % 12

        def stack(n: int) -> list[int]:
            out = []
            for k in range(n):
                idx = degree + 2 * k
                out.append(sc[idx % 7] + 12 * (idx // 7) - sc[degree % 7])
            return out

        if r.chords == "power":
            tones = [0, 7, 12]
            if rng.random() < m.dissonance * 0.4:
                tones = [0, 6, 12]
            return _Chord(root, tuple(tones))
        if r.chords == "dominant":
            minor = sc[2] == 3 and degree % 7 in (0, 3)
            tones = [0, 3 if minor else 4, 7, 10]
        else:
            n = {"triad": 3, "seventh": 4, "ninth": 5, "sus": 3}[r.chords]
            tones = stack(n)
            if r.chords == "sus":
                tones[1] = stack(5)[4] - 12  # the 2nd instead of the 3rd
        if len(tones) < 4 and rng.random() < m.tension:
            tones.append(stack(4)[3])
        if len(tones) < 5 and rng.random() < m.tension * 0.6:
            tones.append(stack(5)[4])
        if len(tones) >= 2 and tones[1] in (3, 4) and rng.random() < m.tension * 0.25:
            tones[1] = 5  # sus4
        if rng.random() < m.dissonance * 0.5:
            if tones[1] in (3, 4) and rng.random() < 0.5:
                tones = [0, 3, 6, *[t for t in tones[3:] if t not in (10, 11)], 9]  # diminished
            else:
                tones.append(13)  # flat ninth
        return _Chord(root, tuple(sorted(set(tones))))

    # ------------------------------------------------------------------ notes
    def add(self, inst: pretty_midi.Instrument, pitch: int, start: float, dur: float,
            vel: float, quantised: bool = False) -> None:  # fmt: skip
        if not quantised and self.human > 0:
            start += self.rng.normal(0.0, self.era.timing_ms * self.human / 1000.0)
            vel += self.rng.normal(0.0, self.era.velocity_sd * self.human)
        start = max(0.0, start)
        end = start + max(0.03, dur)
        v = int(np.clip(round(vel), 12, 127))
        inst.notes.append(pretty_midi.Note(velocity=v, pitch=int(np.clip(pitch, 0, 127)),
                                           start=start, end=end))  # fmt: skip

    def new_instrument(self, program: int, volume: int, name: str,
                       is_drum: bool = False) -> pretty_midi.Instrument:  # fmt: skip
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum, name=name)
        inst.control_changes.append(pretty_midi.ControlChange(7, int(np.clip(volume, 1, 127)), 0.0))
        self.midi.instruments.append(inst)
        return inst

    def velocity(self, role: str) -> float:
        return ROLE_VELOCITY[role] + self.mood.velocity

    # ------------------------------------------------------------------ roles
    def assign_roles(self) -> list[tuple[str, str]]:
        """(instrument tag, role) pairs: every melodic tag gets at least one role."""
        tags = [i for i in self.spec.instruments if i not in ("drum machine", "synth bass")]
        prefs = {i: self.recipe.roles.get(i, self.t.instruments[i].roles) for i in tags}
        out: list[tuple[str, str]] = []
        free = list(tags)
        for role in ("lead", "comp", "pad", "arp", "counter"):
            cands = [i for i in free if role in prefs[i]]
            if not cands:
                continue
            best = min(cands, key=lambda i: (prefs[i].index(role), tags.index(i)))
            out.append((best, role))
            free.remove(best)
        for i in free:  # more instruments than roles: double the first choice
            out.append((i, prefs[i][0]))
        taken = {role for _, role in out}
        if "lead" not in taken and tags:
            able = [i for i in tags if "lead" in prefs[i]] or tags
            best = min(able, key=lambda i: (list(prefs[i]).index("lead") if "lead" in prefs[i]
                                             else 9, tags.index(i)))  # fmt: skip
            out.append((best, "lead"))
        if not taken & {"comp", "pad", "arp"}:
            poly = [i for i in tags if self.t.instruments[i].poly]
            if poly:
                best = poly[0]
                role = "arp" if self.recipe.comp in ("arp8", "arp16", "alberti") else "comp"
                out.append((best, role))
        return out

    # ------------------------------------------------------------------ parts
    def voicing(self, chord: _Chord, centre: int, spread: int = 6) -> list[int]:
        lo = centre - spread
        notes = sorted({lo + ((pc - lo) % 12) for pc in chord.pcs()})
        return notes

    def grid_hits(self, grid: str, bar: int) -> list[tuple[int, int, float]]:
        """(step, length in steps, velocity factor) of a grid's hits in one bar."""
        n = self.steps
        if len(grid) >= 2 * n and len(grid) % n == 0:
            grid = grid[(bar % (len(grid) // n)) * n :][:n]
        grid = (grid * (n // max(1, len(grid)) + 1))[:n]
        hits = []
        for s, ch in enumerate(grid):
            if ch in _GRID_VELOCITY:
                length = 1
                while s + length < n and grid[s + length] == "-":
                    length += 1
                hits.append((s, length, _GRID_VELOCITY[ch]))
        return hits

    def part_comp(self, tag: str, program: int) -> None:
        snd = self.t.instruments[tag]
        inst = self.new_instrument(program, snd.volume, f"{tag} (comp)")
        comp = self.recipe.comp
        centre = int(np.clip(ROLE_CENTRE["comp"] + self.mood.register * 0.5, snd.low + 8,
                             snd.high - 8))  # fmt: skip
        if comp in ("arp8", "arp16", "alberti", "montuno"):
            return self.part_arp(tag, program, inst=inst, style=comp, centre=centre - 4)
        if tag in ("strings", "synth pad", "choir", "organ") and comp in (
            "arp16", "chank16", "power8", "chug16", "strum",
        ):  # fmt: skip
            comp = "half"
        if tag in ("organ", "piano", "electric piano") and comp == "skank":
            comp = "skank8"  # the keyboard "bubble" plays every offbeat
        if self.beats == 3 and comp not in ("whole",):
            comp = "waltz"
        vel = self.velocity("comp")
        art = self.recipe.legato * self.mood.articulation
        step_s = self.beat_s / self.subdiv
        for bar in range(self.n_bars):
            chord = self.chord_at(bar)
            if self.recipe.chords == "power":
                root = snd.low + 3 + ((chord.root - snd.low - 3) % 12)
                notes = [root + t for t in chord.tones]
            else:
                notes = self.voicing(chord, centre)
            if comp == "jazz":
                hits = [(0, 4, 0.9), (6, 3, 0.8)] if self.rng.random() < 0.5 else [(3, 4, 0.8)]
                hits += [(int(self.rng.choice([8, 10, 11, 14])), 4, 0.75)]
            else:
                hits = self.grid_hits(COMP_GRIDS[comp], bar)
            for s, length, f in hits:
                dur = max(0.12, length * step_s * (1.0 if snd.sustained and length > 2 else art))
                for k, p in enumerate(notes):
                    strum = 0.012 * k if tag in ("acoustic guitar", "electric guitar",
                                                 "banjo") else 0.0  # fmt: skip
                    self.add(inst, p, self.time(bar, s) + strum, dur, vel * f)
        return None

    def part_pad(self, tag: str, program: int) -> None:
        snd = self.t.instruments[tag]
        inst = self.new_instrument(program, snd.volume, f"{tag} (pad)")
        centre = int(np.clip(ROLE_CENTRE["pad"] + self.mood.register * 0.5, snd.low + 8,
                             snd.high - 8))  # fmt: skip
        vel = self.velocity("pad")
        per = max(1, round(self.recipe.bars_per_chord))
        for bar in range(0, self.n_bars, per):
            chord = self.chord_at(bar)
            notes = self.voicing(chord, centre, 7)
            if self.mood.doubling >= 0.5:
                notes = [notes[0] - 12, *notes]
            dur = per * self.bar_s * 1.02
            for p in notes:
                self.add(inst, p, self.time(bar, 0), dur, vel, quantised=True)

    def part_arp(self, tag: str, program: int, inst: pretty_midi.Instrument | None = None,
                 style: str = "", centre: int | None = None) -> None:  # fmt: skip
        snd = self.t.instruments[tag]
        if inst is None:
            inst = self.new_instrument(program, snd.volume, f"{tag} (arp)")
        if centre is None:
            centre = int(np.clip(ROLE_CENTRE["arp"] + self.mood.register, snd.low + 10,
                                 snd.high - 10))  # fmt: skip
        style = style or ("arp16" if self.mood.density * self.recipe.melody_density > 1.2
                          and self.tempo < 130 else "arp8")  # fmt: skip
        sub = self.subdiv
        every = 1 if style == "arp16" else max(1, sub // 2)
        if style == "alberti":
            every = 1 if self.tempo < 90 else 2
        if style == "arp8" and self.tempo > 150:
            every = sub
        vel = self.velocity("arp")
        step_s = self.beat_s / sub
        art = min(1.6, 1.3 * self.mood.articulation)
        for bar in range(self.n_bars):
            chord = self.chord_at(bar)
            low = self.voicing(chord, centre - 6, 6)
            tones = low + [p + 12 for p in low]
            if style == "alberti":
                v = self.voicing(_Chord(chord.root, tuple(t for t in chord.tones[:3])), centre, 6)
                v = (v + [v[-1] + 12] * 3)[:3]
                order = [v[0], v[2], v[1], v[2]]
            elif style == "montuno":
                order = [tones[0], tones[2], tones[1] + 12, tones[2], tones[0] + 12, tones[1]]
            elif self.rng.random() < 0.5 or bar == 0:
                order = tones + tones[-2:0:-1]
            else:
                order = tones
            k = 0
            for s in range(0, self.steps, every):
                if style == "montuno" and s % 4 == 1:
                    continue
                p = order[k % len(order)]
                k += 1
                self.add(inst, p, self.time(bar, s), every * step_s * art,
                         vel * (1.0 if s % sub == 0 else 0.82))  # fmt: skip

    def _rhythm(self, density: float) -> list[tuple[int, int]]:
        """One bar of melody onsets: (step, length in steps)."""
        n = self.steps
        sub = self.subdiv
        want = max(1, round(density * self.beats))
        grid = (
            [s for s in range(n) if s % max(1, sub // 2) == 0] if density <= 1.6 else list(range(n))
        )
        weight = np.array([3.0 if s % sub == 0 else 1.6 if s % (sub // 2 or 1) == 0 else 0.8
                           for s in grid])  # fmt: skip
        want = min(want, len(grid))
        chosen = sorted(self.rng.choice(grid, size=want, replace=False, p=weight / weight.sum()))
        out = []
        for k, s in enumerate(chosen):
            nxt = chosen[k + 1] if k + 1 < len(chosen) else n
            out.append((int(s), int(nxt - s)))
        return out

    def part_melody(self, tag: str, program: int, role: str = "lead") -> None:
        snd = self.t.instruments[tag]
        inst = self.new_instrument(program, snd.volume, f"{tag} ({role})")
        r, m = self.recipe, self.mood
        centre = ROLE_CENTRE[role] + r.melody_shift + m.register
        centre = int(np.clip(centre, snd.low + 7, snd.high - 7))
        density = r.melody_density * m.density * (0.5 if role == "counter" else 1.0)
        vel = self.velocity(role)
        art = r.legato * m.articulation
        step_s = self.beat_s / self.subdiv
        scale = [(self.tonic + d) % 12 for d in self.scale]
        # Pitches as scale-degree indices (7 per octave) around the centre.
        base_oct = centre // 12

        def pitch(idx: int) -> int:
            o, d = divmod(idx, 7)
            return 12 * (base_oct + o) + scale[d] + (12 if scale[d] < scale[0] else 0)

        idx = min(range(-7, 14), key=lambda i: abs(pitch(i) - centre))
        phrase_len = min(4, len(self.progression) * max(1, int(r.bars_per_chord)))
        motifs = [self._rhythm(density) for _ in range(2)]
        phrase: list[list[tuple[int, int, int]]] = []  # per bar: (step, len, degree idx)
        for b in range(phrase_len):
            chord_pcs = set(self.chord_at(b).pcs())
            rhythm = motifs[b % 2] if b < phrase_len - 1 else self._rhythm(density * 0.6)
            notes = []
            for s, length in rhythm:
                move = int(self.rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3]))
                idx = int(np.clip(idx + move, -6, 12))
                if s % self.subdiv == 0:  # strong positions land on chord tones
                    for d in (0, -1, 1, -2, 2):
                        if pitch(idx + d) % 12 in chord_pcs:
                            idx += d
                            break
                idx = int(np.clip(idx, -6, 12))
                notes.append((s, length, idx))
            phrase.append(notes)
        for bar in range(self.n_bars):
            notes = phrase[bar % phrase_len]
            vary = bar >= phrase_len and self.rng.random() < 0.5
            for s, length, i in notes:
                if vary and self.rng.random() < 0.3:
                    i += int(self.rng.choice([-1, 1, 2]))
                p = pitch(i)
                while p < snd.low:
                    p += 12
                while p > snd.high:
                    p -= 12
                dur = length * step_s * (art if not snd.sustained else min(1.0, art * 1.1))
                accent = 1.0 if s % self.subdiv == 0 else 0.88
                self.add(inst, p, self.time(bar, s), dur, vel * accent)
                if role == "lead" and m.doubling >= 0.5:  # epic: the line in octaves
                    q = p - 12 if p - 12 >= snd.low else p + 12
                    self.add(inst, q, self.time(bar, s), dur, vel * accent * 0.8)

    def part_counter(self, tag: str, program: int) -> None:
        snd = self.t.instruments[tag]
        if self.recipe.melody_density * self.mood.density > 1.1 and not snd.sustained:
            return self.part_melody(tag, program, role="counter")
        inst = self.new_instrument(program, snd.volume, f"{tag} (counter)")
        centre = int(np.clip(ROLE_CENTRE["counter"] + self.mood.register * 0.5, snd.low + 6,
                             snd.high - 6))  # fmt: skip
        vel = self.velocity("counter")
        prev = centre
        half = self.beats // 2 if self.beats == 4 else self.beats
        for bar in range(self.n_bars):
            chord = self.chord_at(bar)
            for beat in range(0, self.beats, half):
                cands = [centre - 12 + k for k in range(25) if (centre - 12 + k) % 12 in
                         chord.pcs()[1:] + chord.pcs()[:1]]  # fmt: skip
                choice = min(cands, key=lambda p: abs(p - prev) if p != prev else 3)
                prev = choice
                dur = half * self.beat_s * min(1.05, 0.9 * self.mood.articulation + 0.1)
                self.add(inst, choice, self.time(bar, beat * self.subdiv), dur, vel)
        return None

    def part_bass(self) -> None:
        r, m = self.recipe, self.mood
        synth = "synth bass" in self.spec.instruments
        if r.bass == "none" and not synth:
            return
        style = r.bass if r.bass != "none" else "root"
        if synth:
            program = 39 if self.spec.genre in ("techno", "drum and bass", "electronic") else 38
            volume = self.t.instruments["synth bass"].volume
        else:
            program, volume = r.bass_program, BASS_VOLUME
        inst = self.new_instrument(program, volume, "synth bass" if synth else "bass")
        vel = self.velocity("bass") + (8 if synth else 0)
        step_s = self.beat_s / self.subdiv
        n, sub = self.steps, self.subdiv
        art = float(np.clip(m.articulation, 0.5, 1.1))
        low = 26 if style in ("sub", "dnb") else 31
        for bar in range(self.n_bars):
            chord = self.chord_at(bar)
            nxt = self.chord_at(bar + 1)
            root = low + ((chord.root - low) % 12)
            fifth = root + 7
            third = root + chord.tones[1] if len(chord.tones) > 1 else root + 4
            nroot = low + ((nxt.root - low) % 12)
            hits: list[tuple[int, int, int, float]] = []  # step, len, pitch, vel factor
            if style in ("root8", "pulse8"):
                hits = [(s, 2, root, 1.0 if s % sub == 0 else 0.85) for s in range(0, n, 2)]
                if style == "root8" and self.rng.random() < 0.3:
                    hits[-1] = (n - 2, 2, root + 12, 0.9)
            elif style == "root_fifth":
                hits = [(b * sub, sub, root if b % 2 == 0 else fifth - 12 if fifth - 12 >= low
                         else fifth, 1.0) for b in range(0, self.beats, 2 if self.beats == 4
                                                         else 3)]  # fmt: skip
            elif style == "walking":
                tones = [root, third, fifth, nroot + (1 if self.rng.random() < 0.5 else -1)]
                if self.rng.random() < 0.4:
                    tones[1] = root + self.scale[1]
                hits = [(b * sub, sub, tones[b % 4], 1.0 if b % 2 == 0 else 0.9)
                        for b in range(self.beats)]  # fmt: skip
            elif style == "shuffle":
                six = root + 9
                line = [root, third, fifth, six]
                hits = [(b * sub, 2, line[b % 4], 1.0) for b in range(self.beats)]
                hits += [(b * sub + 2, 1, line[b % 4], 0.7) for b in range(self.beats)]
            elif style == "boogie":
                line = [root, root + 4, fifth, root + 9, root + 10, root + 9, fifth, root + 4]
                hits = [(s, 2, line[(s // 2) % 8], 1.0 if s % 4 == 0 else 0.85)
                        for s in range(0, n, 2)]  # fmt: skip
            elif style == "funk":
                pat = [(0, 2, root, 1.0), (3, 1, root + 12, 0.7), (6, 1, root, 0.9),
                       (7, 1, root + 10, 0.6), (10, 2, fifth, 0.9), (12, 1, root + 12, 0.8),
                       (14, 1, root + 10, 0.7), (15, 1, nroot - 1, 0.6)]  # fmt: skip
                hits = [h for h in pat if h[0] < n]
            elif style == "octave":
                hits = [(s, 2, root + (12 if (s // 2) % 2 else 0), 1.0) for s in range(0, n, 2)]
            elif style == "reggae":
                hits = [(0, 5, root, 1.0), (6, 2, third, 0.85), (8, 4, fifth, 0.95),
                        (13, 3, root + 12, 0.8)]  # fmt: skip
            elif style == "sub":
                hits = [(0, 7, root, 1.0), (7, 3, root, 0.85), (10, 6, root, 0.9)]
            elif style == "offbeat":
                hits = [(s, 2, root if s != 14 else root + 12, 1.0) for s in (2, 6, 10, 14)]
            elif style == "rolling":
                hits = [(s, 1, root + (12 if s % 8 == 7 else 0), 0.95 if s % 4 == 2 else 0.8)
                        for s in range(n) if s % 4 != 0]  # fmt: skip
            elif style == "dnb":
                hits = [(0, 10, root, 1.0), (10, 6, root + (7 if bar % 2 else 0), 0.9)]
            elif style == "drone":
                if bar % max(1, int(r.bars_per_chord)) == 0:
                    hits = [(0, n * max(1, int(r.bars_per_chord)), root, 0.9)]
            elif style == "pizz":
                hits = [(b * sub, 1, root if b == 0 else fifth - 12 if fifth - 12 >= low
                         else fifth, 1.0 if b == 0 else 0.8) for b in
                        range(0, self.beats, 2 if self.beats == 4 else 3)]  # fmt: skip
            elif style == "tumbao":
                hits = [(6, 6, fifth, 0.95), (12, 4, root, 1.0)]
                if bar == 0:
                    hits.insert(0, (0, 6, root, 1.0))
            elif style == "bossa":
                hits = [
                    (0, 6, root, 1.0),
                    (6, 2, fifth - 12 if fifth - 12 >= low else fifth, 0.8),
                    (8, 6, fifth - 12 if fifth - 12 >= low else fifth, 0.95),
                    (14, 2, root, 0.8),
                ]
            elif style == "soul":
                hits = [
                    (0, 3, root, 1.0),
                    (3, 1, root, 0.7),
                    (6, 2, fifth, 0.9),
                    (8, 4, root + 12, 0.85),
                    (12, 2, third, 0.85),
                    (14, 2, nroot - 1, 0.8),
                ]
            elif style == "pop":
                hits = [
                    (0, 3, root, 1.0),
                    (3, 3, root, 0.85),
                    (6, 2, root, 0.9),
                    (8, 4, root, 0.95),
                    (12, 2, fifth, 0.85),
                    (14, 2, root, 0.85),
                ]
            else:  # "root"
                hits = [(0, n, root, 1.0)]
            hits = [h for h in hits if h[0] < n]
            for s, length, p, f in hits:
                dur = length * step_s * (1.0 if style in ("drone", "sub", "dnb") else art * 0.95)
                self.add(inst, p, self.time(bar, s), dur, vel * f, quantised=synth and
                         self.recipe.human < 0.5)  # fmt: skip

    def part_drums(self) -> None:
        r, m, rng = self.recipe, self.mood, self.rng
        grooves = r.grooves
        if self.machine:
            if not grooves:
                grooves = (MACHINE_SOFT,)
            kit = r.machine_kit
        else:
            if not grooves or rng.random() >= r.drum_prob:
                return
            kit = r.kit
        groove = dict(grooves[int(rng.integers(len(grooves)))])
        volume = DRUM_VOLUME * 10 ** (r.drum_db / 40)
        inst = self.new_instrument(kit, int(volume), "drum machine" if self.machine else "drums",
                                   is_drum=True)  # fmt: skip
        n, sub = self.steps, self.subdiv
        if m.drums < 0.7:  # sparse: no ghosts, hats on the beat only
            groove = {k: "".join("." if c == "o" else c for c in g) for k, g in groove.items()}
            for k in ("hat", "shaker", "tamb", "open"):
                if k in groove:
                    groove[k] = "".join(c if i % sub == 0 else "." for i, c in
                                        enumerate(groove[k]))  # fmt: skip
        elif m.drums > 1.25:  # busy: 16th hats, extra kick before the downbeat
            for k in ("hat", "ride"):
                if k in groove and len(groove[k]) == n:
                    groove[k] = "".join(c if c != "." else "o" for c in groove[k])
            if "kick" in groove and len(groove["kick"]) == n and sub == 4:
                groove["kick"] = groove["kick"][:-2] + "x."
        level = self.velocity("drums") * (0.8 + 0.2 * min(m.drums, 1.5))
        step_s = self.beat_s / sub
        fill_from = n - sub if r.fill != "none" else n + 1
        for bar in range(self.n_bars):
            fill_bar = bar % 4 == 3 and r.fill != "none"
            for name, grid in groove.items():
                key = DRUM_KEYS[name]
                for s, _, f in self.grid_hits(grid, bar):
                    if fill_bar and s >= fill_from and name not in ("kick", "pedal"):
                        continue
                    self.add(inst, key, self.time(bar, s), step_s, level * f, self.machine)
            if (r.crash or m.drums >= 1.45) and bar % (2 if m.drums >= 1.45 else 4) == 0:
                self.add(inst, DRUM_KEYS["crash"], self.time(bar, 0), self.bar_s, level * 0.95,
                         self.machine)  # fmt: skip
            if fill_bar:
                self._fill(inst, bar, level)

    def _fill(self, inst: pretty_midi.Instrument, bar: int, level: float) -> None:
        sub, n = self.subdiv, self.steps
        style = self.recipe.fill
        if style == "rock":
            keys = [DRUM_KEYS[k] for k in ("snare", "snare", "tom_hi", "tom_mid", "tom_lo",
                                           "floor")]  # fmt: skip
        elif style == "jazz":
            keys = [DRUM_KEYS["snare"]] * 6
        elif style == "latin":
            keys = [DRUM_KEYS[k] for k in ("timbale_hi", "timbale_hi", "timbale_lo",
                                           "timbale_lo")]  # fmt: skip
        else:  # electronic: snare roll
            keys = [DRUM_KEYS["snare"]] * 4
        steps = list(range(n - sub, n))
        for k, s in enumerate(steps):
            self.add(inst, keys[min(k * len(keys) // len(steps), len(keys) - 1)],
                     self.time(bar, s), self.beat_s / sub, level * (0.7 + 0.3 * k / len(steps)),
                     self.machine)  # fmt: skip

    # ------------------------------------------------------------------ all
    def compose(self) -> pretty_midi.PrettyMIDI:
        for tag, role in self.assign_roles():
            program = self.recipe.programs.get(tag, self.t.instruments[tag].program)
            if role == "comp":
                self.part_comp(tag, program)
            elif role == "pad":
                self.part_pad(tag, program)
            elif role == "arp":
                self.part_arp(tag, program)
            elif role == "counter":
                self.part_counter(tag, program)
            else:
                self.part_melody(tag, program, role="lead")
        self.part_bass()
        self.part_drums()
        for inst in self.midi.instruments:
            inst.notes.sort(key=lambda nt: (nt.start, nt.pitch))
        return self.midi


def compose(spec: SongSpec, tables: RecipeTables = DEFAULT_TABLES) -> pretty_midi.PrettyMIDI:
    """The song's MIDI: deterministic in `spec` (all randomness from spec.seed)."""
    return _Composer(spec, tables).compose()
