"""Baselines for matching unaligned embeddings (maniparambil2024 §5): every function returns an
(N'_z, N'_h) score matrix, larger = better match.

* linear regression: least squares ``W = argmin ‖Zb W - Hb‖`` (no intercept; optional ridge),
  then cosine between ``Zq W`` and ``Hq``. Computed through the thin SVD ``Zb = U S Vᵀ``:
  ``W = V S⁺ Uᵀ Hb`` (minimum-norm; with ridge λ, ``S⁺ → S/(S² + λ)``), applied as
  ``((Zq V) S⁺)(Uᵀ Hb)``, so memory is O(d·min(n, d)): a d × d matrix is never formed (d =
  200,000 features with n = 500 base pairs costs 800 MB for V, not 320 GB);
* relative representations (Moschella et al. 2023): each query is described by its cosine to
  the base anchors of its own space; scores are cosines between those descriptions;
* cosine: plain cosine between the spaces (only for encoders that share a space).
"""

from __future__ import annotations

import numpy as np

from .._validate import as_embeddings, check_pair
from ..kernels import cosine_normalize

__all__ = ["linear_regression_scores", "relative_scores", "cosine_scores", "LinearMap"]


def _cos(A, B, na="A", nb="B"):
    return cosine_normalize(A, na) @ np.ascontiguousarray(cosine_normalize(B, nb).T)


class LinearMap:
    """Least-squares (or ridge) map ``Zb W ≈ Hb`` fitted once, applied to queries.

    Parameters
    ----------
    Zb : array, shape (n, d1)
    Hb : array, shape (n, d2)
    ridge : float
        0 (default): the minimum-norm least-squares solution (as ``numpy.linalg.lstsq``);
        λ > 0: ridge regression.

    Notes
    -----
    Stored as the thin SVD factors (module docstring): O(d1 · min(n, d1) + n · d2) memory.
    """

    def __init__(self, Zb, Hb, ridge: float = 0.0):
        Zb, Hb = check_pair(Zb, Hb, names=("Zb", "Hb"))
        if not (np.isfinite(ridge) and ridge >= 0):
            raise ValueError(f"ridge: must be >= 0, got {ridge}")
        U, sv, Vt = np.linalg.svd(Zb, full_matrices=False)
        if ridge == 0:
            cut = np.finfo(float).eps * max(Zb.shape) * (sv[0] if sv.size else 0.0)
            inv = np.where(sv > cut, 1.0 / np.where(sv > cut, sv, 1.0), 0.0)
        else:
            inv = sv / (sv**2 + ridge)
        self.dim_in = Zb.shape[1]
        self.Vt = Vt
        self.right = inv[:, None] * (U.T @ Hb)  # S⁺ Uᵀ Hb, (r, d2)

    def predict(self, Zq) -> np.ndarray:
        """``Zq W`` for queries ``Zq`` (q, d1) → (q, d2)."""
        Zq = as_embeddings(Zq, "Zq", min_samples=1)
        if Zq.shape[1] != self.dim_in:
            raise ValueError(f"Zq: has {Zq.shape[1]} features but the map was fitted on {self.dim_in}")
        return (Zq @ self.Vt.T) @ self.right


def linear_regression_scores(Zb, Hb, Zq, Hq, ridge: float = 0.0) -> np.ndarray:
    """Linear-regression baseline: cosines between ``Zq W`` and ``Hq``, ``W`` fitted on the base pairs.

    Parameters
    ----------
    Zb, Hb : array, shape (M, d1) and (M, d2)
    Zq, Hq : array, shape (N'_z, d1) and (N'_h, d2)
    ridge : float
        0: minimum-norm least squares; > 0: ridge.

    Returns
    -------
    ndarray, shape (N'_z, N'_h)

    References
    ----------
    maniparambil2024 (arXiv:2401.05224) §5 (baselines).
    """
    Hq = as_embeddings(Hq, "Hq", min_samples=1)
    return _cos(LinearMap(Zb, Hb, ridge).predict(Zq), Hq, "Zq @ W", "Hq")


def relative_scores(Zb, Hb, Zq, Hq) -> np.ndarray:
    """Relative representations: each query described by its cosines to the base anchors of its
    own space; scores are cosines between those descriptions.

    Parameters
    ----------
    Zb, Hb : array, shape (M, d1) and (M, d2)
    Zq, Hq : array, shape (N'_z, d1) and (N'_h, d2)

    Returns
    -------
    ndarray, shape (N'_z, N'_h)

    References
    ----------
    Moschella et al., "Relative representations enable zero-shot latent space communication",
    ICLR 2023, arXiv:2209.15430.
    """
    Zb, Hb = check_pair(Zb, Hb, names=("Zb", "Hb"))
    Zq, Hq = as_embeddings(Zq, "Zq", min_samples=1), as_embeddings(Hq, "Hq", min_samples=1)
    return _cos(_cos(Zq, Zb, "Zq", "Zb"), _cos(Hq, Hb, "Hq", "Hb"), "relative(Zq)", "relative(Hq)")


def cosine_scores(Zq, Hq) -> np.ndarray:
    """Plain cosine similarity (encoders sharing one space).

    Parameters
    ----------
    Zq, Hq : array, shape (N'_z, d) and (N'_h, d)

    Returns
    -------
    ndarray, shape (N'_z, N'_h)
    """
    Zq, Hq = as_embeddings(Zq, "Zq", min_samples=1), as_embeddings(Hq, "Hq", min_samples=1)
    if Zq.shape[1] != Hq.shape[1]:
        raise ValueError(f"Hq: cosine needs one shared space, but dims differ ({Zq.shape[1]} vs {Hq.shape[1]}); "
                         "use local CKA, relative or linear instead")
    return _cos(Zq, Hq, "Zq", "Hq")
