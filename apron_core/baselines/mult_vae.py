"""Mult-DAE and Mult-VAE (Liang et al. 2018, "Variational Autoencoders for Collaborative
Filtering", reference code ``vae_cf``), re-implemented in torch.

Both read a user's play vector x (N songs), L2-normalize it, drop inputs with
probability 0.5 during training and decode logits over all N songs; the loss is
the multinomial log-likelihood ``−Σ_i x_i log softmax(logits)_i``.

* Mult-DAE: a plain autoencoder ``[N → 600 → 200 → 600 → N]``, tanh after every
  layer but the last, L2 penalty ``l2 · Σ‖W‖²`` on the weights (vae_cf:
  ``lam = 0.01 / batch_size``, loss ``neg_ll + 2 · l2_regularizer(lam)``).
  (vae_cf's notebook runs the DAE as ``[N → 200 → N]``: ``hidden_dims=()``.)
* Mult-VAE: the encoder outputs mean and log-variance of a 200-d Gaussian
  (no tanh on that layer); the KL term is weighted by β, annealed linearly from
  0 by ``1 / total_anneal_steps`` per update up to ``anneal_cap`` = 0.2.

Scores are the decoder's logits for the mean latent (no dropout, no sampling).
Weights: Xavier-uniform; biases: normal(0, 0.001) truncated at 2 σ (as vae_cf).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from apron_core.baselines.neural import NeuralBaseline, dropout, multinomial_nll
from apron_core.checks import check_int, check_number
from apron_core.errors import ConfigError

# vae_cf ran 200k annealing updates on ML-20M: 234 updates/epoch x 200 epochs = 46.8k
# updates, so β reached the cap (0.2 = 40k/200k) after ~85 % of training.
ANNEAL_FRACTION = 0.85


@dataclass
class MultDAEConfig:
    hidden_dims: tuple[int, ...] = (600,)  # encoder hidden sizes; decoder mirrors them
    latent_dim: int = 200
    dropout: float = 0.5  # on the normalized input
    l2: float = 0.01 / 500  # penalty l2 * sum of squared weights (vae_cf lam / batch_size)
    lr: float = 1e-3  # Adam
    batch_size: int = 500
    epochs: int = 200
    patience: int | None = 20  # epochs without a better validation NDCG@100


@dataclass
class MultVAEConfig:
    hidden_dims: tuple[int, ...] = (600,)
    latent_dim: int = 200
    dropout: float = 0.5
    anneal_cap: float = 0.2  # largest β
    # updates for β to grow from 0 to 1 (vae_cf: 200_000). None: scaled to the data so
    # that β reaches anneal_cap after 85 % of the updates of `epochs` epochs, as in
    # vae_cf's ML-20M run.
    total_anneal_steps: int | None = None
    lr: float = 1e-3
    batch_size: int = 500
    epochs: int = 200
    patience: int | None = 20


def _check_arch(cfg: Any) -> None:
    if not isinstance(cfg.hidden_dims, tuple | list):
        raise ConfigError(f"hidden_dims={cfg.hidden_dims!r} must be a tuple of layer sizes")
    for h in cfg.hidden_dims:
        check_int(h, name="hidden_dims entry", minimum=1)
    check_int(cfg.latent_dim, name="latent_dim", minimum=1)


class _MultNet(nn.Module):
    """[N → hidden… → latent (×2 if variational) → …hidden → N] with tanh."""

    def __init__(
        self, n_items: int, hidden_dims: tuple[int, ...], latent_dim: int, variational: bool
    ) -> None:
        super().__init__()
        self.variational = variational
        self.latent_dim = latent_dim
        q_dims = [n_items, *hidden_dims, latent_dim]
        p_dims = q_dims[::-1]
        q_out = [*q_dims[1:-1], latent_dim * (2 if variational else 1)]
        self.q = nn.ModuleList(nn.Linear(a, b) for a, b in zip(q_dims[:-1], q_out, strict=True))
        self.p = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(p_dims))
        for layer in [*self.q, *self.p]:
            nn.init.xavier_uniform_(layer.weight)
            nn.init.trunc_normal_(layer.bias, std=0.001, a=-0.002, b=0.002)

    def encode(self, x: torch.Tensor, p_drop: float, gen: torch.Generator | None):
        """Mean and log-variance (VAE) or code (DAE, logvar None) of x (b, N)."""
        h = nn.functional.normalize(x, dim=-1)  # (b, N)
        h = dropout(h, p_drop, gen)
        for i, layer in enumerate(self.q):
            h = layer(h)
            if i < len(self.q) - 1 or not self.variational:
                h = torch.tanh(h)
        if not self.variational:
            return h, None  # (b, latent)
        return h[:, : self.latent_dim], h[:, self.latent_dim :]  # (b, latent) each

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        h = z
        for i, layer in enumerate(self.p):
            h = layer(h)
            if i < len(self.p) - 1:
                h = torch.tanh(h)
        return h  # (b, N) logits


class MultDAE(NeuralBaseline):
    """Mult-DAE (Liang et al. 2018): denoising autoencoder with a multinomial likelihood."""

    name = "mult-dae"
    config_cls = MultDAEConfig

    def __init__(self, config: MultDAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        _check_arch(self.config)
        check_number(self.config.l2, name="l2", minimum=0.0)

    def _build(self, n_items: int) -> nn.Module:
        c = self.config
        return _MultNet(n_items, tuple(c.hidden_dims), c.latent_dim, variational=False)

    def _start_training(self, train: sp.csr_matrix) -> None:
        self.opt = {"all": torch.optim.Adam(self.net.parameters(), lr=self.config.lr)}
        self._weights = [m.weight for m in self.net.modules() if isinstance(m, nn.Linear)]

    def _train_epoch(
        self, train: sp.csr_matrix, rng: np.random.Generator, gen: torch.Generator
    ) -> float:
        total, n = 0.0, 0
        for x in self.batches(train, rng):
            code, _ = self.net.encode(x, self.config.dropout, gen)
            loss = multinomial_nll(self.net.decode(code), x)
            if self.config.l2:
                loss = loss + self.config.l2 * sum(w.pow(2).sum() for w in self._weights)
            self.opt["all"].zero_grad(set_to_none=True)
            loss.backward()
            self.opt["all"].step()
            total, n = total + float(loss.detach()) * len(x), n + len(x)
        return total / n

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        code, _ = self.net.encode(x, 0.0, None)
        return self.net.decode(code)


class MultVAE(NeuralBaseline):
    """Mult-VAE^PR (Liang et al. 2018): VAE with multinomial likelihood and annealed β."""

    name = "mult-vae"
    config_cls = MultVAEConfig

    def __init__(self, config: MultVAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        _check_arch(self.config)
        check_number(self.config.anneal_cap, name="anneal_cap", minimum=0.0)
        if self.config.total_anneal_steps is not None:
            check_int(self.config.total_anneal_steps, name="total_anneal_steps", minimum=1)

    def _build(self, n_items: int) -> nn.Module:
        c = self.config
        return _MultNet(n_items, tuple(c.hidden_dims), c.latent_dim, variational=True)

    def anneal_steps_for(self, n_train_users: int) -> int:
        """``total_anneal_steps``, or the data-scaled default when it is None."""
        c = self.config
        if c.total_anneal_steps is not None:
            return int(c.total_anneal_steps)
        updates = -(-n_train_users // c.batch_size) * c.epochs
        return max(1, round(ANNEAL_FRACTION * updates / max(c.anneal_cap, 1e-12)))

    def _start_training(self, train: sp.csr_matrix) -> None:
        self.opt = {"all": torch.optim.Adam(self.net.parameters(), lr=self.config.lr)}
        self.total_anneal_steps = self.anneal_steps_for(train.shape[0])
        self.updates = 0

    def beta(self) -> float:
        """β for the next update: min(anneal_cap, updates / total_anneal_steps)."""
        return min(self.config.anneal_cap, self.updates / self.total_anneal_steps)

    def _train_epoch(
        self, train: sp.csr_matrix, rng: np.random.Generator, gen: torch.Generator
    ) -> float:
        total, n = 0.0, 0
        for x in self.batches(train, rng):
            mu, logvar = self.net.encode(x, self.config.dropout, gen)  # (b, d) each
            std = torch.exp(0.5 * logvar)
            eps = torch.randn(std.shape, generator=gen, device=std.device, dtype=std.dtype)
            logits = self.net.decode(mu + eps * std)  # (b, N)
            kl = (0.5 * (-logvar + logvar.exp() + mu.pow(2) - 1)).sum(dim=-1).mean()
            loss = multinomial_nll(logits, x) + self.beta() * kl
            self.opt["all"].zero_grad(set_to_none=True)
            loss.backward()
            self.opt["all"].step()
            self.updates += 1
            total, n = total + float(loss.detach()) * len(x), n + len(x)
        return total / n

    def _training_extras(self) -> dict[str, Any]:
        return {"total_anneal_steps": self.total_anneal_steps, "final_beta": self.beta()}

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        mu, _ = self.net.encode(x, 0.0, None)
        return self.net.decode(mu)
