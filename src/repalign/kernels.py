"""Kernels, bandwidth rules, centring and blockwise squared distances.

Conventions (rows are samples):

* linear kernel  ``K = X Xᵀ``
* cosine kernel  ``K = X̂ X̂ᵀ`` with rows of ``X̂`` scaled to unit L2 norm
* RBF kernel     ``K_ij = exp(-‖x_i - x_j‖² / (2 σ²))``

Bandwidth rules for the RBF kernel (``sigma=``):

* ``"median"`` – ``σ = threshold · sqrt(m)`` where ``m`` is the *lower* median of the non-zero
  squared distances over pairs ``i < j`` (maniparambil2024's code; per space).
* ``"kornblith"`` – ``σ = threshold · sqrt(median(all n² squared distances))`` (Kornblith et al.
  2019, ``gram_rbf``: the median includes the zero diagonal and both triangles).
* a positive float – that σ (``threshold`` must then stay 1: a multiplier of an explicit σ is
  refused rather than silently applied or ignored).

``threshold`` (default 1) multiplies every rule's σ, as in Kornblith et al.'s code.

This module is the one home of the kernels and distances every other module uses: the
mean-normalised distance matrix (Gromov–Wasserstein, blind matching), the centred and
Frobenius-normalised Gram matrix (CKA as an inner product, seeded QAP), and the bandwidth
parser.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = [
    "BANDWIDTH_RULES",
    "rank_bins",
    "unbiased_hsic_from_terms",
    "resolve_sigma",
    "mean_normalize",
    "normalized_distances",
    "normalized_centered_gram",
    "normalized_kernel",
    "linear_gram",
    "cosine_normalize",
    "squared_distances",
    "cross_sq_distances",
    "rbf_gram",
    "rbf_sigma",
    "sigma_from_ranks",
    "center_gram",
    "iter_sq_distance_blocks",
    "RandomFourierFeatures",
    "median_sigma",
    "sq_distances_from_inner",
    "median_rank",
    "median_bandwidth",
    "KERNEL_NAMES",
    "KERNEL_SYNONYMS",
    "resolve_kernel",
]

BANDWIDTH_RULES = ("median", "kornblith")

#: The one kernel vocabulary: every ``kernel=`` argument of the package takes these names (the
#: ones that function supports).
KERNEL_NAMES = ("linear", "cosine", "rbf")
#: The papers' own words for the same kernels, accepted everywhere as synonyms and kept in the
#: results of the method that uses them: wald2024 calls the linear kernel "inner", jalali2025
#: calls the RBF kernel "gaussian".
KERNEL_SYNONYMS = {"inner": "linear", "gaussian": "rbf"}

#: RBF CKA/HSIC keep both n x n Gram matrices in memory up to this many rows (unless a
#: ``block_size`` is given); above, blocks of rows (NumPy: ``rbf_cka_blockwise``; torch:
#: ``repalign.measures.torch_backend``).
DENSE_RBF_MAX_ROWS = 8192


def resolve_kernel(name, supported, arg: str = "kernel") -> str:
    """The spelling of kernel ``name`` that a method uses.

    Parameters
    ----------
    name : str
        A name of :data:`KERNEL_NAMES` or a synonym of :data:`KERNEL_SYNONYMS`.
    supported : sequence of str
        The kernels of the method, in its own spelling (e.g. SPEC's ``("cosine", "linear",
        "gaussian")``).
    arg : str
        Argument name for the error message.

    Returns
    -------
    str
        The entry of ``supported`` that means the same kernel (``resolve_kernel("rbf",
        ("linear", "gaussian")) == "gaussian"``).
    """
    canonical = KERNEL_SYNONYMS.get(name, name) if isinstance(name, str) else name
    for s in supported:
        if KERNEL_SYNONYMS.get(s, s) == canonical:
            return s
    names = ", ".join(KERNEL_SYNONYMS.get(s, s) + (f" ({s})" if s in KERNEL_SYNONYMS else "") for s in supported)
    raise ValueError(f"{arg}: unknown kernel {name!r}; use one of {names}")


#: Up to this many rows :func:`linear_gram` takes numpy's symmetric (syrk) product: half the
#: multiplications and an exactly symmetric result.
SYRK_MAX_ROWS = 8192


def linear_gram(X: np.ndarray) -> np.ndarray:
    """``X Xᵀ``.

    Up to :data:`SYRK_MAX_ROWS` rows ``X @ X.T`` (numpy's syrk path: half the products, exactly
    symmetric). Above, a general product with an explicit copy of the transpose: the syrk path
    has been seen to crash with 2 OpenBLAS threads for n >= 16,000.

    Parameters
    ----------
    X : ndarray, shape (n, d)

    Returns
    -------
    ndarray, shape (n, n)
    """
    if X.shape[0] <= SYRK_MAX_ROWS:
        return X @ X.T
    return X @ np.ascontiguousarray(X.T)


def cosine_normalize(X: np.ndarray, name: str = "X", out: np.ndarray | None = None) -> np.ndarray:
    """Scale every row to unit L2 norm.

    Parameters
    ----------
    X : ndarray, shape (n, d)
    name : str
        The argument name used in errors.
    out : ndarray, shape (n, d), optional
        Where to write the result (e.g. a slice of a wider buffer); may be ``X`` itself.

    Returns
    -------
    ndarray, shape (n, d)
        A new array (or ``out``). A zero row is an error (its direction is undefined).
    """
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))  # 4x np.linalg.norm's speed on float32 rows
    if np.any(norms == 0):
        i = int(np.flatnonzero(norms == 0)[0])
        raise ValueError(
            f"{name}: row {i} is all zeros, so the cosine kernel is undefined; "
            "drop zero rows or use kernel='linear'"
        )
    return np.divide(X, norms[:, None], out=out)


# Through the Gram identity ‖a-b‖² = ‖a‖² + ‖b‖² - 2a·b, identical rows come out as ~1e-15
# instead of 0; values below this fraction of ‖a‖² + ‖b‖² are rounding noise and set to 0, so
# that duplicated rows (e.g. in a bootstrap resample) have exactly zero distance.
_ROUNDOFF = 64 * np.finfo(np.float64).eps


def _finish_sq_distances(G: np.ndarray, sq_rows: np.ndarray, sq_cols: np.ndarray) -> np.ndarray:
    """Turn a block of ``-2 a·b`` (in place) into clean squared distances."""
    scale = sq_rows[:, None] + sq_cols[None, :]
    G += scale
    G[G <= _ROUNDOFF * scale] = 0.0
    return G


def sq_distances_from_inner(G: np.ndarray, sq_rows: np.ndarray, sq_cols: np.ndarray) -> np.ndarray:
    """Squared distances ``‖a‖² + ‖b‖² − 2⟨a, b⟩`` from inner products, rounding noise set to 0.

    Values at or below ``64 ε (‖a‖² + ‖b‖²)`` (negative ones included) are what the Gram
    identity leaves of identical vectors, and become exactly 0.

    Parameters
    ----------
    G : ndarray, shape (n, m)
        Inner products ``⟨a_i, b_j⟩`` (not modified).
    sq_rows, sq_cols : ndarray, shape (n,) and (m,)
        ``‖a_i‖²`` and ``‖b_j‖²``.

    Returns
    -------
    ndarray, shape (n, m)
        Non-negative squared distances.
    """
    return _finish_sq_distances(-2.0 * np.asarray(G, dtype=np.float64), sq_rows, sq_cols)


def squared_distances(X: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances of the rows.

    Computed on centred rows (translation-invariant, less cancellation); values below the
    rounding noise of the Gram identity are set to 0, so identical rows are exactly 0 apart.

    Parameters
    ----------
    X : ndarray, shape (n, d)

    Returns
    -------
    ndarray, shape (n, n)
        Non-negative, zero diagonal.
    """
    Xc = X - X.mean(axis=0)
    sq = np.einsum("ij,ij->i", Xc, Xc)
    D = linear_gram(Xc)
    D *= -2.0
    _finish_sq_distances(D, sq, sq)
    np.fill_diagonal(D, 0.0)
    return D


def cross_sq_distances(Q: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``Q`` and of ``B``.

    Same rounding clean-up as :func:`squared_distances` (both centred by B's mean).

    Parameters
    ----------
    Q : ndarray, shape (n, d)
    B : ndarray, shape (m, d)

    Returns
    -------
    ndarray, shape (n, m)
    """
    mu = B.mean(axis=0)
    Qc, Bc = Q - mu, B - mu
    G = Qc @ np.ascontiguousarray(Bc.T)
    G *= -2.0
    return _finish_sq_distances(G, np.einsum("ij,ij->i", Qc, Qc), np.einsum("ij,ij->i", Bc, Bc))


def median_rank(m: int, m_zero: int) -> int:
    """The rank of the median rule's value: the lower median of the non-zero values.

    Parameters
    ----------
    m : int
        How many squared distances the rule looks at.
    m_zero : int
        How many of them are exactly 0 (they sort first).

    Returns
    -------
    int
        0-based rank in ascending order, ``m_zero + (m - m_zero - 1) // 2``.
    """
    nonzero = m - m_zero
    if nonzero <= 0:
        raise ValueError(
            "all pairwise distances are zero (identical rows): the median bandwidth is "
            "undefined; pass an explicit sigma"
        )
    return m_zero + (nonzero - 1) // 2


def median_bandwidth(sq_distances, threshold: float = 1.0) -> float:
    """The median rule on given squared distances: ``σ = threshold · sqrt(lower median of the
    non-zero values)`` (the rule of :func:`rbf_sigma`, for any set of distances: an upper
    triangle, a rectangular block, a sample).

    Parameters
    ----------
    sq_distances : array_like
        Non-negative squared distances, any shape.
    threshold : float, default 1.0

    Returns
    -------
    float
        σ.

    References
    ----------
    Gretton et al., "A kernel statistical test of independence", NeurIPS 2007 (the median
    heuristic); Kornblith et al. 2019, arXiv:1905.00414.
    """
    vals = np.asarray(sq_distances, dtype=np.float64).ravel()
    r = median_rank(vals.size, int(np.count_nonzero(vals == 0)))
    return float(threshold * np.sqrt(np.partition(vals, r)[r]))


def unbiased_hsic_from_terms(n: int, tr, sum_k, sum_l, cross):
    """Song et al.'s unbiased HSIC from the terms of ``K̃``, ``L̃`` (diagonals zeroed).

    Every term may be an array (they broadcast): the layer-wise maps compute every layer pair
    of a batch at once through this one formula.

    Parameters
    ----------
    n : int
        Samples (at least 4).
    tr, sum_k, sum_l, cross : float or ndarray
        ``tr(K̃L̃)``, ``1ᵀK̃1``, ``1ᵀL̃1``, ``1ᵀK̃L̃1``.

    Returns
    -------
    float or ndarray
        ``[tr + sum_k·sum_l/((n-1)(n-2)) − 2/(n-2)·cross] / (n(n-3))``.

    References
    ----------
    Song et al., "Feature selection via dependence maximization", JMLR 13 (2012), Eq. 5.
    """
    if n < 4:
        raise ValueError(f"debiased HSIC needs at least 4 samples, got {n}")
    val = tr + sum_k * sum_l / ((n - 1.0) * (n - 2.0)) - 2.0 / (n - 2.0) * cross
    return val / (n * (n - 3.0))


def rank_bins(cum, ranks) -> dict:
    """Where order statistics lie in a histogram: ``{rank: (bin, rank inside that bin)}`` for
    0-based ``ranks`` given the cumulative bin counts ``cum`` (the first pass of the two-pass
    exact selection the blockwise RBF bandwidths use, on the CPU and on a device).

    Parameters
    ----------
    cum : array of int, shape (bins,)
        Cumulative counts of the histogram.
    ranks : iterable of int
        0-based ranks (each below ``cum[-1]``).

    Returns
    -------
    dict
        rank -> (bin index, rank among that bin's values).
    """
    cum = np.asarray(cum)
    where = {}
    for r in ranks:
        b = int(np.searchsorted(cum, r, side="right"))
        where[r] = (b, r - (int(cum[b - 1]) if b > 0 else 0))
    return where


def sigma_from_ranks(select, n: int, m_zero: int, rule: str, threshold: float) -> float:
    """Bandwidth from order statistics of the ``m = n(n-1)/2`` upper-triangle squared distances.

    Parameters
    ----------
    select : callable
        ``select(ranks)`` returns the values of the given 0-based ranks (ascending order) of the
        upper-triangle squared distances.
    n : int
        Number of rows.
    m_zero : int
        How many of the upper-triangle distances are exactly zero.
    rule : {"median", "kornblith"}
    threshold : float
        Multiplier of the rule's σ.

    Returns
    -------
    float
        σ (module docstring for the rules).
    """
    m = n * (n - 1) // 2
    if rule == "median":
        (value,) = select([median_rank(m, m_zero)])
        return float(threshold * np.sqrt(value))
    if rule == "kornblith":
        # The full n x n matrix: n diagonal zeros, then each upper value twice.
        total = n * n
        if total % 2:
            positions = [(total - 1) // 2]
        else:
            positions = [total // 2 - 1, total // 2]
        ranks, pick = [], []
        for p in positions:
            if p < n:
                pick.append(None)
            else:
                pick.append(len(ranks))
                ranks.append((p - n) // 2)
        values = select(sorted(set(ranks))) if ranks else []
        lookup = dict(zip(sorted(set(ranks)), values, strict=True))
        vals = [0.0 if k is None else lookup[ranks[k]] for k in pick]
        med = float(np.mean(vals))
        if med <= 0:
            raise ValueError(
                "the median squared distance is zero (most rows identical): the kornblith "
                "bandwidth is undefined; pass an explicit sigma"
            )
        return float(threshold * np.sqrt(med))
    raise ValueError(f"sigma: unknown bandwidth rule {rule!r}; use one of {BANDWIDTH_RULES} or a float")


def resolve_sigma(sigma, threshold: float = 1.0):
    """Parse a bandwidth argument: ``None`` → ``"median"``; a rule name; or a positive float.

    Parameters
    ----------
    sigma : None, str or float
        ``None``/``"median"``, ``"kornblith"`` or an explicit positive σ.
    threshold : float
        Multiplier of a rule's σ (default 1). Combined with an explicit σ it must be 1.

    Returns
    -------
    str or float
        The rule name or the float σ.
    """
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold: expected a positive number, got {threshold!r}") from None
    if not np.isfinite(t) or t <= 0:
        raise ValueError(f"threshold: must be a positive number, got {threshold!r}")
    if sigma is None:
        return "median"
    if isinstance(sigma, str):
        if sigma not in BANDWIDTH_RULES:
            raise ValueError(f"sigma: unknown bandwidth rule {sigma!r}; use one of {BANDWIDTH_RULES} or a float")
        return sigma
    try:
        s = float(sigma)
    except (TypeError, ValueError):
        raise ValueError(f"sigma: expected None, a positive float or one of {BANDWIDTH_RULES}, got {sigma!r}") from None
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"sigma: must be positive and finite, got {sigma}")
    if t != 1.0:
        raise ValueError(f"threshold: multiplies a bandwidth rule's sigma; with an explicit sigma = {s:g} pass "
                         f"sigma = {s * t:g} instead of threshold = {t:g}")
    return s


def upper_triangle(D: np.ndarray) -> np.ndarray:
    """The entries above the diagonal of a square matrix, row by row (as ``D[np.triu_indices(n,
    1)]``, without its two index arrays of n²/2 integers)."""
    n = D.shape[0]
    if n < 2:
        return np.empty(0, dtype=D.dtype)
    return np.concatenate([D[i, i + 1:] for i in range(n - 1)])


def rbf_sigma(D: np.ndarray | None, sigma="median", threshold: float = 1.0) -> float:
    """Resolve ``sigma`` (a rule name or a float, see :func:`resolve_sigma`) on a distance matrix.

    Parameters
    ----------
    D : ndarray, shape (n, n), or None
        Squared distances (unused for an explicit σ).
    sigma : str or float
    threshold : float

    Returns
    -------
    float
        σ.
    """
    sigma = resolve_sigma(sigma, threshold)
    if not isinstance(sigma, str):
        return sigma
    return sigma_from_triangle(upper_triangle(D), D.shape[0], sigma, threshold)


def sigma_from_triangle(tri: np.ndarray, n: int, sigma="median", threshold: float = 1.0) -> float:
    """:func:`rbf_sigma` from the upper triangle ``tri`` (n(n-1)/2 values, any order) of an n x n
    squared-distance matrix; ``tri`` is reordered in place by the selection.

    Parameters
    ----------
    tri : ndarray, shape (n(n-1)/2,)
    n : int
    sigma : str or float
    threshold : float

    Returns
    -------
    float
    """
    sigma = resolve_sigma(sigma, threshold)
    if not isinstance(sigma, str):
        return sigma
    m_zero = int(np.count_nonzero(tri == 0))

    def select(ranks):
        # in place, one rank at a time on what lies right of the previous one: numpy's partition with
        # several kth is ~5x slower than one (and the kornblith rule asks for two adjacent ranks)
        out, start = [], 0
        for r in sorted(ranks):
            view = tri[start:]
            view.partition(r - start)
            out.append(float(tri[r]))
            start = r + 1
        by_rank = dict(zip(sorted(ranks), out, strict=True))
        return [by_rank[r] for r in ranks]

    return sigma_from_ranks(select, n, m_zero, sigma, threshold)


def rbf_gram(X: np.ndarray, sigma="median", threshold: float = 1.0) -> tuple[np.ndarray, float]:
    """RBF Gram matrix ``exp(-‖xᵢ - xⱼ‖² / (2σ²))``.

    Parameters
    ----------
    X : ndarray, shape (n, d)
    sigma, threshold
        Bandwidth (module docstring).

    Returns
    -------
    K : ndarray, shape (n, n)
    sigma : float
        The σ used.
    """
    D = squared_distances(X)
    s = rbf_sigma(D, sigma, threshold)
    D *= -1.0 / (2.0 * s * s)
    np.exp(D, out=D)
    return D, s


def mean_normalize(D: np.ndarray, name: str = "X") -> np.ndarray:
    """Divide a distance matrix by the mean of its off-diagonal entries.

    Two spaces' distances become comparable (Gromov–Wasserstein compares raw values).

    Parameters
    ----------
    D : ndarray, shape (n, n)
        Zero diagonal.
    name : str
        The argument name used in errors.

    Returns
    -------
    ndarray, shape (n, n)
        A new array; identical rows only (mean 0) are an error.
    """
    n = D.shape[0]
    if n < 2:
        raise ValueError(f"{name}: needs at least 2 rows to have distances, got {n}")
    mean = D.sum() / (n * (n - 1))
    if not mean > 0:
        raise ValueError(f"{name}: all rows are identical (zero variance); distances are all zero")
    return D / mean


def normalized_distances(X: np.ndarray, name: str = "X") -> np.ndarray:
    """Euclidean distances of the rows divided by their off-diagonal mean.

    Invariant to isotropic scaling, rotations and translations (schnaus2025's GW input).

    Parameters
    ----------
    X : ndarray, shape (n, d)
    name : str

    Returns
    -------
    ndarray, shape (n, n)

    References
    ----------
    schnaus2025 (arXiv:2503.24129), §3.
    """
    return mean_normalize(np.sqrt(squared_distances(X)), name)


def normalized_centered_gram(K: np.ndarray, name: str = "X") -> np.ndarray:
    """``HKH / ‖HKH‖_F``: ``⟨K̄, L̄⟩_F`` is the (biased) CKA of the two kernels.

    Parameters
    ----------
    K : ndarray, shape (n, n)
    name : str

    Returns
    -------
    ndarray, shape (n, n)

    References
    ----------
    maniparambil2024 (arXiv:2401.05224), after Eq. 4.
    """
    C = center_gram(K)
    norm = np.linalg.norm(C)
    if not norm > 0:
        raise ValueError(f"{name}: zero variance; the centred kernel is zero, so CKA is undefined")
    return C / norm


NORMALIZED_KERNELS = ("cka", "rbf", "correlation")


def normalized_kernel(X: np.ndarray, kind: str = "cka", name: str = "X") -> np.ndarray:
    """The (n, n) kernel of the rows of ``X`` used as a QAP side in matching.

    Parameters
    ----------
    X : array, shape (n, d)
    kind : {"cka", "rbf", "correlation"}
        ``cka``: :func:`normalized_centered_gram` of the linear kernel; ``rbf``: the same for
        the RBF kernel with the median rule of these rows; ``correlation``: the cosine-similarity
        matrix scaled to unit Frobenius norm, not centred (maniparambil2024 Table 6's ablation).
    name : str
        The argument name used in errors.

    Returns
    -------
    ndarray, shape (n, n)
    """
    if kind == "correlation":
        Xn = cosine_normalize(X, name)
        K = linear_gram(Xn)
        return K / np.linalg.norm(K)
    if kind == "rbf":
        return normalized_centered_gram(rbf_gram(X, "median")[0], name)
    if kind == "cka":
        return normalized_centered_gram(linear_gram(X), name)
    raise ValueError(f"kind: expected one of {NORMALIZED_KERNELS}, got {kind!r}")


def center_gram(K: np.ndarray) -> np.ndarray:
    """``H K H`` with ``H = I - 11ᵀ/n`` (double centring).

    Parameters
    ----------
    K : ndarray, shape (n, n)

    Returns
    -------
    ndarray, shape (n, n)
        A new array.
    """
    row = K.mean(axis=0)
    total = row.mean()
    return K - row[None, :] - K.mean(axis=1)[:, None] + total


def iter_sq_distance_blocks(
    X: np.ndarray, block: int
) -> Iterator[tuple[int, int, int, int, np.ndarray]]:
    """Squared-distance blocks of the upper block triangle (``j0 >= i0``).

    Only ``n²/2`` distances are formed in total and at most ``block²`` at once. Diagonal blocks
    contain their own zero diagonal.

    Parameters
    ----------
    X : ndarray, shape (n, d)
    block : int
        Rows per block.

    Returns
    -------
    iterator of (i0, i1, j0, j1, D_block)
        ``D_block`` has shape (i1 - i0, j1 - j0).
    """
    n = X.shape[0]
    X = X - X.mean(axis=0)
    sq = np.einsum("ij,ij->i", X, X)
    XT = np.ascontiguousarray(X.T)
    for i0 in range(0, n, block):
        i1 = min(n, i0 + block)
        Xi = X[i0:i1]
        for j0 in range(i0, n, block):
            j1 = min(n, j0 + block)
            G = Xi @ XT[:, j0:j1]
            G *= -2.0
            _finish_sq_distances(G, sq[i0:i1], sq[j0:j1])
            if i0 == j0:
                np.fill_diagonal(G, 0.0)
            yield i0, i1, j0, j1, G


def median_sigma(X: np.ndarray, max_rows: int = 2000, seed: int = 0, name: str = "X") -> float:
    """The median-rule bandwidth of :func:`rbf_sigma` on at most ``max_rows`` rows.

    Parameters
    ----------
    X : ndarray, shape (n, d)
    max_rows : int
        Rows used (a seeded uniform subsample when n is larger): the median of 2,000 rows'
        ~2·10⁶ pairwise distances is within a percent of the full one, and costs O(max_rows²)
        instead of O(n²).
    seed : int
    name : str

    Returns
    -------
    float
        ``σ = sqrt(lower median of the non-zero squared distances)``.
    """
    n = X.shape[0]
    if n > max_rows:
        X = X[np.sort(np.random.default_rng(seed).choice(n, max_rows, replace=False))]
    try:
        return rbf_sigma(squared_distances(np.asarray(X, dtype=np.float64)), "median")
    except ValueError:
        raise ValueError(f"{name}: all rows are identical, so no bandwidth can be chosen; pass sigma") from None


class RandomFourierFeatures:
    """Random Fourier features of the Gaussian kernel ``exp(-‖x - y‖² / (2σ²))``.

    ``φ(x) = [cos(xω), sin(xω)] / √m`` with ``m`` frequencies ``ω ~ N(0, I/σ²)`` drawn once from
    ``seed``, so that ``φ(x)·φ(y) = (1/m) Σ cos((x - y)ω)`` → the kernel as m grows, and
    ``‖φ(x)‖ = 1`` exactly (a normalised kernel). The same map is applied to every chunk.

    Parameters
    ----------
    dim : int
        Input dimension d.
    n_frequencies : int
        m (the feature dimension is 2m).
    sigma : float
        Bandwidth.
    seed : int

    References
    ----------
    Rahimi & Recht, "Random features for large-scale kernel machines", NeurIPS 2007;
    Sutherland & Schneider, "On the error of random Fourier features", UAI 2015, arXiv:1506.02785.
    """

    def __init__(self, dim: int, n_frequencies: int, sigma: float, seed: int = 0):
        if isinstance(n_frequencies, bool) or not isinstance(n_frequencies, (int, np.integer)) or n_frequencies < 1:
            raise ValueError(f"rff: the number of random Fourier frequencies must be an integer >= 1, got {n_frequencies!r}")
        if not (np.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma: must be a positive number, got {sigma!r}")
        self.dim, self.m, self.sigma, self.seed = int(dim), int(n_frequencies), float(sigma), seed
        self.omega = np.random.default_rng(seed).normal(size=(self.dim, self.m)) / self.sigma
        self._omega32 = None

    @property
    def n_features(self) -> int:
        """2m."""
        return 2 * self.m

    def __call__(self, X: np.ndarray, dtype=np.float64, out: np.ndarray | None = None) -> np.ndarray:
        """Features (n, 2m) of the rows of ``X`` (n, d), in ``dtype`` (into ``out`` when given)."""
        return self.from_phases(self.phases(X, dtype=dtype), dtype=dtype, out=out)

    def phases(self, X: np.ndarray, dtype=np.float64) -> np.ndarray:
        """The phases ``X ω`` (n, m): the costly half of the map (an n x d x m product), which a
        second pass over the same rows can keep instead of recomputing (:func:`repalign.spec`)."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(f"X: expected shape (n, {self.dim}) for this feature map, got {X.shape}")
        # float32 features are computed in float32 throughout (phases |xω| ~ a few units lose
        # ~1e-7, below float32's own resolution of the features); float64 otherwise
        work = np.float32 if np.dtype(dtype) == np.float32 else np.float64
        if work is np.float32 and self._omega32 is None:
            self._omega32 = self.omega.astype(np.float32)
        return np.asarray(X, dtype=work) @ (self._omega32 if work is np.float32 else self.omega)

    def from_phases(self, P: np.ndarray, dtype=np.float64, out: np.ndarray | None = None) -> np.ndarray:
        """Features ``[cos P, sin P] / √m`` (n, 2m) in ``dtype`` from :meth:`phases` (P is not
        modified), written into ``out`` (n, 2m) of that dtype when given."""
        out = np.empty((P.shape[0], 2 * self.m), dtype=dtype) if out is None else out
        scale = P.dtype.type(1.0 / np.sqrt(self.m))
        for half, fn in ((out[:, : self.m], np.cos), (out[:, self.m:], np.sin)):
            if half.dtype == P.dtype:  # in place: no temporary (n, m) array per chunk
                fn(P, out=half)
                half *= scale
            else:
                np.multiply(fn(P), scale, out=half, casting="unsafe")
        return out
