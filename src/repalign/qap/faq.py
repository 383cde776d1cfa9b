"""Fast Approximate QAP (Vogelstein et al. 2015) with seeds (Fishkind et al. 2019).

Problem (maniparambil2024 Eq. 4-5): over permutations ``p`` of ``range(n)`` with
``p[seeds_a] = seeds_b`` fixed, optimise ``f(p) = Σ_ij A_ij B_p(i)p(j) = tr(A P B Pᵀ)``.

Putting the seeds first, ``f = const + ⟨C, X⟩ + tr(A22 X B22ᵀ Xᵀ)`` for the unseeded block
``X`` with ``C = A21 B21ᵀ + A12ᵀ B12``. Frank-Wolfe on the doubly stochastic relaxation: the
direction is the linear assignment of the gradient ``C + A22 X B22ᵀ + A22ᵀ X B22``; the step
is the exact minimiser of the quadratic along it. Same iterates as
``scipy.optimize.quadratic_assignment(method="faq")`` for the same start, but each iteration
costs one matrix chain: along ``X + t R`` the gradient changes by
``t (A22 R B22ᵀ + A22ᵀ R B22)`` and the curvature is ``⟨A22 R B22ᵀ, R⟩``, so the chain
``A22 R B22ᵀ`` serves both (and for symmetric inputs it is the whole update).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["FAQResult", "SeededProblem", "faq", "seeded_qap", "qap_objective", "doubly_stochastic"]


@dataclass(frozen=True)
class FAQResult:
    """``permutation[i]`` = the node of B matched to node i of A; ``objective = tr(A P B Pᵀ)``
    recomputed from the permutation."""

    permutation: np.ndarray = field(repr=False)
    objective: float
    iterations: int
    seconds: float
    restarts: int = 1
    maximize: bool = False

    def to_dict(self) -> dict:
        return {"permutation": self.permutation.tolist(), "objective": self.objective,
                "iterations": self.iterations, "seconds": self.seconds, "restarts": self.restarts,
                "maximize": self.maximize}


def qap_objective(A: np.ndarray, B: np.ndarray, perm: np.ndarray) -> float:
    """``Σ_ij A_ij B_perm(i)perm(j)``."""
    return float(np.einsum("ij,ij->", A, B[np.ix_(perm, perm)]))


def doubly_stochastic(M: np.ndarray, tol: float = 1e-3, max_iter: int = 1000, dtype=float) -> np.ndarray:
    """Sinkhorn balancing of a positive matrix to (approximately) doubly stochastic."""
    P = np.array(M, dtype=dtype)
    for _ in range(max_iter):
        P /= P.sum(axis=0, keepdims=True)
        P /= P.sum(axis=1, keepdims=True)
        if np.abs(P.sum(axis=0) - 1).max() < tol:
            break
    return P


def _check(A, B, seeds):
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A: expected a square matrix, got shape {A.shape}")
    if B.shape != A.shape:
        raise ValueError(f"B: expected the same shape as A {A.shape}, got {B.shape}")
    if not (np.isfinite(A).all() and np.isfinite(B).all()):
        raise ValueError("A, B: contain NaN/inf")
    n = A.shape[0]
    seeds = np.zeros((0, 2), dtype=int) if seeds is None else np.asarray(seeds)
    if seeds.ndim == 1:  # a list of indices matched to themselves
        seeds = np.column_stack([seeds, seeds])
    if seeds.ndim != 2 or seeds.shape[1] != 2:
        raise ValueError(f"seeds: expected (m, 2) pairs or a 1-D list of indices, got shape {seeds.shape}")
    seeds = seeds.astype(int)
    if seeds.size and (seeds.min() < 0 or seeds.max() >= n):
        raise ValueError(f"seeds: indices must lie in [0, {n}), got range [{seeds.min()}, {seeds.max()}]")
    for col, side in ((0, "A"), (1, "B")):
        if len(np.unique(seeds[:, col])) != len(seeds):
            raise ValueError(f"seeds: duplicated {side}-side index; each node can be seeded once")
    return A, B, seeds


class SeededProblem:
    """A seeded QAP prepared once: seeds first, blocks split, the constant gradient part
    ``C = A21 B21ᵀ + A12ᵀ B12`` formed. :meth:`run` does one FAQ from a start; restarts reuse
    everything but the start.

    ``precision="float32"`` does the matrix chains in single precision (about 2.5x faster
    GEMMs); the returned objective is always recomputed in float64 from the permutation.
    """

    def __init__(self, A, B, seeds=None, *, precision: str = "float64", linear=None):
        if precision not in ("float64", "float32"):
            raise ValueError(f"precision: expected 'float64' or 'float32', got {precision!r}")
        self.A, self.B, self.seeds = _check(A, B, seeds)
        n, m = self.A.shape[0], len(self.seeds)
        self.n, self.m, self.k = n, m, n - m
        self.pa = np.concatenate([self.seeds[:, 0], np.setdiff1d(np.arange(n), self.seeds[:, 0])])
        self.pb = np.concatenate([self.seeds[:, 1], np.setdiff1d(np.arange(n), self.seeds[:, 1])])
        Ap, Bp = self.A[np.ix_(self.pa, self.pa)], self.B[np.ix_(self.pb, self.pb)]
        dt = np.float32 if precision == "float32" else np.float64
        self.A22 = np.ascontiguousarray(Ap[m:, m:], dtype=dt)
        self.B22 = np.ascontiguousarray(Bp[m:, m:], dtype=dt)
        self.symmetric = np.array_equal(self.A22, self.A22.T) and np.array_equal(self.B22, self.B22.T)
        self.A22T = self.A22 if self.symmetric else np.ascontiguousarray(self.A22.T)
        self.B22T = self.B22 if self.symmetric else np.ascontiguousarray(self.B22.T)
        self.C = Ap[m:, :m] @ Bp[m:, :m].T + Ap[:m, m:].T @ Bp[:m, m:]
        self._lin_const = 0.0
        if linear is not None:  # + Σ_i L_i,p(i): adds L22 to the gradient, seeds to the constant
            Lp = np.asarray(linear, dtype=float)[np.ix_(self.pa, self.pb)]
            self.C = self.C + Lp[m:, m:]
            self._lin_const = float(np.trace(Lp[:m, :m]))
        self.dtype = dt
        # f(perm) = seed-block constant + <C, X> + <A22, X B22 Xᵀ>, exactly in float64
        self._A22_64, self._B22_64 = np.ascontiguousarray(Ap[m:, m:]), np.ascontiguousarray(Bp[m:, m:])
        self._const = float(np.einsum("ij,ij->", Ap[:m, :m], Bp[:m, :m])) + self._lin_const

    def objective(self, cols) -> float:
        """``Σ_ij A_ij B_perm(i)perm(j)`` of the permutation whose unseeded block is ``cols``
        (float64, from the k x k block only)."""
        cols = np.asarray(cols)
        Bc = self._B22_64.take(cols, axis=0).take(cols, axis=1)
        return self._const + float(self.C[np.arange(self.k), cols].sum()) + float(np.einsum("ij,ij->", self._A22_64, Bc))

    # The FAQ state is ``M = A22 P B22ᵀ`` (and ``M2 = A22ᵀ P B22`` when asymmetric); the
    # gradient is ``C + M + M2``. Along ``P + t (Q - P)`` the state moves linearly, and for a
    # permutation ``Q`` (rows ``cols``) ``A22 Q B22ᵀ = A22 @ B22ᵀ[cols]``: one GEMM per
    # iteration instead of two, and none at all for the rank-one barycenter.
    def _state(self, P):
        P = P.astype(self.dtype, copy=False)
        M = np.asarray(self.A22 @ P @ self.B22T, dtype=float)
        return M, (M if self.symmetric else np.asarray(self.A22T @ P @ self.B22, dtype=float))

    def _state_perm(self, cols):
        M = np.asarray(self.A22 @ self.B22T[cols], dtype=float)
        return M, (M if self.symmetric else np.asarray(self.A22T @ self.B22[cols], dtype=float))

    def _state_barycenter(self):
        k = self.k
        M = np.outer(self.A22.sum(1, dtype=float), self.B22.sum(1, dtype=float)) / k
        if self.symmetric:
            return M, M
        return M, np.outer(self.A22.sum(0, dtype=float), self.B22.sum(0, dtype=float)) / k

    def start(self, P0, rng):
        """The start ``P`` and its state ``(M, M2)``."""
        k = self.k
        if isinstance(P0, str):
            if P0 == "barycenter":
                return np.full((k, k), 1.0 / max(k, 1)), (self._state_barycenter() if k else None)
            if P0 == "randomized":
                # scipy's start: (J + K) / 2 with K a Sinkhorn-balanced uniform matrix
                K = doubly_stochastic(rng.uniform(size=(k, k)))
                MK, MK2 = self._state(K)
                MJ, MJ2 = self._state_barycenter()
                return (np.full((k, k), 1.0 / k) + K) / 2, ((MJ + MK) / 2, (MJ2 + MK2) / 2)
            raise ValueError(f"P0: expected 'barycenter', 'randomized' or a matrix, got {P0!r}")
        P = np.array(P0, dtype=float)
        if P.shape != (k, k):
            raise ValueError(f"P0: expected shape ({k}, {k}) over the unseeded nodes, got {P.shape}")
        if not (np.isfinite(P).all() and (P >= 0).all()):
            raise ValueError("P0: must be a non-negative finite (doubly stochastic) matrix")
        cols = np.argmax(P, axis=1)
        if np.array_equal(P, np.eye(k)[cols]) and len(np.unique(cols)) == k:
            return P, self._state_perm(cols)
        return P, self._state(P)

    def run(self, P0="barycenter", *, maximize: bool = False, tol: float = 0.03, maxiter: int = 30, rng=None,
            lap=linear_sum_assignment) -> FAQResult:
        t0 = time.perf_counter()
        if maxiter < 1:
            raise ValueError(f"maxiter: must be >= 1, got {maxiter}")
        if tol <= 0:
            raise ValueError(f"tol: must be > 0, got {tol}")
        k = self.k
        P, state = self.start(P0, np.random.default_rng(rng))
        if k == 0:
            return FAQResult(self.embed([]), self.objective(np.zeros(0, int)), 0, time.perf_counter() - t0, 1,
                             maximize)
        M, M2 = state
        M = M.copy()  # updated in place below
        M2 = M if self.symmetric else M2.copy()
        sign = -1.0 if maximize else 1.0
        rows = np.arange(k)
        vertex = None  # the assignment P equals, once a full step made P a permutation
        it = 0
        for it in range(1, maxiter + 1):  # noqa: B007 - the count is reported after the loop
            grad = self.C + M + M2
            _, cols = lap(grad, maximize=maximize)
            if vertex is not None and np.array_equal(cols, vertex):
                break  # Q = P: the step is zero (scipy counts this iteration too)
            R = -P
            R[rows, cols] += 1.0  # R = Q - P
            MQ, MQ2 = self._state_perm(cols)
            dM = MQ - M
            a = float(np.einsum("ij,ij->", dM, R))  # curvature along R: <A22 R B22ᵀ, R>
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
        return FAQResult(self.embed(col), self.objective(col), it, time.perf_counter() - t0, 1, maximize)

    def polish(self, cols, *, maximize: bool = False, max_moves: int | None = None) -> tuple[np.ndarray, int]:
        """2-opt on the unseeded block from assignment ``cols``: best-improvement pairwise
        exchanges of ``const + <C, X> + <A22, X B22 Xᵀ>`` (seeds stay fixed), until no
        exchange improves. Returns ``(cols, moves)``."""
        from ._jit import ensure_compiled
        from ._jit import two_opt as _two_opt

        ensure_compiled()
        s = -1.0 if maximize else 1.0
        p = np.array(cols, dtype=np.int64)
        _, moves = _two_opt(np.ascontiguousarray(s * self._A22_64), self._B22_64, np.ascontiguousarray(s * self.C), p,
                            np.ones(self.k, dtype=np.bool_), 10**9 if max_moves is None else int(max_moves))
        return p, int(moves)

    def pb_index(self, perm) -> np.ndarray:
        """Inverse of :meth:`embed`: the unseeded-block assignment of a full permutation."""
        pos_b = np.empty(self.n, dtype=int)
        pos_b[self.pb] = np.arange(self.n)
        return pos_b[np.asarray(perm)[self.pa[self.m:]]] - self.m

    def embed(self, cols) -> np.ndarray:
        """Full permutation from an assignment ``cols`` of the unseeded block."""
        perm = np.empty(self.n, dtype=int)
        perm[self.pa] = self.pb[np.concatenate([np.arange(self.m), np.asarray(cols, dtype=int) + self.m])]
        return perm


def faq(A, B, seeds=None, *, maximize: bool = False, P0="barycenter", tol: float = 0.03,
        maxiter: int = 30, rng=None, lap=linear_sum_assignment) -> FAQResult:
    """One FAQ run. ``P0``: ``"barycenter"``, ``"randomized"`` (``(J + K)/2`` with ``K`` a
    Sinkhorn-balanced uniform matrix, as in scipy) or an (n', n') doubly stochastic matrix over
    the unseeded nodes. ``tol``, ``maxiter`` as in scipy (Frobenius step / sqrt(n') < tol)."""
    return SeededProblem(A, B, seeds).run(P0, maximize=maximize, tol=tol, maxiter=maxiter, rng=rng, lap=lap)


_FORKED = None


def _forked_restart(i):
    return _FORKED(i)


def _fork_ok() -> bool:
    import multiprocessing as mp
    import sys

    # forking after torch (or another OpenMP runtime) has started threads can deadlock
    return "fork" in mp.get_all_start_methods() and "torch" not in sys.modules


def seeded_qap(A, B, seeds=None, *, maximize: bool = True, restarts: int = 1, P0=None, tol: float = 0.03,
               maxiter: int = 30, seed: int = 0, n_jobs: int = 1, precision: str = "float64",
               polish: bool = False) -> FAQResult:
    """Seeded graph matching by FAQ with restarts (maniparambil2024 Eq. 5 maximises CKA).

    ``restarts = 1`` starts from the barycenter (or ``P0`` when given); further restarts use
    randomized starts (the first one still starts from ``P0`` when given) and the best
    objective is kept. Returns the best run, with the total time
    and the summed iterations. ``n_jobs > 1`` runs restarts in that many workers: forked
    processes on Linux unless torch is loaded (1.5x faster than threads here), else threads;
    BLAS is held to one thread each; the chosen starts and the result do not depend on
    ``n_jobs``.
    ``precision="float32"`` runs the matrix chains in single precision (objective in float64).
    ``polish``: 2-opt on the query block of the best run (:meth:`SeededProblem.polish`).
    """
    if restarts < 1:
        raise ValueError(f"restarts: must be >= 1, got {restarts}")
    if n_jobs < 1:
        raise ValueError(f"n_jobs: must be >= 1, got {n_jobs}")
    t0 = time.perf_counter()
    problem = SeededProblem(A, B, seeds, precision=precision)  # shared by every restart
    first = P0 if P0 is not None else ("barycenter" if restarts == 1 else "randomized")
    seeds_ = np.random.default_rng(seed).integers(2**63, size=restarts)

    def one(i):
        return problem.run(first if i == 0 else "randomized", maximize=maximize, tol=tol, maxiter=maxiter,
                           rng=seeds_[i])

    if n_jobs == 1 or restarts == 1:
        results = [one(i) for i in range(restarts)]
    else:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            if _fork_ok():  # processes: no GIL between the restarts' Python steps (1.5x threads here)
                import multiprocessing as mp

                global _FORKED
                _FORKED = one
                try:
                    with mp.get_context("fork").Pool(n_jobs) as pool:
                        results = pool.map(_forked_restart, range(restarts), chunksize=max(1, restarts // (4 * n_jobs)))
                finally:
                    _FORKED = None
            else:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(n_jobs) as pool:
                    results = list(pool.map(one, range(restarts)))
    objs = np.array([r.objective for r in results])
    best = results[int(np.argmax(objs) if maximize else np.argmin(objs))]  # first best, as a loop would
    perm, obj = best.permutation, best.objective
    if polish and problem.k > 1:
        cols = problem.pb_index(perm)
        cols, _ = problem.polish(cols, maximize=maximize)
        perm, obj = problem.embed(cols), problem.objective(cols)
    return FAQResult(perm, obj, sum(r.iterations for r in results), time.perf_counter() - t0, restarts, maximize)
