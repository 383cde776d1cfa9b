"""Neighbourhood-based measures: mutual k-NN and CKNNA.

Both follow the platonic-representation paper's code (Huh et al. 2024), which schnaus2025
uses for its "Is matched data more similar?" study:

* ``mutual_knn``: rows are L2-normalised; for every sample i take the k nearest neighbours
  (largest inner product, i itself excluded) in each space; the score is the mean over i of
  ``|N_X(i) ∩ N_Y(i)| / k``. In [0, 1]; chance level is about ``k / (n - 1)``.
* ``cknna``: CKA restricted to mutual-neighbour pairs: with ``M_ij = 1`` when j is among the
  k nearest neighbours of i in *both* spaces, ``HSIC₁(M∘K, M∘L) / sqrt(HSIC₁(M_K∘K, M_K∘K)
  HSIC₁(M_L∘L, M_L∘L))`` with the unbiased HSIC for (possibly asymmetric) matrices and
  linear kernels on normalised rows.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_pair, check_positive_int
from ..kernels import cosine_normalize

__all__ = ["knn_indices", "mutual_knn", "cknna"]


def knn_indices(X: np.ndarray, k: int, block: int = 2048) -> np.ndarray:
    """Indices (n, k) of each row's k largest inner products with the other rows (self excluded).

    Ties are broken by the lower index, so the result is deterministic. Memory O(block · n).
    """
    n = X.shape[0]
    out = np.empty((n, k), dtype=np.int64)
    XT = np.ascontiguousarray(X.T)
    for s in range(0, n, block):
        e = min(n, s + block)
        S = X[s:e] @ XT
        S[np.arange(e - s), np.arange(s, e)] = -np.inf
        part = np.argpartition(-S, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(S, part, 1).min(axis=1)
        for r in range(e - s):
            row = S[r]
            cand = np.flatnonzero(row >= kth[r])  # the top k plus anything tied with the k-th
            order = np.lexsort((cand, -row[cand]))
            out[s + r] = cand[order[:k]]
    return out


def _check_k(k, n, name="k"):
    k = check_positive_int(k, name)
    if k > n - 1:
        raise ValueError(f"{name}: k = {k} needs at least k + 1 = {k + 1} samples, got n = {n}; lower k")
    return k


def mutual_knn(X, Y, k: int = 10) -> float:
    """Mutual k-NN alignment of row-paired ``X`` (n, dx) and ``Y`` (n, dy), in [0, 1].

    Invariant to orthogonal transforms, isotropic scaling of either space and joint row
    permutations. ``k`` defaults to 10 (the platonic-representation paper).
    """
    X, Y = check_pair(X, Y, min_samples=2)
    k = _check_k(k, X.shape[0])
    X, Y = cosine_normalize(X, "X"), cosine_normalize(Y, "Y")
    a, b = knn_indices(X, k), knn_indices(Y, k)
    n = X.shape[0]
    # count |N_X(i) ∩ N_Y(i)| row by row with sorted rows
    a.sort(axis=1)
    b.sort(axis=1)
    both = np.concatenate([a, b], axis=1)
    both.sort(axis=1)
    inter = (both[:, 1:] == both[:, :-1]).sum(axis=1)
    return float(inter.mean() / k) if n else 0.0


def _hsic_unbiased_general(K: np.ndarray, L: np.ndarray) -> float:
    """Song et al.'s unbiased HSIC for square, possibly asymmetric, matrices (diagonal ignored)."""
    m = K.shape[0]
    Kt = K.copy()
    Lt = L.copy()
    np.fill_diagonal(Kt, 0.0)
    np.fill_diagonal(Lt, 0.0)
    tr = np.einsum("ij,ji->", Kt, Lt)
    val = tr + Kt.sum() * Lt.sum() / ((m - 1) * (m - 2)) - 2.0 * (Kt.sum(0) @ Lt.sum(1)) / (m - 2)
    return float(val / (m * (m - 3)))


def cknna(X, Y, k: int = 10) -> float:
    """Mutual-neighbour CKA (CKNNA) of row-paired ``X`` and ``Y``; needs n >= 4 and k < n.

    Forms (n, n) matrices: intended for n up to a few thousand.
    """
    X, Y = check_pair(X, Y, min_samples=4)
    n = X.shape[0]
    k = _check_k(k, n)
    X, Y = cosine_normalize(X, "X"), cosine_normalize(Y, "Y")
    K = X @ np.ascontiguousarray(X.T)
    L = Y @ np.ascontiguousarray(Y.T)
    rows = np.arange(n)[:, None]
    mk = np.zeros((n, n))
    ml = np.zeros((n, n))
    mk[rows, knn_indices(X, k)] = 1.0
    ml[rows, knn_indices(Y, k)] = 1.0
    m = mk * ml
    kl = _hsic_unbiased_general(m * K, m * L)
    kk = _hsic_unbiased_general(mk * K, mk * K)
    ll = _hsic_unbiased_general(ml * L, ml * L)
    if kk <= 0 or ll <= 0:
        raise ValueError("cknna: a self-similarity is not positive (degenerate neighbourhoods); use more samples or another k")
    return float(kl / np.sqrt(kk * ll))
