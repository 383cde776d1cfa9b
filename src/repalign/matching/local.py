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
from ..kernels import cross_sq_distances, linear_gram, rbf_sigma, resolve_sigma, squared_distances
from ..measures.kernel_alignment import cka_from_grams

__all__ = ["local_cka", "local_cka_naive", "resolve_sigmas", "LocalCKABase"]


def _check_inputs(Zb, Hb, Zq, Hq):
    Zb, Hb = check_pair(Zb, Hb, names=("Zb", "Hb"), min_samples=2)
    return (Zb, Hb, *_check_queries(Zb, Hb, Zq, Hq))


def resolve_sigmas(Zb, Hb, Zq, Hq, sigma="median", threshold: float = 1.0):
    """The fixed RBF bandwidth of each space (rule on base ∪ queries, or the given float)."""
    rule = resolve_sigma(sigma, threshold)
    if not isinstance(rule, str):
        return rule, rule
    return tuple(rbf_sigma(squared_distances(np.vstack([B, Q])), rule, threshold) for B, Q in ((Zb, Zq), (Hb, Hq)))


class LocalCKABase:
    """The base-set terms of local CKA, computed once (the estimator's ``fit``): Gram matrices
    of the M base pairs, their row sums and Frobenius products. :meth:`scores` adds the query
    terms. ``sigmas``: the fixed RBF bandwidth of each space (ignored for the linear kernel)."""

    def __init__(self, Zb, Hb, kernel: str = "linear", sigmas=(None, None)):
        if kernel not in ("linear", "rbf"):
            raise ValueError(f"kernel: expected 'linear' or 'rbf', got {kernel!r}")
        Zb, Hb = check_pair(Zb, Hb, names=("Zb", "Hb"), min_samples=2)
        self.kernel, self.sigmas = kernel, tuple(sigmas)
        # centring the inputs by a common shift changes no linear-kernel HSIC and avoids cancellation
        self.mz, self.mh = (Zb.mean(0), Hb.mean(0)) if kernel == "linear" else (0.0, 0.0)
        self.Zb, self.Hb = Zb - self.mz, Hb - self.mh
        gz, gh = (_gamma(s) for s in self.sigmas) if kernel == "rbf" else (None, None)
        self.gz, self.gh = gz, gh
        K = linear_gram(self.Zb) if kernel == "linear" else np.exp(squared_distances(self.Zb) * gz)
        L = linear_gram(self.Hb) if kernel == "linear" else np.exp(squared_distances(self.Hb) * gh)
        self.K, self.L = K, L
        self.rk, self.rl = K.sum(1), L.sum(1)
        self.sk, self.sl = self.rk.sum(), self.rl.sum()
        self.s_kl, self.s_kk, self.s_ll = (float(np.einsum("ij,ij->", a, b)) for a, b in ((K, L), (K, K), (L, L)))

    def _query(self, B, Q, gamma):
        """Cross rows (N', M) and self values (N',) of the queries."""
        if self.kernel == "linear":
            return Q @ np.ascontiguousarray(B.T), np.einsum("ij,ij->i", Q, Q)
        return np.exp(cross_sq_distances(Q, B) * gamma), np.ones(len(Q))

    def scores(self, Zq, Hq) -> np.ndarray:
        """(N'_z, N'_h) local CKA of every query pair (module docstring)."""
        Zq, Hq = _check_queries(self.Zb, self.Hb, Zq, Hq)
        Kq, kap = self._query(self.Zb, Zq - self.mz, self.gz)
        Lq, lam = self._query(self.Hb, Hq - self.mh, self.gh)
        n = self.K.shape[0] + 1
        rk, rl, sk, sl = self.rk, self.rl, self.sk, self.sl
        tk, tl = Kq.sum(1), Lq.sum(1)  # 1ᵀk_i, 1ᵀl_j
        cross = Kq @ np.ascontiguousarray(Lq.T)  # k_i · l_j
        # tr(K'HL'H) = Σ K'∘L' - (2/n) k'·l' + (Σk')(Σl')/n² for the bordered matrices
        S = self.s_kl + 2 * cross + np.outer(kap, lam)
        rows = (rk @ rl) + (Lq @ rk)[None, :] + (Kq @ rl)[:, None] + cross + np.outer(tk + kap, tl + lam)
        totals = np.outer(sk + 2 * tk + kap, sl + 2 * tl + lam)
        num = S - 2.0 / n * rows + totals / n**2

        def self_term(s_mm, Mq, mu, r, s, t):
            qq = np.einsum("ij,ij->i", Mq, Mq)
            Ss = s_mm + 2 * qq + mu**2
            rr = r @ r + 2 * (Mq @ r) + qq + (t + mu) ** 2
            tot = (s + 2 * t + mu) ** 2
            return Ss - 2.0 / n * rr + tot / n**2

        dk = self_term(self.s_kk, Kq, kap, rk, sk, tk)
        dl = self_term(self.s_ll, Lq, lam, rl, sl, tl)
        if np.any(dk <= 0) or np.any(dl <= 0):
            raise ValueError("local_cka: an augmented set has zero variance; check for constant embeddings")
        return num / np.sqrt(np.outer(dk, dl))


def _gamma(sigma):
    return -1.0 / (2.0 * sigma * sigma)


def _check_queries(Zb, Hb, Zq, Hq):
    Zq = as_embeddings(Zq, "Zq", min_samples=1)
    Hq = as_embeddings(Hq, "Hq", min_samples=1)
    if Zq.shape[1] != Zb.shape[1]:
        raise ValueError(f"Zq: has {Zq.shape[1]} features but Zb has {Zb.shape[1]}; both must come from one encoder")
    if Hq.shape[1] != Hb.shape[1]:
        raise ValueError(f"Hq: has {Hq.shape[1]} features but Hb has {Hb.shape[1]}; both must come from one encoder")
    return Zq, Hq


def local_cka(Zb, Hb, Zq, Hq, kernel: str = "linear", sigma="median", threshold: float = 1.0) -> np.ndarray:
    """Local CKA scores of every query pair (maniparambil2024 Eq. 6).

    Parameters
    ----------
    Zb, Hb : array, shape (M, d1) and (M, d2)
        The aligned base pairs.
    Zq, Hq : array, shape (N'_z, d1) and (N'_h, d2)
        Queries of each space (any order).
    kernel : {"linear", "rbf"}
    sigma, threshold
        RBF bandwidth, fixed per space (module docstring); ignored for the linear kernel.

    Returns
    -------
    ndarray, shape (N'_z, N'_h)
        Entry (i, j) is the CKA of the base pairs augmented with ``(Zq[i], Hq[j])``; larger =
        the pair agrees better with the base set's structure. Equal to
        :func:`local_cka_naive` to ~1e-12.

    References
    ----------
    maniparambil2024 (arXiv:2401.05224) Eq. 6.
    """
    Zb, Hb, Zq, Hq = _check_inputs(Zb, Hb, Zq, Hq)
    sig = resolve_sigmas(Zb, Hb, Zq, Hq, sigma, threshold) if kernel == "rbf" else (None, None)
    return LocalCKABase(Zb, Hb, kernel, sig).scores(Zq, Hq)


def local_cka_naive(Zb, Hb, Zq, Hq, kernel: str = "linear", sigma="median", threshold: float = 1.0) -> np.ndarray:
    """Reference local CKA: one full CKA per pair of augmented Gram matrices (slow: tests only).

    Parameters
    ----------
    Zb, Hb, Zq, Hq, kernel, sigma, threshold
        As in :func:`local_cka`.

    Returns
    -------
    ndarray, shape (N'_z, N'_h)
    """
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
