"""Whether this process is a fork of one that imported repalign.

numba's parallel kernels run on an OpenMP thread pool here (its ``omp`` threading layer), and a
forked child that enters a pool its parent already started hangs (GNU OpenMP is not fork-safe).
Code with a parallel kernel checks :func:`forked` and runs its serial twin in such a child.
"""

from __future__ import annotations

import os

__all__ = ["forked"]

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
