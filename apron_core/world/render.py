"""Render a song spec to audio: compose MIDI, synthesise with FluidSynth, produce with pedalboard.

    audio = render_song(spec)                      # float32 mono, 22,050 Hz, peak <= 0.99
    cache = RenderCache("data/audio_cache")
    path = cache.path_for(spec)                    # a FLAC file the app can serve

Two FluidSynth instances per thread (reused across songs, reset before each one) play the
band and the drum kit separately, so production can treat them differently (1980s gated
reverb on the kit, side-chain pumping of the band). FluidSynth's own reverb and chorus
are off; pedalboard adds the era's production and the mood's reverb and brightness.
The same spec and SoundFont always give the same samples.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path

import numpy as np
import pedalboard as pb
import pretty_midi
import soundfile as sf
from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d

from apron_core.errors import AudioError, ConfigError
from apron_core.world.compose import _Composer
from apron_core.world.recipes import DEFAULT_TABLES, RecipeTables
from apron_core.world.spec import SongSpec

RENDERER_VERSION = "1"
TARGET_RMS = 0.1  # -20 dBFS
PEAK = 0.99
_GAIN = 0.25  # FluidSynth master gain (headroom: levels are normalised afterwards)
_DRUM_CHANNEL = 9
_local = threading.local()


def default_soundfont() -> Path:
    """pretty_midi's bundled General MIDI SoundFont (TimGM6mb.sf2)."""
    return Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"


def _resolve_soundfont(soundfont: str | os.PathLike | None) -> Path:
    path = Path(soundfont).expanduser() if soundfont is not None else default_soundfont()
    if not path.is_file():
        raise ConfigError(
            f"soundfont={str(path)!r} does not exist: pass the path of a General MIDI .sf2 file"
            + (" (or reinstall pretty_midi, which ships TimGM6mb.sf2)" if soundfont is None else "")
        )
    return path


def fluidsynth_available() -> tuple[bool, str]:
    """(True, version) when pyfluidsynth and libfluidsynth load; else (False, why not)."""
    try:
        import fluidsynth
    except (ImportError, OSError) as e:
        return False, (
            f"FluidSynth is not available ({e}): install the system library (e.g. apt-get "
            "install libfluidsynth3) and the Python binding (pip install pyfluidsynth)"
        )
    try:
        fn = fluidsynth._fl.fluid_version_str
        fn.restype = ctypes.c_char_p
        version = fn().decode()
    except (AttributeError, OSError):
        version = "unknown version"
    return True, f"FluidSynth {version} (pyfluidsynth {fluidsynth.api_version})"


class _SoundFont:
    """A SoundFont loaded once (per thread) into a host synth, lent to a fresh FluidSynth
    instance for every render: fresh instances are what make renders bit-identical
    (a reused synth carries voice state over), and lending the SoundFont keeps them cheap."""

    def __init__(self, soundfont: Path, sr: int) -> None:
        ok, why = fluidsynth_available()
        if not ok:
            raise AudioError(why)
        import fluidsynth

        self._mod = fluidsynth
        fl = fluidsynth._fl
        fl.fluid_set_log_function.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        for level in (2, 3, 4):  # FLUID_WARN, FLUID_INFO, FLUID_DBG: not for listeners
            fl.fluid_set_log_function(level, None, None)
        fl.fluid_synth_get_sfont_by_id.restype = ctypes.c_void_p
        fl.fluid_synth_get_sfont_by_id.argtypes = [ctypes.c_void_p, ctypes.c_int]
        fl.fluid_synth_add_sfont.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        fl.fluid_synth_remove_sfont.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        fl.fluid_synth_write_float.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                               ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
                                               ctypes.c_int, ctypes.c_int]  # fmt: skip
        fl.fluid_synth_write_float.restype = ctypes.c_int
        self._fl = fl
        self.sr = sr
        self.host = fluidsynth.Synth(gain=_GAIN, samplerate=float(sr), channels=16)
        sfid = self.host.sfload(str(soundfont))
        if sfid < 0:
            raise AudioError(f"FluidSynth could not load soundfont={str(soundfont)!r}")
        self.sfont = fl.fluid_synth_get_sfont_by_id(self.host.synth, sfid)

    def render(self, programs: dict[int, tuple[int, int, int]], events: list[tuple], n: int,
               polyphony: int) -> np.ndarray:  # fmt: skip
        """Mono float32 of n samples. programs: channel -> (bank, program, volume);
        events: (sample, order, channel, key, velocity) sorted; velocity 0 = note off."""
        fl = self._fl
        fs = self._mod.Synth(
            gain=_GAIN,
            samplerate=float(self.sr),
            channels=16,
            **{"synth.reverb.active": 0, "synth.chorus.active": 0, "synth.polyphony": polyphony},
        )
        try:
            sfid = fl.fluid_synth_add_sfont(fs.synth, self.sfont)
            for chan, (bank, program, volume) in programs.items():
                fs.program_select(chan, sfid, bank, program)
                fs.cc(chan, 7, volume)
            buf = np.zeros(2 * n, dtype=np.float32)  # (2n,) interleaved L/R
            ptr = buf.ctypes.data
            write = fl.fluid_synth_write_float
            pos = 0
            for sample, _, chan, key, vel in events:
                if sample >= n:
                    break
                if sample > pos:
                    write(fs.synth, sample - pos, ptr, 2 * pos, 2, ptr, 2 * pos + 1, 2)
                    pos = sample
                if vel > 0:
                    fs.noteon(chan, key, vel)
                else:
                    fs.noteoff(chan, key)
            if n > pos:
                write(fs.synth, n - pos, ptr, 2 * pos, 2, ptr, 2 * pos + 1, 2)
        finally:
            fl.fluid_synth_remove_sfont(fs.synth, self.sfont)  # the host keeps owning it
            fs.delete()
        return buf.reshape(n, 2).mean(axis=1)  # (n,)


def _soundfont(soundfont: Path, sr: int) -> _SoundFont:
    key = (str(soundfont), sr)
    cache = getattr(_local, "soundfonts", None)
    if cache is None:
        cache = _local.soundfonts = {}
    if key not in cache:
        cache[key] = _SoundFont(soundfont, sr)
    return cache[key]


def _events(midi: pretty_midi.PrettyMIDI, sr: int, drums: bool):
    programs: dict[int, tuple[int, int, int]] = {}
    events = []
    chans = [c for c in range(16) if c != _DRUM_CHANNEL]
    k = 0
    for inst in midi.instruments:
        if inst.is_drum != drums:
            continue
        if drums:
            chan = _DRUM_CHANNEL
        else:
            chan = chans[k % len(chans)]
            k += 1
        volume = next((cc.value for cc in inst.control_changes if cc.number == 7), 100)
        programs[chan] = (128 if drums else 0, inst.program, volume)
        for note in inst.notes:
            on = round(note.start * sr)
            off = max(on + 1, round(note.end * sr))
            events.append((on, 1, chan, note.pitch, note.velocity))
            events.append((off, 0, chan, note.pitch, 0))
    events.sort()
    return programs, events


def _synthesise(midi: pretty_midi.PrettyMIDI, n: int, sr: int, soundfont: Path):
    font = _soundfont(soundfont, sr)
    band = font.render(*_events(midi, sr, drums=False), n, polyphony=64)
    programs, events = _events(midi, sr, drums=True)
    drums = font.render(programs, events, n, polyphony=24) if events else np.zeros(n, np.float32)
    return band, drums


def _onset_envelope(times: list[float], n: int, sr: int, length_s: float,
                    decay_s: float | None = None) -> np.ndarray:  # fmt: skip
    """Sum of windows (rectangular of length_s, or exponential decay) starting at `times`."""
    env = np.zeros(n, dtype=np.float32)
    m = int(length_s * sr)
    shape = (np.exp(-np.arange(m) / (decay_s * sr)) if decay_s else np.ones(m)).astype(np.float32)
    for t in times:
        i = int(t * sr)
        if i < n:
            seg = shape[: n - i]
            env[i : i + len(seg)] = np.maximum(env[i : i + len(seg)], seg)
    return env


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x * (TARGET_RMS / _rms(x))).astype(np.float32)


def _limit(x: np.ndarray, sr: int, ceiling: float = 0.9, window_s: float = 0.004) -> np.ndarray:
    """Look-ahead peak limiter: a gain that is <= ceiling/|x| around every peak, smoothed."""
    w = max(3, int(window_s * sr)) | 1
    env = maximum_filter1d(np.abs(x), size=2 * w + 1)
    gain = np.minimum(1.0, ceiling / np.maximum(env, 1e-9))
    gain = minimum_filter1d(gain, size=2 * w + 1)
    gain = uniform_filter1d(gain, size=w)
    return (x * gain).astype(np.float32)


def _soft_limit(x: np.ndarray, knee: float = 0.6) -> np.ndarray:
    """Identity below `knee`; above, a tanh curve that never reaches PEAK."""
    a = np.abs(x)
    over = a > knee
    y = x.copy()
    y[over] = np.sign(x[over]) * (knee + (PEAK - knee) * np.tanh((a[over] - knee) / (PEAK - knee)))
    return y


def _produce(spec: SongSpec, midi: pretty_midi.PrettyMIDI, band: np.ndarray, drums: np.ndarray,
             sr: int, tables: RecipeTables) -> np.ndarray:  # fmt: skip
    comp = _Composer(spec, tables)  # only for its deterministic plan (mood, era, recipe)
    era, mood, recipe = comp.era, comp.mood, comp.recipe
    n = len(band)
    drum_notes = [nt for inst in midi.instruments if inst.is_drum for nt in inst.notes]
    kicks = sorted({round(nt.start, 3) for nt in drum_notes if nt.pitch in (35, 36)})
    snares = sorted({round(nt.start, 3) for nt in drum_notes if nt.pitch in (38, 39, 40)})

    chorus = max(era.chorus, 0.3 if mood.reverb > 0.55 else 0.0)
    if chorus > 0:
        band = pb.Chorus(rate_hz=0.7, depth=0.3, centre_delay_ms=8.0, mix=chorus)(band, sr)
    if era.pump > 0 and kicks:
        band = band * (1.0 - era.pump * _onset_envelope(kicks, n, sr, 0.4, decay_s=0.12))
    if era.gated_drums and snares and np.any(drums):
        wet = pb.Reverb(room_size=0.95, damping=0.3, wet_level=1.0, dry_level=0.0, width=0.0)(
            drums, sr
        )
        gate = _onset_envelope(snares, n, sr, 0.22)
        drums = drums + 1.2 * wet * gate
    mix = band + drums
    if _rms(mix) < 1e-6:
        raise AudioError(f"song {spec.song_id!r} rendered silent: check the soundfont")
    mix = _normalise(mix)
    if mood.wow > 0:  # tape wow: a slowly swept short delay, heard as a pitch wobble
        mix = pb.Chorus(rate_hz=0.55, depth=0.6 * mood.wow, centre_delay_ms=4.0, mix=1.0)(mix, sr)

    board = [pb.HighpassFilter(era.highpass_hz)]
    if recipe.production == "lofi":
        board += [pb.LowpassFilter(4200.0), pb.Bitcrush(bit_depth=11)]
    if era.lowpass_hz and era.lowpass_hz < sr / 2 - 500:
        board += [pb.LowpassFilter(era.lowpass_hz), pb.LowpassFilter(era.lowpass_hz * 1.2)]
    if era.sub_db:
        board.append(pb.LowShelfFilter(70.0, era.sub_db, 0.7))
    if era.presence_db:
        board.append(pb.PeakFilter(2500.0, era.presence_db, 0.7))
    bright = era.air_db + mood.brightness
    if bright:
        board.append(pb.HighShelfFilter(min(5000.0, sr * 0.3), bright, 0.7))
    drive = era.drive_db + mood.drive
    if drive > 0:
        board.append(pb.Distortion(drive_db=drive))
    if era.compress_db:
        board.append(pb.Compressor(era.compress_db, era.compress_ratio, 5.0, 120.0))
    if era.slapback:
        board.append(pb.Delay(delay_seconds=0.11, feedback=0.05, mix=era.slapback))
    wet = min(0.75, era.reverb_wet + 0.6 * mood.reverb)
    room = min(0.95, max(era.reverb_room, 0.3 + 0.7 * mood.reverb))
    board.append(pb.Reverb(room_size=room, damping=0.45, wet_level=wet, dry_level=1.0 - 0.4 * wet,
                           width=0.0))  # fmt: skip
    mix = pb.Pedalboard(board)(_normalise(mix), sr)

    noise_level = era.noise + (0.01 if recipe.production == "lofi" else 0.0)
    if noise_level > 0:
        rng = np.random.default_rng([spec.seed, 7])
        hiss = rng.standard_normal(n).astype(np.float32) * noise_level * TARGET_RMS * 3
        if recipe.production == "lofi":  # vinyl crackle: sparse clicks
            clicks = rng.random(n) < 4.0 / sr
            hiss += clicks * rng.uniform(-1, 1, n).astype(np.float32) * 0.25
        mix = _normalise(mix) + hiss
    for _ in range(2):
        mix = _limit(_normalise(mix), sr)
    mix = _soft_limit(_normalise(mix), knee=0.85)
    fade = min(n // 4, int(0.03 * sr))
    if fade > 0:
        mix[:fade] *= np.linspace(0.0, 1.0, fade, dtype=np.float32)
        mix[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return np.asarray(mix, dtype=np.float32)


def render_song(spec: SongSpec, *, sr: int = 22050, soundfont: str | os.PathLike | None = None,
                tables: RecipeTables = DEFAULT_TABLES) -> np.ndarray:  # fmt: skip
    """The song's audio: float32 mono at `sr`, exactly round(spec.duration_s * sr) samples,
    loudness-normalised to TARGET_RMS, peak <= 0.99. A pure function of (spec, soundfont)."""
    if not isinstance(sr, int) or sr < 8000:
        raise ConfigError(f"sr={sr!r} must be an integer sample rate >= 8000")
    path = _resolve_soundfont(soundfont)
    midi = _Composer(spec, tables).compose()
    n = round(spec.duration_s * sr)
    band, drums = _synthesise(midi, n, sr, path)
    return _produce(spec, midi, band, drums, sr, tables)


# --------------------------------------------------------------------------- cache
class RenderCache:
    """Rendered songs as FLAC files under `directory`, least-recently-used evicted beyond
    `max_bytes`. Safe for concurrent threads and processes (atomic os.replace writes)."""

    def __init__(self, directory: str | os.PathLike, *, max_bytes: int = 500_000_000,
                 sr: int = 22050, soundfont: str | os.PathLike | None = None) -> None:  # fmt: skip
        if max_bytes <= 0:
            raise ConfigError(f"max_bytes={max_bytes} must be a positive number of bytes")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)
        self.sr = sr
        self.soundfont = _resolve_soundfont(soundfont)
        self._lock = threading.Lock()

    def key(self, spec: SongSpec) -> str:
        payload = json.dumps(
            {"spec": spec.to_dict(), "renderer": RENDERER_VERSION, "sr": self.sr,
             "soundfont": self.soundfont.name, "sf_bytes": self.soundfont.stat().st_size},
            sort_keys=True,
        )  # fmt: skip
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    def _file(self, spec: SongSpec) -> Path:
        return self.directory / f"{self.key(spec)}.flac"

    def path_for(self, spec: SongSpec) -> Path:
        """Path of the song's FLAC file, rendering it first when it is not cached."""
        path = self._file(spec)
        if path.exists():
            try:
                os.utime(path)  # mark as recently used
                return path
            except FileNotFoundError:
                pass  # evicted by someone else meanwhile
        audio = render_song(spec, sr=self.sr, soundfont=self.soundfont)
        fd, tmp = tempfile.mkstemp(suffix=".flac.tmp", dir=self.directory)
        os.close(fd)
        try:
            sf.write(tmp, audio, self.sr, format="FLAC", subtype="PCM_24")
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._evict(keep=path)
        return path

    def get(self, spec: SongSpec) -> np.ndarray:
        """The song's audio (float32 mono at self.sr), from the cache or rendered now."""
        for _ in range(3):
            path = self.path_for(spec)
            try:
                audio, sr = sf.read(path, dtype="float32")
            except (FileNotFoundError, RuntimeError, sf.LibsndfileError):
                continue  # evicted or replaced between path_for and read: try again
            if sr != self.sr:
                raise AudioError(f"cached file {path} has sr={sr}, expected {self.sr}")
            return audio
        raise AudioError(
            f"could not read the cached render of {spec.song_id!r} in {self.directory}"
        )

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.glob("*.flac") if p.exists())

    def _evict(self, keep: Path) -> None:
        with self._lock:
            files = []
            for p in self.directory.glob("*.flac"):
                try:
                    st = p.stat()
                except FileNotFoundError:
                    continue
                files.append((st.st_mtime_ns, st.st_size, p))
            total = sum(size for _, size, _ in files)
            for _, size, p in sorted(files):
                if total <= self.max_bytes:
                    break
                if p == keep:
                    continue
                try:
                    p.unlink()
                    total -= size
                except FileNotFoundError:
                    pass
