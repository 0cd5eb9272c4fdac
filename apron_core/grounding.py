"""Tag-grounded prototype attention: how much each song *is* each prototype's tag.

APRON's softmax attention spreads a song over all 80 prototypes, so a weight says little
about whether the song carries the tag (measured: as a song–tag affinity it steers at
8 % relative Δ@20, against 60 % for a tag classifier). Here each prototype is scored on
its own, as a multi-label classifier whose weight vector is tied to the prototype clip:

    a_jk = σ( (x_j W_Q) · (P_k W_K) / sqrt(d) + b_k )        x_j: song embedding, P_k: clip

trained with binary cross-entropy against the observed tags. Observed tags are sparse
(on the demo world they miss a third of the true ones), so a catalog song's affinity is
*cross-fitted*: it comes from a model trained on the other folds of songs, which never saw
that song's tags and must judge it by its audio, as it would an untagged song. A model fit
on every song scores uploads. ``affinity_table`` then adds what is known for certain: a
song's observed tag is affinity 1.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from apron_core.checks import check_int, check_number, resolve_device
from apron_core.errors import ConfigError, DataError
from apron_core.tags import K


@dataclass(frozen=True)
class GroundingConfig:
    d_model: int = 64  # d: width of the query/key projections
    epochs: int = 400  # full-batch Adam steps per fit
    lr: float = 1e-2
    weight_decay: float = 1e-4  # L2 on the projections (summed squares)
    folds: int = 5  # cross-fitting folds over songs (≥ 2)
    seed: int = 0

    def __post_init__(self) -> None:
        check_int(self.d_model, name="d_model", minimum=1)
        check_int(self.epochs, name="epochs", minimum=1)
        check_int(self.folds, name="folds", minimum=2)
        check_int(self.seed, name="seed", minimum=0)
        check_number(self.lr, name="lr", above=0.0)
        check_number(self.weight_decay, name="weight_decay", minimum=0.0)


class GroundedAttention(nn.Module):
    """Independent (sigmoid) attention of songs over the prototypes; see the module doc."""

    def __init__(self, prototypes: torch.Tensor, d_model: int) -> None:
        super().__init__()
        if prototypes.ndim != 2 or prototypes.shape[0] != K:
            raise ConfigError(f"prototypes have shape {tuple(prototypes.shape)}, expected ({K}, D)")
        emb_dim = prototypes.shape[1]
        self.d_model = d_model
        self.w_q = nn.Linear(emb_dim, d_model, bias=False)
        self.w_k = nn.Linear(emb_dim, d_model, bias=False)
        self.bias = nn.Parameter(torch.zeros(K))
        self.register_buffer("prototypes", prototypes.clone().float())  # (K, D)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(M, D) embeddings → (M, K) logits."""
        keys = self.w_k(self.prototypes)  # (K, d)
        return self.w_q(x) @ keys.T / math.sqrt(self.d_model) + self.bias  # (M, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(M, D) embeddings → (M, K) affinities in (0, 1)."""
        return torch.sigmoid(self.logits(x))


def _fit_one(
    x: torch.Tensor, y: torch.Tensor, prototypes: torch.Tensor, cfg: GroundingConfig, seed: int
) -> GroundedAttention:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GroundedAttention(prototypes, cfg.d_model)
    model = model.to(x.device)
    # prior log-odds of each tag as the starting bias: the first steps then learn audio
    rate = y.mean(0).clamp(1e-4, 1 - 1e-4)
    with torch.no_grad():
        model.bias.copy_(torch.log(rate / (1 - rate)))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    projections = [model.w_q.weight, model.w_k.weight]
    for _ in range(cfg.epochs):
        loss = F.binary_cross_entropy_with_logits(model.logits(x), y)  # mean over (M, K)
        loss = loss + cfg.weight_decay * sum(w.pow(2).sum() for w in projections)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@dataclass
class GroundingResult:
    model: GroundedAttention  # fit on every song: scores new audio
    crossfit: np.ndarray  # (N, K) each song's affinity from the fold that did not see it
    fold_of: np.ndarray  # (N,) the fold each song was held out in
    seconds: float


def fit_grounding(
    songs: np.ndarray,
    prototypes: np.ndarray,
    song_tags: np.ndarray,
    cfg: GroundingConfig | None = None,
    *,
    device: str | torch.device | None = "cpu",
    progress: bool = True,
) -> GroundingResult:
    """Cross-fitted affinities of the catalog songs and a model of all of them (module doc)."""
    cfg = GroundingConfig() if cfg is None else cfg
    n = songs.shape[0]
    if songs.ndim != 2 or prototypes.ndim != 2 or songs.shape[1] != prototypes.shape[1]:
        raise DataError(
            f"songs {songs.shape} and prototypes {prototypes.shape} must be (N, D) and (K, D)"
        )
    if song_tags.shape != (n, K):
        raise DataError(f"song_tags has shape {song_tags.shape}, expected ({n}, {K})")
    if n < cfg.folds:
        raise DataError(f"{n} songs cannot be split into folds={cfg.folds}: lower folds")
    dev = resolve_device(device)
    t0 = time.perf_counter()
    x = torch.as_tensor(songs, dtype=torch.float32, device=dev)
    y = torch.as_tensor((np.asarray(song_tags) > 0).astype(np.float32), device=dev)
    p = torch.as_tensor(prototypes, dtype=torch.float32)
    fold_of = np.random.default_rng(cfg.seed).permutation(n) % cfg.folds
    crossfit = np.zeros((n, K), dtype=np.float32)
    bar = tqdm(range(cfg.folds + 1), desc="grounding", unit="fit", disable=not progress)
    model = None
    for f in bar:
        if f < cfg.folds:
            train = torch.as_tensor(fold_of != f, device=dev)
            held = fold_of == f
            m = _fit_one(x[train], y[train], p, cfg, cfg.seed + 1 + f)
            with torch.inference_mode():
                crossfit[held] = m(x[torch.as_tensor(held, device=dev)]).cpu().numpy()
        else:
            model = _fit_one(x, y, p, cfg, cfg.seed)
    assert model is not None
    return GroundingResult(model.cpu(), crossfit, fold_of, time.perf_counter() - t0)


def affinity_table(crossfit: np.ndarray, song_tags: np.ndarray | None) -> np.ndarray:
    """A (N, K) float32: the cross-fitted affinity, 1 where the song carries the observed
    tag (what is known for certain overrides what the audio suggests)."""
    a = np.asarray(crossfit, dtype=np.float32)
    if song_tags is None:
        return a.copy()
    return np.maximum(a, (np.asarray(song_tags) > 0).astype(np.float32))
