"""Progress on long steps: a bar on stderr when it is a terminal, one line per step otherwise.

Library functions take ``progress=False`` by default and stay silent. With ``progress=True``
the mode decides what is shown: ``"auto"`` (default) is a tqdm bar when stderr is a terminal
and otherwise one line per step (``[  12.3 s] cka-linear: 200 permutations``, elapsed time since
the process started), so that logs of batch jobs show where the time went without carriage
returns. Lines go through the package logger (:mod:`repalign._log`: ``logging.getLogger
("repalign")`` at INFO, its clock), never ``print``. In that mode a long step also reports its count every :data:`HEARTBEAT_S` seconds (and
that it is still running when nothing moved), so a log never stays silent for long; lines are
flushed as they are written. The CLI sets ``"off"`` for ``--quiet``.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time

from . import _log

__all__ = ["set_mode", "get_mode", "progress_bar", "track", "step", "MODES", "announcing"]

MODES = ("auto", "bar", "lines", "off")
_MODE = "auto"
_ANNOUNCE = False
#: in the "lines" mode a long step writes a line at least this often (seconds)
HEARTBEAT_S = 10.0


def set_mode(mode: str, announce: bool = False) -> None:
    """Choose how progress is shown when a caller asks for it (see module docstring).
    ``announce``: also report one-off slow steps nobody asked about (a first numba compile);
    the CLI turns it on, the library leaves it off."""
    global _MODE, _ANNOUNCE
    if mode not in MODES:
        raise ValueError(f"progress mode: expected one of {MODES}, got {mode!r}")
    _MODE = mode
    _ANNOUNCE = announce and mode != "off"


def announcing() -> bool:
    """Whether one-off slow steps are reported (see :func:`set_mode`)."""
    return _ANNOUNCE


def get_mode() -> str:
    """The effective mode: ``"bar"``, ``"lines"`` or ``"off"``."""
    if _MODE != "auto":
        return _MODE
    return "bar" if sys.stderr.isatty() else "lines"


def _line(desc: str) -> None:
    _log.info(desc)


class _Bar:
    """One long step: ``update(k)`` / ``set(value, **postfix)``; a context manager."""

    def __init__(self, total, desc: str, unit: str, enabled: bool):
        self.mode = get_mode() if enabled else "off"
        self.bar = None
        self.desc, self.total, self.unit, self.n = desc, total, unit, 0
        self.start = self.last = time.perf_counter()
        self._stop = None
        if self.mode == "bar":
            from tqdm.auto import tqdm  # 50 ms to import: only when a bar is drawn

            self.bar = tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr)
        elif self.mode == "lines":
            _line(f"{desc}" + (f": {total:g} {unit}" if total is not None and unit != "s" else ""))
            self._stop = threading.Event()
            threading.Thread(target=self._heartbeat, name="repalign-progress", daemon=True).start()

    def _count(self) -> str:
        if self.total is None or self.unit == "s":
            return ""
        return f"{self.n:g}/{self.total:g} {self.unit}, "

    def _heartbeat(self) -> None:
        """Lines mode: say that a step is still running when nothing was written for a while."""
        while not self._stop.wait(HEARTBEAT_S / 4):
            now = time.perf_counter()
            if now - self.last >= HEARTBEAT_S:
                self.last = now
                _line(f"{self.desc}: still running ({self._count()}{now - self.start:.0f} s)")

    def update(self, k: float = 1) -> None:
        self.n += k
        if self.bar is not None:
            self.bar.update(k)
        elif self.mode == "lines":
            now = time.perf_counter()
            if now - self.last >= HEARTBEAT_S:
                self.last = now
                _line(f"{self.desc}: {self._count()}{now - self.start:.0f} s")

    def set(self, value: float, **postfix) -> None:
        self.n = value
        if self.bar is not None:
            self.bar.n = value
            if postfix:
                self.bar.set_postfix(**postfix)
            else:
                self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self._stop is not None:
            self._stop.set()
            self._stop = None
            took = time.perf_counter() - self.start
            if took >= HEARTBEAT_S:
                _line(f"{self.desc}: done ({took:.0f} s)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def progress_bar(total=None, desc: str = "", unit: str = "it", enabled: bool = True) -> _Bar:
    """A progress handle for one step of ``total`` units (nothing shown when not ``enabled``)."""
    return _Bar(total, desc, unit, enabled)


def track(iterable, desc: str, total: int | None = None, enabled: bool = True, unit: str = "it"):
    """Iterate ``iterable`` with progress (see module docstring)."""
    if not enabled or get_mode() == "off":
        yield from iterable
        return
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    with _Bar(total, desc, unit, True) as bar:
        for item in iterable:
            yield item
            bar.update(1)


@contextlib.contextmanager
def step(desc: str, enabled: bool = True):
    """A step without a count: one line (or a status bar) when it starts."""
    with _Bar(None, desc, "", enabled):
        yield
