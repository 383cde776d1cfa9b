"""QAP solvers on :class:`QAPProblem`, all returning :class:`QAPResult`.

``solve_qap(problem, solver=...)`` dispatches; :data:`SOLVERS` lists them and
:data:`~repalign.qap.registry.SOLVER_INFO` says what each does:

* ``brute-force``: every permutation (compiled Heap's algorithm); exact, n <= 10.
* ``faq``: Frank-Wolfe on the doubly stochastic relaxation (Vogelstein et al. 2015), anchors,
  randomized restarts (:func:`repalign.qap.frank_wolfe.faq_solver`).
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

Anchors (``QAPProblem.anchors``) are handled for every solver by one reduction
(:meth:`QAPProblem.split_anchors`): the solver sees the problem over the free nodes, and its
permutation, objective and bound carry over exactly. Every time limit is
:data:`DEFAULT_TIME_LIMIT` seconds unless given, and a limit is kept: compilation happens before
the clock starts and the Hahn-Grant rounds read the clock inside each round.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment

from .._progress import progress_bar
from ..measures.gw import import_pot
from . import _jit
from .frank_wolfe import faq_solver
from .problem import QAPProblem, QAPResult, check_permutation, is_integral, make_result
from .registry import SOLVER_INFO, TIMED_SOLVERS

__all__ = ["solve_qap", "SOLVERS", "DEFAULT_TIME_LIMIT", "brute_force", "faq_solver",
           "two_opt", "entropic_gw", "tabu_search", "hahn_grant", "heuristic_share"]

BRUTE_FORCE_MAX_N = 10
#: Seconds for every solver that takes a time limit, unless told otherwise (API and CLI).
DEFAULT_TIME_LIMIT = 10.0


def _check_time_limit(time_limit):
    if time_limit is None:
        return None
    try:
        t = float(time_limit)
    except (TypeError, ValueError):
        raise ValueError(f"time_limit: expected a number of seconds, got {time_limit!r}") from None
    if not np.isfinite(t) or t <= 0:
        raise ValueError(f"time_limit: must be a positive number of seconds, got {time_limit!r}")
    return t


def _min_form(problem):
    A, B, L, c = problem.minimization_form()
    return np.ascontiguousarray(A), np.ascontiguousarray(B), np.ascontiguousarray(L), c


def _as_problem(problem):
    if not isinstance(problem, QAPProblem):
        raise ValueError(f"problem: expected a QAPProblem, got {type(problem).__name__}")
    return problem


def _anchored(solver):
    """Let ``solver`` (written for anchor-free problems) take anchored ones: it solves the
    reduced problem; ``init`` and ``fixed`` are translated, the permutation expanded and the
    objective recomputed on the full problem (bound and gap carry over unchanged)."""

    @functools.wraps(solver)
    def run(problem, *args, **kwargs):
        problem = _as_problem(problem)
        if problem.anchors is None:
            return solver(problem, *args, **kwargs)
        t0 = time.perf_counter()
        sub, rows, _ = problem.split_anchors()
        if sub is None or sub.n == 1:
            perm = problem.expand(np.zeros(0 if sub is None else 1, dtype=np.int64))
            obj = problem.objective(perm)
            return make_result(problem, perm, bound=obj, seconds=time.perf_counter() - t0,
                               solver=solver.__name__.replace("_", "-"))
        if kwargs.get("init") is not None:
            kwargs["init"] = problem.restrict(kwargs["init"])
        if kwargs.get("fixed") is not None:
            pos = np.full(problem.n, -1)
            pos[rows] = np.arange(len(rows))
            f = pos[np.asarray(kwargs["fixed"], dtype=int).ravel()]
            kwargs["fixed"] = f[f >= 0]
        res = solver(sub, *args, **kwargs)
        perm = problem.expand(res.permutation)
        return dataclasses.replace(res, permutation=perm, objective=problem.objective(perm))

    return run


@_anchored
def brute_force(problem: QAPProblem) -> QAPResult:
    """Exact optimum by enumerating all n! permutations (Heap's algorithm, compiled).

    Parameters
    ----------
    problem : QAPProblem
        At most 10 free nodes (about 0.3 s at n = 10).

    Returns
    -------
    QAPResult
        The optimum; the bound equals it.
    """
    problem = _as_problem(problem)
    n = problem.n
    if n > BRUTE_FORCE_MAX_N:
        raise ValueError(f"problem: brute force enumerates n! permutations; n = {n} > {BRUTE_FORCE_MAX_N}. "
                         "Use solver='hahn-grant' or 'tabu'")
    _jit.ensure_compiled()  # compile before the clock starts
    t0 = time.perf_counter()
    A, B, L, c = _min_form(problem)
    _, best_p = _jit.exhaustive(A, B, L)
    return make_result(problem, best_p, bound=problem.objective(best_p), iterations=math.factorial(n),
                       seconds=time.perf_counter() - t0, solver="brute-force")


def _free_mask(n, fixed):
    free = np.ones(n, dtype=np.bool_)
    if fixed is not None:
        fixed = np.asarray(fixed, dtype=int).ravel()
        if fixed.size and (fixed.min() < 0 or fixed.max() >= n):
            raise ValueError(f"fixed: node indices must lie in [0, {n})")
        free[fixed] = False
    return free


def complete_partial(problem: QAPProblem, partial) -> np.ndarray:
    """A full permutation (n,) from a partial guess (``partial[i] = -1`` where unknown): the
    unknown nodes get the unused targets by a linear assignment on the linear term (or in order)."""
    n = problem.n
    g = np.asarray(partial, dtype=int)
    if g.shape != (n,):
        raise ValueError(f"init: expected shape ({n},) with -1 for unknown entries, got {g.shape}")
    known = g >= 0
    if g[known].size and (g[known].max() >= n or len(np.unique(g[known])) != known.sum()):
        raise ValueError("init: known entries must be distinct targets in [0, n)")
    free_rows, free_cols = np.flatnonzero(~known), np.setdiff1d(np.arange(n), g[known])
    out = g.copy()
    if free_rows.size:
        L = problem.minimization_form()[2]
        _, c = linear_sum_assignment(L[np.ix_(free_rows, free_cols)])
        out[free_rows] = free_cols[c]
    return out


@_anchored
def two_opt(problem: QAPProblem, init=None, *, fixed=None, max_moves: int | None = None) -> QAPResult:
    """Best-improvement 2-opt (pairwise exchanges) with the linear term.

    Parameters
    ----------
    problem : QAPProblem
    init : permutation (n,), partial guess (-1 where unknown) or None
        Start; None means the identity (anchors are always respected).
    fixed : sequence of int, optional
        Nodes never moved.
    max_moves : int, optional
        Stop after this many exchanges (default: at a 2-opt local optimum).

    Returns
    -------
    QAPResult
        ``iterations`` = exchanges made; no bound.
    """
    problem = _as_problem(problem)
    _jit.ensure_compiled()  # compile before the clock starts
    t0 = time.perf_counter()
    n = problem.n
    p = np.arange(n) if init is None else complete_partial(problem, init)
    check_permutation(p, n, "init")
    A, B, L, _ = _min_form(problem)
    p = p.astype(np.int64).copy()
    _, moves = _jit.two_opt(A, B, L, p, _free_mask(n, fixed), 10**9 if max_moves is None else int(max_moves))
    return make_result(problem, p, iterations=moves, seconds=time.perf_counter() - t0, solver="2opt")


@_anchored
def entropic_gw(problem: QAPProblem, *, epsilon: float = 0.05, max_iter: int = 200, polish: bool = True) -> QAPResult:
    """Entropic Gromov-Wasserstein (POT, square loss) between ``-A`` and ``B`` of the
    minimisation form, rounded to a permutation.

    For permutation couplings ``Σ (−A_ik − B_jl)² T_ij T_kl`` differs from ``2 Σ A_ik B_jl T_ij
    T_kl`` by a constant, so GW minimises the QAP objective over the relaxation. Both matrices
    are scaled to max |entry| 1; ``epsilon`` is tried, then 10x and 100x when Sinkhorn
    underflows. The coupling is rounded by a linear assignment; ``polish`` runs 2-opt on the
    result. The linear term is ignored by GW and counted in the objective.

    Parameters
    ----------
    problem : QAPProblem
    epsilon : float
        Entropic regularisation (default 0.05).
    max_iter : int
        Outer GW iterations (default 200).
    polish : bool
        2-opt after rounding (default on).

    Returns
    -------
    QAPResult

    References
    ----------
    Peyré, Cuturi & Solomon, "Gromov-Wasserstein averaging of kernel and distance matrices",
    ICML 2016; schnaus2025 (arXiv:2503.24129).
    """
    problem = _as_problem(problem)
    ot = import_pot()
    _jit.ensure_compiled()  # compile (2-opt) before the clock starts
    t0 = time.perf_counter()
    A, B, L, _ = _min_form(problem)
    n = problem.n
    C1 = -A / (np.abs(A).max() or 1.0)
    C2 = B / (np.abs(B).max() or 1.0)
    C1, C2 = (C1 + C1.T) / 2, (C2 + C2.T) / 2  # GW uses both orders; the symmetric part carries the objective
    p = np.full(n, 1.0 / n)
    T = None
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


@_anchored
def tabu_search(problem: QAPProblem, *, time_limit: float | None = DEFAULT_TIME_LIMIT, init=None,
                max_iter: int | None = None, seed: int = 0, target: float | None = None,
                chunk: int | None = None) -> QAPResult:
    """Robust tabu search (Taillard 1991): tenure in [0.9 n, 1.1 n], long-term aspiration after
    5 n² iterations.

    Parameters
    ----------
    problem : QAPProblem
    time_limit : float or None
        Seconds (default :data:`DEFAULT_TIME_LIMIT`); None needs ``max_iter`` or ``target``.
    init : permutation (n,), optional
        Start (default: FAQ from the barycenter, then 2-opt).
    max_iter : int, optional
        Iteration cap.
    seed : int
        Seeds the tenure draws.
    target : float, optional
        Stop once the objective (minimisation form) reaches it.
    chunk : int, optional
        Iterations per compiled call between clock checks.

    Returns
    -------
    QAPResult
        The best permutation seen; no bound.

    References
    ----------
    Taillard, "Robust taboo search for the quadratic assignment problem", Parallel Computing 17
    (1991), doi:10.1016/S0167-8191(05)80147-4.
    """
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
    if init is None:
        init = two_opt(problem, faq_solver(problem).permutation).permutation
    cur = check_permutation(init, n, "init").copy()
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


def heuristic_share(n: int) -> float:
    """Fraction of a Hahn-Grant time limit given to its tabu warm start by default.

    A dual round costs n² LAPs of size n - 1 (about n⁵ operations): at n <= 20 rounds are cheap
    and the bound is the point (10 %); from n = 60 on a round costs seconds and the incumbent is
    what the user gets (90 %); linear in between. At n = 100 the default then returns the warm
    start's quality (``tests/matching/test_blind.py``).

    Parameters
    ----------
    n : int
        Free nodes.

    Returns
    -------
    float in [0.1, 0.9]
    """
    return float(np.clip(0.1 + 0.8 * (n - 20) / 40.0, 0.1, 0.9))


@_anchored
def hahn_grant(problem: QAPProblem, *, time_limit: float = DEFAULT_TIME_LIMIT, init=None,
               heuristic_time: float | None = None, rounds_per_check: int | None = None,
               progress: bool = False) -> QAPResult:
    """Hahn-Grant dual ascent (see :func:`repalign.qap._jit.hahn_grant_rounds`) with a
    certified lower bound.

    Parameters
    ----------
    problem : QAPProblem
    time_limit : float
        Seconds for the whole call, warm start included (default :data:`DEFAULT_TIME_LIMIT`);
        the clock is read inside every round.
    init : permutation (n,), optional
        Warm start; default: the tabu search for ``heuristic_time`` seconds.
    heuristic_time : float, optional
        Default ``heuristic_share(n) * time_limit``: 10 % at n <= 20 up to 90 % at n >= 60.
    rounds_per_check : int, optional
        Rounds between progress updates.
    progress : bool
        Progress bar on stderr.

    Returns
    -------
    QAPResult
        Never worse than the warm start; ``bound`` certified, ``optimal`` when the bound meets
        the incumbent (within rounding; for integer data within 1). Memory: three n³ float
        arrays (n = 40: 1.5 MB).

    References
    ----------
    Hahn & Grant, "Lower bounds for the quadratic assignment problem based upon a dual
    formulation", Operations Research 46 (1998), doi:10.1287/opre.46.6.912; schnaus2025 (arXiv:2503.24129).
    """
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
    if init is None:
        ht = heuristic_share(n) * time_limit if heuristic_time is None else heuristic_time
        init = tabu_search(problem, time_limit=max(ht, 1e-3)).permutation
    perm = check_permutation(init, n, "init").copy()
    inc = _jit.objective(A, B, L, perm)
    slack = 1.0 - 1e-6 if is_integral(problem) else 1e-9 * (1.0 + abs(inc))
    U = np.zeros((n, n, n))
    V = np.zeros((n, n, n))
    lb, rounds = -np.inf, 0
    per = rounds_per_check or max(1, int(2e6 // n**4))
    deadline = t0 + time_limit
    with progress_bar(total=time_limit, desc=f"hahn-grant n={n}", unit="s", enabled=progress) as bar:
        while True:
            r_lb, inc, hist = _jit.hahn_grant_rounds(A, B, L, U, V, per, perm, inc, slack, deadline)
            rounds += len(hist)
            lb = max(lb, r_lb)
            bar.set(min(time_limit, time.perf_counter() - t0), lb=f"{lb + c:.6g}", ub=f"{inc + c:.6g}")
            if lb >= inc - slack or time.perf_counter() >= deadline:
                break
    bound = None
    if rounds and lb > -_jit.INF:  # no complete round: no bound (not a meaningless -1e300)
        # the bound carries the rounding of O(n²) summed terms; report it a hair lower
        safe = lb + c - 1e-12 * n * n * (np.abs(A).max() * np.abs(B).max() * n + np.abs(L).max() + 1.0)
        bound = -safe if problem.maximize else safe
    return make_result(problem, perm, bound=bound, iterations=rounds, seconds=time.perf_counter() - t0,
                       solver="hahn-grant", atol=2e-12 * n * n * (np.abs(A).max() * np.abs(B).max() * n + 1.0))


#: name -> solver function, in the order and with the names of :data:`~repalign.qap.registry.SOLVER_INFO`
SOLVERS = {name: globals()[info.function] for name, info in SOLVER_INFO.items()}


def solve_qap(problem: QAPProblem, solver: str = "hahn-grant", *, time_limit: float | None = None,
              **kwargs) -> QAPResult:
    """Solve ``problem`` with ``solver``.

    Parameters
    ----------
    problem : QAPProblem
    solver : str
        A key of :data:`SOLVERS` (default ``"hahn-grant"``).
    time_limit : float, optional
        Seconds for the solvers that take one (``tabu``, ``hahn-grant``; default
        :data:`DEFAULT_TIME_LIMIT`); refused for the others rather than ignored.
    **kwargs
        Passed to the solver.

    Returns
    -------
    QAPResult
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver: unknown {solver!r}; choose one of {', '.join(SOLVERS)}")
    time_limit = _check_time_limit(time_limit)
    if time_limit is not None:
        if solver not in TIMED_SOLVERS:
            raise ValueError(f"time_limit: solver {solver!r} runs to completion and takes no time limit; "
                             f"use one of {', '.join(TIMED_SOLVERS)}")
        kwargs["time_limit"] = time_limit
    return SOLVERS[solver](problem, **kwargs)
