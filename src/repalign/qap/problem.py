"""The QAP in Koopmans-Beckmann form, and one result type for every solver.

``f(p) = constant + Σ_ik A_ik B_p(i)p(k) + Σ_i L_i,p(i)`` over permutations ``p`` of
``range(n)`` (``p[i]`` = the node of B given to node i of A), minimised or maximised.

Every factorised loss ``l(x, y) = f1(x) + f2(y) - h1(x) h2(y)`` between two similarity
matrices (schnaus2025 Eq. 1: ``Σ_ijkl l(X_ik, Y_jl) P_ij P_kl``) is of this form: the sums of
``f1(X)`` and ``f2(Y)`` over all pairs do not depend on the permutation, so
``A = -h1(X)``, ``B = h2(Y)``, ``constant = Σ f1(X) + Σ f2(Y)``, minimise. See
:mod:`repalign.qap.losses`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["QAPProblem", "QAPResult", "check_permutation"]


def _square(M, name, n=None):
    try:
        M = np.asarray(M, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a numeric matrix") from None
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"{name}: expected a square (n, n) matrix, got shape {M.shape}")
    if n is not None and M.shape[0] != n:
        raise ValueError(f"{name}: expected shape ({n}, {n}) like A, got {M.shape}; both matrices need the same n")
    if not np.isfinite(M).all():
        raise ValueError(f"{name}: contains NaN or inf; clean or impute it first")
    return np.ascontiguousarray(M)


def check_permutation(perm, n: int, name: str = "permutation") -> np.ndarray:
    p = np.asarray(perm)
    if p.shape != (n,) or not np.issubdtype(p.dtype, np.integer) or not np.array_equal(np.sort(p), np.arange(n)):
        raise ValueError(f"{name}: expected a permutation of range({n}), got {np.asarray(perm)!r:.80}")
    return p.astype(np.int64)


@dataclass(frozen=True, eq=False)
class QAPProblem:
    """``constant + Σ_ik A_ik B_p(i)p(k) + Σ_i linear[i, p(i)]``; ``maximize`` picks the sense.

    A, B: (n, n) float; ``linear``: (n, n) or None; ``name``: a label (QAPLIB file name).
    """

    A: np.ndarray = field(repr=False)
    B: np.ndarray = field(repr=False)
    linear: np.ndarray | None = field(default=None, repr=False)
    constant: float = 0.0
    maximize: bool = False
    name: str = ""

    def __post_init__(self):
        A = _square(self.A, "A")
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "B", _square(self.B, "B", A.shape[0]))
        if self.linear is not None:
            object.__setattr__(self, "linear", _square(self.linear, "linear", A.shape[0]))
        if not np.isfinite(self.constant):
            raise ValueError("constant: must be finite")
        if A.shape[0] < 1:
            raise ValueError("A: the problem needs at least one node")

    @property
    def n(self) -> int:
        return self.A.shape[0]

    def objective(self, perm) -> float:
        """``f(perm)`` in float64."""
        p = check_permutation(perm, self.n)
        val = self.constant + float(np.einsum("ij,ij->", self.A, self.B.take(p, 0).take(p, 1)))
        if self.linear is not None:
            val += float(self.linear[np.arange(self.n), p].sum())
        return val

    def minimization_form(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """``(A, B, L, c)`` of the equivalent minimisation (signs flipped when maximising);
        ``L`` is a zero matrix when there is no linear term."""
        s = -1.0 if self.maximize else 1.0
        L = np.zeros_like(self.A) if self.linear is None else s * self.linear
        return s * self.A, self.B, L, s * self.constant

    def is_symmetric(self) -> bool:
        return bool(np.array_equal(self.A, self.A.T) and np.array_equal(self.B, self.B.T))

    def better(self, a: float, b: float) -> bool:
        """Whether objective ``a`` is strictly better than ``b``."""
        return a > b if self.maximize else a < b

    def to_dict(self) -> dict:
        return {"n": self.n, "maximize": self.maximize, "constant": self.constant, "name": self.name,
                "has_linear": self.linear is not None}


@dataclass(frozen=True)
class QAPResult:
    """What every solver returns.

    ``objective`` is recomputed from ``permutation``. ``bound`` is a certified bound on the
    optimum (a lower bound when minimising, an upper bound when maximising) or None when the
    solver gives none. ``gap = |objective - bound| / max(|objective|, 1e-12)``; ``optimal``
    is True only when the bound proves the permutation optimal.
    """

    permutation: np.ndarray = field(repr=False)
    objective: float
    bound: float | None
    gap: float | None
    optimal: bool
    iterations: int
    seconds: float
    solver: str
    maximize: bool = False

    @property
    def lower_bound(self) -> float | None:
        return None if self.maximize else self.bound

    def to_dict(self) -> dict:
        d = {"solver": self.solver, "objective": self.objective, "lower_bound": self.lower_bound,
             "gap": self.gap, "optimal": self.optimal, "permutation": [int(x) for x in self.permutation],
             "iterations": self.iterations, "seconds": self.seconds, "maximize": self.maximize}
        if self.maximize:
            d["upper_bound"] = self.bound
        return d


def make_result(problem: QAPProblem, perm, *, bound=None, iterations: int = 0, seconds: float = 0.0,
                solver: str = "", atol: float = 0.0) -> QAPResult:
    """Assemble a :class:`QAPResult`: recompute the objective, the gap, and declare the
    permutation optimal when the bound meets it (``atol`` absorbs rounding in the bound; for
    integer data a bound within 1 of an integer objective also proves optimality)."""
    perm = check_permutation(perm, problem.n)
    obj = problem.objective(perm)
    gap = optimal = None
    if bound is not None:
        bound = float(bound)
        if _integral(problem):  # integer objective values: the bound rounds toward them
            bound = float(np.floor(bound + 1e-6)) if problem.maximize else float(np.ceil(bound - 1e-6))
        gap = abs(obj - bound) / max(abs(obj), 1e-12)
        slack = (obj - bound) if not problem.maximize else (bound - obj)
        tol = atol + 1e-9 * max(1.0, abs(obj))
        optimal = bool(slack <= tol)
    return QAPResult(perm, obj, bound, gap, bool(optimal), int(iterations), float(seconds), solver, problem.maximize)


def _integral(problem: QAPProblem) -> bool:
    parts = [problem.A, problem.B] + ([problem.linear] if problem.linear is not None else [])
    return all(np.array_equal(x, np.round(x)) for x in parts) and float(problem.constant).is_integer()
