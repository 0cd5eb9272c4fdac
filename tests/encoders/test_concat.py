"""musicnn+librosa: its features are its parts' (musicnn on the 16-kHz resampled signal),
its blocks balanced, its state saved and restored exactly, its config checked."""

from __future__ import annotations

import numpy as np
import pytest

from apron_core.encoders import get_encoder, load_encoder, resample
from apron_core.encoders.concat import ConcatEncoder, block_weights
from apron_core.errors import ConfigError

SR = 22050


def song(rng: np.random.Generator, seconds: float = 3.5) -> np.ndarray:
    """A chord with a pulse and a little noise, mono float32 at 22,050 Hz."""
    t = np.arange(round(seconds * SR)) / SR
    f0 = rng.uniform(100, 300)
    y = sum(np.sin(2 * np.pi * f0 * r * t) / (i + 1) for i, r in enumerate((1, 1.25, 1.5, 2)))
    y = y * (0.6 + 0.4 * np.exp(-8 * (t % rng.uniform(0.3, 0.6))))
    return (0.2 * y / np.abs(y).max() + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def encoder() -> ConcatEncoder:
    return get_encoder("musicnn+librosa", musicnn_layer="taggram")


def test_features_are_the_parts_side_by_side(encoder, rng):
    y = song(rng)
    musicnn, librosa = encoder.parts()
    assert (musicnn.name, musicnn.sr, librosa.name, librosa.sr) == ("musicnn", 16000, "librosa", SR)
    assert encoder.dim == 50 + 261 == musicnn.dim + librosa.dim
    got = encoder.raw_features(y)
    np.testing.assert_allclose(got[:50], musicnn.raw_features(resample(y, SR, 16000)), atol=1e-6)
    np.testing.assert_array_equal(got[50:], librosa.raw_features(y))
    # the parts are the standalone encoders (same cache keys), so cached parts are shared
    assert musicnn.feature_key() == get_encoder("musicnn", layer="taggram").feature_key()
    assert librosa.feature_key() == get_encoder("librosa").feature_key()
    assert encoder.feature_key() != get_encoder("musicnn+librosa").feature_key()
    assert encoder.describe() == "musicnn (MSD weights, taggram layer) + librosa"


def test_balanced_blocks_carry_equal_variance_and_survive_save_load(encoder, rng, tmp_path):
    raw = rng.standard_normal((40, encoder.dim)) * rng.uniform(0.1, 9.0, encoder.dim) + 3.0
    z = encoder.fit_normalization(raw).transform(raw)
    variance = z.var(0)
    musicnn_total, librosa_total = variance[:50].sum(), variance[50:].sum()
    assert musicnn_total == pytest.approx(librosa_total, rel=1e-4)
    assert musicnn_total + librosa_total == pytest.approx(encoder.dim, rel=1e-4)
    plain = get_encoder("musicnn+librosa", musicnn_layer="taggram", balance=False)
    np.testing.assert_allclose(plain.fit_normalization(raw).transform(raw).var(0), 1.0, rtol=1e-4)
    encoder.save(tmp_path)
    again = load_encoder(tmp_path)
    assert isinstance(again, ConcatEncoder) and again.config == encoder.config
    np.testing.assert_array_equal(again.transform(raw), z)


def test_block_weights():
    w = block_weights([1, 3])
    np.testing.assert_allclose(w, [np.sqrt(4 / 2), *[np.sqrt(4 / 6)] * 3])
    assert (w[:1] ** 2).sum() == pytest.approx((w[1:] ** 2).sum())


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("musicnn_weights", "imagenet", "musicnn_weights='imagenet'"),
        ("musicnn_layer", "conv3", "musicnn_layer='conv3'"),
        ("balance", "yes", "balance='yes'"),
        ("sr", 16000, "sr=16000"),
    ],
)
def test_bad_config_names_the_value(field, value, message):
    with pytest.raises(ConfigError, match=message):
        get_encoder("musicnn+librosa", **{field: value})


def test_embed_audio_and_prepare_accept_musicnn_librosa(tmp_path, rng, capsys):
    from types import SimpleNamespace

    from apron_core.audio import write_audio
    from apron_core.sources.features import source_encoder
    from training import embed_audio, prepare, prepare_msd

    audio = tmp_path / "audio"
    audio.mkdir()
    for i in range(2):
        write_audio(audio / f"song{i}.wav", song(rng, 3.5), sr=SR)
    out = tmp_path / "emb"
    args = ["--encoder", "musicnn+librosa", "--weights", "mtt", "--layer", "taggram"]
    args += ["--audio", str(audio), "--output", str(out), "--no-progress"]
    assert embed_audio.main(args) == 0
    assert "2 embedded now" in capsys.readouterr().out
    enc = load_encoder(out)
    assert (enc.name, enc.dim) == ("musicnn+librosa", 311)
    assert (enc.config.musicnn_weights, enc.config.musicnn_layer) == ("mtt", "taggram")
    assert embed_audio.main(args) == 0  # resumed: nothing left to do
    assert "0 embedded now, 2 already done" in capsys.readouterr().out
    a = prepare_msd.parse_args(["--msd-dir", "x", "--encoder", "musicnn+librosa"])
    assert prepare.config_from_args(a).encoder == "musicnn+librosa"
    enc = source_encoder(SimpleNamespace(embeddings=None), "musicnn+librosa")
    assert isinstance(enc, ConcatEncoder)
