"""Comparing RSMs: CKA between two RSMs, and semantic against spatio-semantic.

``rsm_cka(K, L)`` treats two square RSMs of the same samples as Gram matrices and returns their
CKA (maniparambil2024 Eq. 1 / Kornblith et al. 2019; ``debiased`` for the unbiased HSIC).
Mini-batches: with ``batch_size`` the samples are cut into consecutive batches of that size
(the last one may be smaller; batches under 4 samples are dropped) and the result is the mean
of the per-batch CKA values, weighted by batch size — wald2024 App. G computes its RSMs and CKA
in mini-batches of 250 this way. Without it the CKA of the full matrices is returned.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_square_matrix
from ..measures.kernel_alignment import cka_from_grams
from .core import as_concept_sets, semantic_rsm, spatial_rsm

__all__ = ["rsm_cka", "semantic_vs_spatial"]


def _matrix(K, name):
    return check_square_matrix(getattr(K, "matrix", K), name, kind="RSM")


def rsm_cka(K, L, *, debiased: bool = False, batch_size: int | None = None) -> float:
    """CKA between two square RSMs of the same samples (module docstring for mini-batches).

    Parameters
    ----------
    K, L : ndarray, shape (n, n), or RSMResult
    debiased : bool
        Song et al.'s unbiased HSIC.
    batch_size : int, optional
        Mean over consecutive mini-batches of this size instead of the whole matrices.

    Returns
    -------
    float

    References
    ----------
    Kornblith et al., ICML 2019, arXiv:1905.00414; wald2024 (arXiv:2410.23107), App. G.
    """
    K, L = _matrix(K, "K"), _matrix(L, "L")
    if K.shape != L.shape:
        raise ValueError(f"K, L: RSMs of different sizes ({K.shape[0]} vs {L.shape[0]}); they must cover the same samples")
    n = len(K)
    if batch_size is None:
        return cka_from_grams(K, L, debiased, names=("K", "L"))
    if batch_size < 4:
        raise ValueError(f"batch_size: must be >= 4, got {batch_size}")
    vals, weights = [], []
    for s in range(0, n, batch_size):
        idx = slice(s, min(n, s + batch_size))
        m = idx.stop - idx.start
        if m >= 4:
            vals.append(cka_from_grams(K[idx, idx], L[idx, idx], debiased, names=("K", "L")))
            weights.append(m)
    return float(np.average(vals, weights=weights))


def semantic_vs_spatial(x, *, kernel: str = "inner", layout: str = "NCHW", center: bool = True,
                        batch_size: int | None = None, **semantic_kwargs) -> dict:
    """How different the semantic RSM of a representation is from its spatio-semantic RSM.

    Parameters
    ----------
    x : array
        Spatial representations (``layout``).
    kernel, layout, center
        As in :func:`repalign.rsm.semantic_rsm`.
    batch_size : int, optional
        Mini-batch CKA (see :func:`rsm_cka`).
    **semantic_kwargs
        Passed to :func:`repalign.rsm.semantic_rsm` (matcher, backend, n_jobs, ...).

    Returns
    -------
    dict
        ``cka`` between the two RSMs; ``spatial_share``: for each pair of samples, where the
        spatio-semantic inner product (positions kept) lies between the worst and the best
        matching of positions, ``(⟨x, y⟩ − min_P ⟨x, P y⟩) / (max_P ⟨x, P y⟩ − min_P ⟨x, P y⟩)``,
        and its median over the off-diagonal pairs whose range is not negligible (above
        ``1e-9`` times the largest range). Its range is [0, 1]: 1 when the positions are already
        the best matching, about 0.5 when position carries no information, 0 when they are the
        worst. ``pairs`` counts the pairs used (``spatial_share`` is NaN when none is); and
        both results.

    References
    ----------
    wald2024 (arXiv:2410.23107), §4.4 and App. G.
    """
    X = as_concept_sets(x, layout, "x")  # (N, S, C)
    if center:  # the centring of semantic_rsm: one mean per channel, over samples and positions
        X = X - X.mean(axis=(0, 1))
    sem = semantic_rsm(X, kernel=kernel, layout="NTD", **semantic_kwargs)
    spa = spatial_rsm(X, kernel=kernel, layout="NTD")
    # min_P <x, P y> = -max_P <x, P (-y)>: the worst matching of positions, by the same exact solver
    worst = -semantic_rsm(X, -X, kernel="inner", layout="NTD", **semantic_kwargs).inner
    off = ~np.eye(len(sem.inner), dtype=bool)
    span = (sem.inner - worst)[off]
    keep = span > 1e-9 * max(float(span.max()), 0.0) if span.size else np.zeros(0, bool)
    keep &= span > 0
    share = (spa.inner[off] - worst[off])[keep] / span[keep]
    value = float(np.median(np.clip(share, 0.0, 1.0))) if keep.any() else float("nan")
    return {"cka": rsm_cka(sem, spa, batch_size=batch_size), "spatial_share": value, "pairs": int(keep.sum()),
            "semantic": sem, "spatial": spa}
