"""Million Song Dataset → generic source → prepared folder, streaming the 48 M triplets.

python -m training.prepare_msd --msd-dir data/msd/raw --audio-dir data/msd/previews
python -m training.prepare_msd --msd-dir data/msd/raw --source-only      # stop at the source
python -m training.prepare_msd --check-tag-map my_map.json               # validate a mapping

--msd-dir holds train_triplets.txt, unique_tracks.txt and, when present, lastfm_tags.db,
tracks_per_year.txt, audio/ (previews named by track id) and embeddings/. Any of them can
be given by its own option instead. See docs/msd.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from apron_core.errors import ApronError, ConfigError
from training.prepare import add_prepare_args, config_from_args, one_blas_thread, print_next_step


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m training.prepare_msd",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = p.add_argument_group("MSD files")
    g.add_argument("--msd-dir", type=Path, default=None, help="folder with the MSD files")
    g.add_argument("--triplets", type=Path, default=None, help="train_triplets.txt")
    g.add_argument("--tracks", type=Path, default=None, help="unique_tracks.txt")
    g.add_argument("--tags-db", type=Path, default=None, help="lastfm_tags.db")
    g.add_argument("--years", type=Path, default=None, help="tracks_per_year.txt (optional)")
    g.add_argument("--audio-dir", type=Path, default=None, help="previews named by track id")
    g.add_argument(
        "--embeddings-dir", type=Path, default=None, help="precomputed embeddings (ids, features)"
    )
    g = p.add_argument_group("tags and audio")
    g.add_argument("--tag-map", type=Path, default=None, help="default: assets/lastfm_tag_map.json")
    g.add_argument(
        "--min-lastfm-weight",
        type=float,
        default=None,
        help="Last.fm tag weight (0-100) to keep; default: the map's min_weight",
    )
    g.add_argument(
        "--require-audio",
        action="store_true",
        help="drop songs without a preview or embedding while writing the source",
    )
    g.add_argument("--copy-audio", action="store_true", help="copy previews instead of symlinks")
    g.add_argument("--check-tag-map", type=Path, default=None, metavar="FILE",
                   help="only validate a tag-map file and print what it maps")  # fmt: skip
    g = p.add_argument_group("outputs")
    g.add_argument("--source", type=Path, default=Path("data/msd/source"), help="source folder")
    g.add_argument("--output", type=Path, default=Path("data/msd/prepared"), help="prepared folder")
    g.add_argument("--source-only", action="store_true", help="write the source, do not prepare")
    add_prepare_args(p)
    return p.parse_args(argv)


def check_tag_map(path: Path) -> int:
    from collections import Counter

    from apron_core.sources.lastfm_tags import load_tag_map
    from apron_core.tags import TAG_NAMES

    tag_map = load_tag_map(path)
    per_tag = Counter(t for targets in tag_map.spellings.values() for t in targets)
    empty = [t for t in TAG_NAMES if per_tag[t] == 0]
    print(
        f"{path}: valid; {len(tag_map.spellings)} spellings onto {len(TAG_NAMES) - len(empty)} "
        f"tags, {len(tag_map.ignored)} ignored, min_weight {tag_map.min_weight:g}"
    )
    if empty:
        print(f"tags with no listed spelling (decade rule only, or unmapped): {empty}")
    return 0


def files_from_args(a: argparse.Namespace):
    from apron_core.sources.msd import MsdFiles

    overrides = {
        "triplets": a.triplets,
        "tracks": a.tracks,
        "tags_db": a.tags_db,
        "years": a.years,
        "audio_dir": a.audio_dir,
        "embeddings_dir": a.embeddings_dir,
    }
    if a.msd_dir is not None:
        return MsdFiles.in_folder(a.msd_dir, **overrides)
    if a.triplets is None or a.tracks is None:
        raise ConfigError("give --msd-dir, or both --triplets and --tracks")
    return MsdFiles(**overrides)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.check_tag_map is not None:
            return check_tag_map(args.check_tag_map)
        from apron_core.sources.msd import MsdConfig, msd_to_source
        from apron_core.sources.prepare import prepare

        files = files_from_args(args)
        files.check()
        cfg = MsdConfig(
            tag_map=str(args.tag_map) if args.tag_map else None,
            min_tag_weight=args.min_lastfm_weight,
            require_audio=args.require_audio,
            link="copy" if args.copy_audio else "symlink",
        )
        prep_cfg = config_from_args(args)  # validate before the long part
        print(f"MSD → source {args.source}", flush=True)
        log = msd_to_source(files, args.source, cfg, progress=not args.quiet)
        print(log.table(), flush=True)
        if args.source_only:
            print(f"source written to {args.source}")
            return 0
        print(f"source → prepared {args.output}", flush=True)
        with one_blas_thread():
            prepare(args.source, args.output, prep_cfg, progress=not args.quiet)
    except ApronError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print_next_step(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
