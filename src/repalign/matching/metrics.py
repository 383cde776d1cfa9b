"""Matching and retrieval metrics for a score matrix whose ground truth is the diagonal."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import confusion_matrix

from .._validate import check_square_matrix

__all__ = ["matching_accuracy", "retrieval_metrics", "assign", "confusion"]


def assign(scores) -> np.ndarray:
    """One-to-one matching maximising the total score (linear assignment, scipy).

    Parameters
    ----------
    scores : array, shape (N', N')

    Returns
    -------
    ndarray, shape (N',)
        ``cols[i]`` is the partner of row i.
    """
    _, cols = linear_sum_assignment(check_square_matrix(scores, "scores", allow_empty=False), maximize=True)
    return cols


def matching_accuracy(scores) -> float:
    """Fraction of rows whose linear-assignment partner is the true one (the diagonal).

    Parameters
    ----------
    scores : array, shape (N', N')
        Larger = better; the truth is the diagonal.

    Returns
    -------
    float

    References
    ----------
    maniparambil2024 (arXiv:2401.05224) §5 (matching accuracy).
    """
    cols = assign(scores)
    return float(np.mean(cols == np.arange(len(cols))))


def retrieval_metrics(scores, ks=(1, 5, 10)) -> dict:
    """Top-k accuracy and mean rank (1 = best) in both directions.

    Parameters
    ----------
    scores : array, shape (N', N')
        Truth on the diagonal.
    ks : sequence of int
        Default (1, 5, 10).

    Returns
    -------
    dict
        ``a2b_top{k}`` (rows→columns, e.g. image→text), ``b2a_top{k}`` and the mean ranks. Ties
        count against the truth.
    """
    S = check_square_matrix(scores, "scores", allow_empty=False)
    out = {}
    for tag, M in (("a2b", S), ("b2a", S.T)):
        true = np.diag(M)
        rank = 1 + (M > true[:, None]).sum(1) + ((M == true[:, None]).sum(1) - 1)
        for k in ks:
            out[f"{tag}_top{k}"] = float(np.mean(rank <= k))
        out[f"{tag}_mean_rank"] = float(rank.mean())
    return out


def confusion(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class).

    Parameters
    ----------
    y_true, y_pred : array of int, shape (n,)
        Class indices in ``[0, n_classes)``.
    n_classes : int

    Returns
    -------
    ndarray of int, shape (n_classes, n_classes)
        Row = true class, column = predicted class (scikit-learn's convention).
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_pred: expected the shape of y_true {y_true.shape}, got {y_pred.shape}")
    return confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))
