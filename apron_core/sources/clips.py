"""Prototypes of a prepared data set: both rules of ``apron_core.prototypes``, clips cut from audio.

Real tags are sparse: a tag may have no song left after filtering (MSD predates the
2020s). Such a tag borrows the carriers of a *fallback* tag (``2020s`` → ``2010s``) for
choosing its prototype, never another tag's prototype song when an unused carrier
exists; the songs' observed tags are not changed. Fallbacks are reported, and a tag
without carriers or a fallback is an error that names it.

A clip cut from audio is ``clip_s`` seconds from the middle of the song's file
(:func:`cut_clips`); where the prepare step takes clips from instead is described in
:mod:`apron_core.sources.prepare`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from apron_core import prototypes
from apron_core.audio import load_audio
from apron_core.encoders import Encoder
from apron_core.errors import ApronError, DataError
from apron_core.tags import TAG_NAMES

# Used only for a tag no prepared song carries; each names the closest tag in sound.
DEFAULT_FALLBACKS: dict[str, str] = {
    "2020s": "2010s",
    "2010s": "2000s",
    "synth lead": "synthpop",
    "synth pad": "ambient",
    "synth bass": "synthpop",
    "electric piano": "soul",
    "distorted guitar": "metal",
    "drum machine": "electronic",
    "lo-fi": "indie",
    "hopeful": "uplifting",
    "tense": "dark",
    "playful": "happy",
    "choir": "gospel",
    "cello": "strings",
    "harp": "strings",
}


def resolve_fallbacks(carriers: Mapping[str, int], fallbacks: Mapping[str, str]) -> dict[str, str]:
    """For each tag without carriers, the first tag along its fallback chain that has some.

    Raises DataError naming the tags left without any, and how to fix it.
    """
    for a, b in fallbacks.items():
        if a not in TAG_NAMES or b not in TAG_NAMES:
            bad = a if a not in TAG_NAMES else b
            raise DataError(f"fallback {a!r} → {b!r}: {bad!r} is not one of the 80 APRON tags")
    resolved, stuck = {}, []
    for tag in TAG_NAMES:
        if carriers.get(tag, 0) > 0:
            continue
        seen, cur = {tag}, tag
        while cur in fallbacks and fallbacks[cur] not in seen and carriers.get(cur, 0) == 0:
            cur = fallbacks[cur]
            seen.add(cur)
        if carriers.get(cur, 0) > 0:
            resolved[tag] = cur
        else:
            stuck.append(tag)
    if stuck:
        raise DataError(
            f"no prepared song carries the tag(s) {stuck}, and they have no usable fallback: "
            "map more Last.fm spellings onto them (assets/lastfm_tag_map.json), lower the "
            "filtering thresholds, or give a fallback (--fallback TAG=OTHER_TAG)"
        )
    return resolved


def _selection_tags(tags: pd.Series, resolved: Mapping[str, str]) -> pd.Series:
    """Tags used for choosing prototypes: observed tags plus borrowed fallback tags."""
    borrowed = {}
    for tag, source in resolved.items():
        borrowed.setdefault(source, []).append(tag)
    return tags.map(lambda ts: list(ts) + [t for s in ts for t in borrowed.get(s, [])])


def choose_prototypes(
    catalog: pd.DataFrame,
    plays: pd.Series,
    embeddings: np.ndarray,
    *,
    rules: tuple[str, ...] = prototypes.RULES,
    fallbacks: Mapping[str, str] = DEFAULT_FALLBACKS,
    seed: int = 0,
) -> tuple[dict[str, list[prototypes.Prototype]], dict[str, str]]:
    """Prototype table per rule (no excerpt placed yet) and the fallbacks used.

    ``catalog``: song_id and tags (lists of APRON tags); ``plays``: plays per song id
    (train users); ``embeddings``: (N, D) normalized, aligned to ``catalog``.
    """
    carriers = {t: 0 for t in TAG_NAMES}
    for ts in catalog["tags"]:
        for t in ts:
            carriers[t] += 1
    resolved = resolve_fallbacks(carriers, fallbacks)
    songs = pd.DataFrame(
        {
            "song_id": catalog["song_id"].to_numpy(),
            "tags": _selection_tags(catalog["tags"], resolved),
        }
    )
    chosen: dict[str, list[prototypes.Prototype]] = {}
    for rule in rules:
        if rule == "purity_aware":
            protos = prototypes.select_purity_aware(songs, plays, embeddings, seed=seed)
        elif rule == "most_listened":
            protos = prototypes.select_most_listened(songs, plays)
        else:
            raise DataError(f"unknown prototype rule {rule!r}: use one of {prototypes.RULES}")
        chosen[rule] = _spread_fallbacks(protos, songs, plays, resolved)
    return chosen, resolved


def _spread_fallbacks(protos, songs, plays, resolved) -> list[prototypes.Prototype]:
    """A fallback tag must not reuse another prototype's song when an unused carrier exists."""
    used = {p.song_id for p in protos if p.tag not in resolved}
    p_of = plays.reindex(songs["song_id"]).fillna(0).to_numpy()
    out = []
    for p in protos:
        if p.tag in resolved and p.song_id in used:
            has = songs["tags"].map(lambda ts, t=p.tag: t in ts).to_numpy()
            cand = np.flatnonzero(has)
            cand = cand[np.lexsort((songs["song_id"].to_numpy()[cand], -p_of[cand]))]
            free = [i for i in cand if songs["song_id"].iloc[i] not in used]
            if free:
                i = free[0]
                p = dataclasses.replace(
                    p, song_id=str(songs["song_id"].iloc[i]), plays=int(p_of[i])
                )
        used.add(p.song_id)
        out.append(p)
    return out


def cut_clips(
    chosen: Mapping[str, list[prototypes.Prototype]],
    audio: Mapping[str, Path],
    encoder: Encoder,
    *,
    clip_s: float,
) -> tuple[dict[str, list[prototypes.Prototype]], dict[tuple[str, float, float], np.ndarray]]:
    """Excerpts of ``clip_s`` s from the middle of each prototype song's preview.

    Returns the tables with start/duration filled in and ``{(song, start, dur): clip}``
    (mono float32 at ``encoder.sr``). Previews shorter than ``clip_s`` give a shorter clip.
    """
    clips: dict[tuple[str, float, float], np.ndarray] = {}
    out: dict[str, list[prototypes.Prototype]] = {}
    for rule, protos in chosen.items():
        table = []
        for p in protos:
            path = audio[p.song_id]
            try:
                total = sf.info(str(path)).duration
            except (sf.SoundFileError, RuntimeError, OSError) as e:
                raise DataError(
                    f"cannot read the preview {path} of prototype {p.tag!r}: {e}"
                ) from None
            dur = round(min(clip_s, total), 3)
            start = round(max(0.0, (total - dur) / 2), 3)
            key = (p.song_id, start, dur)
            if key not in clips:
                try:
                    clips[key] = load_audio(path, sr=encoder.sr, offset_s=start, duration_s=dur)
                except ApronError as e:
                    raise DataError(f"prototype {p.tag!r}: {e}") from None
            table.append(dataclasses.replace(p, start_s=start, duration_s=dur))
        out[rule] = table
    return out, clips
