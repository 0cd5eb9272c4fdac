"""One evaluation for every model: accuracy, controllability (observed tags and ground truth),
and response, on the same held-out users with the same metric code (docs/design.md §4).

A model enters as a :class:`Candidate`: how it scores fold-in histories, what its
profile of a user is, and how it scores an edited profile. Plain baselines ignore
the profile, so their Δ is 0 by construction; "EASE + tag filter" edits a tag profile
built from the observed tags of the user's history; grounded steering edits its grounded
profile of the history (apron_core/steering.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from apron_core import metrics
from apron_core.dataset import Dataset
from apron_core.model import Apron, edit_per_head
from apron_core.training import profile_scorer, profiles_of, score_histories

ScoreProfiles = Callable[[np.ndarray], np.ndarray]


@dataclass
class Candidate:
    name: str
    score: Callable[[sp.csr_matrix], np.ndarray]  # fold-in rows → (U, N) raw scores
    profiles: Callable[[sp.csr_matrix], np.ndarray]  # fold-in rows → (U, K) or (U, H, K)
    scorer: Callable[[sp.csr_matrix], ScoreProfiles]  # fold-in rows → profiles → scores
    edit: metrics.EditFn | None = None
    steerable: bool = True  # False: the profile is ignored, response is not computed


def apron_candidate(model: Apron, device: torch.device, name: str = "APRON") -> Candidate:
    score_profiles = profile_scorer(model, device)
    edit = None
    if model.cfg.per_head_profile:

        def edit(profiles: np.ndarray, tag_idx: np.ndarray, factor: float) -> np.ndarray:
            new = metrics.scale_tag_rows(profiles.mean(1), tag_idx, factor)
            out = edit_per_head(torch.from_numpy(profiles), torch.from_numpy(new))
            return out.numpy()

    return Candidate(
        name=name,
        score=lambda x: score_histories(model, x, device=device),
        profiles=lambda x: profiles_of(model, x, device=device),
        scorer=lambda x: score_profiles,
        edit=edit,
    )


def baseline_candidate(name: str, model, *, tag_profiles: Callable | None = None) -> Candidate:
    """A fitted baseline; with a TagFilter, its profile is the history's observed-tag mix."""
    profiles = tag_profiles or getattr(model, "profiles", None)
    if profiles is None:
        raise TypeError("pass tag_profiles for a baseline without a profiles() method")
    return Candidate(
        name=name,
        score=model.score,
        profiles=profiles,
        scorer=lambda x: lambda p: model.score_with_control(x, p),
        steerable=hasattr(model, "profiles"),  # TagFilter, MacridVAEs: they read the profile
    )


def bundle_candidate(bundle, device: torch.device, name: str) -> Candidate:
    """The candidate of a bundle of either kind (APRON or grounded steering)."""
    if bundle.kind == "apron":
        return apron_candidate(bundle.model, device, name)
    return baseline_candidate(name, bundle.model)


def evaluate_candidate(
    cand: Candidate,
    ds: Dataset,
    *,
    part: str = "test",
    k_control: int = 20,
    response_users: int = 300,
    seed: int = 0,
) -> dict:
    fold, held = ds.heldout(part)
    scores = cand.score(fold)
    result: dict = {"name": cand.name, "accuracy": metrics.evaluate_accuracy(scores, fold, held)}
    del scores
    profiles = cand.profiles(fold)
    score_profiles = cand.scorer(fold)
    for label, tags in (("observed", ds.song_tags), ("truth", ds.true_tags)):
        if tags is None:
            continue
        rep = metrics.controllability(
            score_profiles, profiles, fold, held, tags, k=k_control, edit=cand.edit
        )
        result[f"control_{label}"] = rep.to_dict()
    if cand.steerable and response_users > 0:
        rng = np.random.default_rng(seed)
        users = np.sort(rng.choice(fold.shape[0], min(response_users, fold.shape[0]), False))
        sub = fold[users]
        resp = metrics.response(
            cand.scorer(sub), profiles[users], sub, ds.song_tags, k=k_control, edit=cand.edit
        )
        result["response"] = resp.to_dict()
    return result
