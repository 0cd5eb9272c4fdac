"""APRON Studio: hear the prototypes, see your taste as weights, move a slider, hear the
recommendations change. Hugging Face Spaces entry point; locally:

    python app.py                       # http://127.0.0.1:7860
    python app.py --bundle path/to/bundle --port 8000 --share
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import gc
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

# Why each setting: reports/app_benchmarks.md, "Design choices".
# Spinning OpenMP threads slow torch down on a shared CPU (set before torch is imported).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Gradio's per-event analytics summary, every 100 events instead of after each one.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")

M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
MALLOC_ARENAS = 2


def limit_malloc_arenas(n: int = MALLOC_ARENAS) -> None:
    """Fewer glibc malloc arenas for Gradio's ~40 worker threads: less memory kept after
    it was freed (reports/app_benchmarks.md). No-op off glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, n)


def use_system_malloc() -> None:
    """Run this script again with PYTHONMALLOC=malloc unless an allocator was chosen.

    Why: each visitor's session is ~0.3 MB of small Python objects (Gradio's copy of the
    page config). Python's own allocator returns memory to the OS only in 1 MiB arenas
    that are entirely free, and a few long-lived objects made meanwhile pin most of them,
    so 1,000 abandoned sessions left ~370 MB behind after the janitor forgot them; with
    glibc's malloc (trimmed by the janitor) ~100 MB. reports/app_benchmarks.md has the
    figures; PYTHONMALLOC=pymalloc keeps Python's allocator."""
    if os.environ.get("PYTHONMALLOC"):
        return
    os.environ["PYTHONMALLOC"] = "malloc"
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # same flags, same args


HERE = Path(__file__).resolve().parent
log = logging.getLogger("apron_studio")
WARM_UP_DELAY_S = 5.0  # after the page is served: let the first visitors' page load first
WARMED_UP = "upload encoder warmed up"  # logged when done (benchmarks wait for it)
WARM_UP_SECONDS = 4.0  # of noise: musicnn needs one 3-s patch


def private_runtime_dir() -> Path:
    """A folder only this user can enter (0700, mkdtemp), removed at exit: renders,
    exports and (unless GRADIO_TEMP_DIR is set) Gradio's uploads go there, never under a
    fixed /tmp name that another local user could create first. Made before Gradio is
    imported, since Gradio reads GRADIO_TEMP_DIR at import."""
    root = Path(tempfile.mkdtemp(prefix="apron_studio_")).resolve()
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def warm_up_uploads_later(engine, demo) -> threading.Thread:
    """Once the page is served, import and warm up what only uploads need (librosa,
    scipy.signal, numba's cached kernels, musicnn's weights) on a low-priority background
    thread, so the first upload is not slow and the cold start does not pay for it."""

    def run() -> None:
        while not getattr(demo, "is_running", False):
            time.sleep(0.2)
        time.sleep(WARM_UP_DELAY_S)
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # this thread only
        try:
            import numpy as np

            encoder = engine.bundle.encoder
            start = time.perf_counter()
            rng = np.random.default_rng(0)
            noise = (0.1 * rng.standard_normal(int(WARM_UP_SECONDS * encoder.sr))).astype("f4")
            engine.encode_signal(noise)  # the encoder and the upload's tag heads
            engine.forget_recent()
            log.info("%s in %.1f s", WARMED_UP, time.perf_counter() - start)
        except Exception:  # a warm-up failure only makes the first upload slower
            log.exception("upload warm-up failed")

    thread = threading.Thread(target=run, name="apron-warm-up", daemon=True)
    thread.start()
    return thread


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from apron_core.ui.audio import AudioConfig
    from apron_core.ui.limits import Limits

    defaults, limits = AudioConfig(), Limits()
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
        default=None,
        help="where rendered songs are kept (default: a private folder of this process, "
        "removed at exit)",
    )
    p.add_argument(
        "--cache-mb",
        type=float,
        default=defaults.cache_max_bytes / 1e6,
        help="size cap of the render cache in MB (default: %(default)g)",
    )
    p.add_argument(
        "--session-ttl",
        type=float,
        default=limits.session_ttl_s,
        help="seconds after which an idle visitor's session is forgotten (default: %(default)g)",
    )
    p.add_argument(
        "--max-sessions",
        type=int,
        default=limits.max_sessions,
        help="sessions held at once, least recently used dropped first (default: %(default)d)",
    )
    p.add_argument("--device", default=None, help="torch device (default: CUDA if present)")
    args = p.parse_args(argv)
    if not 0 < args.port < 65536:
        p.error(f"--port {args.port} must be between 1 and 65535")
    if args.cache_mb <= 0:
        p.error(f"--cache-mb {args.cache_mb:g} must be positive")
    if not args.session_ttl > 0:
        p.error(f"--session-ttl {args.session_ttl:g} must be a positive number of seconds")
    if args.max_sessions < 1:
        p.error(f"--max-sessions {args.max_sessions} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    runtime = private_runtime_dir()
    uploads = None
    if not os.environ.get("GRADIO_TEMP_DIR"):  # Gradio's default is a fixed /tmp/gradio
        uploads = runtime / "uploads"
        uploads.mkdir(mode=0o700)
        os.environ["GRADIO_TEMP_DIR"] = str(uploads)
    args = parse_args(argv)  # imports Gradio: after GRADIO_TEMP_DIR is set
    limit_malloc_arenas()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

    from apron_core.engine import Engine
    from apron_core.errors import ApronError
    from apron_core.ui import AppConfig, AppContext, create_app
    from apron_core.ui.audio import AudioConfig
    from apron_core.ui.limits import Limits

    try:
        engine = Engine.load(args.bundle, device=args.device)
        config = AppConfig(
            bundle_dir=args.bundle,
            prototype_dir=args.prototypes,
            export_dir=runtime / "exports",
            upload_dir=uploads,  # pruned only when it is this process's own
            audio=AudioConfig(
                cache_dir=args.cache_dir or runtime / "renders",
                cache_max_bytes=int(args.cache_mb * 1e6),
            ),
            limits=Limits(session_ttl_s=args.session_ttl, max_sessions=args.max_sessions),
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
    # What is loaded by now (torch, Gradio, the bundle: ~360,000 objects) lives until exit:
    # out of the garbage collector's sight, a full collection no longer stalls every
    # request for ~0.3 s (reports/app_benchmarks.md)
    gc.collect()
    gc.freeze()
    warm_up_uploads_later(engine, demo)
    # SIGTERM (a Space stopping, `kill`) as Ctrl-C: Gradio closes the server and returns,
    # so the private folder is removed at exit (the default handler skips atexit)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, **options)
    return 0


if __name__ == "__main__":
    use_system_malloc()
    sys.exit(main())
