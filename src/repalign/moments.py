"""One chunked accumulator of first and second moments of a pair of embedding sets.

For row-aligned ``X`` (n, dx) and ``Y`` (n, dy) it accumulates, over row chunks,

* ``n``, ``Σ x``, ``Σ y``, ``Xᵀ X``, ``Yᵀ Y``, ``Xᵀ Y``;
* with ``debiased=True`` also the row-norm terms the unbiased HSIC needs, with
  ``p_i = ‖x_i‖²`` and ``r_i = ‖y_i‖²``: ``Σ p``, ``Σ r``, ``Σ p²``, ``Σ r²``, ``Σ p r``,
  ``Σ p x``, ``Σ p y``, ``Σ r x``, ``Σ r y``.

All statistics are taken relative to a fixed shift (by default the mean of the first chunk)
so that a large common offset does not cancel catastrophically. Two accumulators with the
same shift can be merged, which is how partial results from Dask workers are combined.

With ``device=`` (``"cuda"``, ``"cuda:N"``, ``"mps"``, ``"cpu"``, ``"auto"``) the per-chunk
products run in torch on that device and the sums stay there, in float64, until a statistic is
asked for; chunks may be NumPy arrays or tensors already on the device (no host round trip).
``"cpu"`` (and ``"auto"`` with no GPU) runs the NumPy path, faster on a CPU
(:func:`repalign._device.compute_device`).

Linear CKA in feature space (Kornblith et al. 2019): for centred X, Y,
``CKA = ‖Yᵀ X‖²_F / (‖Xᵀ X‖_F ‖Yᵀ Y‖_F)``. This is the Gram form of maniparambil2024
Eq. (1)-(2) with a linear kernel, at O(n d²) time and O(d²) memory.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ._device import compute_device
from ._progress import track
from ._validate import as_embeddings, is_tensor

__all__ = ["PairMoments", "streamed_linear_cka"]

_ARRAYS = ("sx", "sy", "xtx", "yty", "xty", "p_x", "p_y", "r_x", "r_y")
_SCALARS = ("n", "sp", "sr", "spp", "srr", "spr")


class PairMoments:
    """Streaming moments of a row-aligned pair ``(X, Y)``.

    Parameters
    ----------
    debiased : bool
        Also accumulate the row-norm terms needed by the unbiased HSIC (O(n (dx + dy)) extra).
    shift_x, shift_y : array, optional
        Fixed offsets subtracted from every row before accumulating. Give the same shifts to
        every worker whose accumulators will be merged. Default: mean of the first chunk.
    compute_dtype : {"auto", "float64", "float32"}
        Precision of the per-chunk products; sums across chunks are always float64. ``auto``
        computes float32 chunks in float32 (embeddings usually are; the products run about 2x
        faster and linear CKA changes by ~1e-7) and everything else in float64.
    device : {None, "cpu", "cuda", "cuda:N", "mps", "auto"}
        Run the chunk products in torch on this device (module docstring); default None: NumPy.
    """

    def __init__(self, debiased: bool = True, shift_x=None, shift_y=None, compute_dtype: str = "auto",
                 device=None):
        if compute_dtype not in ("auto", "float64", "float32"):
            raise ValueError(f"compute_dtype: expected 'auto', 'float64' or 'float32', got {compute_dtype!r}")
        self.device = compute_device(device)
        self.compute_dtype = compute_dtype
        self.debiased = debiased
        self.shift_x = None if shift_x is None else np.asarray(shift_x, dtype=np.float64)
        self.shift_y = None if shift_y is None else np.asarray(shift_y, dtype=np.float64)
        self.n = 0
        self.sp = self.sr = self.spp = self.srr = self.spr = 0.0
        for name in _ARRAYS:
            setattr(self, name, None)

    def _init_arrays(self, dx: int, dy: int) -> None:
        self.sx, self.sy = np.zeros(dx), np.zeros(dy)
        self.xtx, self.yty, self.xty = np.zeros((dx, dx)), np.zeros((dy, dy)), np.zeros((dx, dy))
        self.p_x, self.p_y, self.r_x, self.r_y = np.zeros(dx), np.zeros(dy), np.zeros(dx), np.zeros(dy)

    def _dtype(self, A):
        if self.compute_dtype == "float32":
            return np.float32
        if self.compute_dtype == "auto" and getattr(A, "dtype", None) == np.float32:
            return np.float32
        return np.float64

    def update(self, X, Y) -> PairMoments:
        """Add a chunk of rows: ``X`` (b, dx) and ``Y`` (b, dy) with the same ``b``."""
        if self.device is not None:
            return self._update_torch(X, Y)
        self._host()
        X = as_embeddings(X, "X chunk", min_samples=1, dtype=self._dtype(X))
        Y = as_embeddings(Y, "Y chunk", min_samples=1, dtype=self._dtype(Y))
        if X.shape[0] != Y.shape[0]:
            raise ValueError(
                f"X chunk and Y chunk have mismatched sample counts ({X.shape[0]} vs {Y.shape[0]})"
            )
        if self.shift_x is None:
            self.shift_x = X.mean(axis=0, dtype=np.float64)
        if self.shift_y is None:
            self.shift_y = Y.mean(axis=0, dtype=np.float64)
        if self.sx is None:
            self._init_arrays(X.shape[1], Y.shape[1])
        if X.shape[1] != self.sx.shape[0] or Y.shape[1] != self.sy.shape[0]:
            raise ValueError(
                f"chunk feature sizes ({X.shape[1]}, {Y.shape[1]}) differ from the first chunk's "
                f"({self.sx.shape[0]}, {self.sy.shape[0]})"
            )
        if self.shift_x.any():  # a zero shift (SPEC's raw moments) needs no copy
            X = X - self.shift_x.astype(X.dtype)
        if self.shift_y.any():
            Y = Y - self.shift_y.astype(Y.dtype)
        self.n += X.shape[0]
        self.sx += X.sum(axis=0, dtype=np.float64)
        self.sy += Y.sum(axis=0, dtype=np.float64)
        # X.T @ X takes numpy's syrk path (half the products); transposed views go to BLAS
        # as flags, so no transposed copies are made
        self.xtx += X.T @ X
        self.yty += Y.T @ Y
        self.xty += X.T @ Y
        if self.debiased:
            p = np.einsum("ij,ij->i", X, X, dtype=np.float64)
            r = np.einsum("ij,ij->i", Y, Y, dtype=np.float64)
            X = X.astype(np.float64, copy=False)
            Y = Y.astype(np.float64, copy=False)
            self.sp += p.sum()
            self.sr += r.sum()
            self.spp += p @ p
            self.srr += r @ r
            self.spr += p @ r
            self.p_x += p @ X
            self.p_y += p @ Y
            self.r_x += r @ X
            self.r_y += r @ Y
        return self

    def _update_torch(self, X, Y) -> PairMoments:
        """:meth:`update` in torch on :attr:`device`, the sums kept there in float64."""
        import torch  # noqa: PLC0415 - only with device=

        def tensor(A, name):
            if not is_tensor(A):
                A = torch.from_numpy(np.asarray(as_embeddings(A, name, min_samples=1, dtype=self._dtype(A))))
            if A.ndim != 2:
                raise ValueError(f"{name}: expected a 2-D array (rows, features), got shape {tuple(A.shape)}")
            low = A.dtype in (torch.float32, torch.float16, torch.bfloat16)
            dt = torch.float32 if self.compute_dtype == "float32" or (self.compute_dtype == "auto" and low) \
                else torch.float64
            A = A.detach().to(self.device, dt)
            if not bool(torch.isfinite(A).all()):
                bad = int(torch.nonzero(~torch.isfinite(A).all(dim=1)).flatten()[0])
                raise ValueError(f"{name}: contains NaN/inf (first is row {bad}); drop or impute those rows first")
            return A

        X, Y = tensor(X, "X chunk"), tensor(Y, "Y chunk")
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X chunk and Y chunk have mismatched sample counts ({X.shape[0]} vs {Y.shape[0]})")
        f64 = torch.float64
        if self.sx is not None and not isinstance(self.sx, torch.Tensor):  # statistics were read: back on the device
            for name in _ARRAYS:
                setattr(self, name, torch.from_numpy(getattr(self, name)).to(self.device))
        if self.shift_x is None:
            self.shift_x = X.mean(dim=0, dtype=f64).cpu().numpy()
        if self.shift_y is None:
            self.shift_y = Y.mean(dim=0, dtype=f64).cpu().numpy()
        dx, dy = X.shape[1], Y.shape[1]
        if self.sx is None:
            z = {"device": self.device, "dtype": f64}
            self.sx, self.sy = torch.zeros(dx, **z), torch.zeros(dy, **z)
            self.xtx, self.yty, self.xty = torch.zeros(dx, dx, **z), torch.zeros(dy, dy, **z), torch.zeros(dx, dy, **z)
            self.p_x, self.p_y, self.r_x, self.r_y = (torch.zeros(dx, **z), torch.zeros(dy, **z), torch.zeros(dx, **z),
                                                      torch.zeros(dy, **z))
        if dx != self.sx.shape[0] or dy != self.sy.shape[0]:
            raise ValueError(f"chunk feature sizes ({dx}, {dy}) differ from the first chunk's "
                             f"({self.sx.shape[0]}, {self.sy.shape[0]})")
        if self.shift_x.any():
            X = X - torch.from_numpy(self.shift_x).to(self.device, X.dtype)
        if self.shift_y.any():
            Y = Y - torch.from_numpy(self.shift_y).to(self.device, Y.dtype)
        self.n += X.shape[0]
        self.sx += X.sum(dim=0, dtype=f64)
        self.sy += Y.sum(dim=0, dtype=f64)
        self.xtx += (X.T @ X).to(f64)
        self.yty += (Y.T @ Y).to(f64)
        self.xty += (X.T @ Y).to(f64)
        if self.debiased:
            X, Y = X.to(f64), Y.to(f64)
            p, r = (X * X).sum(dim=1), (Y * Y).sum(dim=1)
            self.sp += float(p.sum())
            self.sr += float(r.sum())
            self.spp += float(p @ p)
            self.srr += float(r @ r)
            self.spr += float(p @ r)
            self.p_x += p @ X
            self.p_y += p @ Y
            self.r_x += r @ X
            self.r_y += r @ Y
        return self

    def _host(self) -> None:
        """Bring sums kept on a device to the host as float64 NumPy arrays (once per read)."""
        if self.sx is not None and not isinstance(self.sx, np.ndarray):
            for name in _ARRAYS:
                setattr(self, name, getattr(self, name).cpu().numpy())

    def merge(self, other: PairMoments) -> PairMoments:
        """Add another accumulator's statistics (same shifts required) into this one."""
        self._host()
        other._host()
        if other.n == 0:
            return self
        if self.n == 0:
            for k, v in other.__dict__.items():
                setattr(self, k, v.copy() if isinstance(v, np.ndarray) else v)
            return self
        if not (np.array_equal(self.shift_x, other.shift_x) and np.array_equal(self.shift_y, other.shift_y)):
            raise ValueError("cannot merge accumulators with different shifts; pass shift_x/shift_y to both")
        if self.debiased != other.debiased:
            raise ValueError("cannot merge a debiased accumulator with a non-debiased one")
        for name in _SCALARS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in _ARRAYS:
            getattr(self, name).__iadd__(getattr(other, name))
        return self

    # ------------------------------------------------------------------ statistics
    def _need(self, k: int) -> None:
        if self.n < k:
            raise ValueError(f"only {self.n} samples were accumulated; this estimator needs at least {k}")

    def centered(self):
        """Centred scatter matrices ``(XcᵀXc, YcᵀYc, XcᵀYc)`` (not divided by n)."""
        self._need(2)
        self._host()
        mx, my = self.sx / self.n, self.sy / self.n
        return (
            self.xtx - self.n * np.outer(mx, mx),
            self.yty - self.n * np.outer(my, my),
            self.xty - self.n * np.outer(mx, my),
        )

    def raw(self):
        """Uncentred second moments ``(XᵀX, YᵀY, XᵀY)`` (sums over rows, not divided by n), undoing
        the shift exactly; SPEC's kernel covariances are these divided by n."""
        self._need(1)
        self._host()
        s, t = self.shift_x, self.shift_y
        n = self.n
        xtx, yty, xty = self.xtx.copy(), self.yty.copy(), self.xty.copy()
        shifted_x, shifted_y = bool(s.any()), bool(t.any())  # SPEC's are not: no M x M outer products
        if shifted_x:
            xtx += np.outer(self.sx, s) + np.outer(s, self.sx) + n * np.outer(s, s)
            xty += np.outer(s, self.sy)
        if shifted_y:
            yty += np.outer(self.sy, t) + np.outer(t, self.sy) + n * np.outer(t, t)
            xty += np.outer(self.sx, t)
        if shifted_x and shifted_y:
            xty += n * np.outer(s, t)
        return xtx, yty, xty

    def _norm_cross(self, pr, p_v, r_u, uv, su, sv, sp, sr, mu, nu) -> float:
        """``Σ_i ‖u_i - μ‖² ‖v_i - ν‖²`` from raw (shifted) sums; see module docstring."""
        n = self.n
        c, e = mu @ mu, nu @ nu
        return float(
            pr - 2 * (p_v @ nu) + e * sp - 2 * (r_u @ mu) + 4 * (mu @ uv @ nu)
            - 2 * e * (su @ mu) + c * sr - 2 * c * (sv @ nu) + n * c * e
        )

    def hsic_terms(self, debiased: bool = False) -> tuple[float, float, float]:
        """``(HSIC(K,L), HSIC(K,K), HSIC(L,L))`` for linear kernels, up to a common factor.

        Biased: ``tr(KHLH) = ‖Xcᵀ Yc‖²_F`` (maniparambil2024 Eq. 2 without ``1/(n-1)²``).
        Debiased: Song et al. (2012)'s unbiased estimator for centred data,
        ``‖XcᵀYc‖² - n/(n-2) Σ aᵢbᵢ + Σa Σb / ((n-1)(n-2))`` with ``aᵢ = ‖xᵢ-μ‖²``,
        ``bᵢ = ‖yᵢ-ν‖²`` (Kornblith et al.'s feature-space form; the ``1/(n(n-3))`` factor
        cancels in CKA). Needs ``n >= 4``.
        """
        cxx, cyy, cxy = self.centered()  # (brings device sums to the host)
        kl, kk, ll = float((cxy * cxy).sum()), float((cxx * cxx).sum()), float((cyy * cyy).sum())
        if not debiased:
            return kl, kk, ll
        if not self.debiased:
            raise ValueError("this accumulator was created with debiased=False")
        self._need(4)
        n = self.n
        mx, my = self.sx / n, self.sy / n
        sa = self.sp - 2 * (self.sx @ mx) + n * (mx @ mx)
        sb = self.sr - 2 * (self.sy @ my) + n * (my @ my)
        sab = self._norm_cross(self.spr, self.p_y, self.r_x, self.xty, self.sx, self.sy, self.sp, self.sr, mx, my)
        saa = self._norm_cross(self.spp, self.p_x, self.p_x, self.xtx, self.sx, self.sx, self.sp, self.sp, mx, mx)
        sbb = self._norm_cross(self.srr, self.r_y, self.r_y, self.yty, self.sy, self.sy, self.sr, self.sr, my, my)

        def unbiased(dot, s_ab, s_a, s_b):
            return dot - n / (n - 2.0) * s_ab + s_a * s_b / ((n - 1.0) * (n - 2.0))

        return unbiased(kl, sab, sa, sb), unbiased(kk, saa, sa, sa), unbiased(ll, sbb, sb, sb)

    def linear_cka(self, debiased: bool = False) -> float:
        kl, kk, ll = self.hsic_terms(debiased=debiased)
        if kk <= 0 or ll <= 0:
            which = "X" if kk <= 0 else "Y"
            raise ValueError(f"{which}: has zero variance; CKA is undefined for constant embeddings")
        return kl / np.sqrt(kk * ll)


def streamed_linear_cka(chunks: Iterable[tuple[np.ndarray, np.ndarray]], debiased: bool = False,
                        compute_dtype: str = "auto", progress: bool = False, device=None) -> float:
    """Linear CKA from row blocks; never forms an n x n matrix.

    Memory is O(dx² + dy² + dx·dy) plus one chunk; time O(n (dx + dy)²).

    Parameters
    ----------
    chunks : iterable of (X_chunk, Y_chunk)
        Row blocks of shape (b, dx) and (b, dy).
    debiased : bool
        Unbiased HSIC (needs n >= 4).
    compute_dtype : {"auto", "float64", "float32"}
        As in :class:`PairMoments`.
    progress : bool
    device : {None, "cpu", "cuda", "cuda:N", "mps", "auto"}
        As in :class:`PairMoments`: chunk products in torch on that device (chunks may be
        tensors already there).

    Returns
    -------
    float

    References
    ----------
    Kornblith et al., ICML 2019, arXiv:1905.00414 (feature-space form); maniparambil2024 (arXiv:2401.05224) Eq. 1.
    """
    acc = PairMoments(debiased=debiased, compute_dtype=compute_dtype, device=device)
    chunks = track(chunks, "linear CKA", enabled=progress, unit="chunk")
    for Xc, Yc in chunks:
        acc.update(Xc, Yc)
    return acc.linear_cka(debiased=debiased)
