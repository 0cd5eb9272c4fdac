"""Hostile audio files, built on the spot: what the worst visitor of a public Space uploads.

Shared by the tests (each file must end in a clear AudioError, or decode within bounded
memory) and by `benchmarks.bench_uploads` (time to refuse, peak memory). Every file is
small on disk; several lie in their header about what decoding would cost.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf


def _tone(sr: int, seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(round(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def wav_header(*, channels: int, sr: int, bits: int = 16, data_bytes: int) -> bytes:
    """A canonical 44-byte PCM WAV header; every field is whatever the caller claims."""
    block = channels * bits // 8
    return (
        b"RIFF"
        + struct.pack("<I", (36 + data_bytes) & 0xFFFFFFFF)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, sr, sr * block, block, bits)
        + b"data"
        + struct.pack("<I", data_bytes & 0xFFFFFFFF)
    )


def _raw_wav(path: Path, *, channels: int, sr: int, claim_bytes: int, real_bytes: int) -> Path:
    rng = np.random.default_rng(0)
    body = (rng.integers(-8000, 8000, real_bytes // 2, dtype=np.int16)).tobytes()
    path.write_bytes(wav_header(channels=channels, sr=sr, data_bytes=claim_bytes) + body)
    return path


def many_channels(d: Path) -> Path:
    """64 channels declared (and present): a 64-fold decode for one upload."""
    return _raw_wav(d / "many_channels.wav", channels=64, sr=44100, claim_bytes=64 * 2 * 4410,
                    real_bytes=64 * 2 * 4410)  # fmt: skip


def nine_channels(d: Path) -> Path:
    """One channel over the limit, a real file."""
    y = np.tile(_tone(22050, 0.5), (9, 1)).T  # (n, 9)
    sf.write(d / "nine_channels.wav", y, 22050, subtype="PCM_16")
    return d / "nine_channels.wav"


def huge_rate(d: Path) -> Path:
    """A header claiming 4 MHz: resampling from it costs ~100× a normal file."""
    return _raw_wav(d / "huge_rate.wav", channels=1, sr=4_000_000, claim_bytes=88200,
                    real_bytes=88200)  # fmt: skip


def tiny_rate(d: Path) -> Path:
    """A header claiming 50 Hz: one second of it upsamples 441-fold."""
    return _raw_wav(d / "tiny_rate.wav", channels=1, sr=50, claim_bytes=20000, real_bytes=20000)


def two_hour_header(d: Path) -> Path:
    """Mono 44.1 kHz, header promising 2 hours; 1 s of data present."""
    return _raw_wav(d / "two_hours.wav", channels=1, sr=44100, claim_bytes=2 * 3600 * 88200,
                    real_bytes=88200)  # fmt: skip


def huge_data_chunk(d: Path) -> Path:
    """The largest data size a WAV header can hold (4 GiB) in a 1-second file."""
    return _raw_wav(d / "four_gib.wav", channels=2, sr=44100, claim_bytes=0xFFFFFFF0,
                    real_bytes=4 * 44100)  # fmt: skip


def truncated(d: Path) -> Path:
    full = d / "whole.wav"
    sf.write(full, _tone(22050, 4.0), 22050, subtype="PCM_16")
    data = full.read_bytes()
    full.unlink()
    (d / "truncated.wav").write_bytes(data[: len(data) // 3])
    return d / "truncated.wav"


def zero_bytes(d: Path) -> Path:
    (d / "zero.ogg").write_bytes(b"")
    return d / "zero.ogg"


def header_only(d: Path) -> Path:
    """A WAV header and no samples."""
    (d / "header_only.wav").write_bytes(wav_header(channels=1, sr=22050, data_bytes=0))
    return d / "header_only.wav"


def html_as_mp3(d: Path) -> Path:
    page = "<!doctype html><html><body><script>alert(1)</script>" + "x" * 5000 + "</body></html>"
    (d / "song.mp3").write_text(page)
    return d / "song.mp3"


def garbage_mp3(d: Path) -> Path:
    """MPEG frame-sync bytes followed by noise: decoders try hard on these."""
    rng = np.random.default_rng(1)
    body = b"ID3\x03\x00\x00\x00\x00\x00\x00" + (b"\xff\xfb\x90\x64" + rng.bytes(413)) * 200
    (d / "garbage.mp3").write_bytes(body)
    return d / "garbage.mp3"


def markup_name(d: Path) -> Path:
    """A decodable file whose *name* is an HTML injection attempt."""
    p = d / "<img src=x onerror=alert(1)>.wav"
    sf.write(p, _tone(22050, 0.2) * 0, 22050, subtype="PCM_16")  # silent: refused, name quoted
    return p


def over_fifteen_minutes(d: Path) -> Path:
    """A real 16-minute file (8 kHz mono FLAC, a few MB): refused from its header."""
    y = 0.01 * _tone(8000, 16 * 60.0, freq=100.0)
    sf.write(d / "sixteen_minutes.flac", y, 8000, subtype="PCM_16")
    return d / "sixteen_minutes.flac"


def wide_and_fast(d: Path, seconds: float = 40.0) -> Path:
    """A valid 8-channel 96 kHz FLAC (~small on disk: seven silent channels compress to
    nothing); decoding all of it at once would take 8 × 96,000 × 4 B per second."""
    y = np.zeros((round(96_000 * seconds), 8), np.float32)
    y[:, 0] = _tone(96_000, seconds)
    sf.write(d / "wide_and_fast.flac", y, 96_000, subtype="PCM_16")
    return d / "wide_and_fast.flac"


# name → builder; the value each ends in (an AudioError message part, or None: decodes)
HOSTILE: dict[str, tuple[Callable[[Path], Path], str | None]] = {
    "many channels": (many_channels, "channels"),
    "nine channels": (nine_channels, "channels"),
    "4 MHz rate": (huge_rate, "sample rate"),
    "50 Hz rate": (tiny_rate, "sample rate"),
    "2-hour header": (two_hour_header, "truncated"),
    "16 minutes": (over_fifteen_minutes, "limit"),
    "4 GiB data chunk": (huge_data_chunk, "truncated"),
    "truncated": (truncated, "truncated"),
    "zero bytes": (zero_bytes, "empty"),
    "header only": (header_only, "no audio"),
    "HTML as .mp3": (html_as_mp3, "not an audio file"),
    "garbage MP3": (garbage_mp3, None),  # refused or decoded; never a crash
    "markup name": (markup_name, "silent"),
}


def make_all(folder: Path) -> dict[str, Path]:
    """Write every HOSTILE file into `folder` (created); name → path."""
    folder.mkdir(parents=True, exist_ok=True)
    return {name: build(folder) for name, (build, _) in HOSTILE.items()}
