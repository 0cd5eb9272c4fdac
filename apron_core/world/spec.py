"""A song's render spec: everything its audio is a pure function of.

The catalog stores one spec per song (as JSON); rendering the same spec with the
same soundfont gives the same samples, so audio can be produced on demand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from apron_core.errors import ConfigError
from apron_core.tags import ERAS, GENRES, INSTRUMENTS, MOODS

SPEC_VERSION = 1


@dataclass(frozen=True)
class SongSpec:
    song_id: str
    seed: int
    genre: str  # one genre tag
    era: str  # one era tag; production follows it
    year: int  # inside the era's decade
    moods: tuple[str, ...]  # 1-2 mood tags
    instruments: tuple[str, ...]  # 1-4 instrumentation tags, each audible in the mix
    duration_s: float = 12.0
    version: int = SPEC_VERSION

    def __post_init__(self) -> None:
        if self.genre not in GENRES:
            raise ConfigError(f"spec {self.song_id}: unknown genre {self.genre!r}")
        if self.era not in ERAS:
            raise ConfigError(f"spec {self.song_id}: unknown era {self.era!r}")
        bad = [m for m in self.moods if m not in MOODS]
        bad += [i for i in self.instruments if i not in INSTRUMENTS]
        if bad:
            raise ConfigError(f"spec {self.song_id}: unknown mood/instrument tags {bad}")
        if not 1 <= len(self.moods) <= 2:
            raise ConfigError(f"spec {self.song_id}: needs 1-2 moods, got {self.moods}")
        if not 1 <= len(self.instruments) <= 4:
            raise ConfigError(f"spec {self.song_id}: needs 1-4 instruments, got {self.instruments}")
        if not 1.0 <= self.duration_s <= 60.0:
            raise ConfigError(f"spec {self.song_id}: duration_s={self.duration_s} not in [1, 60]")

    @property
    def attributes(self) -> tuple[str, ...]:
        """Ground-truth tags of the song, in no particular order."""
        return (self.era, self.genre, *self.moods, *self.instruments)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["moods"] = list(self.moods)
        d["instruments"] = list(self.instruments)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SongSpec:
        if d.get("version", SPEC_VERSION) != SPEC_VERSION:
            raise ConfigError(
                f"song spec version {d.get('version')} is not {SPEC_VERSION}: "
                "rebuild the world with this version of APRON Studio"
            )
        fields = dict(d)
        fields["moods"] = tuple(fields["moods"])
        fields["instruments"] = tuple(fields["instruments"])
        return cls(**fields)
