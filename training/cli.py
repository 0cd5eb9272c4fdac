"""The closing lines the training commands share: parse the arguments, run, and turn a
project error into one line on stderr and exit status 2 (no traceback for bad input)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from apron_core.errors import ApronError


def run_command(
    parse_args: Callable[[list[str] | None], argparse.Namespace],
    run: Callable[[argparse.Namespace], int],
    argv: list[str] | None = None,
) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except ApronError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
