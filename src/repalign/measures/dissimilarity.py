"""Representational similarity analysis (Kriegeskorte et al. 2008).

Build one representational dissimilarity matrix (RDM) per space and correlate their upper
triangles: ``RSA = corr(triu(RDM_X), triu(RDM_Y))``. Default RDM ``1 - Pearson r`` between
rows ("correlation"), default comparison Spearman's ρ. In [-1, 1].
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from .._validate import check_pair
from ..kernels import squared_distances

__all__ = ["rdm", "rsa", "RDM_METRICS"]

RDM_METRICS = ("correlation", "cosine", "euclidean")


def rdm(X: np.ndarray, metric: str = "correlation", name: str = "X") -> np.ndarray:
    """Representational dissimilarity matrix of the rows.

    Parameters
    ----------
    X : ndarray, shape (n, d)
    metric : {"correlation", "cosine", "euclidean"}
        ``1 - Pearson r`` between rows (default), ``1 - cosine``, or Euclidean distance.
    name : str
        The argument name used in errors.

    Returns
    -------
    ndarray, shape (n, n)
    """
    if metric == "euclidean":
        return np.sqrt(squared_distances(X))
    if metric == "correlation":
        Z = X - X.mean(axis=1, keepdims=True)
    elif metric == "cosine":
        Z = X
    else:
        raise ValueError(f"metric: unknown RDM metric {metric!r}; use one of {RDM_METRICS}")
    norms = np.linalg.norm(Z, axis=1)
    if np.any(norms == 0):
        i = int(np.flatnonzero(norms == 0)[0])
        raise ValueError(f"{name}: row {i} is constant, so its {metric} dissimilarity is undefined; "
                         "use metric='euclidean'")
    Z = Z / norms[:, None]
    return 1.0 - Z @ np.ascontiguousarray(Z.T)


def rsa(X, Y, metric: str = "correlation", compare: str = "spearman") -> float:
    """Representational similarity analysis between row-paired embeddings.

    Parameters
    ----------
    X, Y : array, shape (n, dx) and (n, dy)
        n >= 3.
    metric : {"correlation", "cosine", "euclidean"}
        RDM metric (see :func:`rdm`).
    compare : {"spearman", "pearson"}
        Correlation of the RDMs' upper triangles.

    Returns
    -------
    float
        In [-1, 1].

    References
    ----------
    Kriegeskorte et al., "Representational similarity analysis", Front. Syst. Neurosci. 2 (2008),
    doi:10.3389/neuro.06.004.2008.
    """
    X, Y = check_pair(X, Y, min_samples=3, rescale=True)  # RDMs compared by rank or correlation: invariant
    iu = np.triu_indices(X.shape[0], 1)
    a, b = rdm(X, metric, "X")[iu], rdm(Y, metric, "Y")[iu]
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        which = "X" if np.ptp(a) == 0 else "Y"
        raise ValueError(f"{which}: all pairwise dissimilarities are equal (zero variance); RSA is undefined")
    if compare == "spearman":
        return float(stats.spearmanr(a, b)[0])
    if compare == "pearson":
        return float(np.corrcoef(a, b)[0, 1])
    raise ValueError(f"compare: expected 'spearman' or 'pearson', got {compare!r}")
