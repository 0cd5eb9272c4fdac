"""APRON: attention over audio prototypes → an editable profile → recommendations.

Read top to bottom (docs/design.md §3):
  q_h(x) = x W_Q^h,  k_h(P_k) = v_h(P_k) = P_k W_KV^h          (shared key/value)
  w^h_jk = softmax_k(q_h(x_j)·k_h(P_k) / sqrt(d/H));  w_jk = mean_h w^h_jk
  ŵ_k = mean_j w_jk  (the profile, what the sliders show)
  u = Σ_k ŵ_k P̃_k   with P̃_k = concat_h v_h(P_k)             (u is linear in ŵ)
  logits = f(u)      f: dropout → MLP → N songs
With ``per_head_profile`` the profile keeps one distribution per head (H, K) and
u = concat_h Σ_k ŵ^h_k v_h(P_k); an edit of the head mean rescales every head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from apron_core.errors import ConfigError


@dataclass(frozen=True)
class ApronConfig:
    n_songs: int
    emb_dim: int  # D: the encoder's embedding size
    n_prototypes: int = 80  # K
    d_model: int = 256  # d: attention width, split over the heads
    n_heads: int = 16  # H
    hidden: tuple[int, ...] = (600,)  # f's hidden layers
    dropout: float = 0.5  # on f's input
    per_head_profile: bool = False
    trainable_prototypes: bool = False

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ConfigError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")
        for name in ("n_songs", "emb_dim", "n_prototypes", "d_model", "n_heads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be ≥ 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout={self.dropout} must be in [0, 1)")

    @classmethod
    def from_dict(cls, d: dict) -> ApronConfig:
        d = dict(d)
        d["hidden"] = tuple(d.get("hidden", ()))
        return cls(**d)


@dataclass
class ApronOutput:
    logits: torch.Tensor  # (B, N)
    profile: torch.Tensor  # (B, K) head mean, or (B, H, K) per head
    song_weights: torch.Tensor | None = field(default=None)  # (B, S, K) w_jk, head mean


class Apron(nn.Module):
    def __init__(self, cfg: ApronConfig, prototypes: torch.Tensor, songs: torch.Tensor) -> None:
        super().__init__()
        if prototypes.shape != (cfg.n_prototypes, cfg.emb_dim):
            raise ConfigError(
                f"prototypes have shape {tuple(prototypes.shape)}, expected "
                f"({cfg.n_prototypes}, {cfg.emb_dim})"
            )
        if songs.shape != (cfg.n_songs, cfg.emb_dim):
            raise ConfigError(
                f"song embeddings have shape {tuple(songs.shape)}, expected "
                f"({cfg.n_songs}, {cfg.emb_dim})"
            )
        self.cfg = cfg
        self.w_q = nn.Linear(cfg.emb_dim, cfg.d_model, bias=False)
        self.w_kv = nn.Linear(cfg.emb_dim, cfg.d_model, bias=False)
        if cfg.trainable_prototypes:
            self.prototypes = nn.Parameter(prototypes.clone().float())
        else:
            self.register_buffer("prototypes", prototypes.clone().float())
        self.register_buffer("songs", songs.clone().float())  # (N, D), fixed audio embeddings
        layers: list[nn.Module] = [nn.Dropout(cfg.dropout)]
        width = cfg.d_model
        for h in cfg.hidden:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        layers.append(nn.Linear(width, cfg.n_songs))
        self.f = nn.Sequential(*layers)

    # ---- attention -----------------------------------------------------------------
    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(..., d) → (..., H, d/H)"""
        return x.unflatten(-1, (self.cfg.n_heads, self.cfg.d_model // self.cfg.n_heads))

    def _head_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax attention of M embeddings (M, D) over the prototypes, head-major: (H, M, K).

        Head-major keeps the softmax axis contiguous; that layout is 5× faster on CPU.
        """
        c = self.cfg.d_model // self.cfg.n_heads
        q = self.w_q(x).view(len(x), self.cfg.n_heads, c).transpose(0, 1)  # (H, M, c)
        k = self.values().permute(1, 2, 0)  # (H, c, K)
        return (torch.bmm(q, k) / math.sqrt(c)).softmax(-1)

    def head_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Per-head attention of embeddings x (..., D) over the prototypes: (..., H, K)."""
        w = self._head_attention(x.reshape(-1, x.shape[-1]))  # (H, M, K)
        return w.transpose(0, 1).reshape(*x.shape[:-1], *w.shape[::2])

    def values(self) -> torch.Tensor:
        """v_h(P_k) for all heads: (K, H, d/H); concatenated over heads it is P̃ (K, d)."""
        return self._heads(self.w_kv(self.prototypes))

    # ---- profile → recommendations -------------------------------------------------
    def profile_from_history(
        self, history: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """history (B, S) song indices, mask (B, S) True for real songs.

        Returns the profile ((B, K), or (B, H, K) per head) and w_jk (B, S, K).
        """
        wh = self.head_weights(self.songs[history])  # (B, S, H, K)
        m = mask.to(wh.dtype)[..., None, None]  # (B, S, 1, 1)
        n = m.sum(1).clamp_min(1.0)  # (B, 1, 1)
        per_head = (wh * m).sum(1) / n  # (B, H, K)
        profile = per_head if self.cfg.per_head_profile else per_head.mean(1)
        return profile, wh.mean(2)

    def song_head_weights(self) -> torch.Tensor:
        """w^h_jk for every catalog song, head-major: (H, N, K). Cache it at inference time."""
        return self._head_attention(self.songs)

    def profile_from_matrix(
        self, x: torch.Tensor, song_head_weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Profile of histories given as a (B, N) 0/1 matrix, dense or torch-sparse.

        Same result as ``profile_from_history``, as one (sparse) matmul with the (H, N, K)
        song attention: how training and the engine run.
        """
        wh = self.song_head_weights() if song_head_weights is None else song_head_weights
        h, n, k = wh.shape
        if x.is_sparse:
            x = x.coalesce()
            counts = torch.zeros(x.shape[0], device=x.device).index_add_(
                0, x.indices()[0], x.values()
            )
            xn = torch.sparse_coo_tensor(
                x.indices(),
                x.values() / counts.clamp_min(1.0)[x.indices()[0]],
                x.shape,
                check_invariants=False,
            )
            flat = wh.transpose(0, 1).reshape(n, h * k)  # (N, H·K)
            per_head = torch.sparse.mm(xn, flat).view(-1, h, k)  # (B, H, K)
        else:
            xn = x / x.sum(-1, keepdim=True).clamp_min(1.0)  # mean over the history's songs
            per_head = torch.matmul(xn.unsqueeze(0), wh).transpose(0, 1)  # (H,B,K)→(B,H,K)
        return per_head if self.cfg.per_head_profile else per_head.mean(1)

    def user_vector(self, profile: torch.Tensor) -> torch.Tensor:
        """u from a profile (B, K) or per-head profile (B, H, K): (B, d). Linear in the profile."""
        v = self.values()  # (K, H, c)
        if profile.dim() == 2:
            return torch.einsum("bk,khc->bhc", profile, v).flatten(1)
        return torch.einsum("bhk,khc->bhc", profile, v).flatten(1)

    def forward_profile(self, profile: torch.Tensor) -> torch.Tensor:
        """Logits (B, N) for a (possibly edited) profile: the path the sliders drive."""
        return self.f(self.user_vector(profile))

    def forward(self, history: torch.Tensor, mask: torch.Tensor) -> ApronOutput:
        profile, song_weights = self.profile_from_history(history, mask)
        return ApronOutput(self.forward_profile(profile), profile, song_weights)

    # ---- training regularizer ------------------------------------------------------
    def prototype_self_attention_logits(self) -> torch.Tensor:
        """Each prototype as a query over all prototypes, per head: (H, K, K) logits."""
        q = self._heads(self.w_q(self.prototypes))  # (K, H, c)
        k = self.values()  # (K, H, c)
        return torch.einsum("ihc,khc->hik", q, k) / math.sqrt(q.shape[-1])


def head_mean(profile: torch.Tensor) -> torch.Tensor:
    """What the sliders show: the head mean of a per-head profile (identity for (B, K))."""
    return profile.mean(-2) if profile.dim() == 3 else profile


def edit_per_head(per_head: torch.Tensor, new_mean: torch.Tensor) -> torch.Tensor:
    """Apply a slider edit to a per-head profile: scale tag k in every head by the same factor
    (new / old head-mean weight), then renormalize each head. A tag whose old weight is 0 gets
    the new weight in every head."""
    old = per_head.mean(-2, keepdim=True)  # (B, 1, K)
    factor = torch.where(old > 0, new_mean.unsqueeze(-2) / old.clamp_min(1e-12), 0.0)
    edited = torch.where(old > 0, per_head * factor, new_mean.unsqueeze(-2).expand_as(per_head))
    return edited / edited.sum(-1, keepdim=True).clamp_min(1e-12)


# ---- losses ------------------------------------------------------------------------
def multinomial_nll(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mult-VAE's reconstruction: −Σ_i x_i log softmax(logits)_i, mean over users."""
    return -(F.log_softmax(logits, -1) * target).sum(-1).mean()


def bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1).mean()


def soft_tag_mix(logits: torch.Tensor, song_tags: torch.Tensor, top_k: int = 0) -> torch.Tensor:
    """Differentiable T(ŷ) = normalize(softmax(ŷ)ᵀ A): (B, N) × (N, K) → (B, K).

    Soft: every song counts by its softmax share, so the loss has a gradient; the metrics'
    tag mix of a hard top-k list is :func:`apron_core.metrics.tag_mix`.

    With ``top_k`` > 0 the softmax runs over each user's k highest logits only, so the
    tag mix is that of what would be recommended rather than of the whole catalog.
    """
    if top_k > 0:
        values, idx = logits.topk(min(top_k, logits.shape[-1]), dim=-1)  # (B, k)
        mix = torch.einsum("bk,bkt->bt", values.softmax(-1), song_tags[idx])
    else:
        mix = logits.softmax(-1) @ song_tags
    return mix / mix.sum(-1, keepdim=True).clamp_min(1e-12)


def hellinger(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Hellinger distance between distributions along the last axis, in [0, 1]."""
    # sqrt each side separately, clamped: d sqrt(x)/dx is infinite at 0 (a tag nobody plays)
    bc = (p.clamp_min(1e-12).sqrt() * q.clamp_min(1e-12).sqrt()).sum(-1)
    return (1.0 - bc).clamp_min(0.0).add(1e-12).sqrt()


def zero_tag_rows(profile: torch.Tensor, tag: torch.Tensor) -> torch.Tensor:
    """The slider edit "ŵ_t = 0, renormalize" for one tag per row of (B, K) or (B, H, K), in
    torch so the training loss can pass through it (the metrics' numpy version is
    :func:`apron_core.metrics.scale_tag_rows`)."""
    mean = head_mean(profile)  # (B, K)
    keep = torch.ones_like(mean).scatter_(1, tag[:, None], 0.0)
    edited = mean * keep
    edited = edited / edited.sum(-1, keepdim=True).clamp_min(1e-12)
    return edit_per_head(profile, edited) if profile.dim() == 3 else edited


def keep_rest_loss(
    logits: torch.Tensor, edited_logits: torch.Tensor, removed: torch.Tensor
) -> torch.Tensor:
    """KL(before ‖ after) of the recommendation distribution over the songs an edit did not
    target (``removed`` (B, N) marks songs carrying the zeroed tag). Zero when removing a tag
    only takes its songs out, as a tag filter would: the rest keeps its order and shares."""
    neg = torch.finfo(logits.dtype).min
    before = torch.log_softmax(logits.detach().masked_fill(removed, neg), -1)  # (B, N)
    after = torch.log_softmax(edited_logits.masked_fill(removed, neg), -1)
    kl = (before.exp() * (before - after)).masked_fill(removed, 0.0).sum(-1)  # (B,)
    return kl.mean()


def separation_loss(model: Apron) -> torch.Tensor:
    """Each prototype, as a query, must attend to itself (cross-entropy, mean over heads)."""
    logits = model.prototype_self_attention_logits()  # (H, K, K)
    h, k, _ = logits.shape
    target = torch.arange(k, device=logits.device).repeat(h)
    return F.cross_entropy(logits.reshape(h * k, k), target)
