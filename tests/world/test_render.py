"""Song rendering: determinism, loudness/peak, genre differences, the render cache."""

from __future__ import annotations

import dataclasses
import itertools

import librosa
import numpy as np
import pytest

from apron_core.errors import ConfigError
from apron_core.tags import GENRES, MOODS
from apron_core.world import recipes
from apron_core.world.compose import compose
from apron_core.world.priors import GENRE_PRIORS
from apron_core.world.recipes import GENRE_RECIPES, INSTRUMENT_SOUNDS
from apron_core.world.render import (
    TARGET_RMS,
    RenderCache,
    fluidsynth_available,
    render_song,
)
from apron_core.world.spec import SongSpec

# No skip when FluidSynth is missing: it is a required system package (packages.txt), so
# its absence must fail loudly here rather than hide the renderer's tests.

SR = 22050


def make_spec(genre: str = "rock", *, seed: int = 1, era: str = "1990s", moods=("happy",),
              instruments=None, duration_s: float = 4.0) -> SongSpec:  # fmt: skip
    if instruments is None:
        prior = GENRE_PRIORS[genre]
        top = sorted(prior.palette, key=lambda k: -prior.palette[k])
        instruments = tuple(dict.fromkeys([*prior.required, *top]))[:3]
    return SongSpec(f"{genre}-{seed}", seed, genre, era, 1995, tuple(moods), tuple(instruments),
                    duration_s)  # fmt: skip


def longest_silence_s(y: np.ndarray, threshold: float = 1e-3, hop: int = 256) -> float:
    frames = librosa.feature.rms(y=y, frame_length=hop * 2, hop_length=hop)[0]
    best = run = 0
    for quiet in frames < threshold:
        run = run + 1 if quiet else 0
        best = max(best, run)
    return best * hop / SR


def test_fluidsynth_available_reports_version():
    ok, why = fluidsynth_available()
    assert ok and "FluidSynth" in why


def test_render_is_deterministic_and_seed_dependent():
    spec = make_spec("funk")
    a = render_song(spec)
    render_song(make_spec("metal", seed=5))  # the reused synth must not carry state over
    b = render_song(spec)
    assert a.dtype == np.float32 and a.shape == (round(spec.duration_s * SR),)
    np.testing.assert_array_equal(a, b)
    c = render_song(make_spec("funk", seed=2))
    assert not np.allclose(a, c)


def test_compose_uses_only_listed_instruments_plus_bass_and_kit():
    for genre in GENRES:
        spec = make_spec(genre, seed=3)
        midi = compose(spec)
        tag_programs = {GENRE_RECIPES[genre].programs.get(t, INSTRUMENT_SOUNDS[t].program)
                        for t in spec.instruments}  # fmt: skip
        allowed = tag_programs | {GENRE_RECIPES[genre].bass_program, 38, 39}
        melodic = [i for i in midi.instruments if not i.is_drum]
        assert {i.program for i in melodic} <= allowed, genre
        tags_heard = {i.name.split(" (")[0] for i in midi.instruments}
        for tag in spec.instruments:
            assert tag in tags_heard, (genre, tag)
            notes = [n for i in midi.instruments if i.name.startswith(tag) for n in i.notes]
            sounding = np.zeros(int(spec.duration_s * 100), dtype=bool)  # 10-ms cells
            for n in notes:
                sounding[int(n.start * 100) : int(n.end * 100) + 1] = True
            assert sounding.mean() > 0.15, (genre, tag, sounding.mean())


def _mean_logmel(y: np.ndarray) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=y, sr=SR, n_mels=48)
    db = librosa.power_to_db(mel, ref=1.0)
    onset = librosa.onset.onset_strength(y=y, sr=SR)
    return np.concatenate([db.mean(axis=1), db.std(axis=1), [onset.mean(), onset.std()]])


def test_every_genre_renders_loud_unclipped_and_distinct():
    feats, levels = {}, []
    for k, genre in enumerate(GENRES):
        y = render_song(make_spec(genre, seed=10 + k, moods=(GENRE_PRIORS[genre].moods and
                                                             max(GENRE_PRIORS[genre].moods,
                                                                 key=GENRE_PRIORS[genre].moods.get),
                                                             )))  # fmt: skip
        assert np.all(np.isfinite(y)), genre
        assert np.max(np.abs(y)) <= 0.99, genre
        rms = float(np.sqrt(np.mean(y**2)))
        levels.append(20 * np.log10(rms))
        assert longest_silence_s(y) < 2.0, genre
        feats[genre] = _mean_logmel(y)
    ref = 20 * np.log10(TARGET_RMS)
    assert max(levels) - min(levels) < 3.0 and abs(np.median(levels) - ref) < 1.5, levels
    dist = {
        (a, b): float(np.linalg.norm(feats[a] - feats[b]))
        for a, b in itertools.combinations(feats, 2)
    }
    closest = min(dist, key=dist.get)
    assert dist[closest] > 5.0, (closest, dist[closest])


@pytest.mark.parametrize("mood", MOODS[:4])
def test_moods_render_within_loudness_band(mood):
    y = render_song(make_spec("pop", moods=(mood,), seed=4))
    assert abs(20 * np.log10(np.sqrt(np.mean(y**2))) - 20 * np.log10(TARGET_RMS)) < 1.5
    assert np.max(np.abs(y)) <= 0.99


def test_drum_machine_changes_the_sound():
    with_machine = make_spec("pop", instruments=("piano", "drum machine"))
    without = make_spec("pop", instruments=("piano",))
    a, b = render_song(with_machine), render_song(without)
    assert np.linalg.norm(_mean_logmel(a) - _mean_logmel(b)) > 5.0
    kit = [i for i in compose(with_machine).instruments if i.is_drum]
    assert kit and kit[0].program in (24, 25)  # Electronic / TR-808 kit of bank 128


def test_missing_soundfont_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        render_song(make_spec(), soundfont=tmp_path / "nope.sf2")
    with pytest.raises(ConfigError, match="does not exist"):
        RenderCache(tmp_path, soundfont=tmp_path / "nope.sf2")


def test_cache_returns_same_audio_and_evicts(tmp_path):
    cache = RenderCache(tmp_path / "c", max_bytes=10_000_000)
    spec = make_spec("house", duration_s=2.0)
    a = cache.get(spec)
    b = cache.get(spec)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, render_song(spec), atol=1e-4)
    path = cache.path_for(spec)
    assert path.exists() and path.suffix == ".flac"
    size = path.stat().st_size
    small = RenderCache(tmp_path / "small", max_bytes=int(size * 2.5))
    specs = [make_spec("house", seed=s, duration_s=2.0) for s in range(5)]
    for s in specs:
        small.get(s)
    assert small.size_bytes() <= size * 2.5 * 1.2
    assert small._file(specs[-1]).exists()  # the newest survives
    assert not small._file(specs[0]).exists()  # the oldest went first


def test_recipe_tables_fit_the_tags_and_broken_ones_are_named():
    assert recipes.table_problems() == []
    genres = {**GENRE_RECIPES, "rock": dataclasses.replace(GENRE_RECIPES["rock"], comp="polka")}
    moods = {k: v for k, v in recipes.MOOD_SHIFTS.items() if k != "sad"}
    tables = recipes.RecipeTables(genres=genres, moods=moods)
    problems = recipes.table_problems(tables)
    assert "rock: unknown comp 'polka'" in problems
    assert "mood shifts: missing or unknown ['sad']" in problems
