"""Blind matching: pairing two embedding sets with no paired data at all (schnaus2025).

* :func:`class_means`: vision side, the L2-normalised mean image embedding per class.
* :func:`blind_match`: the QAP of :func:`repalign.qap.matching_problem` (GW, CKA or mutual
  k-NN) between the rows of X and of Y, solved by any QAP solver; the solver never sees the
  true order (Y is shuffled by a hidden seeded permutation first). Accuracy = fraction of rows
  matched to their true partner; chance is 1/N.
* :func:`select_subset`: the N of L items whose two similarity structures agree best under the
  known pairing (schnaus2025 Eq. 2: ``max_s Σ_ij -l(X_ij, Y_ij) s_i s_j``, ``|s| = N``), by
  greedy growth plus swap local search, or exactly by a MILP (scipy's HiGHS) when small.
* :func:`unsupervised_classifier`: k-means on image embeddings, cluster centres matched to
  class-name embeddings by blind matching; accuracy against the labels and against the
  Hungarian oracle (the best possible cluster-to-class map).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp
from scipy.sparse import lil_matrix
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from .._result import Result
from .._validate import as_embeddings, check_positive_int, check_time_limit
from ..kernels import cosine_normalize
from ..qap import SOLVER_INFO, matching_problem, solve_qap
from ..qap.losses import LOSSES, canonical_measure, measure_kernels
from ..qap.problem import strictly_better
from .metrics import confusion

__all__ = ["class_means", "blind_match", "BlindMatchResult", "select_subset", "SubsetResult",
           "unsupervised_classifier", "UnsupervisedResult", "agreement_matrix"]


def class_means(X, labels, n_classes: int | None = None, normalize: bool = True) -> np.ndarray:
    """L2-normalised mean embedding per class (the vision side of blind matching).

    Parameters
    ----------
    X : array, shape (n, d)
    labels : array of int, shape (n,)
        Classes 0..C-1; every class needs a row.
    n_classes : int, optional
    normalize : bool
        L2-normalise the means (default).

    Returns
    -------
    ndarray, shape (C, d)
    """
    X = as_embeddings(X, "X", min_samples=1)
    y = np.asarray(labels)
    if y.shape != (len(X),):
        raise ValueError(f"labels: expected shape ({len(X)},), one label per row of X, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
        raise ValueError("labels: expected non-negative integer class indices")
    C = int(y.max()) + 1 if n_classes is None else int(n_classes)
    counts = np.bincount(y, minlength=C)
    if (counts == 0).any():
        raise ValueError(f"labels: class {int(np.flatnonzero(counts == 0)[0])} has no rows; every class needs one")
    M = np.zeros((C, X.shape[1]))
    np.add.at(M, y, X)
    M /= counts[:, None]
    if normalize:
        norms = np.linalg.norm(M, axis=1, keepdims=True)
        if (norms == 0).any():
            raise ValueError("X: a class mean is the zero vector; cannot L2-normalise it")
        M = M / norms
    return M


@dataclass(frozen=True)
class BlindMatchResult(Result):
    """Result of :func:`blind_match`.

    Attributes
    ----------
    permutation : ndarray, shape (N,)
        ``permutation[i]`` = the row of Y matched to row i of X.
    accuracy : float
        Against the identity (rows given in true order).
    chance : float
        1/N.
    measure : str
    qap : QAPResult
        The solver's output (objective, bound, optimality, what stopped it).
    true_objective : float
        The objective of the true pairing (rows in the given order) on the same problem.
    solver_failure : bool
        The true pairing is strictly better than the matching found: the solver, not the
        objective, failed (the objective may still prefer a wrong matching when this is False).
    """

    kind: ClassVar[str] = "blind-match"

    permutation: np.ndarray = field(repr=False)
    accuracy: float
    chance: float
    measure: str
    qap: object = field(repr=False)
    true_objective: float = float("nan")
    solver_failure: bool = False

    @property
    def objective(self) -> float:
        """The objective of the matching found (``qap.objective``)."""
        return self.qap.objective

    def to_dict(self) -> dict:
        """Accuracy, chance, measure, permutation, true-pairing objective and the solver's result."""
        return {"kind": self.kind, "accuracy": self.accuracy, "chance": self.chance, "measure": self.measure,
                "objective": self.qap.objective, "true_objective": self.true_objective,
                "solver_failure": self.solver_failure, "permutation": self.permutation.tolist(),
                "qap": self.qap.to_dict()}


def blind_match(X, Y, measure: str = "gw", *, k: int = 3, standardize: bool = False, solver: str = "hahn-grant",
                time_limit: float | None = None, seed: int | None = None, shuffle_seed: int = 0,
                **solver_kwargs) -> BlindMatchResult:
    """Match the rows of ``X`` (N, d1) to those of ``Y`` (N, d2) without any pairs
    (schnaus2025 Eq. 1).

    Parameters
    ----------
    X, Y : array, shape (N, d1) and (N, d2)
        Rows are assumed in true order only to score the result; the solver sees Y shuffled by
        a permutation drawn from ``shuffle_seed``.
    measure : {"gw", "cka-linear", "mutual-knn"}
        The objective, named as in the measure registry.
    k : int
        Neighbours for ``mutual-knn`` (default 3).
    standardize : bool
        Off-diagonal standardisation of both kernels.
    solver : str
        Any of :data:`repalign.qap.SOLVERS` (default ``hahn-grant``: multi-start tabu search with
        a work budget, then dual-ascent rounds for a certified bound where they are affordable,
        N < 88 by default).
    time_limit : float, optional
        An optional cap in seconds for the solvers that take one; by default none, and the
        answer is the same on every machine (``qap.stopped_by`` says when a cap bound).
    seed : int, optional
        The solver's seed (default 0 for the solvers that draw random numbers).
    shuffle_seed : int
        Seeds the hidden shuffle of Y (default 0).
    **solver_kwargs
        The solver's budget and options (``restarts``, ``rounds``, ``max_iter``...).

    Returns
    -------
    BlindMatchResult
        With the objective of the true pairing beside the one found (``solver_failure`` when
        the true pairing is strictly better).

    References
    ----------
    schnaus2025 (arXiv:2503.24129) Eq. 1.
    """
    X, Y = as_embeddings(X, "X", min_samples=3), as_embeddings(Y, "Y", min_samples=3)
    if len(X) != len(Y):
        raise ValueError(f"X, Y: blind matching pairs N rows with N rows, got {len(X)} and {len(Y)}")
    n = len(X)
    hide = np.random.default_rng(shuffle_seed).permutation(n)
    measure = canonical_measure(measure)
    problem = matching_problem(X, Y[hide], measure, k=k, standardize=standardize)
    res = solve_qap(problem, solver, time_limit=time_limit, seed=seed, **solver_kwargs)
    perm = hide[res.permutation]  # row i of X -> row hide[p[i]] of Y
    truth = problem.objective(np.argsort(hide))  # row i of X -> its own row of Y, at position argsort(hide)[i]
    return BlindMatchResult(perm, float(np.mean(perm == np.arange(n))), 1.0 / n, measure, res, float(truth),
                            strictly_better(truth, res.objective, problem.maximize))


def agreement_matrix(X, Y, measure: str = "gw", *, k: int = 3, standardize: bool = False) -> np.ndarray:
    """How well each pair of items agrees across the two spaces under the known pairing.

    ``W_ij = -l(KX_ij, KY_ij)`` (larger = better); kernels are computed over all L items (for CKA,
    centring over all L rather than each subset); the diagonal is 0.

    Parameters
    ----------
    X, Y : array, shape (L, d1) and (L, d2)
    measure : {"gw", "cka-linear", "mutual-knn"}
    k : int
    standardize : bool

    Returns
    -------
    ndarray, shape (L, L)

    References
    ----------
    schnaus2025 (Schnaus et al., "It's a (Blind) Match!", CVPR 2025, arXiv:2503.24129), Eq. 2.
    """
    X, Y = as_embeddings(X, "X", min_samples=3), as_embeddings(Y, "Y", min_samples=3)
    if len(X) != len(Y):
        raise ValueError(f"X, Y: need the same number of rows (the known pairs), got {len(X)} and {len(Y)}")
    KX, KY, loss = measure_kernels(X, Y, measure, k=k, standardize=standardize)
    W = -LOSSES[loss](KX, KY)
    np.fill_diagonal(W, 0.0)  # a class with itself says nothing about agreement
    return W


@dataclass(frozen=True)
class SubsetResult(Result):
    """Result of :func:`select_subset`.

    Attributes
    ----------
    indices : ndarray of int
        The chosen items, sorted.
    score : float
        ``Σ_ij W_ij`` over the chosen pairs (both orders).
    method : str
    optimal : bool
        Proven optimal (MILP) or trivially (N = L).
    seconds : float
    """

    kind: ClassVar[str] = "subset"
    indices: np.ndarray = field(repr=False)  # sorted
    score: float  # Σ_ij W_ij over the chosen pairs (both orders)
    method: str
    optimal: bool
    seconds: float

    def to_dict(self) -> dict:
        return {"kind": self.kind, "indices": self.indices.tolist(), "score": self.score, "method": self.method,
                "optimal": self.optimal, "seconds": self.seconds}


def _subset_score(W, idx):
    return float(W[np.ix_(idx, idx)].sum())


def _grow_and_swap(Ws, N, start, max_rounds):
    L = len(Ws)
    chosen = np.zeros(L, dtype=bool)
    chosen[start] = True
    gain = Ws[start].sum(0)  # gain[x] = Σ_{c chosen} Ws[x, c]
    while chosen.sum() < N:
        x = int(np.argmax(np.where(chosen, -np.inf, gain)))
        chosen[x] = True
        gain = gain + Ws[x]
    # swap local search: exchange member a for outsider b while it improves
    for _ in range(max_rounds):
        ins, outs = np.flatnonzero(chosen), np.flatnonzero(~chosen)
        if outs.size == 0:
            break
        delta = gain[outs][None, :] - Ws[np.ix_(ins, outs)] - gain[ins][:, None]
        a, b = np.unravel_index(np.argmax(delta), delta.shape)
        if delta[a, b] <= 1e-12:
            break
        a, b = ins[a], outs[b]
        chosen[a], chosen[b] = False, True
        gain = gain - Ws[a] + Ws[b]
    return np.flatnonzero(chosen)


def _greedy_swap(W, N, starts: int = 10, max_rounds: int = 10_000, random_starts: int = 0, seed: int = 0):
    """Greedy growth (largest gain) then best-improvement swaps, from the best pair, from each
    of the ``starts`` items with the largest total agreement, and from ``random_starts`` random
    pairs drawn from ``seed``; the best subset wins (ties: the earlier start)."""
    Ws = W + W.T
    i, j = np.unravel_index(np.argmax(Ws + np.diag(np.full(len(W), -np.inf))), Ws.shape)
    seeds = [[i, j]] + [[x] for x in np.argsort(-Ws.sum(1), kind="stable")[:starts]]
    rng = np.random.default_rng(seed)
    seeds += [list(rng.choice(len(W), 2, replace=False)) for _ in range(random_starts)]
    best, best_score = None, -np.inf
    for st in seeds:
        idx = _grow_and_swap(Ws, N, st, max_rounds)
        sc = _subset_score(W, idx)
        if sc > best_score:
            best, best_score = idx, sc
    return best


def _milp(W, N, time_limit):

    L = len(W)
    Ws = W + W.T
    iu, ju = np.triu_indices(L, 1)
    P = len(iu)
    # variables: s (L), y (P) with y_ij = s_i s_j; maximise Σ Ws_ij y_ij
    c = np.concatenate([np.zeros(L), -Ws[iu, ju]])
    A = lil_matrix((3 * P + 1, L + P))
    lb, ub = [], []
    r = 0
    for p, (i, j) in enumerate(zip(iu, ju, strict=True)):
        A[r, L + p], A[r, i] = 1, -1  # y <= s_i
        lb.append(-np.inf)
        ub.append(0)
        A[r + 1, L + p], A[r + 1, j] = 1, -1  # y <= s_j
        lb.append(-np.inf)
        ub.append(0)
        A[r + 2, L + p], A[r + 2, i], A[r + 2, j] = 1, -1, -1  # y >= s_i + s_j - 1
        lb.append(-1)
        ub.append(np.inf)
        r += 3
    A[r, :L] = 1
    lb.append(N)
    ub.append(N)
    integrality = np.concatenate([np.ones(L), np.zeros(P)])
    res = milp(c, constraints=LinearConstraint(A.tocsr(), lb, ub), integrality=integrality,
               bounds=Bounds(0, 1), options={} if time_limit is None else {"time_limit": time_limit})
    if res.x is None:
        raise ValueError(f"time_limit: the MILP found no solution within {time_limit} s; raise it or use "
                         "method='greedy'")
    idx = np.flatnonzero(res.x[:L] > 0.5)
    return idx, res.status == 0


MILP_MAX_L = 40


def select_subset(X, Y, N: int, measure: str = "gw", *, method: str = "auto", k: int = 3, standardize: bool = False,
                  seed: int = 0, random_starts: int = 0, time_limit: float | None = None) -> SubsetResult:
    """Choose the N of L row pairs whose similarity structures agree best.

    ``max_s Σ_ij -l(X_ij, Y_ij) s_i s_j`` with ``|s| = N`` (see :func:`agreement_matrix`).

    Parameters
    ----------
    X, Y : array, shape (L, d1) and (L, d2)
        Known pairs.
    N : int
        2 <= N <= L.
    measure : {"gw", "cka-linear", "mutual-knn"}
    method : {"auto", "greedy", "milp"}
        ``greedy``: growth by largest gain, then best-improvement swaps from 11 deterministic
        starts (plus ``random_starts``); ``milp``: exact (scipy's HiGHS; L <= 40); ``auto``:
        MILP when L <= 20, else greedy.
    k : int
    standardize : bool
    seed : int
        Seeds the ``random_starts`` of the greedy method.
    random_starts : int
        Extra greedy starts from random pairs (default 0).
    time_limit : float, optional
        An optional cap on the MILP's seconds (default none: it runs to the proven optimum, the
        same on every machine); when it binds, ``optimal`` is False.

    Returns
    -------
    SubsetResult

    References
    ----------
    schnaus2025 (Schnaus et al., "It's a (Blind) Match!", CVPR 2025, arXiv:2503.24129), Eq. 2 (a p-dispersion-sum problem).
    """
    t0 = time.perf_counter()
    W = agreement_matrix(X, Y, measure, k=k, standardize=standardize)
    L = len(W)
    N = check_positive_int(N, "N", minimum=2)
    if N > L:
        raise ValueError(f"N: cannot choose {N} of {L} items; use N <= {L}")
    if method == "auto":
        method = "milp" if L <= 20 else "greedy"
    time_limit = check_time_limit(time_limit)
    random_starts = check_positive_int(random_starts, "random_starts", minimum=0)
    if method == "greedy":
        idx, optimal = _greedy_swap(W, N, random_starts=random_starts, seed=seed), N == L
    elif method == "milp":
        if L > MILP_MAX_L:
            raise ValueError(f"method: the MILP has L(L-1)/2 pair variables; L = {L} > {MILP_MAX_L}. Use 'greedy'")
        idx, optimal = _milp(W, N, time_limit)
    else:
        raise ValueError(f"method: expected 'auto', 'greedy' or 'milp', got {method!r}")
    idx = np.sort(idx)
    return SubsetResult(idx, _subset_score(W, idx), method, bool(optimal), time.perf_counter() - t0)


@dataclass(frozen=True)
class UnsupervisedResult(Result):
    """Result of :func:`unsupervised_classifier`.

    Attributes
    ----------
    predictions : ndarray of int, shape (n,)
    accuracy : float
        Against the labels (NaN without labels).
    oracle_accuracy : float
        With the Hungarian assignment of clusters to classes that agrees best with the labels.
    cluster_map, oracle_map : ndarray of int, shape (C,)
        Cluster -> class by blind matching, and by the oracle.
    matched_clusters : float
        Fraction of clusters mapped to their oracle class.
    chance : float
    confusion : ndarray of int, shape (C, C), or None
        Counts of (true class, predicted class); None without labels.
    objective, oracle_objective : float
        The matching objective of ``cluster_map`` and of ``oracle_map`` (NaN without labels).
    solver_failure : bool
        The oracle's map scores strictly better than the one found: the solver failed, not the
        objective.
    """

    kind: ClassVar[str] = "unsupervised"

    predictions: np.ndarray = field(repr=False)
    accuracy: float
    oracle_accuracy: float
    cluster_map: np.ndarray = field(repr=False)
    oracle_map: np.ndarray = field(repr=False)
    matched_clusters: float  # fraction of clusters mapped to their oracle class
    chance: float
    confusion: np.ndarray | None = field(default=None, repr=False)
    objective: float = float("nan")
    oracle_objective: float = float("nan")
    solver_failure: bool = False

    def to_dict(self) -> dict:
        return {"kind": self.kind, "accuracy": self.accuracy, "oracle_accuracy": self.oracle_accuracy,
                "matched_clusters": self.matched_clusters, "chance": self.chance, "objective": self.objective,
                "oracle_objective": self.oracle_objective, "solver_failure": self.solver_failure,
                "cluster_map": self.cluster_map.tolist(), "oracle_map": self.oracle_map.tolist(),
                "confusion": None if self.confusion is None else self.confusion.tolist()}


def unsupervised_classifier(images, class_text, labels=None, *, measure: str = "gw", solver: str = "hahn-grant",
                            time_limit: float | None = None, seed: int = 0, shuffle_seed: int = 0, n_init: int = 10,
                            **kwargs) -> UnsupervisedResult:
    """Classify images into classes named only by text, with no labels.

    k-means (C clusters) on L2-normalised image embeddings; the cluster centres are matched to
    the class texts by :func:`blind_match`.

    Parameters
    ----------
    images : array, shape (n, d1)
    class_text : array, shape (C, d2)
    labels : array of int, shape (n,), optional
        Used only for scoring.
    measure : {"gw", "cka-linear", "mutual-knn"}
    solver : str
    time_limit : float, optional
        An optional cap in seconds on the matching (default none: work budgets only).
    seed : int
        Seeds k-means and the solver.
    shuffle_seed : int
        Seeds the hidden shuffle of the class texts.
    n_init : int
        k-means restarts (default 10).
    **kwargs
        Passed to :func:`blind_match`.

    Returns
    -------
    UnsupervisedResult

    References
    ----------
    schnaus2025 (Schnaus et al., "It's a (Blind) Match!", CVPR 2025, arXiv:2503.24129), §5.
    """
    Xi = cosine_normalize(as_embeddings(images, "images"), "images")
    T = as_embeddings(class_text, "class_text", min_samples=3)
    C = len(T)
    if C > len(Xi):
        raise ValueError(f"class_text: {C} classes but only {len(Xi)} images; k-means needs n >= C")
    with threadpool_limits(1):  # the clusters must not depend on the core count (see select_base)
        km = KMeans(C, n_init=n_init, random_state=seed).fit(Xi)
    centres = km.cluster_centers_ / np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True)
    seeded = solver in SOLVER_INFO and SOLVER_INFO[solver].seeded  # an unknown solver: blind_match says so
    res = blind_match(centres, T, measure, solver=solver, time_limit=time_limit, shuffle_seed=shuffle_seed,
                      seed=seed if seeded else None, **kwargs)
    cmap = res.permutation  # cluster c -> class cmap[c]
    pred = cmap[km.labels_]
    acc = oracle = matched = float("nan")
    omap = np.full(C, -1)
    if labels is not None:
        y = np.asarray(labels)
        if y.shape != (len(Xi),):
            raise ValueError(f"labels: expected shape ({len(Xi)},), got {y.shape}")
        conf = np.zeros((C, C))
        np.add.at(conf, (km.labels_, y), 1)
        _, omap = linear_sum_assignment(conf, maximize=True)
        acc = float(np.mean(pred == y))
        oracle = float(conf[np.arange(C), omap].sum() / len(y))
        matched = float(np.mean(cmap == omap))
    cm = None if labels is None else confusion(np.asarray(labels), pred, C)
    oracle_obj, failed = float("nan"), False
    if labels is not None:  # the same problem in the classes' own order: objectives of both maps
        p0 = matching_problem(centres, T, res.measure, k=kwargs.get("k", 3), standardize=kwargs.get("standardize", False))
        oracle_obj = p0.objective(omap)
        failed = strictly_better(oracle_obj, res.objective, p0.maximize)
    return UnsupervisedResult(pred, acc, oracle, cmap, omap, matched, 1.0 / C, cm, float(res.objective),
                              float(oracle_obj), failed)
