"""Pick the demo listeners the app offers: held-out users whose profiles differ most."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from apron_core.bundle import DemoListener
from apron_core.tags import TAG_NAMES, category_indices


def describe_profile(profile: np.ndarray) -> str:
    """One line from a (K,) profile: top genres, moods, era and instruments by weight."""

    def top(category: str, n: int) -> list[str]:
        idx = category_indices(category)
        order = np.argsort(-profile[idx], kind="stable")[:n]
        return [TAG_NAMES[idx[i]] for i in order]

    genres, moods = top("genre", 2), top("mood", 2)
    era, instruments = top("era", 1)[0], top("instrumentation", 2)
    return (
        f"{genres[0]} and {genres[1]} · {moods[0]}, {moods[1]} · {era} · "
        f"{instruments[0]}, {instruments[1]}"
    )


def _hellinger_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip(1 - np.sqrt(a * b).sum(-1), 0, 1))


def pick_demo_listeners(
    profiles: np.ndarray,
    fold_in: sp.csr_matrix,
    user_ids: list[str],
    song_ids: list[str],
    *,
    n: int = 12,
    min_history: int = 20,
    max_history: int = 120,
) -> list[DemoListener]:
    """Farthest-point selection in profile space (Hellinger), starting from the most
    focused profile, among users with a history length a visitor can scan; at most
    one listener per leading genre."""
    lengths = np.asarray(fold_in.sum(1)).ravel()
    pool = np.flatnonzero((lengths >= min_history) & (lengths <= max_history))
    if len(pool) < n:
        pool = np.argsort(-lengths)[: max(n, len(pool))]
    genre_idx = category_indices("genre")
    lead = np.array([genre_idx[i] for i in profiles[:, genre_idx].argmax(1)])
    chosen = [int(pool[np.argmax(profiles[pool].max(1))])]
    dist = _hellinger_rows(profiles[pool], profiles[chosen[0]][None])
    while len(chosen) < min(n, len(pool)):
        taken = {lead[c] for c in chosen}
        score = np.where(np.isin(lead[pool], list(taken)), -1.0, dist)
        if score.max() < 0:
            score = dist
        nxt = int(pool[np.argmax(score)])
        if nxt in chosen:
            break
        chosen.append(nxt)
        dist = np.minimum(dist, _hellinger_rows(profiles[pool], profiles[nxt][None]))
    out = []
    for c in chosen:
        history = [song_ids[j] for j in fold_in[c].indices]
        out.append(
            DemoListener(
                listener_id=user_ids[c], description=describe_profile(profiles[c]), history=history
            )
        )
    return out
