"""Every kind of model saved as a folder (config.json + weights.safetensors), and the one
loader that rebuilds any of them.

The baselines package knows its own kinds and the TagFilter that wraps one of them; grounded
steering (apron_core/steering.py) is built *on* baselines, so the baselines cannot know it
without an import circle. This registry sits above both: a load path that may meet either
(a bundle's model/, the benchmark's runs, training's --base) calls :func:`load_saved_model`,
which restores a wrapper's inner models first, from their subfolders, then the wrapper.
"""

from __future__ import annotations

from pathlib import Path

import torch

from apron_core.baselines import BASELINES, Baseline, TagFilter, load_baseline
from apron_core.baselines.base import read_meta
from apron_core.checks import quote, resolve_device
from apron_core.errors import DataError
from apron_core.steering import GroundedSteering

KINDS: dict[str, type[Baseline]] = {
    **BASELINES,
    TagFilter.name: TagFilter,
    GroundedSteering.name: GroundedSteering,
}


def load_saved_model(in_dir: str | Path, *, device: str | torch.device | None = None) -> Baseline:
    """Rebuild the model saved in ``in_dir`` (any of ``KINDS``) on ``device`` (None or
    "auto": CUDA when torch sees it, else the CPU)."""
    d = Path(in_dir)
    meta = read_meta(d)
    kind = meta.get("model")
    if kind not in KINDS:
        raise DataError(
            f"{str(d)[:80]} holds model {quote(kind)}, not one of {sorted(KINDS)}: it was not "
            "saved by this APRON Studio; retrain it with python -m training.train"
        )
    if kind == GroundedSteering.name:
        subs = GroundedSteering.base_dirs(meta)
        bases = [load_saved_model(d / sub, device=device) for sub in subs]
        return GroundedSteering.from_bases(d, meta, bases, resolve_device(device))
    return load_baseline(d, device=device)
