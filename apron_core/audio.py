"""Audio I/O with one validation style: every failure is an `AudioError` naming the file.

Vocabulary, as in librosa: `y` is a float32 signal (1-D mono, or (channels, n)
channels-first), `sr` its sample rate in Hz, `path` a file path. Every argument after
the first is keyword-only.

Decoding uses soundfile's bundled libsndfile (>= 1.1), which reads and writes WAV,
FLAC, OGG (Vorbis/Opus) and MP3 itself, so no ffmpeg/audioread fallback is needed.
Resampling uses soxr at "HQ" quality.

Truncated files: libsndfile reports the frames it can actually find for a cut WAV, so
`load_audio` also compares the WAV header's declared data size with the file size, and
compares the decoded frame count with the header's frame count for the other formats;
either shortfall beyond a small tolerance (1%, 10% for MP3) is refused with an
AudioError, and a decoder error mid-file (a cut FLAC) becomes one too. A cut Ogg file
cannot be told apart from a short one (its length comes from the last complete page),
so it is accepted with fewer samples.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from apron_core.errors import AudioError, ConfigError

DEFAULT_SR = 22050
SILENCE_DB = -60.0  # RMS in dBFS below which a signal counts as silent
DEFAULT_MAX_DURATION_S = 900.0  # 15 min: a whole song or a long movement, not an hour of sound
DEFAULT_MAX_BYTES = 100_000_000  # a 15-min WAV at 44.1 kHz stereo is ~160 MB: compress longer
MAX_CHANNELS = 8  # 7.1 surround; more is a lying or hostile header
MIN_SR, MAX_SR = 8_000, 192_000  # telephone to studio rates; outside is a lying header
_BLOCK_FRAMES = 1 << 16  # decode this many frames at a time (≤ 2 MB at 8 channels)
DEFAULT_OGG_QUALITY = 0.5  # Vorbis quality in [0, 1]; ~60-100 kB for 10 s of 22.05 kHz mono music

# Decoded frames (or WAV data bytes) may fall short of the header's count by this much
# before the file is called truncated: decoders drop a frame or two, and an MP3's length
# is only an estimate when it has no Xing/Info header (VBR), hence its looser fraction.
_TRUNCATION_TOLERANCE = {"MP3": 0.10}  # fraction of the expected frames, by format
_TRUNCATION_TOLERANCE_DEFAULT = 0.01
_TRUNCATION_MIN_FRAMES = 4096

_WRITE_FORMATS = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "mp3": "MP3"}
_LOSSY = {"OGG", "MP3"}

PathLike = str | os.PathLike


# --------------------------------------------------------------------------- checks


def validate_sr(sr, *, name: str = "sr") -> int:
    """Return `sr` as an int, or raise ConfigError unless it is a positive integer."""
    if isinstance(sr, bool) or not isinstance(sr, int | np.integer) or sr <= 0:
        raise ConfigError(f"{name}={sr!r} must be a positive integer sample rate in Hz")
    return int(sr)


def validate_audio(y, *, sr, name: str = "signal") -> None:
    """Check that `y` is a usable signal: a float ndarray, 1-D or (channels, n), non-empty,
    finite; and that `sr` is a positive integer.

    Raises AudioError for the signal and ConfigError for `sr`.
    """
    validate_sr(sr)
    if not isinstance(y, np.ndarray):
        raise AudioError(f"{name} must be a numpy array, got {type(y).__name__}")
    if not np.issubdtype(y.dtype, np.floating):
        raise AudioError(
            f"{name} has dtype {y.dtype}; convert it to float32 in [-1, 1] first "
            "(e.g. y.astype(np.float32) / 32768 for int16 PCM)"
        )
    if y.ndim not in (1, 2):
        raise AudioError(
            f"{name} has shape {y.shape}; expected (n_samples,) or (channels, n_samples)"
        )
    if y.size == 0:
        raise AudioError(f"{name} is empty (shape {y.shape})")
    if not np.all(np.isfinite(y)):
        n_bad = int(np.count_nonzero(~np.isfinite(y)))
        raise AudioError(f"{name} contains {n_bad} non-finite samples (NaN or inf)")


def rms_db(y: np.ndarray) -> float:
    """Root-mean-square level of `y` in dBFS (full scale = 1.0); -inf for all zeros."""
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(y))))
    return float(20.0 * np.log10(rms)) if rms > 0 else float("-inf")


def is_silent(y: np.ndarray, *, threshold_db: float = SILENCE_DB) -> bool:
    """True when the RMS level of `y` is below `threshold_db` dBFS."""
    return rms_db(y) < threshold_db


def trim_or_pad(y: np.ndarray, *, n_samples: int) -> np.ndarray:
    """Cut or zero-pad `y` along its last axis to exactly `n_samples` samples."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer):
        raise ConfigError(f"n_samples={n_samples!r} must be a non-negative integer")
    if n_samples < 0:
        raise ConfigError(f"n_samples={n_samples} must be a non-negative integer")
    n = y.shape[-1]
    if n >= n_samples:
        return y[..., :n_samples]
    pad = [(0, 0)] * (y.ndim - 1) + [(0, int(n_samples) - n)]
    return np.pad(y, pad)


# --------------------------------------------------------------------------- loading


def _wav_truncation(path: Path, file_size: int) -> tuple[int, int] | None:
    """For a RIFF/WAVE file, return (declared data bytes, available data bytes) when the
    header promises more data than the file holds; None if complete or not a plain WAV."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            pos = 12
            while pos + 8 <= file_size:
                f.seek(pos)
                chunk_id, size = struct.unpack("<4sI", f.read(8))
                if chunk_id == b"data":
                    if size in (0, 0xFFFFFFFF):  # streamed / unfinalized header: unknown size
                        return None
                    available = file_size - (pos + 8)
                    missing = size - available
                    tolerance = max(
                        4096,
                        _TRUNCATION_TOLERANCE_DEFAULT * size,  # bytes
                    )
                    return (size, available) if missing > tolerance else None
                pos += 8 + size + (size & 1)
    except OSError:
        return None
    return None


def _check_path(path: Path) -> None:
    if not path.exists():
        raise AudioError(f"audio file not found: '{path}'; check the path and file name")
    if path.is_dir():
        raise AudioError(f"'{path}' is a directory, not an audio file; pass a file inside it")
    if path.stat().st_size == 0:
        raise AudioError(f"audio file '{path}' is empty (0 bytes); re-export or re-download it")


def _short(e: BaseException, limit: int = 80) -> str:
    """A decoder's message may quote the file's own bytes: keep it to one short line."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _info(path: Path):
    try:
        return sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, OSError, ValueError):
        # libsndfile's own words ("File does not exist or is not a regular file") mislead
        raise AudioError(
            f"cannot read '{path}' as audio: it is corrupt or not an audio file — use WAV, "
            "FLAC, OGG or MP3"
        ) from None


def check_header(
    path: PathLike,
    *,
    max_duration_s: float | None = DEFAULT_MAX_DURATION_S,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
):
    """Judge a file by its size and header alone, before a single sample is decoded, so
    a hostile upload costs a stat and a header read. Returns soundfile's info.

    Raises AudioError, naming the file, when it is missing, empty, over `max_bytes`, not
    audio, declares more than MAX_CHANNELS channels, a sample rate outside
    [MIN_SR, MAX_SR] Hz, or a length over `max_duration_s`; ConfigError for bad limits.
    """
    if max_duration_s is not None and not (np.isfinite(max_duration_s) and max_duration_s > 0):
        raise ConfigError(f"max_duration_s={max_duration_s!r} must be a positive number or None")
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0
    ):
        raise ConfigError(f"max_bytes={max_bytes!r} must be a positive integer or None")
    path = Path(path)
    _check_path(path)
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise AudioError(
            f"audio file '{path}' is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:g} MB "
            "limit; use a shorter excerpt or a compressed file (OGG, MP3)"
        )
    info = _info(path)
    if info.channels > MAX_CHANNELS:
        raise AudioError(
            f"audio file '{path}' declares {info.channels} channels; at most {MAX_CHANNELS} "
            "are accepted — mix it down to stereo or mono"
        )
    if not MIN_SR <= info.samplerate <= MAX_SR:
        raise AudioError(
            f"audio file '{path}' declares a sample rate of {info.samplerate} Hz, outside "
            f"{MIN_SR}–{MAX_SR} Hz; resample it (e.g. to 44100 Hz)"
        )
    if info.frames <= 0 or info.channels <= 0:
        raise AudioError(f"audio file '{path}' contains no audio frames; re-export it")
    file_s = info.frames / info.samplerate
    if max_duration_s is not None and file_s > max_duration_s:
        raise AudioError(
            f"audio file '{path}' is {file_s:.1f} s long, over the {max_duration_s:g} s limit; "
            "trim it or raise max_duration_s"
        )
    return info


def _decode_window(
    path: Path, info, *, start: int, frames: int, sr: int, mono: bool
) -> tuple[np.ndarray, int]:
    """Decode `frames` frames from `start` block by block, downmixing and resampling each
    block as it arrives, so memory stays a few MB above the output's size whatever
    channel count, rate or length the header claims. Returns ((n,) or (C, n) float32,
    frames decoded)."""
    n_channels = 1 if mono else info.channels
    stream = (
        None
        if info.samplerate == sr
        else soxr.ResampleStream(info.samplerate, sr, n_channels, dtype="float32", quality="HQ")
    )
    out: list[np.ndarray] = []
    decoded = 0
    with sf.SoundFile(str(path)) as f:
        if start:
            f.seek(start)
        while decoded < frames:
            want = min(_BLOCK_FRAMES, frames - decoded)
            block = f.read(frames=want, dtype="float32", always_2d=True)  # (b, C)
            if block.shape[0] == 0:
                break
            decoded += block.shape[0]
            if block.shape[1] != info.channels:  # a decoder disagreeing with its header
                raise AudioError(
                    f"audio file '{path}' decodes {block.shape[1]} channels but its header "
                    f"declares {info.channels}; it is corrupt — re-export it"
                )
            if mono:
                block = block.mean(axis=1, keepdims=True, dtype=np.float32)  # (b, 1)
            if stream is not None:
                block = stream.resample_chunk(block, last=False)
            out.append(block)
    if stream is not None:
        out.append(stream.resample_chunk(np.zeros((0, n_channels), np.float32), last=True))
    y = np.concatenate(out, axis=0) if out else np.zeros((0, n_channels), np.float32)
    y = y[:, 0] if mono else y.T  # (n,) or (C, n)
    return np.ascontiguousarray(y, dtype=np.float32), decoded


def load_audio(
    path: PathLike,
    *,
    sr: int = DEFAULT_SR,
    mono: bool = True,
    offset_s: float = 0.0,
    duration_s: float | None = None,
    max_duration_s: float | None = DEFAULT_MAX_DURATION_S,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> np.ndarray:
    """Read an audio file as float32 at sample rate `sr`.

    Returns shape (n,) when `mono` (channels averaged), else (channels, n).
    `offset_s`/`duration_s` select a window of the file; only that window is decoded.
    The file is first judged by its size and header (:func:`check_header`), so hostile
    files are refused before any decoding, and decoding works block by block, so memory
    is bounded by the window's length at `sr`, not by what the header claims.

    Raises AudioError, naming the file, when it is missing, a directory, empty, over
    `max_bytes`, not audio or corrupt, has too many channels or an implausible sample
    rate, is truncated, longer than `max_duration_s`, silent (RMS below -60 dBFS) or
    contains non-finite samples; ConfigError for bad arguments.
    """
    sr = validate_sr(sr)
    if not np.isfinite(offset_s) or offset_s < 0:
        raise ConfigError(f"offset_s={offset_s!r} must be a finite number >= 0")
    if duration_s is not None and (not np.isfinite(duration_s) or duration_s <= 0):
        raise ConfigError(f"duration_s={duration_s!r} must be a positive number or None")

    path = Path(path)
    info = check_header(path, max_duration_s=max_duration_s, max_bytes=max_bytes)
    native_sr = int(info.samplerate)
    file_s = info.frames / native_sr
    cut = _wav_truncation(path, path.stat().st_size)
    if cut is not None:
        raise AudioError(
            f"audio file '{path}' is truncated: its header promises {cut[0]} bytes of audio "
            f"but only {cut[1]} are present; re-export or re-download it"
        )

    start = round(offset_s * native_sr)
    if start >= info.frames:
        raise AudioError(f"offset_s={offset_s:g} is past the end of '{path}' ({file_s:.2f} s long)")
    stop = (
        info.frames
        if duration_s is None
        else min(info.frames, start + round(duration_s * native_sr))
    )
    expected = stop - start
    try:
        y, decoded = _decode_window(path, info, start=start, frames=expected, sr=sr, mono=mono)
    except AudioError:
        raise
    except MemoryError:
        raise AudioError(
            f"audio file '{path}' is too large to decode here; use a shorter excerpt"
        ) from None
    except (sf.SoundFileError, RuntimeError, OSError, ValueError) as e:
        # a decoder error mid-file (a cut FLAC), or the resampler refusing the rate pair
        raise AudioError(
            f"cannot decode '{path}' ({_short(e)}); it is corrupt or truncated — re-export "
            "or re-download it"
        ) from None

    shortfall = expected - decoded
    fraction = _TRUNCATION_TOLERANCE.get(info.format, _TRUNCATION_TOLERANCE_DEFAULT)
    if shortfall > max(_TRUNCATION_MIN_FRAMES, fraction * expected):
        raise AudioError(
            f"audio file '{path}' is truncated or corrupt: decoded {decoded} of "
            f"{expected} frames; re-export or re-download it"
        )
    if decoded == 0:
        raise AudioError(f"audio file '{path}' decoded to no samples; re-export it")
    if not np.all(np.isfinite(y)):
        raise AudioError(
            f"audio file '{path}' contains non-finite samples (NaN or inf); re-export it"
        )
    if y.shape[-1] == 0:
        raise AudioError(f"audio file '{path}' is too short to use at sr={sr}")
    level = rms_db(y)
    if level < SILENCE_DB:
        raise AudioError(
            f"audio file '{path}' is silent (RMS {level:.1f} dBFS < {SILENCE_DB:g} dBFS); "
            "check that it is the right file and that it is not muted"
        )
    return y


# --------------------------------------------------------------------------- writing


def write_audio(
    path: PathLike,
    y: np.ndarray,
    *,
    sr: int,
    format: str | None = None,
    quality: float | None = None,
) -> Path:
    """Write `y` (1-D or (channels, n)) to `path` and return the path.

    `format` is "wav", "flac", "ogg" or "mp3"; by default it comes from the suffix.
    `quality` in [0, 1] (1 best) sets the lossy encoders (OGG Vorbis, MP3; default
    0.5) and is ignored for WAV/FLAC, which are written as 16-bit PCM. Samples are
    clipped to [-1, 1]. Parent folders are created; the file is written under a
    temporary name and renamed, so a crash never leaves a half-written file.
    """
    validate_audio(y, sr=sr, name="y")
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in _WRITE_FORMATS:
        raise ConfigError(
            f"format={fmt!r} for '{path}' is not supported; use one of {sorted(_WRITE_FORMATS)}"
        )
    sf_format = _WRITE_FORMATS[fmt]
    if quality is not None and not (0.0 <= quality <= 1.0):
        raise ConfigError(f"quality={quality!r} must be in [0, 1] (1 = best)")

    kwargs: dict = {}
    if sf_format == "OGG":
        kwargs["subtype"] = "VORBIS"
    elif sf_format == "MP3":
        kwargs["subtype"] = "MPEG_LAYER_III"
    else:
        kwargs["subtype"] = "PCM_16"
    if sf_format in _LOSSY:
        q = DEFAULT_OGG_QUALITY if quality is None else float(quality)
        kwargs["compression_level"] = 1.0 - q  # libsndfile: 0 = best quality, 1 = smallest

    data = np.clip(y, -1.0, 1.0).astype(np.float32, copy=False)
    if data.ndim == 2:
        data = data.T  # soundfile wants (n, C)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        sf.write(str(tmp), data, int(sr), format=sf_format, **kwargs)
        os.replace(tmp, path)
    except (sf.SoundFileError, RuntimeError, OSError) as e:
        tmp.unlink(missing_ok=True)
        raise AudioError(f"cannot write '{path}' as {fmt}: {e}") from None
    return path
