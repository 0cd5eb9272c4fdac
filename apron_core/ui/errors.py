"""One decorator for every Gradio handler: project errors become a clear message in the
page, anything else is logged with a reference and shown without its traceback.

Gradio renders error and warning text as HTML, so every message is escaped here: a song
id or file name typed by a visitor must never become markup. No message, shown or
logged, quotes more than ~80 characters of what a visitor sent (project errors quote with
`checks.quote`; `tidy_gradio_errors` shortens Gradio's own input checks, which quote the
whole value and every choice).
"""

from __future__ import annotations

import functools
import html
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar

import gradio as gr
import gradio.queueing
import gradio.utils

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
MEMORY_MESSAGE = "The server ran out of memory for this request: try again with less."
MAX_MESSAGE_CHARS = 600  # a message is a few lines; project errors quote ≤ 80 characters
QUOTE_CHARS = 80


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` cut to `limit` characters (a safety net: messages are built short)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def user_message(error: BaseException) -> str:
    """The text a visitor sees for a project error: its message, HTML-escaped."""
    return html.escape(clip(str(error)), quote=False)


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
            log.info("%s refused: %s", fn.__name__, clip(str(e)))
            raise gr.Error(user_message(e), title=title_of(e), print_exception=False) from None
        except MemoryError:
            log.error("%s ran out of memory", fn.__name__)
            raise gr.Error(MEMORY_MESSAGE, title="Too large", print_exception=False) from None
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


# --------------------------------------------------------------------------- Gradio's own

# "Value: <repr of what was sent> (type: <class 'str'>) is not in the list of choices: [...]"
_NOT_A_CHOICE = re.compile(
    r"^Value: (?P<value>.*?)(?: \(type: <class '[\w.]+'>\))? is not in the list of choices: ",
    re.DOTALL,
)


def short_gradio_message(text: str) -> str:
    """Gradio's input-check message, short: the value quoted to ~80 characters, the list
    of choices left out; any other message clipped."""
    m = _NOT_A_CHOICE.match(text)
    if m is None:
        return clip(text)
    value = m["value"]
    if len(value) > QUOTE_CHARS:
        value = f"{value[: QUOTE_CHARS - 1]}… ({len(value):,} characters)"
    return html.escape(
        f"{value} is not one of the choices offered: pick one from the list", quote=False
    )


_original_payload = gradio.utils.error_payload


def _short_error_payload(error: BaseException | None, show_error: bool) -> dict[str, Any]:
    content = _original_payload(error, show_error)
    if isinstance(content.get("error"), str):
        content["error"] = short_gradio_message(content["error"])
    return content


def tidy_gradio_errors() -> None:
    """Route every error Gradio sends to a page or a client through `short_gradio_message`
    (idempotent). Its routes call `gradio.utils.error_payload` and its queue the name it
    imported; both are replaced (tests/ui/test_limits.py checks they still exist)."""
    gradio.utils.error_payload = _short_error_payload
    gradio.queueing.error_payload = _short_error_payload
