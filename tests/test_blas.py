"""repalign._blas: scipy's own BLAS pool is told apart from numpy's by where the wheels put them,
and limited to one thread only inside the context."""

import pytest
import scipy.linalg  # noqa: F401 - its BLAS loaded before the first count
from threadpoolctl import threadpool_info

from repalign._blas import _under, scipy_lapack_alone, separate_scipy_blas


@pytest.mark.parametrize(("path", "scipy", "numpy"), [
    ("/x/site-packages/scipy.libs/libscipy_openblas-6cdc3b4a.so", True, False),
    ("/x/site-packages/numpy.libs/libscipy_openblas64_-32a4b2a6.so", False, True),  # the name says scipy; the folder numpy
    ("/x/site-packages/scipy/.dylibs/libopenblas.0.dylib", True, False),  # macOS wheels
    ("/opt/conda/lib/libopenblas.so.0", False, False),  # one shared library: nothing to tell apart
])
def test_libraries_are_told_apart_by_their_folder(path, scipy, numpy):
    assert _under(path, "scipy") is scipy and _under(path, "numpy") is numpy


def _threads():
    return {d["filepath"]: d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"}


def test_scipy_alone_limits_only_scipy_and_restores():
    before = _threads()
    sel = separate_scipy_blas()
    with scipy_lapack_alone():
        inside = _threads()
    assert _threads() == before
    if sel is None:  # numpy and scipy share a library here: a no-op
        assert inside == before
        return
    mine = {c.filepath for c in sel.lib_controllers}
    assert mine and all(inside[f] == 1 for f in mine)
    assert all(inside[f] == before[f] for f in before if f not in mine)  # numpy's pool keeps its threads


def test_scipy_alone_when_not_enabled_is_a_no_op():
    before = _threads()
    with scipy_lapack_alone(False):
        assert _threads() == before
