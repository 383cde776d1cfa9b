"""numpy's and scipy's BLAS thread pools, when they are two.

The numpy and scipy wheels each bring their own OpenBLAS (``numpy.libs/libscipy_openblas64_…``,
``scipy.libs/libscipy_openblas…``), each with its own thread pool, and an OpenBLAS pool's threads
keep spinning for a while after every call. Code that alternates numpy products and scipy LAPACK
calls on few cores therefore has each pool's threads compete with the other pool's spinners.
Measured on SPEC's cholesky route (XTD-10, M = 896 features, 2 cores, 15 alternating rounds):
0.29 s per call as is, 0.19 s with scipy's library single-threaded (n = 2,000); 0.44 vs 0.31 s
at n = 8,000; at M = 1,664 the same or slightly better (0.80 vs 0.81 s, 0.86 vs 0.92 s).

:func:`scipy_lapack_alone` runs scipy's own library single-threaded for a block of such calls,
and does nothing where numpy and scipy share one library (conda's MKL or OpenBLAS, a system
BLAS): there is no second pool to compete with.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import scipy.linalg  # noqa: F401 - its BLAS loaded, so that the controller sees it
from threadpoolctl import ThreadpoolController

__all__ = ["scipy_lapack_alone", "separate_scipy_blas"]


def _under(path: str, package: str) -> bool:
    """Whether a shared library sits in ``package``'s wheel (``package.libs/`` or ``package/…``)."""
    parts = Path(path).parent.parts[-3:]
    return any(p == package or p == f"{package}.libs" for p in parts)


@functools.lru_cache(maxsize=1)
def separate_scipy_blas():
    """A threadpoolctl selection of scipy's own BLAS libraries when numpy has a different one
    loaded, else None (cached: both are loaded once scipy.linalg is imported)."""
    ctl = ThreadpoolController()
    blas = [c for c in ctl.lib_controllers if c.user_api == "blas"]
    ours = [c.filepath for c in blas if _under(c.filepath, "scipy") and not _under(c.filepath, "numpy")]
    if not ours or len(ours) == len(blas):  # one library for both, or nothing to tell apart
        return None
    return ctl.select(filepath=ours)


def scipy_lapack_alone(enabled: bool = True):
    """Context: scipy's own BLAS/LAPACK single-threaded while it runs (numpy's products keep their
    threads), where numpy and scipy load different libraries; else, or with ``enabled`` false
    (callers pass their size rule), a no-op. For blocks of LAPACK calls of moderate size
    interleaved with numpy products (module docstring)."""
    sel = separate_scipy_blas() if enabled else None
    return contextlib.nullcontext() if sel is None else sel.limit(limits=1)
