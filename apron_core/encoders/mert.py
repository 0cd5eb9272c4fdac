"""The paper's encoder: MERT-v1 (m-a-p/MERT-v1-95M or -330M) hidden states, time-averaged.

Why not `AutoModel.from_pretrained(..., trust_remote_code=True)`: MERT's remote code
subclasses transformers' HuBERT modules, and since transformers 4.48 those read
`config.conv_pos_batch_norm`, which MERTConfig lacks (AttributeError). MERT-v1 with
`feature_extractor_cqt=False` and `deepnorm=False` (the 95M and 330M releases) *is*
HuBERT: its remote MERTModel builds transformers' HubertFeatureEncoder, a feature
projection identical to HubertFeatureProjection, and HubertEncoder (95M: post-norm) or
HubertEncoderStableLayerNorm (330M: pre-norm); `attention_relax` is only read by the
deepnorm encoder. So the checkpoint is loaded into a plain `HubertModel`: config.json is
translated to a HubertConfig (unsupported flags are refused with a clear error) and the
state dict is renamed (old weight-norm names `weight_g`/`weight_v` → parametrizations).

Hidden states follow MERT as published (transformers 4.x): state 0 is the input to the
first transformer layer, state i the output of layer i; for pre-norm models the last
state is the final layer-normed output. (transformers 5 reports the last state of a
pre-norm model *before* that layer norm; we run the modules ourselves to keep MERT's
meaning, and stop early when a lower layer is asked for.) tests/encoders/test_mert.py proves on
tiny random checkpoints that these states equal a hand-written forward pass computed
from the raw checkpoint tensors and transformers' own HubertModel forward.

Input: mono at 24 kHz, each clip normalized to zero mean and unit variance (as
Wav2Vec2FeatureExtractor(do_normalize=True)); at most `max_seconds` are used, cut into
equal windows of at most `window_s` seconds (a few trailing samples, fewer than the
number of windows, are dropped so that windows batch together), each embedded alone;
the clip's features are the mean over windows of the time-mean of the chosen hidden
state (or of all hidden states, `layer="mean"`).
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from apron_core.encoders.base import Encoder, register_encoder
from apron_core.errors import AudioError, ConfigError

DEFAULT_MODEL = "m-a-p/MERT-v1-95M"
MERT_SR = 24000

# Architecture fields of MERT-v1 config.json files (the rest are training-only).
MERT_95M_ARCH: dict[str, Any] = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-5,
    "feat_extract_norm": "group",
    "feat_extract_activation": "gelu",
    "conv_dim": [512] * 7,
    "conv_stride": [5, 2, 2, 2, 2, 2, 2],
    "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
    "conv_bias": False,
    "num_conv_pos_embeddings": 128,
    "num_conv_pos_embedding_groups": 16,
    "do_stable_layer_norm": False,
    "feat_proj_layer_norm": True,
}
MERT_330M_ARCH: dict[str, Any] = {
    **MERT_95M_ARCH,
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
    "feat_extract_norm": "layer",
    "conv_bias": True,
    "do_stable_layer_norm": True,
}
# MERT-95M's front end (75 frames/s at 24 kHz) with a narrow, shallow transformer: for tests.
TINY_ARCH: dict[str, Any] = {
    **MERT_95M_ARCH,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "conv_dim": [16] * 7,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
}

# MERT flags that change the network; the value HuBERT's architecture needs.
_REFUSED_FLAGS = {
    "feature_extractor_cqt": (False, "adds an nnAudio CQT front end"),
    "deepnorm": (False, "scales the residual connections (DeepNorm)"),
    "conv_pos_batch_norm": (False, "adds a batch norm before the positional convolution"),
}
_MODEL_TYPES = ("mert_model", "hubert")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_SAFETENSORS = ("model.safetensors", "model.safetensors.index.json")
_TORCH_BIN = ("pytorch_model.bin", "pytorch_model.bin.index.json")
_PREFIXES = ("mert_model.", "hubert.", "model.")
_IGNORED_KEYS = ("masked_spec_embed",)  # training-time SpecAugment vector, unused at inference
_NORM_EPS = 1e-7  # as Wav2Vec2FeatureExtractor's zero-mean unit-variance normalization


@dataclass(frozen=True)
class MertEncoderConfig:
    """`model`: a local directory (config.json + weights) or a Hub id, fetched on first
    use at `revision` (a commit hash pins it). `layer`: hidden state 0..L (negative counts
    from the end) or "mean" over all L+1. `max_seconds`: audio used per clip (None: all);
    `window_s`: longest piece embedded at once. `device`: None picks CUDA when present."""

    model: str = DEFAULT_MODEL
    revision: str | None = None
    layer: int | str = "mean"
    sr: int = MERT_SR
    max_seconds: float | None = 30.0
    window_s: float = 30.0
    min_seconds: float = 1.0
    batch_size: int = 8
    device: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError(f"model={self.model!r} must be a local directory or a Hub id")
        if self.revision is not None and not (isinstance(self.revision, str) and self.revision):
            raise ConfigError(f"revision={self.revision!r} must be a branch, tag or commit hash")
        if isinstance(self.layer, bool) or not (
            isinstance(self.layer, int) or self.layer == "mean"
        ):
            raise ConfigError(f"layer={self.layer!r} must be an integer or 'mean'")
        for name in ("sr", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ConfigError(f"{name}={v!r} must be a positive integer")
        for name in ("window_s", "min_seconds"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
                raise ConfigError(f"{name}={v!r} must be a positive number of seconds")
        if self.max_seconds is not None and not (
            isinstance(self.max_seconds, int | float)
            and math.isfinite(self.max_seconds)
            and self.max_seconds >= self.min_seconds
        ):
            raise ConfigError(
                f"max_seconds={self.max_seconds!r} must be None or a number >= "
                f"min_seconds={self.min_seconds}"
            )
        if self.window_s < self.min_seconds:
            raise ConfigError(f"window_s={self.window_s} must be >= min_seconds={self.min_seconds}")
        if self.device is not None:
            try:
                torch.device(self.device)
            except (RuntimeError, TypeError):
                raise ConfigError(
                    f"device={self.device!r} is not a torch device; use 'cpu', 'cuda' or 'cuda:1'"
                ) from None


# --------------------------------------------------------------------------- checkpoint files


def _env_offline() -> bool:
    from huggingface_hub import constants

    flag = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return bool(constants.HF_HUB_OFFLINE) or flag.strip().lower() in {"1", "true", "yes", "on"}


def is_hub_id(model: str) -> bool:
    """True when `model` names a Hub repository rather than a local directory."""
    if model.startswith((".", "~", "/")) or Path(model).expanduser().exists():
        return False
    return bool(_HUB_ID.match(model))


def _download(model: str, revision: str | None, patterns: Sequence[str]) -> Path:
    """Files of Hub repo `model` matching `patterns`, downloaded (or found in the cache)."""
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(
            model,
            revision=revision,
            allow_patterns=list(patterns),
            local_files_only=_env_offline(),
        )
    except Exception as e:  # network, offline mode, unknown repo or revision: all one fix
        reason = (str(e).strip().splitlines() or [""])[0].split(". ")[0][:200]
        raise ConfigError(
            f"could not download {model} (revision {revision or 'main'}) from the Hugging Face "
            f"Hub ({type(e).__name__}: {reason}); offline? pass a local directory with "
            f"config.json and weights (model.safetensors or pytorch_model.bin); no local "
            f"directory '{model}' exists"
        ) from None
    return Path(path)


def resolve_model_dir(model: str, revision: str | None = None, *, weights: bool = True) -> Path:
    """The local directory holding `model`'s config.json (and weights when `weights`).

    A Hub id is fetched only here, on first use, and only the files needed (config first,
    then safetensors weights, else the PyTorch .bin)."""
    if not is_hub_id(model):
        path = Path(model).expanduser()
        if not path.is_dir():
            raise ConfigError(
                f"MERT model directory '{path}' does not exist; pass a directory with "
                f"config.json and weights, or a Hub id such as {DEFAULT_MODEL}"
            )
        if not (path / "config.json").is_file():
            raise ConfigError(
                f"'{path}' has no config.json; pass the directory of a MERT checkpoint "
                "(config.json + model.safetensors or pytorch_model.bin)"
            )
        return path
    path = _download(model, revision, ["config.json", "preprocessor_config.json"])
    if not weights:
        return path
    for patterns in (["model.safetensors", "model*.safetensors*"], ["pytorch_model*.bin*"]):
        path = _download(model, revision, patterns)
        if _weight_files(path):
            return path
    raise ConfigError(
        f"Hub repo {model} (revision {revision or 'main'}) has no model.safetensors or "
        "pytorch_model.bin; pass a local directory with config.json and weights"
    )


def _weight_files(model_dir: Path) -> list[Path]:
    """The weight files of a checkpoint directory (a single file or the shards of an index);
    safetensors preferred."""
    for single, index in (_SAFETENSORS, _TORCH_BIN):
        if (model_dir / single).is_file():
            return [model_dir / single]
        if (model_dir / index).is_file():
            try:
                weight_map = json.loads((model_dir / index).read_text())["weight_map"]
            except (OSError, KeyError, ValueError) as e:
                raise ConfigError(f"cannot read '{model_dir / index}': {e}") from None
            return [model_dir / name for name in sorted(set(weight_map.values()))]
    return []


def read_mert_config(model_dir: Path) -> dict[str, Any]:
    """config.json of a MERT (or HuBERT) checkpoint, checked for what this loader supports."""
    path = Path(model_dir) / "config.json"
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ConfigError(f"cannot read '{path}': {e}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"'{path}' does not hold a JSON object")
    model_type = cfg.get("model_type")
    if model_type not in _MODEL_TYPES:
        raise ConfigError(
            f"'{path}' has model_type={model_type!r}; this encoder loads {list(_MODEL_TYPES)} "
            "checkpoints (e.g. m-a-p/MERT-v1-95M)"
        )
    for flag, (needed, what) in _REFUSED_FLAGS.items():
        if cfg.get(flag, needed) != needed:
            raise ConfigError(
                f"'{path}' sets {flag}={cfg[flag]!r}, which {what}; only MERT models with "
                f"{flag}={needed} (such as MERT-v1-95M/330M) share HuBERT's architecture"
            )
    return cfg


def hubert_config_from_mert(cfg: Mapping[str, Any]):
    """A transformers HubertConfig with the architecture of MERT config dict `cfg`.

    Fields MERT leaves out take MERTConfig's defaults, which equal HubertConfig's; the
    dropouts and SpecAugment are switched off (inference only)."""
    from transformers import HubertConfig

    arch = {k: cfg[k] for k in MERT_95M_ARCH if k in cfg}
    try:
        return HubertConfig(
            **arch,
            conv_pos_batch_norm=False,
            hidden_dropout=0.0,
            activation_dropout=0.0,
            attention_dropout=0.0,
            feat_proj_dropout=0.0,
            final_dropout=0.0,
            layerdrop=0.0,
            mask_time_prob=0.0,
            mask_feature_prob=0.0,
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(f"MERT config cannot be expressed as a HubertConfig: {e}") from None


def read_checkpoint_tensors(model_dir: Path) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint directory, with the names the file uses."""
    files = _weight_files(Path(model_dir))
    if not files:
        raise ConfigError(
            f"no weights in '{model_dir}': expected model.safetensors or pytorch_model.bin "
            "(or a sharded index of either)"
        )
    state: dict[str, torch.Tensor] = {}
    for f in files:
        try:
            if f.suffix == ".safetensors":
                from safetensors.torch import load_file

                state.update(load_file(str(f)))
            else:  # weights_only: never unpickle arbitrary objects
                state.update(torch.load(f, map_location="cpu", weights_only=True))
        except Exception as e:  # corrupt or truncated file, or a pickle with code in it
            raise ConfigError(f"cannot read weights '{f}': {e}; re-download the model") from None
    return state


def hubert_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename MERT checkpoint tensors to `HubertModel` parameter names: drop a wrapper
    prefix, and map old weight-norm names (weight_g/weight_v) to torch parametrizations."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
                break
        if key.endswith(".weight_g"):
            key = key[: -len("weight_g")] + "parametrizations.weight.original0"
        elif key.endswith(".weight_v"):
            key = key[: -len("weight_v")] + "parametrizations.weight.original1"
        out[key] = value
    return out


def load_mert_model(model_dir: Path):
    """A `HubertModel` (eval mode, float32, CPU) holding the MERT checkpoint in `model_dir`."""
    from transformers import HubertModel

    cfg = read_mert_config(model_dir)
    model = HubertModel(hubert_config_from_mert(cfg))
    state = hubert_state_dict(read_checkpoint_tensors(model_dir))
    state = {k: v.float() for k, v in state.items() if k not in _IGNORED_KEYS}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ConfigError(
            f"weights in '{model_dir}' lack {len(missing)} tensors the MERT architecture needs "
            f"(e.g. {missing[:3]}); the checkpoint does not match its config.json"
        )
    unexpected = sorted(set(state) - set(expected))
    if unexpected:
        warnings.warn(
            f"ignoring {len(unexpected)} unused tensors in '{model_dir}': {unexpected[:5]}",
            stacklevel=2,
        )
    bad = [k for k in expected if tuple(state[k].shape) != tuple(expected[k].shape)]
    if bad:
        k = bad[0]
        raise ConfigError(
            f"tensor {k} in '{model_dir}' has shape {tuple(state[k].shape)}, the config needs "
            f"{tuple(expected[k].shape)}; the checkpoint does not match its config.json"
        )
    model.load_state_dict({k: state[k] for k in expected}, strict=True)
    return model.eval()


# --------------------------------------------------------------------------- forward pass


def mert_hidden_states(
    model, x: torch.Tensor, *, n_layers: int | None = None
) -> list[torch.Tensor]:
    """Hidden states 0..n_layers (default: all L+1) of `model` for waveforms x (B, n),
    each (B, T, H), with MERT's (transformers 4.x) meaning; see the module docstring."""
    encoder = model.encoder
    total = len(encoder.layers)
    n_layers = total if n_layers is None else n_layers
    if not 0 <= n_layers <= total:
        raise ConfigError(f"n_layers={n_layers} must be in 0..{total} for this model")
    stable = bool(model.config.do_stable_layer_norm)
    feats = model.feature_extractor(x)  # (B, C, T)
    h = model.feature_projection(feats.transpose(1, 2))  # (B, T, H)
    h = h + encoder.pos_conv_embed(h)
    if not stable:
        h = encoder.layer_norm(h)
    states = [h]
    for layer in encoder.layers[:n_layers]:
        h = layer(h)
        h = h[0] if isinstance(h, tuple) else h  # transformers 4.x layers return tuples
        states.append(h)
    if stable and n_layers == total:
        states[-1] = encoder.layer_norm(states[-1])
    return states


def normalize_clip(y: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance (Wav2Vec2FeatureExtractor's do_normalize), float32."""
    y64 = np.asarray(y, dtype=np.float64)
    return ((y64 - y64.mean()) / np.sqrt(y64.var() + _NORM_EPS)).astype(np.float32)


def split_windows(y: np.ndarray, *, max_len: int) -> np.ndarray:
    """(W, n) equal windows of at most `max_len` samples covering y; the last
    len(y) mod W samples (fewer than W) are dropped so the windows stack."""
    n_windows = max(1, math.ceil(y.size / max_len))
    size = y.size // n_windows
    return y[: n_windows * size].reshape(n_windows, size)


def frames_for(n_samples: int, arch: Mapping[str, Any]) -> int:
    """Frames the convolutional front end makes from `n_samples` samples."""
    n = n_samples
    for k, s in zip(arch["conv_kernel"], arch["conv_stride"], strict=True):
        n = (n - k) // s + 1
    return n


# --------------------------------------------------------------------------- encoder


@register_encoder
class MertEncoder(Encoder):
    """MERT-v1 features: time-mean of one hidden state (or of all of them), dim = hidden size."""

    name = "mert"
    config_cls = MertEncoderConfig

    def describe(self) -> str:
        return f"MERT ({self.config.model}, layer {self.config.layer})"

    def __init__(self, config: MertEncoderConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._cfg: dict[str, Any] | None = None  # the checkpoint's config.json
        self._do_normalize = True
        self._model = None
        self._device: torch.device | None = None

    # ---------------------------------------------------------------- lazy checkpoint

    def _checkpoint_config(self) -> dict[str, Any]:
        if self._cfg is None:
            c = self.config
            model_dir = resolve_model_dir(c.model, c.revision, weights=False)
            cfg = read_mert_config(model_dir)
            pre = self._preprocessor(model_dir)
            for source, rate in (
                ("config.json sample_rate", cfg.get("sample_rate")),
                ("preprocessor_config.json sampling_rate", pre.get("sampling_rate")),
            ):
                if rate is not None and int(rate) != c.sr:
                    raise ConfigError(
                        f"{c.model}: {source} is {rate} Hz but the encoder is set to sr={c.sr}; "
                        f"set sr={int(rate)}"
                    )
            self._do_normalize = bool(pre.get("do_normalize", True))
            n = int(cfg.get("num_hidden_layers", MERT_95M_ARCH["num_hidden_layers"]))
            if c.layer != "mean" and not -(n + 1) <= c.layer <= n:
                raise ConfigError(
                    f"layer={c.layer} is out of range for {c.model}: it has hidden states "
                    f"0..{n} (or -{n + 1}..-1); or use layer='mean'"
                )
            self._cfg = cfg
        return self._cfg

    @staticmethod
    def _preprocessor(model_dir: Path) -> dict[str, Any]:
        path = model_dir / "preprocessor_config.json"
        if not path.is_file():
            return {}
        try:
            pre = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise ConfigError(f"cannot read '{path}': {e}") from None
        return pre if isinstance(pre, dict) else {}

    def load_model(self):
        """Load (once) and return the network; fetches a Hub model on first call."""
        if self._model is None:
            self._checkpoint_config()
            model_dir = resolve_model_dir(self.config.model, self.config.revision)
            device = torch.device(
                self.config.device or ("cuda" if torch.cuda.is_available() else "cpu")
            )
            if device.type == "cuda" and not torch.cuda.is_available():
                raise ConfigError(
                    f"device={self.config.device!r} but no CUDA GPU is visible; use "
                    "device='cpu' or leave it unset"
                )
            self._device = device
            self._model = load_mert_model(model_dir).to(self._device)
        return self._model

    @property
    def n_layers(self) -> int:
        """Transformer layers L (hidden states are numbered 0..L)."""
        return int(
            self._checkpoint_config().get("num_hidden_layers", MERT_95M_ARCH["num_hidden_layers"])
        )

    @property
    def dim(self) -> int:
        return int(self._checkpoint_config().get("hidden_size", MERT_95M_ARCH["hidden_size"]))

    @property
    def max_input_s(self) -> float | None:
        return None if self.config.max_seconds is None else float(self.config.max_seconds)

    # ---------------------------------------------------------------- features

    def _windows(self, y: np.ndarray) -> np.ndarray:
        """Checked, cut, normalized signal → (W, n) windows."""
        c = self.config
        y = self._check_signal(y)
        if c.max_seconds is not None:
            y = y[: round(c.max_seconds * c.sr)]
        self._check_audible(y, c.min_seconds)
        if self._do_normalize:
            y = normalize_clip(y)
        windows = split_windows(y, max_len=round(c.window_s * c.sr))
        if frames_for(windows.shape[1], {**MERT_95M_ARCH, **self._checkpoint_config()}) < 1:
            raise AudioError(f"windows of {windows.shape[1]} samples are too short for MERT")
        return windows

    def _pooled(self, x: torch.Tensor) -> np.ndarray:
        """Time-mean of the chosen hidden state(s) for windows x (B, n) → (B, D) float64."""
        layer, n = self.config.layer, self.n_layers
        if layer == "mean":
            states = mert_hidden_states(self._model, x)
            pooled = torch.stack([s.mean(dim=1) for s in states]).mean(dim=0)  # (B, D)
        else:
            index = layer if layer >= 0 else n + 1 + layer
            states = mert_hidden_states(self._model, x, n_layers=index)
            pooled = states[index].mean(dim=1)  # (B, D)
        return pooled.double().cpu().numpy()

    def raw_features_batch(self, signals: Sequence[np.ndarray]) -> np.ndarray:
        """Raw features (N, D) float32 of N mono signals at `self.sr`, batched on the device.

        Windows of equal length share a forward pass (`batch_size` at a time); every
        window is computed alone, without padding, so results do not depend on batching.
        """
        self._checkpoint_config()
        prepared = []
        for i, y in enumerate(signals):
            try:
                prepared.append(self._windows(y))
            except (AudioError, ConfigError) as e:
                raise type(e)(f"signal {i}: {e}" if len(signals) > 1 else str(e)) from None
        self.load_model()
        by_length: dict[int, list[tuple[int, np.ndarray]]] = defaultdict(list)
        for i, windows in enumerate(prepared):
            for w in windows:
                by_length[w.size].append((i, w))
        sums = np.zeros((len(prepared), self.dim), dtype=np.float64)  # (N, D)
        bs = self.config.batch_size
        with torch.inference_mode():
            for items in by_length.values():
                for start in range(0, len(items), bs):
                    chunk = items[start : start + bs]
                    x = torch.from_numpy(np.stack([w for _, w in chunk])).to(self._device)
                    for (i, _), row in zip(chunk, self._pooled(x), strict=True):
                        sums[i] += row
        counts = np.array([len(w) for w in prepared], dtype=np.float64)[:, None]
        out = sums / counts
        if not np.all(np.isfinite(out)):
            raise AudioError("MERT produced non-finite features; check the signal")
        return out.astype(np.float32)

    def raw_features(self, y: np.ndarray) -> np.ndarray:
        return self.raw_features_batch([y])[0]
