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
* ``tabu``: one robust tabu search (Taillard 1991) from the FAQ solution for a number of
  iterations.
* ``multistart``: many short tabu searches from diversified starts in parallel batches, with an
  early stop once the best is found repeatedly; the strong primal heuristic.
* ``hahn-grant``: dual ascent on the level-1 RLT dual (Hahn & Grant 1998) in factorised form
  with O(n³) memory (schnaus2025), warm-started by the multi-start search, the leader
  assignment of every round as a primal candidate; returns a certified lower bound and stops
  as optimal when bound and incumbent meet.

Anchors (``QAPProblem.anchors``) are handled for every solver by one reduction
(:meth:`QAPProblem.split_anchors`): the solver sees the problem over the free nodes, and its
permutation, objective and bound carry over exactly.

Budgets are work, not seconds: iterations, runs and rounds, so a call gives the same answer
on any machine, under any load and thread count (the compiled kernels use no BLAS; FAQ starts
run on one BLAS thread). ``time_limit`` is an optional cap everywhere; when it binds the result
says so (``stopped_by="time"``). Compilation happens before any clock starts, and the
Hahn-Grant rounds read the clock inside each round.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
import warnings

import numpy as np
from scipy.optimize import linear_sum_assignment
from threadpoolctl import threadpool_limits

from .._fork import kernel
from .._progress import progress_bar
from .._validate import check_positive_int, check_time_limit
from ..measures.gw import import_pot
from . import _jit
from .frank_wolfe import faq_solver
from .problem import QAPProblem, QAPResult, check_permutation, is_integral, make_result
from .registry import SOLVER_INFO, TIMED_SOLVERS

__all__ = ["solve_qap", "SOLVERS", "brute_force", "faq_solver", "two_opt", "entropic_gw", "tabu_search",
           "multistart_tabu", "hahn_grant", "restart_length", "default_rounds", "DEFAULT_RESTARTS",
           "RESTART_BATCH"]

BRUTE_FORCE_MAX_N = 10


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
                               solver=solver.__name__.replace("_", "-"), stopped_by="optimal")
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
                       seconds=time.perf_counter() - t0, solver="brute-force", stopped_by="optimal")


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
    return make_result(problem, p, iterations=moves, seconds=time.perf_counter() - t0, solver="2opt",
                       stopped_by="converged" if max_moves is None or moves < max_moves else "budget")


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
    return make_result(problem, cols, iterations=its, seconds=time.perf_counter() - t0, solver="entropic-gw",
                       stopped_by="converged")


def _tenures(n):
    return max(1, int(0.9 * n)), max(2, int(math.ceil(1.1 * n)))


def restart_length(n: int) -> int:
    """Tabu iterations of one run of :func:`multistart_tabu` (default ``max(1000, n² // 5)``).

    Measured on two noisy views matched under GW (``bench_blind_solvers.py``): the search walks a
    wide plateau of bad local optima and drops into the true basin at a random moment; at
    n = 100 runs of 2,000 iterations found it about twice as often per iteration spent as runs
    of 10,000, and at n = 200 runs of 2,000-4,000 almost never did, so the length grows like n².

    Parameters
    ----------
    n : int
        Free nodes.

    Returns
    -------
    int
    """
    return max(1000, n * n // 5)


#: Restarts of :func:`multistart_tabu` by default; with :func:`restart_length` they set the
#: default work budget (``DEFAULT_RESTARTS * restart_length(n)`` tabu iterations).
DEFAULT_RESTARTS = 64
#: Restarts run per batch; a fixed number, so that the early stop (and the answer) does not
#: depend on how many threads run a batch.
RESTART_BATCH = 8


@_anchored
def tabu_search(problem: QAPProblem, *, max_iter: int | None = None, time_limit: float | None = None, init=None,
                seed: int = 0, target: float | None = None, chunk: int | None = None) -> QAPResult:
    """One robust tabu search (Taillard 1991): tenure in [0.9 n, 1.1 n], long-term aspiration
    after 5 n² iterations.

    Parameters
    ----------
    problem : QAPProblem
    max_iter : int, optional
        The work budget in iterations (default ``DEFAULT_RESTARTS * restart_length(n)``, the
        same work as :func:`multistart_tabu`'s default). The answer depends only on the input,
        ``init`` and ``seed``.
    time_limit : float, optional
        An optional cap in seconds, read between chunks; when it binds, ``stopped_by="time"``.
    init : permutation (n,), optional
        Start (default: FAQ from the barycenter, then 2-opt).
    seed : int
        Seeds the tenure draws.
    target : float, optional
        Stop once the objective (minimisation form) reaches it (``stopped_by="target"``).
    chunk : int, optional
        Iterations per compiled call between clock and target checks (default
        ``max(4 n, 200000 // n²)``: each call rebuilds the search state in O(n³), so a chunk
        is at least one drift-refresh period). Each call draws its own tenure seed, so the
        answer depends on ``chunk`` as on ``seed``; the default depends on n only.

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
    time_limit = check_time_limit(time_limit)
    max_iter = None if max_iter is None else check_positive_int(max_iter, "max_iter")
    _jit.ensure_compiled()  # compile before the clock starts
    t0 = time.perf_counter()
    n = problem.n
    if n < 3:
        return brute_force(problem)
    if max_iter is None:
        max_iter = DEFAULT_RESTARTS * restart_length(n)
    A, B, L, c = _min_form(problem)
    if init is None:
        init = _faq_start(problem)
    cur = check_permutation(init, n, "init").copy()
    best_p = cur.copy()
    tabu = np.zeros((n, n), dtype=np.int64)
    best = _jit.objective(A, B, L, cur)
    lo, hi = _tenures(n)
    aspiration = 5 * n * n
    chunk = check_positive_int(chunk, "chunk") if chunk is not None else max(4 * n, 200000 // (n * n))
    it = 1
    rng = np.random.default_rng(seed)
    stopped = "budget"
    while it <= max_iter:
        steps = min(chunk, max_iter - it + 1)
        best, _ = _jit.tabu_chunk(A, B, L, cur, best_p, tabu, it, steps, best, lo, hi, aspiration,
                                  int(rng.integers(2**31)))
        it += steps
        if target is not None and best <= target - c + 1e-9 * (1 + abs(target)):
            stopped = "target"
            break
        if time_limit is not None and time.perf_counter() - t0 >= time_limit and it <= max_iter:
            stopped = "time"
            break
    return make_result(problem, best_p, iterations=it - 1, seconds=time.perf_counter() - t0, solver="tabu",
                       stopped_by=stopped)


def _faq_start(problem):
    """FAQ from the barycenter, then 2-opt, on one BLAS thread: the same bits, and so the same
    start, under any thread count."""
    with threadpool_limits(1):
        return two_opt(problem, faq_solver(problem).permutation).permutation


def _start_permutations(problem, count, rng, init):
    """The first runs' starts: ``init`` if given, FAQ + 2-opt (one BLAS thread: the same bits on
    every machine), then random permutations from ``rng``."""
    n = problem.n
    starts = []
    if init is not None:
        starts.append(check_permutation(init, n, "init"))
    starts.append(_faq_start(problem))
    while len(starts) < count:
        starts.append(rng.permutation(n))
    return np.stack(starts[:count]).astype(np.int64)


@_anchored
def multistart_tabu(problem: QAPProblem, *, restarts: int | None = None, restart_iterations: int | None = None,
                    repeats: int = 3, seed: int = 0, init=None, time_limit: float | None = None,
                    progress: bool = False) -> QAPResult:
    """Many short robust tabu searches from diversified starts; the best wins.

    Why: on blind-matching instances (two noisy views under GW) every local method stalls on a
    wide plateau of bad local optima; tabu search leaves it only by a lucky walk, and short
    independent runs find the true basin more often per iteration than one long run
    (``benchmarks/bench_blind_solvers.py``). Runs start from ``init`` (if given), FAQ + 2-opt,
    and random permutations; they go in batches of :data:`RESTART_BATCH`, in parallel over
    the batch (numba threads), each with its own seed derived from ``seed``. After each batch
    the search stops early once ``repeats`` runs have reached the best objective (the same
    optimum found independently several times; ``stopped_by="converged"``).

    Deterministic: the answer depends on the input, ``seed``, ``restarts``,
    ``restart_iterations`` and ``repeats`` only — not on thread count, load or speed — unless
    ``time_limit`` binds (``stopped_by="time"``).

    Parameters
    ----------
    problem : QAPProblem
    restarts : int, optional
        At most this many runs (default :data:`DEFAULT_RESTARTS`).
    restart_iterations : int, optional
        Tabu iterations per run (default :func:`restart_length`).
    repeats : int
        Runs that must reach the best objective before an early stop (default 3; a value above
        ``restarts`` never stops early).
    seed : int
        Seeds the random starts and every run's tenure draws.
    init : permutation (n,), optional
        An extra start, run first.
    time_limit : float, optional
        An optional cap in seconds, checked between batches.
    progress : bool
        Progress bar on stderr (batches).

    Returns
    -------
    QAPResult
        ``iterations`` = tabu iterations over all runs, ``restarts`` = runs made; no bound.

    References
    ----------
    Taillard (1991), see :func:`tabu_search`; schnaus2025 (arXiv:2503.24129) on why the
    optimiser's quality decides blind matching.
    """
    problem = _as_problem(problem)
    time_limit = check_time_limit(time_limit)
    R = check_positive_int(DEFAULT_RESTARTS if restarts is None else restarts, "restarts")
    _jit.ensure_compiled()  # compile before the clock starts
    t0 = time.perf_counter()
    n = problem.n
    if n < 3:
        return brute_force(problem)
    length = check_positive_int(restart_length(n) if restart_iterations is None else restart_iterations,
                                "restart_iterations")
    repeats = check_positive_int(repeats, "repeats")
    A, B, L, c = _min_form(problem)
    rng = np.random.default_rng(seed)
    lo, hi = _tenures(n)
    best_obj, best_p, hits, done, stopped = np.inf, None, 0, 0, "budget"
    with progress_bar(total=R, desc=f"multistart tabu n={n}", unit="run", enabled=progress) as bar:
        while done < R:
            size = min(RESTART_BATCH, R - done)
            starts = (_start_permutations(problem, size, rng, init) if done == 0
                      else np.stack([rng.permutation(n) for _ in range(size)]).astype(np.int64))
            seeds = rng.integers(2**31, size=size)
            objs, perms = kernel(_jit.tabu_restarts)(A, B, L, starts, length, lo, hi, 5 * n * n, seeds)
            for o, q in zip(objs, perms, strict=True):  # in run order: ties go to the earlier run
                tol = 1e-9 * (1.0 + abs(o))
                if o < best_obj - tol:
                    best_obj, best_p, hits = o, q.copy(), 1
                elif o <= best_obj + tol:
                    hits += 1
            done += size
            bar.set(done, best=f"{best_obj + c:.6g}", hits=hits)
            if hits >= repeats and done < R:
                stopped = "converged"
                break
            if time_limit is not None and time.perf_counter() - t0 >= time_limit and done < R:
                stopped = "time"
                break
    return make_result(problem, best_p, iterations=done * length, seconds=time.perf_counter() - t0,
                       solver="multistart", restarts=done, stopped_by=stopped)


def default_rounds(n: int) -> int:
    """Hahn-Grant dual-ascent rounds by default: ``min(1000, 5·10⁹ // n⁵)``.

    A round solves n² LAPs of size n - 1 (about 2 ns · n⁵ here: 0.2 s at n = 40, 1.4 s at
    n = 60, 23 s at n = 100), so the default spends about ten seconds' worth of rounds where
    they are cheap and none from n = 88 on, where a single round costs more than the search;
    pass ``rounds`` to ask for more.

    Parameters
    ----------
    n : int
        Free nodes.

    Returns
    -------
    int
    """
    return int(min(1000, 5 * 10**9 // n**5))


@_anchored
def hahn_grant(problem: QAPProblem, *, rounds: int | None = None, time_limit: float | None = None, init=None,
               seed: int = 0, restarts: int | None = None, progress: bool = False) -> QAPResult:
    """Multi-start tabu warm start, then Hahn-Grant dual ascent (see
    :func:`repalign.qap._jit.hahn_grant_rounds`) with a certified lower bound.

    Parameters
    ----------
    problem : QAPProblem
    rounds : int, optional
        Dual-ascent rounds (default :func:`default_rounds`; 0 gives the warm start alone and no
        bound). Stops earlier when the bound meets the incumbent (``stopped_by="optimal"``).
    time_limit : float, optional
        An optional cap in seconds for the whole call, warm start included; the clock is read
        inside every round (``stopped_by="time"`` when it binds).
    init : permutation (n,), optional
        Warm start; default :func:`multistart_tabu` with ``seed`` and ``restarts``.
    seed : int
        Seeds the warm start.
    restarts : int, optional
        Runs of the default warm start (default :data:`DEFAULT_RESTARTS`).
    progress : bool
        Progress bar on stderr.

    Returns
    -------
    QAPResult
        Never worse than the warm start; ``bound`` certified, ``optimal`` when the bound meets
        the incumbent (within rounding; for integer data within 1). Memory: three n³ float
        arrays (n = 40: 1.5 MB). Deterministic unless ``time_limit`` binds.

    References
    ----------
    Hahn & Grant, "Lower bounds for the quadratic assignment problem based upon a dual
    formulation", Operations Research 46 (1998), doi:10.1287/opre.46.6.912; schnaus2025 (arXiv:2503.24129).
    """
    problem = _as_problem(problem)
    time_limit = check_time_limit(time_limit)
    if rounds is not None:
        rounds = check_positive_int(rounds, "rounds", minimum=0)
    _jit.ensure_compiled()  # compile before the clock starts
    t0 = time.perf_counter()
    n = problem.n
    if n < 3:
        return brute_force(problem)
    A, B, L, c = _min_form(problem)
    stopped = "budget"
    if init is None:
        warm = multistart_tabu(problem, restarts=restarts, seed=seed, time_limit=time_limit, progress=progress)
        init = warm.permutation
        if warm.stopped_by == "time":
            stopped = "time"
    perm = check_permutation(init, n, "init").copy()
    inc = _jit.objective(A, B, L, perm)
    slack = 1.0 - 1e-6 if is_integral(problem) else 1e-9 * (1.0 + abs(inc))
    total = default_rounds(n) if rounds is None else rounds
    U = np.zeros((n, n, n))
    V = np.zeros((n, n, n))
    lb, done = -np.inf, 0
    per = max(1, int(2e6 // n**4))  # rounds per compiled call (progress updates in between)
    deadline = np.inf if time_limit is None else t0 + time_limit
    with progress_bar(total=total, desc=f"hahn-grant n={n}", unit="round", enabled=progress and total > 0) as bar:
        while done < total and stopped != "time":
            r_lb, inc, hist = _jit.hahn_grant_rounds(A, B, L, U, V, min(per, total - done), perm, inc, slack,
                                                     deadline)
            done += len(hist)
            lb = max(lb, r_lb)
            bar.set(done, lb=f"{lb + c:.6g}", ub=f"{inc + c:.6g}")
            if lb >= inc - slack:
                break
            if time.perf_counter() >= deadline:
                stopped = "time"
    bound = None
    if done and lb > -_jit.INF:  # no complete round: no bound (not a meaningless -1e300)
        # the bound carries the rounding of O(n²) summed terms; report it a hair lower
        safe = lb + c - 1e-12 * n * n * (np.abs(A).max() * np.abs(B).max() * n + np.abs(L).max() + 1.0)
        bound = -safe if problem.maximize else safe
    return make_result(problem, perm, bound=bound, iterations=done, seconds=time.perf_counter() - t0,
                       solver="hahn-grant", atol=2e-12 * n * n * (np.abs(A).max() * np.abs(B).max() * n + 1.0),
                       stopped_by=stopped)


#: name -> solver function, in the order and with the names of :data:`~repalign.qap.registry.SOLVER_INFO`
SOLVERS = {name: globals()[info.function] for name, info in SOLVER_INFO.items()}


def solve_qap(problem: QAPProblem, solver: str = "hahn-grant", *, time_limit: float | None = None,
              seed: int | None = None, **kwargs) -> QAPResult:
    """Solve ``problem`` with ``solver``.

    Every solver's default budget is counted in work (iterations, runs, rounds), so the same
    call gives the same answer on any machine under any load; ``time_limit`` is an optional
    cap on top (``QAPResult.stopped_by`` says when it bound).

    Parameters
    ----------
    problem : QAPProblem
    solver : str
        A key of :data:`SOLVERS` (default ``"hahn-grant"``: multi-start tabu, then dual ascent
        for a certified bound).
    time_limit : float, optional
        Seconds, for the solvers that take a cap (``tabu``, ``multistart``, ``hahn-grant``);
        refused for the others rather than ignored.
    seed : int, optional
        The solver's seed, for the solvers that draw random numbers (``faq``, ``tabu``,
        ``multistart``, ``hahn-grant``; default 0); refused for the deterministic ones.
    **kwargs
        Passed to the solver (its budget: ``max_iter``, ``restarts``, ``rounds``...).

    Returns
    -------
    QAPResult
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver: unknown {solver!r}; choose one of {', '.join(SOLVERS)}")
    time_limit = check_time_limit(time_limit)
    if time_limit is not None:
        if solver not in TIMED_SOLVERS:
            raise ValueError(f"time_limit: solver {solver!r} runs to completion and takes no time limit; "
                             f"use one of {', '.join(TIMED_SOLVERS)}")
        kwargs["time_limit"] = time_limit
    if seed is not None:
        if not SOLVER_INFO[solver].seeded:
            raise ValueError(f"seed: solver {solver!r} draws no random numbers; use one of "
                             f"{', '.join(k for k, v in SOLVER_INFO.items() if v.seeded)}")
        kwargs["seed"] = int(seed)
    return SOLVERS[solver](problem, **kwargs)
