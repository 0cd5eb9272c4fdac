"""Files the page may fetch: where they are, how their URL is written, and the check that
keeps every served path inside an allowed folder."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import plotly

STATIC_PREFIX = "gradio_api/file="  # relative: works under a proxy's sub-path too
# plotly.js of the installed plotly.py (4.x), so figures built for plotly.py render as such
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def inside(path: Path, folder: Path) -> bool:
    """True when `path` resolves (symlinks and '..' followed) to a file inside `folder`."""
    try:
        return Path(path).resolve().is_relative_to(Path(folder).resolve())
    except (OSError, RuntimeError):
        return False


def static_url(path: Path) -> str:
    """URL of a file inside a static folder, as the page requests it."""
    return STATIC_PREFIX + urllib.parse.quote(str(Path(path).resolve()))
