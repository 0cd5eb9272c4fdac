"""Audio the page plays: prototype clips (static files) and catalog songs rendered on
demand into a size-capped cache, plus the checks on uploaded files.

Only two folders are ever served: the prototype clips and the render cache (both given
to gr.set_static_paths by the app). Every path handed to the page is resolved and must
lie inside one of them; song ids are looked up in the catalog, never joined into a path.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apron_core.errors import AudioError, ConfigError, DataError
from apron_core.prototypes import Prototype
from apron_core.tags import TAG_NAMES
from apron_core.ui.files import inside


@dataclass(frozen=True)
class AudioConfig:
    cache_dir: Path = Path(tempfile.gettempdir()) / "apron_studio" / "renders"
    cache_max_bytes: int = 300_000_000  # ~500 rendered songs
    max_uploads: int = 10
    max_upload_bytes: int = 50_000_000

    def __post_init__(self) -> None:
        if self.cache_max_bytes <= 0 or self.max_upload_bytes <= 0 or self.max_uploads < 1:
            raise ConfigError(
                f"audio limits must be positive (cache_max_bytes={self.cache_max_bytes}, "
                f"max_upload_bytes={self.max_upload_bytes}, max_uploads={self.max_uploads})"
            )


def find_prototype_dir(bundle_dir: Path) -> Path | None:
    """The folder of the 80 clips: <bundle>/prototypes or its sibling ../prototypes."""
    for folder in (Path(bundle_dir) / "prototypes", Path(bundle_dir).parent / "prototypes"):
        if folder.is_dir() and any(folder.glob("*.ogg")):
            return folder.resolve()
    return None


def prototype_clips(prototypes: Sequence[Prototype], folder: Path | None) -> dict[int, Path]:
    """Tag index → clip file, for the clips that exist inside `folder` (a tampered table
    naming a file elsewhere is ignored, not served)."""
    if folder is None:
        return {}
    clips: dict[int, Path] = {}
    for p in prototypes:
        if p.tag not in TAG_NAMES:
            continue
        path = (folder / p.file).resolve()
        if inside(path, folder) and path.is_file():
            clips[TAG_NAMES.index(p.tag)] = path
    return clips


class SongAudio:
    """Catalog songs as audio files, rendered with FluidSynth the first time they are
    asked for and kept in a RenderCache (LRU beyond cache_max_bytes)."""

    def __init__(self, specs: Mapping[str, dict | None], config: AudioConfig) -> None:
        from apron_core.world.render import fluidsynth_available

        self._specs = dict(specs)
        self.config = config
        ok, why = fluidsynth_available()
        self.reason = "" if ok else why
        self._cache = None
        if ok:
            from apron_core.world.render import RenderCache

            self._cache = RenderCache(config.cache_dir, max_bytes=config.cache_max_bytes)
        self.folder = Path(config.cache_dir).resolve()

    @property
    def available(self) -> bool:
        return self._cache is not None

    def path(self, song_id: str) -> Path:
        """The song's audio file (rendered now if needed); DataError for an unknown id,
        AudioError when audio is off or the song has no render spec."""
        if not isinstance(song_id, str) or song_id not in self._specs:
            raise DataError(f"unknown song id {str(song_id)[:40]!r}: pick a song from the list")
        if self._cache is None:
            raise AudioError(f"Audio is off on this server. {self.reason}")
        spec = self._specs[song_id]
        if not isinstance(spec, dict):
            raise AudioError(f"song {song_id!r} has no render spec, so it cannot be played")
        from apron_core.world.spec import SongSpec

        path = self._cache.path_for(SongSpec.from_dict(spec))
        if not inside(path, self.folder):  # the cache names files by hash: never expected
            raise AudioError(f"the render of {song_id!r} is outside the cache folder")
        return path


# --------------------------------------------------------------------------- uploads


@dataclass(frozen=True)
class EncodedUploads:
    embeddings: np.ndarray | None  # (S, D) of the files that encoded
    names: tuple[str, ...]  # their file names
    problems: tuple[str, ...]  # one message per refused file


def _display_name(path: Path) -> str:
    return path.name[:80] or "(unnamed file)"


def encode_uploads(
    paths: Sequence[str | os.PathLike], encode, config: AudioConfig
) -> EncodedUploads:
    """Embed each uploaded file with `encode(path) -> (D,)`; files that fail are reported
    by name (with the server's temp folder left out of the message) and skipped."""
    paths = [Path(p) for p in paths if p]
    if len(paths) > config.max_uploads:
        raise DataError(
            f"{len(paths)} files uploaded; the limit is {config.max_uploads}: "
            "remove some and try again"
        )
    rows, names, problems = [], [], []
    for path in paths:
        name = _display_name(path)
        try:
            size = path.stat().st_size
            if size == 0:
                raise AudioError(f"'{name}' is empty (0 bytes): upload an audio file")
            if size > config.max_upload_bytes:
                raise AudioError(
                    f"'{name}' is {size / 1e6:.0f} MB, over the "
                    f"{config.max_upload_bytes / 1e6:.0f} MB limit: upload a shorter excerpt"
                )
            rows.append(np.asarray(encode(path), dtype=np.float32))
            names.append(name)
        except (AudioError, DataError, ConfigError) as e:
            problems.append(str(e).replace(str(path), name).replace(str(path.parent), ""))
        except OSError:
            problems.append(f"'{name}' could not be read: upload it again")
    emb = np.stack(rows) if rows else None
    return EncodedUploads(emb, tuple(names), tuple(problems))
