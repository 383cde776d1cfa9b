"""Base (seed) selection and stretching (maniparambil2024 §4.3)."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from .._validate import as_embeddings, check_positive_int
from ..kernels import cosine_normalize

__all__ = ["stretch", "select_base", "TIE_TOL"]

#: cosines closer than this to a centre's best are ties, broken by the lowest row index
TIE_TOL = 1e-6


def stretch(X, base_rows=None) -> np.ndarray:
    """Divide every feature by its standard deviation over the rows given.

    ``X_s = X S`` with ``S = diag(1/std)``; constant features (std 0, e.g. some 8-bit USE
    dimensions) are left as they are: they carry no structure.

    Parameters
    ----------
    X : array, shape (n, d)
    base_rows : array of int, optional
        Rows defining the std (default all rows: base ∪ query, as in the paper).

    Returns
    -------
    ndarray, shape (n, d)

    References
    ----------
    maniparambil2024 (arXiv:2401.05224) §4.3 (stretching).
    """
    X = as_embeddings(X, "X")
    ref = X if base_rows is None else X[np.asarray(base_rows)]
    sd = ref.std(axis=0)
    sd[sd == 0] = 1.0
    return X / sd


def select_base(X, size: int, method: str = "kmeans", seed: int = 0) -> np.ndarray:
    """Indices of the base items among the rows of one space's embeddings.

    ``uniform``: a random subset. ``kmeans``: k-means with ``size`` clusters (scikit-learn,
    ``n_init=1``, ``seed``); for each centre the item with the highest cosine to it (cosines
    within :data:`TIE_TOL` of the best are ties, broken by the lowest row index); duplicates are
    removed and the set is refilled to ``size`` uniformly from the rest.

    k-means runs on one thread: the base set then does not depend on the machine's core count
    (scikit-learn sums per-thread partial centres in the order threads finish), and the tie rule
    keeps it from depending on the last bits of ``X`` (embeddings differ by ~1e-8 across hosts),
    which used to move single matching accuracies by points.

    Parameters
    ----------
    X : array, shape (n, d)
    size : int
        < n.
    method : {"kmeans", "uniform"}
    seed : int

    Returns
    -------
    ndarray of int, shape (size,)
        Sorted.

    References
    ----------
    maniparambil2024 (arXiv:2401.05224) §4.3 (k-means base sets).
    """
    X = as_embeddings(X, "X")
    n = X.shape[0]
    size = check_positive_int(size, "size")
    if size >= n:
        raise ValueError(f"size: the base set ({size}) must be smaller than the number of items ({n}) "
                         "to leave queries")
    rng = np.random.default_rng(seed)
    if method == "uniform":
        return np.sort(rng.choice(n, size, replace=False))
    if method != "kmeans":
        raise ValueError(f"method: expected 'kmeans' or 'uniform', got {method!r}")
    with threadpool_limits(1):
        km = KMeans(n_clusters=size, n_init=1, random_state=seed).fit(X)
    sims = cosine_normalize(km.cluster_centers_, "centres") @ cosine_normalize(X, "X").T
    # Each centre takes its most similar item, ties broken by the lowest row index: a centre of two
    # items is equally close to both, and without a tolerance the last bits of X (1e-8 across
    # machines) decided which one, moving accuracies by points (a relative 1e-7 perturbation changed
    # the base set 8 times in 8 on XTD-10; the k-means labels never changed).
    near_best = sims >= sims.max(axis=1, keepdims=True) - TIE_TOL
    chosen = np.unique(near_best.argmax(axis=1))
    if len(chosen) < size:
        rest = np.setdiff1d(np.arange(n), chosen)
        chosen = np.concatenate([chosen, rng.choice(rest, size - len(chosen), replace=False)])
    return np.sort(chosen)
