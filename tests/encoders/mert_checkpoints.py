"""Randomly initialised checkpoints in MERT-v1's published layout, for offline tests and
benchmarks of the MERT encoder (no model hub here)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from apron_core.encoders.mert import MERT_SR, TINY_ARCH, hubert_config_from_mert
from apron_core.errors import ConfigError


def write_random_checkpoint(
    directory: str | os.PathLike,
    *,
    arch: Mapping[str, Any] | None = None,
    seed: int = 0,
    weights: str = "bin",
    perturb: float = 0.1,
) -> Path:
    """Write a randomly initialised checkpoint in MERT-v1's published layout (config.json
    with model_type "mert_model" and MERT's extra fields, preprocessor_config.json,
    weights with MERT's tensor names) to `directory`; for offline tests and benchmarks.

    `arch` overrides TINY_ARCH (pass MERT_95M_ARCH for a full-size model). Every norm
    weight and bias is perturbed by `perturb` * N(0, 1), so a mis-mapped tensor shows.
    """
    from transformers import HubertModel

    if weights not in ("bin", "safetensors"):
        raise ConfigError(f"weights={weights!r} must be 'bin' or 'safetensors'")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cfg: dict[str, Any] = {
        **TINY_ARCH,
        **(arch or {}),
        "model_type": "mert_model",
        "architectures": ["MERTModel"],
        "auto_map": {
            "AutoConfig": "configuration_MERT.MERTConfig",
            "AutoModel": "modeling_MERT.MERTModel",
        },
        "sample_rate": MERT_SR,
        "feature_extractor_cqt": False,
        "feature_extractor_cqt_bins": 336,
        "deepnorm": False,
        "attention_relax": -1.0,
        "mask_time_prob": 0.05,
        "layerdrop": 0.05,
    }
    torch.manual_seed(seed)
    model = HubertModel(hubert_config_from_mert(cfg))
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        value = value.detach().clone().float()
        if value.ndim <= 1 or key.endswith("original0"):
            value += perturb * torch.randn(value.shape, generator=gen)
        key = key.replace("parametrizations.weight.original0", "weight_g")
        key = key.replace("parametrizations.weight.original1", "weight_v")
        state[key] = value.contiguous()
    state["masked_spec_embed"] = torch.rand(cfg["hidden_size"], generator=gen)
    if weights == "bin":
        torch.save(state, directory / "pytorch_model.bin")
    else:
        from safetensors.torch import save_file

        save_file(state, str(directory / "model.safetensors"), metadata={"format": "pt"})
    (directory / "config.json").write_text(json.dumps(cfg, indent=1) + "\n")
    pre = {
        "feature_extractor_type": "Wav2Vec2FeatureExtractor",
        "feature_size": 1,
        "sampling_rate": MERT_SR,
        "do_normalize": True,
        "padding_side": "right",
        "padding_value": 0.0,
        "return_attention_mask": True,
    }
    (directory / "preprocessor_config.json").write_text(json.dumps(pre, indent=1) + "\n")
    return directory
