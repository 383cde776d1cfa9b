"""Zero-shot-style classification through local CKA (maniparambil2024 §5.3).

Class texts (class names put into prompt templates, embedded and averaged: see
:func:`repalign.datasets.class_name_embeddings`) form one side. A base set of labelled
images gives aligned pairs ``(image embedding, embedding of its class text)``. Every query
image is scored against every class text by local CKA (or a baseline) and takes the best.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_embeddings
from .baselines import linear_regression_scores, relative_scores
from .local import local_cka

__all__ = ["class_scores", "topk_accuracy"]


def class_scores(Zb, yb, class_emb, Zq, method: str = "local-cka", kernel: str = "linear") -> np.ndarray:
    """Scores of query images against class embeddings, through a labelled base set.

    Parameters
    ----------
    Zb : array, shape (M, d1)
        Labelled base images.
    yb : array of int, shape (M,)
        Their classes in [0, C).
    class_emb : array, shape (C, d2)
    Zq : array, shape (N_q, d1)
    method : {"local-cka", "linear", "relative"}
    kernel : {"linear", "rbf"}
        Local CKA's kernel.

    Returns
    -------
    ndarray, shape (N_q, C)

    References
    ----------
    maniparambil2024 (arXiv:2401.05224) §5.3.
    """
    Zb = as_embeddings(Zb, "Zb")
    T = as_embeddings(class_emb, "class_emb", min_samples=2)
    yb = np.asarray(yb)
    if yb.shape != (Zb.shape[0],):
        raise ValueError(f"yb: expected {Zb.shape[0]} labels, got shape {yb.shape}")
    if not np.issubdtype(yb.dtype, np.integer) or yb.min() < 0 or yb.max() >= len(T):
        raise ValueError(f"yb: labels must be integers in [0, {len(T)})")
    Hb = T[yb]
    if method == "local-cka":
        return local_cka(Zb, Hb, Zq, T, kernel=kernel)
    if method == "linear":
        return linear_regression_scores(Zb, Hb, Zq, T)
    if method == "relative":
        return relative_scores(Zb, Hb, Zq, T)
    raise ValueError(f"method: expected 'local-cka', 'linear' or 'relative', got {method!r}")


def topk_accuracy(scores, y, ks=(1, 5)) -> dict:
    """Fraction of rows whose true class is among the k best-scored classes.

    Parameters
    ----------
    scores : array, shape (N, C)
    y : array of int, shape (N,)
    ks : sequence of int

    Returns
    -------
    dict
        ``top{k}`` for each k.
    """
    S = np.asarray(scores, dtype=float)
    y = np.asarray(y)
    true = S[np.arange(len(y)), y]
    rank = 1 + (S > true[:, None]).sum(1)
    return {f"top{k}": float(np.mean(rank <= k)) for k in ks}
