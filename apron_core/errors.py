"""One exception family for the whole project.

Messages name the offending value and say what to do, so a CLI can print them
as they are and the app can show them to a listener without a traceback.
"""

from __future__ import annotations


class ApronError(Exception):
    """Base class of every error this project raises on purpose."""


class AudioError(ApronError):
    """An audio file or signal cannot be used (missing, corrupt, silent, too long...)."""


class ConfigError(ApronError, ValueError):
    """An argument or configuration value is out of range or inconsistent."""


class DataError(ApronError):
    """Input data (interactions, catalog, split files) is malformed or inconsistent."""
