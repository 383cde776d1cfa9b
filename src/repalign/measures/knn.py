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

  Deliberate difference: the reference code divides by ``sqrt(kk·ll) + 1e-6``. HSIC₁ of masked
  cosine kernels shrinks like k/n, so that absolute constant biases the value downward by an
  amount that grows with n (5.6e-4 at n = 1,000, k = 10). repalign divides by ``sqrt(kk·ll)``
  exactly (``eps=0``, the default); ``eps=1e-6`` (:data:`REFERENCE_EPS`) reproduces the
  reference numbers to 1e-12 (tested against a transcription of the reference).

``groups`` (optional, shape (n,)): rows with the same group value are never each other's
neighbours. The bootstrap uses it so that copies of one item drawn twice do not count as
neighbours of each other (which would inflate both measures).
"""

from __future__ import annotations

import numpy as np

from .._device import compute_device
from .._validate import check_pair, check_positive_int
from ..kernels import cosine_normalize, linear_gram
from .kernel_alignment import unbiased_hsic

__all__ = ["knn_indices", "topk_rows", "mutual_knn", "cknna", "knn_overlap", "knn_from_similarity", "knn_mask",
           "cknna_from_similarities", "REFERENCE_EPS"]

#: The constant the platonic-representation code adds to CKNNA's denominator
#: (``sim_kl / (sqrt(sim_kk * sim_ll) + 1e-6)``); ``cknna(..., eps=REFERENCE_EPS)`` reproduces it.
REFERENCE_EPS = 1e-6


def topk_rows(S: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k largest entries of every row of ``S`` (excluded entries = -inf).

    Ties are broken by the lower column index, so the result is deterministic.
    """
    part = np.argpartition(-S, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(S, part, 1)
    order = np.lexsort((part, -vals), axis=1)
    out = np.take_along_axis(part, order, 1)
    # rows where the k-th value is tied with an entry outside the partition: resolve exactly
    kth = vals.min(axis=1)
    tied = np.flatnonzero((S >= kth[:, None]).sum(axis=1) > k)
    for r in tied:
        cand = np.flatnonzero(S[r] >= kth[r])
        out[r] = cand[np.lexsort((cand, -S[r, cand]))[:k]]
    return out


def _exclude(S: np.ndarray, rows: np.ndarray, groups: np.ndarray | None) -> None:
    """Set self (and same-group) entries of the row block ``S`` (rows ``rows``) to -inf."""
    S[np.arange(len(rows)), rows] = -np.inf
    if groups is not None:
        S[groups[rows][:, None] == groups[None, :]] = -np.inf


def knn_indices(X: np.ndarray, k: int, block: int = 2048, groups=None) -> np.ndarray:
    """Indices (n, k) of each row's k largest inner products with the other rows.

    The row itself (and rows of the same ``group``) are excluded. Memory O(block · n).
    """
    n = X.shape[0]
    out = np.empty((n, k), dtype=np.int64)
    XT = np.ascontiguousarray(X.T)
    g = None if groups is None else np.asarray(groups)
    for s in range(0, n, block):
        rows = np.arange(s, min(n, s + block))
        S = X[rows] @ XT
        _exclude(S, rows, g)
        out[rows] = topk_rows(S, k)
    return out


def _check_k(k, n, groups=None, name="k"):
    k = check_positive_int(k, name)
    avail = n - 1 if groups is None else n - np.max(np.unique(groups, return_counts=True)[1])
    if k > avail:
        raise ValueError(f"{name}: k = {k} needs at least k + 1 = {k + 1} distinct samples, got {avail + 1}; lower k")
    return k


def _check_groups(groups, n):
    if groups is None:
        return None
    g = np.asarray(groups)
    if g.shape != (n,):
        raise ValueError(f"groups: expected shape ({n},), got {g.shape}")
    return g


def knn_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over rows of ``|a_i ∩ b_i| / k`` for two (n, k) neighbour-index arrays."""
    k = a.shape[1]
    both = np.concatenate([np.sort(a, 1), np.sort(b, 1)], axis=1)
    both.sort(axis=1)
    return float((both[:, 1:] == both[:, :-1]).sum(axis=1).mean() / k)


def mutual_knn(X, Y, k: int = 10, groups=None, device=None) -> float:
    """Mutual k-NN alignment of row-paired embeddings.

    Parameters
    ----------
    X, Y : array or tensor, shape (n, dx) and (n, dy)
    k : int
        Neighbours per item (default 10, the platonic-representation paper).
    groups : array, shape (n,), optional
        Rows with the same value are never each other's neighbours (bootstrap copies).
    device : {None, "cpu", "cuda", "cuda:N", "mps", "auto"}
        Find the neighbours in torch on this device (blocks of similarities and ``topk``; the
        same neighbour sets, ties at the k-th place resolved as here, by the lower index).
        Default None: NumPy; ``"cpu"`` runs the NumPy path too (:func:`repalign._device.compute_device`).

    Returns
    -------
    float
        In [0, 1]; chance is about ``k / (n - 1)``. Invariant to orthogonal transforms, isotropic
        scaling of either space and joint row permutations.

    References
    ----------
    Huh et al., "The Platonic Representation Hypothesis", ICML 2024, arXiv:2405.07987.
    """
    device = compute_device(device)
    if device is not None:
        from .torch_backend import knn_indices_torch, normalized_pair  # noqa: PLC0415 - torch only when asked

        Xt, Yt = normalized_pair(X, Y, device)
        g = _check_groups(groups, Xt.shape[0])
        k = _check_k(k, Xt.shape[0], g)
        return knn_overlap(knn_indices_torch(Xt, k, g), knn_indices_torch(Yt, k, g))
    X, Y = check_pair(X, Y, min_samples=2, rescale=True)  # scale-invariant: work at unit scale
    g = _check_groups(groups, X.shape[0])
    k = _check_k(k, X.shape[0], g)
    X, Y = cosine_normalize(X, "X"), cosine_normalize(Y, "Y")
    return knn_overlap(knn_indices(X, k, groups=g), knn_indices(Y, k, groups=g))


def knn_from_similarity(S: np.ndarray, k: int, groups=None) -> np.ndarray:
    """(n, k) neighbour indices from a full (n, n) similarity matrix (self / same group excluded)."""
    Sx = S.copy()
    _exclude(Sx, np.arange(S.shape[0]), groups)
    return topk_rows(Sx, k)


def knn_mask(S: np.ndarray, k: int, groups=None) -> np.ndarray:
    """(n, n) 0/1 matrix with ``M_ij = 1`` when j is among the k nearest neighbours of i."""
    n = S.shape[0]
    M = np.zeros((n, n))
    M[np.arange(n)[:, None], knn_from_similarity(S, k, groups)] = 1.0
    return M


def cknna_from_similarities(K: np.ndarray, L: np.ndarray, k: int, groups=None, *, mk=None, ml=None,
                            kk=None, ll=None, eps: float = 0.0) -> float:
    """CKNNA from (n, n) cosine-similarity matrices (see module docstring).

    ``mk``/``ml`` (neighbour masks) and ``kk``/``ll`` (self-similarities) may be passed when
    already known, e.g. for a permutation test where one side never changes.
    """
    mk = knn_mask(K, k, groups) if mk is None else mk
    ml = knn_mask(L, k, groups) if ml is None else ml
    m = mk * ml
    kl = unbiased_hsic(m * K, m * L)
    kk = unbiased_hsic(mk * K, mk * K) if kk is None else kk
    ll = unbiased_hsic(ml * L, ml * L) if ll is None else ll
    if kk <= 0 or ll <= 0:
        raise ValueError("cknna: a self-similarity is not positive (degenerate neighbourhoods); use more samples or another k")
    return float(kl / (np.sqrt(kk * ll) + eps))


def cknna(X, Y, k: int = 10, groups=None, eps: float = 0.0) -> float:
    """Mutual-neighbour CKA (CKNNA) of row-paired ``X`` (n, dx) and ``Y`` (n, dy).

    Parameters
    ----------
    X, Y : array, shape (n, dx) and (n, dy)
        Rows are paired items; n >= 4 and k < n.
    k : int
        Neighbours per item (default 10, the platonic-representation paper).
    groups : array, shape (n,), optional
        Rows with the same value are never each other's neighbours (bootstrap copies).
    eps : float
        Added to the denominator; 0 (default) is the exact ratio, ``1e-6`` reproduces the
        reference code (see the module docstring for why the default differs).

    Returns
    -------
    float
        In [-1, 1]; forms (n, n) matrices, so intended for n up to a few thousand.

    References
    ----------
    Huh et al., "The Platonic Representation Hypothesis", ICML 2024, arXiv:2405.07987.
    """
    X, Y = check_pair(X, Y, min_samples=4, rescale=eps == 0)  # the exact CKNNA is scale-invariant
    g = _check_groups(groups, X.shape[0])
    k = _check_k(k, X.shape[0], g)
    if not (np.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps: must be a non-negative number, got {eps!r}")
    X, Y = cosine_normalize(X, "X"), cosine_normalize(Y, "Y")
    return cknna_from_similarities(linear_gram(X), linear_gram(Y), k, g, eps=eps)
