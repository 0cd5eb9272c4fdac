"""The training loop the autoencoder baselines share (Mult-DAE, Mult-VAE, RecVAE).

Each epoch trains on shuffled mini-batches of train users, then (given
``valid``) computes NDCG@100 of the validation users' held-out songs from their
fold-in rows; the weights of the best epoch are kept, and training stops after
``patience`` epochs without improvement. Everything random comes from ``seed``:
initial weights (built under a forked, seeded torch RNG, so the global RNG is
left alone), the user order of each epoch (a numpy Generator) and dropout masks
and reparameterization noise (a ``torch.Generator`` on the training device).
"""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from tqdm.auto import tqdm

from apron_core.baselines.base import Baseline, check_valid, validation_ndcg
from apron_core.checks import (
    check_int,
    check_interaction_matrix,
    check_number,
    check_probability,
    resolve_device,
)
from apron_core.errors import ConfigError, DataError


def check_training_config(cfg: Any) -> None:
    """Checks shared by the neural configs (epochs, batch_size, lr, dropout, patience)."""
    check_int(cfg.epochs, name="epochs", minimum=1)
    check_int(cfg.batch_size, name="batch_size", minimum=1)
    check_number(cfg.lr, name="lr", above=0.0)
    check_probability(cfg.dropout, name="dropout", allow_one=False)
    if cfg.patience is not None:
        check_int(cfg.patience, name="patience", minimum=1)


def to_dense(x: sp.csr_matrix, device: torch.device) -> torch.Tensor:
    """A block of CSR rows as a dense float32 tensor on ``device``."""
    return torch.from_numpy(x.toarray()).to(device)  # (b, N)


def dropout(x: torch.Tensor, p: float, gen: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout with masks drawn from ``gen`` (identity when p = 0 or gen is None)."""
    if p == 0.0 or gen is None:
        return x
    keep = torch.empty_like(x).bernoulli_(1.0 - p, generator=gen)
    return x * keep / (1.0 - p)


def multinomial_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean over users of −Σ_i x_ui log softmax(logits_u)_i (Liang et al. 2018, eq. 2)."""
    return -(torch.log_softmax(logits, dim=-1) * x).sum(dim=-1).mean()


class NeuralBaseline(Baseline):
    """A torch autoencoder baseline: subclasses define the net, one epoch and the scores."""

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        check_training_config(self.config)
        self.net: nn.Module | None = None
        self.opt: dict[str, torch.optim.Optimizer] = {}

    # ---------------------------------------------------------------- subclass hooks

    @abstractmethod
    def _build(self, n_items: int) -> nn.Module:
        """A freshly initialized net (called under a seeded torch RNG, on the CPU)."""

    @abstractmethod
    def _start_training(self, train: sp.csr_matrix) -> None:
        """Put the optimizers in ``self.opt`` (dropped after fit) and set up schedules."""

    @abstractmethod
    def _train_epoch(
        self, train: sp.csr_matrix, rng: np.random.Generator, gen: torch.Generator
    ) -> float:
        """One epoch of updates; returns the mean training loss."""

    @abstractmethod
    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """Scores (b, N) for dense fold-in rows x (b, N), net in eval mode, no noise."""

    # ---------------------------------------------------------------- shared loop

    def batches(self, train: sp.csr_matrix, rng: np.random.Generator) -> Iterator[torch.Tensor]:
        """Shuffled dense mini-batches (batch_size, N) of train rows on the device."""
        order = rng.permutation(train.shape[0])
        bs = self.config.batch_size
        for start in range(0, len(order), bs):
            yield to_dense(train[order[start : start + bs]], self.device)

    def fit(
        self,
        train: sp.csr_matrix,
        *,
        valid: tuple[sp.csr_matrix, sp.csr_matrix] | None = None,
        seed: int,
        device: str | torch.device | None = None,
        progress: bool = True,
    ) -> NeuralBaseline:
        """Train for up to ``config.epochs`` epochs; with ``valid``, keep the best epoch.

        ``valid = (fold_in, heldout)`` of the validation users. Without it the
        last epoch's weights are kept.
        """
        x = check_interaction_matrix(train, name="train")
        if x.nnz == 0:
            raise DataError("train matrix is empty; fit needs interactions.")
        valid = check_valid(valid, x.shape[1])
        check_int(seed, name="seed", minimum=0)
        self.device = resolve_device(device)
        self.n_items = x.shape[1]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = self._build(self.n_items)
        self.net = net.to(self.device)
        gen = torch.Generator(device=self.device).manual_seed(seed)
        rng = np.random.default_rng(seed)
        self._start_training(x)

        cfg = self.config
        history: list[dict[str, float]] = []
        best, best_epoch, best_state, stale = -math.inf, 0, None, 0
        bar = tqdm(range(1, cfg.epochs + 1), desc=self.name, disable=not progress, leave=False)
        for epoch in bar:
            t0 = time.perf_counter()
            self.net.train()
            loss = self._train_epoch(x, rng, gen)
            if not math.isfinite(loss):
                raise ConfigError(
                    f"{self.name} training diverged at epoch {epoch} (loss={loss}); "
                    f"lower lr={cfg.lr} or check the data."
                )
            record = {"epoch": epoch, "loss": loss, "train_seconds": time.perf_counter() - t0}
            if valid is not None:
                ndcg = validation_ndcg(self, *valid)
                record["val_ndcg@100"] = ndcg
                if ndcg > best:
                    best, best_epoch, stale = ndcg, epoch, 0
                    best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
                else:
                    stale += 1
                bar.set_postfix(loss=f"{loss:.2f}", ndcg=f"{ndcg:.4f}", best=f"{best:.4f}")
            else:
                bar.set_postfix(loss=f"{loss:.2f}")
            history.append(record)
            if valid is not None and cfg.patience is not None and stale >= cfg.patience:
                break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        self.opt = {}  # free the Adam moments
        self.net.eval()
        self.training = {
            "seed": seed,
            "epochs_run": len(history),
            "best_epoch": best_epoch if valid is not None else len(history),
            "best_val_ndcg@100": best if valid is not None else None,
            "history": history,
            **self._training_extras(),
        }
        return self

    def _training_extras(self) -> dict[str, Any]:
        return {}

    def _fitted_net(self) -> nn.Module:
        if self.net is None:
            raise ConfigError(f"{type(self).__name__} is not fitted; call fit() or load it.")
        return self.net

    def _score_block(self, x: sp.csr_matrix) -> np.ndarray:
        self._fitted_net().eval()
        with torch.no_grad():
            return self._logits(to_dense(x, self.device)).float().cpu().numpy()

    # ---------------------------------------------------------------- files

    def _arrays(self) -> dict[str, np.ndarray]:
        state = self._fitted_net().state_dict()
        return {k: v.detach().cpu().numpy() for k, v in state.items()}

    def _restore(self, arrays: dict[str, np.ndarray], device: torch.device) -> None:
        n_items = self._require_fitted()  # set from config.json before _restore
        with torch.random.fork_rng(devices=[]):
            net = self._build(n_items)  # initial values are overwritten below
        state = {k: torch.from_numpy(v) for k, v in arrays.items()}
        try:
            net.load_state_dict(state)
        except RuntimeError as e:
            raise DataError(f"saved {self.name} weights do not match its config: {e}") from e
        self.net = net.to(device).eval()
