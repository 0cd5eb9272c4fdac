"""The world's feature cache: keys that change with what the audio depends on, entries that
round-trip or fail naming the file, and a render pass that computes only what is missing,
part by part (a composite encoder reuses its parts' entries and leaves them untouched)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from apron_core.encoders import Encoder, get_encoder, register_encoder
from apron_core.encoders.librosa_encoder import LibrosaEncoder
from apron_core.errors import ConfigError, DataError
from apron_core.world.build import WorldConfig, read_features, render_features, render_pool
from apron_core.world.catalog import make_catalog
from apron_core.world.feature_cache import FeatureCache, song_key
from apron_core.world.render import RENDERER_VERSION, default_soundfont, render_song
from apron_core.world.spec import SongSpec
from tests.worlds import TINY_WORLD


@dataclasses.dataclass(frozen=True)
class LoudConfig:
    sr: int = 8000


@register_encoder
class LoudEncoder(Encoder):
    """Two numbers per clip (RMS and peak) at 8 kHz: a cheap part with its own rate."""

    name = "test-loud"
    config_cls = LoudConfig

    @property
    def dim(self) -> int:
        return 2

    def raw_features(self, y: np.ndarray) -> np.ndarray:
        y = self._check_signal(y)
        return np.array([np.sqrt(np.mean(y**2)), np.abs(y).max()], dtype=np.float32)


@register_encoder
class LoudLibrosaEncoder(Encoder):
    """test-loud then librosa, as musicnn+librosa is built."""

    name = "test-loud+librosa"
    config_cls = LoudConfig

    def __init__(self, config=None, **overrides) -> None:
        super().__init__(config, **overrides)
        self._parts = [LoudEncoder(), LibrosaEncoder()]

    @property
    def dim(self) -> int:
        return 2 + 261

    def parts(self) -> list[Encoder]:
        return self._parts

    def raw_features(self, y: np.ndarray) -> np.ndarray:
        return self.join_parts([p.raw_features_at(y, self.sr) for p in self._parts])


def spec_dict(seed: int = 3) -> dict:
    return SongSpec("s1", seed, "rock", "1990s", 1994, ("happy",), ("piano",), 3.0).to_dict()


def key_of(spec: dict, **changes) -> str:
    args = dict(sr=22050, soundfont=default_soundfont(), excerpt=(0.5, 2.0), renderer="1")
    return song_key(spec, **{**args, **changes})


def test_song_key_changes_with_what_the_audio_depends_on():
    base = key_of(spec_dict())
    assert base == key_of(spec_dict()) and len(base) == 32
    changed = [
        key_of(spec_dict(seed=4)),
        key_of(spec_dict(), sr=16000),
        key_of(spec_dict(), excerpt=(0.0, 2.0)),
        key_of(spec_dict(), renderer="2"),
    ]
    assert base not in changed and len(set(changed)) == len(changed)


def test_entries_round_trip_and_bad_ones_name_their_file(tmp_path, rng):
    cache = FeatureCache(tmp_path)
    song, clip = rng.standard_normal(5), rng.standard_normal(5)
    assert not cache.has("k", "enc-v1-abc")
    cache.put("k", "enc-v1-abc", song, clip)
    cache.put_quality("k", {"rms_db": -20.0, "peak": 0.5, "longest_silence_s": 0.0})
    got_song, got_clip = cache.get("k", "enc-v1-abc", 5)
    np.testing.assert_allclose(got_song, song, rtol=1e-6)
    np.testing.assert_allclose(got_clip, clip, rtol=1e-6)
    assert cache.get_quality("k")["peak"] == 0.5
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temporary file
    with pytest.raises(DataError, match=r"enc-v1-abc/k\.npy have shape \(2, 5\)"):
        cache.get("k", "enc-v1-abc", 7)
    (tmp_path / "enc-v1-abc" / "k.npy").write_bytes(b"not numpy")
    with pytest.raises(DataError, match=r"k\.npy cannot be read.*delete it"):
        cache.get("k", "enc-v1-abc", 5)


def test_feature_key_names_encoder_version_and_config():
    key = get_encoder("librosa").feature_key()
    assert key.startswith("librosa-v1-") and key == get_encoder("librosa").feature_key()
    assert get_encoder("librosa", n_mfcc=13).feature_key() != key


@pytest.mark.slow
def test_render_pass_computes_only_missing_parts(tmp_path):
    specs = make_catalog(TINY_WORLD.catalog).specs[:5]
    catalog = SimpleNamespace(specs=specs)
    cache = FeatureCache(tmp_path)

    def run(encoder: str) -> tuple[list[str], int, WorldConfig]:
        cfg = dataclasses.replace(TINY_WORLD, encoder=encoder, workers=1)
        with render_pool(cfg, cache) as pool_map:
            keys, rendered = render_features(catalog, cfg, cache, pool_map, progress=False)
        return keys, rendered, cfg

    keys, rendered, loud = run("test-loud")
    assert rendered == 5 and len(set(keys)) == 5
    loud_key = LoudEncoder().feature_key()
    mtimes = [(tmp_path / loud_key / f"{k}.npy").stat().st_mtime_ns for k in keys]
    _, rendered, pair = run("test-loud+librosa")  # only the librosa part is missing
    assert rendered == 5
    assert [(tmp_path / loud_key / f"{k}.npy").stat().st_mtime_ns for k in keys] == mtimes
    _, rendered, alone = run("librosa")
    assert rendered == 0  # every part cached: nothing rendered

    song_l, clip_l, stats = read_features(keys, loud, cache)
    song_p, clip_p, _ = read_features(keys, pair, cache)
    song_a, clip_a, _ = read_features(keys, alone, cache)
    np.testing.assert_array_equal(song_p, np.hstack([song_l, song_a]))
    np.testing.assert_array_equal(clip_p, np.hstack([clip_l, clip_a]))
    assert list(stats.columns) == ["rms_db", "peak", "longest_silence_s"] and len(stats) == 5

    y = render_song(specs[0], sr=22050)  # what was cached is what the encoder computes
    start, length = TINY_WORLD.excerpt()
    clip = y[int(start * 22050) : int(start * 22050) + int(length * 22050)]
    np.testing.assert_allclose(song_a[0], LibrosaEncoder().raw_features(y), rtol=1e-6)
    np.testing.assert_allclose(clip_l[0], LoudEncoder().raw_features_at(clip, 22050), rtol=1e-6)
    assert keys[0] == song_key(
        specs[0].to_dict(),
        sr=22050,
        soundfont=default_soundfont(),
        excerpt=TINY_WORLD.excerpt(),
        renderer=RENDERER_VERSION,
    )


def test_world_config_names_an_unknown_encoder():
    with pytest.raises(ConfigError, match=r"encoder='wav2vec'.*use one of"):
        WorldConfig(encoder="wav2vec")
