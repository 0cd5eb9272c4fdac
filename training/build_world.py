"""Build the default demo world (catalog, listeners, audio features, prepared data, clips).

python -m training.build_world                      # the shipped default world
python -m training.build_world --songs 300 --artists 40 --users 1500 --output /tmp/tiny
python -m training.build_world --encoder librosa --output data/world_librosa --no-export
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from apron_core.encoders import available_encoders
from apron_core.errors import ApronError
from apron_core.world.build import WorldConfig, build_world, rechoose_prototypes
from apron_core.world.catalog import CatalogConfig
from apron_core.world.listeners import ListenerConfig
from training.cli import encoder_config

ENCODERS = [e for e in available_encoders() if e != "mert"]  # MERT: hours per world on a CPU


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    d, c, u = WorldConfig(), CatalogConfig(), ListenerConfig()
    p = argparse.ArgumentParser(
        prog="python -m training.build_world",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--output", type=Path, default=Path("data/world"), help="world folder (a prepared folder)"
    )
    p.add_argument("--songs", type=int, default=c.n_songs)
    p.add_argument("--artists", type=int, default=c.n_artists)
    p.add_argument("--users", type=int, default=u.n_users)
    p.add_argument("--seed", type=int, default=c.seed, help="seeds catalog, listeners and split")
    p.add_argument(
        "--heldout-users",
        type=int,
        default=d.n_heldout_users,
        help="validation users (and as many test users)",
    )
    p.add_argument("--min-song-listeners", type=int, default=d.min_song_listeners)
    p.add_argument("--duration", type=float, default=c.song_duration_s, help="song length, s")
    p.add_argument(
        "--rule",
        choices=["most_listened", "purity_aware"],
        default=d.prototype_rule,
        help="prototype rule whose clips are exported",
    )
    p.add_argument(
        "--prototypes-dir",
        type=Path,
        default=Path("assets/prototypes"),
        help="where the 80 clips + prototypes.json go",
    )
    p.add_argument("--no-export", action="store_true", help="do not export prototype clips")
    p.add_argument("--soundfont", type=str, default=None, help="a GM .sf2 (default: TimGM6mb)")
    p.add_argument(
        "--only-prototypes",
        action="store_true",
        help="re-choose and re-export prototypes of an already built --output world",
    )
    p.add_argument(
        "--encoder",
        default=d.encoder,
        choices=ENCODERS,
        help="audio encoder of the world's features (docs/encoders.md)",
    )
    p.add_argument(
        "--encoder-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="encoder config field, repeatable (e.g. layer=pool for musicnn, "
        "musicnn_layer=pool for musicnn+librosa)",
    )
    p.add_argument(
        "--feature-cache",
        type=Path,
        default=Path("data/feature_cache"),
        help="features of rendered songs, by song spec and encoder: a rebuild renders only "
        "songs missing there",
    )
    p.add_argument("--workers", type=int, default=d.workers, help="render processes")
    return p.parse_args(argv)


def config_from_args(a: argparse.Namespace) -> WorldConfig:
    return WorldConfig(
        catalog=dataclasses.replace(
            CatalogConfig(),
            n_songs=a.songs,
            n_artists=a.artists,
            seed=a.seed,
            song_duration_s=a.duration,
        ),
        listeners=dataclasses.replace(ListenerConfig(), n_users=a.users, seed=a.seed),
        n_heldout_users=a.heldout_users,
        min_song_listeners=a.min_song_listeners,
        split_seed=WorldConfig().split_seed + a.seed,
        prototype_rule=a.rule,
        soundfont=a.soundfont,
        encoder=a.encoder,
        encoder_config=encoder_config(a.encoder_config),
        workers=a.workers,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = config_from_args(args)
        export_dir = None if args.no_export else args.prototypes_dir
        if args.only_prototypes:
            rechoose_prototypes(args.output, args.rule, export_dir)
            print(f"prototypes re-chosen; exported rule: {args.rule} → {export_dir}")
            return 0
        report = build_world(
            cfg, args.output, prototypes_dir=export_dir, feature_cache=args.feature_cache
        )
    except ApronError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(report["timings_s"], indent=1))
    print(
        f"world written to {args.output}; check it with: python -m training.world_report "
        f"--data {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
