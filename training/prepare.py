"""Prepare a generic source folder for training: features, filter, split, prototypes.

python -m training.prepare --source data/msd/source --output data/msd/prepared
python -m training.prepare --source data/world/source --output /tmp/world_again \\
    --min-song-listeners 20 --heldout-users 2500 --iterate    # the demo world's settings

The output folder is what `python -m training.train --data DIR` and
`python -m training.evaluate --data DIR` read. Defaults are Liang et al.'s MSD settings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from apron_core.errors import ApronError, ConfigError


def add_prepare_args(p: argparse.ArgumentParser) -> None:
    """The filter/split/prototype options, shared with training.prepare_msd."""
    from apron_core.prototypes import RULES
    from apron_core.sources.prepare import PrepareConfig

    d = PrepareConfig()
    g = p.add_argument_group("filter and split (Liang et al. 2018)")
    g.add_argument("--min-song-listeners", type=int, default=d.min_song_listeners)
    g.add_argument("--min-user-songs", type=int, default=d.min_user_songs)
    g.add_argument(
        "--iterate", action="store_true", help="repeat the filter until both thresholds hold"
    )
    g.add_argument(
        "--heldout-users",
        type=int,
        default=d.n_heldout_users,
        help="validation users, and as many test users",
    )
    g.add_argument("--split-seed", type=int, default=d.split_seed)
    g.add_argument("--heldout-prop", type=float, default=d.heldout_prop)
    g = p.add_argument_group("songs and prototypes")
    g.add_argument(
        "--encoder",
        default=None,
        help="librosa, mert, musicnn or musicnn+librosa, for audio (default: the embeddings' "
        "encoder or librosa; docs/encoders.md)",
    )
    g.add_argument("--rule", choices=RULES, default=d.prototype_rule, help="rule training uses")
    g.add_argument("--clip-s", type=float, default=d.clip_s, help="prototype clip length, s")
    g.add_argument(
        "--fallback",
        action="append",
        default=[],
        metavar="TAG=OTHER",
        help="prototype of TAG chosen among OTHER's songs when no song carries TAG (repeatable)",
    )
    g.add_argument(
        "--no-default-fallbacks",
        action="store_true",
        help="a tag without songs is an error unless --fallback names it",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def config_from_args(a: argparse.Namespace, **extra):
    from apron_core.sources.clips import DEFAULT_FALLBACKS
    from apron_core.sources.prepare import PrepareConfig

    fallbacks = {} if a.no_default_fallbacks else dict(DEFAULT_FALLBACKS)
    for pair in a.fallback:
        tag, sep, other = pair.partition("=")
        if not sep or not tag.strip() or not other.strip():
            raise ConfigError(f"--fallback {pair!r}: write TAG=OTHER, e.g. --fallback 2020s=2010s")
        fallbacks[tag.strip()] = other.strip()
    return PrepareConfig(
        min_song_listeners=a.min_song_listeners,
        min_user_songs=a.min_user_songs,
        iterate=a.iterate,
        n_heldout_users=a.heldout_users,
        split_seed=a.split_seed,
        heldout_prop=a.heldout_prop,
        encoder=a.encoder,
        prototype_rule=a.rule,
        clip_s=a.clip_s,
        fallbacks=fallbacks,
        **extra,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m training.prepare",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--source", type=Path, required=True, help="generic source folder")
    p.add_argument("--output", type=Path, default=None, help="prepared folder to write (needed)")
    p.add_argument(
        "--min-tag-weight",
        type=float,
        default=0.0,
        help="drop source tags below this weight (source weights are in (0, 1])",
    )
    add_prepare_args(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from apron_core.sources.prepare import prepare

        if args.output is None:
            raise ConfigError("--output is required (the prepared folder to write)")
        cfg = config_from_args(args, min_tag_weight=args.min_tag_weight)
        with one_blas_thread():
            prepare(args.source, args.output, cfg, progress=not args.quiet)
    except ApronError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print_next_step(args.output)
    return 0


def one_blas_thread():
    """A context with one BLAS thread: prepare's ~240 small logistic regressions (choosing
    prototypes) ran 50-100x slower with two spinning BLAS threads on a loaded 2-core
    machine. Torch's own threads (an encoder embedding audio) are left as they are."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def print_next_step(prepared: Path) -> None:
    """What to run on a prepared folder (both prepare commands end with it)."""
    print(f"prepared folder written to {prepared}; train on it with: "
          f"python -m training.train --data {prepared} --output BUNDLE_DIR")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
