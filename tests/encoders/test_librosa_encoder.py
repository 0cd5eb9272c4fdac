"""apron_core.encoders: the registry, normalization, persistence and the librosa encoder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from apron_core.audio import write_audio
from apron_core.encoders import (
    ENCODER_FILE,
    Encoder,
    available_encoders,
    embed_many,
    get_encoder,
    load_encoder,
)
from apron_core.encoders.librosa_encoder import LibrosaEncoder, LibrosaEncoderConfig
from apron_core.errors import AudioError, ConfigError, DataError

SR = 22050


@pytest.fixture(scope="module")
def encoder() -> LibrosaEncoder:
    return get_encoder("librosa")


def tone(seconds: float = 2.0, freq: float = 440.0, amp: float = 0.4) -> np.ndarray:
    t = np.arange(round(SR * seconds)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(rng, seconds: float = 2.0) -> np.ndarray:
    return (0.2 * rng.standard_normal(round(SR * seconds))).astype(np.float32)


def clicks(seconds: float = 2.0, per_s: int = 4) -> np.ndarray:
    y = np.zeros(round(SR * seconds), np.float32)
    y[:: SR // per_s] = 0.9
    return y


def catalog(rng, n: int = 12) -> list[np.ndarray]:
    """Varied 1.5 s clips: tones of several pitches/levels, some with noise or clicks."""
    out = []
    for i in range(n):
        y = tone(1.5, freq=110.0 * (1 + i % 5), amp=0.1 + 0.05 * i)
        if i % 3 == 1:
            y = y + 0.05 * noise(rng, 1.5)
        if i % 3 == 2:
            y = y + clicks(1.5, per_s=2 + i % 4)
        out.append(y.astype(np.float32))
    return out


@pytest.fixture
def fitted(rng) -> LibrosaEncoder:
    enc = get_encoder("librosa")
    enc.fit_normalization(embed_many(enc, catalog(rng), normalize=False, progress=False))
    return enc


# --------------------------------------------------------------------------- registry


def test_registry_knows_librosa():
    assert "librosa" in available_encoders()
    enc = get_encoder("librosa", n_mels=32)
    assert isinstance(enc, LibrosaEncoder)
    assert enc.name == "librosa"
    assert enc.sr == SR
    assert enc.config.n_mels == 32


def test_unknown_encoder_name_lists_known_ones():
    with pytest.raises(ConfigError, match=r"unknown encoder 'wav2vec'.*librosa"):
        get_encoder("wav2vec")


def test_unknown_config_field_raises():
    with pytest.raises(ConfigError, match="n_bins"):
        get_encoder("librosa", n_bins=12)


@pytest.mark.parametrize(
    "kwargs",
    [{"n_fft": 0}, {"hop_length": 4096}, {"n_mfcc": 80}, {"min_duration_s": 0}, {"sr": 8000}],
)
def test_bad_config_raises(kwargs):
    with pytest.raises(ConfigError):
        LibrosaEncoderConfig(**kwargs)


# --------------------------------------------------------------------------- features


def test_dim_matches_feature_length(encoder, rng):
    assert encoder.dim == 261
    f = encoder.raw_features(noise(rng))
    assert f.shape == (encoder.dim,)
    assert f.dtype == np.float32
    assert np.all(np.isfinite(f))


def test_dim_follows_config(rng):
    enc = get_encoder("librosa", n_mels=32, n_mfcc=13)
    assert enc.dim == 261 - 2 * 32 - 3 * 7
    assert enc.raw_features(noise(rng)).shape == (enc.dim,)


def test_features_are_deterministic(encoder, rng):
    y = noise(rng) + tone()
    a = encoder.raw_features(y)
    b = get_encoder("librosa").raw_features(y.copy())
    np.testing.assert_array_equal(a, b)


def test_different_signals_give_different_features(encoder, rng):
    feats = {
        "tone": encoder.raw_features(tone()),
        "noise": encoder.raw_features(noise(rng)),
        "clicks": encoder.raw_features(clicks()),
    }
    names = list(feats)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            rel = np.linalg.norm(feats[a] - feats[b]) / np.linalg.norm(feats[a])
            assert rel > 0.1, (a, b)


def test_features_mean_something(encoder, rng):
    """Spot checks on named blocks: noise is flatter and brighter than a tone."""
    k_flat = 2 * 64 + 3 * 20 + 24 + 14 + 6  # mean log10 flatness
    k_centroid = 2 * 64 + 3 * 20 + 24 + 14  # mean centroid (kHz)
    ft, fn = encoder.raw_features(tone(freq=440.0)), encoder.raw_features(noise(rng))
    assert fn[k_flat] > ft[k_flat] + 2  # orders of magnitude flatter
    assert ft[k_centroid] < 1.0 < fn[k_centroid]


def test_long_signal_is_cut_to_max_duration(rng):
    enc = get_encoder("librosa", max_duration_s=2.0)
    y = noise(rng, 2.0)
    longer = np.concatenate([y, tone(3.0)])
    np.testing.assert_array_equal(enc.raw_features(longer), enc.raw_features(y))


@pytest.mark.parametrize(
    ("y", "error", "message"),
    [
        (tone(0.5), AudioError, "at least 1 s"),
        (np.zeros(SR * 2, np.float32), AudioError, "silent"),
        (np.full(SR * 2, np.nan, np.float32), AudioError, "non-finite"),
        (np.stack([tone(), tone()]), ConfigError, "mono"),
    ],
)
def test_bad_signals_raise(encoder, y, error, message):
    with pytest.raises(error, match=message):
        encoder.raw_features(y)


# --------------------------------------------------------------------------- normalization


def test_unfitted_embed_raises(encoder):
    with pytest.raises(ConfigError, match="not fitted: call fit_normalization"):
        encoder.embed(tone())


def test_normalized_catalog_has_zero_mean_unit_std(rng):
    enc = get_encoder("librosa")
    raw = embed_many(enc, catalog(rng), normalize=False, progress=False)
    assert enc.fit_normalization(raw) is enc
    z = enc.transform(raw)
    assert z.shape == raw.shape
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-4)
    std = z.std(axis=0)
    varying = raw.std(axis=0) > 1e-6
    np.testing.assert_allclose(std[varying], 1.0, atol=1e-3)
    assert np.all(np.isfinite(z))


def test_constant_dims_are_centred_not_blown_up():
    enc = get_encoder("librosa")
    raw = np.zeros((5, enc.dim))
    raw[:, 0] = np.arange(5)
    raw[:, 1] = 7.0  # constant
    enc.fit_normalization(raw)
    probe = np.zeros(enc.dim)
    probe[1] = 7.5
    assert enc.transform(probe)[1] == pytest.approx(0.5)


def test_embed_matches_transform_of_raw(fitted, rng):
    y = noise(rng) + tone()
    z = fitted.embed(y)
    np.testing.assert_allclose(z, fitted.transform(fitted.raw_features(y)), rtol=1e-6)
    assert z.shape == (fitted.dim,)


@pytest.mark.parametrize(
    ("raw", "error"),
    [(np.zeros((10, 5)), ConfigError), (np.zeros((1, 261)), DataError)],
)
def test_fit_normalization_rejects_bad_input(raw, error):
    with pytest.raises(error):
        get_encoder("librosa").fit_normalization(raw)


def test_fit_normalization_rejects_nan_rows():
    raw = np.zeros((4, 261))
    raw[2, 5] = np.nan
    with pytest.raises(DataError, match=r"rows \[2\]"):
        get_encoder("librosa").fit_normalization(raw)


def test_embed_many_names_the_failing_signal(fitted, rng):
    with pytest.raises(AudioError, match=r"signal 1: .*silent"):
        embed_many(fitted, [tone(), np.zeros(SR * 2, np.float32)], progress=False)


# --------------------------------------------------------------------------- persistence


def test_save_load_round_trip_is_identical(fitted, tmp_path, rng):
    path = fitted.save(tmp_path / "enc")
    assert path.name == ENCODER_FILE
    state = json.loads(path.read_text())
    assert state["encoder"] == "librosa"
    assert state["format_version"] == 1
    assert state["config"]["n_mels"] == 64
    assert len(state["mean"]) == len(state["std"]) == fitted.dim

    for loaded in (load_encoder(tmp_path / "enc"), LibrosaEncoder.load(tmp_path / "enc")):
        assert isinstance(loaded, LibrosaEncoder)
        assert loaded.config == fitted.config
        y = noise(rng) + tone()
        np.testing.assert_array_equal(loaded.embed(y), fitted.embed(y))


def test_load_keeps_custom_config(tmp_path, rng):
    enc = get_encoder("librosa", n_mels=32, n_mfcc=13)
    enc.fit_normalization(embed_many(enc, catalog(rng, 4), normalize=False, progress=False))
    enc.save(tmp_path)
    loaded = load_encoder(tmp_path)
    assert loaded.config.n_mels == 32
    assert loaded.dim == enc.dim


def test_save_unfitted_raises(tmp_path):
    with pytest.raises(ConfigError, match="not fitted"):
        get_encoder("librosa").save(tmp_path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.update(format_version=99), "format_version"),
        (lambda s: s.update(encoder="nope"), "unknown encoder"),
        (lambda s: s.update(mean=s["mean"][:-1]), "do not match"),
        (lambda s: s["config"].update(bogus=1), "bogus"),
    ],
)
def test_load_rejects_bad_state(fitted, tmp_path, edit, message):
    path = fitted.save(tmp_path)
    state = json.loads(path.read_text())
    edit(state)
    path.write_text(json.dumps(state))
    with pytest.raises(ConfigError, match=message):
        load_encoder(tmp_path)


def test_load_missing_or_garbled(tmp_path):
    with pytest.raises(ConfigError, match="no saved encoder"):
        load_encoder(tmp_path)
    (tmp_path / ENCODER_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read"):
        load_encoder(tmp_path)


# --------------------------------------------------------------------------- files


def test_embed_file_any_format_matches_signal(fitted, tmp_path, rng):
    y = (tone(2.0, freq=330.0) + 0.05 * noise(rng)).astype(np.float32)
    wav = write_audio(tmp_path / "a.wav", y, sr=SR)
    stereo = write_audio(tmp_path / "b.flac", np.stack([y, y]), sr=SR)
    z = fitted.embed_file(wav)
    assert z.shape == (fitted.dim,)
    np.testing.assert_array_equal(z, fitted.transform(fitted.raw_features_file(wav)))
    # WAV, FLAC and the in-memory signal differ by 16-bit rounding only; the low-band
    # spectral-contrast valleys are the most sensitive features (a few percent).
    raw_wav, raw_flac = fitted.raw_features_file(wav), fitted.raw_features_file(stereo)
    raw_mem = fitted.raw_features(y)
    np.testing.assert_allclose(raw_flac, raw_wav, rtol=0.05, atol=0.01)
    np.testing.assert_allclose(raw_mem, raw_wav, rtol=0.05, atol=0.01)
    assert not np.allclose(raw_wav, fitted.raw_features(tone(2.0, freq=880.0)), rtol=0.05)


def test_embed_file_errors_name_the_file(fitted, tmp_path):
    bad = tmp_path / "broken.mp3"
    bad.write_text("not audio")
    with pytest.raises(AudioError, match=r"broken\.mp3"):
        fitted.embed_file(bad)
    with pytest.raises(ConfigError, match="sr"):
        fitted.embed_file(bad, sr=16000)


def test_embed_file_decodes_only_max_duration(tmp_path, rng, monkeypatch):
    enc = get_encoder("librosa", max_duration_s=2.0)
    path = write_audio(tmp_path / "long.wav", noise(rng, 5.0), sr=SR)
    seen = []
    monkeypatch.setattr(enc, "raw_features", lambda y: seen.append(y.size) or np.zeros(enc.dim))
    enc.raw_features_file(path)
    assert seen == [2 * SR]


def test_encoder_is_abstract():
    with pytest.raises(TypeError):
        Encoder()
