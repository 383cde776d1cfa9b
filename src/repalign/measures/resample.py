"""Fast resampling: compute each space's (n, n) structure once, then evaluate a measure on
row-index resamples by gathering from it.

``prepare(measure, X, Y)`` returns ``f(ix, iy, groups)`` equal to
``measure(X[ix], Y[iy], groups=groups)`` (``ix``/``iy`` = None means all rows in order):

* permutation tests call ``f(None, perm)``: only ``Y``'s side changes and, for kernels,
  permuting rows and columns commutes with centring, so one permutation of linear CKA at
  n = 1,000 costs a gather and a dot product (milliseconds) instead of a new Gram matrix;
* the bootstrap calls ``f(idx, idx, groups=idx)``; the RBF bandwidth rule is re-applied to
  every resample, as the slow path does.

Tests check every fast path against the plain call on resampled arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..kernels import (
    center_gram,
    cosine_normalize,
    linear_gram,
    mean_normalize,
    rbf_sigma,
    resolve_sigma,
    squared_distances,
)
from .dissimilarity import rdm
from .kernel_alignment import cka_ratio, kernel_stats, unbiased_hsic
from .knn import cknna_from_similarities, knn_from_similarity, knn_mask, knn_overlap

__all__ = ["prepare"]


def _is_permutation(idx, n: int) -> bool:
    """Whether ``idx`` reorders all n rows (then kernels are gathered, not recomputed)."""
    if idx is None:
        return True
    idx = np.asarray(idx)
    return len(idx) == n and bool(np.all(np.bincount(idx, minlength=n) == 1))


def _sub(M: np.ndarray, idx) -> np.ndarray:
    return M if idx is None else M[np.ix_(idx, idx)]


class _CKA:
    def __init__(self, X, Y, kernel="linear", debiased=False, sigma=None, threshold=1.0, **_):
        self.kernel, self.debiased, self.threshold = kernel, debiased, threshold
        self.sigma = resolve_sigma(sigma, threshold) if kernel == "rbf" else None
        if kernel == "cosine":
            X, Y = cosine_normalize(X, "X"), cosine_normalize(Y, "Y")
        if kernel == "rbf":
            self.Mx, self.My = squared_distances(X), squared_distances(Y)
        else:
            # HSIC of linear kernels is translation invariant; centring avoids cancellation
            self.Mx, self.My = linear_gram(X - X.mean(0)), linear_gram(Y - Y.mean(0))
        self.Kx, self.Ky = self._kernel(self.Mx), self._kernel(self.My)
        if not debiased:
            self.Cx, self.Cy = center_gram(self.Kx), center_gram(self.Ky)
            self.nx, self.ny = np.einsum("ij,ij->", self.Cx, self.Cx), np.einsum("ij,ij->", self.Cy, self.Cy)

    def _kernel(self, M):
        if self.kernel != "rbf":
            return M
        s = rbf_sigma(M, self.sigma, self.threshold)
        return np.exp(M * (-1.0 / (2 * s * s)))

    def _side(self, idx, full_k, full_c, full_norm, M, permutation: bool):
        if idx is None:
            return full_k, full_c, full_norm
        if permutation:  # same multiset of distances: same bandwidth, gather the kernel
            K = full_k[np.ix_(idx, idx)]
            C = None if full_c is None else full_c[np.ix_(idx, idx)]
            return K, C, full_norm
        K = self._kernel(_sub(M, idx))
        if self.debiased:
            return K, None, None
        C = center_gram(K)
        return K, C, np.einsum("ij,ij->", C, C)

    def __call__(self, ix, iy, groups=None):
        n = self.Kx.shape[0]
        cx = getattr(self, "Cx", None)
        cy = getattr(self, "Cy", None)
        K, Cx, nx = self._side(ix, self.Kx, cx, getattr(self, "nx", None), self.Mx, _is_permutation(ix, n))
        L, Cy, ny = self._side(iy, self.Ky, cy, getattr(self, "ny", None), self.My, _is_permutation(iy, n))
        if self.debiased:
            return cka_ratio(kernel_stats(K, L).hsic(True), kernel_stats(K, K).hsic(True),
                             kernel_stats(L, L).hsic(True))
        return cka_ratio(np.einsum("ij,ij->", Cx, Cy), nx, ny)


class _KNN:
    def __init__(self, X, Y, k=10, cknna=False, **_):
        self.k, self.cknna = k, cknna
        X, Y = cosine_normalize(X, "X"), cosine_normalize(Y, "Y")
        self.Sx, self.Sy = linear_gram(X), linear_gram(Y)
        if cknna:
            self.Mx, self.My = knn_mask(self.Sx, k), knn_mask(self.Sy, k)
            self.kx = unbiased_hsic(self.Mx * self.Sx, self.Mx * self.Sx)
            self.ky = unbiased_hsic(self.My * self.Sy, self.My * self.Sy)
        else:
            self.Nx, self.Ny = knn_from_similarity(self.Sx, k), knn_from_similarity(self.Sy, k)

    def __call__(self, ix, iy, groups=None):
        g = None if groups is None else np.asarray(groups)
        if self.cknna:
            if g is None and ix is None and _is_permutation(iy, self.Sx.shape[0]):
                # permutation: masks and self-similarities are permuted too
                return cknna_from_similarities(self.Sx, _sub(self.Sy, iy), self.k, mk=self.Mx,
                                               ml=_sub(self.My, iy), kk=self.kx, ll=self.ky)
            return cknna_from_similarities(_sub(self.Sx, ix), _sub(self.Sy, iy), self.k, g)
        n = self.Sx.shape[0]
        if groups is None and ix is None and iy is None:
            return knn_overlap(self.Nx, self.Ny)
        if groups is None and ix is None and _is_permutation(iy, n):
            # Y' = Y[p]: neighbours of i in Y' are p⁻¹ of the neighbours of p(i) in Y
            p = np.asarray(iy)
            inv = np.empty_like(p)
            inv[p] = np.arange(len(p))
            return knn_overlap(self.Nx, inv[self.Ny[p]])
        nx = self.Nx if ix is None and g is None else knn_from_similarity(_sub(self.Sx, ix), self.k, g)
        ny = knn_from_similarity(_sub(self.Sy, iy), self.k, g)
        return knn_overlap(nx, ny)


def _pair_ids(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(n, 1)


def _resampled_ranks(dense: np.ndarray, ids: np.ndarray, n_groups: int) -> np.ndarray:
    """Average ranks, within a resample, of entries whose original dense ranks are ``dense[ids]``.

    Entries with equal original value (same dense rank) tie; counts per dense rank give the
    average rank in O(M) without sorting.
    """
    r = dense[ids]
    counts = np.bincount(r, minlength=n_groups)
    cum = np.cumsum(counts)
    return cum[r] - (counts[r] - 1) / 2.0


class _RSA:
    def __init__(self, X, Y, metric="correlation", compare="spearman", **_):
        self.compare = compare
        self.Rx, self.Ry = rdm(X, metric, "X"), rdm(Y, metric, "Y")
        self.n = n = X.shape[0]
        iu = _pair_ids(n)
        if compare == "spearman":
            # dense rank (ties share one) of every upper-triangle entry, in triu order
            self.dense = []
            for R in (self.Rx, self.Ry):
                _, inv = np.unique(R[iu], return_inverse=True)
                self.dense.append((inv.astype(np.int64), int(inv.max()) + 1))
            self.full = [_resampled_ranks(d, np.arange(len(d)), g) for d, g in self.dense]

    def _entry_ids(self, rows, cols):
        a, b = np.minimum(rows, cols), np.maximum(rows, cols)
        n = self.n
        return a * n - a * (a + 1) // 2 + (b - a - 1)

    def __call__(self, ix, iy, groups=None):
        n = self.n if ix is None else len(ix)
        iu = np.triu_indices(n, 1)
        ia = iu[0] if ix is None else np.asarray(ix)[iu[0]]
        ja = iu[1] if ix is None else np.asarray(ix)[iu[1]]
        ib = iu[0] if iy is None else np.asarray(iy)[iu[0]]
        jb = iu[1] if iy is None else np.asarray(iy)[iu[1]]
        keep = (ia != ja) & (ib != jb)  # pairs of copies of one item carry no information
        if groups is not None:
            g = np.asarray(groups)
            keep &= g[iu[0]] != g[iu[1]]
        ia, ja, ib, jb = ia[keep], ja[keep], ib[keep], jb[keep]
        if self.compare != "spearman":
            return float(np.corrcoef(self.Rx[ia, ja], self.Ry[ib, jb])[0, 1])
        ea, eb = self._entry_ids(ia, ja), self._entry_ids(ib, jb)
        if ix is None and groups is None and _is_permutation(iy, self.n):  # same multiset
            a, b = self.full[0][ea], self.full[1][eb]
        else:
            a = _resampled_ranks(self.dense[0][0], ea, self.dense[0][1])
            b = _resampled_ranks(self.dense[1][0], eb, self.dense[1][1])
        return float(np.corrcoef(a, b)[0, 1])


class _GW:
    def __init__(self, X, Y, **_):
        self.Dx, self.Dy = np.sqrt(squared_distances(X)), np.sqrt(squared_distances(Y))

    def __call__(self, ix, iy, groups=None):
        A = mean_normalize(_sub(self.Dx, ix), "X (resample)")
        B = mean_normalize(_sub(self.Dy, iy), "Y (resample)")
        return float(((A - B) ** 2).sum() / A.shape[0] ** 2)


_FAMILIES = {"cka": _CKA, "knn": _KNN, "rsa": _RSA, "gw": _GW}


def prepare(measure, X: np.ndarray, Y: np.ndarray) -> Callable:
    """A function ``f(ix, iy, groups=None)`` evaluating ``measure`` on row resamples of (X, Y)."""
    cls = _FAMILIES.get(measure.family)
    if cls is not None:
        params = dict(measure.params)
        if measure.name == "cknna":
            params["cknna"] = True
        return cls(X, Y, **params)

    def slow(ix, iy, groups=None):
        Xs = X if ix is None else X[ix]
        Ys = Y if iy is None else Y[iy]
        if measure.accepts_groups and groups is not None:
            return measure(Xs, Ys, groups=groups)
        return measure(Xs, Ys)

    return slow
