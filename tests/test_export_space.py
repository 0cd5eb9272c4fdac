"""training.export_space: the Space folder passes the Hub's rules and runs the app."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from apron_core.errors import ConfigError
from training.export_space import (
    MAX_PLAIN_BYTES,
    SpaceConfig,
    check_space,
    export_space,
    is_binary,
    lfs_patterns,
    main,
)


@pytest.fixture(scope="module")
def space(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("space") / "space"
    export_space(out)
    return out


def test_exported_space_passes_the_checks(space):
    assert check_space(space) == []
    names = {p.name for p in space.iterdir()}
    assert names == {"app.py", "apron_core", "assets", "requirements.txt", "packages.txt",
                     "README.md", "LICENSE", ".gitattributes"}  # fmt: skip
    assert not list(space.rglob("__pycache__"))
    rules = (space / ".gitattributes").read_text()
    for ext in ("*.ogg", "*.safetensors"):
        assert f"{ext} filter=lfs" in rules
    readme = (space / "README.md").read_text()
    assert readme.startswith("---\ntitle: APRON Studio\n")
    assert "sdk: gradio\n" in readme


def _copy(space: Path, tmp_path: Path) -> Path:
    import shutil

    dst = tmp_path / "space"
    shutil.copytree(space, dst)
    return dst


def _png(d: Path) -> None:
    (d / "assets" / "cover.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))


def _big_text(d: Path) -> None:
    (d / "assets" / "big.txt").write_text("a" * (MAX_PLAIN_BYTES + 1))


def _no_lfs_rules(d: Path) -> None:
    (d / ".gitattributes").write_text("# nothing\n")


def _wrong_sdk_version(d: Path) -> None:
    readme = d / "README.md"
    readme.write_text(readme.read_text().replace("sdk_version: ", "sdk_version: 1"))


def _no_front_matter(d: Path) -> None:
    (d / "README.md").write_text("# APRON Studio\n")


def _tests_folder(d: Path) -> None:
    (d / "tests").mkdir()


def _dev_requirement(d: Path) -> None:
    with open(d / "requirements.txt", "a") as f:
        f.write("pytest==9.2.0\n")


def _no_fluidsynth(d: Path) -> None:
    (d / "packages.txt").write_text("\n")


def _missing_clip(d: Path) -> None:
    next((d / "assets" / "prototypes").glob("*.ogg")).unlink()


def _pycache(d: Path) -> None:
    (d / "apron_core" / "__pycache__").mkdir()
    (d / "apron_core" / "__pycache__" / "x.pyc").write_bytes(b"\0")


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        (_png, "assets/cover.png is binary and not covered"),
        (_big_text, "assets/big.txt is over 10 MiB"),
        (_no_lfs_rules, "assets/demo/model/weights.safetensors is binary"),
        (_wrong_sdk_version, "sdk_version="),
        (_no_front_matter, "no front matter"),
        (_tests_folder, "not needed by the app: ['tests']"),
        (_dev_requirement, "test-only packages: ['pytest']"),
        (_no_fluidsynth, "libfluidsynth3"),
        (_missing_clip, "80 clips"),
        (_pycache, "build leftovers"),
    ],
)
def test_check_finds_each_way_a_space_is_refused(space, tmp_path, spoil, problem):
    spoiled = _copy(space, tmp_path)
    spoil(spoiled)
    problems = check_space(spoiled)
    assert any(problem in p for p in problems), problems


def test_binary_detection_and_patterns(tmp_path):
    (tmp_path / "a.ogg").write_bytes(b"OggS\0\0")
    (tmp_path / "b.json").write_text('{"x": "é"}')
    (tmp_path / "c.bin").write_bytes(bytes([0xFF, 0xFE, 0x41]))  # not UTF-8, no NUL
    (tmp_path / "LICENSEDATA").write_bytes(b"\0")
    assert [is_binary(tmp_path / n) for n in ("a.ogg", "b.json", "c.bin")] == [True, False, True]
    assert lfs_patterns(tmp_path) == ["*.bin", "*.ogg", "LICENSEDATA"]


def test_space_config_is_validated():
    with pytest.raises(ConfigError, match="color_from='teal'"):
        SpaceConfig(color_from="teal")
    with pytest.raises(ConfigError, match="allows 60"):
        SpaceConfig(short_description="x" * 61)


def test_cli_refuses_a_non_empty_folder_and_a_missing_bundle(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["--output", str(out)]) == 2
    assert "not empty; pass --force" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    assert main(["--output", str(tmp_path / "new"), "--bundle", str(tmp_path)]) == 2
    assert "not a bundle" in capsys.readouterr().err
    assert main(["--output", str(out), "--force"]) == 0
    assert "passes the Space checks" in capsys.readouterr().out
    assert main(["--output", str(out), "--check-only"]) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_space_folder_serves_the_app(space, tmp_path):
    """Run app.py from the exported folder alone: everything it needs is in there."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": "", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--cache-dir", str(tmp_path / "c")],
        cwd=space,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 180  # a busy CI machine; the poll ends at first answer
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5) as r:
                    assert r.status == 200
                    assert b"APRON" in r.read()
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the exported app did not serve /config")
                time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
