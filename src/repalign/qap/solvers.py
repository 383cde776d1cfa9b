"""QAP solvers on :class:`QAPProblem`, all returning :class:`QAPResult`.

``solve_qap(problem, solver=...)`` dispatches; :data:`SOLVERS` lists them:

* ``brute-force``: every permutation (compiled Heap's algorithm); exact, n <= 10.
* ``faq``: Frank-Wolfe on the doubly stochastic relaxation (Vogelstein et al. 2015), seeds,
  randomized restarts.
* ``2opt``: best-improvement pairwise exchange from a start (or a partial guess), with the
  linear term; O(n²) per move.
* ``entropic-gw``: entropic Gromov-Wasserstein (POT) on the two matrices, the coupling rounded
  to a permutation by a linear assignment, then 2-opt.
* ``tabu``: robust tabu search (Taillard 1991) from the FAQ solution, restarts until the time
  limit; the strong primal heuristic.
* ``hahn-grant``: dual ascent on the level-1 RLT dual (Hahn & Grant 1998) in factorised form
  with O(n³) memory (schnaus2025), warm-started by the tabu search, the leader assignment of
  every round as a primal candidate; returns a certified lower bound and stops as optimal
  when bound and incumbent meet.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .problem import QAPProblem, QAPResult, check_permutation, make_result

__all__ = ["solve_qap", "SOLVERS", "brute_force", "faq_solver", "two_opt", "entropic_gw", "tabu_search",
           "hahn_grant"]

BRUTE_FORCE_MAX_N = 10


def _check_time_limit(time_limit):
    if time_limit is None:
        return None
    if not np.isfinite(time_limit) or time_limit <= 0:
        raise ValueError(f"time_limit: must be a positive number of seconds, got {time_limit!r}")
    return float(time_limit)


def _min_form(problem):
    A, B, L, c = problem.minimization_form()
    return np.ascontiguousarray(A), np.ascontiguousarray(B), np.ascontiguousarray(L), c


def _as_problem(problem):
    if not isinstance(problem, QAPProblem):
        raise ValueError(f"problem: expected a QAPProblem, got {type(problem).__name__}")
    return problem


def brute_force(problem: QAPProblem) -> QAPResult:
    """Exact optimum by enumerating all n! permutations (Heap's algorithm, compiled; n <= 10:
    about 0.3 s at n = 10). The bound equals the optimum."""
    from . import _jit

    problem = _as_problem(problem)
    n = problem.n
    if n > BRUTE_FORCE_MAX_N:
        raise ValueError(f"problem: brute force enumerates n! permutations; n = {n} > {BRUTE_FORCE_MAX_N}. "
                         "Use solver='hahn-grant' or 'tabu'")
    _jit.ensure_compiled()  # compile before the clock starts
    t0 = time.perf_counter()
    A, B, L, c = _min_form(problem)
    _, best_p = _jit.exhaustive(A, B, L)
    lb = problem.objective(best_p) * (-1.0 if problem.maximize else 1.0)
    bound = -lb if problem.maximize else lb
    return make_result(problem, best_p, bound=bound, iterations=math.factorial(n),
                       seconds=time.perf_counter() - t0, solver="brute-force")


def faq_solver(problem: QAPProblem, *, seeds=None, restarts: int = 1, tol: float = 0.03, maxiter: int = 30,
               seed: int = 0, n_jobs: int = 1) -> QAPResult:
    """FAQ (barycenter start, or ``restarts`` randomized starts) on the minimisation form."""
    from .faq import SeededProblem

    problem = _as_problem(problem)
    t0 = time.perf_counter()
    A, B, L, _ = _min_form(problem)
    sp = SeededProblem(A, B, seeds, linear=L)
    rng = np.random.default_rng(seed)
    best, its = None, 0
    for r in range(restarts):
        res = sp.run("barycenter" if r == 0 else "randomized", maximize=False, tol=tol, maxiter=maxiter,
                     rng=rng.integers(2**63))
        its += res.iterations
        if best is None or res.objective < best.objective:
            best = res
    return make_result(problem, best.permutation, iterations=its, seconds=time.perf_counter() - t0, solver="faq")


def _free_mask(n, fixed):
    free = np.ones(n, dtype=np.bool_)
    if fixed is not None:
        fixed = np.asarray(fixed, dtype=int).ravel()
        if fixed.size and (fixed.min() < 0 or fixed.max() >= n):
            raise ValueError(f"fixed: node indices must lie in [0, {n})")
        free[fixed] = False
    return free


def complete_partial(problem: QAPProblem, partial) -> np.ndarray:
    """A full permutation from a partial guess (``partial[i] = -1`` where unknown): the unknown
    nodes get the unused targets by a linear assignment on the linear term (or in order)."""
    n = problem.n
    g = np.asarray(partial, dtype=int)
    if g.shape != (n,):
        raise ValueError(f"start: expected shape ({n},) with -1 for unknown entries, got {g.shape}")
    known = g >= 0
    if g[known].size and (g[known].max() >= n or len(np.unique(g[known])) != known.sum()):
        raise ValueError("start: known entries must be distinct targets in [0, n)")
    free_rows, free_cols = np.flatnonzero(~known), np.setdiff1d(np.arange(n), g[known])
    out = g.copy()
    if free_rows.size:
        from scipy.optimize import linear_sum_assignment

        L = problem.minimization_form()[2]
        _, c = linear_sum_assignment(L[np.ix_(free_rows, free_cols)])
        out[free_rows] = free_cols[c]
    return out


def two_opt(problem: QAPProblem, start=None, *, fixed=None, max_moves: int | None = None) -> QAPResult:
    """Best-improvement 2-opt (pairwise exchanges) from ``start`` (a permutation, a partial
    guess with -1 for unknown entries, or None for the identity), never moving ``fixed`` nodes
    (e.g. seeds). Stops at a 2-opt local optimum or after ``max_moves`` moves."""
    from . import _jit

    problem = _as_problem(problem)
    _jit.ensure_compiled()  # compile before the clock starts
    t0 = time.perf_counter()
    n = problem.n
    p = np.arange(n) if start is None else complete_partial(problem, start)
    check_permutation(p, n, "start")
    A, B, L, _ = _min_form(problem)
    p = p.astype(np.int64).copy()
    _, moves = _jit.two_opt(A, B, L, p, _free_mask(n, fixed), 10**9 if max_moves is None else int(max_moves))
    return make_result(problem, p, iterations=moves, seconds=time.perf_counter() - t0, solver="2opt")


def entropic_gw(problem: QAPProblem, *, epsilon: float = 0.05, max_iter: int = 200, polish: bool = True) -> QAPResult:
    """Entropic Gromov-Wasserstein (POT, square loss) between ``-A`` and ``B`` of the
    minimisation form: for permutation couplings ``Σ (−A_ik − B_jl)² T_ij T_kl`` differs from
    ``2 Σ A_ik B_jl T_ij T_kl`` by a constant, so GW minimises the QAP objective over the
    relaxation. Both matrices are scaled to max |entry| 1; ``epsilon`` is tried, then 10x and 100x
    when Sinkhorn underflows. The coupling is rounded
    by a linear assignment; ``polish`` runs 2-opt on the result. The linear term is ignored by
    GW and counted in the objective."""
    from scipy.optimize import linear_sum_assignment

    from ..measures.gw import _import_pot

    problem = _as_problem(problem)
    t0 = time.perf_counter()
    ot = _import_pot()
    A, B, L, _ = _min_form(problem)
    n = problem.n
    C1 = -A / (np.abs(A).max() or 1.0)
    C2 = B / (np.abs(B).max() or 1.0)
    C1, C2 = (C1 + C1.T) / 2, (C2 + C2.T) / 2  # GW uses both orders; the symmetric part carries the objective
    p = np.full(n, 1.0 / n)
    T = None
    import warnings

    for eps in (epsilon, 10 * epsilon, 100 * epsilon):  # a too small epsilon underflows: widen it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            T = ot.gromov.entropic_gromov_wasserstein(C1, C2, p, p, loss_fun="square_loss", epsilon=eps,
                                                      max_iter=max_iter)
        if np.isfinite(T).all() and T.sum() > 0.5:
            break
    else:
        raise ValueError(f"epsilon: entropic GW failed for epsilon up to {100 * epsilon:g}; try a larger one")
    _, cols = linear_sum_assignment(T, maximize=True)
    its = 0
    if polish:
        res = two_opt(problem, cols)
        cols, its = res.permutation, res.iterations
    return make_result(problem, cols, iterations=its, seconds=time.perf_counter() - t0, solver="entropic-gw")


def tabu_search(problem: QAPProblem, *, time_limit: float = 10.0, start=None, max_iter: int | None = None,
                seed: int = 0, target: float | None = None, chunk: int | None = None) -> QAPResult:
    """Robust tabu search (Taillard 1991): tenure in [0.9 n, 1.1 n], long-term aspiration
    after n²·5 iterations, from ``start`` (default: FAQ then 2-opt). Runs until ``time_limit``
    seconds, ``max_iter`` iterations, or the objective reaches ``target`` (minimisation form)."""
    from . import _jit

    problem = _as_problem(problem)
    time_limit = _check_time_limit(time_limit)
    if time_limit is None and max_iter is None and target is None:
        raise ValueError("time_limit: tabu search runs until stopped; give time_limit, max_iter or target")
    _jit.ensure_compiled()  # compile before the clock starts
    t0 = time.perf_counter()
    n = problem.n
    if n < 3:
        return brute_force(problem)
    A, B, L, c = _min_form(problem)
    if start is None:
        start = two_opt(problem, faq_solver(problem).permutation).permutation
    cur = check_permutation(start, n, "start").copy()
    best_p = cur.copy()
    tabu = np.zeros((n, n), dtype=np.int64)
    best = _jit.objective(A, B, L, cur)
    lo, hi = max(1, int(0.9 * n)), max(2, int(math.ceil(1.1 * n)))
    aspiration = 5 * n * n
    chunk = chunk or max(50, 200000 // (n * n))
    it = 1
    rng = np.random.default_rng(seed)
    while True:
        steps = chunk if max_iter is None else min(chunk, max_iter - it + 1)
        if steps <= 0:
            break
        best, _ = _jit.tabu_chunk(A, B, L, cur, best_p, tabu, it, steps, best, lo, hi, aspiration,
                                  int(rng.integers(2**31)))
        it += steps
        if target is not None and best <= target - c + 1e-9 * (1 + abs(target)):
            break
        if time_limit is not None and time.perf_counter() - t0 >= time_limit:
            break
    return make_result(problem, best_p, iterations=it - 1, seconds=time.perf_counter() - t0, solver="tabu")


def hahn_grant(problem: QAPProblem, *, time_limit: float = 60.0, warm_start=None, heuristic_time: float | None = None,
               rounds_per_check: int | None = None, progress: bool = False) -> QAPResult:
    """Hahn-Grant dual ascent (see :func:`repalign.qap._jit.hahn_grant_rounds`) with a
    certified lower bound. Warm start: ``warm_start`` permutation, else the tabu search for
    ``heuristic_time`` seconds (default: a tenth of the time limit, at most 10 s). Stops when
    the bound proves the incumbent optimal (within rounding; for integer data within 1) or at
    the time limit. Memory: three n³ float arrays (n = 40: 1.5 MB)."""
    from . import _jit

    problem = _as_problem(problem)
    time_limit = _check_time_limit(time_limit)
    if time_limit is None:
        raise ValueError("time_limit: Hahn-Grant needs a time limit in seconds (it may never certify)")
    _jit.ensure_compiled()  # compile before the clock starts
    t0 = time.perf_counter()
    n = problem.n
    if n < 3:
        return brute_force(problem)
    A, B, L, c = _min_form(problem)
    if warm_start is None:
        ht = min(10.0, 0.1 * time_limit) if heuristic_time is None else heuristic_time
        warm_start = tabu_search(problem, time_limit=max(ht, 1e-3)).permutation
    perm = check_permutation(warm_start, n, "warm_start").copy()
    inc = _jit.objective(A, B, L, perm)
    from .problem import _integral

    slack = 1.0 - 1e-6 if _integral(problem) else 1e-9 * (1.0 + abs(inc))
    U = np.zeros((n, n, n))
    V = np.zeros((n, n, n))
    lb, rounds = -np.inf, 0
    per = rounds_per_check or max(1, int(2e6 // n**4))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=time_limit, unit="s", desc=f"hahn-grant n={n}", leave=False)
    while True:
        r_lb, inc, hist = _jit.hahn_grant_rounds(A, B, L, U, V, per, perm, inc, slack)
        rounds += len(hist)
        lb = max(lb, r_lb)
        if bar is not None:
            bar.n = min(time_limit, time.perf_counter() - t0)
            bar.set_postfix(lb=f"{lb + c:.6g}", ub=f"{inc + c:.6g}")
        if lb >= inc - slack or time.perf_counter() - t0 >= time_limit:
            break
    if bar is not None:
        bar.close()
    # the bound carries the rounding of O(n²) summed terms; report it a hair lower
    safe = lb + c - 1e-12 * n * n * (np.abs(A).max() * np.abs(B).max() * n + np.abs(L).max() + 1.0)
    bound = -safe if problem.maximize else safe
    return make_result(problem, perm, bound=bound, iterations=rounds, seconds=time.perf_counter() - t0,
                       solver="hahn-grant", atol=2e-12 * n * n * (np.abs(A).max() * np.abs(B).max() * n + 1.0))


SOLVERS = {"brute-force": brute_force, "faq": faq_solver, "2opt": two_opt, "entropic-gw": entropic_gw,
           "tabu": tabu_search, "hahn-grant": hahn_grant}


def solve_qap(problem: QAPProblem, solver: str = "hahn-grant", *, time_limit: float | None = None, **kwargs) -> QAPResult:
    """Solve ``problem`` with ``solver`` (a key of :data:`SOLVERS`); ``time_limit`` seconds for
    the solvers that take one (``tabu``, ``hahn-grant``)."""
    if solver not in SOLVERS:
        raise ValueError(f"solver: unknown {solver!r}; choose one of {', '.join(SOLVERS)}")
    time_limit = _check_time_limit(time_limit)
    if time_limit is not None:
        if solver in ("tabu", "hahn-grant"):
            kwargs["time_limit"] = time_limit
    return SOLVERS[solver](problem, **kwargs)
