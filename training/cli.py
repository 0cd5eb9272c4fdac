"""What the command-line tools share: the parse → run → one-line error closing (exit
status 2, no traceback for bad input), the reading of ``--encoder-config`` pairs and the
markdown + JSON report pair the evaluation commands write."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from apron_core.errors import ApronError, ConfigError


def write_report(
    out: Path, name: str, markdown: str, data: object, *, default: Callable = float
) -> None:
    """The pair every evaluation command writes, OUT/NAME.md and OUT/NAME.json (``default``
    turns numpy values into JSON), then prints the markdown."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text(markdown)
    (out / f"{name}.json").write_text(json.dumps(data, indent=1, default=default))
    print(markdown)


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


def encoder_config(pairs: Sequence[str]) -> dict:
    """``--encoder-config KEY=VALUE`` pairs → config fields (values read as JSON when they
    parse, else kept as strings, e.g. a model folder)."""
    config = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--encoder-config {pair[:80]!r} must look like key=value")
        try:
            config[key] = json.loads(value)
        except json.JSONDecodeError:
            config[key] = value
    return config
