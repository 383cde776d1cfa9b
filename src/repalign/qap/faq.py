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


def doubly_stochastic(M: np.ndarray, tol: float = 1e-3, max_iter: int = 1000) -> np.ndarray:
    """Sinkhorn balancing of a positive matrix to (approximately) doubly stochastic."""
    P = np.asarray(M, dtype=float).copy()
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
    everything but the start."""

    def __init__(self, A, B, seeds=None):
        self.A, self.B, self.seeds = _check(A, B, seeds)
        n, m = self.A.shape[0], len(self.seeds)
        self.n, self.m, self.k = n, m, n - m
        self.pa = np.concatenate([self.seeds[:, 0], np.setdiff1d(np.arange(n), self.seeds[:, 0])])
        self.pb = np.concatenate([self.seeds[:, 1], np.setdiff1d(np.arange(n), self.seeds[:, 1])])
        Ap, Bp = self.A[np.ix_(self.pa, self.pa)], self.B[np.ix_(self.pb, self.pb)]
        self.A22, self.B22 = np.ascontiguousarray(Ap[m:, m:]), np.ascontiguousarray(Bp[m:, m:])
        self.B22T = np.ascontiguousarray(self.B22.T)
        self.symmetric = np.array_equal(self.A22, self.A22.T) and np.array_equal(self.B22, self.B22.T)
        self.C = Ap[m:, :m] @ Bp[m:, :m].T + Ap[:m, m:].T @ Bp[:m, m:]

    def _chain(self, X):
        """``A22 X B22ᵀ`` and the gradient change it induces."""
        M1 = self.A22 @ X @ self.B22T
        return M1, (2.0 * M1 if self.symmetric else M1 + self.A22.T @ X @ self.B22)

    def start(self, P0, rng) -> np.ndarray:
        k = self.k
        if isinstance(P0, str):
            if P0 == "barycenter":
                return np.full((k, k), 1.0 / max(k, 1))
            if P0 == "randomized":
                return (np.full((k, k), 1.0 / k) + doubly_stochastic(rng.uniform(size=(k, k)))) / 2
            raise ValueError(f"P0: expected 'barycenter', 'randomized' or a matrix, got {P0!r}")
        P = np.array(P0, dtype=float)
        if P.shape != (k, k):
            raise ValueError(f"P0: expected shape ({k}, {k}) over the unseeded nodes, got {P.shape}")
        return P

    def run(self, P0="barycenter", *, maximize: bool = False, tol: float = 0.03, maxiter: int = 30, rng=None,
            lap=linear_sum_assignment) -> FAQResult:
        t0 = time.perf_counter()
        if maxiter < 1:
            raise ValueError(f"maxiter: must be >= 1, got {maxiter}")
        if tol <= 0:
            raise ValueError(f"tol: must be > 0, got {tol}")
        n, m, k = self.n, self.m, self.k
        P = self.start(P0, np.random.default_rng(rng))
        if k == 0:
            perm = np.empty(n, dtype=int)
            perm[self.seeds[:, 0]] = self.seeds[:, 1]
            return FAQResult(perm, qap_objective(self.A, self.B, perm), 0, time.perf_counter() - t0, 1, maximize)
        grad = self.C + self._chain(P)[1]
        sign = -1.0 if maximize else 1.0
        it = 0
        for it in range(1, maxiter + 1):  # noqa: B007 - the count is reported after the loop
            _, cols = lap(grad, maximize=maximize)
            R = -P
            R[np.arange(k), cols] += 1.0  # R = Q - P
            M1, dgrad = self._chain(R)
            a = float(np.einsum("ij,ij->", M1, R))  # curvature along R
            b = float(np.einsum("ij,ij->", grad, R))  # slope at P
            if a * sign > 0 and 0.0 <= -b / (2 * a) <= 1.0:
                t = -b / (2 * a)
            else:  # the better end point (ties keep P, as scipy does)
                t = 1.0 if (a + b) * sign < 0 else 0.0
            step = t * R
            P = P + step
            grad = grad + t * dgrad
            if np.linalg.norm(step) / np.sqrt(k) < tol:
                break
        _, col = linear_sum_assignment(P, maximize=True)
        perm = np.empty(n, dtype=int)
        perm[self.pa] = self.pb[np.concatenate([np.arange(m), col + m])]
        return FAQResult(perm, qap_objective(self.A, self.B, perm), it, time.perf_counter() - t0, 1, maximize)


def faq(A, B, seeds=None, *, maximize: bool = False, P0="barycenter", tol: float = 0.03,
        maxiter: int = 30, rng=None, lap=linear_sum_assignment) -> FAQResult:
    """One FAQ run. ``P0``: ``"barycenter"``, ``"randomized"`` (``(J + K)/2`` with ``K`` a
    Sinkhorn-balanced uniform matrix, as in scipy) or an (n', n') doubly stochastic matrix over
    the unseeded nodes. ``tol``, ``maxiter`` as in scipy (Frobenius step / sqrt(n') < tol)."""
    return SeededProblem(A, B, seeds).run(P0, maximize=maximize, tol=tol, maxiter=maxiter, rng=rng, lap=lap)


def seeded_qap(A, B, seeds=None, *, maximize: bool = True, restarts: int = 1, P0=None, tol: float = 0.03,
               maxiter: int = 30, seed: int = 0) -> FAQResult:
    """Seeded graph matching by FAQ with restarts (maniparambil2024 Eq. 5 maximises CKA).

    ``restarts = 1`` starts from the barycenter (unless ``P0`` is given); more restarts use
    randomized starts and keep the best objective. Returns the best run, with the total time
    and the summed iterations.
    """
    if restarts < 1:
        raise ValueError(f"restarts: must be >= 1, got {restarts}")
    t0 = time.perf_counter()
    best, total_it = None, 0
    rng = np.random.default_rng(seed)
    problem = SeededProblem(A, B, seeds)  # shared by every restart
    for _ in range(restarts):
        start = P0 if P0 is not None else ("barycenter" if restarts == 1 else "randomized")
        res = problem.run(start, maximize=maximize, tol=tol, maxiter=maxiter, rng=rng.integers(2**63))
        total_it += res.iterations
        if best is None or (res.objective > best.objective if maximize else res.objective < best.objective):
            best = res
    return FAQResult(best.permutation, best.objective, total_it, time.perf_counter() - t0, restarts, maximize)
