"""Shared by the command-line tests: two related embedding files, running a command, and the
one-line-error promise."""

import numpy as np
import pytest

from repalign.cli import main

from ..conftest import related_pair


@pytest.fixture
def pair_files(tmp_path, rng):
    X, Y = related_pair(rng, n=80)
    np.save(tmp_path / "a.npy", X)
    np.save(tmp_path / "b.npy", Y)
    return tmp_path / "a.npy", tmp_path / "b.npy"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ the one-line-error promise
def one_line_error(code, err, expect=None):
    assert code == 2, err
    assert err.startswith("repalign: error:") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    if expect is not None:
        assert expect in err, err
