"""What musicnn's own tag heads hear in an upload, on the project's 80 tags.

The grounding (:mod:`apron_core.grounding`) learns the 80 tags from the demo world's
General-MIDI renders, so for real recordings it often names the wrong genre: a death-metal
track reads as flute and choir (measured on ``benchmarks/real_recordings.json``). musicnn's
tag heads were trained on real recordings with real tags — the MSD head on 50 Last.fm tags
(rock, metal, jazz, electronic, 80s, …), the MagnaTagATune head on 50 listener tags
(classical, strings, piano, choir, …) — and many of those are our tags under the same
name. ``TAG_SOURCES`` lists, for each of our tags, the heads' tags that mean the same thing:
a fact about the two vocabularies, written down once, not fitted to anything.

``TagEvidence.of_signal`` gives an upload's (80,) evidence: for each tag the highest
probability its sources give, averaged over the clip's 3-s patches as musicnn's taggram
is; NaN for the tags no head names. Grounded steering joins it with the upload's grounded
affinity as a noisy-OR, ``1 − (1 − a)(1 − e)``: the song carries the tag if either the
grounding or a head hears it (``SteeredInference.profile_mass``). Catalog songs keep their
grounded affinity alone: they are the world's own renders, which the grounding was fitted
on and which the heads never saw.

Cost: one musicnn forward per head; a musicnn encoder of the bundle with the same weights
(the MSD part of ``musicnn+librosa``) is reused, and its last clip's patch outputs are
kept, so the MSD head costs no second forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from apron_core.encoders.base import Encoder, resample
from apron_core.encoders.musicnn import MUSICNN_SR, WEIGHTS, MusicnnEncoder
from apron_core.errors import ConfigError
from apron_core.tags import TAG_NAMES, K

# our tag → (head, the head's tag) pairs of the same meaning; heads: "msd", "mtt"
TAG_SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "1960s": (("msd", "60s"),),
    "1970s": (("msd", "70s"),),
    "1980s": (("msd", "80s"),),
    "1990s": (("msd", "90s"),),
    "2000s": (("msd", "00s"),),
    "rock": (("msd", "rock"), ("mtt", "rock")),
    "pop": (("msd", "pop"), ("mtt", "pop")),
    "jazz": (("msd", "jazz"),),
    "blues": (("msd", "blues"),),
    "country": (("msd", "country"), ("mtt", "country")),
    "folk": (("msd", "folk"),),
    "soul": (("msd", "soul"),),
    "funk": (("msd", "funk"),),
    "hip-hop": (("msd", "Hip-Hop"),),
    "r&b": (("msd", "rnb"),),
    "electronic": (("msd", "electronic"), ("mtt", "electronic")),
    "house": (("msd", "House"),),
    "techno": (("mtt", "techno"),),
    "ambient": (("msd", "ambient"), ("mtt", "ambient")),
    "metal": (("msd", "metal"), ("msd", "heavy metal"), ("mtt", "metal")),
    "punk": (("msd", "punk"),),
    "indie": (("msd", "indie"),),
    "classical": (("mtt", "classical"),),
    "new age": (("mtt", "new age"),),
    "happy": (("msd", "happy"),),
    "sad": (("msd", "sad"),),
    "mellow": (("msd", "Mellow"),),
    "piano": (("mtt", "piano"),),
    "strings": (("mtt", "strings"), ("mtt", "violin")),
    "cello": (("mtt", "cello"),),
    "flute": (("mtt", "flute"),),
    "harp": (("mtt", "harp"),),
    "choir": (("mtt", "choir"), ("mtt", "choral")),
}


HEAD_NAMES = {"msd": "Million Song Dataset", "mtt": "MagnaTagATune"}


def noisy_or(affinity: torch.Tensor, evidence: torch.Tensor) -> torch.Tensor:
    """1 − (1 − a)(1 − e) where the evidence speaks (not NaN), a elsewhere."""
    return torch.where(torch.isnan(evidence), affinity, 1 - (1 - affinity) * (1 - evidence))


class TagEvidence:
    """The (80,) evidence of the configured musicnn heads for one clip (module doc)."""

    def __init__(self, heads: Sequence[str], reuse: Encoder | None = None) -> None:
        heads = tuple(heads)
        for h in heads:
            if h not in WEIGHTS:
                raise ConfigError(f"tag head {h!r:.40}: use some of {list(WEIGHTS)}")
        if not heads or len(set(heads)) != len(heads):
            raise ConfigError(f"tag heads {heads!r}: give each of {list(WEIGHTS)} at most once")
        self.heads = heads
        parts = reuse.parts() if reuse is not None else []
        mine = {p.config.weights: p for p in parts if isinstance(p, MusicnnEncoder)}
        self._taggers = {h: mine.get(h) or MusicnnEncoder(weights=h) for h in heads}
        self._columns: dict[str, list[tuple[int, int]]] | None = None  # head → (ours, theirs)

    def forget_recent(self) -> None:
        for tagger in self._taggers.values():
            tagger.forget_recent()

    def describe(self) -> str:
        return " and ".join(HEAD_NAMES[h] for h in self.heads)

    def columns(self) -> dict[str, list[tuple[int, int]]]:
        """For each head, the (our tag index, head tag index) pairs of ``TAG_SOURCES``."""
        if self._columns is None:
            cols: dict[str, list[tuple[int, int]]] = {h: [] for h in self.heads}
            for tag, sources in TAG_SOURCES.items():
                for head, theirs in sources:
                    if head in cols:
                        names = self._taggers[head].tags
                        if theirs not in names:
                            raise ConfigError(f"musicnn's {head} head has no tag {theirs!r}")
                        cols[head].append((TAG_NAMES.index(tag), names.index(theirs)))
            self._columns = cols
        return self._columns

    def tags_named(self) -> list[str]:
        """Our tags that at least one configured head speaks for."""
        ours = {k for pairs in self.columns().values() for k, _ in pairs}
        return [TAG_NAMES[k] for k in sorted(ours)]

    def of_signal(self, y: np.ndarray, sr: int) -> np.ndarray:
        """(80,) float64: the highest source probability per tag, NaN where none speaks."""
        y16 = resample(np.asarray(y, dtype=np.float32), sr, MUSICNN_SR)
        out = np.full(K, np.nan)
        for head, pairs in self.columns().items():
            taggram = self._taggers[head].clip_feature(y16, "taggram")  # (50,)
            for ours, theirs in pairs:
                p = float(taggram[theirs])
                out[ours] = p if np.isnan(out[ours]) else max(out[ours], p)
        return out
