"""``--data DIR`` of the commands that read a prepared folder (the demo world is one), with
``--world`` kept for one release as a deprecated alias."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_DATA = Path("data/world")


def add_data_argument(p: argparse.ArgumentParser, what: str = "prepared folder") -> None:
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"{what}: a built demo world or the output of python -m training.prepare "
        f"(default: {DEFAULT_DATA})",
    )
    p.add_argument("--world", type=Path, default=None, help="deprecated alias of --data")


def resolve_data_argument(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fold ``--world`` into ``args.data`` (with a note on stderr) and apply the default."""
    if args.world is not None:
        if args.data is not None:
            p.error("give --data only; --world is its deprecated alias")
        print(
            "note: --world is deprecated and will be removed in the next release; use --data",
            file=sys.stderr,
        )
        args.data = args.world
    if args.data is None:
        args.data = DEFAULT_DATA
    del args.world
