"""musicnn (Pons & Serra 2019) in PyTorch: a music tagger pretrained on real recordings.

The weights are those of the musicnn 0.1.0 wheel (ISC licence, Jordi Pons and Xavier
Serra, MTG-UPF): `MSD_musicnn` (Million Song Dataset, 50 Last.fm tags) and `MTT_musicnn`
(MagnaTagATune, 50 tags), converted once to `assets/encoders/musicnn/*.safetensors` by
`tools/musicnn_tf.py convert` (see the README there). No TensorFlow at run time.

Input, as the wheel's extractor: mono at 16 kHz; a 96-band mel power spectrogram
(librosa, n_fft 512, hop 256, Slaney mel, centred frames), rounded to float16 as the
training data was stored, then log10(10000 · mel + 1) in float32; cut into
non-overlapping 3-s patches of 187 frames from the start (a trailing part shorter than a
patch is dropped, so a clip needs at least 2.98 s).

Network per patch x (T=187, 96), every block conv → ReLU → batch norm (ε = 1e-3):
  input batch norm (one channel);
  front end: timbral convolutions 7×38 and 7×67 (204 filters each; time padded 3+3,
  frequency valid) and temporal convolutions 128×1, 64×1, 32×1 (51 filters each, TF
  'SAME' padding, which puts the odd sample of an even kernel after: 63+64, 31+32,
  15+16), each max-pooled over frequency → 561 channels per frame;
  mid end: three 7-frame Conv1d of 64 channels, the 2nd and 3rd residual;
  back end: max and mean over time of the 753 = 561 + 3·64 channels, interleaved per
  channel (max₀, mean₀, max₁, …) as TF's concat-then-flatten leaves them → batch norm →
  dense 200 + ReLU + batch norm (the penultimate layer) → dense 50 → sigmoid (taggram).

`layer` picks the clip feature (every patch computed on its own, then):
  "penultimate"  (200,)  mean over patches of the penultimate layer (default)
  "pool"         (1506,) [max over the clip's frames | mean over them] of the 753
                 front/mid-end channels, i.e. the back end's pooling extended from one
                 patch to the whole clip (max of patch maxima, mean of patch means)
  "taggram"      (50,)   mean over patches of the tag probabilities

Traps of the wheel this module avoids (tests/encoders/test_musicnn.py checks each):
on numpy >= 2 its `10000 * float16` stays float16 and overflows (NaN output), so the
product is taken in float32 as on numpy 1; its extractor feeds one patch at a time and
copies the first patch's penultimate/cnn features into every later patch, whereas here
every patch has its own. On CUDA, PyTorch's default TF32 cuDNN convolutions may move
outputs by ~1e-3 relative; the 1e-4 equivalence with TensorFlow is checked on the CPU.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from apron_core.encoders.base import Encoder, register_encoder
from apron_core.errors import AudioError, ConfigError

MUSICNN_SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187  # 3 s: librosa.time_to_frames(3, sr=16000, hop_length=256, n_fft=512) + 1
MIN_SAMPLES = (PATCH_FRAMES - 1) * HOP  # centred frames: 1 + n // HOP of them
RECENT_CLIPS = 4  # clips whose per-patch outputs an encoder keeps (see clip_feature)
BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's default
WEIGHTS_DIR = Path(__file__).resolve().parents[2] / "assets" / "encoders" / "musicnn"
WEIGHTS = ("msd", "mtt")
LAYER_DIMS = {"penultimate": 200, "pool": 1506, "taggram": 50}
N_TAGS = 50

TIMBRAL = ("timbral_74", "timbral_77")  # kernels 7×38 and 7×67 (0.4 and 0.7 of 96 bands)
TEMPORAL = ("temporal_128", "temporal_64", "temporal_32")
MIDEND = ("midend_1", "midend_2", "midend_3")
N_FRONT = 2 * 204 + 3 * 51  # 561 channels per frame out of the front end
N_POOLED = N_FRONT + 3 * 64  # 753


def _bn_shapes(name: str, n: int) -> dict[str, tuple[int, ...]]:
    return {f"{name}.{f}": (n,) for f in ("weight", "bias", "running_mean", "running_var")}


# Every tensor of a converted checkpoint, in PyTorch layout.
PARAM_SHAPES: dict[str, tuple[int, ...]] = {
    **_bn_shapes("input_bn", 1),
    "timbral_74.weight": (204, 1, 7, 38),
    "timbral_77.weight": (204, 1, 7, 67),
    "temporal_128.weight": (51, 1, 128, 1),
    "temporal_64.weight": (51, 1, 64, 1),
    "temporal_32.weight": (51, 1, 32, 1),
    "midend_1.weight": (64, N_FRONT, 7),
    "midend_2.weight": (64, 64, 7),
    "midend_3.weight": (64, 64, 7),
    **{f"{b}.bias": (204,) for b in TIMBRAL},
    **{f"{b}.bias": (51,) for b in TEMPORAL},
    **{f"{b}.bias": (64,) for b in MIDEND},
    **{k: v for b in TIMBRAL for k, v in _bn_shapes(f"{b}.bn", 204).items()},
    **{k: v for b in TEMPORAL for k, v in _bn_shapes(f"{b}.bn", 51).items()},
    **{k: v for b in MIDEND for k, v in _bn_shapes(f"{b}.bn", 64).items()},
    **_bn_shapes("pool_bn", 2 * N_POOLED),
    "dense.weight": (200, 2 * N_POOLED),
    "dense.bias": (200,),
    **_bn_shapes("dense.bn", 200),
    "head.weight": (N_TAGS, 200),
    "head.bias": (N_TAGS,),
}


@dataclass(frozen=True)
class MusicnnEncoderConfig:
    """`weights`: "msd" (Million Song Dataset tags) or "mtt" (MagnaTagATune). `layer`:
    "penultimate", "pool" or "taggram" (see the module docstring). `max_seconds`: audio
    used per clip (None: all). `batch_size`: patches per forward pass. `device`: None
    picks CUDA when present."""

    weights: str = "msd"
    layer: str = "penultimate"
    sr: int = MUSICNN_SR
    max_seconds: float | None = 30.0
    batch_size: int = 32
    device: str | None = None

    def __post_init__(self) -> None:
        if self.weights not in WEIGHTS:
            raise ConfigError(f"weights={self.weights!r:.80} must be one of {list(WEIGHTS)}")
        if self.layer not in LAYER_DIMS:
            raise ConfigError(f"layer={self.layer!r:.80} must be one of {list(LAYER_DIMS)}")
        if self.sr != MUSICNN_SR or isinstance(self.sr, bool):
            raise ConfigError(f"sr={self.sr!r:.80}: musicnn was trained at {MUSICNN_SR} Hz only")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int):
            raise ConfigError(f"batch_size={self.batch_size!r:.80} must be a positive integer")
        if self.batch_size <= 0:
            raise ConfigError(f"batch_size={self.batch_size} must be a positive integer")
        if self.max_seconds is not None and not (
            isinstance(self.max_seconds, int | float)
            and not isinstance(self.max_seconds, bool)
            and math.isfinite(self.max_seconds)
            and self.max_seconds * MUSICNN_SR >= MIN_SAMPLES
        ):
            raise ConfigError(
                f"max_seconds={self.max_seconds!r:.80} must be None or at least "
                f"{MIN_SAMPLES / MUSICNN_SR:.3f} (one 3-s patch)"
            )
        if self.device is not None:
            import torch

            try:
                torch.device(self.device)
            except (RuntimeError, TypeError):
                raise ConfigError(
                    f"device={self.device!r:.80} is not a torch device; use 'cpu', 'cuda' or "
                    "'cuda:1'"
                ) from None


# --------------------------------------------------------------------------- weights


def weights_path(weights: str) -> Path:
    return WEIGHTS_DIR / f"{weights}_musicnn.safetensors"


def read_weights(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The tensors (torch, float32, CPU) and the 50 tag names of a converted checkpoint."""
    from safetensors import safe_open

    rebuild = "rebuild it: assets/encoders/musicnn/README.md (tools/musicnn_tf.py convert)"
    if not path.is_file():
        raise ConfigError(f"musicnn weights '{path}' not found; {rebuild}")
    try:
        with safe_open(str(path), framework="pt") as f:
            params = {k: f.get_tensor(k).float() for k in f.keys()}  # noqa: SIM118
            meta = f.metadata() or {}
        tags = json.loads(meta.get("musicnn", "{}")).get("tags")
    except Exception as e:  # truncated or foreign file: one fix
        raise ConfigError(f"cannot read musicnn weights '{path}': {e}; {rebuild}") from None
    missing = sorted(set(PARAM_SHAPES) - set(params))
    if missing:
        raise ConfigError(f"'{path}' lacks tensors {missing[:3]}; {rebuild}")
    for name, shape in PARAM_SHAPES.items():
        if tuple(params[name].shape) != shape:
            raise ConfigError(
                f"'{path}': tensor {name} has shape {tuple(params[name].shape)}, "
                f"musicnn needs {shape}; {rebuild}"
            )
    if not (isinstance(tags, list) and len(tags) == N_TAGS):
        raise ConfigError(f"'{path}' has no list of {N_TAGS} tag names; {rebuild}")
    return {k: params[k] for k in PARAM_SHAPES}, [str(t) for t in tags]


# --------------------------------------------------------------------------- input


def log_mel(y: np.ndarray) -> np.ndarray:
    """Log-compressed mel spectrogram (T, 96) float32 of a mono float32 signal at 16 kHz."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=np.asarray(y, dtype=np.float32),
        sr=MUSICNN_SR,
        n_fft=N_FFT,
        hop_length=HOP,
        n_mels=N_MELS,
        window="hann",
        center=True,
        pad_mode="constant",
        power=2.0,
    )  # (96, T) float32
    # float16 as the training data was stored; the product in float32 (numpy 1's result,
    # where the wheel's float16 * int stayed float16 on numpy 2 and overflowed).
    mel = mel.T.astype(np.float16).astype(np.float32)  # (T, 96)
    return np.log10(np.float32(10000.0) * mel + np.float32(1.0))


def split_patches(logmel: np.ndarray) -> np.ndarray:
    """Non-overlapping patches (P, 187, 96) from frame 0; a shorter tail is dropped."""
    n = logmel.shape[0] // PATCH_FRAMES
    return logmel[: n * PATCH_FRAMES].reshape(n, PATCH_FRAMES, logmel.shape[1])


# --------------------------------------------------------------------------- network


def musicnn_forward(params: Mapping[str, Any], x) -> dict[str, Any]:
    """Per-patch outputs of musicnn for log-mel patches x (B, T, 96), T >= 1:
    "taggram" (B, 50) probabilities, "penultimate" (B, 200), "max_pool" and "mean_pool"
    (B, 753) (the back end's temporal pooling, before its batch norm)."""
    import torch
    import torch.nn.functional as F

    def bn(h, name: str):
        p = f"{name}."
        return F.batch_norm(
            h,
            params[p + "running_mean"],
            params[p + "running_var"],
            params[p + "weight"],
            params[p + "bias"],
            training=False,
            eps=BN_EPS,
        )

    def conv_max_bn(inp, weight, bias, names: Sequence[str]):
        """bn(relu(conv)) max-pooled over frequency without touching the big map twice:
        bn is an affine a·v + b per channel and relu and max commute, so its max is
        bn(relu(max conv)) where a > 0 and bn(relu(min conv)) = bn(relu(-max(-conv)))
        where a < 0; the convolution runs with those channels negated (exactly)."""
        mean, var, gamma, beta = (
            torch.cat([params[f"{n}.bn.{f}"] for n in names])
            for f in ("running_mean", "running_var", "weight", "bias")
        )
        sign = torch.where(gamma * torch.rsqrt(var + BN_EPS) < 0, -1.0, 1.0).to(inp.dtype)
        conv = F.conv2d(inp, weight * sign[:, None, None, None], bias * sign)  # (B, C, T, F')
        peak = F.max_pool2d(conv, (1, conv.shape[3]))[..., 0] * sign[:, None]  # (B, C, T)
        return F.batch_norm(F.relu(peak), mean, var, gamma, beta, training=False, eps=BN_EPS)

    h = bn(x.unsqueeze(1), "input_bn")  # (B, 1, T, 96)
    # Timbral kernels span 7 frames: the 7 time shifts become input channels of a 1×k
    # convolution in channels-last memory, which oneDNN runs ~2× faster than 7×k on one
    # channel (same sums).
    shifts = F.pad(h[:, 0], (0, 0, 3, 3)).unfold(1, 7, 1)  # (B, T, 96, 7): time padded 3+3
    shifts = shifts.contiguous().permute(0, 3, 1, 2)  # (B, 7, T, 96), channels-last
    front = []
    for n in TIMBRAL:
        weight = params[f"{n}.weight"].permute(0, 2, 1, 3)  # (204, 7, 1, k)
        weight = weight.contiguous(memory_format=torch.channels_last)
        front.append(conv_max_bn(shifts, weight, params[f"{n}.bias"], [n]))  # (B, 204, T)
    # The three temporal kernels as one 128-tap convolution (shorter ones zero-padded so
    # that each keeps TF 'SAME' alignment: k taps start (k - 1) // 2 frames before t).
    longest = params[f"{TEMPORAL[0]}.weight"].shape[2]
    kernels = []
    for n in TEMPORAL:
        w = params[f"{n}.weight"]  # (51, 1, k, 1)
        before = (longest - 1) // 2 - (w.shape[2] - 1) // 2
        kernels.append(F.pad(w, (0, 0, before, longest - w.shape[2] - before)))
    same = F.pad(h, (0, 0, (longest - 1) // 2, longest // 2))  # TF 'SAME': extra frame after
    bias = torch.cat([params[f"{n}.bias"] for n in TEMPORAL])
    front.append(conv_max_bn(same, torch.cat(kernels), bias, TEMPORAL))  # (B, 153, T)
    feats = [torch.cat(front, dim=1)]  # (B, 561, T)
    for i, name in enumerate(MIDEND):
        conv = F.conv1d(F.pad(feats[-1], (3, 3)), params[f"{name}.weight"], params[f"{name}.bias"])
        out = bn(F.relu(conv), f"{name}.bn")  # (B, 64, T)
        feats.append(out if i == 0 else out + feats[-1])  # residual from the 2nd on
    midend = torch.cat(feats, dim=1)  # (B, 753, T)
    max_pool = midend.amax(dim=2)  # (B, 753)
    mean_pool = midend.mean(dim=2)  # (B, 753)
    flat = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # (B, 1506): max₀, mean₀, …
    flat = bn(flat, "pool_bn")
    dense = F.linear(flat, params["dense.weight"], params["dense.bias"])  # (B, 200)
    penultimate = bn(F.relu(dense), "dense.bn")
    logits = F.linear(penultimate, params["head.weight"], params["head.bias"])  # (B, 50)
    return {
        "taggram": torch.sigmoid(logits),
        "penultimate": penultimate,
        "max_pool": max_pool,
        "mean_pool": mean_pool,
    }


def pool_clip(outputs: Mapping[str, np.ndarray], layer: str) -> np.ndarray:
    """One clip's feature from its per-patch outputs (P, ·); see the module docstring."""
    if layer == "pool":
        return np.concatenate([outputs["max_pool"].max(axis=0), outputs["mean_pool"].mean(axis=0)])
    return outputs[layer].mean(axis=0)


# --------------------------------------------------------------------------- encoder


@register_encoder
class MusicnnEncoder(Encoder):
    """musicnn features of a clip: penultimate layer, pooled front/mid end, or taggram."""

    name = "musicnn"
    config_cls = MusicnnEncoderConfig

    def __init__(self, config: MusicnnEncoderConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self._params: dict[str, Any] | None = None  # tensors on self._device
        self._tags: list[str] | None = None
        self._device = None
        self._load_lock = threading.Lock()  # the app encodes uploads from several threads
        # the last clips' per-patch outputs, by a digest of the signal: asking another
        # layer of the same clip (an upload's embedding, then its taggram) runs no network
        self._recent: OrderedDict[bytes, dict[str, np.ndarray]] = OrderedDict()
        self._recent_lock = threading.Lock()

    def describe(self) -> str:
        return f"musicnn ({self.config.weights.upper()} weights, {self.config.layer} layer)"

    @property
    def dim(self) -> int:
        return LAYER_DIMS[self.config.layer]

    @property
    def max_input_s(self) -> float | None:
        return None if self.config.max_seconds is None else float(self.config.max_seconds)

    @property
    def tags(self) -> list[str]:
        """The 50 tag names of the taggram, in its order."""
        self.load_weights()
        return list(self._tags or [])

    def load_weights(self) -> dict[str, Any]:
        """Read (once) the checkpoint onto the device; returns the tensors by name."""
        with self._load_lock:
            if self._params is None:
                self._params = self._read_to_device()
        return self._params

    def _read_to_device(self) -> dict[str, Any]:
        import torch

        if self.config.device is not None:
            device = torch.device(self.config.device)
        else:
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(
                f"device={self.config.device!r} but no CUDA GPU is visible; use "
                "device='cpu' or leave it unset"
            )
        params, self._tags = read_weights(weights_path(self.config.weights))
        self._device = device
        return {k: v.to(device) for k, v in params.items()}

    def log_mel(self, y: np.ndarray) -> np.ndarray:
        """Checked, cut signal → log-mel (T, 96), T >= 187."""
        y = self._check_signal(y)
        if self.config.max_seconds is not None:
            y = y[: round(self.config.max_seconds * MUSICNN_SR)]
        self._check_audible(y, MIN_SAMPLES / MUSICNN_SR)
        return log_mel(y)

    def patch_outputs(self, patches: np.ndarray) -> dict[str, np.ndarray]:
        """Per-patch outputs (see `musicnn_forward`) of log-mel patches (P, T, 96), as
        float32 arrays, computed `batch_size` patches at a time."""
        import torch

        patches = np.asarray(patches, dtype=np.float32)
        if patches.ndim != 3 or patches.shape[2] != N_MELS or patches.shape[1] < 1:
            raise ConfigError(f"patches have shape {patches.shape}; expected (P, T, {N_MELS})")
        params = self.load_weights()
        chunks: list[dict[str, np.ndarray]] = []
        bs = self.config.batch_size
        with torch.inference_mode():
            for start in range(0, len(patches), bs):
                x = torch.from_numpy(patches[start : start + bs]).to(self._device)
                out = musicnn_forward(params, x)
                chunks.append({k: v.float().cpu().numpy() for k, v in out.items()})
        keys = ("taggram", "penultimate", "max_pool", "mean_pool")
        if not chunks:
            dims = {"taggram": N_TAGS, "penultimate": 200, "max_pool": N_POOLED}
            return {k: np.zeros((0, dims.get(k, N_POOLED)), np.float32) for k in keys}
        return {k: np.concatenate([c[k] for c in chunks]) for k in keys}

    def raw_features_batch(self, signals: Sequence[np.ndarray]) -> np.ndarray:
        """Raw features (N, D) float32 of N mono signals at 16 kHz; the patches of all
        of them share forward passes (each patch is computed on its own)."""
        patches = []
        for i, y in enumerate(signals):
            try:
                patches.append(split_patches(self.log_mel(y)))
            except (AudioError, ConfigError) as e:
                raise type(e)(f"signal {i}: {e}" if len(signals) > 1 else str(e)) from None
        outputs = self.patch_outputs(np.concatenate(patches)) if patches else {}
        out = np.empty((len(patches), self.dim), dtype=np.float32)  # (N, D)
        start = 0
        for i, p in enumerate(patches):
            rows = {k: v[start : start + len(p)] for k, v in outputs.items()}
            out[i] = pool_clip(rows, self.config.layer)
            start += len(p)
        if not np.all(np.isfinite(out)):
            raise AudioError("musicnn produced non-finite features; check the signal")
        return out

    def raw_features(self, y: np.ndarray) -> np.ndarray:
        return self.clip_feature(y, self.config.layer)

    def forget_recent(self) -> None:
        with self._recent_lock:
            self._recent.clear()

    def clip_feature(self, y: np.ndarray, layer: str) -> np.ndarray:
        """One clip's feature of any `layer` (LAYER_DIMS) from a mono 16-kHz signal; the
        per-patch outputs of the last few clips are kept, so a second layer of the same
        signal costs no forward pass."""
        if layer not in LAYER_DIMS:
            raise ConfigError(f"layer={layer!r:.80} must be one of {list(LAYER_DIMS)}")
        y = self._check_signal(y)
        key = hashlib.blake2b(y.tobytes(), digest_size=16).digest()
        with self._recent_lock:
            outputs = self._recent.get(key)
        if outputs is None:
            outputs = self.patch_outputs(split_patches(self.log_mel(y)))
            with self._recent_lock:
                self._recent[key] = outputs
                while len(self._recent) > RECENT_CLIPS:
                    self._recent.popitem(last=False)
        out = pool_clip(outputs, layer).astype(np.float32)
        if not np.all(np.isfinite(out)):
            raise AudioError("musicnn produced non-finite features; check the signal")
        return out
