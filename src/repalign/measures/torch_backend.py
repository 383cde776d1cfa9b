"""Kernel alignment in torch: CKA and HSIC on any device, and differentiable losses.

:func:`repalign.cka` and :func:`repalign.hsic` take ``device=`` (``"cpu"``, ``"cuda"``,
``"cuda:N"``, ``"mps"``, ``"auto"``): the work then runs here, in torch, on that device, with
the same definitions, bandwidth rules and estimators as the NumPy path (maniparambil2024 Eq. 1-2;
Song et al.'s unbiased HSIC for ``debiased=True``):

* linear / cosine, biased: the feature route ``‖X̃ᵀỸ‖²_F / (n-1)²`` (O(n d²), any n);
* linear / cosine, debiased, and RBF: the n × n Gram route; RBF above
  :data:`repalign.kernels.DENSE_RBF_MAX_ROWS` rows (or ``block_size``) in blocks of rows, memory
  O(block · n), the bandwidth rule's order statistics exact in two histogram passes;
* RBF bandwidths by the same rules (``"median"``: the lower median of the non-zero squared
  distances; ``"kornblith"``; a float), through :func:`repalign.kernels.sigma_from_ranks`.

Inputs may be NumPy arrays or tensors of any dtype on any device. float64 inputs are computed in
float64 (equal to the NumPy path to ~1e-12); float32, float16 and bfloat16 inputs in float32 with
every reduction (the sums behind HSIC) accumulated in float64 (tested: 1e-5 relative).

:func:`cka_loss` (``1 - CKA``) and :func:`hsic_loss` (``-HSIC``) keep the autograd graph, for
training-time alignment; the RBF bandwidth of a rule is computed from detached distances (a
constant of the step, as in Kornblith et al.'s code).

torch is imported only when one of these functions runs.
"""

from __future__ import annotations

from .._device import resolve_device
from ..kernels import (
    DENSE_RBF_MAX_ROWS,
    rank_bins,
    resolve_kernel,
    resolve_sigma,
    sigma_from_ranks,
    unbiased_hsic_from_terms,
)
from ..moments import PairMoments

__all__ = ["cka_torch", "hsic_torch", "cka_loss", "hsic_loss", "knn_indices_torch", "normalized_pair"]

KERNELS = ("linear", "cosine", "rbf")
_ROUNDOFF = 64 * 2.220446049250313e-16  # as repalign.kernels: Gram-identity noise of identical rows


def _auto_block(n: int) -> int:
    """Rows per block for blockwise RBF: about 2^25 kernel entries (256 MB in float64) per block."""
    return max(1, min(n, (1 << 25) // n))


def _torch():
    import torch  # noqa: PLC0415 - the torch route only

    return torch


def _as_tensor(X, name: str, device: str, min_samples: int):
    """A 2-D floating tensor on ``device`` in its compute dtype (float64 for float64 and NumPy
    float64 inputs, else float32), checked like :func:`repalign._validate.as_embeddings`."""
    torch = _torch()
    if not isinstance(X, torch.Tensor):
        import numpy as np  # noqa: PLC0415 - only for array inputs

        arr = np.asarray(X)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise ValueError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
        X = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float64 if arr.dtype != np.float32 else np.float32))
    if X.is_complex():
        raise ValueError(f"{name}: holds complex numbers; embeddings must be real")
    if X.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array of shape (n_samples, n_features), got shape {tuple(X.shape)}")
    n, d = X.shape
    if d == 0:
        raise ValueError(f"{name}: has 0 features; each row needs at least one value")
    if n < min_samples:
        raise ValueError(f"{name}: has {n} samples but at least {min_samples} are needed for this estimator")
    dtype = torch.float64 if X.dtype == torch.float64 else torch.float32
    X = X.to(device=device, dtype=dtype)
    if not bool(torch.isfinite(X).all()):
        bad = torch.nonzero(~torch.isfinite(X).all(dim=1)).flatten()
        raise ValueError(f"{name}: contains NaN/inf ({len(bad)} bad rows, first is row {int(bad[0])}); drop or impute "
                         "those rows first")
    return X


def _pair(X, Y, device, debiased):
    device = resolve_device(device)
    X = _as_tensor(X, "X", device, 4 if debiased else 2)
    Y = _as_tensor(Y, "Y", device, 4 if debiased else 2)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X, Y: need the same number of samples (rows are paired items), got {X.shape[0]} and "
                         f"{Y.shape[0]}")
    if X.dtype != Y.dtype:  # one float32 input: both in float32
        X, Y = X.float(), Y.float()
    return X, Y


def _unit_scale(X):
    """``X · 2^-e`` with the largest |x| in [0.5, 1) (exact; differentiable)."""
    torch = _torch()
    top = X.detach().abs().max()
    if top == 0:
        return X
    _, e = torch.frexp(top)
    return X * torch.pow(2.0, -e.to(X.dtype))  # a power of two: exact (torch.ldexp has no gradient)


def _sq_distances(X):
    """Squared distances of centred rows, rounding noise of identical rows set to 0 (as
    :func:`repalign.kernels.squared_distances`)."""
    Xc = X - X.mean(dim=0)
    return _sq_block(Xc, (Xc * Xc).sum(dim=1), 0, Xc.shape[0])


def _sigma(D, sigma, threshold) -> float:
    """The bandwidth of ``sigma`` (rule or float) on squared distances ``D`` (detached)."""
    torch = _torch()
    sigma = resolve_sigma(sigma, threshold)
    if not isinstance(sigma, str):
        return float(sigma)
    n = D.shape[0]
    upper = torch.ones(n, n, dtype=torch.bool, device=D.device).triu_(1)
    tri = D.detach()[upper]
    m_zero = int((tri == 0).sum())

    def select(ranks):  # order statistics without sorting the n²/2 values: kthvalue is 1-based
        return [float(torch.kthvalue(tri, int(r) + 1).values) for r in ranks]

    return sigma_from_ranks(select, n, m_zero, sigma, threshold)


def _sq_block(Xc, sq, i0: int, i1: int):
    """Rows ``i0:i1`` of :func:`_sq_distances` for centred ``Xc`` with row norms ``sq``: (b, n)."""
    torch = _torch()
    scale = sq[i0:i1, None] + sq[None, :]
    D = scale - 2.0 * (Xc[i0:i1] @ Xc.T)
    noise = D <= _ROUNDOFF * scale
    r = torch.arange(i1 - i0, device=Xc.device)
    noise[r, r + i0] = True  # an exact zero diagonal
    return D.masked_fill(noise, 0.0)


def _upper_blocks(Xc, sq, block: int):
    """The strict upper triangle of the squared distances, one 1-D tensor per block of rows."""
    torch = _torch()
    n = Xc.shape[0]
    cols = torch.arange(n, device=Xc.device)
    for i0 in range(0, n, block):
        i1 = min(n, i0 + block)
        D = _sq_block(Xc, sq, i0, i1).detach()
        yield D[cols[None, :] > torch.arange(i0, i1, device=Xc.device)[:, None]]


def _blocked_sigma(Xc, sq, sigma, threshold, block: int, bins: int = 1 << 16) -> float:
    """The bandwidth of ``sigma`` from squared distances made ``block`` rows at a time: exact order
    statistics in two passes of bounded memory (a histogram, then only the wanted bins kept;
    as :func:`repalign.measures.kernel_alignment._select_ranks` does on the CPU)."""
    torch = _torch()
    sigma = resolve_sigma(sigma, threshold)
    if not isinstance(sigma, str):
        return float(sigma)
    upper = float(4.0 * sq.detach().max()) * (1 + 1e-6) + 1e-300  # ‖xi - xj‖² <= (2 max‖x‖)²
    scale = (bins - 1) / upper

    def bin_of(v):
        return (v * scale).long().clamp_(max=bins - 1)

    counts = torch.zeros(bins, dtype=torch.int64, device=Xc.device)
    m_zero = 0
    for v in _upper_blocks(Xc, sq, block):
        counts += torch.bincount(bin_of(v), minlength=bins)
        m_zero += int((v == 0).sum())
    cum = torch.cumsum(counts, 0).cpu().numpy()

    def select(ranks):
        where = rank_bins(cum, ranks)
        kept = {b: [] for b, _ in where.values()}
        for v in _upper_blocks(Xc, sq, block):
            idx = bin_of(v)
            for b in kept:
                kept[b].append(v[idx == b])
        merged = {b: torch.sort(torch.cat(parts)).values for b, parts in kept.items()}
        return [float(merged[b][lr]) for b, lr in (where[r] for r in ranks)]

    return sigma_from_ranks(select, Xc.shape[0], m_zero, sigma, threshold)


def _blocked_rbf_triplet(X, Y, debiased: bool, sigma, threshold, block: int):
    """(HSIC(K, L), HSIC(K, K), HSIC(L, L)) of RBF kernels, ``block`` rows of K and L at a time
    (memory O(block · n)), float64 sums: biased ``(Σ K∘L - 2/n rₖ·rₗ + sₖ sₗ / n²)/(n-1)²`` with
    row sums r and totals s (the centring written out), or Song's unbiased estimator on the
    zero-diagonal kernels."""
    torch = _torch()
    n = X.shape[0]
    f64 = torch.float64
    sides = []
    for T in (X, Y):
        Tc = T - T.mean(dim=0)
        sq = (Tc * Tc).sum(dim=1)
        s = _blocked_sigma(Tc, sq, sigma, threshold, block)
        sides.append((Tc, sq, -0.5 / (s * s)))
    rk = torch.zeros(n, dtype=f64, device=X.device)
    rl = torch.zeros(n, dtype=f64, device=X.device)
    kl = kk = ll = torch.zeros((), dtype=f64, device=X.device)
    for i0 in range(0, n, block):
        i1 = min(n, i0 + block)
        (Xc, sx, gx), (Yc, sy, gy) = sides
        K = (_sq_block(Xc, sx, i0, i1) * gx).exp()
        L = (_sq_block(Yc, sy, i0, i1) * gy).exp()
        if debiased:
            r = torch.arange(i1 - i0, device=X.device)
            K = K.index_put((r, r + i0), torch.zeros((), dtype=K.dtype, device=K.device))
            L = L.index_put((r, r + i0), torch.zeros((), dtype=L.dtype, device=L.device))
        rk = rk.index_add(0, torch.arange(i0, i1, device=X.device), K.sum(dim=1, dtype=f64))
        rl = rl.index_add(0, torch.arange(i0, i1, device=X.device), L.sum(dim=1, dtype=f64))
        kl, kk, ll = kl + _dot(K, L), kk + _dot(K, K), ll + _dot(L, L)
    sk, sl = rk.sum(), rl.sum()
    if debiased:
        u = unbiased_hsic_from_terms
        return u(n, kl, sk, sl, rk @ rl), u(n, kk, sk, sk, rk @ rk), u(n, ll, sl, sl, rl @ rl)
    s = (n - 1.0) ** 2

    def biased(tr, r1, r2, s1, s2):
        return (tr - 2.0 / n * (r1 @ r2) + s1 * s2 / (n * n)) / s

    return biased(kl, rk, rl, sk, sl), biased(kk, rk, rk, sk, sk), biased(ll, rl, rl, sl, sl)


def _block(block_size):
    if block_size is None:
        return None
    from .._validate import check_positive_int  # noqa: PLC0415

    return check_positive_int(block_size, "block_size", minimum=2)


def _center(K):
    return K - K.mean(dim=0, keepdim=True) - K.mean(dim=1, keepdim=True) + K.mean()


def _dot(A, B):
    """``Σ A∘B`` accumulated in float64 (one pass, no float64 copies of float64 inputs)."""
    if A.dtype == B.dtype == _torch().float64:
        return (A.reshape(-1) @ B.reshape(-1))
    return (A * B).sum(dtype=_torch().float64)


def _triplet_grams(K, L, debiased: bool):
    """(HSIC(K, L), HSIC(K, K), HSIC(L, L)) of two symmetric Gram matrices, float64 sums: biased
    ``⟨HKH, HLH⟩/(n-1)²`` (each matrix centred once) or Song's unbiased estimator."""
    n = K.shape[0]
    if not debiased:
        Kc, Lc = _center(K), _center(L)
        s = (n - 1.0) ** 2
        return _dot(Kc, Lc) / s, _dot(Kc, Kc) / s, _dot(Lc, Lc) / s
    Kt, Lt = K - K.diag().diag(), L - L.diag().diag()
    rk, rl = Kt.sum(dim=1, dtype=_torch().float64), Lt.sum(dim=1, dtype=_torch().float64)
    sk, sl = rk.sum(), rl.sum()

    u = unbiased_hsic_from_terms
    return (u(n, _dot(Kt, Lt), sk, sl, rk @ rl), u(n, _dot(Kt, Kt), sk, sk, rk @ rk),
            u(n, _dot(Lt, Lt), sl, sl, rl @ rl))


def _prepared(X, Y, kernel):
    if kernel == "cosine":
        X = X / X.norm(dim=1, keepdim=True).clamp_min(1e-300)
        Y = Y / Y.norm(dim=1, keepdim=True).clamp_min(1e-300)
    return X, Y


def _triplet(X, Y, kernel, debiased, sigma, threshold, block_size=None):
    """(HSIC(X, Y), HSIC(X, X), HSIC(Y, Y)) as float64 tensors (module docstring); RBF kernels of
    more than ``block_size`` rows (default :data:`DENSE_RBF_MAX_ROWS`) in blocks of that many."""
    n = X.shape[0]
    if kernel in ("linear", "cosine"):
        Xc, Yc = X - X.mean(dim=0), Y - Y.mean(dim=0)
        if not debiased or (X.shape[1] + Y.shape[1] < n and not (X.requires_grad or Y.requires_grad)):
            return _feature_triplet(Xc, Yc, debiased)
        K, L = Xc @ Xc.T, Yc @ Yc.T
    elif n > (block_size or DENSE_RBF_MAX_ROWS):
        return _blocked_rbf_triplet(X, Y, debiased, sigma, threshold, block_size or _auto_block(n))
    else:
        DX, DY = _sq_distances(X), _sq_distances(Y)
        sx, sy = _sigma(DX, sigma, threshold), _sigma(DY, sigma, threshold)
        K, L = (DX * (-0.5 / (sx * sx))).exp_(), (DY * (-0.5 / (sy * sy))).exp_()
    return _triplet_grams(K, L, debiased)


def _feature_triplet(Xc, Yc, debiased):
    """The linear-kernel HSIC triplet in feature space, O(n d²): biased ``‖X̃ᵀỸ‖²/(n-1)²`` directly;
    debiased through :class:`repalign.moments.PairMoments` on the tensors' device (no graph)."""
    n = Xc.shape[0]
    if not debiased:
        s = 1.0 / (n - 1.0) ** 2
        xy, xx, yy = Xc.T @ Yc, Xc.T @ Xc, Yc.T @ Yc
        return s * _dot(xy, xy), s * _dot(xx, xx), s * _dot(yy, yy)
    torch = _torch()
    acc = PairMoments(debiased=True, compute_dtype="float64" if Xc.dtype == torch.float64 else "float32",
                      device=str(Xc.device))
    acc.update(Xc, Yc)
    scale = 1.0 / (n * (n - 3.0))
    return tuple(torch.tensor(scale * v, dtype=torch.float64) for v in acc.hsic_terms(debiased=True))


def _checked(kernel, sigma, threshold):
    kernel = resolve_kernel(kernel, KERNELS)
    if kernel != "rbf" and (sigma is not None or threshold != 1.0):
        raise ValueError(f"sigma/threshold: set a bandwidth only with kernel='rbf'; the {kernel} kernel has none")
    if kernel == "rbf":
        resolve_sigma(sigma, threshold)
    return kernel


def _cka_tensor(X, Y, kernel, debiased, sigma, threshold, block_size=None):
    torch = _torch()
    invariant = kernel != "rbf" or isinstance(resolve_sigma(sigma, threshold), str)
    if invariant:  # CKA is scale-invariant: work at unit scale (no overflow near 1e300)
        X, Y = _unit_scale(X), _unit_scale(Y)
    X, Y = _prepared(X, Y, kernel)
    xy, xx, yy = _triplet(X, Y, kernel, debiased, sigma, threshold, block_size)
    if float(xx.detach()) <= 0 or float(yy.detach()) <= 0:
        which = "X" if float(xx.detach()) <= 0 else "Y"
        raise ValueError(f"{which}: has zero variance (all rows equal after centring); CKA is undefined")
    return xy / torch.sqrt(xx * yy)


def hsic_torch(X, Y, kernel: str = "linear", debiased: bool = False, sigma=None, threshold: float = 1.0,
               device="cpu", block_size: int | None = None) -> float:
    """:func:`repalign.hsic` in torch on ``device`` (module docstring); returns a float."""
    kernel = _checked(kernel, sigma, threshold)
    X, Y = _pair(X, Y, device, debiased)
    X, Y = _prepared(X, Y, kernel)
    with _torch().no_grad():
        return float(_triplet(X, Y, kernel, debiased, sigma, threshold, _block(block_size))[0])


def cka_torch(X, Y, kernel: str = "linear", debiased: bool = False, sigma=None, threshold: float = 1.0,
              device="cpu", block_size: int | None = None) -> float:
    """:func:`repalign.cka` in torch on ``device`` (module docstring); returns a float."""
    kernel = _checked(kernel, sigma, threshold)
    X, Y = _pair(X, Y, device, debiased)
    with _torch().no_grad():
        return float(_cka_tensor(X, Y, kernel, debiased, sigma, threshold, _block(block_size)))


def normalized_pair(X, Y, device):
    """Checked tensors on ``device`` with unit-norm rows (zero rows refused), for mutual k-NN."""
    X, Y = _pair(X, Y, device, False)
    out = []
    for name, T in (("X", X), ("Y", Y)):
        T = _unit_scale(T)
        norms = T.norm(dim=1, keepdim=True)
        if bool((norms == 0).any()):
            row = int((norms.flatten() == 0).nonzero()[0])
            raise ValueError(f"{name}: row {row} is all zeros, so the cosine kernel is undefined; drop zero rows")
        out.append(T / norms)
    return out


def knn_indices_torch(X, k: int, groups=None, block: int = 4096):
    """:func:`repalign.measures.knn.knn_indices` in torch on ``X``'s device: (n, k) NumPy indices of
    each row's k largest inner products with the other rows (and rows of other ``groups``).
    ``topk`` takes k + 1 per row; a row whose k-th and (k+1)-th values tie is redone on the CPU by
    :func:`~repalign.measures.knn.topk_rows`, so the neighbour sets equal the NumPy path's."""
    import numpy as np  # noqa: PLC0415

    from .knn import topk_rows  # noqa: PLC0415 - knn imports this module lazily

    torch = _torch()
    n = X.shape[0]
    out = np.empty((n, k), dtype=np.int64)
    g = None if groups is None else torch.as_tensor(np.asarray(groups), device=X.device)
    take = min(k + 1, n)
    for s in range(0, n, block):
        rows = torch.arange(s, min(n, s + block), device=X.device)
        S = X[rows] @ X.T
        S[torch.arange(len(rows), device=X.device), rows] = -torch.inf
        if g is not None:
            S[g[rows][:, None] == g[None, :]] = -torch.inf
        vals, idx = torch.topk(S, take, dim=1)
        idx = idx[:, :k].cpu().numpy()
        if take > k:
            tied = torch.nonzero(vals[:, k - 1] == vals[:, k]).flatten().cpu().numpy()
            if len(tied):
                idx[tied] = topk_rows(S[torch.as_tensor(tied, device=X.device)].double().cpu().numpy(), k)
        out[s:s + len(idx)] = idx
    return out


def _loss_inputs(X, Y, debiased):
    torch = _torch()
    for name, T in (("X", X), ("Y", Y)):
        if not isinstance(T, torch.Tensor):
            raise ValueError(f"{name}: the losses take torch tensors (they keep the autograd graph), got "
                             f"{type(T).__name__}; use repalign.cka for arrays")
        if T.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D tensor (n_samples, n_features), got shape {tuple(T.shape)}")
        if T.is_complex() or not T.is_floating_point():
            raise ValueError(f"{name}: expected a real floating tensor, got {T.dtype}")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X, Y: need the same number of samples (rows are paired items), got {X.shape[0]} and "
                         f"{Y.shape[0]}")
    if X.device != Y.device:
        raise ValueError(f"X, Y: on different devices ({X.device} and {Y.device}); move one")
    need = 4 if debiased else 2
    if X.shape[0] < need:
        raise ValueError(f"X: has {X.shape[0]} samples but at least {need} are needed for this estimator")
    dtype = torch.float64 if torch.float64 in (X.dtype, Y.dtype) else torch.float32
    return X.to(dtype), Y.to(dtype)


def cka_loss(X, Y, kernel: str = "linear", debiased: bool = False, sigma=None, threshold: float = 1.0):
    """``1 - CKA(X, Y)`` as a differentiable torch scalar, for pulling one representation toward
    another during training.

    Parameters
    ----------
    X, Y : torch.Tensor, shape (n, dx) and (n, dy)
        Rows are paired items; any floating dtype (computed in float32, or float64 when either is),
        on one device; gradients flow to both.
    kernel : {"linear", "cosine", "rbf"}
    debiased : bool
        Song et al.'s unbiased HSIC (n >= 4).
    sigma, threshold
        RBF bandwidth as in :func:`repalign.cka`; a rule's σ is computed from detached distances
        (a constant of the step).

    Returns
    -------
    torch.Tensor
        A 0-d tensor in [0, 1] (biased estimator).

    References
    ----------
    maniparambil2024 (arXiv:2401.05224) Eq. 1-2; Kornblith et al., ICML 2019, arXiv:1905.00414.
    """
    kernel = _checked(kernel, sigma, threshold)
    X, Y = _loss_inputs(X, Y, debiased)
    cka = _cka_tensor(X, Y, kernel, debiased, sigma, threshold)
    return (1.0 - cka).to(X.dtype)


def hsic_loss(X, Y, kernel: str = "linear", debiased: bool = False, sigma=None, threshold: float = 1.0):
    """``-HSIC(X, Y)`` as a differentiable torch scalar (maximising dependence; not scale-free:
    prefer :func:`cka_loss` unless the scale is controlled).

    Parameters
    ----------
    X, Y : torch.Tensor, shape (n, dx) and (n, dy)
    kernel, debiased, sigma, threshold
        As in :func:`cka_loss`.

    Returns
    -------
    torch.Tensor
        A 0-d tensor.

    References
    ----------
    maniparambil2024 (arXiv:2401.05224) Eq. 2; Song et al., JMLR 13 (2012) (unbiased HSIC).
    """
    kernel = _checked(kernel, sigma, threshold)
    X, Y = _loss_inputs(X, Y, debiased)
    X, Y = _prepared(X, Y, kernel)
    return (-_triplet(X, Y, kernel, debiased, sigma, threshold)[0]).to(X.dtype)
