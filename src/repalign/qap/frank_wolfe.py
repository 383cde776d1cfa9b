"""Fast Approximate QAP (Vogelstein et al. 2015) with anchors (seeds, Fishkind et al. 2019).

Problem (maniparambil2024 Eq. 4-5): over permutations ``p`` of ``range(n)`` with
``p[a] = b`` for the anchor pairs, optimise ``f(p) = Σ_ij A_ij B_p(i)p(j) = tr(A P B Pᵀ)``.

Anchors are removed by :meth:`QAPProblem.split_anchors`: what is left is
``f = const + ⟨C, X⟩ + tr(A22 X B22ᵀ Xᵀ)`` over the free block ``X`` with
``C = A21 B21ᵀ + A12ᵀ B12`` (+ any linear term). Frank-Wolfe on the doubly stochastic
relaxation: the direction is the linear assignment of the gradient ``C + A22 X B22ᵀ + A22ᵀ X
B22``; the step is the exact minimiser of the quadratic along it. Same iterates as
``scipy.optimize.quadratic_assignment(method="faq")`` for the same start, but each iteration
costs one matrix chain: along ``X + t R`` the gradient changes by ``t (A22 R B22ᵀ + A22ᵀ R
B22)`` and the curvature is ``⟨A22 R B22ᵀ, R⟩``, so the chain ``A22 R B22ᵀ`` serves both (and
for symmetric inputs it is the whole update).

Every entry point returns a :class:`repalign.qap.QAPResult`.

References
----------
Vogelstein et al., "Fast approximate quadratic programming for graph matching", PLoS ONE 10
(2015), doi:10.1371/journal.pone.0121002. Fishkind et al., "Seeded graph matching", Pattern
Recognition 87 (2019), doi:10.1016/j.patcog.2018.09.014.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
from scipy.optimize import linear_sum_assignment
from threadpoolctl import threadpool_limits

from .._validate import check_positive_int
from ..assignment import solve
from ..distributed import map_tasks
from . import _jit
from .problem import QAPProblem, QAPResult, make_result

__all__ = ["FAQEngine", "faq", "faq_solver", "seeded_qap", "qap_objective", "doubly_stochastic", "FAQ_INITS", "FAQ_LAPS",
           "faq_lap"]

FAQ_INITS = ("barycenter", "randomized")


def qap_objective(A: np.ndarray, B: np.ndarray, perm: np.ndarray) -> float:
    """``Σ_ij A_ij B_perm(i)perm(j)`` for (n, n) matrices and a permutation (n,)."""
    return float(np.einsum("ij,ij->", A, B[np.ix_(perm, perm)]))


def doubly_stochastic(M: np.ndarray, tol: float = 1e-3, max_iter: int = 1000, dtype=float) -> np.ndarray:
    """Sinkhorn balancing of a positive (k, k) matrix to (approximately) doubly stochastic."""
    P = np.array(M, dtype=dtype)
    for _ in range(max_iter):
        P /= P.sum(axis=0, keepdims=True)
        P /= P.sum(axis=1, keepdims=True)
        if np.abs(P.sum(axis=0) - 1).max() < tol:
            break
    return P


FAQ_LAPS = ("auto", "scipy", "lapjv")


def _lapjv_lsa(cost, maximize=False):
    """repalign's compiled Jonker–Volgenant with ``linear_sum_assignment``'s signature."""
    cols = solve(cost, maximize=maximize, backend="lapjv")[0]
    return np.arange(len(cols)), cols


def faq_lap(lap: str, precision: str):
    """The assignment function FAQ's Frank-Wolfe direction uses.

    ``auto``: scipy's ``linear_sum_assignment`` for float64 chains (the iterates, ties
    included, are then scipy's ``quadratic_assignment``'s) and repalign's ``lapjv`` for float32
    chains, the fast path (``benchmarks/bench_qap_protocol.py`` measures both on the seeded
    XTD-10 instance). It can return another optimal vertex than scipy where the gradient has
    ties, and it is slower than scipy on rank-one gradients.

    Parameters
    ----------
    lap : {"auto", "scipy", "lapjv"}
    precision : {"float64", "float32"}

    Returns
    -------
    callable
        ``f(cost, maximize) -> (rows, cols)``.
    """
    if lap not in FAQ_LAPS:
        raise ValueError(f"lap: expected one of {', '.join(FAQ_LAPS)}, got {lap!r}")
    if lap == "auto":
        lap = "lapjv" if precision == "float32" else "scipy"
    return _lapjv_lsa if lap == "lapjv" else linear_sum_assignment


class FAQEngine:
    """FAQ on an anchor-free problem ``const + ⟨C, X⟩ + ⟨A, X B Xᵀ⟩`` (k nodes) prepared once;
    :meth:`run` does one FAQ from a start, restarts reuse everything but the start.

    ``precision="float32"`` does the matrix chains in single precision (faster GEMMs);
    objectives are always recomputed in float64 from the assignment.
    """

    def __init__(self, problem: QAPProblem, *, precision: str = "float64"):
        if precision not in ("float64", "float32"):
            raise ValueError(f"precision: expected 'float64' or 'float32', got {precision!r}")
        if problem.anchors is not None:
            raise ValueError("problem: FAQEngine takes an anchor-free problem; use problem.split_anchors()")
        self.problem = problem
        self.k = k = problem.n
        dt = np.float32 if precision == "float32" else np.float64
        self.A = np.ascontiguousarray(problem.A, dtype=dt)
        self.B = np.ascontiguousarray(problem.B, dtype=dt)
        self.symmetric = problem.is_symmetric()
        self.AT = self.A if self.symmetric else np.ascontiguousarray(self.A.T)
        self.BT = self.B if self.symmetric else np.ascontiguousarray(self.B.T)
        self.C = np.zeros((k, k)) if problem.linear is None else problem.linear
        self.dtype = dt

    def objective(self, cols) -> float:
        """Objective (float64) of the assignment ``cols`` (node i -> cols[i])."""
        return self.problem.objective(cols)

    # The FAQ state is ``M = A P Bᵀ`` (and ``M2 = Aᵀ P B`` when asymmetric); the gradient is
    # ``C + M + M2``. Along ``P + t (Q - P)`` the state moves linearly, and for a permutation
    # ``Q`` (rows ``cols``) ``A Q Bᵀ = A @ Bᵀ[cols]``: one GEMM per iteration instead of two,
    # and none at all for the rank-one barycenter.
    def _state(self, P):
        P = P.astype(self.dtype, copy=False)
        M = np.asarray(self.A @ P @ self.BT, dtype=float)
        return M, (M if self.symmetric else np.asarray(self.AT @ P @ self.B, dtype=float))

    def _state_perm(self, cols):
        M = np.asarray(self.A @ self.BT[cols], dtype=float)
        return M, (M if self.symmetric else np.asarray(self.AT @ self.B[cols], dtype=float))

    def _state_barycenter(self):
        k = self.k
        M = np.outer(self.A.sum(1, dtype=float), self.B.sum(1, dtype=float)) / k
        if self.symmetric:
            return M, M
        return M, np.outer(self.A.sum(0, dtype=float), self.B.sum(0, dtype=float)) / k

    def start(self, init, rng):
        """The start ``P`` and its state ``(M, M2)``: ``"barycenter"``, ``"randomized"`` or a
        (k, k) doubly stochastic matrix."""
        k = self.k
        if isinstance(init, str):
            if init == "barycenter":
                return np.full((k, k), 1.0 / k), self._state_barycenter()
            if init == "randomized":
                # scipy's start: (J + K) / 2 with K a Sinkhorn-balanced uniform matrix
                K = doubly_stochastic(rng.uniform(size=(k, k)))
                MK, MK2 = self._state(K)
                MJ, MJ2 = self._state_barycenter()
                return (np.full((k, k), 1.0 / k) + K) / 2, ((MJ + MK) / 2, (MJ2 + MK2) / 2)
            raise ValueError(f"init: expected one of {FAQ_INITS}, a permutation or a matrix, got {init!r}")
        P = np.array(init, dtype=float)
        if P.shape != (k, k):
            raise ValueError(f"init: expected shape ({k}, {k}) over the free nodes, got {P.shape}")
        if not (np.isfinite(P).all() and (P >= 0).all()):
            raise ValueError("init: must be a non-negative finite (doubly stochastic) matrix")
        cols = np.argmax(P, axis=1)
        if np.array_equal(P, np.eye(k)[cols]) and len(np.unique(cols)) == k:
            return P, self._state_perm(cols)
        return P, self._state(P)

    def run(self, init="barycenter", *, maximize: bool = False, tol: float = 0.03, max_iter: int = 30, rng=None,
            lap=linear_sum_assignment) -> tuple[np.ndarray, float, int]:
        """One FAQ run: ``(cols, objective, iterations)``."""
        if max_iter < 1:
            raise ValueError(f"max_iter: must be >= 1, got {max_iter}")
        if tol <= 0:
            raise ValueError(f"tol: must be > 0, got {tol}")
        k = self.k
        P, (M, M2) = self.start(init, np.random.default_rng(rng))
        M = M.copy()  # updated in place below
        M2 = M if self.symmetric else M2.copy()
        sign = -1.0 if maximize else 1.0
        rows = np.arange(k)
        vertex = None  # the assignment P equals, once a full step made P a permutation
        it = 0
        for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported after the loop
            grad = self.C + M + M2
            _, cols = lap(grad, maximize=maximize)
            if vertex is not None and np.array_equal(cols, vertex):
                break  # Q = P: the step is zero (scipy counts this iteration too)
            R = -P
            R[rows, cols] += 1.0  # R = Q - P
            MQ, MQ2 = self._state_perm(cols)
            dM = MQ - M
            a = float(np.einsum("ij,ij->", dM, R))  # curvature along R: <A R Bᵀ, R>
            b = float(np.einsum("ij,ij->", grad, R))  # slope at P
            if a * sign > 0 and 0.0 <= -b / (2 * a) <= 1.0:
                t = -b / (2 * a)
            else:  # the better end point (ties keep P, as scipy does)
                t = 1.0 if (a + b) * sign < 0 else 0.0
            if t == 1.0:
                P, M, vertex = R + P, MQ, cols
                M2 = M if self.symmetric else MQ2
            elif t != 0.0:
                P += t * R
                M += t * dM
                M2 = M if self.symmetric else M2 + t * (MQ2 - M2)
                vertex = None
            if t * np.linalg.norm(R) / np.sqrt(k) < tol:
                break
        col = vertex if vertex is not None else linear_sum_assignment(P, maximize=True)[1]
        return np.asarray(col), self.objective(col), it

    def polish(self, cols, *, maximize: bool = False, max_moves: int | None = None) -> tuple[np.ndarray, int]:
        """2-opt from assignment ``cols``: best-improvement pairwise exchanges until none
        improves. Returns ``(cols, moves)``."""
        _jit.ensure_compiled()
        s = -1.0 if maximize else 1.0
        p = np.array(cols, dtype=np.int64)
        A = np.ascontiguousarray(s * self.problem.A)
        B = np.ascontiguousarray(self.problem.B, dtype=np.float64)
        # the starting state G = A Bpᵀ + Aᵀ Bp by BLAS (0.06 s at n = 1,000 against 0.25 s for
        # the kernels' in-order loops): the polish starts from FAQ's answer, itself made of BLAS
        # products, so this adds no new dependence on the BLAS; the tabu searches, whose
        # trajectories must not depend on it, keep the loops (:func:`_jit.init_state`)
        Bp = np.ascontiguousarray(B[np.ix_(p, p)])
        G = A @ np.ascontiguousarray(Bp.T) + np.ascontiguousarray(A.T) @ Bp
        _, moves = _jit.two_opt_from(A, B, np.ascontiguousarray(s * self.C), p, np.ones(self.k, dtype=np.bool_),
                                     10**9 if max_moves is None else int(max_moves), Bp, G)
        return p, int(moves)


_FORKED = None


def _forked_restart(i):
    return _FORKED(i)


def _fork_ok() -> bool:
    # forking after torch (or another OpenMP runtime) has started threads can deadlock
    return "fork" in mp.get_all_start_methods() and "torch" not in sys.modules


def _init_matrix(problem: QAPProblem, init):
    """A string start, or the (k, k) start over the free nodes from a full permutation (n,) or
    a (k, k) matrix."""
    if init is None or isinstance(init, str):
        return init
    a = np.asarray(init)
    if a.ndim == 1:
        cols = problem.restrict(a) if problem.anchors is not None else a
        k = problem.n_free
        if np.any(cols < 0) or not np.array_equal(np.sort(cols), np.arange(k)):
            raise ValueError(f"init: expected a permutation of range({problem.n}), got {a!r:.80}")
        return np.eye(k)[cols]
    return a


def _restart_task(engine, first, maximize, tol, max_iter, seeds, lap, i):
    return engine.run(first if i == 0 else "randomized", maximize=maximize, tol=tol, max_iter=max_iter,
                      rng=seeds[i], lap=lap)


def faq_solver(problem: QAPProblem, *, init=None, restarts: int = 1, tol: float = 0.03, max_iter: int = 30,
               seed: int = 0, n_jobs: int = 1, precision: str = "float64", polish: bool = False,
               scheduler=None, lap: str = "auto") -> QAPResult:
    """FAQ with restarts on any :class:`QAPProblem` (anchors, linear term, either sense).

    Parameters
    ----------
    problem : QAPProblem
    init : None, "barycenter", "randomized", permutation (n,) or (k, k) matrix
        Start of the first run (None: the barycenter for one run, randomized for several);
        further restarts use randomized starts (``(J + K)/2``, K Sinkhorn-balanced uniform, as
        scipy).
    restarts : int
        Runs; the best objective is kept (the first best, as a loop would).
    tol, max_iter : float, int
        Stop when the Frobenius step / sqrt(k) < tol, or after ``max_iter`` iterations
        (scipy's rule).
    seed : int
        Seeds the randomized starts; results do not depend on ``n_jobs``.
    n_jobs : int
        Workers for the restarts: forked processes on Linux unless torch is loaded (faster than
        threads for these Python-heavy loops), else threads; BLAS is held to one thread each.
    precision : {"float64", "float32"}
        Precision of the matrix chains (objective always float64).
    polish : bool
        2-opt of the free nodes after the best run.
    scheduler : None, str or distributed.Client
        Run the restarts as Dask tasks (:mod:`repalign.distributed`); the same starts and result.
    lap : {"auto", "scipy", "lapjv"}
        Linear assignment for the Frank-Wolfe direction (:func:`faq_lap`); ``auto`` (default):
        scipy with float64 chains, repalign's lapjv with float32 ones.

    Returns
    -------
    QAPResult
        No bound; ``iterations`` summed over runs, ``restarts`` the number of runs.

    References
    ----------
    Vogelstein et al. (2015), doi:10.1371/journal.pone.0121002; maniparambil2024 (arXiv:2401.05224) Eq. 5.
    """
    restarts = check_positive_int(restarts, "restarts")
    n_jobs = check_positive_int(n_jobs, "n_jobs")
    if not isinstance(problem, QAPProblem):
        raise ValueError(f"problem: expected a QAPProblem, got {type(problem).__name__}")
    lap_fn = faq_lap(lap, precision)
    t0 = time.perf_counter()
    sub, _, _ = problem.split_anchors()
    if sub is None or sub.n == 1:  # nothing left to choose
        perm = problem.expand(np.zeros(0 if sub is None else 1, dtype=np.int64))
        return make_result(problem, perm, seconds=time.perf_counter() - t0, solver="faq", restarts=restarts,
                       stopped_by="converged")
    engine = FAQEngine(sub, precision=precision)  # shared by every restart
    init = _init_matrix(problem, init)
    first = init if init is not None else ("barycenter" if restarts == 1 else "randomized")
    seeds = np.random.default_rng(seed).integers(2**63, size=restarts)
    maximize = problem.maximize

    def one(i):
        return _restart_task(engine, first, maximize, tol, max_iter, seeds, lap_fn, i)

    if scheduler is not None:

        runs = map_tasks(partial(_restart_task, engine, first, maximize, tol, max_iter, seeds, lap_fn), range(restarts),
                         scheduler=scheduler)
    elif n_jobs == 1 or restarts == 1:
        runs = [one(i) for i in range(restarts)]
    else:
        with threadpool_limits(1):
            if _fork_ok():  # processes: no GIL between the restarts' Python steps (1.5x threads here)
                global _FORKED
                _FORKED = one
                try:
                    with mp.get_context("fork").Pool(n_jobs) as pool:
                        runs = pool.map(_forked_restart, range(restarts), chunksize=max(1, restarts // (4 * n_jobs)))
                finally:
                    _FORKED = None
            else:
                with ThreadPoolExecutor(n_jobs) as pool:
                    runs = list(pool.map(one, range(restarts)))
    objs = np.array([r[1] for r in runs])
    cols = runs[int(np.argmax(objs) if maximize else np.argmin(objs))][0]
    if polish and sub.n > 1:
        cols, _ = engine.polish(cols, maximize=maximize)
    return make_result(problem, problem.expand(cols), iterations=sum(r[2] for r in runs),
                       seconds=time.perf_counter() - t0, solver="faq", restarts=restarts,
                       stopped_by="converged")


def faq(A, B, anchors=None, *, maximize: bool = False, init="barycenter", tol: float = 0.03, max_iter: int = 30,
        seed=None, lap=linear_sum_assignment) -> QAPResult:
    """One FAQ run on ``tr(A P B Pᵀ)`` with anchor pairs ``anchors`` (m, 2).

    Parameters
    ----------
    A, B : ndarray, shape (n, n)
    anchors : array, shape (m, 2), optional
        Known pairs ``p[a] = b`` (a 1-D list means ``(a, a)``).
    maximize : bool
    init : "barycenter", "randomized" or a (k, k) doubly stochastic matrix over the free nodes
    tol, max_iter : as in scipy (Frobenius step / sqrt(k) < tol)
    seed : int or numpy Generator, optional
        Seed of the randomized start (the glossary's one word for a random seed).
    lap : linear assignment function (``scipy.optimize.linear_sum_assignment`` signature)

    Returns
    -------
    QAPResult

    References
    ----------
    Vogelstein et al. (2015), doi:10.1371/journal.pone.0121002; Fishkind et al. (2019),
    doi:10.1016/j.patcog.2018.09.014.
    """
    t0 = time.perf_counter()
    problem = _matrix_problem(A, B, anchors, maximize)
    sub, _, _ = problem.split_anchors()
    if sub is None or sub.n == 1:
        return faq_solver(problem)
    cols, _, its = FAQEngine(sub).run(_init_matrix(problem, init), maximize=maximize, tol=tol, max_iter=max_iter,
                                      rng=seed, lap=lap)
    return make_result(problem, problem.expand(cols), iterations=its, seconds=time.perf_counter() - t0, solver="faq",
                       stopped_by="converged")


def _matrix_problem(A, B, anchors, maximize):
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A: expected a square matrix, got shape {A.shape}")
    if B.shape != A.shape:
        raise ValueError(f"B: expected the same shape as A {A.shape}, got {B.shape}")
    return QAPProblem(A, B, maximize=maximize, anchors=anchors)


def seeded_qap(A, B, anchors=None, *, maximize: bool = True, restarts: int = 1, init=None, tol: float = 0.03,
               max_iter: int = 30, seed: int = 0, n_jobs: int = 1, precision: str = "float64",
               polish: bool = False, lap: str = "auto") -> QAPResult:
    """Seeded graph matching by FAQ with restarts (maniparambil2024 Eq. 5 maximises CKA).

    ``QAPProblem(A, B, anchors=anchors, maximize=maximize)`` solved by :func:`faq_solver`.

    Parameters
    ----------
    A, B : ndarray, shape (n, n)
    anchors : array, shape (m, 2), optional
        Known pairs ``p[a] = b``.
    maximize : bool
        Default True (CKA is maximised).
    restarts, init, tol, max_iter, seed, n_jobs, precision, polish, lap
        As in :func:`faq_solver`.

    Returns
    -------
    QAPResult

    References
    ----------
    maniparambil2024 (arXiv:2401.05224) Eq. 5; Fishkind et al. (2019),
    doi:10.1016/j.patcog.2018.09.014.
    """
    problem = _matrix_problem(A, B, anchors, maximize)
    return faq_solver(problem, init=init, restarts=restarts, tol=tol, max_iter=max_iter, seed=seed, n_jobs=n_jobs,
                      precision=precision, polish=polish, lap=lap)
