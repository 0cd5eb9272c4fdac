"""APRON Studio: hear the prototypes, see your taste as weights, move a slider, hear the
recommendations change. Hugging Face Spaces entry point; locally:

    python app.py                       # http://127.0.0.1:7860
    python app.py --bundle path/to/bundle --port 8000 --share
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import sys
from pathlib import Path

# Why each setting: reports/app_benchmarks.md, "Design choices".
# Spinning OpenMP threads slow torch down on a shared CPU (set before torch is imported).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Gradio's per-event analytics summary, every 100 events instead of after each one.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")

from apron_core.ui.audio import AudioConfig

M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
MALLOC_ARENAS = 2


def limit_malloc_arenas(n: int = MALLOC_ARENAS) -> None:
    """Fewer glibc malloc arenas for Gradio's ~40 worker threads: less memory kept after
    it was freed (reports/app_benchmarks.md). No-op off glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, n)


HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = AudioConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="app.py")
    p.add_argument(
        "--bundle",
        type=Path,
        default=Path("assets/demo"),
        help="bundle folder to serve (default: assets/demo)",
    )
    p.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        help="interface to listen on (default: $GRADIO_SERVER_NAME or 127.0.0.1; "
        "0.0.0.0 for every interface)",
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
        help="port (default: $GRADIO_SERVER_PORT or 7860)",
    )
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    p.add_argument(
        "--prototypes",
        type=Path,
        default=None,
        help="folder of the 80 prototype clips (default: next to the bundle)",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=defaults.cache_dir,
        help=f"where rendered songs are kept (default: {defaults.cache_dir})",
    )
    p.add_argument(
        "--cache-mb",
        type=float,
        default=defaults.cache_max_bytes / 1e6,
        help="size cap of the render cache in MB (default: %(default)g)",
    )
    p.add_argument("--device", default=None, help="torch device (default: CUDA if present)")
    args = p.parse_args(argv)
    if not 0 < args.port < 65536:
        p.error(f"--port {args.port} must be between 1 and 65535")
    if args.cache_mb <= 0:
        p.error(f"--cache-mb {args.cache_mb:g} must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    limit_malloc_arenas()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

    from apron_core.engine import Engine
    from apron_core.errors import ApronError
    from apron_core.ui import AppConfig, AppContext, create_app

    try:
        engine = Engine.load(args.bundle, device=args.device)
        config = AppConfig(
            bundle_dir=args.bundle,
            prototype_dir=args.prototypes,
            audio=AudioConfig(cache_dir=args.cache_dir, cache_max_bytes=int(args.cache_mb * 1e6)),
        )
        ctx = AppContext.build(engine, config)
    except ApronError as e:
        print(f"app.py: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. an unwritable --cache-dir
        print(f"app.py: cannot use {e.filename or 'a file'}: {e.strerror or e}", file=sys.stderr)
        return 2
    if ctx.prototype_dir is None:
        logging.warning("no prototype clips found next to %s: the ▶ buttons are off", args.bundle)
    if ctx.audio_note:
        logging.warning(ctx.audio_note)
    demo, options = create_app(ctx)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
