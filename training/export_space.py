"""Assemble a ready-to-push Hugging Face Space folder from this repository.

Hugging Face refuses binary files (OGG, PNG, safetensors, …) and any file over 10 MiB
unless Git LFS (or Xet) stores them, while this repository stays plain git. So the Space
is a separate folder, made by this command and checked against the Space rules:

    python -m training.export_space --output build/space
    cd build/space && git init && git lfs install && git add . && git commit -m space
    git remote add space https://huggingface.co/spaces/USER/NAME && git push space main

It holds only what the app needs: app.py, the apron_core package, the bundle and its
prototype clips (and any encoder weights under assets/encoders), the runtime
requirements, packages.txt, a README with the Space's front matter, the licence, and a
.gitattributes that sends every binary or large file to LFS.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from apron_core.errors import ApronError, ConfigError, DataError

ROOT = Path(__file__).resolve().parents[1]
MAX_PLAIN_BYTES = 10 * 1024 * 1024  # Hugging Face's limit for a file outside LFS
SPACE_COLORS = ("red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray")
MAX_SHORT_DESCRIPTION = 60  # characters, a Hub limit
TOP_LEVEL = {"app.py", "apron_core", "assets", "requirements.txt", "packages.txt",
             "README.md", "LICENSE", ".gitattributes"}  # fmt: skip
DEV_PACKAGES = ("pytest", "ruff", "playwright", "hypothesis", "psutil")
LFS_ATTRS = "filter=lfs diff=lfs merge=lfs -text"
SKIP = ("__pycache__", "*.pyc", ".DS_Store")


@dataclass(frozen=True)
class SpaceConfig:
    """The Space's front matter (Hugging Face's configuration reference)."""

    title: str = "APRON Studio"
    emoji: str = "🎚️"
    color_from: str = "indigo"
    color_to: str = "yellow"
    python_version: str = "3.11"
    license: str = "mit"
    short_description: str = "A controllable music recommender you can listen to"

    def __post_init__(self) -> None:
        for name in ("color_from", "color_to"):
            if getattr(self, name) not in SPACE_COLORS:
                raise ConfigError(f"{name}={getattr(self, name)!r}: use one of {SPACE_COLORS}")
        if len(self.short_description) > MAX_SHORT_DESCRIPTION:
            raise ConfigError(
                f"short_description has {len(self.short_description)} characters; the Hub "
                f"allows {MAX_SHORT_DESCRIPTION}"
            )


def gradio_pin(requirements: Path) -> str:
    """The pinned gradio version: the Space's sdk_version must be the same."""
    match = re.search(r"^gradio==([\w.]+)\s*$", requirements.read_text(), re.MULTILINE)
    if match is None:
        raise DataError(f"{requirements} pins no gradio version (gradio==X.Y.Z)")
    return match.group(1)


def front_matter(cfg: SpaceConfig, sdk_version: str) -> str:
    return (
        "---\n"
        f"title: {cfg.title}\n"
        f"emoji: {cfg.emoji}\n"
        f"colorFrom: {cfg.color_from}\n"
        f"colorTo: {cfg.color_to}\n"
        "sdk: gradio\n"
        f"sdk_version: {sdk_version}\n"
        f'python_version: "{cfg.python_version}"\n'
        "app_file: app.py\n"
        "pinned: false\n"
        f"license: {cfg.license}\n"
        f"short_description: {cfg.short_description}\n"
        "---\n"
    )


SPACE_README = """
# APRON Studio

A controllable music recommender you can listen to: your taste is a mix of 80 short
prototype clips (one per tag of era, genre, mood and instrumentation) shown as sliders;
move one and the recommendations follow. The songs are generated for this demo (General
MIDI renderings of a made-up catalog). This folder was assembled by
`python -m training.export_space` from the APRON Studio repository, where the model, the
training and evaluation commands and the documentation live.
"""


def is_binary(path: Path) -> bool:
    """What git (a NUL byte in the first 8,000 bytes) or the Hub (not UTF-8) calls binary."""
    data = path.read_bytes()
    if b"\0" in data[:8000]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*SKIP))


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts)


def lfs_patterns(folder: Path) -> list[str]:
    """One pattern per binary extension, and the exact path of any large text file."""
    patterns: set[str] = set()
    for p in _files(folder):
        rel = p.relative_to(folder).as_posix()
        if is_binary(p):
            patterns.add(f"*{p.suffix}" if p.suffix else rel)
        elif p.stat().st_size > MAX_PLAIN_BYTES:
            patterns.add(rel)
    return sorted(patterns)


def _is_lfs(rel: str, patterns: list[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch(rel, pat) or ("/" not in pat and fnmatch(name, pat)) for pat in patterns)


def export_space(
    output: Path,
    *,
    bundle: Path = ROOT / "assets" / "demo",
    cfg: SpaceConfig | None = None,
    force: bool = False,
) -> list[Path]:
    """Write the Space folder; returns its files. Refuses a non-empty `output` unless
    `force` (then it is replaced)."""
    cfg = cfg or SpaceConfig()
    bundle = Path(bundle)
    if not (bundle / "bundle.json").is_file():
        raise DataError(f"{bundle} is not a bundle (no bundle.json); train one or pass --bundle")
    prototypes = bundle.parent / "prototypes"
    if not (prototypes / "prototypes.json").is_file():
        raise DataError(f"no prototype clips next to the bundle: {prototypes} is missing")
    output = Path(output)
    if output.exists() and any(output.iterdir()):
        if not force:
            raise ConfigError(f"{output} is not empty; pass --force to replace it")
        shutil.rmtree(output)
    output.mkdir(parents=True, exist_ok=True)

    shutil.copy2(ROOT / "app.py", output / "app.py")
    _copy_tree(ROOT / "apron_core", output / "apron_core")
    _copy_tree(bundle, output / "assets" / "demo")
    _copy_tree(prototypes, output / "assets" / "prototypes")
    if (ROOT / "assets" / "encoders").is_dir():
        _copy_tree(ROOT / "assets" / "encoders", output / "assets" / "encoders")
    for name in ("requirements.txt", "packages.txt", "LICENSE"):
        shutil.copy2(ROOT / name, output / name)
    version = gradio_pin(ROOT / "requirements.txt")
    (output / "README.md").write_text(front_matter(cfg, version) + SPACE_README)
    rules = "\n".join(f"{pat} {LFS_ATTRS}" for pat in lfs_patterns(output))
    (output / ".gitattributes").write_text(
        "# Written by training.export_space: the Hub stores binary and large files in LFS.\n"
        + rules
        + "\n"
    )
    return _files(output)


def _read_front_matter(readme: Path) -> dict[str, str]:
    text = readme.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.DOTALL)
    if match is None:
        return {}
    fields = {}
    for line in match.group(1).splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip().strip('"')
    return fields


def check_space(folder: Path) -> list[str]:
    """Every way `folder` would be refused by the Hub or fail as a Space; [] when none."""
    folder = Path(folder)
    problems: list[str] = []
    extra = sorted(p.name for p in folder.iterdir() if p.name not in TOP_LEVEL | {".git"})
    if extra:
        problems.append(f"not needed by the app: {extra}")
    missing = sorted(TOP_LEVEL - {p.name for p in folder.iterdir()})
    if missing:
        return [*problems, f"missing: {missing}"]
    junk = [p for p in folder.rglob("*") if any(fnmatch(p.name, pat) for pat in SKIP)]
    if junk:
        problems.append(f"build leftovers: {[p.relative_to(folder).as_posix() for p in junk]}")

    fields = _read_front_matter(folder / "README.md")
    if not fields:
        problems.append("README.md has no front matter (--- … ---) at its top")
    pin = gradio_pin(folder / "requirements.txt")
    wanted = {"sdk": "gradio", "sdk_version": pin, "app_file": "app.py"}
    problems += [
        f"front matter {k}={fields.get(k)!r}, expected {v!r}"
        for k, v in wanted.items()
        if fields.get(k) != v
    ]
    problems += [
        f"front matter {k}={fields.get(k)!r}: use one of {SPACE_COLORS}"
        for k in ("colorFrom", "colorTo")
        if fields.get(k) not in SPACE_COLORS
    ]
    if len(fields.get("short_description", "")) > MAX_SHORT_DESCRIPTION:
        problems.append(f"short_description is over {MAX_SHORT_DESCRIPTION} characters")
    if not fields.get("title"):
        problems.append("front matter has no title")

    patterns = [
        line.split()[0]
        for line in (folder / ".gitattributes").read_text().splitlines()
        if "filter=lfs" in line and not line.startswith("#")
    ]
    for p in _files(folder):
        rel = p.relative_to(folder).as_posix()
        why = (
            "binary"
            if is_binary(p)
            else "over 10 MiB"
            if p.stat().st_size > MAX_PLAIN_BYTES
            else ""
        )
        if why and not _is_lfs(rel, patterns):
            problems.append(f"{rel} is {why} and not covered by an LFS rule in .gitattributes")

    reqs = (folder / "requirements.txt").read_text().lower()
    dev = [d for d in DEV_PACKAGES if re.search(rf"^{d}\b", reqs, re.MULTILINE)]
    if dev:
        problems.append(f"requirements.txt carries test-only packages: {dev}")
    if "-r " in reqs:
        problems.append("requirements.txt includes another file (-r): the Space cannot follow it")
    if "libfluidsynth3" not in (folder / "packages.txt").read_text().split():
        problems.append("packages.txt lacks libfluidsynth3 (songs cannot be rendered)")
    if not (folder / "assets" / "demo" / "bundle.json").is_file():
        problems.append("assets/demo holds no bundle (bundle.json)")
    clips = folder / "assets" / "prototypes"
    if not (clips / "prototypes.json").is_file() or len(list(clips.glob("*.ogg"))) != 80:
        problems.append("assets/prototypes must hold prototypes.json and the 80 clips")
    return problems


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m training.export_space",
        description="Assemble a ready-to-push Hugging Face Space folder (binaries in LFS).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--output", type=Path, required=True, help="the Space folder to write")
    p.add_argument("--bundle", type=Path, default=ROOT / "assets" / "demo",
                   help="bundle to ship (its prototype clips sit beside it)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace a non-empty --output")
    p.add_argument(
        "--check-only",
        action="store_true",
        help="only check an existing --output folder against the Space rules",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if not args.check_only:
            files = export_space(args.output, bundle=args.bundle, force=args.force)
            size = sum(p.stat().st_size for p in files)
            print(f"wrote {len(files)} files, {size / 1e6:.1f} MB, to {args.output}")
        elif not args.output.is_dir():
            raise DataError(f"{args.output} is not a folder")
        problems = check_space(args.output)
    except ApronError as e:
        print(f"export_space: {e}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"export_space: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"{args.output} passes the Space checks (LFS rules in .gitattributes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
