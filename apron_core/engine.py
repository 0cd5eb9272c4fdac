"""The inference engine behind the app: profile → top-k, tag mix and explanations.

Everything that does not depend on the listener is computed once at load and kept on
the device (CUDA when present): the song–prototype weights w_jk of the whole catalog
(so a history's profile is a row gather and a mean), the prototype values P̃ (K, d),
the layers of f, the song–tag matrix, and f at the reference profile 0. After that the
engine holds no mutable state, so one instance serves every user from any thread.

Per-head models (``per_head_profile=True``): the app works with the 80 slider weights
(the head mean). A profile given as 80 numbers is used for every head, as docs/design.md §3
says of a profile built from sliders alone; with one weight vector in every head,
u = concat_h Σ_k ŵ_k v_h(P_k) = Σ_k ŵ_k P̃_k, the same formula as the head-mean model.

Explanations are exact, additive attributions of a song's logit to the 80 prototypes,
against the reference profile ŵ = 0 (u = 0, "no taste": what f gives every listener):
each unit of f passes on its change in output in proportion to each prototype's share of
its change in input (DeepLIFT's rescale rule, Shrikumar et al. 2017). Because u is linear
in ŵ and f's layers are linear maps and element-wise activations, the contributions of a
song add up to score(ŵ) − score(0) exactly (up to float rounding), and a prototype whose
weight is 0 contributes nothing. It costs one backward product through f's small layers
for the k shown songs: negligible beside scoring the catalog.

A grounded-steering bundle (apron_core/steering.py) runs through the same calls: its
profile is the history's mean grounded affinity, ``recommend`` reads the listener's
catalog history (``history=``; by default the excluded songs, which is what the app
passes: the listener's own songs) for the collaborative base, and its explanations split
the score exactly over the prototypes against the uniform profile (steering.py's doc).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from apron_core.bundle import Bundle, load_bundle
from apron_core.checks import check_int, check_profile, quote, resolve_device
from apron_core.encoders import Encoder
from apron_core.errors import ConfigError, DataError
from apron_core.model import Apron
from apron_core.steering import GroundedSteering, SteeredInference
from apron_core.tag_evidence import TagEvidence
from apron_core.tags import TAG_NAMES, K

_ELEMENTWISE = (nn.Tanh, nn.ReLU, nn.GELU, nn.Sigmoid, nn.SiLU, nn.LeakyReLU, nn.ELU)
_FLAT_DZ = 1e-6  # below this input change a unit's secant slope is its derivative
_SHOWN_IDS = 5  # unknown ids named in an error message


@dataclass(frozen=True)
class Explanation:
    """Why one song is recommended: its logit split over the 80 prototypes."""

    song_id: str
    contributions: np.ndarray  # (80,) signed; sum = score − baseline_score
    top: list[tuple[int, float]]  # (tag index, share of the positive contribution)
    text: str  # one line for the UI
    score: float = 0.0  # the song's logit under the profile
    baseline_score: float = 0.0  # its logit under the reference profile 0


@dataclass(frozen=True)
class Recommendation:
    indices: np.ndarray  # (k,) catalog rows, best first
    song_ids: list[str]
    scores: np.ndarray  # (k,) model logits
    tag_mix: np.ndarray  # (80,) tag distribution of these k songs
    explanations: list[Explanation]  # one per song when explain=True, else []


@dataclass(frozen=True)
class _Step:
    """One layer of f, as plain tensors: a linear map (weight_t, bias) or an activation.

    The weight is stored transposed and contiguous, (in, out): a (1, in) × (in, out)
    product streams memory in order, 2× faster on CPU than the (out, in) view for the
    catalog-wide last layer (the engine's main cost); it costs one copy of f's weights.
    """

    weight_t: torch.Tensor | None = None  # (in, out)
    bias: torch.Tensor | None = None  # (out,)
    act: nn.Module | None = None  # element-wise, stateless


def _steps_of(f: nn.Sequential) -> list[_Step]:
    """f's layers as tensors, dropout left out (inference), so nothing depends on the
    module's train/eval flag; refuses layers whose attribution rule is not exact."""
    steps: list[_Step] = []
    for layer in f:
        if isinstance(layer, nn.Dropout):
            continue
        if isinstance(layer, nn.Linear):
            bias = layer.bias if layer.bias is not None else torch.zeros(layer.out_features)
            weight_t = layer.weight.detach().t().contiguous()  # (in, out)
            steps.append(_Step(weight_t=weight_t, bias=bias.detach().to(weight_t)))
        elif isinstance(layer, _ELEMENTWISE):
            steps.append(_Step(act=layer))
        else:
            raise ConfigError(
                f"the engine cannot run f's layer {type(layer).__name__}: f must be Linear "
                "layers and element-wise activations (Tanh, ReLU, ...)"
            )
    if not steps or steps[-1].weight_t is None:
        raise ConfigError("f must end with a Linear layer giving one logit per song")
    return steps


def _as_list(song_ids: Sequence[str] | str, what: str) -> list[str]:
    if isinstance(song_ids, str):
        return [song_ids]  # one id, not a sequence of characters
    if song_ids is None:
        raise DataError(f"{what} is None: pass a list of song ids (it may be empty)")
    return [str(s) for s in song_ids]


@dataclass(frozen=True)
class UploadedSong:
    """An uploaded file as the profile reads it: its normalized embedding (D,) and what
    the bundle's tag heads hear in it, (80,) with NaN where none names the tag (None when
    the bundle uses no tag heads; apron_core/tag_evidence.py)."""

    embedding: np.ndarray
    evidence: np.ndarray | None = None


class Engine:
    """Recommendations, profiles and explanations for one bundle; safe to share between
    threads (read-only after construction, inference under ``torch.inference_mode``)."""

    def __init__(self, bundle: Bundle, *, device: str | torch.device | None = None) -> None:
        self.bundle = bundle
        self.device = resolve_device(device)
        steered = isinstance(bundle.model, GroundedSteering)
        n = bundle.model.n_items if steered else bundle.model.cfg.n_songs
        ids = [str(s) for s in bundle.catalog["song_id"]]
        if len(ids) != n or bundle.song_tags.shape != (n, K):
            raise DataError(
                f"catalog has {len(ids)} songs and song_tags {bundle.song_tags.shape}; the "
                f"model needs {n} and ({n}, {K}): rebuild the bundle"
            )
        if len(set(ids)) != n:
            raise DataError("catalog has duplicate song ids: rebuild the bundle")
        self.n_songs = n
        self.song_ids = ids
        self.tag_names = list(TAG_NAMES)
        self._index = {s: i for i, s in enumerate(ids)}
        self._song_tags = torch.as_tensor(bundle.song_tags, dtype=torch.float32).to(self.device)
        self._steered: SteeredInference | None = None
        self.tag_evidence: TagEvidence | None = None  # what an upload's tag heads hear
        if steered:
            self._steered = SteeredInference(bundle.model, self.device)
            self._emb_dim = int(bundle.model.prototypes.shape[1])
            heads = bundle.model.config.upload_taggers
            if heads and bundle.encoder is not None:
                self.tag_evidence = TagEvidence(heads, reuse=bundle.encoder)
            return
        model: Apron = bundle.model.to(self.device).eval()
        self._model = model
        self._emb_dim = model.cfg.emb_dim
        with torch.inference_mode():
            self._song_weights = model.song_head_weights().mean(0).contiguous()  # (N, K)
            self._values = model.values().flatten(1).contiguous()  # P̃: (K, d)
            self._steps = _steps_of(model.f)
            self._ref_pre, self._ref_post, ref = self._run(
                torch.zeros(1, self._values.shape[1], device=self.device)
            )
            self._ref_scores = ref[0]  # (N,) logits at the reference profile 0

    # ------------------------------------------------------------------ construction
    @classmethod
    def load(cls, bundle_dir: str | Path = "assets/demo", *, device: str | None = None) -> Engine:
        """Load a bundle folder; device None or "auto" means CUDA when available, else CPU."""
        dev = resolve_device(device)
        return cls(load_bundle(Path(bundle_dir), device=dev), device=dev)

    @property
    def kind(self) -> str:
        """ "apron" or "grounded-steering" (the bundle's model kind)."""
        return "apron" if self._steered is None else "grounded-steering"

    @classmethod
    def from_parts(
        cls,
        model: Apron | GroundedSteering,
        song_ids: Sequence[str],
        song_tags: np.ndarray,
        *,
        encoder: Encoder | None = None,
        device: str | torch.device | None = None,
    ) -> Engine:
        """An engine from in-memory parts (tests, benchmarks): no files, no prototypes
        table, no demo listeners; ``encode`` needs ``encoder``."""
        catalog = pd.DataFrame({"song_id": [str(s) for s in song_ids]})
        bundle = Bundle(
            model=model,
            config=model.config if isinstance(model, GroundedSteering) else model.cfg,
            meta={},
            catalog=catalog,
            song_tags=np.asarray(song_tags, dtype=np.float32),
            prototypes=[],
            demo_listeners=[],
            encoder=encoder,  # type: ignore[arg-type]
            evaluation={},
            path=Path("<memory>"),
        )
        return cls(bundle, device=device)

    # ------------------------------------------------------------------ validation
    def song_index(self, song_ids: Sequence[str] | str) -> np.ndarray:
        """Catalog rows of song ids (int64, same order); DataError naming unknown ids."""
        ids = _as_list(song_ids, "song_ids")
        unknown = [s for s in ids if s not in self._index]
        if unknown:
            shown = ", ".join(quote(s) for s in unknown[:_SHOWN_IDS])
            more = f" and {len(unknown) - _SHOWN_IDS} more" if len(unknown) > _SHOWN_IDS else ""
            raise DataError(
                f"unknown song id(s) {shown}{more}: use ids from the catalog "
                f"(e.g. {self.song_ids[0]!r}; {self.n_songs} songs)"
            )
        return np.fromiter((self._index[s] for s in ids), dtype=np.int64, count=len(ids))

    def _exclusion(self, exclude: Sequence[str] | str) -> np.ndarray:
        return np.unique(self.song_index(_as_list(exclude, "exclude")))

    # ------------------------------------------------------------------ profiles
    def profile(
        self,
        history: Sequence[str] | str = (),
        *,
        embeddings: np.ndarray | None = None,
        evidence: np.ndarray | None = None,
    ) -> np.ndarray:
        """Profile ŵ (80,) float64 summing to 1: the mean of the song–prototype weights
        w_jk over the history's catalog songs (a set: duplicates count once, as in
        training) and the uploaded songs' embeddings (S, D), each upload one song.
        `evidence` (S, 80), rows of `UploadedSong.evidence`, joins a grounded-steering
        bundle's upload affinities; an APRON bundle's attention does not use it."""
        rows = np.unique(self.song_index(_as_list(history, "history")))
        emb = self._check_embeddings(embeddings)
        if rows.size == 0 and emb is None:
            raise DataError(
                "the history is empty: pick at least one song from the catalog or upload audio"
            )
        ev = self._check_evidence(evidence, emb)
        with torch.inference_mode():
            if self._steered is not None:  # the history's grounded tag mass, normalized
                p = self._steered.profile_mass(rows, emb, ev).cpu().numpy()
                if p.sum() <= 0:
                    return np.full(K, 1.0 / K)
                return p / p.sum()
            total = torch.zeros(K, dtype=torch.float64, device=self.device)
            count = 0
            if rows.size:
                idx = torch.as_tensor(rows, device=self.device)
                total += self._song_weights.index_select(0, idx).double().sum(0)
                count += rows.size
            if emb is not None:
                x = torch.as_tensor(emb, device=self.device)
                total += self._model.head_weights(x).mean(1).double().sum(0)  # (S, H, K)→(K,)
                count += emb.shape[0]
            p = (total / count).cpu().numpy()
        return p / p.sum()

    def _check_evidence(
        self, evidence: np.ndarray | None, emb: np.ndarray | None
    ) -> np.ndarray | None:
        if evidence is None:
            return None
        if emb is None:
            raise DataError("evidence was given without the uploads' embeddings")
        try:
            e = np.asarray(evidence, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise DataError(f"evidence must be a numeric (S, {K}) array: {err}") from None
        e = e[None] if e.ndim == 1 else e
        if e.shape != (emb.shape[0], K):
            raise DataError(
                f"evidence has shape {e.shape}; expected ({emb.shape[0]}, {K}), one row per upload"
            )
        spoken = e[~np.isnan(e)]
        if np.any((spoken < 0) | (spoken > 1)):
            raise DataError("evidence must be probabilities in [0, 1] (NaN: no opinion)")
        return e

    def _check_embeddings(self, embeddings: np.ndarray | None) -> np.ndarray | None:
        if embeddings is None:
            return None
        d = self._emb_dim
        try:
            x = np.asarray(embeddings, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise DataError(f"embeddings must be a numeric (S, {d}) array: {e}") from None
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != d:
            raise DataError(
                f"embeddings have shape {x.shape}, expected (S, {d}): use Engine.encode on "
                "each audio file and stack the results"
            )
        if not np.all(np.isfinite(x)):
            raise DataError("embeddings contain NaN or inf: re-encode the uploaded audio")
        return x if x.shape[0] else None

    def encode(self, path: str | Path) -> np.ndarray:
        """Normalized embedding (D,) of an audio file with the bundle's encoder; the
        encoder's AudioError (naming the file) passes through."""
        return self.encode_upload(path, evidence=False).embedding

    def forget_recent(self) -> None:
        """Forget the encoder's and tag heads' kept clips (benchmarks time cold uploads)."""
        if self.bundle.encoder is not None:
            self.bundle.encoder.forget_recent()
        if self.tag_evidence is not None:
            self.tag_evidence.forget_recent()

    def encode_upload(self, path: str | Path, *, evidence: bool = True) -> UploadedSong:
        """An uploaded file as `profile` reads it: decoded once (the encoder's window),
        then `encode_signal`."""
        return self.encode_signal(self._encoder().load_file(path), evidence=evidence)

    def encode_signal(self, y: np.ndarray, *, evidence: bool = True) -> UploadedSong:
        """A mono signal at the encoder's rate, embedded and heard by the bundle's tag
        heads if it has any (the heads reuse the encoder's musicnn pass)."""
        enc = self._encoder()
        emb = np.asarray(enc.transform(enc.raw_features(y)), dtype=np.float32)
        heard = None
        if evidence and self.tag_evidence is not None:
            heard = self.tag_evidence.of_signal(y, enc.sr)
        return UploadedSong(emb, heard)

    def _encoder(self) -> Encoder:
        if self.bundle.encoder is None:
            raise ConfigError("this engine was built without an encoder: pass encoder=")
        return self.bundle.encoder

    # ------------------------------------------------------------------ scoring
    def _run(self, u: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
        """f(u) for u (B, d), keeping every activation's input and output (for explain)."""
        pre: list[torch.Tensor] = []
        post: list[torch.Tensor] = []
        x = u
        for step in self._steps:
            if step.act is None:
                x = torch.addmm(step.bias, x, step.weight_t)
            else:
                pre.append(x)
                x = step.act(x)
                post.append(x)
        return pre, post, x

    def recommend(
        self,
        profile: Sequence[float] | np.ndarray,
        k: int = 20,
        exclude: Sequence[str] | str = (),
        *,
        explain: bool = True,
        history: Sequence[str] | str | None = None,
    ) -> Recommendation:
        """Top-k songs for a (possibly edited) profile, never one of ``exclude``, with
        their tag mix and, if ``explain``, why each one is there. ``history``: the
        listener's catalog songs, read by a model with a collaborative part (default: the
        excluded songs); APRON reads the profile alone."""
        p = check_profile(profile, normalize=True)
        excluded = self._exclusion(exclude)
        limit = self.n_songs - excluded.size
        context = f"{self.n_songs} songs, {excluded.size} excluded"
        k = check_int(k, name="k", minimum=1, maximum=limit, context=context)
        rows = excluded if history is None else self._exclusion(history)
        with torch.inference_mode():
            w = torch.as_tensor(p, dtype=torch.float32, device=self.device)
            if self._steered is None:
                u = (w @ self._values)[None]  # (1, d)
                pre, post, logits = self._run(u)
                scores = logits[0]  # (N,)
            else:
                exact = torch.as_tensor(p, dtype=torch.float64, device=self.device)
                scores, ctx = self._steered.scores(exact, rows)
            if excluded.size:
                scores = scores.index_fill(
                    0, torch.as_tensor(excluded, device=self.device), -math.inf
                )
            top_scores, top = torch.topk(scores, k)
            counts = self._song_tags.index_select(0, top).sum(0)
            if not explain:
                explanations = []
            elif self._steered is None:
                explanations = self._explain(w, top, top_scores, pre, post)
            else:
                explanations = self._explain_steered(top, top_scores, ctx)
            mix = counts / counts.sum().clamp_min(1e-12)
            indices = top.cpu().numpy()
            out_scores = top_scores.cpu().numpy()
            tag_mix = mix.double().cpu().numpy()
        return Recommendation(
            indices=indices,
            song_ids=[self.song_ids[i] for i in indices],
            scores=out_scores,
            tag_mix=tag_mix,
            explanations=explanations,
        )

    # ------------------------------------------------------------------ explanations
    def explain(
        self,
        song_id: str,
        profile: Sequence[float] | np.ndarray,
        top: int = 3,
        *,
        history: Sequence[str] | str = (),
    ) -> Explanation:
        """Why ``song_id`` scores what it does under ``profile`` (see the module doc);
        ``history`` as in :meth:`recommend`."""
        p = check_profile(profile, normalize=True)
        row = self.song_index([song_id])
        top = check_int(top, name="top", minimum=1)
        with torch.inference_mode():
            w = torch.as_tensor(p, dtype=torch.float32, device=self.device)
            idx = torch.as_tensor(row, device=self.device)
            if self._steered is not None:
                exact = torch.as_tensor(p, dtype=torch.float64, device=self.device)
                scores, ctx = self._steered.scores(exact, self._exclusion(history))
                return self._explain_steered(idx, scores[idx], ctx, top=top)[0]
            pre, post, logits = self._run((w @ self._values)[None])
            return self._explain(w, idx, logits[0, idx], pre, post, top=top)[0]

    def _explain_steered(
        self, idx: torch.Tensor, scores: torch.Tensor, ctx: dict, top: int = 3
    ) -> list[Explanation]:
        contrib, base = self._steered.explain(idx, ctx)
        return self._explanations(idx, scores, contrib.cpu().numpy(), base.cpu().numpy(), top)

    def _explain(
        self,
        w: torch.Tensor,
        idx: torch.Tensor,
        scores: torch.Tensor,
        pre: list[torch.Tensor],
        post: list[torch.Tensor],
        top: int = 3,
    ) -> list[Explanation]:
        """Rescale-rule contributions (B, K) of the songs ``idx`` (B,), in one pass."""
        last = self._steps[-1]
        g = last.weight_t.index_select(1, idx).t()  # (B, width): ∂score/∂(last hidden)
        acts = len(pre)
        for step in reversed(self._steps[:-1]):
            if step.act is None:
                g = g @ step.weight_t.t()  # (B, in)
            else:
                acts -= 1
                dz = pre[acts][0] - self._ref_pre[acts][0]  # (width,)
                da = post[acts][0] - self._ref_post[acts][0]
                flat = dz.abs() < _FLAT_DZ
                slope = torch.where(flat, self._slope_at(step, pre[acts][0]), da / dz)
                g = g * slope  # secant multiplier of each unit
        contrib = (g @ self._values.t()) * w  # (B, K): Δŵ_k · multiplier · P̃_k
        base = self._ref_scores.index_select(0, idx)
        return self._explanations(
            idx, scores, contrib.double().cpu().numpy(), base.cpu().numpy(), top
        )

    def _explanations(
        self, idx: torch.Tensor, scores: torch.Tensor, c_np: np.ndarray, b_np: np.ndarray, top: int
    ) -> list[Explanation]:
        """Explanations from contributions (B, K) and baseline scores (B,)."""
        s_np, rows = scores.cpu().numpy(), idx.cpu().numpy()
        positive = np.clip(c_np, 0.0, None)
        total = positive.sum(1, keepdims=True)  # (B, 1)
        shares = np.divide(positive, total, out=np.zeros_like(positive), where=total > 0)
        order = np.argsort(-c_np, axis=1, kind="stable")[:, :top]  # (B, top)
        return [
            self._explanation(self.song_ids[r], c, sh, o, float(s), float(b))
            for r, c, sh, o, s, b in zip(rows, c_np, shares, order, s_np, b_np, strict=True)
        ]

    @staticmethod
    def _slope_at(step: _Step, z: torch.Tensor, h: float = 1e-3) -> torch.Tensor:
        """The activation's derivative at z (central difference): the secant's limit."""
        return (step.act(z + h) - step.act(z - h)) / (2 * h)

    def _explanation(
        self,
        song_id: str,
        contrib: np.ndarray,
        shares: np.ndarray,
        order: np.ndarray,
        score: float,
        base: float,
    ) -> Explanation:
        top = [(int(i), float(shares[i])) for i in order if contrib[i] > 0]
        if top:
            text = "because of " + ", ".join(
                f"{self.tag_names[i]} ({100 * s:.0f}%)" for i, s in top
            )
        else:
            text = "no tag of your profile raises this song: it ranks on its own appeal"
        return Explanation(song_id, contrib, top, text, score, base)

    # ------------------------------------------------------------------ tag mix
    def tag_mix(self, song_ids: Sequence[str] | str) -> np.ndarray:
        """(80,) tag mix of a list of songs, as apron_core.metrics.tag_mix:
        the observed tag counts summed over the songs, normalized to sum 1 (so a song with
        many tags weighs more); zeros for an empty list or songs without tags."""
        rows = self.song_index(song_ids)
        if rows.size == 0:
            return np.zeros(K)
        counts = self.bundle.song_tags[rows].sum(0, dtype=np.float64)
        total = counts.sum()
        return counts / total if total > 0 else counts
