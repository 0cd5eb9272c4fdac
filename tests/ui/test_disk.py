"""The app's private folder and the pruning of its folders."""

from __future__ import annotations

import os
import stat

import pytest

from apron_core.errors import ConfigError
from apron_core.ui.disk import FolderCap, private_folder, prune, runtime_dir


def test_runtime_folder_is_private_and_not_a_fixed_name():
    root = runtime_dir()
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert root.stat().st_uid == os.getuid()
    assert root == runtime_dir()  # one per process
    assert root.name != "apron_studio" and root.name.startswith("apron_studio_")
    sub = private_folder("renders")
    assert sub.parent == root and stat.S_IMODE(sub.stat().st_mode) & 0o077 == 0


def _entry(folder, name: str, size: int, mtime: float, *, nested: bool = False):
    path = folder / name
    if nested:  # Gradio keeps each upload in a folder of its own
        path.mkdir()
        f = path / "song.wav"
    else:
        f = path
    f.write_bytes(b"x" * size)
    os.utime(f, (mtime, mtime))
    if nested:
        os.utime(path, (mtime, mtime))
    return path


def test_prune_drops_the_oldest_until_bytes_and_files_fit(tmp_path):
    for i in range(6):
        _entry(tmp_path, f"f{i}", 100, 1000 + i, nested=i % 2 == 0)
    result = prune(tmp_path, FolderCap(max_bytes=350, max_files=10), now=2000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f3", "f4", "f5"]
    assert (result.entries, result.bytes, result.kept_bytes) == (3, 300, 300)
    prune(tmp_path, FolderCap(max_bytes=10_000, max_files=1), now=2000)
    assert [p.name for p in tmp_path.iterdir()] == ["f5"]


def test_prune_drops_what_is_too_old_and_keeps_the_rest(tmp_path):
    _entry(tmp_path, "old", 10, 1000, nested=True)
    _entry(tmp_path, "new", 10, 1990)
    result = prune(tmp_path, FolderCap(max_bytes=10**9, max_files=100, max_age_s=60), now=2000)
    assert [p.name for p in tmp_path.iterdir()] == ["new"] and result.entries == 1


def test_prune_of_a_missing_folder_is_a_no_op(tmp_path):
    assert prune(tmp_path / "nope", FolderCap(1, 1)).entries == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_bytes": 0, "max_files": 1},
        {"max_bytes": 1, "max_files": -1},
        {"max_bytes": 1, "max_files": 1, "max_age_s": 0},
    ],
)
def test_bad_caps_are_refused(kwargs):
    with pytest.raises(ConfigError):
        FolderCap(**kwargs)
