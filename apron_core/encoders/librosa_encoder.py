"""The default encoder: hand-crafted librosa descriptors, deterministic and offline.

One STFT per clip is reused by every spectral block; the filterbanks are built once per
encoder (chroma with tuning fixed at 0, so no per-clip tuning estimate). Signals longer
than `max_duration_s` are cut to their first `max_duration_s` seconds; shorter than
`min_duration_s` (1 s) or silent ones are refused.

Feature layout (D = 261 with the default config; M = n_mels, K = n_mfcc):

    block                                        dims
    log-mel (dB) mean, std                       2M      (128)
    MFCC mean, std                               2K      (40)
    MFCC-delta std                               K       (20)
    chroma (STFT, tuning 0) mean, std            24
    spectral contrast (6 bands + valley) mean/std 14
    centroid, bandwidth, rolloff (kHz), log10 flatness, ZCR, RMS (dB): mean, std   12
    onset strength mean, std, max                3
    tempo (BPM), pulse clarity, onset rate (/s)  3
    tempogram ratio at 13 metrical factors       13
    log10 energy share below 150 Hz, 150-800 Hz, 800-4k Hz, above 4 kHz   4

librosa (and with it scipy.signal and numba) is imported on the first signal, not with
the module: the app loads this encoder with every bundle but needs it for uploads only,
and the import costs seconds of its cold start.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from apron_core.encoders.base import Encoder, register_encoder
from apron_core.errors import AudioError, ConfigError

_N_CHROMA = 12
_N_CONTRAST = 7  # librosa default: 6 bands + 1
# Metrical multiples of the tempo from librosa.feature.tempogram_ratio (Prockup et al. 2015).
_TG_FACTORS = np.array([4, 8 / 3, 3, 2, 4 / 3, 3 / 2, 1, 2 / 3, 3 / 4, 1 / 2, 1 / 3, 3 / 8, 1 / 4])
_N_TG_RATIO = len(_TG_FACTORS)
_BAND_EDGES_HZ = (150.0, 800.0, 4000.0)
_TEMPOGRAM_WIN = 384  # frames (~8.9 s at 22.05 kHz / 512)
_PULSE_BPM = (40.0, 240.0)  # lag range searched for pulse clarity
_BANKS_LOCK = threading.Lock()  # module-level: an encoder stays picklable for workers


@dataclass(frozen=True)
class LibrosaEncoderConfig:
    sr: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 64
    n_mfcc: int = 20
    max_duration_s: float = 30.0
    min_duration_s: float = 1.0

    def __post_init__(self) -> None:
        for field in ("sr", "n_fft", "hop_length", "n_mels", "n_mfcc"):
            v = getattr(self, field)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ConfigError(f"{field}={v!r} must be a positive integer")
        if self.hop_length > self.n_fft:
            raise ConfigError(f"hop_length={self.hop_length} must be <= n_fft={self.n_fft}")
        if self.n_mfcc > self.n_mels:
            raise ConfigError(f"n_mfcc={self.n_mfcc} must be <= n_mels={self.n_mels}")
        if not 0 < self.min_duration_s <= self.max_duration_s:
            raise ConfigError(
                f"need 0 < min_duration_s={self.min_duration_s} <= "
                f"max_duration_s={self.max_duration_s}"
            )
        if self.sr / 2 <= _BAND_EDGES_HZ[-1]:
            raise ConfigError(f"sr={self.sr} must exceed {2 * _BAND_EDGES_HZ[-1]:g} Hz")


@dataclass(frozen=True)
class _Banks:
    """The filterbanks one config needs, built once (they cost a librosa import)."""

    freqs: np.ndarray  # (F,) Hz
    mel_fb: np.ndarray  # (M, F)
    chroma_fb: np.ndarray  # (12, F)
    band_idx: np.ndarray  # (3,) rows of freqs where the energy bands start


@register_encoder
class LibrosaEncoder(Encoder):
    name = "librosa"
    config_cls = LibrosaEncoderConfig

    def describe(self) -> str:
        return f"librosa ({self.dim} hand-crafted descriptors)"

    def __init__(self, config: LibrosaEncoderConfig | None = None, **overrides) -> None:
        super().__init__(config, **overrides)
        c = self.config
        self._banks_built: _Banks | None = None
        self._dim = (
            2 * c.n_mels  # log-mel mean, std
            + 3 * c.n_mfcc  # MFCC mean, std; delta std
            + 2 * _N_CHROMA
            + 2 * _N_CONTRAST
            + 2 * 6  # six frame-wise spectral descriptors
            + 3  # onset strength stats
            + 3  # tempo, pulse clarity, onset rate
            + _N_TG_RATIO
            + len(_BAND_EDGES_HZ)
            + 1  # energy shares
        )

    @property
    def _banks(self) -> _Banks:
        with _BANKS_LOCK:  # two first uploads at once build them once
            if self._banks_built is None:
                librosa = _librosa()
                c = self.config
                freqs = librosa.fft_frequencies(sr=c.sr, n_fft=c.n_fft)
                self._banks_built = _Banks(
                    freqs=freqs,
                    mel_fb=librosa.filters.mel(sr=c.sr, n_fft=c.n_fft, n_mels=c.n_mels),
                    chroma_fb=librosa.filters.chroma(
                        sr=c.sr, n_fft=c.n_fft, n_chroma=_N_CHROMA, tuning=0.0
                    ),
                    band_idx=np.searchsorted(freqs, _BAND_EDGES_HZ),
                )
            return self._banks_built

    def _zcr(self, y: np.ndarray, *, n_frames: int) -> np.ndarray:
        """Zero-crossing rate in centred windows of n_fft samples, one per STFT frame."""
        c = self.config
        crossings = np.concatenate([[0], np.cumsum(np.signbit(y[1:]) != np.signbit(y[:-1]))])
        centers = np.arange(n_frames) * c.hop_length
        lo = np.clip(centers - c.n_fft // 2, 0, y.size - 1)
        hi = np.clip(centers + c.n_fft // 2, 1, y.size - 1)
        return (crossings[hi] - crossings[lo]) / c.n_fft  # (T,)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_input_s(self) -> float:
        return float(self.config.max_duration_s)

    def raw_features(self, y: np.ndarray) -> np.ndarray:
        c = self.config
        y = self._check_signal(y)
        y = y[: round(c.max_duration_s * c.sr)]
        self._check_audible(y, c.min_duration_s)
        librosa = _librosa()
        banks = self._banks

        S = np.abs(librosa.stft(y, n_fft=c.n_fft, hop_length=c.hop_length))  # (F, T) magnitude
        P = S**2  # (F, T) power
        feats: list[np.ndarray] = []

        def stats(x: np.ndarray) -> None:  # mean and std over time of (..., T)
            feats.extend([x.mean(axis=-1).ravel(), x.std(axis=-1).ravel()])

        # Timbre: log-mel (dB, absolute reference so loudness counts) and its MFCCs.
        log_mel = librosa.power_to_db(banks.mel_fb @ P, ref=1.0, top_db=80.0)  # (M, T)
        stats(log_mel)
        mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=c.n_mfcc)  # (K, T)
        stats(mfcc)
        # How fast the timbre changes.
        feats.append(librosa.feature.delta(mfcc).std(axis=-1))  # (K,)

        # Harmony: pitch-class energy, frame-wise max-normalized.
        chroma = banks.chroma_fb @ P  # (12, T)
        chroma /= np.maximum(chroma.max(axis=0, keepdims=True), 1e-10)
        stats(chroma)

        # Peak-vs-valley contrast per octave band (tonal vs noisy textures). The magnitude
        # is floored 80 dB below the clip's peak (as the log-mel's top_db), otherwise near-empty
        # bands measure dither/quantization noise and jump by 10% between WAV and FLAC.
        contrast = librosa.feature.spectral_contrast(
            S=np.maximum(S, 1e-4 * S.max()), sr=c.sr, n_fft=c.n_fft, freq=banks.freqs
        )  # (7, T)
        stats(contrast)

        # Brightness, spread, noisiness, loudness; computed with numpy on the shared
        # spectrogram (same definitions as librosa's spectral_* and zero_crossing_rate,
        # a few times faster).
        mag_sum = S.sum(axis=0) + 1e-10  # (T,)
        centroid = (banks.freqs @ S) / mag_sum  # (T,) Hz
        spread = (banks.freqs**2 @ S) / mag_sum - centroid**2
        bandwidth = np.sqrt(np.maximum(spread, 0.0))  # (T,) Hz
        cum = np.cumsum(S, axis=0)  # (F, T)
        rolloff = banks.freqs[np.minimum((cum < 0.85 * cum[-1]).sum(axis=0), len(banks.freqs) - 1)]
        P_floor = np.maximum(P, 1e-10)
        log_flatness = (np.log(P_floor).mean(axis=0) - np.log(P_floor.mean(axis=0))) / np.log(10)
        loudness_db = 10.0 * np.log10(2.0 * P.sum(axis=0) / c.n_fft**2 + 1e-10)  # (T,)
        for x in (
            centroid / 1000.0,
            bandwidth / 1000.0,
            rolloff / 1000.0,
            log_flatness,
            self._zcr(y, n_frames=S.shape[1]),
            loudness_db,
        ):
            stats(x)

        # Rhythm: onset envelope from the log-mel, its tempogram, tempo, pulse clarity.
        onset = librosa.onset.onset_strength(S=log_mel, sr=c.sr, hop_length=c.hop_length)  # (T,)
        feats.append(np.array([onset.mean(), onset.std(), onset.max()]))
        tg = librosa.feature.tempogram(
            onset_envelope=onset, sr=c.sr, hop_length=c.hop_length, win_length=_TEMPOGRAM_WIN
        )  # (L, T) local autocorrelation, lag 0 = 1
        tempo = librosa.feature.tempo(
            onset_envelope=onset, sr=c.sr, hop_length=c.hop_length, tg=tg
        )  # (1,)
        bpms = librosa.tempo_frequencies(tg.shape[0], sr=c.sr, hop_length=c.hop_length)  # (L,)
        in_range = (bpms >= _PULSE_BPM[0]) & (bpms <= _PULSE_BPM[1])
        tg_mean = tg.mean(axis=1)  # (L,) global autocorrelation
        pulse_clarity = tg_mean[in_range].max()  # strongest periodicity
        n_onsets = len(
            librosa.onset.onset_detect(
                onset_envelope=onset, sr=c.sr, hop_length=c.hop_length, units="frames"
            )
        )
        feats.append(np.array([tempo[0], pulse_clarity, n_onsets / (y.size / c.sr)]))
        # Mean tempogram at metrical multiples of the tempo (as tempogram_ratio, but on
        # the time-averaged tempogram: one interpolation instead of one per frame).
        if tempo[0] > 0:
            lag_of = 60.0 * c.sr / (c.hop_length * tempo[0] * _TG_FACTORS)  # (13,) frames
            tg_ratio = np.interp(lag_of, np.arange(tg.shape[0]), tg_mean, right=0.0)
        else:  # no periodicity found (e.g. a steady tone)
            tg_ratio = np.zeros(_N_TG_RATIO)
        feats.append(tg_ratio)

        # Spectral balance: share of energy in low / low-mid / high-mid / high bands.
        total = P.sum() + 1e-12
        bands = np.split(P, banks.band_idx, axis=0)
        feats.append(np.log10(np.array([b.sum() for b in bands]) / total + 1e-6))

        out = np.concatenate([np.asarray(f, dtype=np.float64).ravel() for f in feats])
        if out.shape != (self.dim,):  # guards the documented layout
            raise AssertionError(f"feature length {out.shape} != dim {self.dim}")
        if not np.all(np.isfinite(out)):
            raise AudioError("encoder produced non-finite features; check the signal")
        return out.astype(np.float32)


def _librosa() -> Any:
    import librosa  # seconds to import (scipy.signal, numba): see the module doc

    return librosa
