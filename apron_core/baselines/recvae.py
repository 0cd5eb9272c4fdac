"""RecVAE (Shenbin et al. 2020, "RecVAE: a New Variational Autoencoder for Top-N
Recommendations with Implicit Feedback"), re-implemented in torch.

Differences from Mult-VAE, all from the paper:

* Encoder: five dense layers of 600 units, each ``LayerNorm(swish(W h + Σ previous h))``
  (dense connections), then linear heads for mean and log-variance (200-d); input
  L2-normalized, dropout 0.5 on it. Decoder: one linear layer 200 → N.
* Composite prior ``p(z | φ_old, x) = 3/20 N(0, I) + 15/20 q_φold(z | x) + 2/20 N(0, e^10 I)``
  where ``φ_old`` is a frozen copy of the encoder taken after each encoder phase.
* KL weight ``β'(x) = γ · |x|`` (γ = 0.005), the user's interaction count, so heavy
  users are regularized more; a constant ``beta`` is used when ``gamma`` is None.
* Alternating training: each epoch runs ``n_enc_epochs`` = 3 passes updating the
  encoder (dropout 0.5), refreshes the prior's encoder copy, then ``n_dec_epochs``
  = 1 pass updating the decoder (dropout 0). Separate Adam optimizers, lr 5e-4.

The KL term is a one-sample estimate ``log q(z|x) − log p(z)`` at the sampled z,
summed over latent dimensions. Scores are the decoder's logits at the posterior
mean. The prior's encoder copy starts as a copy of the initial encoder (the
reference starts it from a separate random initialization).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from apron_core.baselines.neural import NeuralBaseline, dropout
from apron_core.checks import check_int, check_number, quote
from apron_core.errors import ConfigError

_LOG_2PI = math.log(2 * math.pi)


@dataclass
class RecVAEConfig:
    hidden_dim: int = 600
    latent_dim: int = 200
    dropout: float = 0.5  # encoder input dropout during encoder passes
    gamma: float | None = 0.005  # KL weight per interaction; None: use beta
    beta: float | None = None  # constant KL weight when gamma is None
    mixture_weights: tuple[float, float, float] = (3 / 20, 15 / 20, 2 / 20)  # N(0,1), old, wide
    wide_logvar: float = 10.0  # log-variance of the wide prior component
    layer_norm_eps: float = 0.1
    n_enc_epochs: int = 3
    n_dec_epochs: int = 1
    lr: float = 5e-4
    batch_size: int = 500
    epochs: int = 50
    patience: int | None = 10


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(z; mu, exp(logvar))."""
    return -0.5 * (logvar + _LOG_2PI + (z - mu).pow(2) / logvar.exp())


def swish(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(x)


class Encoder(nn.Module):
    """Five densely connected swish + LayerNorm layers, then mean / log-variance heads."""

    def __init__(self, n_items: int, hidden_dim: int, latent_dim: int, eps: float) -> None:
        super().__init__()
        self.fc = nn.ModuleList(
            [nn.Linear(n_items, hidden_dim)] + [nn.Linear(hidden_dim, hidden_dim) for _ in range(4)]
        )
        self.ln = nn.ModuleList(nn.LayerNorm(hidden_dim, eps=eps) for _ in range(5))
        self.fc_mu = nn.Linear(hidden_dim, latent_dim)
        self.fc_logvar = nn.Linear(hidden_dim, latent_dim)

    def forward(self, x: torch.Tensor, p_drop: float, gen: torch.Generator | None):
        h = x / (x.pow(2).sum(dim=-1, keepdim=True).sqrt() + 1e-10)  # (b, N)
        h = dropout(h, p_drop, gen)
        hs: list[torch.Tensor] = []
        for fc, ln in zip(self.fc, self.ln, strict=True):
            pre = fc(h)  # (b, H)
            for prev in hs:  # dense connections: h_k = ln(swish(fc_k(h_{k-1}) + Σ_{j<k} h_j))
                pre = pre + prev
            h = ln(swish(pre))
            hs.append(h)
        return self.fc_mu(h), self.fc_logvar(h)  # (b, d) each


class _RecVAENet(nn.Module):
    def __init__(self, n_items: int, cfg: RecVAEConfig) -> None:
        super().__init__()
        self.encoder = Encoder(n_items, cfg.hidden_dim, cfg.latent_dim, cfg.layer_norm_eps)
        self.encoder_old = Encoder(n_items, cfg.hidden_dim, cfg.latent_dim, cfg.layer_norm_eps)
        self.encoder_old.requires_grad_(False)
        self.decoder = nn.Linear(cfg.latent_dim, n_items)
        self.update_prior()
        self.log_weights = [math.log(w) for w in cfg.mixture_weights]
        self.wide_logvar = cfg.wide_logvar

    def update_prior(self) -> None:
        self.encoder_old.load_state_dict(self.encoder.state_dict())

    def log_prior(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(z | x) of the composite prior, elementwise (b, d)."""
        with torch.no_grad():
            mu_old, logvar_old = self.encoder_old(x, 0.0, None)
        zero = torch.zeros_like(z)
        parts = [
            log_normal(z, zero, zero),
            log_normal(z, mu_old, logvar_old),
            log_normal(z, zero, torch.full_like(z, self.wide_logvar)),
        ]
        parts = [p + w for p, w in zip(parts, self.log_weights, strict=True)]
        return torch.logsumexp(torch.stack(parts, dim=-1), dim=-1)


class RecVAE(NeuralBaseline):
    """RecVAE (Shenbin et al. 2020)."""

    name = "recvae"
    config_cls = RecVAEConfig

    def __init__(self, config: RecVAEConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        c = self.config
        for name in ("hidden_dim", "latent_dim", "n_enc_epochs", "n_dec_epochs"):
            check_int(getattr(c, name), name=name, minimum=1)
        check_number(c.layer_norm_eps, name="layer_norm_eps", above=0.0)
        if c.gamma is not None:
            check_number(c.gamma, name="gamma", minimum=0.0)
        elif c.beta is None:
            raise ConfigError("RecVAE needs gamma (KL weight per interaction) or beta; both None")
        else:
            check_number(c.beta, name="beta", minimum=0.0)
        w = c.mixture_weights
        if not isinstance(w, tuple | list) or len(w) != 3:
            raise ConfigError(f"mixture_weights={quote(w)} must be three positive weights")
        for v in w:
            check_number(v, name="mixture_weights entry", above=0.0)
        if abs(sum(w) - 1.0) > 1e-6:
            raise ConfigError(f"mixture_weights={w!r} must sum to 1 (got {sum(w)})")

    def _build(self, n_items: int) -> nn.Module:
        return _RecVAENet(n_items, self.config)

    def _start_training(self, train: sp.csr_matrix) -> None:
        lr = self.config.lr
        self.opt = {
            "encoder": torch.optim.Adam(self.net.encoder.parameters(), lr=lr),
            "decoder": torch.optim.Adam(self.net.decoder.parameters(), lr=lr),
        }

    def _kl_weight(self, x: torch.Tensor) -> torch.Tensor | float:
        c = self.config
        if c.gamma is not None:
            return c.gamma * x.sum(dim=-1)  # (b,)
        return float(c.beta)

    def _sample(self, mu: torch.Tensor, logvar: torch.Tensor, gen: torch.Generator):
        eps = torch.randn(mu.shape, generator=gen, device=mu.device, dtype=mu.dtype)
        return mu + eps * torch.exp(0.5 * logvar)

    def _train_epoch(
        self, train: sp.csr_matrix, rng: np.random.Generator, gen: torch.Generator
    ) -> float:
        net, c = self.net, self.config
        total, n = 0.0, 0
        net.decoder.requires_grad_(False)  # encoder phase: no decoder gradients needed
        for _ in range(c.n_enc_epochs):
            for x in self.batches(train, rng):
                mu, logvar = net.encoder(x, c.dropout, gen)  # (b, d)
                z = self._sample(mu, logvar, gen)
                logits = net.decoder(z)  # (b, N)
                mll = (torch.log_softmax(logits, dim=-1) * x).sum(dim=-1)  # (b,)
                kld = (log_normal(z, mu, logvar) - net.log_prior(x, z)).sum(dim=-1)  # (b,)
                loss = (-mll + kld * self._kl_weight(x)).mean()
                self.opt["encoder"].zero_grad(set_to_none=True)
                loss.backward()
                self.opt["encoder"].step()
                total, n = total + float(loss.detach()) * len(x), n + len(x)
        net.decoder.requires_grad_(True)
        net.update_prior()
        for _ in range(c.n_dec_epochs):
            for x in self.batches(train, rng):
                with torch.no_grad():
                    mu, logvar = net.encoder(x, 0.0, None)
                    z = self._sample(mu, logvar, gen)
                logits = net.decoder(z)
                loss = -(torch.log_softmax(logits, dim=-1) * x).sum(dim=-1).mean()
                self.opt["decoder"].zero_grad(set_to_none=True)
                loss.backward()
                self.opt["decoder"].step()
        return total / n  # mean negative ELBO over the encoder passes

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        mu, _ = self.net.encoder(x, 0.0, None)
        return self.net.decoder(mu)
