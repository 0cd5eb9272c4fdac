"""The `Encoder` interface, per-dimension standardization, JSON save/load and the registry.

An encoder maps a mono float32 signal at `encoder.sr` to raw features (D,), and
standardizes them with a mean/std fitted on the catalog. Everything it needs to be
rebuilt exactly (name, config dataclass, mean, std) is saved as `encoder.json`; never
pickle.

Adding an encoder: subclass `Encoder`, set `name` and `config_cls`, implement `dim`
and `raw_features`, and add one line to `_KNOWN` (lazy, so heavy imports such as
transformers happen only when that encoder is asked for) or decorate the class with
`@register_encoder`.
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import importlib
import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from apron_core.audio import is_silent, load_audio, validate_audio
from apron_core.errors import ApronError, AudioError, ConfigError, DataError

FORMAT_VERSION = 1
ENCODER_FILE = "encoder.json"
STD_FLOOR = 1e-6  # dims with std below this are treated as constant: centred, scaled by 1

PathLike = str | os.PathLike


class Encoder(abc.ABC):
    """Audio → fixed-size embedding. Subclasses set `name`, `config_cls`, `dim`, and
    implement `raw_features`."""

    name: ClassVar[str]
    config_cls: ClassVar[type]
    # Bump when `raw_features` changes its output for the same config: cached features
    # (the world's feature cache) are keyed by it and go stale otherwise.
    features_version: ClassVar[int] = 1

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        if config is None:
            config = self.config_cls(**_check_fields(self.config_cls, overrides))
        elif overrides:
            config = dataclasses.replace(config, **_check_fields(self.config_cls, overrides))
        if not isinstance(config, self.config_cls):
            raise ConfigError(
                f"config must be a {self.config_cls.__name__}, got {type(config).__name__}"
            )
        self.config = config
        self.mean: np.ndarray | None = None  # (D,) float64
        self.std: np.ndarray | None = None  # (D,) float64

    # ----------------------------------------------------------------- to implement

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Length D of the feature vector."""

    @property
    def sr(self) -> int:
        """Sample rate the encoder expects, in Hz."""
        return int(self.config.sr)

    @property
    def max_input_s(self) -> float | None:
        """Seconds of audio the encoder uses (longer input is cut); None for all of it."""
        return None

    @abc.abstractmethod
    def raw_features(self, y: np.ndarray) -> np.ndarray:
        """Unnormalized features (D,) float32 of a mono float32 signal at `self.sr`."""

    def describe(self) -> str:
        """One line for people (the app says which encoder built a profile)."""
        return self.name

    def raw_features_at(self, y: np.ndarray, sr: int) -> np.ndarray:
        """Raw features of a mono signal at any rate `sr` (resampled to `self.sr` first)."""
        return self.raw_features(resample(y, sr, self.sr))

    # ----------------------------------------------------------------- parts and caching

    def parts(self) -> list[Encoder]:
        """Encoders whose raw features, concatenated by `join_parts`, are this one's: a
        cache keyed by `feature_key` can then reuse each part on its own."""
        return [self]

    def forget_recent(self) -> None:
        """Drop what the encoder keeps of recent clips (musicnn's patch outputs), so the
        next clip is computed from scratch (benchmarks time cold uploads)."""
        for part in self.parts():
            if part is not self:
                part.forget_recent()

    def join_parts(self, raws: Sequence[np.ndarray]) -> np.ndarray:
        """This encoder's raw features (D,) from its parts' raw features, in `parts` order."""
        return np.concatenate([np.asarray(r, dtype=np.float32) for r in raws])

    def feature_key(self) -> str:
        """Names what `raw_features` computes: encoder, features version and a hash of the
        config (a folder name for cached features)."""
        config = json.dumps(dataclasses.asdict(self.config), sort_keys=True, default=str)
        digest = hashlib.sha1(config.encode()).hexdigest()[:8]
        return f"{self.name}-v{self.features_version}-{digest}"

    # ----------------------------------------------------------------- normalization

    @property
    def is_fitted(self) -> bool:
        return self.mean is not None and self.std is not None

    def fit_normalization(self, raw: np.ndarray) -> Encoder:
        """Store the per-dimension mean and std of `raw` (N, D), N >= 2. Returns self."""
        raw = np.asarray(raw, dtype=np.float64)
        if raw.ndim != 2 or raw.shape[1] != self.dim:
            raise ConfigError(
                f"raw features have shape {raw.shape}; expected (N, {self.dim}) for "
                f"encoder '{self.name}'"
            )
        if raw.shape[0] < 2:
            raise DataError(
                f"cannot fit normalization on {raw.shape[0]} row(s); need at least 2 tracks"
            )
        if not np.all(np.isfinite(raw)):
            bad = sorted(set(np.nonzero(~np.isfinite(raw))[0].tolist()))[:10]
            raise DataError(f"raw features contain NaN/inf in rows {bad}; re-encode those tracks")
        mean = raw.mean(axis=0)
        std = raw.std(axis=0)
        self.mean = mean
        self.std = np.where(std < STD_FLOOR, 1.0, std)
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        """Standardize raw features, (D,) or (N, D) → same shape, float32."""
        self._require_fitted()
        raw = np.asarray(raw, dtype=np.float64)
        if raw.ndim not in (1, 2) or raw.shape[-1] != self.dim:
            raise ConfigError(
                f"raw features have shape {raw.shape}; expected ({self.dim},) or (N, {self.dim})"
            )
        return ((raw - self.mean) / self.std).astype(np.float32)

    def embed(self, y: np.ndarray) -> np.ndarray:
        """Normalized embedding (D,) float32 of a mono signal at `self.sr`."""
        self._require_fitted()
        return self.transform(self.raw_features(y))

    def embed_file(self, path: PathLike, **load_kwargs: Any) -> np.ndarray:
        """Normalized embedding (D,) of an audio file (any format/rate/channels)."""
        self._require_fitted()
        return self.transform(self.raw_features_file(path, **load_kwargs))

    def raw_features_file(self, path: PathLike, **load_kwargs: Any) -> np.ndarray:
        """Raw features (D,) of an audio file, decoded by `load_file`."""
        return self.raw_features(self.load_file(path, **load_kwargs))

    def load_file(self, path: PathLike, **load_kwargs: Any) -> np.ndarray:
        """An audio file decoded mono at `self.sr`, as the encoder reads it (only the first
        `max_input_s` seconds are decoded unless `duration_s` is given)."""
        if "sr" in load_kwargs or "mono" in load_kwargs:
            raise ConfigError(
                f"encoder '{self.name}' decodes mono at sr={self.sr}; do not pass sr/mono"
            )
        if self.max_input_s is not None:
            load_kwargs.setdefault("duration_s", self.max_input_s)
        return load_audio(path, sr=self.sr, mono=True, **load_kwargs)

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise ConfigError(
                f"encoder '{self.name}' not fitted: call fit_normalization on a catalog "
                "or load saved stats"
            )

    def _check_signal(self, y: np.ndarray) -> np.ndarray:
        """validate_audio + mono check; returns y as float32."""
        validate_audio(y, sr=self.sr, name="y")
        if y.ndim != 1:
            raise ConfigError(
                f"encoder '{self.name}' needs a mono 1-D signal, got shape {y.shape}; "
                "load it with mono=True or average the channels"
            )
        return np.asarray(y, dtype=np.float32)

    def _check_audible(self, y: np.ndarray, min_seconds: float) -> None:
        """A cut signal must be long enough to encode and not silent."""
        if y.size < min_seconds * self.sr:
            raise AudioError(
                f"signal is {y.size / self.sr:.2f} s long; encoder '{self.name}' needs at "
                f"least {math.ceil(min_seconds * 10) / 10:g} s of audio"
            )
        if is_silent(y):
            raise AudioError("signal is silent (RMS below -60 dBFS); nothing to encode")

    # ----------------------------------------------------------------- persistence

    def to_dict(self) -> dict:
        self._require_fitted()
        return {
            "format_version": FORMAT_VERSION,
            "encoder": self.name,
            "dim": self.dim,
            "config": dataclasses.asdict(self.config),
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
        }

    def save(self, directory: PathLike) -> Path:
        """Write `encoder.json` into `directory` (created if needed); return its path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / ENCODER_FILE
        tmp = path.with_name(f".{ENCODER_FILE}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def from_dict(cls, state: dict, *, source: str = "encoder state") -> Encoder:
        if state.get("encoder") != cls.name:
            raise ConfigError(
                f"{source} is for encoder '{state.get('encoder')}', not '{cls.name}'; "
                "use load_encoder()"
            )
        config = cls.config_cls(**_check_fields(cls.config_cls, state.get("config") or {}))
        enc = cls(config)
        mean = np.asarray(state.get("mean"), dtype=np.float64)
        std = np.asarray(state.get("std"), dtype=np.float64)
        if mean.shape != (enc.dim,) or std.shape != (enc.dim,) or state.get("dim") != enc.dim:
            raise ConfigError(
                f"{source}: dim={state.get('dim')}, mean {mean.shape}, std {std.shape} do not "
                f"match encoder '{cls.name}' dim {enc.dim}; refit the normalization"
            )
        if not (np.all(np.isfinite(mean)) and np.all(std > 0)):
            raise ConfigError(f"{source}: mean/std contain non-finite or non-positive values")
        enc.mean, enc.std = mean, std
        return enc

    @classmethod
    def load(cls, directory: PathLike) -> Encoder:
        """Rebuild an encoder of this class from `directory/encoder.json`."""
        state, source = _read_state(directory)
        return cls.from_dict(state, source=source)

    def __repr__(self) -> str:
        fitted = "fitted" if self.is_fitted else "unfitted"
        return f"{type(self).__name__}({self.config}, dim={self.dim}, {fitted})"


# --------------------------------------------------------------------------- registry

# name -> "module:Class", imported on first use so optional heavy deps stay optional.
_KNOWN: dict[str, str] = {
    "librosa": "apron_core.encoders.librosa_encoder:LibrosaEncoder",
    "mert": "apron_core.encoders.mert:MertEncoder",
    "musicnn": "apron_core.encoders.musicnn:MusicnnEncoder",
    "musicnn+librosa": "apron_core.encoders.concat:ConcatEncoder",
}
_REGISTRY: dict[str, type[Encoder]] = {}


def register_encoder(cls: type[Encoder]) -> type[Encoder]:
    """Class decorator: make `cls` available to `get_encoder(cls.name)`."""
    _REGISTRY[cls.name] = cls
    return cls


def available_encoders() -> list[str]:
    return sorted(set(_KNOWN) | set(_REGISTRY))


def encoder_class(name: str) -> type[Encoder]:
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name not in _KNOWN:
        raise ConfigError(f"unknown encoder {name!r}; known encoders: {available_encoders()}")
    module, _, attr = _KNOWN[name].partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except ImportError as e:
        raise ConfigError(
            f"encoder {name!r} needs a package that is not installed ({e}); install it"
        ) from None
    _REGISTRY[name] = cls
    return cls


def get_encoder(name: str, **config: Any) -> Encoder:
    """A new, unfitted encoder `name` with config fields overridden by `config`."""
    return encoder_class(name)(**config)


def load_encoder(directory: PathLike) -> Encoder:
    """Load a fitted encoder from `directory/encoder.json`, whatever its kind."""
    state, source = _read_state(directory)
    return encoder_class(state.get("encoder")).from_dict(state, source=source)


def embed_many(
    encoder: Encoder,
    signals: Iterable[np.ndarray],
    *,
    normalize: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """Embed several mono signals → (N, D) float32; raw features if not `normalize`.

    An error names the index of the failing signal.
    """
    items = list(signals)
    it: Iterable = enumerate(items)
    if progress:
        try:
            from tqdm.auto import tqdm

            it = tqdm(it, total=len(items), desc=f"encoding ({encoder.name})", file=sys.stderr)
        except ImportError:
            pass
    if normalize:
        encoder._require_fitted()
    out = np.empty((len(items), encoder.dim), dtype=np.float32)  # (N, D)
    for i, y in it:
        try:
            out[i] = encoder.raw_features(y)
        except ApronError as e:
            raise type(e)(f"signal {i}: {e}") from None
    return encoder.transform(out) if normalize else out


# --------------------------------------------------------------------------- helpers


def resample(y: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """A mono float32 signal from `sr_from` to `sr_to` Hz (soxr "HQ", as `load_audio`)."""
    y = np.asarray(y, dtype=np.float32)
    if sr_from == sr_to:
        return y
    import soxr

    return soxr.resample(y, sr_from, sr_to, quality="HQ").astype(np.float32, copy=False)


def _check_fields(config_cls: type, values: dict) -> dict:
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"unknown {config_cls.__name__} field(s) {unknown}; known fields: {sorted(names)}"
        )
    return dict(values)


def _read_state(directory: PathLike) -> tuple[dict, str]:
    path = Path(directory)
    if path.is_dir():
        path = path / ENCODER_FILE
    if not path.is_file():
        raise ConfigError(f"no saved encoder at '{path}'; fit one and call save() first")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"cannot read '{path}': {e}; refit and save the encoder") from None
    if not isinstance(state, dict):
        raise ConfigError(f"'{path}' does not hold an encoder object; refit and save it")
    version = state.get("format_version")
    if version != FORMAT_VERSION:
        raise ConfigError(
            f"'{path}' has format_version={version!r}; this code reads version "
            f"{FORMAT_VERSION}; refit and save the encoder"
        )
    return state, str(path)


def warm_up(name: str = "librosa") -> None:
    """Compile (and cache to disk) the encoder's numba kernels in this process.

    librosa caches numba code next to its sources; processes that compile the same
    kernels at once race on those cache files and can crash. Call this once before
    starting parallel workers (the world build and `make test` do).
    """
    encoder = get_encoder(name)
    noise = np.random.default_rng(0).standard_normal(4 * encoder.sr)  # musicnn: ≥ one 3-s patch
    encoder.raw_features((0.1 * noise).astype(np.float32))
