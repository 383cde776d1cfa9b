"""HSIC and centred kernel alignment (CKA).

maniparambil2024 Eq. (1)-(2)::

    CKA(K, L)  = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))
    HSIC(K, L) = tr(K C L C) / (N - 1)²,   C = I - 11ᵀ/N

The debiased variant replaces HSIC by Song et al. (2012)'s unbiased estimator
(Kornblith et al. 2019, §"debiased CKA")::

    HSIC₁(K, L) = [tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1 / ((n-1)(n-2)) - 2/(n-2)·1ᵀK̃L̃1] / (n(n-3))

with ``K̃`` = ``K`` with its diagonal set to zero.

Three computational routes give the same numbers (tests check each against the others):

* linear/cosine kernels in feature space through :class:`repalign.moments.PairMoments`
  (O(n d²), O(d²) memory; chosen when cheaper than the Gram route);
* dense Gram matrices (small n);
* blockwise RBF: upper-triangular blocks of the distance matrices, never more than
  ``block_size²`` kernel entries at once beyond what the bandwidth rule needs (see
  :func:`rbf_cka_blockwise`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._device import compute_device
from .._fork import kernel as fork_safe
from .._validate import check_pair, check_positive_int, to_unit_scale
from ..kernels import (
    DENSE_RBF_MAX_ROWS,
    center_gram,
    cosine_normalize,
    iter_sq_distance_blocks,
    linear_gram,
    rank_bins,
    rbf_gram,
    resolve_kernel,
    resolve_sigma,
    sigma_from_ranks,
    sigma_from_triangle,
    unbiased_hsic_from_terms,
)
from ..moments import PairMoments
from .torch_backend import cka_torch, hsic_torch

__all__ = ["hsic", "cka", "cka_from_grams", "hsic_from_grams", "rbf_cka_blockwise", "KernelStats", "unbiased_hsic_from_terms",
           "kernel_stats", "unbiased_hsic", "cka_ratio"]


def _unbiased(n: int, tr: float, sum_k: float, sum_l: float, cross: float) -> float:
    return float(unbiased_hsic_from_terms(n, tr, sum_k, sum_l, cross))


def unbiased_hsic(K, L) -> float:
    """Song et al. (2012)'s unbiased HSIC of two (m, m) matrices, diagonals ignored; ``K`` and
    ``L`` may be asymmetric (CKNNA's masked kernels are), with ``tr(K̃L̃) = Σ K̃_ij L̃_ji``.

    Parameters
    ----------
    K, L : ndarray, shape (m, m)

    Returns
    -------
    float
        ``[tr(K̃L̃) + 1ᵀK̃1·1ᵀL̃1/((m-1)(m-2)) - 2/(m-2)·1ᵀK̃L̃1] / (m(m-3))``, needs m >= 4.

    References
    ----------
    Song et al., "Feature selection via dependence maximization", JMLR 13 (2012), Eq. 5.
    """
    dk, dl = np.diag(K), np.diag(L)
    tr = float(np.einsum("ij,ji->", K, L) - dk @ dl)
    kcol, lrow = K.sum(0) - dk, L.sum(1) - dl
    return _unbiased(K.shape[0], tr, float(kcol.sum()), float(lrow.sum()), float(kcol @ lrow))

KERNELS = ("linear", "cosine", "rbf")


@dataclass(frozen=True)
class KernelStats:
    """Sufficient statistics of a pair of Gram matrices for (un)biased HSIC.

    ``s_kl = Σ K∘L``, row sums ``k = K1``, ``l = L1`` and the diagonals.
    """

    n: int
    s_kl: float
    k: np.ndarray
    l: np.ndarray  # noqa: E741 - the paper's name for the second row-sum vector
    diag_k: np.ndarray
    diag_l: np.ndarray

    def hsic(self, debiased: bool = False) -> float:
        """Biased HSIC (maniparambil2024 Eq. 2) or, with ``debiased``, Song et al.'s unbiased
        one, for symmetric K and L."""
        n = self.n
        if not debiased:
            tr = self.s_kl - 2.0 / n * (self.k @ self.l) + self.k.sum() * self.l.sum() / n**2
            return float(tr / (n - 1) ** 2)
        kt, lt = self.k - self.diag_k, self.l - self.diag_l
        return _unbiased(n, self.s_kl - self.diag_k @ self.diag_l, float(kt.sum()), float(lt.sum()), float(kt @ lt))


def kernel_stats(K: np.ndarray, L: np.ndarray) -> KernelStats:
    """:class:`KernelStats` of two dense symmetric (n, n) Gram matrices."""
    return KernelStats(K.shape[0], float(np.einsum("ij,ij->", K, L)), K.sum(1), L.sum(1),
                       np.diag(K).copy(), np.diag(L).copy())


def cka_ratio(kl: float, kk: float, ll: float, names=("X", "Y")) -> float:
    """``kl / sqrt(kk · ll)`` (maniparambil2024 Eq. 1) with a clear error when a side is constant."""
    if kk <= 0 or ll <= 0:
        which = names[0] if kk <= 0 else names[1]
        raise ValueError(
            f"{which}: has zero variance under this kernel (HSIC({which},{which}) = 0); "
            "CKA is undefined for constant embeddings"
        )
    return float(kl / np.sqrt(kk * ll))


def hsic_from_grams(K, L, debiased: bool = False) -> float:
    """HSIC of two precomputed Gram matrices.

    Parameters
    ----------
    K, L : ndarray, shape (n, n)
    debiased : bool
        Song et al.'s unbiased estimator (n >= 4) instead of ``tr(KHLH)/(n-1)²``.

    Returns
    -------
    float

    References
    ----------
    maniparambil2024 (Maniparambil et al., "Do Vision and Language Encoders Represent the World
    Similarly?", CVPR 2024, arXiv:2401.05224) Eq. 1-2; Song et al., JMLR 13 (2012).
    """
    K = np.asarray(K, dtype=np.float64)
    L = np.asarray(L, dtype=np.float64)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape != L.shape:
        raise ValueError(f"K and L must be square matrices of equal shape, got {K.shape} and {L.shape}")
    if debiased:
        return kernel_stats(K, L).hsic(True)
    return float(np.einsum("ij,ij->", center_gram(K), L) / (K.shape[0] - 1) ** 2)


def cka_from_grams(K, L, debiased: bool = False, names=("X", "Y")) -> float:
    """CKA of two precomputed Gram matrices.

    Parameters
    ----------
    K, L : ndarray, shape (n, n)
    debiased : bool
        Use the unbiased HSIC.
    names : tuple of str, default ("X", "Y")
        How errors name the two sides (e.g. ``("K", "L")`` for RSMs).

    Returns
    -------
    float

    References
    ----------
    maniparambil2024 (Maniparambil et al., "Do Vision and Language Encoders Represent the World
    Similarly?", CVPR 2024, arXiv:2401.05224) Eq. 1-2.
    """
    return cka_ratio(hsic_from_grams(K, L, debiased), hsic_from_grams(K, K, debiased),
                     hsic_from_grams(L, L, debiased), names)


def _prepare(X, Y, kernel: str, debiased: bool, sigma=None, threshold: float = 1.0, unit_scale: bool = False):
    kernel = resolve_kernel(kernel, KERNELS)
    if kernel != "rbf" and (sigma is not None or threshold != 1.0):
        raise ValueError(f"sigma/threshold: set a bandwidth only with kernel='rbf'; the {kernel} kernel has none")
    if kernel == "rbf":
        resolve_sigma(sigma, threshold)  # fail before any work
    # CKA (unit_scale=True; not HSIC) is scale-invariant, except the RBF kernel with an explicit
    # bandwidth: it works at unit scale, so values near 1e300 do not overflow and near 1e-300 do
    # not underflow
    invariant = unit_scale and (kernel != "rbf" or isinstance(resolve_sigma(sigma, threshold), str))
    X, Y = check_pair(X, Y, min_samples=4 if debiased else 2, rescale=invariant)
    if kernel == "cosine":
        X, Y = cosine_normalize(X, "X"), cosine_normalize(Y, "Y")
    return X, Y


def _feature_route_cheaper(n: int, dx: int, dy: int) -> bool:
    # Feature route costs ~ n (dx+dy)² flops; Gram route ~ n² (dx+dy) plus n² memory.
    return (dx + dy) < n


def _linear_terms(X, Y, debiased: bool, route: str):
    n = X.shape[0]
    if route == "auto":
        route = "feature" if _feature_route_cheaper(n, X.shape[1], Y.shape[1]) else "gram"
    if route == "feature":
        acc = PairMoments(debiased=debiased)
        for s in range(0, n, 65536):
            acc.update(X[s:s + 65536], Y[s:s + 65536])
        # the same scale as the Gram route: 1/(n(n-3)) unbiased, 1/(n-1)² biased
        scale = 1.0 / (n * (n - 3.0)) if debiased else 1.0 / (n - 1.0) ** 2
        return tuple(scale * v for v in acc.hsic_terms(debiased=debiased))
    if route != "gram":
        raise ValueError(f"route: expected 'auto', 'feature' or 'gram', got {route!r}")
    # HSIC of linear kernels is translation invariant; centring first avoids cancellation
    K, L = linear_gram(X - X.mean(0)), linear_gram(Y - Y.mean(0))
    return (hsic_from_grams(K, L, debiased), hsic_from_grams(K, K, debiased),
            hsic_from_grams(L, L, debiased))


def _hsic_triplet(X, Y, kernel, debiased, sigma, threshold, block_size, route):
    if kernel in ("linear", "cosine"):
        return _linear_terms(X, Y, debiased, route)
    sig = resolve_sigma(sigma, threshold)
    n = X.shape[0]
    dense = n <= (DENSE_RBF_MAX_ROWS if block_size is None else block_size)
    if block_size is None:
        block_size = 4096
    if dense:
        if not debiased:
            return _dense_rbf_triplet(X, Y, sig, threshold)
        K, _ = rbf_gram(X, sig, threshold)
        L, _ = rbf_gram(Y, sig, threshold)
        return (hsic_from_grams(K, L, debiased), hsic_from_grams(K, K, debiased),
                hsic_from_grams(L, L, debiased))
    res = rbf_cka_blockwise(X, Y, sigma=sig, threshold=threshold, block_size=block_size, debiased=debiased)
    return res["hsic_xy"], res["hsic_xx"], res["hsic_yy"]


def _dense_rbf_triplet(X, Y, sig, threshold):
    """Biased (HSIC(K, L), HSIC(K, K), HSIC(L, L)) of RBF kernels on dense n x n matrices: one BLAS
    Gram product per side, then three compiled passes (:mod:`repalign.measures._rbf_jit`):
    distances in place (bit for bit :func:`repalign.kernels.squared_distances`), the bandwidth
    from their upper triangle, the kernel in place with its row sums, and the three centred
    inner products ``⟨HKH, HLH⟩ / (n-1)²`` without centred copies."""
    from . import _rbf_jit  # noqa: PLC0415 - numba only when dense RBF CKA runs

    n = X.shape[0]
    grams = []
    for Z in (X, Y):
        Zc = Z - Z.mean(axis=0)
        sq = np.einsum("ij,ij->i", Zc, Zc)
        G = np.ascontiguousarray(linear_gram(Zc))
        tri = np.empty(n * (n - 1) // 2)
        fork_safe(_rbf_jit.distances_inplace)(G, sq, tri)
        s = sigma_from_triangle(tri, n, sig, threshold)
        del tri
        grams.append((G, fork_safe(_rbf_jit.exp_inplace)(G, -1.0 / (2.0 * s * s))))
    (K, rk), (L, rl) = grams
    kl, kk, ll = fork_safe(_rbf_jit.centred_dots)(K, L, rk, rl)
    scale = (n - 1.0) ** 2
    return kl / scale, kk / scale, ll / scale


def hsic(X, Y, kernel: str = "linear", debiased: bool = False, sigma=None, threshold: float = 1.0,
         block_size: int | None = None, device=None) -> float:
    """HSIC between embeddings.

    Biased: ``tr(KCLC)/(n-1)²``. ``debiased=True``: Song et al.'s unbiased estimator (n >= 4).
    For linear/cosine kernels the value is computed in feature space as ``‖XcᵀYc‖²_F/(n-1)²``.

    Parameters
    ----------
    X, Y : array, shape (n, dx) and (n, dy)
        Rows are paired items.
    kernel, debiased, sigma, threshold, block_size, device
        As in :func:`cka`.

    Returns
    -------
    float

    References
    ----------
    maniparambil2024 (Maniparambil et al., "Do Vision and Language Encoders Represent the World
    Similarly?", CVPR 2024, arXiv:2401.05224) Eq. 1-2 (Eq. 2).
    """
    device = compute_device(device)
    if device is not None:
        return hsic_torch(X, Y, kernel, debiased, sigma, threshold, device=device, block_size=block_size)
    X, Y = _prepare(X, Y, kernel, debiased, sigma, threshold)
    return _hsic_triplet(X, Y, kernel, debiased, sigma, threshold, block_size, "auto")[0]


def cka(X, Y, kernel: str = "linear", debiased: bool = False, sigma=None, threshold: float = 1.0,
        block_size: int | None = None, route: str = "auto", device=None) -> float:
    """Centred kernel alignment of row-paired embeddings.

    ``HSIC(K,L)/sqrt(HSIC(K,K) HSIC(L,L))`` in [0, 1] (biased; the debiased estimate can be slightly
    negative). Invariant to orthogonal transforms and isotropic scaling of either space, and to
    a joint permutation of the rows.

    Parameters
    ----------
    X, Y : array, shape (n, dx) and (n, dy)
        Rows are paired items.
    kernel : {"linear", "cosine", "rbf"}
        ``cosine`` is the linear kernel on L2-normalised rows.
    debiased : bool
        Use the unbiased HSIC estimator (needs n >= 4).
    sigma : None, float, "median" or "kornblith"
        RBF bandwidth (only with ``kernel="rbf"``). ``None`` means ``"median"``: the square root
        of the lower median of the non-zero squared distances, per space (the paper's code).
        ``"kornblith"``: ``σ = threshold · sqrt(median of all squared distances)``.
    threshold : float
        Multiplier of the bandwidth rule's σ, for every rule (Kornblith et al.'s ``threshold``),
        default 1.0. Refused with an explicit float ``sigma`` (pass the σ you want instead).
    block_size : int, optional
        RBF only: above this many samples the kernel is evaluated in blocks of this size with
        bounded memory (default: dense n x n Gram matrices up to :data:`DENSE_RBF_MAX_ROWS`
        rows, about 1.5 GB at the limit; blocks of 4096 above).
    route : {"auto", "feature", "gram"}
        Linear/cosine only: force the feature-space or Gram-matrix computation.
    device : {None, "cpu", "cuda", "cuda:N", "mps", "auto"}
        Run in torch on this device (:mod:`repalign.measures.torch_backend`: the same
        definitions; float64 inputs stay float64, lower precisions compute in float32 with
        float64 sums). Default None: NumPy. ``"cpu"`` (and ``"auto"`` with no GPU) runs the
        NumPy path, faster on a CPU (:func:`repalign._device.compute_device`). Inputs may be
        tensors either way.

    Returns
    -------
    float

    References
    ----------
    maniparambil2024 (Maniparambil et al., "Do Vision and Language Encoders Represent the World
    Similarly?", CVPR 2024, arXiv:2401.05224) Eq. 1-2; Kornblith et al., "Similarity of Neural Network Representations Revisited", ICML 2019,
    arXiv:1905.00414.
    """
    device = compute_device(device)
    if device is not None:
        if route != "auto":
            raise ValueError("route: the torch path (device=) chooses its own route; leave route='auto'")
        return cka_torch(X, Y, kernel, debiased, sigma, threshold, device=device, block_size=block_size)
    X, Y = _prepare(X, Y, kernel, debiased, sigma, threshold, unit_scale=True)
    if block_size is not None:
        block_size = check_positive_int(block_size, "block_size", minimum=2)
    return cka_ratio(*_hsic_triplet(X, Y, kernel, debiased, sigma, threshold, block_size, route))


# ---------------------------------------------------------------------------------- blockwise RBF


def _select_ranks(value_blocks, ranks, upper: float, bins: int = 1 << 16):
    """Exact order statistics of a stream of 1-D arrays, in two passes of bounded memory.

    ``value_blocks()`` returns a fresh iterable of 1-D arrays (the same values each time) that lie
    in ``[0, upper]``. Pass 1 builds a histogram; pass 2 keeps only the values in the bins that
    contain the wanted ranks and selects among them.
    """
    ranks = list(ranks)
    scale = (bins - 1) / upper if upper > 0 else 0.0
    counts = np.zeros(bins, dtype=np.int64)
    for v in value_blocks():
        idx = (v * scale).astype(np.int64)
        np.minimum(idx, bins - 1, out=idx)
        counts += np.bincount(idx, minlength=bins)
    where = rank_bins(np.cumsum(counts), ranks)
    kept = {b: [] for b, _ in where.values()}
    for v in value_blocks():
        idx = (v * scale).astype(np.int64)
        np.minimum(idx, bins - 1, out=idx)
        for b in kept:
            sel = v[idx == b]
            if sel.size:
                kept[b].append(sel)
    merged = {b: np.sort(np.concatenate(parts)) for b, parts in kept.items()}
    out = {r: float(merged[b][lr]) for r, (b, lr) in where.items()}
    return [out[r] for r in ranks]


def _blockwise_sigma(X, rule, threshold, block, stored):
    """Bandwidth by ``rule`` for the rows of X using blockwise distances.

    ``stored`` is a list of (i0, j0, D_block float32) if distances were kept, else None
    (they are recomputed for each pass).
    """
    n = X.shape[0]
    norms = np.linalg.norm(X - X.mean(0), axis=1)
    upper = float((2.0 * norms.max()) ** 2) * (1 + 1e-6) + 1e-300

    def blocks():
        if stored is not None:
            for i0, j0, D in stored:
                yield D[np.triu_indices_from(D, 1)] if i0 == j0 else D.ravel()
        else:
            for i0, _i1, j0, _j1, D in iter_sq_distance_blocks(X, block):
                yield D[np.triu_indices_from(D, 1)] if i0 == j0 else D.ravel()

    m_zero = sum(int(np.count_nonzero(v == 0)) for v in blocks())
    return sigma_from_ranks(lambda r: _select_ranks(blocks, r, upper), n, m_zero, rule, threshold)


def _scale_of(X, Xs) -> float:
    """The power of two that :func:`to_unit_scale` divided ``X`` by."""
    m, ms = float(np.max(np.abs(X))), float(np.max(np.abs(Xs)))
    return m / ms if ms > 0 else 1.0


def rbf_cka_blockwise(X, Y, sigma="median", threshold: float = 1.0, block_size: int = 2048,
                      debiased: bool = False, max_memory_bytes: int = 2 << 30) -> dict:
    """RBF CKA with bounded memory: upper-triangular blocks of ``‖xᵢ - xⱼ‖²``, never an n x n array.

    With an explicit ``sigma`` one pass suffices (two Gram products of half size, plus the
    elementwise work). A bandwidth *rule* needs the distances before any kernel value: if both
    spaces' upper-triangle distances fit in ``max_memory_bytes`` as float32 they are kept from
    the first pass (the kernel pass then costs no further products); otherwise they are
    recomputed (three extra passes, exact order statistics by histogram refinement).

    Parameters
    ----------
    X, Y : array, shape (n, dx) and (n, dy)
    sigma, threshold
        As in :func:`cka`.
    block_size : int
        Rows per block (default 2048).
    debiased : bool
    max_memory_bytes : int
        Budget for keeping the distances between passes (default 2 GiB).

    Returns
    -------
    dict
        ``cka``, ``hsic_xy``, ``hsic_xx``, ``hsic_yy``, ``sigma_x``, ``sigma_y`` and ``stored``
        (whether distances were kept).

    References
    ----------
    maniparambil2024 (arXiv:2401.05224) Eq. 1-2 with RBF kernels.
    """
    X, Y = check_pair(X, Y, min_samples=4 if debiased else 2)
    unit = 1.0, 1.0  # the bandwidths are reported in the caller's units
    if isinstance(resolve_sigma(sigma, threshold), str):  # scale-invariant: work at unit scale
        Xs, Ys = to_unit_scale(X), to_unit_scale(Y)
        unit = (_scale_of(X, Xs), _scale_of(Y, Ys))
        X, Y = Xs, Ys
    block = check_positive_int(block_size, "block_size", minimum=2)
    n = X.shape[0]
    rule = resolve_sigma(sigma, threshold)
    stored_x = stored_y = None
    if isinstance(rule, str):
        nblocks = -(-n // block)
        need = 2 * 4 * block * block * nblocks * (nblocks + 1) // 2
        if need <= max_memory_bytes:
            stored_x, stored_y = [], []
            for (i0, _, j0, _, Dx), (_, _, _, _, Dy) in zip(iter_sq_distance_blocks(X, block),
                                                             iter_sq_distance_blocks(Y, block), strict=True):
                stored_x.append((i0, j0, Dx.astype(np.float32)))
                stored_y.append((i0, j0, Dy.astype(np.float32)))
        sx = _blockwise_sigma(X, rule, threshold, block, stored_x)
        sy = _blockwise_sigma(Y, rule, threshold, block, stored_y)
    else:
        sx = sy = rule

    ax, ay = -1.0 / (2 * sx * sx), -1.0 / (2 * sy * sy)
    s_kl = s_kk = s_ll = 0.0
    k, l_ = np.zeros(n), np.zeros(n)

    if stored_x is not None:
        pairs = ((i0, j0, Dx, Dy) for (i0, j0, Dx), (_, _, Dy) in zip(stored_x, stored_y, strict=True))
    else:
        pairs = ((i0, j0, Dx, Dy) for (i0, _, j0, _, Dx), (_, _, _, _, Dy)
                 in zip(iter_sq_distance_blocks(X, block), iter_sq_distance_blocks(Y, block), strict=True))
    for i0, j0, Dx, Dy in pairs:
        K = np.exp(np.multiply(Dx, ax, dtype=np.float64))
        L = np.exp(np.multiply(Dy, ay, dtype=np.float64))
        w = 1.0 if i0 == j0 else 2.0
        s_kl += w * np.einsum("ij,ij->", K, L)
        s_kk += w * np.einsum("ij,ij->", K, K)
        s_ll += w * np.einsum("ij,ij->", L, L)
        bi, bj = K.shape
        k[i0:i0 + bi] += K.sum(1)
        l_[i0:i0 + bi] += L.sum(1)
        if i0 != j0:
            k[j0:j0 + bj] += K.sum(0)
            l_[j0:j0 + bj] += L.sum(0)
    ones = np.ones(n)
    h_xy = KernelStats(n, s_kl, k, l_, ones, ones).hsic(debiased)
    h_xx = KernelStats(n, s_kk, k, k, ones, ones).hsic(debiased)
    h_yy = KernelStats(n, s_ll, l_, l_, ones, ones).hsic(debiased)
    return {
        "cka": cka_ratio(h_xy, h_xx, h_yy),
        "hsic_xy": h_xy,
        "hsic_xx": h_xx,
        "hsic_yy": h_yy,
        "sigma_x": float(sx) * unit[0],
        "sigma_y": float(sy) * unit[1],
        "stored": stored_x is not None,
    }
