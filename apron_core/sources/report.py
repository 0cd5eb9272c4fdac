"""What a preparation step dropped and why, how long each stage took: one log, JSON-able.

Every adapter and the prepare step write into a :class:`PrepLog`, so a user can see
that e.g. 3 malformed lines, 1.2 M triplets of songs without audio and 40 k light
users were removed, at which stage, and for what reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (0 where unknown)."""
    if resource is None:
        return 0.0
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KB on Linux
    return round(kb / 1024, 1)


@dataclass
class Drop:
    stage: str
    reason: str
    count: int
    unit: str  # "lines", "triplets", "interactions", "songs", "users", "tags", "files"
    examples: list[str] = field(default_factory=list)


@dataclass
class PrepLog:
    drops: list[Drop] = field(default_factory=list)
    kept: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def drop(
        self, stage: str, reason: str, count: int, unit: str, examples: Sequence[str] = ()
    ) -> None:
        """Record ``count`` items removed (nothing is recorded for zero)."""
        if count:
            self.drops.append(Drop(stage, reason, int(count), unit, [str(e) for e in examples[:3]]))

    def keep(self, stage: str, **counts: int) -> None:
        self.kept[stage] = {k: int(v) for k, v in counts.items()}

    def note(self, text: str) -> None:
        self.notes.append(text)

    @contextmanager
    def stage(self, name: str, *, progress: bool = False) -> Iterator[None]:
        """Time a stage; also stores the process's peak memory at its end."""
        t = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - t, 2)
        self.peak_rss_mb[name] = peak_rss_mb()
        if progress:
            print(f"  {name}: {self.seconds[name]:.1f} s", flush=True)

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        """Plain-text summary: kept counts per stage, then every drop with its reason."""
        lines = ["kept:"]
        for stage, counts in self.kept.items():
            lines.append(f"  {stage:<22} " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        lines.append("dropped:" if self.drops else "dropped: nothing")
        for d in self.drops:
            ex = f"  e.g. {'; '.join(d.examples)}" if d.examples else ""
            lines.append(f"  {d.stage:<22} {d.count:>12,} {d.unit:<12} {d.reason}{ex}")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)
