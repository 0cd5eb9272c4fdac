"""One decorator for every Gradio handler: project errors become a clear message in the
page, anything else is logged with a reference and shown without its traceback.

Gradio renders error and warning text as HTML, so every message is escaped here: a song
id or file name typed by a visitor must never become markup.
"""

from __future__ import annotations

import functools
import html
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

import gradio as gr

from apron_core.errors import ApronError, AudioError, ConfigError, DataError

log = logging.getLogger("apron_studio")

P = ParamSpec("P")
R = TypeVar("R")

_TITLES: tuple[tuple[type[ApronError], str], ...] = (
    (AudioError, "Audio problem"),
    (DataError, "Invalid input"),
    (ConfigError, "Invalid setting"),
    (ApronError, "Cannot do that"),
)
INTERNAL_MESSAGE = (
    "Something went wrong on our side (reference {ref}); it has been logged. "
    "Try again, or reset the profile."
)


def user_message(error: BaseException) -> str:
    """The text a visitor sees for a project error: its message, HTML-escaped."""
    return html.escape(str(error), quote=False)


def title_of(error: ApronError) -> str:
    return next(title for cls, title in _TITLES if isinstance(error, cls))


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a handler: ApronError → gr.Error with its message; gr.Error passes through
    (escaped by whoever raised it); any other exception → logged with a short reference,
    shown as a generic gr.Error. The server keeps serving in every case."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except ApronError as e:
            log.info("%s refused: %s", fn.__name__, e)
            raise gr.Error(user_message(e), title=title_of(e), print_exception=False) from None
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("unexpected error in %s (reference %s)", fn.__name__, ref)
            raise gr.Error(
                INTERNAL_MESSAGE.format(ref=ref), title="Internal error", print_exception=False
            ) from None

    return wrapper


def warn_all(notes: Iterable[str]) -> None:
    """Show each note as a yellow toast (printed as a Python warning outside a request)."""
    for note in notes:
        gr.Warning(html.escape(note, quote=False))
