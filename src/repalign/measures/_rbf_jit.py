"""Compiled passes of dense RBF CKA/HSIC (numba, parallel over rows).

:func:`repalign.measures.kernel_alignment.cka` with ``kernel="rbf"`` on up to
``DENSE_RBF_MAX_ROWS`` rows forms each n x n Gram matrix with one BLAS product, then does all
the elementwise work in three passes instead of a dozen NumPy ones:

1. :func:`distances_inplace`: the Gram matrix becomes squared distances in place, the same
   operations in the same order as :func:`repalign.kernels.squared_distances` (so bit for bit the
   same distances), and the upper triangle is gathered for the bandwidth rule;
2. :func:`exp_inplace`: ``K = exp(a · D)`` in place, with the row sums;
3. :func:`centred_dots`: ``⟨HKH, HLH⟩``, ``⟨HKH, HKH⟩``, ``⟨HLH, HLH⟩`` from K, L and their row
   sums, centring on the fly (no centred copies).

Every row's partial sums land in their own slot and are added in row order afterwards, so the
result does not depend on the thread count. numba is imported only when dense RBF CKA runs. In a
forked child (:mod:`repalign._fork`) the serial twins run instead: GNU OpenMP, numba's thread
pool here, hangs in a child whose parent had started it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

ROUNDOFF = 64 * np.finfo(np.float64).eps  # as repalign.kernels


@njit(cache=True, parallel=True)
def distances_inplace(G, sq, tri):
    """``G`` (n, n, the Gram matrix of centred rows, ``sq`` their squared norms) becomes the squared
    distances: ``-2 G_ij + (sq_i + sq_j)``, values at or below ``ROUNDOFF (sq_i + sq_j)`` set to 0,
    zero diagonal; ``tri`` (n(n-1)/2) receives the upper triangle row by row."""
    n = G.shape[0]
    for i in prange(n):
        row = G[i]
        base = i * n - i * (i + 1) // 2  # where row i's entries above the diagonal start in tri
        si = sq[i]
        for j in range(n):
            scale = si + sq[j]
            v = row[j] * -2.0 + scale
            if v <= ROUNDOFF * scale or j == i:
                v = 0.0
            row[j] = v
            if j > i:
                tri[base + j - i - 1] = v


@njit(cache=True, parallel=True)
def exp_inplace(D, a):
    """``D`` becomes ``exp(a · D)``; returns the row sums."""
    n = D.shape[0]
    sums = np.empty(n)
    for i in prange(n):
        row = D[i]
        s = 0.0
        for j in range(n):
            v = math.exp(a * row[j])
            row[j] = v
            s += v
        sums[i] = s
    return sums


@njit(cache=True, parallel=True)
def centred_dots(K, L, rk, rl):
    """``(⟨HKH, HLH⟩, ⟨HKH, HKH⟩, ⟨HLH, HLH⟩)`` of symmetric K, L with row sums ``rk``, ``rl``:
    ``(HKH)_ij = K_ij - m_i - m_j + t`` with ``m = rk / n``, ``t = mean(m)``."""
    n = K.shape[0]
    mk, ml = rk / n, rl / n
    tk, tl = mk.mean(), ml.mean()
    parts = np.zeros((n, 3))
    for i in prange(n):
        a, b = mk[i] - tk, ml[i] - tl
        kl = kk = ll = 0.0
        for j in range(n):
            x = K[i, j] - a - mk[j]
            y = L[i, j] - b - ml[j]
            kl += x * y
            kk += x * x
            ll += y * y
        parts[i, 0] = kl
        parts[i, 1] = kk
        parts[i, 2] = ll
    out = np.zeros(3)
    for i in range(n):  # in row order: the same sums under any thread count
        out[0] += parts[i, 0]
        out[1] += parts[i, 1]
        out[2] += parts[i, 2]
    return out[0], out[1], out[2]
