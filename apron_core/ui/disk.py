"""The app's files on disk: one private folder per process for everything it writes
(rendered songs, exported profiles, Gradio's uploads), and the pruning that keeps each
folder under a size, a file-count and an age cap while the app runs.

Why a private folder: a fixed name such as /tmp/apron_studio can be created first by
another local user, who then reads or replaces what the app serves. `tempfile.mkdtemp`
creates a fresh folder only this user can enter (mode 0700); it is removed at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from apron_core.errors import ConfigError

RUNTIME_PREFIX = "apron_studio_"

_runtime: Path | None = None
_runtime_lock = threading.Lock()


def runtime_dir() -> Path:
    """This process's private folder (created on first use, mode 0700, removed at exit)."""
    global _runtime
    with _runtime_lock:
        if _runtime is None or not _runtime.is_dir():
            _runtime = Path(tempfile.mkdtemp(prefix=RUNTIME_PREFIX)).resolve()
            atexit.register(shutil.rmtree, _runtime, ignore_errors=True)
        return _runtime


def private_folder(name: str) -> Path:
    """`runtime_dir()/name`, created with mode 0700."""
    folder = runtime_dir() / name
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


@dataclass(frozen=True)
class FolderCap:
    """What one folder may hold; the oldest entries go first."""

    max_bytes: int
    max_files: int
    max_age_s: float | None = None  # None: kept until a cap needs the room

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.max_files <= 0:
            raise ConfigError(
                f"a folder cap must be positive (max_bytes={self.max_bytes}, "
                f"max_files={self.max_files})"
            )
        if self.max_age_s is not None and not self.max_age_s > 0:
            raise ConfigError(f"max_age_s={self.max_age_s!r} must be positive or None")


@dataclass(frozen=True)
class Folder:
    """A folder the app writes, and its cap."""

    path: Path
    cap: FolderCap


@dataclass(frozen=True)
class Pruned:
    entries: int  # top-level files or folders removed
    bytes: int
    kept_entries: int
    kept_bytes: int


def _entry(path: Path) -> tuple[float, int, int] | None:
    """(newest mtime, bytes, files) of a file or a folder tree; None if it vanished."""
    try:
        if not path.is_dir() or path.is_symlink():
            st = path.lstat()
            return st.st_mtime, st.st_size, 1
        newest, size, files = path.lstat().st_mtime, 0, 0
        for root, _, names in os.walk(path):
            for name in names:
                with contextlib.suppress(FileNotFoundError):
                    st = os.lstat(os.path.join(root, name))
                    newest, size, files = max(newest, st.st_mtime), size + st.st_size, files + 1
        return newest, size, files
    except FileNotFoundError:
        return None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def prune(folder: Path, cap: FolderCap, *, now: float | None = None) -> Pruned:
    """Remove the top-level entries of `folder` (files, or folders such as Gradio's
    one-per-upload ones) older than `cap.max_age_s`, then the least recently modified
    until the rest fit in `cap.max_bytes` and `cap.max_files` files. A missing folder
    holds nothing. Entries being written meanwhile are simply seen or not."""
    now = time.time() if now is None else now
    try:
        paths = list(Path(folder).iterdir())
    except FileNotFoundError:
        return Pruned(0, 0, 0, 0)
    entries = []
    for path in paths:
        info = _entry(path)
        if info is not None:
            entries.append((info, path))
    entries.sort(key=lambda e: e[0][0])  # oldest first
    total_bytes = sum(info[1] for info, _ in entries)
    total_files = sum(info[2] for info, _ in entries)
    removed = removed_bytes = 0
    for (mtime, size, files), path in entries:
        too_old = cap.max_age_s is not None and now - mtime > cap.max_age_s
        if not (too_old or total_bytes > cap.max_bytes or total_files > cap.max_files):
            break  # the rest are newer, and everything fits
        _remove(path)
        removed, removed_bytes = removed + 1, removed_bytes + size
        total_bytes, total_files = total_bytes - size, total_files - files
    return Pruned(removed, removed_bytes, len(entries) - removed, total_bytes)
