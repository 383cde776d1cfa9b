"""Baselines for matching unaligned embeddings (maniparambil2024 §5): every function returns an
(N'_z, N'_h) score matrix, larger = better match.

* linear regression: least squares ``W = argmin ‖Zb W - Hb‖`` (no intercept; optional ridge),
  then cosine between ``Zq W`` and ``Hq``;
* relative representations (Moschella et al. 2023): each query is described by its cosine to
  the base anchors of its own space; scores are cosines between those descriptions;
* cosine: plain cosine between the spaces (only for encoders that share a space).
"""

from __future__ import annotations

import numpy as np

from .._validate import as_embeddings, check_pair
from ..kernels import cosine_normalize

__all__ = ["linear_regression_scores", "relative_scores", "cosine_scores"]


def _cos(A, B, na="A", nb="B"):
    return cosine_normalize(A, na) @ np.ascontiguousarray(cosine_normalize(B, nb).T)


def linear_regression_scores(Zb, Hb, Zq, Hq, ridge: float = 0.0) -> np.ndarray:
    """Cosine between ``Zq @ W`` and ``Hq`` with ``W`` fitted on the base pairs."""
    Zb, Hb = check_pair(Zb, Hb, names=("Zb", "Hb"))
    Zq, Hq = as_embeddings(Zq, "Zq", min_samples=1), as_embeddings(Hq, "Hq", min_samples=1)
    if ridge < 0:
        raise ValueError(f"ridge: must be >= 0, got {ridge}")
    if ridge == 0:
        W = np.linalg.lstsq(Zb, Hb, rcond=None)[0]
    else:
        W = np.linalg.solve(Zb.T @ Zb + ridge * np.eye(Zb.shape[1]), Zb.T @ Hb)
    return _cos(Zq @ W, Hq, "Zq @ W", "Hq")


def relative_scores(Zb, Hb, Zq, Hq) -> np.ndarray:
    """Cosine between relative representations (cosines to the M base anchors)."""
    Zb, Hb = check_pair(Zb, Hb, names=("Zb", "Hb"))
    Zq, Hq = as_embeddings(Zq, "Zq", min_samples=1), as_embeddings(Hq, "Hq", min_samples=1)
    return _cos(_cos(Zq, Zb, "Zq", "Zb"), _cos(Hq, Hb, "Hq", "Hb"), "relative(Zq)", "relative(Hq)")


def cosine_scores(Zq, Hq) -> np.ndarray:
    """Plain cosine similarity; the two spaces must have the same dimension."""
    Zq, Hq = as_embeddings(Zq, "Zq", min_samples=1), as_embeddings(Hq, "Hq", min_samples=1)
    if Zq.shape[1] != Hq.shape[1]:
        raise ValueError(f"Hq: cosine needs one shared space, but dims differ ({Zq.shape[1]} vs {Hq.shape[1]}); "
                         "use local CKA, relative or linear instead")
    return _cos(Zq, Hq, "Zq", "Hq")
