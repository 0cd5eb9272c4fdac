"""Strong-generalization recommender baselines with one interface (docs/design.md §4).

::

    from apron_core.baselines import make_baseline, load_baseline, tune_ease, TagFilter

    model = make_baseline("mult-vae", epochs=100)          # config overrides
    model.fit(train, valid=(val_tr, val_te), seed=0, device="cuda")
    scores = model.score(test_tr)                           # (U, N) float32, raw
    model.save("runs/mult-vae")                             # config.json + weights.safetensors
    model = load_baseline("runs/mult-vae", device="cpu")

    ease, ndcg_by_lambda = tune_ease(train, (val_tr, val_te))
    control = TagFilter(ease, song_tags, strength=1.0)      # "EASE + tag filter"
    edited_scores = control.score_with_control(test_tr, edited_profiles)

``BASELINES`` maps names to classes; each class has a config dataclass
(``cls.config_cls``) with the papers' hyper-parameters as defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from apron_core.baselines.base import FORMAT_VERSION, Baseline, read_meta, validation_ndcg
from apron_core.baselines.ease import EASE, EASEConfig, tune_ease
from apron_core.baselines.macridvae import (
    MacridVAE,
    MacridVAEConfig,
    SemMacridVAE,
    SemMacridVAEConfig,
)
from apron_core.baselines.mult_vae import MultDAE, MultDAEConfig, MultVAE, MultVAEConfig
from apron_core.baselines.popularity import Popularity, PopularityConfig
from apron_core.baselines.recvae import RecVAE, RecVAEConfig
from apron_core.baselines.tag_filter import TagFilter, TagFilterConfig
from apron_core.checks import resolve_device
from apron_core.errors import ConfigError, DataError

__all__ = [
    "BASELINES",
    "EASE",
    "FORMAT_VERSION",
    "Baseline",
    "EASEConfig",
    "MacridVAE",
    "MacridVAEConfig",
    "MultDAE",
    "MultDAEConfig",
    "MultVAE",
    "MultVAEConfig",
    "Popularity",
    "PopularityConfig",
    "RecVAE",
    "RecVAEConfig",
    "SemMacridVAE",
    "SemMacridVAEConfig",
    "TagFilter",
    "TagFilterConfig",
    "load_baseline",
    "make_baseline",
    "tune_ease",
    "validation_ndcg",
]

BASELINES: dict[str, type[Baseline]] = {
    "popularity": Popularity,
    "ease": EASE,
    "mult-dae": MultDAE,
    "mult-vae": MultVAE,
    "recvae": RecVAE,
    "macridvae": MacridVAE,
    "sem-macridvae": SemMacridVAE,
}


def make_baseline(name: str, **overrides: Any) -> Baseline:
    """An unfitted baseline ``name`` with its default config, ``overrides`` applied.

    Raises ConfigError for an unknown name or config field.
    """
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; choose one of {sorted(BASELINES)}")
    return BASELINES[name](**overrides)


def load_baseline(in_dir: str | Path, *, device: str | torch.device | None = None) -> Baseline:
    """Rebuild a baseline written by ``save`` (any of ``BASELINES`` or a TagFilter) on
    ``device`` (None or "auto": CUDA when torch sees it, else the CPU). Models built on
    baselines (grounded steering) load with apron_core.saved_models.load_saved_model."""
    d = Path(in_dir)
    meta = read_meta(d)
    classes: dict[str, type[Baseline]] = {**BASELINES, TagFilter.name: TagFilter}
    cls = classes.get(meta["model"])
    if cls is None:
        raise DataError(
            f"{d} holds model {meta['model']!r}, not one of {sorted(classes)}; "
            "it was not saved by apron_core.baselines (a grounded-steering model loads with "
            "apron_core.saved_models.load_saved_model)."
        )
    if cls is TagFilter:  # a wrapper: the wrapped model first, from its subfolder
        base = load_baseline(d / TagFilter.base_dir(meta), device=device)
        return TagFilter.from_base(d, meta, base)
    return cls._from_dir(d, meta, resolve_device(device))
