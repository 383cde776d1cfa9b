"""Linear assignment: exact backends, a batched compiled solver, and the greedy / windowed
approximations of wald2024 (App. F).

Exact backends (:func:`solve`; every one returns the same optimum, tested):

* ``auto`` (the default): chosen by problem size from ``benchmarks/bench_rsm.py`` (real
  EfficientNet-Lite0 maps, 2 cores): ``lapjv`` up to n = 256 (batched, it beat scipy 1.5x at
  S = 49 and 1.2x at S = 196), ``ortools`` from n = 1024 when installed (3.3x scipy at
  S = 3136), ``scipy`` otherwise (it beat our ``lapjv`` 2x at S = 784 and 3136);
* ``scipy``: ``scipy.optimize.linear_sum_assignment`` (no extra dependency);
* ``lapjv``: repalign's own Jonker–Volgenant solver compiled with numba (column reduction,
  reduction transfer, two rounds of augmenting row reduction, then Dijkstra augmentation);
* ``lap``: the ``lap`` / ``lapx`` package's LAPJV, when installed;
* ``ortools``: OR-Tools' ``SimpleLinearSumAssignment``, when installed. It takes integer costs:
  the costs are shifted to start at 0 and scaled so that their range becomes 2⁶⁰ / (n + 1)²,
  then rounded (OR-Tools' cost scaling needs about n² of headroom below 2⁶³ for its prices: at
  2⁶³ / n² it reports ``POSSIBLE_OVERFLOW``, measured for n = 49 … 3136); the objective of the returned assignment is recomputed in float64. wald2024's code instead
  truncated ``cost × 1000``, which maps unit-norm features' small affinities onto a handful of
  integers (tested: on unit-norm features it returns suboptimal assignments; ours does not).

For semantic RSMs many small problems (one per sample pair) are solved; :func:`max_inner_batch`
does a stack of them in one compiled, parallel loop with no Python overhead per problem.
Which backend is fastest depends on the size and the structure (see ``benchmarks/bench_rsm.py``).

Approximations of the optimal assignment of two sets of vectors (rows of ``Xa``, ``Xb``) that
maximises ``Σ ⟨xa_r, xb_π(r)⟩`` (wald2024 App. F):

* ``greedy``: rows of A in order of decreasing norm, each to its best free row of B;
* ``topk-greedy:K``: the K largest-norm vectors of each side matched optimally, the rest greedily;
* ``batch-optimal:W``: both sides sorted by norm and cut into windows of W, each window pair
  matched optimally.

And one that is not in the paper, because on our maps none of the three above is both close to
the optimum and much faster than it (``benchmarks/bench_rsm.py``):

* ``auction:TOL`` (:func:`auction`): Bertsekas' auction algorithm with ε-scaling, stopped as soon
  as the duality gap certifies ``value ≥ (1 − TOL) · optimum`` (default TOL = 0.01). The
  certificate is the dual bound ``Σ_i max_j (M_ij − p_j) + Σ_j p_j ≥ optimum``, valid for any
  prices p, so the guarantee holds on every input, not only on average.

References
----------
Jonker & Volgenant, "A shortest augmenting path algorithm for dense and sparse linear
assignment problems", Computing 38 (1987), doi:10.1007/BF02278710; Bertsekas, "The auction
algorithm: a distributed relaxation method for the assignment problem", Annals of Operations
Research 14 (1988), doi:10.1007/BF02186476; wald2024 (arXiv:2410.23107).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np
from numba import njit, prange
from scipy.optimize import linear_sum_assignment

from ._fork import kernel
from ._optional import optional
from ._result import Result
from ._simd import best_two, max_minus
from ._validate import check_square_matrix

__all__ = ["solve", "resolve_backend", "BACKENDS", "available_backends", "max_inner_batch", "approximate", "parse_matcher",
           "LAP_METHODS", "lapjv", "auction", "auction_jv", "auction_batch", "AuctionResult"]

BACKENDS = ("auto", "scipy", "lapjv", "auction-jv", "lap", "ortools")
LAP_METHODS = ("optimal", "greedy", "topk-greedy", "batch-optimal", "auction", "none")
AUCTION_TOL = 0.01  # ``auction`` without a tolerance
_BIG = 1e300


def _square_stack(M) -> np.ndarray:
    """``M`` as a C-contiguous float64 stack of square matrices (k, S, S)."""
    M = np.ascontiguousarray(M, dtype=np.float64)
    if M.ndim != 3 or M.shape[1] != M.shape[2]:
        raise ValueError(f"M: expected a stack of square matrices (k, S, S), got shape {M.shape}")
    return M


@njit(cache=True)
def lapjv(C):
    """Jonker–Volgenant on a square float cost matrix, minimising. Returns ``(rowsol, value)``."""
    n = C.shape[0]
    rowsol = np.full(n, -1, np.int64)
    colsol = np.full(n, -1, np.int64)
    v = np.empty(n)
    free = np.empty(n, np.int64)
    numfree = _jv_start(C, v, rowsol, colsol, free)
    _jv_augment(C, v, rowsol, colsol, free, numfree)
    value = 0.0
    for i in range(n):
        value += C[i, rowsol[i]]
    return rowsol, value


@njit(cache=True)
def _jv_start(C, v, rowsol, colsol, free):
    """JV's initialisation: column reduction, reduction transfer and two rounds of augmenting
    row reduction (:func:`_jv_row_reduction`); fills the column duals ``v`` and a partial assignment, returns the number of
    free rows (listed first in ``free``). Every assigned row i then satisfies
    ``C[i, rowsol[i]] - v[rowsol[i]] = min_j (C[i, j] - v[j])``."""
    n = C.shape[0]
    matches = np.zeros(n, np.int64)
    # column reduction (reverse order gives better starts)
    for j in range(n - 1, -1, -1):
        imin = 0
        mn = C[0, j]
        for i in range(1, n):
            if C[i, j] < mn:
                mn = C[i, j]
                imin = i
        v[j] = mn
        matches[imin] += 1
        if matches[imin] == 1:
            rowsol[imin] = j
            colsol[j] = imin
        elif v[j] < v[rowsol[imin]]:
            j1 = rowsol[imin]
            rowsol[imin] = j
            colsol[j] = imin
            colsol[j1] = -1
        else:
            colsol[j] = -1
    # reduction transfer
    numfree = 0
    for i in range(n):
        if matches[i] == 0:
            free[numfree] = i
            numfree += 1
        elif matches[i] == 1:
            j1 = rowsol[i]
            mn = _BIG
            for j in range(n):
                if j != j1 and C[i, j] - v[j] < mn:
                    mn = C[i, j] - v[j]
            v[j1] = v[j1] - mn
    return _jv_row_reduction(C, v, rowsol, colsol, free, numfree, 2)


@njit(cache=True)
def _jv_row_reduction(C, v, rowsol, colsol, free, numfree, rounds):
    """JV's augmenting row reduction (an auction with exact bids), ``rounds`` times over the free
    rows; keeps the invariant of :func:`_jv_start` and returns the number of rows still free."""
    n = C.shape[0]
    for _ in range(rounds):
        k = 0
        prvnumfree = numfree
        numfree = 0
        guard = 0
        while k < prvnumfree:
            guard += 1
            if guard > n:  # long (or floating-point cycling) runs: leave the rest to the augmentation
                for kk in range(k, prvnumfree):
                    free[numfree] = free[kk]
                    numfree += 1
                break
            i = free[k]
            k += 1
            umin = C[i, 0] - v[0]
            j1 = 0
            j2 = 0
            usubmin = _BIG
            for j in range(1, n):
                h = C[i, j] - v[j]
                if h < usubmin:
                    if h >= umin:
                        usubmin = h
                        j2 = j
                    else:
                        usubmin = umin
                        umin = h
                        j2 = j1
                        j1 = j
            i0 = colsol[j1]
            if umin < usubmin:
                v[j1] = v[j1] - (usubmin - umin)
            elif i0 > -1:
                j1 = j2
                i0 = colsol[j2]
            if rowsol[i] > -1 and colsol[rowsol[i]] == i:
                colsol[rowsol[i]] = -1
            rowsol[i] = j1
            colsol[j1] = i
            if i0 > -1:
                rowsol[i0] = -1
                if umin < usubmin:
                    k -= 1
                    free[k] = i0
                else:
                    free[numfree] = i0
                    numfree += 1
    return numfree


@njit(cache=True)
def _jv_augment(C, v, rowsol, colsol, free, numfree):
    """JV's augmentation: a shortest augmenting path (Dijkstra on reduced costs) from each of the
    ``numfree`` free rows, updating the column duals ``v``. Needs the invariant of
    :func:`_jv_start` for the assigned rows (any ``v`` will do); ends with a full assignment that
    is optimal for ``C``, with ``v`` a matching dual solution."""
    n = C.shape[0]
    d = np.empty(n)
    pred = np.empty(n, np.int64)
    collist = np.empty(n, np.int64)
    for f in range(numfree):
        freerow = free[f]
        for j in range(n):
            d[j] = C[freerow, j] - v[j]
            pred[j] = freerow
            collist[j] = j
        low = 0
        up = 0
        last = 0
        mn = 0.0
        endofpath = -1
        found = False
        while not found:
            if up == low:
                last = low - 1
                mn = d[collist[up]]
                up += 1
                for k in range(up, n):
                    j = collist[k]
                    h = d[j]
                    if h <= mn:
                        if h < mn:
                            up = low
                            mn = h
                        collist[k] = collist[up]
                        collist[up] = j
                        up += 1
                for k in range(low, up):
                    if colsol[collist[k]] < 0:
                        endofpath = collist[k]
                        found = True
                        break
            if not found:
                j1 = collist[low]
                low += 1
                i = colsol[j1]
                h = C[i, j1] - v[j1] - mn
                for k in range(up, n):
                    j = collist[k]
                    v2 = C[i, j] - v[j] - h
                    if v2 < d[j]:
                        pred[j] = i
                        if v2 == mn:
                            if colsol[j] < 0:
                                endofpath = j
                                found = True
                                break
                            collist[k] = collist[up]
                            collist[up] = j
                            up += 1
                        d[j] = v2
        for k in range(last + 1):
            j1 = collist[k]
            v[j1] = v[j1] + d[j1] - mn
        while True:
            i = pred[endofpath]
            colsol[endofpath] = i
            j1 = endofpath
            endofpath = rowsol[i]
            rowsol[i] = j1
            if i == freerow:
                break


@njit(cache=True, parallel=True)
def _max_inner_batch(M, out):
    for b in prange(M.shape[0]):
        _, val = lapjv(-M[b])
        out[b] = -val


@njit(cache=True, parallel=True)
def _max_inner_batch_aj(M, handoff, max_bids, out, bound):
    for b in prange(M.shape[0]):
        res = _auction_jv(M[b], handoff, max_bids, 2)
        out[b] = res[1]
        bound[b] = res[2]


#: relative slack of the auction-jv certificate: ``bound − value`` above this share of the scale
#: (``Σ_r max_s |M_rs|``) sends the pair to scipy (never seen: the gaps are ~1e-15)
CERTIFY_RTOL = 1e-10


def max_inner_batch(M: np.ndarray, backend: str = "lapjv") -> np.ndarray:
    """Optimal assignment value of every square affinity matrix in a stack, maximising.

    Parameters
    ----------
    M : ndarray, shape (k, S, S)
        ``M[b, r, s]`` = affinity of row r of one set with row s of the other.
    backend : {"lapjv", "auction-jv"}
        ``lapjv``: own Jonker–Volgenant; ``auction-jv``: :func:`auction_jv` (each value certified
        by its dual bound; a pair whose certificate is off by more than :data:`CERTIFY_RTOL` is
        solved again by scipy). Either way one compiled loop, parallel over the stack.

    Returns
    -------
    ndarray, shape (k,)
        ``max_π Σ_r M[b, r, π(r)]``.
    """
    M = _square_stack(M)
    out = np.empty(M.shape[0])
    if not M.shape[0]:
        return out
    if backend == "lapjv":
        kernel(_max_inner_batch)(M, out)
        return out
    if backend != "auction-jv":
        raise ValueError(f"backend: the batched solvers are 'lapjv' and 'auction-jv', got {backend!r}")
    n = M.shape[1]
    bound = np.empty(M.shape[0])
    if n:
        kernel(_max_inner_batch_aj)(M, _handoff(n), _max_bids(n), out, bound)
    else:
        out[:] = bound[:] = 0.0
    gap = np.abs(bound - out)
    # |value| <= scale, so most pairs pass on |value| alone; the scale is computed for the rest
    for b in np.flatnonzero(gap > CERTIFY_RTOL * np.abs(out)):
        if gap[b] > CERTIFY_RTOL * np.abs(M[b]).max(axis=1).sum():  # pragma: no cover - a safety net
            out[b] = solve(M[b], maximize=True, backend="scipy")[1]
    return out


def available_backends() -> list[str]:
    """The exact backends that can run here (optional packages installed).

    Returns
    -------
    list of str
    """
    out = ["scipy", "lapjv", "auction-jv"]
    try:
        optional("lap")

        out.append("lap")
    except ImportError:
        pass
    try:
        optional("ortools.graph.python.linear_sum_assignment")

        out.append("ortools")
    except ImportError:
        pass
    return out


def _ortools(C):
    ort = optional("ortools.graph.python.linear_sum_assignment")

    n = C.shape[0]
    scale = float(2.0**60 / (n + 1) ** 2 / max(float(C.max() - C.min()), 1e-300))
    Ci = np.rint((C - C.min()) * scale).astype(np.int64)  # non-negative: OR-Tools' own convention
    a = ort.SimpleLinearSumAssignment()
    a.add_arcs_with_cost(np.repeat(np.arange(n), n), np.tile(np.arange(n), n), Ci.ravel())
    status = a.solve()
    if status != a.OPTIMAL:  # pragma: no cover - square dense problems are always feasible
        raise ValueError(f"ortools: the assignment solver returned status {status}")
    return np.array([a.right_mate(i) for i in range(n)], dtype=np.int64)


def resolve_backend(backend: str, n: int) -> str:
    """The exact backend ``auto`` stands for at size ``n`` (module docstring); others unchanged.

    Parameters
    ----------
    backend : str
        One of :data:`BACKENDS`.
    n : int
        Problem size (S).

    Returns
    -------
    str
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: unknown {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    if n <= 256:
        return "lapjv"
    if n >= 1024 and "ortools" in available_backends():
        return "ortools"
    return "scipy"


def solve(cost, *, maximize: bool = False, backend: str = "auto") -> tuple[np.ndarray, float]:
    """Optimal linear assignment of a square cost matrix with one of the exact backends.

    Parameters
    ----------
    cost : array, shape (n, n)
        Finite float costs (affinities when ``maximize``).
    maximize : bool
    backend : {"auto", "scipy", "lapjv", "auction-jv", "lap", "ortools"}
        See the module docstring; optional ones say which package to install.

    Returns
    -------
    cols : ndarray of int, shape (n,)
        Row i goes to column ``cols[i]``.
    value : float
        ``Σ_i cost[i, cols[i]]`` in float64.
    """
    C = check_square_matrix(cost, "cost")
    backend = resolve_backend(backend, C.shape[0])
    if C.shape[0] == 0:
        return np.zeros(0, np.int64), 0.0
    Cm = -C if maximize else C
    if backend == "scipy":
        cols = linear_sum_assignment(Cm)[1]
    elif backend == "lapjv":
        cols = lapjv(np.ascontiguousarray(Cm))[0]
    elif backend == "auction-jv":
        cols = auction_jv(-Cm).perm
    elif backend == "lap":
        try:
            lap = optional("lap")
        except ImportError:
            raise ValueError("backend: 'lap' needs the package lapx (pip install lapx)") from None
        cols = lap.lapjv(np.ascontiguousarray(Cm), extend_cost=False)[1]
    else:
        try:
            optional("ortools")
        except ImportError:
            raise ValueError("backend: 'ortools' needs the package ortools (pip install ortools)") from None
        cols = _ortools(Cm)
    cols = np.asarray(cols, dtype=np.int64)
    return cols, float(C[np.arange(len(cols)), cols].sum())


# ------------------------------------------------------------------------------------ auction


@njit(cache=True)
def _dual_bound(M, p):
    """``Σ_i max_j (M_ij − p_j) + Σ_j p_j``: an upper bound on the optimum for any prices p."""
    total = 0.0
    for i in range(M.shape[0]):
        total += max_minus(M[i], p)
    return total + p.sum()


@njit(cache=True)
def _auction(M, tol, max_bids):
    """Forward auction with ε-scaling, maximising; see :func:`auction` and :func:`_auction_prices`.

    Returns ``(perm, value, bound, phases, bids, complete)``."""
    r = _auction_prices(M, tol, max_bids, np.zeros(M.shape[0]))
    return r[0], r[1], r[2], r[3], r[4], r[5]


@njit(cache=True)
def _auction_prices(M, tol, max_bids, p):
    """Forward auction with ε-scaling, maximising, from the prices ``p`` (updated in place).

    Returns ``(perm, value, bound, phases, bids, complete, last)``: the best assignment seen, its
    value, the best dual bound, and ``last``, the final phase's assignment (ε-complementary
    slack with the final ``p``). Every phase starts from the
    previous phase's prices with nobody assigned and ends with a full assignment satisfying
    ε-complementary slackness (value ≥ optimum − n ε). After each phase the dual bound of the
    current prices is computed; the loop stops when ``bound − value ≤ tol · |bound|`` or when ε
    has reached ``range · 1e-7 / n``. A phase that exceeds ``max_bids`` bids (a safety net; not
    seen in practice) is cut short: its unassigned rows take their best free columns.
    """
    n = M.shape[0]
    rng = M.max() - M.min()
    perm = np.arange(n)
    best_perm = perm.copy()
    if n <= 1 or rng == 0.0:  # every permutation is optimal
        v = 0.0
        for i in range(n):
            v += M[i, i]
        return best_perm, v, v, 0, 0, True, perm
    owner = np.empty(n, np.int64)
    stack = np.empty(n, np.int64)
    eps_min = rng * 1e-7 / n
    eps = rng / 8.0
    best_val = -np.inf
    bound = np.inf
    phases = 0
    bids = 0
    complete = True
    while True:
        phases += 1
        owner[:] = -1
        perm[:] = -1
        for i in range(n):
            stack[i] = n - 1 - i
        top = n
        phase_bids = 0
        while top > 0 and phase_bids < max_bids:
            top -= 1
            i = stack[top]
            v1, j1, v2 = best_two(M[i], p)
            p[j1] += v1 - v2 + eps  # the bid: at least eps, so every phase ends
            phase_bids += 1
            o = owner[j1]
            owner[j1] = i
            perm[i] = j1
            if o >= 0:
                perm[o] = -1
                stack[top] = o
                top += 1
        bids += phase_bids
        if top > 0:  # cut short: finish greedily so that perm is a permutation
            complete = False
            for t in range(top):
                i = stack[t]
                bj = -1
                bv = -np.inf
                for j in range(n):
                    if owner[j] < 0 and M[i, j] > bv:
                        bv = M[i, j]
                        bj = j
                owner[bj] = i
                perm[i] = bj
        val = 0.0
        for i in range(n):
            val += M[i, perm[i]]
        if val > best_val:
            best_val = val
            best_perm[:] = perm
        b = _dual_bound(M, p)
        if b < bound:
            bound = b
        if bound - best_val <= tol * abs(bound) or eps <= eps_min or not complete:
            break
        eps = max(eps / 5.0, eps_min)
    return best_perm, best_val, bound, phases, bids, complete, perm


@njit(cache=True)
def _auction_jv(M, handoff, max_bids, rounds):
    """An exact assignment maximising ``M``: the ε-scaling auction until its certified gap is
    ``handoff`` (cheap: the auction's early phases settle most rows), then Jonker–Volgenant from
    the auction's prices. Rows whose auction column is not exactly their best at those prices
    are freed; the others keep it (JV's invariant holds for them); JV's shortest augmenting
    paths finish the free rows and make the duals exact. Returns ``(perm, value, bound, prices)``: at the
    end ``bound`` (the dual objective of JV's duals) equals ``value`` up to rounding, certifying
    the optimum; ``rounds`` of augmenting row reduction run before the augmentation (2: by
    benchmark). Warm starts from a neighbouring pair's prices were tried and did not pay on
    EfficientNet maps (the optimal prices of two pairs sharing one image differ too much)."""
    n = M.shape[0]
    C = -M
    v = np.zeros(n)
    res = _auction_prices(M, handoff, max_bids, v)
    rowsol = res[6].copy()
    for j in range(n):
        v[j] = -v[j]  # prices p maximising M are the duals -p of C's minimisation
    colsol = np.full(n, -1, np.int64)
    free = np.empty(n, np.int64)
    numfree = 0
    for i in range(n):
        j = rowsol[i]
        if j < 0:
            free[numfree] = i
            numfree += 1
            continue
        h = C[i, j] - v[j]
        best = True
        for k in range(n):
            if C[i, k] - v[k] < h:
                best = False
                break
        if best and colsol[j] < 0:
            colsol[j] = i
        else:
            rowsol[i] = -1
            free[numfree] = i
            numfree += 1
    numfree = _jv_row_reduction(C, v, rowsol, colsol, free, numfree, rounds)
    _jv_augment(C, v, rowsol, colsol, free, numfree)
    value = 0.0
    for i in range(n):
        value += M[i, rowsol[i]]
    for j in range(n):
        v[j] = -v[j]
    return rowsol, value, _dual_bound(M, v), v


def _handoff(n: int) -> float:
    """The auction's certified gap at which :func:`auction_jv` hands over to JV, by benchmark
    (``benchmarks/bench_rsm.py``, real maps): 1e-2 up to S = 256, 1e-3 above."""
    return 1e-2 if n <= 256 else 1e-3


def auction_jv(M) -> AuctionResult:
    """An optimal assignment maximising ``Σ_i M[i, perm[i]]``, exact and certified: the ε-scaling
    :func:`auction` until its certified gap is small (1e-2, 1e-3 above n = 256), then
    Jonker–Volgenant (augmenting row reduction and shortest augmenting paths) from the auction's
    prices, which settle most of the work: 1.5-2x faster than scipy per problem at S = 49,
    2.9-3.3x at S = 196, 6-8x at S = 784 and ~13x at S = 3136 on EfficientNet maps, one thread
    (``benchmarks/bench_rsm.py``; the bids scan 8 columns at once, :mod:`repalign._simd`).

    The rows whose auction column is not exactly their best at the final prices are freed (about
    half: the last bids leave each bidder ε short), the others keep their column; JV then ends
    with duals that certify the optimum: ``bound`` (the assignment LP's dual objective) equals
    ``value`` up to rounding (tested against scipy on random, integer and tied matrices).

    Parameters
    ----------
    M : array, shape (n, n)
        Finite affinities (float64).

    Returns
    -------
    AuctionResult
        ``phases``/``bids`` are reported as 0 (the auction's count is internal to the hybrid).

    References
    ----------
    Bertsekas (1988), doi:10.1007/BF02186476; Jonker & Volgenant (1987), doi:10.1007/BF02278710.
    """
    A = np.ascontiguousarray(check_square_matrix(M, "M"))
    n = A.shape[0]
    if n == 0:
        return AuctionResult(np.zeros(0, np.int64), 0.0, 0.0, 0, 0)
    perm, value, bound, _ = _auction_jv(A, _handoff(n), _max_bids(n), 2)
    return AuctionResult(np.asarray(perm, dtype=np.int64), float(value), float(bound), 0, 0)


def _max_bids(n: int) -> int:
    """Bids per phase before the safety net in :func:`_auction` cuts it short."""
    return 50 * n * n + 10_000


def _check_tol(tol, what: str = "tol") -> float:
    """The auction's relative gap as a float in (0, 1); ``what`` names it in the error."""
    try:
        value = float(tol)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {tol!r}") from None
    if not 0.0 < value < 1.0:
        raise ValueError(f"{what} must be in (0, 1), e.g. 0.01, got {tol}")
    return value


@dataclass(frozen=True)
class AuctionResult(Result):
    """An assignment from :func:`auction` with its certificate.

    Attributes
    ----------
    perm : ndarray of int, shape (n,)
        Row i goes to column ``perm[i]``.
    value : float
        ``Σ_i M[i, perm[i]]``.
    bound : float
        Dual upper bound: ``value ≤ optimum ≤ bound``.
    phases, bids : int
        ε-scaling phases and bids made.
    """

    kind: ClassVar[str] = "auction"

    perm: np.ndarray
    value: float
    bound: float
    phases: int
    bids: int

    @property
    def gap(self) -> float:
        """Certified relative gap ``(bound − value) / |bound|`` (0 when both are 0)."""
        return float((self.bound - self.value) / abs(self.bound)) if self.bound else float(self.bound - self.value)

    def to_dict(self) -> dict:
        d = {"kind": self.kind, **asdict(self)}
        d["perm"] = self.perm.tolist()
        d["gap"] = self.gap
        return d


def auction(M, *, tol: float = AUCTION_TOL) -> AuctionResult:
    """A near-optimal assignment maximising ``Σ_i M[i, perm[i]]``, with a certified gap.

    Bertsekas' forward auction (Gauss–Seidel bids) with ε-scaling: ε starts at range(M)/8 and is
    divided by 5 per phase, prices carried over. After each phase the dual bound
    ``Σ_i max_j (M_ij − p_j) + Σ_j p_j`` (an upper bound on the optimum for any prices, by LP
    duality) is compared with the assignment's value; the solver stops once
    ``bound − value ≤ tol · |bound|``, so ``value ≥ (1 − tol) · optimum`` whenever the
    optimum is positive. ε stops shrinking at ``range · 1e-7 / n``: the value is then within
    ``1e-7 · range`` of the optimum (ε-complementary slackness), whatever ``tol``.

    Its quality and speed against the exact solvers and the paper's Batch-Optimal on real feature
    maps are measured by ``benchmarks/bench_rsm.py`` (README, semantic RSMs).

    Parameters
    ----------
    M : array, shape (n, n)
        Finite affinities (float64).
    tol : float
        Certified relative gap to stop at, in (0, 1). Default 0.01.

    Returns
    -------
    AuctionResult

    References
    ----------
    Bertsekas, Annals of Operations Research 14 (1988), doi:10.1007/BF02186476 (the auction,
    ε-complementary slackness and ε-scaling); the bound is the assignment LP's dual objective
    at ``u_i = max_j (M_ij − p_j)``.
    """
    A = check_square_matrix(M, "M")
    tol = _check_tol(tol)
    n = A.shape[0]
    if n == 0:
        return AuctionResult(np.zeros(0, np.int64), 0.0, 0.0, 0, 0)
    perm, value, bound, phases, bids, _ = _auction(np.ascontiguousarray(A), tol, _max_bids(n))
    return AuctionResult(np.asarray(perm, dtype=np.int64), float(value), float(bound), int(phases), int(bids))


@njit(cache=True, parallel=True)
def _auction_batch(M, tol, max_bids, out):
    for b in prange(M.shape[0]):
        out[b] = _auction(M[b], tol, max_bids)[1]


def auction_batch(M: np.ndarray, tol: float = AUCTION_TOL) -> np.ndarray:
    """:func:`auction` values of a stack of square affinity matrices, in one compiled parallel loop.

    Parameters
    ----------
    M : ndarray, shape (k, S, S)
        Finite affinities.
    tol : float
        Certified relative gap, in (0, 1).

    Returns
    -------
    ndarray, shape (k,)
        ``Σ_r M[b, r, perm_b[r]]``, each within ``tol`` of its optimum (see :func:`auction`).
    """
    M = _square_stack(M)
    tol = _check_tol(tol)
    out = np.zeros(M.shape[0])
    if M.shape[0] and M.shape[1]:
        kernel(_auction_batch)(M, tol, _max_bids(M.shape[1]), out)
    return out


# ------------------------------------------------------------------------------ approximations


def parse_matcher(spec: str) -> tuple[str, int | float | None]:
    """``"optimal"``, ``"greedy"``, ``"none"``, ``"topk-greedy:K"``, ``"batch-optimal:W"`` or
    ``"auction[:TOL]"``.

    Parameters
    ----------
    spec : str

    Returns
    -------
    name : str
    k : int, float or None
        K or W (int); TOL for ``auction`` (float, default 0.01).
    """
    name, _, arg = str(spec).partition(":")
    if name not in LAP_METHODS:
        raise ValueError(f"matcher: unknown {spec!r}; use optimal, greedy, none, topk-greedy:K, batch-optimal:W "
                         "or auction:TOL")
    if name == "auction":
        return name, _check_tol(arg, "matcher: auction tolerance") if arg else AUCTION_TOL
    if name in ("topk-greedy", "batch-optimal"):
        if not arg:
            raise ValueError(f"matcher: {name} needs a size, e.g. {name}:128")
        try:
            k = int(arg)
        except ValueError:
            raise ValueError(f"matcher: {name} size must be an integer, got {arg!r}") from None
        if k <= 0:
            raise ValueError(f"matcher: {name} size must be >= 1, got {k}")
        return name, k
    if arg:
        raise ValueError(f"matcher: {name} takes no size, got {spec!r}")
    return name, None


@njit(cache=True)
def _greedy(M, rows_order, cols_free_mask, perm):
    """Rows in ``rows_order``, each to its best free column of M (marks them used)."""
    S = M.shape[1]
    for r in rows_order:
        best = -np.inf
        bj = -1
        for j in range(S):
            if cols_free_mask[j] and M[r, j] > best:
                best = M[r, j]
                bj = j
        perm[r] = bj
        cols_free_mask[bj] = False


def approximate(M: np.ndarray, norms_a: np.ndarray, norms_b: np.ndarray, matcher: str, k: int | None = None,
                backend: str = "auto") -> tuple[np.ndarray, float]:
    """An approximately optimal assignment of one affinity matrix (wald2024 App. F).

    Parameters
    ----------
    M : ndarray, shape (S, S)
        ``M[r, s] = ⟨xa_r, xb_s⟩``.
    norms_a, norms_b : ndarray, shape (S,)
        Norms of the vectors of each side (the order of the approximations).
    matcher : {"optimal", "greedy", "topk-greedy", "batch-optimal", "auction", "none"}
    k : int or float, optional
        K (top-k), W (window) or the auction's tolerance (default 0.01).
    backend : str
        Exact solver for the optimal parts.

    Returns
    -------
    perm : ndarray of int, shape (S,)
    value : float
        ``Σ_r M[r, perm[r]]``.

    References
    ----------
    wald2024 (arXiv:2410.23107), App. F.
    """
    S = M.shape[0]
    if matcher == "none":
        perm = np.arange(S)
    elif matcher == "optimal":
        perm = solve(M, maximize=True, backend=backend)[0]
    elif matcher == "auction":
        perm = auction(M, tol=AUCTION_TOL if k is None else k).perm
    else:
        oa = np.argsort(-norms_a, kind="stable")
        ob = np.argsort(-norms_b, kind="stable")
        perm = np.full(S, -1, dtype=np.int64)
        free = np.ones(S, dtype=np.bool_)
        if matcher == "greedy":
            _greedy(M, oa, free, perm)
        elif matcher == "topk-greedy":
            kk = min(k, S)
            ra, rb = oa[:kk], ob[:kk]
            cols, _ = solve(M[np.ix_(ra, rb)], maximize=True, backend=backend)
            perm[ra] = rb[cols]
            free[rb] = False
            _greedy(M, oa[kk:], free, perm)
        elif matcher == "batch-optimal":
            for s in range(0, S, k):
                ra, rb = oa[s:s + k], ob[s:s + k]
                cols, _ = solve(M[np.ix_(ra, rb)], maximize=True, backend=backend)
                perm[ra] = rb[cols]
        else:
            raise ValueError(f"matcher: unknown {matcher!r}")
    return perm, float(M[np.arange(S), perm].sum())
