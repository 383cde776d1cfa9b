"""QAPLIB instance files.

``NAME.dat``: ``n``, then the flow matrix A (n x n), then the distance matrix B (n x n),
whitespace separated; objective ``Σ_ij A_ij B_p(i)p(j)`` minimised. ``NAME.sln``: ``n
objective`` then a 1-based permutation. Some files put a linear matrix C after B; it is read
as the linear term.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._validate import warn
from ..io import atomic_write
from .problem import QAPProblem

__all__ = ["read_qaplib", "write_qaplib", "read_solution", "write_solution", "QAPLIBSolution", "check_reference"]


def _numbers(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror})") from None
    return text.split()


def _parse(tokens, path, what):
    try:
        return np.array([float(t) for t in tokens])
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t))
        raise ValueError(f"{path}: {what} contains a non-number {bad!r}") from None


def _is_number(t):
    try:
        float(t)
        return True
    except ValueError:
        return False


def read_qaplib(path, *, require_symmetric: bool = False) -> QAPProblem:
    """Read a QAPLIB ``.dat`` file.

    Parameters
    ----------
    path : str or Path
    require_symmetric : bool
        Reject instances whose matrices are not both symmetric.

    Returns
    -------
    QAPProblem
        Minimisation, named after the file; a linear matrix after B becomes the linear term.

    References
    ----------
    Burkard, Karisch & Rendl, "QAPLIB – A quadratic assignment problem library", J. Global
    Optim. 10 (1997), doi:10.1023/A:1008293323270.
    """
    path = Path(path)
    tok = _numbers(path)
    if not tok:
        raise ValueError(f"{path}: empty file; expected n followed by two n x n matrices")
    try:
        n = int(tok[0])
    except ValueError:
        raise ValueError(f"{path}: first entry must be the size n, got {tok[0]!r}") from None
    if n < 1:
        raise ValueError(f"{path}: size n must be >= 1, got {n}")
    body = tok[1:]
    if len(body) not in (2 * n * n, 3 * n * n):
        raise ValueError(f"{path}: expected 2 x {n}x{n} = {2 * n * n} numbers after n (or {3 * n * n} with a "
                         f"linear matrix), found {len(body)}")
    vals = _parse(body, path, "the matrices")
    if not np.isfinite(vals).all():
        raise ValueError(f"{path}: contains NaN or inf")
    A = vals[: n * n].reshape(n, n)
    B = vals[n * n: 2 * n * n].reshape(n, n)
    L = vals[2 * n * n:].reshape(n, n) if len(vals) == 3 * n * n else None
    if require_symmetric:
        for M, name in ((A, "flow matrix A"), (B, "distance matrix B")):
            if not np.array_equal(M, M.T):
                i, j = np.argwhere(M != M.T)[0]
                raise ValueError(f"{path}: {name} is not symmetric (entry [{i},{j}] = {M[i, j]:g} but "
                                 f"[{j},{i}] = {M[j, i]:g}); symmetry was required")
    return QAPProblem(A, B, linear=L, maximize=False, name=path.stem)


def _fmt(M):
    ints = np.array_equal(M, np.round(M))
    return "\n".join(" ".join(str(int(x)) if ints else repr(float(x)) for x in row) for row in M)


def write_qaplib(problem: QAPProblem, path, *, force: bool = False) -> Path:
    """Write a minimisation problem without constant as a ``.dat`` file.

    Parameters
    ----------
    problem : QAPProblem
    path : str or Path
    force : bool

    Returns
    -------
    Path
    """
    if problem.maximize or problem.constant != 0:
        raise ValueError("problem: QAPLIB files hold minimisation problems without a constant; negate the "
                         "matrices of a maximisation first")
    path = Path(path)
    parts = [str(problem.n), "", _fmt(problem.A), "", _fmt(problem.B)]
    if problem.linear is not None:
        parts += ["", _fmt(problem.linear)]
    with atomic_write(path, force) as tmp:
        Path(tmp).write_text("\n".join(parts) + "\n")
    return path


@dataclass(frozen=True)
class QAPLIBSolution:
    n: int
    objective: float
    permutation: np.ndarray  # 0-based

    def to_dict(self) -> dict:
        return {"n": self.n, "objective": self.objective, "permutation": self.permutation.tolist()}


def read_solution(path) -> QAPLIBSolution:
    """Read a ``.sln`` file (``n objective`` then a 1-based permutation) as 0-based.

    A file whose entries are exactly 0..n-1 is taken as already 0-based (seen in redistributed
    copies, e.g. tai40a.sln). The stated objective is not checked here: ``repalign qap`` checks
    it against the permutation (in both conventions) before solving.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    QAPLIBSolution
    """
    path = Path(path)
    tok = _numbers(path)
    if len(tok) < 2:
        raise ValueError(f"{path}: expected 'n objective' then n entries")
    vals = _parse(tok, path, "the solution")
    n = int(vals[0])
    if vals[0] != n or n < 1:
        raise ValueError(f"{path}: first entry must be a positive integer n, got {tok[0]!r}")
    perm = vals[2:]
    if len(perm) != n:
        raise ValueError(f"{path}: expected {n} permutation entries after the objective, found {len(perm)}")
    if not np.array_equal(perm, np.round(perm)):
        raise ValueError(f"{path}: permutation entries must be integers")
    p = perm.astype(int)
    if np.array_equal(np.sort(p), np.arange(1, n + 1)):
        p = p - 1
    elif not np.array_equal(np.sort(p), np.arange(n)):  # some distributed files are 0-based
        raise ValueError(f"{path}: the entries are not a permutation of 1..{n} (nor of 0..{n - 1})")
    return QAPLIBSolution(n, float(vals[1]), p)


def write_solution(path, permutation, objective: float, *, force: bool = False) -> Path:
    """Write a permutation as a QAPLIB ``.sln`` file (1-based).

    Parameters
    ----------
    path : str or Path
    permutation : array, shape (n,)
        0-based.
    objective : float
    force : bool

    Returns
    -------
    Path
    """
    path = Path(path)
    p = np.asarray(permutation, dtype=int) + 1
    obj = int(objective) if float(objective).is_integer() else objective
    with atomic_write(path, force) as tmp:
        Path(tmp).write_text(f"{len(p)} {obj}\n{' '.join(map(str, p))}\n")
    return path


def check_reference(problem: QAPProblem, sln, dat=None) -> dict:
    """Validate a ``.sln`` reference against ``problem`` before solving, and say what to compare to.

    Its permutation is read in the QAPLIB convention and, if that does not reproduce its stated
    objective, in the inverse one (some files use it). When neither reproduces the stated value
    the stated value is not trusted: a warning says so and the reference becomes the objective of
    the listed permutation (a value that is certainly reachable).

    Parameters
    ----------
    problem : QAPProblem
        The instance read from ``dat``.
    sln : str or Path
        The ``.sln`` file.
    dat : str or Path, optional
        The instance's file, named in error messages.

    Returns
    -------
    dict
        ``path``, ``objective`` (the value to compare to), ``permutation_convention``
        (``"as listed"``, ``"inverted"`` or ``"unverified"``) and, when unverified,
        ``stated_objective``.
    """
    sln = Path(sln)
    ref = read_solution(sln)
    if ref.n != problem.n:
        raise ValueError(f"{sln}: is a solution of size {ref.n} but {dat or 'the instance'} has n = {problem.n}")
    inverse = ref.permutation.argsort()
    values = {"as listed": problem.objective(ref.permutation), "inverted": problem.objective(inverse)}
    tol = 1e-9 * max(1.0, abs(ref.objective))
    for how, value in values.items():
        if abs(value - ref.objective) <= tol:
            return {"path": str(sln), "objective": ref.objective, "permutation_convention": how}
    best = min(values.values())
    warn(f"{sln}: states objective {ref.objective:.10g} but its permutation gives {values['as listed']:.10g} "
         f"(inverted: {values['inverted']:.10g}); comparing against {best:.10g}, the value it certainly reaches")
    return {"path": str(sln), "objective": best, "stated_objective": ref.objective,
            "permutation_convention": "unverified"}
