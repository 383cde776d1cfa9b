"""Whether this process is a fork of one that imported repalign.

numba's parallel kernels run on an OpenMP thread pool here (its ``omp`` threading layer), and a
forked child that enters a pool its parent already started hangs (GNU OpenMP is not fork-safe).
Code with a parallel kernel checks :func:`forked` and runs its serial twin in such a child.
"""

from __future__ import annotations

import os

__all__ = ["forked", "kernel"]

_FORKED = False


def _mark() -> None:
    global _FORKED
    _FORKED = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_mark)


def forked() -> bool:
    """True in a process forked (``os.fork``, multiprocessing's ``fork`` start method) after
    repalign was imported."""
    return _FORKED


_SERIAL: dict = {}


def kernel(f):
    """``f``, a numba kernel compiled with ``parallel=True``, or in a forked child its serial twin
    (the same Python function compiled without ``parallel``: ``prange`` runs as ``range``; compiled
    there on first use, not cached, since numba's cache would hand back the parallel build).
    Every call of a parallel kernel in the package goes through this."""
    if not _FORKED:
        return f
    if f not in _SERIAL:
        from numba import njit  # noqa: PLC0415 - only in forked children

        _SERIAL[f] = njit(f.py_func)
    return _SERIAL[f]
