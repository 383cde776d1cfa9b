"""QAPLIB .dat / .sln files: round trip, malformed files, both permutation conventions."""


import numpy as np
import pytest

from repalign.qap import (
    QAPProblem,
    read_qaplib,
    read_solution,
    write_qaplib,
    write_solution,
)

from .test_solvers import random_problem


def test_qaplib_round_trip(tmp_path):
    rng = np.random.default_rng(7)
    pr = random_problem(rng, 5, integer=True, symmetric=False)
    pr = QAPProblem(pr.A, pr.B)
    write_qaplib(pr, tmp_path / "x.dat")
    back = read_qaplib(tmp_path / "x.dat")
    assert np.array_equal(back.A, pr.A) and np.array_equal(back.B, pr.B) and back.name == "x"
    write_solution(tmp_path / "x.sln", [2, 0, 1, 4, 3], 17)
    sol = read_solution(tmp_path / "x.sln")
    assert sol.objective == 17 and np.array_equal(sol.permutation, [2, 0, 1, 4, 3])
    with pytest.raises(ValueError, match="already exists"):
        write_qaplib(pr, tmp_path / "x.dat")


@pytest.mark.parametrize("text,match", [
    ("3\n1 2 3\n", "expected 2 x 3x3 = 18 numbers"),
    ("2\n1 2 3 x\n1 2 3 4\n", "non-number 'x'"),
    ("abc\n", "first entry must be the size"),
    ("", "empty file"),
])
def test_malformed_qaplib(tmp_path, text, match):
    f = tmp_path / "bad.dat"
    f.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_qaplib(f)


def test_zero_based_solution_files_are_accepted(tmp_path):
    (tmp_path / "z.sln").write_text("3 10\n2 0 1\n")
    assert np.array_equal(read_solution(tmp_path / "z.sln").permutation, [2, 0, 1])
    (tmp_path / "o.sln").write_text("3 10\n3 1 2\n")
    assert np.array_equal(read_solution(tmp_path / "o.sln").permutation, [2, 0, 1])
