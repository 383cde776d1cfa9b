"""Local CKA (maniparambil2024 Eq. 6) for every query pair at once, in closed form.

``localCKA(z, h) = CKA(K_[Zb; z], L_[Hb; h])``: the CKA of the base set augmented with one
query image z and one query caption h. The augmented Gram matrix is the base one bordered by
one row/column, so every term of ``tr(K'HL'H)`` is a base statistic plus a query-side vector
(cross-kernel row ``k = k(Zb, z)``, self-kernel ``κ = k(z, z)``). For base size M and N'
queries per side, all N' x N' scores cost one (N' x M) @ (M x N') product plus outer
products, O(N'² M), instead of N'² separate CKAs of size M + 1 (O(N'² M²) or worse; the paper
reports 5 minutes for M = 320, N' = 500).

RBF bandwidth: the augmented set changes with every pair, so a per-pair median would make
scores incomparable. The bandwidth is fixed once per space: with ``sigma="median"`` (default),
the median rule of :mod:`repalign.kernels` applied to base ∪ all queries of that space; or an
explicit float.
"""

from __future__ import annotations

import numpy as np

from .._validate import as_embeddings, check_pair
from ..kernels import cross_sq_distances, rbf_sigma, squared_distances
from ..measures.cka import cka_from_grams

__all__ = ["local_cka", "local_cka_naive", "resolve_sigmas"]


def _check_inputs(Zb, Hb, Zq, Hq):
    Zb, Hb = check_pair(Zb, Hb, names=("Zb", "Hb"), min_samples=2)
    Zq = as_embeddings(Zq, "Zq", min_samples=1)
    Hq = as_embeddings(Hq, "Hq", min_samples=1)
    if Zq.shape[1] != Zb.shape[1]:
        raise ValueError(f"Zq: has {Zq.shape[1]} features but Zb has {Zb.shape[1]}; both must come from one encoder")
    if Hq.shape[1] != Hb.shape[1]:
        raise ValueError(f"Hq: has {Hq.shape[1]} features but Hb has {Hb.shape[1]}; both must come from one encoder")
    return Zb, Hb, Zq, Hq


def resolve_sigmas(Zb, Hb, Zq, Hq, sigma="median", threshold: float = 1.0):
    """The fixed RBF bandwidth of each space (rule on base ∪ queries, or the given float)."""
    out = []
    for B, Q in ((Zb, Zq), (Hb, Hq)):
        if isinstance(sigma, str):
            out.append(rbf_sigma(squared_distances(np.vstack([B, Q])), sigma, threshold))
        else:
            out.append(rbf_sigma(None, sigma))
    return tuple(out)


def _kernels(B, Q, kernel, sigma):
    """Base Gram (M, M), cross rows (N', M) and self values (N',)."""
    if kernel == "linear":
        return B @ np.ascontiguousarray(B.T), Q @ np.ascontiguousarray(B.T), np.einsum("ij,ij->i", Q, Q)
    if kernel != "rbf":
        raise ValueError(f"kernel: expected 'linear' or 'rbf', got {kernel!r}")
    g = -1.0 / (2.0 * sigma * sigma)
    return np.exp(squared_distances(B) * g), np.exp(cross_sq_distances(Q, B) * g), np.ones(len(Q))


def local_cka(Zb, Hb, Zq, Hq, kernel: str = "linear", sigma="median", threshold: float = 1.0) -> np.ndarray:
    """(N'_z, N'_h) matrix of local CKA scores (Eq. 6): entry (i, j) is the CKA of the base
    pairs ``(Zb, Hb)`` (M rows each, aligned) augmented with the query pair ``(Zq[i], Hq[j])``.

    Larger = the pair agrees better with the base set's structure. ``kernel``: ``linear`` or
    ``rbf`` (bandwidth fixed per space, see module docstring). Equal to
    :func:`local_cka_naive` to ~1e-12.
    """
    Zb, Hb, Zq, Hq = _check_inputs(Zb, Hb, Zq, Hq)
    # centring the inputs by a common shift changes no linear-kernel HSIC and avoids cancellation
    if kernel == "linear":
        mz, mh = Zb.mean(0), Hb.mean(0)
        Zb, Zq, Hb, Hq = Zb - mz, Zq - mz, Hb - mh, Hq - mh
        sx = sy = None
    else:
        sx, sy = resolve_sigmas(Zb, Hb, Zq, Hq, sigma, threshold)
    K, Kq, kap = _kernels(Zb, Zq, kernel, sx)
    L, Lq, lam = _kernels(Hb, Hq, kernel, sy)
    n = K.shape[0] + 1
    rk, rl = K.sum(1), L.sum(1)
    sk, sl = rk.sum(), rl.sum()
    tk, tl = Kq.sum(1), Lq.sum(1)  # 1ᵀk_i, 1ᵀl_j
    cross = Kq @ np.ascontiguousarray(Lq.T)  # k_i · l_j
    # tr(K'HL'H) = Σ K'∘L' - (2/n) k'·l' + (Σk')(Σl')/n² for the bordered matrices
    S = np.einsum("ij,ij->", K, L) + 2 * cross + np.outer(kap, lam)
    rows = (rk @ rl) + (Lq @ rk)[None, :] + (Kq @ rl)[:, None] + cross + np.outer(tk + kap, tl + lam)
    totals = np.outer(sk + 2 * tk + kap, sl + 2 * tl + lam)
    num = S - 2.0 / n * rows + totals / n**2

    def self_term(M, Mq, mu, r, s, t):
        Ss = np.einsum("ij,ij->", M, M) + 2 * np.einsum("ij,ij->i", Mq, Mq) + mu**2
        rr = r @ r + 2 * (Mq @ r) + np.einsum("ij,ij->i", Mq, Mq) + (t + mu) ** 2
        tot = (s + 2 * t + mu) ** 2
        return Ss - 2.0 / n * rr + tot / n**2

    dk = self_term(K, Kq, kap, rk, sk, tk)
    dl = self_term(L, Lq, lam, rl, sl, tl)
    if np.any(dk <= 0) or np.any(dl <= 0):
        raise ValueError("local_cka: an augmented set has zero variance; check for constant embeddings")
    return num / np.sqrt(np.outer(dk, dl))


def local_cka_naive(Zb, Hb, Zq, Hq, kernel: str = "linear", sigma="median", threshold: float = 1.0) -> np.ndarray:
    """Reference: one full CKA per pair of the augmented Gram matrices (slow: tests only)."""
    Zb, Hb, Zq, Hq = _check_inputs(Zb, Hb, Zq, Hq)
    sx, sy = resolve_sigmas(Zb, Hb, Zq, Hq, sigma, threshold) if kernel == "rbf" else (None, None)

    def gram(X, s):
        if kernel == "linear":
            return X @ X.T
        return np.exp(-squared_distances(X) / (2 * s * s))

    out = np.empty((len(Zq), len(Hq)))
    for i in range(len(Zq)):
        Kz = gram(np.vstack([Zb, Zq[i]]), sx)
        for j in range(len(Hq)):
            out[i, j] = cka_from_grams(Kz, gram(np.vstack([Hb, Hq[j]]), sy))
    return out
