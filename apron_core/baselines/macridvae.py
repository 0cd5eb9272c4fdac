"""MacridVAE (Ma et al., NeurIPS 2019, "Learning Disentangled Representations for
Recommendation") and a tag-aligned SEM-MacridVAE (after Wang et al., TPAMI 2022), in torch.

The model (both)
----------------
* K concepts with prototypes ``m_k`` and songs with representations ``h_i`` (d-dim,
  compared by cosine). Song i's concept assignment ``c_i`` is a softmax over
  ``cos(h_i, m_k) / τ`` — a Gumbel-softmax sample while training (macro
  disentanglement: a song should belong to one concept), the softmax when scoring.
* Encoder: the user's L2-normalized play vector x (dropout 0.5 while training) is
  masked by each concept's assignment, ``x ⊙ c_{:,k}``, and one shared encoder maps
  each masked vector to a unit-norm mean ``μ_k`` and a log-variance ``ℓ_k``;
  ``z_k = μ_k + σ0 · exp(ℓ_k / 2) · ε`` while training, ``μ_k`` when scoring.
* Decoder: ``p(i | u) ∝ Σ_k c_ik · exp(cos(z_k, h_i) / τ)``, multinomial likelihood.
* Loss: ``−log-likelihood + β · KL``; the prior is N(0, σ0² I) and, μ having unit
  norm, the KL is ``½ Σ_k Σ_d (e^ℓ − ℓ − 1)`` up to a constant (micro disentanglement:
  β-VAE pressure on every dimension). β grows linearly to ``anneal_cap`` as in Mult-VAE.

SEM-MacridVAE here: the concepts are the 80 tags (concept k *is* tag k); a song's
assignment is the softmax restricted to its own observed tags (over all 80 when it has
none), so which of its tags explains it is learned; and the song representation is
``h_i = e_i + P f_i`` with ``f_i`` the song's audio embedding — the published
SEM-MacridVAE builds item (and concept) representations from item content features.
Aligning the concepts with the tags is what makes concept-level control a tag edit.

Profile and edit (how Δ is measured "the same way as the others")
-----------------------------------------------------------------
``A_uk = Σ_i c_ik exp(cos(z_uk, h_i)/τ)`` is the mass concept k has in the decoder's
(unnormalized) distribution, so ``w_uk = A_uk / Σ_k A_uk`` is the share of the user's
predicted listening that concept k explains (:meth:`MacridVAE.concept_shares`). The
80-tag profile is ``p_u = w_u Q`` with Q (K, 80) the tag mix of each concept:

* SEM-MacridVAE: Q = identity, the profile *is* the concept shares;
* MacridVAE: ``Q_kt`` = observed-tag mix of the songs assigned to concept k
  (``Σ_i c_ik tag_it``, row-normalized). Its concepts are learned clusters, not tags:
  this mapping is ours, needed to put the model on the tag sliders at all.

An edited profile ``p'`` gives every concept the gain
``g_uk = 1 + Σ_t Q_kt (p'_ut / p_ut − 1)`` (ratio 1 where ``p_ut = 0``) and the scores
become ``log Σ_k g_uk c_ik exp(cos(z_uk, h_i)/τ)``: the concept's contribution is
scaled, nothing else. For SEM-MacridVAE ``g = p' / p``, so after the edit the concept
shares of the predicted distribution equal ``p'`` exactly; zeroing tag t removes
concept t (songs assigned only to it sink to the floor). For MacridVAE the gains are
one multiplicative (EM) step re-fitting the concept weights to the edited tag mix
(they still sum to 1): zeroing tag t lowers each concept by the share t has of its tag
mix, so its control is only as sharp as its concepts happen to match tags.
An unedited profile (p' = p) leaves the scores exactly unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.nn import functional as F

from apron_core.baselines.base import SCORE_BATCH_USERS
from apron_core.baselines.mult_vae import ANNEAL_FRACTION
from apron_core.baselines.neural import (
    NeuralBaseline,
    dropout,
    multinomial_nll,
    to_dense,
)
from apron_core.checks import check_int, check_interaction_matrix, check_number, check_profile
from apron_core.errors import ConfigError, DataError
from apron_core.tags import K as N_TAGS

_RATIO_TOLERANCE = 1e-5  # p'/p within this of 1 is no edit (float32 recomputation noise)
_TINY = torch.finfo(torch.float32).tiny  # floor of a song's mixture mass: log ≈ −87


@dataclass
class _MacridFields:
    """Defaults: the MacridVAE reference code's (d 100, τ 0.1, σ0 0.075, β 0.2, keep 0.5,
    lr 1e-3, no L2), batch and epochs as our Mult-VAE."""

    latent_dim: int = 100  # d per concept
    hidden_dims: tuple[int, ...] = ()  # encoder hidden tanh layers; () = one linear layer
    tau: float = 0.1  # cosine temperature, assignment and decoder
    prior_std: float = 0.075  # σ0 of the prior N(0, σ0² I)
    gumbel: bool = True  # Gumbel-softmax assignment samples while training
    dropout: float = 0.5  # on the normalized input
    anneal_cap: float = 0.2  # largest β
    # updates for β to grow from 0 to 1; None: scaled as Mult-VAE (cap reached at 85 %)
    total_anneal_steps: int | None = None
    lr: float = 1e-3  # Adam
    batch_size: int = 500
    epochs: int = 200
    patience: int | None = 20  # epochs without a better validation NDCG@100


@dataclass
class MacridVAEConfig(_MacridFields):
    n_concepts: int = 7  # K macro concepts (reference code default)


@dataclass
class SemMacridVAEConfig(_MacridFields):
    use_song_features: bool = True  # h_i = e_i + P f_i with the songs' audio embeddings


def _check_config(cfg: _MacridFields) -> None:
    check_int(cfg.latent_dim, name="latent_dim", minimum=1)
    if not isinstance(cfg.hidden_dims, tuple | list):
        raise ConfigError(f"hidden_dims={cfg.hidden_dims!r} must be a tuple of layer sizes")
    for h in cfg.hidden_dims:
        check_int(h, name="hidden_dims entry", minimum=1)
    check_number(cfg.tau, name="tau", above=0.0)
    check_number(cfg.prior_std, name="prior_std", above=0.0)
    check_number(cfg.anneal_cap, name="anneal_cap", minimum=0.0)
    if cfg.total_anneal_steps is not None:
        check_int(cfg.total_anneal_steps, name="total_anneal_steps", minimum=1)
    if not isinstance(cfg.gumbel, bool):
        raise ConfigError(f"gumbel={cfg.gumbel!r} must be true or false")


# --------------------------------------------------------------------------- net


class _MacridNet(nn.Module):
    """Songs, concepts and the shared encoder over the allowed (song, concept) pairs.

    ``allowed`` (N, K) says which concepts a song may be assigned to (all of them for
    MacridVAE, its observed tags for SEM-MacridVAE). Pairs are kept sorted by concept,
    so concept k's pairs are the slice ``bounds[k]:bounds[k + 1]``.
    """

    def __init__(
        self, allowed: np.ndarray, cfg: _MacridFields, features: np.ndarray | None
    ) -> None:
        super().__init__()
        n_items, n_concepts = allowed.shape
        d = cfg.latent_dim
        self.n_items, self.n_concepts, self.latent_dim, self.tau = n_items, n_concepts, d, cfg.tau
        concept, item = np.nonzero(allowed.T)  # sorted by concept, then song
        self.bounds = np.searchsorted(concept, np.arange(n_concepts + 1)).tolist()
        self.sizes = np.diff(self.bounds).tolist()  # P_k pairs per concept
        by_item = np.argsort(item, kind="stable")  # pair indices grouped by song
        item_ptr = np.searchsorted(item[by_item], np.arange(n_items + 1))
        for name, arr in (
            ("pair_item", item),
            ("pair_concept", concept),
            ("pairs_by_item", by_item),
            ("item_ptr", item_ptr),
        ):
            self.register_buffer(name, torch.from_numpy(arr.astype(np.int64)), persistent=False)

        self.items = nn.Parameter(torch.empty(n_items, d))  # e_i
        self.concepts = nn.Parameter(torch.empty(n_concepts, d))  # m_k
        nn.init.xavier_normal_(self.items)
        nn.init.xavier_normal_(self.concepts)
        self.feature_proj: nn.Linear | None = None
        self.register_buffer("features", None, persistent=False)
        if features is not None:
            self.features = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
            self.feature_proj = nn.Linear(features.shape[1], d, bias=False)  # P
        dims = [*cfg.hidden_dims, 2 * d]
        self.enc_in = nn.Parameter(torch.empty(n_items, dims[0]))  # first layer, song rows
        self.enc_in_bias = nn.Parameter(torch.zeros(dims[0]))
        nn.init.xavier_normal_(self.enc_in)
        self.enc_hidden = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(dims))

    # ---------------------------------------------------------------- parts

    def item_reps(self) -> torch.Tensor:
        """Unit-norm song representations (N, d)."""
        h = self.items
        if self.feature_proj is not None:
            h = h + self.feature_proj(self.features)  # (N, d)
        return F.normalize(h, dim=-1)

    def log_assignment(self, hn: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
        """log c (P,): each song's log-softmax over its allowed concepts; Gumbel noise when gen."""
        mn = F.normalize(self.concepts, dim=-1)  # (K, d)
        logits = (hn[self.pair_item] * mn[self.pair_concept]).sum(-1) / self.tau  # (P,)
        if gen is not None:
            u = torch.rand(logits.shape, generator=gen, device=logits.device)
            logits = logits - torch.log(-torch.log(u.clamp(1e-10, 1.0 - 1e-7)))
        top = torch.full((self.n_items,), -torch.inf, device=logits.device)
        top = top.scatter_reduce(0, self.pair_item, logits.detach(), "amax")  # (N,)
        shifted = logits - top[self.pair_item]  # (P,) ≤ 0, the song's best is 0
        total = torch.zeros(self.n_items, device=logits.device)
        total = total.index_add(0, self.pair_item, torch.exp(shifted))  # (N,) ≥ 1
        return shifted - torch.log(total)[self.pair_item]

    def encode(
        self, x: torch.Tensor, log_c: torch.Tensor, p_drop: float, gen: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean (b, K, d), unit norm, and log-variance ℓ (b, K, d) of each concept's code.

        The first layer is ``Σ_i x_i c_ik W_i`` for every concept k, computed over the
        user's played songs only (a sparse product: plays x pairs-per-song terms).
        """
        b = x.shape[0]
        rows, songs = x.nonzero(as_tuple=True)  # (nnz,) each: the plays
        v = x[rows, songs]  # (nnz,)
        norm = torch.zeros(b, device=x.device, dtype=v.dtype).index_add(0, rows, v * v).sqrt()
        v = dropout(v / norm[rows], p_drop, gen)  # L2-normalized rows, dropout on the plays
        n_pairs = self.item_ptr[songs + 1] - self.item_ptr[songs]  # (nnz,)
        src = torch.repeat_interleave(torch.arange(len(songs), device=x.device), n_pairs)
        first = torch.cumsum(n_pairs, 0) - n_pairs  # (nnz,) first expanded entry of each
        offset = torch.arange(len(src), device=x.device) - first[src]
        pair = self.pairs_by_item[self.item_ptr[songs[src]] + offset]  # (E,) pair index
        # m[(u, k), p] = x_ui for the plays' pairs p = (i, k); v_p = c_ik W_i. The sparse
        # side holds no parameter, so backward is one sparse-dense product (no dense
        # (b·K, N) gradient).
        index = torch.stack([rows[src] * self.n_concepts + self.pair_concept[pair], pair])
        n_rows, n_pairs_all = b * self.n_concepts, len(self.pair_item)
        m = torch.sparse_coo_tensor(
            index, v[src].detach(), (n_rows, n_pairs_all), check_invariants=False
        )
        per_pair = torch.exp(log_c)[:, None] * self.enc_in[self.pair_item]  # (P, h0)
        h = torch.sparse.mm(m, per_pair).view(b, self.n_concepts, -1) + self.enc_in_bias
        for layer in self.enc_hidden:
            h = layer(torch.tanh(h))  # (b, K, ·)
        d = self.latent_dim
        return F.normalize(h[..., :d], dim=-1), h[..., d:]

    def terms(self, z: torch.Tensor, hn: torch.Tensor, log_c: torch.Tensor) -> list[torch.Tensor]:
        """Per concept k, (b, P_k): ``c_ik exp((cos(z_k, h_i) − 1)/τ)`` for its pairs.

        The constant −1/τ (it cancels in every share and ranking) keeps exp ≤ 1.
        """
        zs = F.normalize(z, dim=-1) / self.tau  # (b, K, d)
        # split/unbind, not slices: their backward is one cat, not K zero-filled copies
        hp = hn[self.pair_item].split(self.sizes)  # K × (P_k, d)
        base = (log_c - 1.0 / self.tau).split(self.sizes)  # K × (P_k,)
        return [
            torch.exp(torch.addmm(base_k, z_k, hp_k.T))  # (b, P_k)
            for z_k, hp_k, base_k in zip(zs.unbind(dim=1), hp, base, strict=True)
        ]

    def item_logits(
        self, terms: list[torch.Tensor], gains: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Scores (b, N) = log Σ_k g_k c_ik exp(...), floored at log(tiny)."""
        b = terms[0].shape[0]
        probs = torch.zeros(b, self.n_items, device=terms[0].device, dtype=terms[0].dtype)
        for k, (a, e) in enumerate(pairwise(self.bounds)):
            t = terms[k] if gains is None else terms[k] * gains[:, k : k + 1]
            probs.index_add_(1, self.pair_item[a:e], t)
        return torch.log(probs.clamp_min(_TINY))

    def concept_mass(self, terms: list[torch.Tensor]) -> torch.Tensor:
        """A (b, K) in float64: each concept's mass in the decoder's distribution."""
        return torch.stack([t.sum(dim=1, dtype=torch.float64) for t in terms], dim=1)


# --------------------------------------------------------------------------- model


class MacridVAE(NeuralBaseline):
    """MacridVAE (Ma et al. 2019) with a concept → tag mapping for the tag sliders."""

    name = "macridvae"
    config_cls = MacridVAEConfig

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        _check_config(self.config)
        self._check_extra_config()
        self.song_tags: np.ndarray | None = None  # (N, 80) observed tags, 0/1
        self.song_features: np.ndarray | None = None  # (N, D) used by SEM only
        self.concept_tags: np.ndarray | None = None  # Q (K, 80), set after fit / load

    def _check_extra_config(self) -> None:
        check_int(self.config.n_concepts, name="n_concepts", minimum=1)

    # ---------------------------------------------------------------- side information

    def set_song_info(self, song_tags: Any, song_features: Any = None) -> MacridVAE:
        """Give the songs' observed tags (N, 80) — and their audio embeddings (N, D), read
        by SEM-MacridVAE only — in the split's song order; needed before :meth:`fit`."""
        tags = song_tags.toarray() if sp.issparse(song_tags) else np.asarray(song_tags)
        if tags.ndim != 2 or tags.shape[1] != N_TAGS:
            raise DataError(
                f"song_tags has shape {tags.shape}; expected (n_songs, {N_TAGS}), one row per "
                "song in the split's unique_sid order, columns in apron_core.tags order."
            )
        if not np.all(np.isfinite(tags)) or (tags < 0).any():
            raise DataError("song_tags must be finite 0/1 values (1: the song carries the tag).")
        self.song_tags = (tags > 0).astype(np.float32)
        self.song_features = None
        if song_features is not None and self._uses_features():
            f = np.asarray(song_features, dtype=np.float32)
            if f.ndim != 2 or f.shape[0] != tags.shape[0]:
                raise DataError(
                    f"song_features has shape {f.shape}; expected ({tags.shape[0]}, D): one "
                    "embedding per song, in the same order as song_tags."
                )
            if not np.all(np.isfinite(f)):
                raise DataError("song_features has non-finite values; re-embed those songs.")
            self.song_features = f
        return self

    def _uses_features(self) -> bool:
        return False

    def _allowed(self) -> np.ndarray:
        """(N, K) bool: the concepts each song may be assigned to (all)."""
        assert self.song_tags is not None
        return np.ones((self.song_tags.shape[0], self.config.n_concepts), dtype=bool)

    def _require_song_info(self, n_items: int) -> None:
        if self.song_tags is None:
            raise ConfigError(
                f"{self.name} needs the songs' observed tags: call "
                "model.set_song_info(song_tags, song_features) before fit()."
            )
        if self.song_tags.shape[0] != n_items:
            raise DataError(
                f"song_tags has {self.song_tags.shape[0]} rows but the interactions have "
                f"{n_items} songs; build both on the same split vocabulary."
            )

    # ---------------------------------------------------------------- training hooks

    def fit(self, train: sp.csr_matrix, **kwargs: Any) -> MacridVAE:
        """NeuralBaseline.fit, after :meth:`set_song_info`; then maps concepts to tags."""
        self._require_song_info(check_interaction_matrix(train, name="train").shape[1])
        super().fit(train, **kwargs)
        self.concept_tags = self._concept_tags()
        return self

    def _build(self, n_items: int) -> nn.Module:
        self._require_song_info(n_items)
        return _MacridNet(self._allowed(), self.config, self.song_features)

    def _start_training(self, train: sp.csr_matrix) -> None:
        c = self.config
        self.opt = {"all": torch.optim.Adam(self.net.parameters(), lr=c.lr)}
        if c.total_anneal_steps is not None:
            self.total_anneal_steps = int(c.total_anneal_steps)
        else:
            updates = -(-train.shape[0] // c.batch_size) * c.epochs
            self.total_anneal_steps = max(
                1, round(ANNEAL_FRACTION * updates / max(c.anneal_cap, 1e-12))
            )
        self.updates = 0

    def beta(self) -> float:
        """β for the next update: min(anneal_cap, updates / total_anneal_steps)."""
        return min(self.config.anneal_cap, self.updates / self.total_anneal_steps)

    def loss(
        self, x: torch.Tensor, gen: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(negative log-likelihood, KL) of a dense batch x (b, N); sampled when gen."""
        net, c = self.net, self.config
        hn = net.item_reps()  # (N, d)
        log_c = net.log_assignment(hn, gen if c.gumbel else None)  # (P,)
        mu, ell = net.encode(x, log_c, c.dropout if gen is not None else 0.0, gen)
        z = mu
        if gen is not None:
            eps = torch.randn(mu.shape, generator=gen, device=mu.device, dtype=mu.dtype)
            z = mu + eps * c.prior_std * torch.exp(0.5 * ell)  # (b, K, d)
        logits = net.item_logits(net.terms(z, hn, log_c))  # (b, N)
        kl = 0.5 * (ell.exp() - ell - 1.0).sum(dim=(1, 2)).mean()
        return multinomial_nll(logits, x), kl

    def _train_epoch(
        self, train: sp.csr_matrix, rng: np.random.Generator, gen: torch.Generator
    ) -> float:
        total, n = 0.0, 0
        for x in self.batches(train, rng):
            nll, kl = self.loss(x, gen)
            loss = nll + self.beta() * kl
            self.opt["all"].zero_grad(set_to_none=True)
            loss.backward()
            self.opt["all"].step()
            self.updates += 1
            total, n = total + float(loss.detach()) * len(x), n + len(x)
        return total / n

    def _training_extras(self) -> dict[str, Any]:
        return {"total_anneal_steps": self.total_anneal_steps, "final_beta": self.beta()}

    # ---------------------------------------------------------------- scoring

    def _terms(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The decoder's per-concept terms for dense fold-in rows, no noise."""
        net = self.net
        hn = net.item_reps()
        log_c = net.log_assignment(hn, None)
        mu, _ = net.encode(x, log_c, 0.0, None)
        return net.terms(mu, hn, log_c)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.item_logits(self._terms(x))

    def assignment(self) -> np.ndarray:
        """(N, K) song → concept assignment used when scoring (rows sum to 1)."""
        self._require_fitted()
        net = self.net
        with torch.no_grad():
            c = net.log_assignment(net.item_reps(), None).exp().double().cpu().numpy()
        pair_item, pair_concept = net.pair_item.cpu().numpy(), net.pair_concept.cpu().numpy()
        out = np.zeros((net.n_items, net.n_concepts), dtype=np.float64)
        out[pair_item, pair_concept] = c
        return out

    def _concept_tags(self) -> np.ndarray:
        """Q (K, 80): observed-tag mix of the songs assigned to each concept (uniform if none)."""
        mix = self.assignment().T @ self.song_tags  # (K, 80)
        total = mix.sum(axis=1, keepdims=True)
        return np.where(total > 0, mix / np.where(total > 0, total, 1.0), 1.0 / N_TAGS)

    def _blocks(self, fold_in: sp.csr_matrix):
        """Yield (first row, decoder terms) for blocks of fold-in rows."""
        self.net.eval()
        with torch.no_grad():
            for start in range(0, fold_in.shape[0], SCORE_BATCH_USERS):
                x = to_dense(fold_in[start : start + SCORE_BATCH_USERS], self.device)
                yield start, self._terms(x)

    def concept_shares(
        self, fold_in: sp.csr_matrix, profiles: np.ndarray | None = None
    ) -> np.ndarray:
        """w (U, K): share of each concept in the user's predicted distribution (sum 1).

        With ``profiles`` (edited (U, 80) tag profiles): the shares after that edit,
        ``w g / Σ w g`` — each concept's mass is scaled by its gain.
        """
        x = check_interaction_matrix(fold_in, name="fold_in", n_songs=self._require_fitted())
        p = (
            None
            if profiles is None
            else check_profile(profiles, name="profiles", batched=True, n_users=x.shape[0])
        )
        out = np.empty((x.shape[0], self.net.n_concepts))
        for start, terms in self._blocks(x):
            mass = self.net.concept_mass(terms).cpu().numpy()
            out[start : start + len(mass)] = mass / mass.sum(axis=1, keepdims=True)
        if p is not None:
            out = out * self.gains(p, out @ self.concept_tags)
            total = out.sum(axis=1, keepdims=True)
            out = np.divide(out, total, out=np.zeros_like(out), where=total > 0)
        return out

    def profiles(self, fold_in: sp.csr_matrix) -> np.ndarray:
        """(U, 80) tag profile ``w Q`` (module doc), sums to 1."""
        return self.concept_shares(fold_in) @ self.concept_tags

    def gains(self, profiles: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """g (U, K) = 1 + Σ_t Q_kt (p'_t / p_t − 1): the factor on each concept's mass."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(reference > 0, profiles / reference, 1.0)
        ratio = np.where(np.abs(ratio - 1.0) <= _RATIO_TOLERANCE, 1.0, ratio)
        return np.maximum(1.0 + (ratio - 1.0) @ self.concept_tags.T, 0.0)

    def score_with_control(
        self,
        fold_in: sp.csr_matrix,
        profiles: np.ndarray,
        *,
        reference: np.ndarray | None = None,
    ) -> np.ndarray:
        """Scores (U, N) with each concept's contribution scaled by :meth:`gains`.

        ``profiles``: edited (U, 80) tag profiles; ``reference``: the unedited ones
        (default :meth:`profiles` of ``fold_in``). Profiles equal to the reference
        give exactly :meth:`score`.
        """
        x = check_interaction_matrix(fold_in, name="fold_in", n_songs=self._require_fitted())
        p = check_profile(profiles, name="profiles", batched=True, n_users=x.shape[0])
        p0 = (
            None
            if reference is None
            else check_profile(reference, name="reference", batched=True, n_users=x.shape[0])
        )
        out = np.empty((x.shape[0], self.n_items), dtype=np.float32)
        for start, terms in self._blocks(x):
            rows = slice(start, start + len(terms[0]))
            if p0 is None:
                mass = self.net.concept_mass(terms).cpu().numpy()
                ref = (mass / mass.sum(axis=1, keepdims=True)) @ self.concept_tags
            else:
                ref = p0[rows]
            g = torch.from_numpy(self.gains(p[rows], ref)).to(self.device, terms[0].dtype)
            if bool((g == 1).all()):
                g = None  # unedited: bit-identical to score()
            out[rows] = self.net.item_logits(terms, g).float().cpu().numpy()
        return out

    # ---------------------------------------------------------------- files

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = super()._arrays()
        arrays["song_tags"] = self.song_tags
        if self.song_features is not None:
            arrays["song_features"] = self.song_features
        return arrays

    def _restore(self, arrays: dict[str, np.ndarray], device: torch.device) -> None:
        arrays = dict(arrays)
        tags = arrays.pop("song_tags", None)
        if tags is None:
            raise DataError(f"saved {self.name} weights lack song_tags; re-save the model.")
        self.set_song_info(tags, arrays.pop("song_features", None))
        if self._uses_features() and self.song_features is None:
            raise DataError(f"saved {self.name} weights lack song_features; re-save the model.")
        super()._restore(arrays, device)
        self.concept_tags = self._concept_tags()


class SemMacridVAE(MacridVAE):
    """SEM-MacridVAE aligned with the tags: concept k is tag k (module doc)."""

    name = "sem-macridvae"
    config_cls = SemMacridVAEConfig

    def _check_extra_config(self) -> None:
        if not isinstance(self.config.use_song_features, bool):
            raise ConfigError(
                f"use_song_features={self.config.use_song_features!r} must be true or false"
            )

    def _uses_features(self) -> bool:
        return self.config.use_song_features

    def _require_song_info(self, n_items: int) -> None:
        super()._require_song_info(n_items)
        if self._uses_features() and self.song_features is None:
            raise ConfigError(
                f"{self.name} with use_song_features=true needs the songs' audio embeddings: "
                "call model.set_song_info(song_tags, song_features), or set "
                "use_song_features=false."
            )

    def _allowed(self) -> np.ndarray:
        """A song may join only the concepts of its observed tags (any, if it has none)."""
        allowed = self.song_tags > 0  # (N, 80)
        allowed[~allowed.any(axis=1)] = True
        return allowed

    def _concept_tags(self) -> np.ndarray:
        """Q = identity: concept k is tag k."""
        return np.eye(N_TAGS)
