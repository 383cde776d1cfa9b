"""One logger for the package: ``logging.getLogger("repalign")``, one clock.

The library never prints. Progress lines (:mod:`repalign._progress` in its line mode), the
experiments' running notes and one-off announcements go to this logger at INFO (notes a user
should act on at WARNING; detail at DEBUG). Each record is written as
``[  12.3 s] message``: seconds since the process started (``logging``'s own clock,
``record.relativeCreated``), the one clock of every line.

Where the application has configured logging (a handler on ``repalign`` or on the root logger)
records go there and nothing else is added. Otherwise the first record installs one stderr
handler on ``repalign`` (level INFO), so that ``progress=True`` and the experiments show what
they do with no set-up. The command line sets the level: ``--quiet`` WARNING, ``--verbose``
DEBUG, INFO otherwise.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["logger", "info", "warning", "debug", "set_level", "LEVELS"]

logger = logging.getLogger("repalign")
LEVELS = {"quiet": logging.WARNING, "normal": logging.INFO, "verbose": logging.DEBUG}


class _ClockFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"[{record.relativeCreated / 1000.0:7.1f} s] {record.getMessage()}"


class _StderrHandler(logging.StreamHandler):
    """Writes to the *current* ``sys.stderr`` (test runners and the CLI swap it)."""

    def __init__(self):
        super().__init__()
        self.setFormatter(_ClockFormatter())

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):  # StreamHandler.__init__ assigns it; the property always reads sys.stderr
        pass


_OWN: _StderrHandler | None = None


def _ensure_handler() -> None:
    """Install the package's stderr handler unless the application configured logging."""
    global _OWN
    if _OWN is not None:
        return
    if logger.handlers or logging.getLogger().handlers:
        return
    _OWN = _StderrHandler()
    logger.addHandler(_OWN)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


def set_level(level: str | int) -> None:
    """Set the package logger's level: ``"quiet"``, ``"normal"``, ``"verbose"`` or a
    ``logging`` level (the CLI maps ``--quiet`` / ``--verbose`` here)."""
    if isinstance(level, str):
        if level not in LEVELS:
            raise ValueError(f"level: expected one of {sorted(LEVELS)} or a logging level, got {level!r}")
        level = LEVELS[level]
    _ensure_handler()
    logger.setLevel(level)


def info(message: str) -> None:
    """Log ``message`` at INFO (progress, running notes)."""
    _ensure_handler()
    logger.info(message)


def warning(message: str) -> None:
    """Log ``message`` at WARNING (a note the user should act on)."""
    _ensure_handler()
    logger.warning(message)


def debug(message: str) -> None:
    """Log ``message`` at DEBUG (detail for ``--verbose``)."""
    _ensure_handler()
    logger.debug(message)
