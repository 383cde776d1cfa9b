"""The QAP in Koopmans-Beckmann form, and one result type for every solver.

``f(p) = constant + Σ_ik A_ik B_p(i)p(k) + Σ_i L_i,p(i)`` over permutations ``p`` of
``range(n)`` (``p[i]`` = the node of B given to node i of A), minimised or maximised.

Every factorised loss ``l(x, y) = f1(x) + f2(y) - h1(x) h2(y)`` between two similarity
matrices (schnaus2025 Eq. 1: ``Σ_ijkl l(X_ik, Y_jl) P_ij P_kl``) is of this form: the sums of
``f1(X)`` and ``f2(Y)`` over all pairs do not depend on the permutation, so
``A = -h1(X)``, ``B = h2(Y)``, ``constant = Σ f1(X) + Σ f2(Y)``, minimise. See
:mod:`repalign.qap.losses`.

Anchors (known correspondences ``p[a] = b``, the seeds of seeded graph matching,
maniparambil2024 Eq. 5) are part of the problem. Fixing them leaves a QAP over the free nodes
with an extra linear term and constant (:meth:`QAPProblem.split_anchors`): for fixed nodes F
mapped to T and free rows U / free targets W,

    f(p) = [c + Σ_FF A B + Σ_F L]  +  Σ_UU A_ik B_p(i)p(k)
           + Σ_U [ (A_UF B_W,Tᵀ + A_FUᵀ B_T,W + L_UW) ]_i,p(i)

so every solver handles anchors through that one reduction, and its objective and bound carry
over exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .._result import Result
from .._validate import check_square_matrix

__all__ = ["QAPProblem", "QAPResult", "check_permutation", "check_anchors", "make_result", "is_integral",
           "strictly_better", "STOP_REASONS"]

#: What may stop a solver (:attr:`QAPResult.stopped_by`).
STOP_REASONS = ("optimal", "budget", "converged", "target", "time")


def check_permutation(perm, n: int, name: str = "permutation") -> np.ndarray:
    p = np.asarray(perm)
    if p.shape != (n,) or not np.issubdtype(p.dtype, np.integer) or not np.array_equal(np.sort(p), np.arange(n)):
        raise ValueError(f"{name}: expected a permutation of range({n}), got {np.asarray(perm)!r:.80}")
    return p.astype(np.int64)


def check_anchors(anchors, n: int, name: str = "anchors") -> np.ndarray | None:
    """Validate known pairs ``p[a] = b``.

    Parameters
    ----------
    anchors : array, shape (m, 2), 1-D list, or None
        A 1-D list means nodes matched to themselves.
    n : int
        Problem size.
    name : str
        The argument name used in errors.

    Returns
    -------
    ndarray, shape (m, 2), int64, or None
        None when there are no anchors.
    """
    if anchors is None:
        return None
    a = np.asarray(anchors)
    if a.size == 0:
        return None
    if a.ndim == 1:
        a = np.column_stack([a, a])
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"{name}: expected (m, 2) pairs or a 1-D list of node indices, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        if not np.array_equal(a, np.round(a)):
            raise ValueError(f"{name}: node indices must be integers")
    a = a.astype(np.int64)
    if a.min() < 0 or a.max() >= n:
        raise ValueError(f"{name}: indices must lie in [0, {n}), got range [{a.min()}, {a.max()}]")
    for col, side in ((0, "A"), (1, "B")):
        if len(np.unique(a[:, col])) != len(a):
            raise ValueError(f"{name}: duplicated {side}-side index; each node can be anchored once")
    return a


@dataclass(frozen=True, eq=False)
class QAPProblem:
    """``constant + Σ_ik A_ik B_p(i)p(k) + Σ_i linear[i, p(i)]`` over permutations ``p`` with
    ``p[a] = b`` for every anchor ``(a, b)``; ``maximize`` picks the sense.

    Parameters
    ----------
    A, B : ndarray, shape (n, n)
        Float matrices (flow / distance in QAPLIB; two kernels in matching).
    linear : ndarray, shape (n, n), optional
        ``linear[i, j]`` is added when node i of A goes to node j of B.
    constant : float
        Added to every objective.
    maximize : bool
        Maximise instead of minimise.
    name : str
        A label (the QAPLIB file name).
    anchors : array, shape (m, 2), optional
        Known pairs ``(a, b)`` (``p[a] = b`` is fixed); a 1-D list ``[a, ...]`` means ``(a, a)``.

    References
    ----------
    Koopmans & Beckmann, Econometrica 25 (1957), doi:10.2307/1907742; seeded matching:
    Fishkind et al., Pattern Recognition 87 (2019), doi:10.1016/j.patcog.2018.09.014.
    """

    A: np.ndarray = field(repr=False)
    B: np.ndarray = field(repr=False)
    linear: np.ndarray | None = field(default=None, repr=False)
    constant: float = 0.0
    maximize: bool = False
    name: str = ""
    anchors: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        A = check_square_matrix(self.A, "A")
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "B", check_square_matrix(self.B, "B", n=A.shape[0]))
        if self.linear is not None:
            object.__setattr__(self, "linear", check_square_matrix(self.linear, "linear", n=A.shape[0]))
        if not np.isfinite(self.constant):
            raise ValueError("constant: must be finite")
        if A.shape[0] < 1:
            raise ValueError("A: the problem needs at least one node")
        object.__setattr__(self, "anchors", check_anchors(self.anchors, A.shape[0]))

    @property
    def n(self) -> int:
        return self.A.shape[0]

    @property
    def n_free(self) -> int:
        """Nodes not fixed by an anchor."""
        return self.n - (0 if self.anchors is None else len(self.anchors))

    def split_anchors(self) -> tuple[QAPProblem, np.ndarray, np.ndarray]:
        """The equivalent problem over the free nodes (module docstring) and the free rows of A
        and free targets of B, both sorted: ``(sub, rows, cols)``. For every sub-permutation q,
        ``sub.objective(q) == self.objective(self.expand(q))`` (up to rounding)."""
        if self.anchors is None:
            idx = np.arange(self.n)
            return self, idx, idx
        F, T = self.anchors[:, 0], self.anchors[:, 1]
        rows, cols = self._free()
        A, B = self.A, self.B
        lin = A[np.ix_(rows, F)] @ B[np.ix_(cols, T)].T + A[np.ix_(F, rows)].T @ B[np.ix_(T, cols)]
        const = self.constant + float(np.einsum("ij,ij->", A[np.ix_(F, F)], B[np.ix_(T, T)]))
        if self.linear is not None:
            lin = lin + self.linear[np.ix_(rows, cols)]
            const += float(self.linear[F, T].sum())
        if len(rows) == 0:
            return None, rows, cols
        sub = QAPProblem(A[np.ix_(rows, rows)], B[np.ix_(cols, cols)], linear=lin, constant=const,
                         maximize=self.maximize, name=self.name)
        return sub, rows, cols

    def expand(self, sub_perm) -> np.ndarray:
        """Full permutation (n,) from a permutation of the free nodes (see :meth:`split_anchors`)."""
        if self.anchors is None:
            return check_permutation(sub_perm, self.n)
        rows, cols = self._free()
        q = check_permutation(sub_perm, len(rows), "sub-permutation")
        out = np.empty(self.n, dtype=np.int64)
        out[self.anchors[:, 0]] = self.anchors[:, 1]
        out[rows] = cols[q]
        return out

    def restrict(self, perm) -> np.ndarray:
        """The free-node part of a full permutation (or partial guess with -1 for unknown
        entries); anchored entries must agree with the anchors."""
        p = np.asarray(perm)
        if p.shape != (self.n,):
            raise ValueError(f"init: expected a permutation of length {self.n}, got shape {p.shape}")
        if self.anchors is None:
            return p
        F, T = self.anchors[:, 0], self.anchors[:, 1]
        known = p[F] >= 0
        if not np.array_equal(p[F][known], T[known]):
            raise ValueError("init: disagrees with the anchors (p[a] must equal b for every anchor (a, b))")
        rows, cols = self._free()
        pos = np.full(self.n, -1, dtype=np.int64)
        pos[cols] = np.arange(len(cols))
        sub = p[rows].astype(np.int64)
        out = np.where(sub >= 0, pos[np.maximum(sub, 0)], -1)
        if np.any((sub >= 0) & (out < 0)):
            raise ValueError("init: maps a free node onto an anchored target")
        return out

    def _free(self):
        F, T = self.anchors[:, 0], self.anchors[:, 1]
        return np.setdiff1d(np.arange(self.n), F), np.setdiff1d(np.arange(self.n), T)

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
        """Size, sense, constant, name, whether a linear term is present and the anchors."""
        return {"n": self.n, "maximize": self.maximize, "constant": self.constant, "name": self.name,
                "has_linear": self.linear is not None,
                "anchors": None if self.anchors is None else self.anchors.tolist()}


@dataclass(frozen=True)
class QAPResult(Result):
    """What every solver returns.

    Attributes
    ----------
    permutation : ndarray, shape (n,)
        ``permutation[i]`` = the node of B given to node i of A (anchors included).
    objective : float
        Recomputed from ``permutation`` in float64.
    bound : float or None
        A certified bound on the optimum over anchor-respecting permutations (lower when
        minimising, upper when maximising), or None when the solver gives none.
    gap : float or None
        ``|objective - bound| / max(|objective|, 1e-12)``.
    optimal : bool
        True only when the bound proves the permutation optimal.
    iterations, seconds, solver, maximize, restarts
        Work done, wall time, solver name, sense, number of (re)starts.
    stopped_by : str
        Why the solver stopped: ``"optimal"`` (the bound proves it, or exhaustive search),
        ``"budget"`` (its work budget: iterations, restarts, rounds), ``"converged"`` (a local
        search reached a local optimum, or the multi-start search found its best repeatedly),
        ``"target"`` (reached a given objective) or ``"time"`` (the optional ``time_limit`` bound:
        only then can the answer depend on the machine's speed and load).
    """

    kind: ClassVar[str] = "qap"

    permutation: np.ndarray = field(repr=False)
    objective: float
    bound: float | None
    gap: float | None
    optimal: bool
    iterations: int
    seconds: float
    solver: str
    maximize: bool = False
    restarts: int = 1
    stopped_by: str = "budget"

    @property
    def lower_bound(self) -> float | None:
        """The bound when minimising (None when maximising)."""
        return None if self.maximize else self.bound

    def to_dict(self) -> dict:
        """JSON-ready fields; ``upper_bound`` appears when maximising."""
        d = {"kind": self.kind, "solver": self.solver, "objective": self.objective, "lower_bound": self.lower_bound,
             "gap": self.gap, "optimal": self.optimal, "permutation": [int(x) for x in self.permutation],
             "iterations": self.iterations, "seconds": self.seconds, "maximize": self.maximize,
             "restarts": self.restarts, "stopped_by": self.stopped_by}
        if self.maximize:
            d["upper_bound"] = self.bound
        return d


def make_result(problem: QAPProblem, perm, *, bound=None, iterations: int = 0, seconds: float = 0.0,
                solver: str = "", atol: float = 0.0, restarts: int = 1, stopped_by: str = "budget") -> QAPResult:
    """Assemble a :class:`QAPResult`: recompute the objective, the gap, and declare the
    permutation optimal when the bound meets it (``atol`` absorbs rounding in the bound; for
    integer data a bound within 1 of an integer objective also proves optimality). A
    permutation that breaks an anchor is an error."""
    perm = check_permutation(perm, problem.n)
    if problem.anchors is not None and not np.array_equal(perm[problem.anchors[:, 0]], problem.anchors[:, 1]):
        raise ValueError("permutation: breaks an anchor (p[a] must equal b for every anchor (a, b))")
    obj = problem.objective(perm)
    gap = optimal = None
    if bound is not None:
        bound = float(bound)
        if is_integral(problem):  # integer objective values: the bound rounds toward them
            bound = float(np.floor(bound + 1e-6)) if problem.maximize else float(np.ceil(bound - 1e-6))
        gap = abs(obj - bound) / max(abs(obj), 1e-12)
        slack = (obj - bound) if not problem.maximize else (bound - obj)
        tol = atol + 1e-9 * max(1.0, abs(obj))
        optimal = bool(slack <= tol)
    if optimal:
        stopped_by = "optimal"
    if stopped_by not in STOP_REASONS:
        raise ValueError(f"stopped_by: expected one of {', '.join(STOP_REASONS)}, got {stopped_by!r}")
    return QAPResult(perm, obj, bound, gap, bool(optimal), int(iterations), float(seconds), solver, problem.maximize,
                     int(restarts), stopped_by)


def strictly_better(a: float, b: float, maximize: bool = False) -> bool:
    """Whether objective ``a`` beats ``b`` beyond rounding (relative 1e-9 of the larger of the
    two, at least 1e-9): how a true pairing that scores better than a solver's answer is told
    from one that ties it."""
    tol = 1e-9 * max(1.0, abs(a), abs(b))
    return bool(a > b + tol) if maximize else bool(a < b - tol)


def is_integral(problem: QAPProblem) -> bool:
    """Whether every objective value is an integer (integer matrices and constant)."""
    parts = [problem.A, problem.B] + ([problem.linear] if problem.linear is not None else [])
    return all(np.array_equal(x, np.round(x)) for x in parts) and float(problem.constant).is_integer()
