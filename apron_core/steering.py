"""Grounded steering: a collaborative base whose scores an edited profile re-weights, song
by song, by how much each song *is* each prototype's tag (beyond the paper; issue 12).

For a listener with catalog history h and a profile ŵ on the sliders::

    score_j(h, ŵ) = z(b(h))_j + β Σ_k A_jk r_k
    r_k = ℓ_k(ŵ) − ℓ_k(ŵ⁰) − c,     ℓ_k(p) = log max(p_k, ε)
    ŵ⁰  = Σ_{j∈h} A_j / Σ_{j∈h, k} A_jk      (the profile the sliders start from)
    c   = median of ℓ_k(ŵ) − ℓ_k(ŵ⁰) over the tags with ŵ⁰_k ≥ 1/K

* b(h): a collaborative model of the history (RecVAE by default, or a weighted sum of
  several), z(·) its per-listener standardization, so β is in units of the listener's
  score spread. It reads plays only, never tags: accuracy is the base's.
* A (N, K): the song–prototype affinity of :mod:`apron_core.grounding` — cross-fitted
  from the audio, 1 where the song carries the observed tag. Control is grounded in
  audio, so turning a tag down also sinks songs nobody tagged with it.
* r: how the edit moved each tag, in log ratio to the listener's own profile. An
  unedited profile gives r = 0 and exactly the base's ranking; zeroing a tag gives
  log(ε / ŵ⁰_t), a near-filter; scaling a tag by f gives log f, so its share of the list
  follows the slider. ``c`` undoes the renormalization of a slider edit (the other tags'
  common factor), which would otherwise favour songs with much affinity mass of any kind.
* No history (a share link, only uploads): b is the base's score of an empty history
  (its prior, close to popularity) and ŵ⁰ the uniform profile 1/K, so the profile's
  tags above uniform lift their songs.

Explanations split a score exactly over the 80 prototypes, against the uniform profile:
contribution_jk = β A_jk (ℓ_k(ŵ) − log(1/K) − c) and baseline_j = z(b)_j − β Σ_k A_jk
(ℓ_k(ŵ⁰) − log(1/K)): what the song would score for this history with a flat profile.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from safetensors.numpy import load_file

from apron_core.baselines import make_baseline
from apron_core.baselines.base import (
    SCORE_BATCH_USERS,
    WEIGHTS_FILE,
    Baseline,
    config_from_dict,
    validation_ndcg,
)
from apron_core.checks import (
    check_int,
    check_interaction_matrix,
    check_number,
    check_profile,
    quote,
    resolve_device,
)
from apron_core.encoders.musicnn import WEIGHTS as TAGGER_WEIGHTS
from apron_core.errors import ConfigError, DataError
from apron_core.grounding import (
    GroundedAttention,
    GroundingConfig,
    affinity_table,
    fit_grounding,
)
from apron_core.tag_evidence import noisy_or
from apron_core.tags import K

RENORMALIZATION = ("undo", "keep")
BASE_DIR = "base{}"  # sub-folders of a saved model holding the collaborative bases


@dataclass
class SteeringConfig:
    beta: float = 3.0  # steering strength, in per-listener standard deviations of the base
    floor: float = 1e-3  # ε: profile weights below it count as ε in the log ratio
    observed: bool = True  # a song's observed tag is affinity 1
    audio: bool = True  # False: A is the observed tags alone (a soft tag filter, no audio)
    renormalization: str = "undo"  # "keep": read the renormalized profile as it is
    bases: tuple[str, ...] = ("recvae",)  # collaborative bases (apron_core.baselines names)
    base_weights: tuple[float, ...] = (1.0,)  # their weights in b (each base standardized)
    grounding: dict = dataclasses.field(default_factory=dict)  # GroundingConfig overrides
    # musicnn heads whose tag probabilities join an upload's affinity (noisy-OR) on the
    # tags they name (apron_core/tag_evidence.py); () uses the grounding alone
    upload_taggers: tuple[str, ...] = ("msd", "mtt")

    def __post_init__(self) -> None:
        check_number(self.beta, name="beta", minimum=0.0)
        check_number(self.floor, name="floor", above=0.0, maximum=1.0 / K)
        if self.renormalization not in RENORMALIZATION:
            raise ConfigError(
                f"renormalization={quote(self.renormalization)}: use one of {RENORMALIZATION}"
            )
        for name in ("observed", "audio"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}={quote(getattr(self, name))} must be true or false")
        if not (self.observed or self.audio):
            raise ConfigError("observed=false and audio=false leave no affinity: keep one")
        self.bases = tuple(self.bases)
        self.base_weights = tuple(float(w) for w in self.base_weights)
        if not self.bases or len(self.bases) != len(self.base_weights):
            raise ConfigError(
                f"bases={self.bases!r} and base_weights={self.base_weights!r} must be "
                "non-empty and of the same length"
            )
        for w in self.base_weights:
            check_number(w, name="base_weights entry", above=0.0)
        GroundingConfig(**self.grounding)  # unknown or bad grounding settings fail here
        self.upload_taggers = tuple(self.upload_taggers)
        for head in self.upload_taggers:
            if head not in TAGGER_WEIGHTS:
                raise ConfigError(
                    f"upload_taggers entry {quote(head)}: use some of {list(TAGGER_WEIGHTS)}"
                )

    def grounding_config(self, seed: int) -> GroundingConfig:
        return GroundingConfig(**{"seed": seed, **self.grounding})


def standardize(s: torch.Tensor) -> torch.Tensor:
    """Per-row z-score over the songs of (B, N) scores (a constant row becomes 0)."""
    s = s.double()
    centred = s - s.mean(-1, keepdim=True)
    return centred / centred.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-12)


def log_ratio(
    profiles: torch.Tensor, reference: torch.Tensor, floor: float, undo: bool
) -> torch.Tensor:
    """r (B, K): each tag's log change from the reference, less the common factor (module doc)."""
    r = profiles.double().clamp_min(floor).log() - reference.double().clamp_min(floor).log()
    if not undo:
        return r
    present = reference >= 1.0 / K  # (B, K); the uniform profile: every tag
    present = present | ~present.any(-1, keepdim=True)
    masked = torch.where(present, r, torch.nan)
    c = masked.nanmedian(-1, keepdim=True).values  # (B, 1)
    return r - c


class GroundedSteering(Baseline):
    """A collaborative base steered by an audio-grounded profile; see the module doc."""

    name = "grounded-steering"
    config_cls = SteeringConfig

    def __init__(self, config: SteeringConfig | None = None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.bases: list[Baseline] = []
        self.grounding: GroundedAttention | None = None
        self.crossfit: np.ndarray | None = None  # (N, K) audio affinity, cross-fitted
        self.song_tags: np.ndarray | None = None  # (N, K) observed tags
        self.songs: np.ndarray | None = None
        self.prototypes: np.ndarray | None = None
        self._affinity: torch.Tensor | None = None

    # ---------------------------------------------------------------- inputs
    def set_catalog(
        self, songs: np.ndarray, prototypes: np.ndarray, song_tags: np.ndarray
    ) -> GroundedSteering:
        """The songs' embeddings (N, D), the prototype clips' (K, D) and the observed tags
        (N, K) in the split's song order; needed before :meth:`fit`."""
        songs = np.asarray(songs, dtype=np.float32)
        tags = np.asarray(song_tags)
        if tags.ndim != 2 or tags.shape != (songs.shape[0], K):
            raise DataError(
                f"song_tags has shape {tags.shape}; expected ({songs.shape[0]}, {K}), one row "
                "per song in the split's order"
            )
        self.songs, self.song_tags = songs, (tags > 0).astype(np.float32)
        self.prototypes = np.asarray(prototypes, dtype=np.float32)
        return self

    def use_bases(self, bases: list[Baseline]) -> GroundedSteering:
        """Fitted collaborative bases to reuse (as many as ``config.bases``, same names)."""
        names = tuple(b.name for b in bases)
        if names != self.config.bases:
            raise ConfigError(f"bases {names!r} do not match config.bases {self.config.bases!r}")
        self.bases = list(bases)
        return self

    # ---------------------------------------------------------------- fit
    def fit(
        self,
        train: sp.csr_matrix,
        *,
        valid: tuple[sp.csr_matrix, sp.csr_matrix] | None = None,
        seed: int,
        device: str | torch.device | None = None,
        progress: bool = True,
    ) -> GroundedSteering:
        """Fit the bases not given by :meth:`use_bases`, then the grounding."""
        if self.songs is None:
            raise ConfigError("call set_catalog(songs, prototypes, song_tags) before fit")
        x = check_interaction_matrix(train, name="train", n_songs=self.songs.shape[0])
        dev = resolve_device(device)
        check_int(seed, name="seed", minimum=0)
        if not self.bases:
            self.bases = [
                make_baseline(name).fit(x, valid=valid, seed=seed, device=dev, progress=progress)
                for name in self.config.bases
            ]
        result = fit_grounding(
            self.songs,
            self.prototypes,
            self.song_tags,
            self.config.grounding_config(seed),
            device="cpu",
            progress=progress,
        )
        self.grounding, self.crossfit = result.model, result.crossfit
        self.n_items, self.device = x.shape[1], dev
        self.training = {"seed": seed, "grounding_seconds": result.seconds}
        self._affinity = None
        if valid is not None:
            self.training["val_ndcg@100"] = validation_ndcg(self, *valid)
        return self

    # ---------------------------------------------------------------- the model
    def affinity(self) -> torch.Tensor:
        """A (N, K) float32 on the model's device (module doc)."""
        if self._affinity is None:
            if self.crossfit is None:
                raise ConfigError("GroundedSteering is not fitted; call fit() or load it.")
            audio = self.crossfit if self.config.audio else np.zeros_like(self.crossfit)
            a = affinity_table(audio, self.song_tags if self.config.observed else None)
            self._affinity = torch.from_numpy(a).to(self.device)
        return self._affinity

    def base_scores(self, x: sp.csr_matrix) -> torch.Tensor:
        """z(b) (B, N) float64 for a block of history rows."""
        total = None
        for base, w in zip(self.bases, self.config.base_weights, strict=True):
            s = torch.from_numpy(base._score_block(x)).to(self.device)
            part = w * standardize(s)
            total = part if total is None else total + part
        return standardize(total) if len(self.bases) > 1 else total

    def profile_of_rows(self, x: sp.csr_matrix) -> torch.Tensor:
        """ŵ⁰ (B, K) float64 of history rows; the uniform profile for an empty history."""
        a = self.affinity()
        xs = torch.from_numpy((sp.csr_matrix(x) > 0).astype(np.float32).toarray()).to(a.device)
        mass = (xs @ a).double()  # (B, K)
        total = mass.sum(-1, keepdim=True)
        return torch.where(total > 0, mass / total.clamp_min(1e-12), 1.0 / K)

    def steer(self, profiles: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """β A r as (B, N) float64: what an edit adds to the standardized base."""
        r = log_ratio(profiles, reference, self.config.floor, self.config.renormalization == "undo")
        return self.config.beta * (r @ self.affinity().double().T)

    # ---------------------------------------------------------------- Baseline interface
    def _score_block(self, x: sp.csr_matrix) -> np.ndarray:
        return self.base_scores(x).float().cpu().numpy()

    def profiles(self, fold_in: sp.csr_matrix) -> np.ndarray:
        """(U, K) ŵ⁰ of the listeners' histories (what the evaluation edits)."""
        x = check_interaction_matrix(fold_in, name="fold_in", n_songs=self._require_fitted())
        out = [
            self.profile_of_rows(x[a : a + SCORE_BATCH_USERS]).cpu().numpy()
            for a in range(0, x.shape[0], SCORE_BATCH_USERS)
        ]
        return np.concatenate(out) if out else np.zeros((0, K))

    def score_with_control(
        self,
        fold_in: sp.csr_matrix,
        profiles: np.ndarray,
        *,
        reference: np.ndarray | None = None,
    ) -> np.ndarray:
        """Scores (U, N) under edited profiles (module doc); ``reference`` defaults to
        :meth:`profiles` of ``fold_in``. Profiles equal to the reference give :meth:`score`."""
        x = check_interaction_matrix(fold_in, name="fold_in", n_songs=self._require_fitted())
        p = check_profile(profiles, name="profiles", batched=True, n_users=x.shape[0])
        if reference is not None:
            reference = check_profile(reference, name="reference", batched=True, n_users=len(p))
        out = np.empty((x.shape[0], self.n_items), dtype=np.float32)
        for a in range(0, x.shape[0], SCORE_BATCH_USERS):
            rows = x[a : a + SCORE_BATCH_USERS]
            p0 = (
                self.profile_of_rows(rows)
                if reference is None
                else torch.from_numpy(reference[a : a + SCORE_BATCH_USERS]).to(self.device)
            )
            pe = torch.from_numpy(p[a : a + SCORE_BATCH_USERS]).to(self.device)
            out[a : a + len(p0)] = (self.base_scores(rows) + self.steer(pe, p0)).cpu().numpy()
        return out

    # ---------------------------------------------------------------- files
    def _arrays(self) -> dict[str, np.ndarray]:
        g = self.grounding.state_dict()
        return {
            "crossfit": self.crossfit,
            "song_tags": self.song_tags,
            **{f"grounding.{k}": v.detach().cpu().numpy() for k, v in g.items()},
        }

    def _restore(self, arrays: dict[str, np.ndarray], device: torch.device) -> None:
        self.crossfit = arrays["crossfit"].astype(np.float32)
        self.song_tags = arrays["song_tags"].astype(np.float32)
        protos = torch.from_numpy(arrays["grounding.prototypes"])
        d = arrays["grounding.w_q.weight"].shape[0]
        self.grounding = GroundedAttention(protos, d)
        state = {
            k.removeprefix("grounding."): torch.from_numpy(v)
            for k, v in arrays.items()
            if k.startswith("grounding.")
        }
        self.grounding.load_state_dict(state)
        self.grounding.eval()
        self.prototypes = arrays["grounding.prototypes"]
        self.device = device
        self._affinity = None

    def save(self, out_dir: str | Path) -> Path:
        """config.json + weights.safetensors, and each base in ``base0/``, ``base1/``…"""
        out = super().save(out_dir)
        for i, base in enumerate(self.bases):
            base.save(out / BASE_DIR.format(i))
        return out

    @classmethod
    def base_dirs(cls, meta: dict[str, Any]) -> list[str]:
        """The subfolders holding the bases of a saved model, in the order of
        ``config.bases`` (apron_core.saved_models restores them first)."""
        return [BASE_DIR.format(i) for i in range(len(meta.get("config", {}).get("bases", ())))]

    @classmethod
    def from_bases(
        cls, in_dir: Path, meta: dict[str, Any], bases: list[Baseline], device: torch.device
    ) -> GroundedSteering:
        """The saved model of ``in_dir`` around its restored ``bases``."""
        model = cls(config_from_dict(cls.config_cls, meta.get("config", {})))
        model.n_items = int(meta["n_items"])
        model.training = meta.get("training", {})
        model._restore(load_file(str(in_dir / WEIGHTS_FILE)), device)
        return model.use_bases(bases)

    @classmethod
    def _from_dir(cls, in_dir: Path, meta: dict[str, Any], device: torch.device) -> Baseline:
        # Never called: its bases live in subfolders that only the registry above both
        # packages can restore.
        raise TypeError(
            "GroundedSteering is restored with apron_core.saved_models.load_saved_model(dir)"
        )

    def with_config(self, **overrides: Any) -> GroundedSteering:
        """The same fitted parts under another steering config (β, floor, observed, …);
        the bases and the grounding are shared, not copied."""
        cfg = config_from_dict(self.config_cls, {**dataclasses.asdict(self.config), **overrides})
        other = type(self)(cfg)
        other.bases, other.grounding, other.crossfit = self.bases, self.grounding, self.crossfit
        other.song_tags, other.songs, other.prototypes = self.song_tags, self.songs, self.prototypes
        other.n_items, other.device, other.training = self.n_items, self.device, self.training
        return other


UNIFORM_LOG = -math.log(K)  # log(1/K): the explanations' reference profile
_CACHED_HISTORIES = 256  # standardized base scores kept per engine (one per recent history)


class SteeredInference:
    """What the app's engine runs for a :class:`GroundedSteering` bundle, on one device.

    The base's scores depend on the history only, so they are computed once per history
    and kept (a small LRU): a slider edit then costs one (N, K) × (K,) product and a top-k.
    Safe to share between threads (the cache is locked; everything else is read-only).
    """

    def __init__(self, model: GroundedSteering, device: torch.device) -> None:
        model._require_fitted()
        self.model = model
        self.device = device
        self.beta = float(model.config.beta)
        self.floor = float(model.config.floor)
        self.undo = model.config.renormalization == "undo"
        self.affinity = model.affinity().to(device).contiguous()  # (N, K) float32
        self.grounding = model.grounding.to(device).eval()
        self.n_songs = model.n_items
        self._cache: OrderedDict[tuple[int, ...], torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()

    def profile_mass(
        self,
        rows: np.ndarray,
        embeddings: np.ndarray | None,
        evidence: np.ndarray | None = None,
    ) -> torch.Tensor:
        """Σ_j A_j over catalog rows and uploaded embeddings (S, D): (K,) float64. An
        upload's A is its grounded affinity, joined by noisy-OR with its taggers' evidence
        (S, K; NaN where no tagger names the tag) when that is given."""
        total = torch.zeros(K, dtype=torch.float64, device=self.device)
        if rows.size:
            idx = torch.as_tensor(rows, device=self.device)
            total += self.affinity.index_select(0, idx).double().sum(0)
        if embeddings is not None:
            x = torch.as_tensor(embeddings, dtype=torch.float32, device=self.device)
            a = self.grounding(x).double()  # (S, K)
            if evidence is not None:
                a = noisy_or(a, torch.as_tensor(evidence, dtype=torch.float64, device=a.device))
            total += a.sum(0)
        return total

    def reference(self, rows: np.ndarray) -> torch.Tensor:
        """ŵ⁰ (K,) float64 of a catalog history; the uniform profile when it is empty."""
        mass = self.profile_mass(rows, None)
        total = mass.sum()
        return mass / total if total > 0 else torch.full_like(mass, 1.0 / K)

    def base(self, rows: np.ndarray) -> torch.Tensor:
        """z(b) (N,) float64 of a history (rows sorted and unique), from the cache if there."""
        key = tuple(int(r) for r in rows)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        x = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (np.zeros(len(rows), np.int64), rows)),
            shape=(1, self.n_songs),
        )
        z = self.model.base_scores(x)[0].to(self.device)
        with self._lock:
            self._cache[key] = z
            while len(self._cache) > _CACHED_HISTORIES:
                self._cache.popitem(last=False)
        return z

    def scores(self, profile: torch.Tensor, rows: np.ndarray) -> tuple[torch.Tensor, dict]:
        """(N,) float32 scores for a profile (K,) and a history, and what explain needs."""
        p0 = self.reference(rows)
        r = log_ratio(profile.double()[None], p0[None], self.floor, self.undo)[0]  # (K,)
        z = self.base(rows)
        s = z.float() + self.beta * (self.affinity @ r.float())  # (N,)
        return s, {"profile": profile.double(), "reference": p0, "r": r, "base": z}

    def explain(self, idx: torch.Tensor, ctx: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Contributions (B, K) and baseline scores (B,) of songs idx, float64 (module doc):
        baseline + Σ_k contributions = the songs' scores."""
        a = self.affinity.index_select(0, idx).double()  # (B, K)
        shift = ctx["reference"].clamp_min(self.floor).log() - UNIFORM_LOG  # (K,)
        # ℓ(ŵ) − log(1/K) − c  =  r + ℓ(ŵ⁰) − log(1/K), with r = ℓ(ŵ) − ℓ(ŵ⁰) − c
        contrib = self.beta * a * (ctx["r"] + shift)  # (B, K)
        baseline = ctx["base"].index_select(0, idx) - self.beta * (a @ shift)  # (B,)
        return contrib, baseline
