"""Audio the page plays: prototype clips (static files) and catalog songs rendered on
demand into a size-capped cache, plus the encoding of uploaded files.

Only two folders are ever served: the prototype clips and the render cache (both given
to gr.set_static_paths by the app). Every path handed to the page is resolved and must
lie inside one of them; song ids are looked up in the catalog, never joined into a path.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apron_core.engine import UploadedSong
from apron_core.errors import ApronError, AudioError, ConfigError, DataError
from apron_core.prototypes import Prototype
from apron_core.tags import TAG_NAMES, K
from apron_core.ui.disk import FolderCap, private_folder
from apron_core.ui.files import inside

log = logging.getLogger("apron_studio")


@dataclass(frozen=True)
class AudioConfig:
    cache_dir: Path | None = None  # None: a private folder of this process (ui/disk.py)
    cache_max_bytes: int = 300_000_000  # ~500 rendered songs
    cache_max_files: int = 1000
    max_uploads: int = 10
    max_upload_bytes: int = 50_000_000

    def __post_init__(self) -> None:
        limits = (self.cache_max_bytes, self.cache_max_files, self.max_upload_bytes)
        if min(limits) <= 0 or self.max_uploads < 1:
            raise ConfigError(
                f"audio limits must be positive (cache_max_bytes={self.cache_max_bytes}, "
                f"cache_max_files={self.cache_max_files}, max_upload_bytes="
                f"{self.max_upload_bytes}, max_uploads={self.max_uploads})"
            )

    @property
    def cache_cap(self) -> FolderCap:
        return FolderCap(max_bytes=self.cache_max_bytes, max_files=self.cache_max_files)


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
    asked for and kept in a RenderCache (LRU beyond cache_max_bytes; the janitor also
    caps its file count). Concurrent requests for one song render it once: the first
    renders, the others wait for its file."""

    def __init__(self, specs: Mapping[str, dict | None], config: AudioConfig) -> None:
        from apron_core.world.render import fluidsynth_available

        self._specs = dict(specs)
        self.config = config
        folder = config.cache_dir if config.cache_dir is not None else private_folder("renders")
        ok, why = fluidsynth_available()
        self.reason = "" if ok else why
        self._cache = None
        if ok:
            from apron_core.world.render import RenderCache

            self._cache = RenderCache(folder, max_bytes=config.cache_max_bytes)
        self.folder = Path(folder).resolve()
        self._locks: dict[str, threading.Lock] = {}  # song id → its render in progress
        self._locks_guard = threading.Lock()

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

        song = SongSpec.from_dict(spec)
        with self._song_lock(song_id):  # one render per song, however many ask at once
            path = self._cache.path_for(song)
        if not inside(path, self.folder):  # the cache names files by hash: never expected
            raise AudioError(f"the render of {song_id!r} is outside the cache folder")
        return path

    def _song_lock(self, song_id: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(song_id)
            if lock is None:
                lock = self._locks[song_id] = threading.Lock()  # ≤ one per catalog song
            return lock


# --------------------------------------------------------------------------- uploads


@dataclass(frozen=True)
class EncodedUploads:
    embeddings: np.ndarray | None  # (S, D) of the files that encoded
    names: tuple[str, ...]  # their file names
    problems: tuple[str, ...]  # one message per refused file
    evidence: np.ndarray | None = None  # (S, 80) what the tag heads heard (NaN: nothing)


MAX_NAME_CHARS = 80  # of a file name quoted in a message


def _display_name(path: Path) -> str:
    name = path.name
    if len(name) > MAX_NAME_CHARS:
        name = name[: MAX_NAME_CHARS - 1] + "…"
    return name or "(unnamed file)"


def _problem(path: Path, name: str, error: BaseException) -> str:
    """One line naming the refused file: the error's own words with the server's paths
    left out, or, for an error nobody planned for, a reference to the logged traceback.
    (Messages are escaped where they become HTML: the list and the error toast.)"""
    if isinstance(error, ApronError):
        text = str(error).replace(str(path), name).replace(str(path.parent), "")
        if name not in text:  # e.g. the encoder's "signal is 2.00 s long; …"
            text = f"'{name}': {text}"
        return text if len(text) <= 400 else text[:399] + "…"
    if isinstance(error, MemoryError):
        return f"'{name}' is too large to decode on this server: upload a shorter excerpt"
    if isinstance(error, OSError):
        return f"'{name}' could not be read: upload it again"
    ref = uuid.uuid4().hex[:8]
    log.error(
        "upload %r could not be encoded (reference %s)", name, ref, exc_info=error
    )  # the traceback, not the file, goes to the log
    return (
        f"'{name}' could not be used (reference {ref}): it may be damaged or in an unusual "
        "format — convert it to WAV, FLAC, OGG or MP3 and upload it again"
    )


def encode_uploads(
    paths: Sequence[str | os.PathLike],
    encode: Callable[[Path], UploadedSong | np.ndarray],
    config: AudioConfig,
) -> EncodedUploads:
    """Embed each uploaded file with `encode(path)`: `Engine.encode_upload` (embedding
    and tag evidence) or any function returning an embedding (D,). A file that fails for
    any reason (refused header, decoder or resampler error, no memory left, a bug) is
    named in `problems` and skipped; the others still count, so one bad file never costs
    the visitor the good ones."""
    paths = [Path(p) for p in paths if p]
    if len(paths) > config.max_uploads:
        raise DataError(
            f"{len(paths)} files uploaded; the limit is {config.max_uploads}: "
            "remove some and try again"
        )
    rows, heard, names, problems = [], [], [], []
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
            song = encode(path)
            if not isinstance(song, UploadedSong):
                song = UploadedSong(np.asarray(song, dtype=np.float32))
            row = np.asarray(song.embedding, dtype=np.float32)
            if row.ndim != 1 or not np.all(np.isfinite(row)):
                raise AudioError(f"'{name}' gave no usable embedding: upload another excerpt")
            rows.append(row)
            heard.append(np.full(K, np.nan) if song.evidence is None else song.evidence)
            names.append(name)
        except Exception as e:  # every failure is one named problem, never the whole build
            problems.append(_problem(path, name, e))
    emb = np.stack(rows) if rows else None
    evidence = np.stack(heard) if heard else None
    if evidence is not None and np.isnan(evidence).all():
        evidence = None
    return EncodedUploads(emb, tuple(names), tuple(problems), evidence)
