"""apron_core.audio: loading every format/rate, resampling, writing, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from apron_core.audio import (
    DEFAULT_SR,
    is_silent,
    load_audio,
    rms_db,
    trim_or_pad,
    validate_audio,
    write_audio,
)
from apron_core.errors import AudioError, ConfigError
from benchmarks.hostile_audio import HOSTILE, wide_and_fast

HAS_MP3 = "MP3" in sf.available_formats()  # pinned soundfile bundles libsndfile ≥ 1.1


def tone(sr: int, seconds: float, *, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def audio_dir(tmp_path):
    d = tmp_path / "audio"
    d.mkdir()
    return d


# --------------------------------------------------------------------------- loading


@pytest.mark.parametrize(
    ("ext", "file_sr", "channels"),
    [
        ("wav", 22050, 1),
        ("wav", 44100, 2),
        ("wav", 8000, 1),
        ("flac", 44100, 2),
        ("flac", 16000, 1),
        ("ogg", 44100, 2),
        ("ogg", 22050, 1),
        ("mp3", 44100, 2),
        ("mp3", 22050, 1),
    ],
)
def test_load_any_format_and_rate(audio_dir, ext, file_sr, channels):
    seconds = 2.0
    y = np.stack([tone(file_sr, seconds, freq=330.0 * (c + 1)) for c in range(channels)])
    path = write_audio(audio_dir / f"clip.{ext}", y if channels > 1 else y[0], sr=file_sr)
    out = load_audio(path, sr=DEFAULT_SR)
    assert out.dtype == np.float32
    assert out.ndim == 1
    # lossy codecs may add/drop a frame of padding; PCM is exact up to resampling rounding
    tol = 2 if ext in ("wav", "flac") else 0.06 * DEFAULT_SR
    assert abs(out.size - seconds * DEFAULT_SR) <= tol
    assert -30.0 < rms_db(out) < 0.0


def test_stereo_kept_channels_first(audio_dir):
    left, right = tone(44100, 1.0, freq=220.0), tone(44100, 1.0, freq=880.0, amp=0.1)
    path = write_audio(audio_dir / "st.wav", np.stack([left, right]), sr=44100)
    y = load_audio(path, sr=44100, mono=False)
    assert y.shape == (2, 44100)
    assert rms_db(y[0]) > rms_db(y[1]) + 10  # channel order preserved


def test_mono_downmix_is_channel_mean(audio_dir):
    left, right = tone(22050, 1.0, amp=0.4), tone(22050, 1.0, freq=660.0, amp=0.2)
    path = write_audio(audio_dir / "st.flac", np.stack([left, right]), sr=22050)
    y = load_audio(path, sr=22050)
    np.testing.assert_allclose(y, (left + right) / 2, atol=1e-4)  # 16-bit quantization


def test_resampling_keeps_pitch_and_length(audio_dir):
    path = write_audio(audio_dir / "t.wav", tone(8000, 1.5, freq=500.0), sr=8000)
    y = load_audio(path, sr=22050)
    assert y.size == round(1.5 * 22050)
    spectrum = np.abs(np.fft.rfft(y))
    peak_hz = np.argmax(spectrum) * 22050 / y.size
    assert abs(peak_hz - 500.0) < 2.0


def test_offset_and_duration_select_a_window(audio_dir):
    y = np.concatenate([tone(22050, 1.0, amp=0.1), tone(22050, 1.0, amp=0.8)])
    path = write_audio(audio_dir / "two.wav", y, sr=22050)
    part = load_audio(path, offset_s=1.0, duration_s=0.5)
    assert part.size == 11025
    assert rms_db(part) > rms_db(y[:22050]) + 10  # it is the loud second half


def test_over_long_file_refused_before_decoding(audio_dir, monkeypatch):
    path = write_audio(audio_dir / "long.wav", tone(8000, 3.0), sr=8000)
    calls = []
    real_read = sf.SoundFile.read

    def spy_read(self, *args, **kwargs):
        calls.append(args)
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", spy_read)
    with pytest.raises(AudioError, match=r"long\.wav.*3\.0 s long.*2 s limit"):
        load_audio(path, max_duration_s=2.0)
    assert calls == []  # refused from the header alone, nothing decoded
    assert load_audio(path, max_duration_s=None).size == 3 * DEFAULT_SR
    assert len(calls) == 1


# --------------------------------------------------------------------------- bad files


def _missing(d):
    return d / "nope.wav"


def _directory(d):
    p = d / "folder.wav"
    p.mkdir()
    return p


def _empty(d):
    p = d / "empty.wav"
    p.write_bytes(b"")
    return p


def _text(d):
    p = d / "notes.wav"
    p.write_text("this is not audio\n" * 50)
    return p


def _png(d):
    p = d / "cover.ogg"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(500))
    return p


def _truncated_wav(d):
    full = write_audio(d / "full.wav", tone(22050, 2.0), sr=22050)
    p = d / "cut.wav"
    data = full.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return p


def _truncated_flac(d):
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, 26460).astype(np.float32)
    full = write_audio(d / "full.flac", noise, sr=22050)
    p = d / "cut.flac"
    data = full.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return p


def _silent(d):
    return write_audio(d / "quiet.wav", np.zeros(22050, np.float32), sr=22050)


def _nearly_silent(d):
    return write_audio(d / "hiss.flac", tone(22050, 1.0, amp=1e-4), sr=22050)


def _nan(d):
    y = tone(22050, 1.0)
    y[100] = np.nan
    p = d / "nan.wav"
    sf.write(p, y, 22050, subtype="FLOAT")  # float WAV can store NaN
    return p


def _over_long(d):
    return write_audio(d / "longish.wav", tone(8000, 2.0), sr=8000)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_missing, "not found"),
        (_directory, "directory"),
        (_empty, "empty"),
        (_text, "not an audio file"),
        (_png, "not an audio file"),
        (_truncated_wav, "truncated"),
        (_truncated_flac, "truncated"),
        (_silent, "silent"),
        (_nearly_silent, "silent"),
        (_nan, "non-finite"),
        (_over_long, "limit"),
    ],
)
def test_bad_files_raise_audio_error_naming_the_file(audio_dir, make, message):
    path = make(audio_dir)
    with pytest.raises(AudioError) as info:
        load_audio(path, max_duration_s=1.5)
    text = str(info.value)
    assert path.name in text
    assert message in text


def test_mp3_is_supported():
    """MP3 input is promised (docs/design.md §5); fail, not skip, if libsndfile lacks it."""
    assert HAS_MP3


def test_truncated_mp3_refused(audio_dir):
    full = write_audio(audio_dir / "full.mp3", tone(22050, 4.0), sr=22050)
    cut = audio_dir / "cut.mp3"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(AudioError, match=r"cut\.mp3.*truncated"):
        load_audio(cut)


@pytest.mark.parametrize(
    "kwargs",
    [{"sr": 0}, {"sr": 22050.5}, {"offset_s": -1.0}, {"duration_s": 0.0}, {"max_duration_s": -5}],
)
def test_bad_load_arguments_raise_config_error(audio_dir, kwargs):
    path = write_audio(audio_dir / "ok.wav", tone(22050, 1.0), sr=22050)
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        load_audio(path, **kwargs)


def test_offset_past_end(audio_dir):
    path = write_audio(audio_dir / "short.wav", tone(22050, 1.0), sr=22050)
    with pytest.raises(AudioError, match=r"short\.wav"):
        load_audio(path, offset_s=5.0)


# --------------------------------------------------------------------------- signals


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.array([0.1, np.nan, 0.2], np.float32), "non-finite"),
        (np.array([0.1, np.inf], np.float64), "non-finite"),
        (np.zeros(0, np.float32), "empty"),
        (np.zeros((2, 3, 4), np.float32), "shape"),
        (np.arange(10, dtype=np.int16), "dtype"),
        ([0.1, 0.2], "numpy array"),
    ],
)
def test_validate_audio_rejects_bad_signals(y, message):
    with pytest.raises(AudioError, match=message) as info:
        validate_audio(y, sr=22050, name="my_clip")
    assert "my_clip" in str(info.value)


@pytest.mark.parametrize("sr", [0, -1, 44.1, None, True])
def test_validate_audio_rejects_bad_sr(sr):
    with pytest.raises(ConfigError, match="sr="):
        validate_audio(np.zeros(10, np.float32), sr=sr)


def test_validate_audio_accepts_mono_and_channels_first():
    validate_audio(np.zeros(10, np.float32), sr=8000)
    validate_audio(np.zeros((2, 10), np.float64), sr=np.int64(8000))


def test_rms_db_and_is_silent(rng):
    assert rms_db(np.ones(100)) == pytest.approx(0.0)
    assert rms_db(np.full(100, 0.1)) == pytest.approx(-20.0)
    assert rms_db(np.zeros(5)) == float("-inf")
    assert is_silent(np.zeros(100))
    assert is_silent(np.full(100, 1e-4))  # -80 dBFS
    assert not is_silent(0.01 * rng.standard_normal(1000))  # about -40 dBFS
    assert not is_silent(np.full(100, 1e-4), threshold_db=-90.0)


def test_trim_or_pad():
    y = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(trim_or_pad(y, n_samples=3), [0, 1, 2])
    np.testing.assert_array_equal(trim_or_pad(y, n_samples=7), [0, 1, 2, 3, 4, 0, 0])
    assert trim_or_pad(np.ones((2, 5)), n_samples=8).shape == (2, 8)
    with pytest.raises(ConfigError, match="n_samples"):
        trim_or_pad(y, n_samples=-1)


# --------------------------------------------------------------------------- writing


def test_write_creates_parents_and_round_trips(tmp_path):
    y = tone(16000, 1.0)
    path = write_audio(tmp_path / "a" / "b" / "x.flac", y, sr=16000)
    assert path.is_file()
    assert sf.info(path).format == "FLAC"
    np.testing.assert_allclose(load_audio(path, sr=16000), y, atol=1e-4)
    assert not list(path.parent.glob(".*.tmp"))  # temp file renamed away


def test_write_clips_out_of_range(tmp_path):
    path = write_audio(tmp_path / "loud.wav", np.array([2.0, -3.0, 0.5] * 5000), sr=8000)
    y = load_audio(path, sr=8000)
    assert y.max() <= 1.0
    assert y.min() >= -1.0
    assert y.max() > 0.99  # clipped, not wrapped around


def test_ogg_size_is_reasonable(tmp_path, rng):
    # 10 s of a chord + percussive noise, 22.05 kHz mono
    sr = 22050
    t = np.arange(10 * sr) / sr
    chord = sum(0.1 * np.sin(2 * np.pi * f * t) for f in (131, 165, 196, 262, 523))
    hats = 0.08 * rng.standard_normal(t.size) * np.exp(-(t % 0.25) * 40)
    y = (chord + hats).astype(np.float32)
    size = write_audio(tmp_path / "clip.ogg", y, sr=sr).stat().st_size
    assert 30_000 < size < 110_000
    smaller = write_audio(tmp_path / "low.ogg", y, sr=sr, quality=0.1).stat().st_size
    assert smaller < size


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("x.aiff", {}, "not supported"),
        ("x.wav", {"format": "m4a"}, "not supported"),
        ("x.ogg", {"quality": 1.5}, "quality"),
    ],
)
def test_write_rejects_bad_arguments(tmp_path, name, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        write_audio(tmp_path / name, tone(8000, 0.1), sr=8000, **kwargs)


# --------------------------------------------------------------------------- hostile files


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_end_in_a_clear_error_naming_the_file(tmp_path, name):
    build, message = HOSTILE[name]
    path = build(tmp_path)
    try:
        y = load_audio(path, sr=22050, duration_s=30.0)
    except AudioError as e:
        text = str(e)
        assert path.name in text
        if message is not None:
            assert message in text
        assert len(text) < 400
        return
    assert message is None, f"{name} decoded to {y.shape}; expected an error with {message!r}"
    assert y.ndim == 1 and np.all(np.isfinite(y))


@pytest.mark.parametrize("name", ["many channels", "4 MHz rate", "50 Hz rate", "16 minutes"])
def test_hostile_headers_are_refused_before_any_decoding(tmp_path, monkeypatch, name):
    path = HOSTILE[name][0](tmp_path)
    calls = []
    monkeypatch.setattr(sf.SoundFile, "read", lambda *a, **k: calls.append(a))
    with pytest.raises(AudioError):
        load_audio(path, sr=22050)
    assert calls == []


def test_size_limit_is_checked_first(audio_dir):
    path = write_audio(audio_dir / "big.wav", tone(22050, 1.0), sr=22050)
    with pytest.raises(AudioError, match=r"big\.wav.*MB, over the 0\.01 MB limit"):
        load_audio(path, max_bytes=10_000)
    assert load_audio(path, max_bytes=None).size == 22050


def test_wide_fast_file_decodes_its_window_in_bounded_memory(tmp_path):
    """8 channels at 96 kHz for 40 s: reading the 30-s window at once would hold
    8 × 96,000 × 30 × 4 B = 92 MB; block-wise downmix and resampling keep it small."""
    import tracemalloc

    path = wide_and_fast(tmp_path, seconds=40.0)
    tracemalloc.start()
    try:
        y = load_audio(path, sr=22050, duration_s=30.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert y.shape == (30 * 22050,)
    assert peak < 32e6, f"peak {peak / 1e6:.1f} MB"


def test_blockwise_decoding_equals_whole_file_decoding(tmp_path, rng):
    """Block-wise downmix + streaming resampling give what a whole-file decode gives."""
    import soxr

    n = 44100 * 3 + 12345  # not a multiple of the block size
    stereo = rng.uniform(-0.5, 0.5, (n, 2)).astype(np.float32)
    sf.write(tmp_path / "s.flac", stereo, 44100, subtype="PCM_24")
    whole, _ = sf.read(tmp_path / "s.flac", dtype="float32")
    expected = soxr.resample(whole.mean(axis=1), 44100, 22050, quality="HQ")
    got = load_audio(tmp_path / "s.flac", sr=22050)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5)
    kept = load_audio(tmp_path / "s.flac", sr=44100, mono=False)
    np.testing.assert_allclose(kept, whole.T, atol=1e-7)
