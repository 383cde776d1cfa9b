"""SPEC: the eigen-pairs of the kernel difference matrix, in time linear in the sample count.

For n paired items (row i of A and of B is the same item) with kernel feature maps
``Φ_A`` (n, m_A) and ``Φ_B`` (n, m_B) (:mod:`repalign.spectral.features`), jalali2025 Eq. 3 is

    Λ = (K_A − η K_B) / n,      K_A = Φ_A Φ_Aᵀ,  K_B = Φ_B Φ_Bᵀ.

With ``Ψ = [Φ_A, √η Φ_B]`` and ``J = diag(I, −I)``, ``Λ = Ψ J Ψᵀ / n``. Three routes give its
non-zero eigen-pairs (tests check each against the others):

* ``direct``: ``eigh`` of the n × n matrix (reference; O(n³), small n; with
  ``kernel="gaussian", rff="exact"`` the exact Gaussian kernel instead of random features);
* ``covariance`` (Prop. 1): the non-symmetric ``Γ = J C`` with ``C = ΨᵀΨ/n =
  [[C_AA, √η C_AB], [√η C_BA, η C_BB]]`` (similar to the paper's ``[[C_AA, C_AB], [−η C_BA,
  −η C_BB]]``); an eigenvector u of Γ gives ``v = Ψ u`` of Λ;
* ``cholesky`` (App. A.3): ``C = Fᵀ F`` by Cholesky (LAPACK ``potrf`` when C is safely positive
  definite, else the pivoted ``pstrf``, which stops at the numerical rank, so a singular C when
  n < m_A + m_B needs no jitter), then the symmetric ``S = F J Fᵀ`` (in float32 for float32
  inputs, the reported modes refined in float64); an eigenvector w of S gives ``u = J Fᵀ w`` and
  ``v = Ψ u / (√n |λ|)``. With ``spectrum="ends"`` (the default above ``FULL_SPECTRUM_MAX`` = 512
  joint features) only the n_modes + 2 largest and smallest eigenvalues are computed, by Lanczos
  (``eigsh``) on ``w ↦ F (J (Fᵀ w))`` and a float64 Rayleigh-Ritz step on C
  (``SPECResult.complete`` is then False).

``route="auto"`` takes ``direct`` when n <= m_A + m_B (the n × n problem is the smaller) and
``cholesky`` otherwise. The covariances are accumulated over row chunks in float64, one
symmetric product of the joint block ``[Φ_A, √η Φ_B]`` per chunk (memory O((m_A + m_B)²),
independent of n; Dask and ``device=`` inputs via :class:`repalign.moments.PairMoments`); inputs may be
arrays, memory-mapped ``.npy`` files or paths, read one chunk at a time, twice (covariances, then
scores).

Per-item mode scores are the entries of the unit eigenvector v of Λ:
``v_i = φ_A(x_i)·u_A + √η φ_B(y_i)·u_B`` (the √η belongs to B's features). Sign convention:
the entry of largest magnitude is positive (ties: the lower index). A positive eigenvalue's top
items form a group that A's kernel holds together and B's does not; a negative one the reverse.

``spec_diff`` is the spectral radius ``max |λ|`` (Eq. 5); ``frobenius`` is ``‖Λ‖_F =
sqrt(Σ λ²) = sqrt(‖C_AA‖² − 2η‖C_AB‖² + η²‖C_BB‖²)`` (Remark 2). For normalised kernels the
eigenvalues sum to ``tr Λ = 1 − η``.

References
----------
jalali2025 (Jalali, Dibaei Nia & Farnia, "Towards an Explainable Comparison and Alignment of
Feature Embeddings", ICML 2025, arXiv:2506.06231), Eq. 3-5, Prop. 1, App. A.3.
"""

from __future__ import annotations

import heapq
import mmap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
from scipy import linalg
from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh

from .._blas import scipy_lapack_alone
from .._device import compute_device, resolve_device
from .._optional import optional
from .._progress import step, track
from .._result import Result
from .._validate import check_positive_int, warn
from ..distributed import as_dask_array, feature_moments, is_dask_array
from ..io import read_embedding_file, safe_load_message
from ..kernels import RandomFourierFeatures, resolve_kernel, squared_distances
from ..moments import PairMoments
from .features import SPEC_KERNELS, FeatureMap

__all__ = ["spec", "SPECResult", "SPECMode", "ROUTES", "DIRECT_MAX_N"]

ROUTES = ("auto", "direct", "covariance", "cholesky")
#: spectrum="auto": above this many joint features the cholesky route computes the ends only (on
#: XTD-10 embeddings, n = 4,000, the ends were 0.92x the full solve's speed at M = 96, 1.1x at
#: 192, 1.4x at 448 and 640: below 512 the whole spectrum costs at most ~1.4x and is kept)
FULL_SPECTRUM_MAX = 512
#: spectrum="ends": eigenvalues computed per sign beyond the n_modes reported (their gap)
END_EXTRA = 2
SPECTRA = ("auto", "full", "ends")
#: joint features up to which the cholesky route runs scipy's LAPACK single-threaded (:mod:`repalign._blas`)
LAPACK_ALONE_MAX = 2048
#: samples up to which the direct route runs scipy's LAPACK single-threaded
DIRECT_LAPACK_ALONE_MAX = 640
#: the direct route forms n x n matrices: refused above this n
DIRECT_MAX_N = 20_000


@dataclass(frozen=True)
class SPECMode:
    """One eigen-direction of the kernel difference and the items that load on it most.

    Attributes
    ----------
    eigenvalue : float
        Positive: a group A separates and B does not; negative: the reverse.
    top_indices : ndarray of int
        Items with the largest scores, best first.
    top_scores : ndarray of float
        Their entries in the unit eigenvector of Λ (signed so that the largest is positive).
    other_indices, other_scores : ndarray
        The other end of the eigenvector (its most negative entries, most negative first), when
        that end is strong too: its largest ``|score|`` is at least :data:`OTHER_END` (0.5)
        times the first end's. Such a mode separates two groups at once; empty otherwise.
    """

    eigenvalue: float
    top_indices: np.ndarray = field(repr=False)
    top_scores: np.ndarray = field(repr=False)
    other_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int), repr=False)
    other_scores: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def two_ended(self) -> bool:
        """Whether both ends of the eigenvector are strong groups (``other_indices`` not empty)."""
        return len(self.other_indices) > 0

    @property
    def side(self) -> str:
        """``"A"`` when A clusters these items and B does not (λ > 0), else ``"B"``."""
        return "A" if self.eigenvalue > 0 else "B"

    def to_dict(self) -> dict:
        """Eigenvalue, side and the top items with their scores."""
        return {"eigenvalue": float(self.eigenvalue), "side": self.side,
                "top_indices": [int(i) for i in self.top_indices],
                "top_scores": [float(s) for s in self.top_scores],
                "other_indices": [int(i) for i in self.other_indices],
                "other_scores": [float(s) for s in self.other_scores]}


@dataclass(frozen=True)
class SPECResult(Result):
    """What :func:`spec` returns.

    Attributes
    ----------
    eigenvalues : ndarray
        Eigenvalues of Λ computed by the route, descending (the full non-zero spectrum unless
        ``complete`` is False).
    spec_diff : float
        ``max |λ|`` (jalali2025 Eq. 5).
    frobenius : float
        ``‖Λ‖_F`` (Remark 2).
    modes : tuple of SPECMode
        The ``n_modes`` largest positive eigenvalues (descending), then the ``n_modes`` most
        negative (ascending); fewer when there are fewer of one sign.
    n, dim_a, dim_b : int
    kernel : str
    eta : float
    sigma_a, sigma_b : float or None
    rff : int or None
        Random Fourier frequencies per embedding.
    route : str
    seconds : float
    complete : bool
        Whether ``eigenvalues`` is the whole spectrum. False for ``spectrum="ends"`` (the default
        above 512 joint features on the cholesky route): then it holds the ``n_modes + 2`` largest
        and the ``n_modes + 2`` smallest (fewer where some are zero), the middle not computed.
    scores : ndarray, shape (n, len(modes)), or None
        Every item's score on every mode (kept when it fits in 256 MB or when asked).
    rff_floor : float or None
        Gaussian kernel through random Fourier features: the SPEC-diff of each embedding against
        itself under two independent draws of its frequencies (same m and σ; the larger of the
        two sides), i.e. how large an eigenvalue the random features alone produce. Modes with
        ``|λ|`` below it are not distinguishable from that noise. None when no random features
        are used (other kernels, or the exact Gaussian kernel).
    """

    kind: ClassVar[str] = "spec"

    eigenvalues: np.ndarray = field(repr=False)
    spec_diff: float
    frobenius: float
    modes: tuple
    n: int
    dim_a: int
    dim_b: int
    kernel: str
    eta: float
    sigma_a: float | None
    sigma_b: float | None
    rff: int | None
    route: str
    seconds: float
    complete: bool = True
    scores: np.ndarray | None = field(default=None, repr=False)
    rff_floor: float | None = None

    def plot(self, ax=None, *, title: str | None = None, max_points: int = 200):
        """SPEC's eigenvalues of both signs as a stem plot with the reported modes marked
        (:func:`repalign.plotting.spectrum`); needs matplotlib.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into these axes (default: a new figure).
        title : str, optional
        max_points : int
            The eigenvalues largest in magnitude that are drawn (default 200).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plotting import spectrum  # noqa: PLC0415 - plotting imports spectral (a cycle) and scikit-learn

        return spectrum(self, title=title, max_points=max_points, ax=ax)

    def to_pandas(self):
        """The modes as a DataFrame, one row per mode in :attr:`modes` order: ``eigenvalue``,
        ``side`` (which embedding captures the cluster), ``top_indices`` (the items that
        define it, best first) and, where the result says so, ``below_rff_floor``; needs pandas.

        Returns
        -------
        pandas.DataFrame
        """
        pd = optional("pandas")
        rows = [{"eigenvalue": float(m.eigenvalue), "side": m.side, "top_indices": [int(i) for i in m.top_indices]}
                for m in self.modes]
        frame = pd.DataFrame(rows, columns=["eigenvalue", "side", "top_indices"])
        if self.rff_floor is not None:
            frame["below_rff_floor"] = frame["eigenvalue"].abs() < self.rff_floor
        frame.index.name = "mode"
        return frame

    def to_dict(self) -> dict:
        """JSON-ready: eigenvalues, spec_diff, frobenius, modes and the settings."""
        return {"kind": self.kind, "eigenvalues": [float(x) for x in self.eigenvalues], "spec_diff": self.spec_diff,
                "frobenius": self.frobenius, "modes": [m.to_dict() for m in self.modes], "n": self.n,
                "dim_a": self.dim_a, "dim_b": self.dim_b, "kernel": self.kernel, "eta": self.eta,
                "sigma_a": self.sigma_a, "sigma_b": self.sigma_b, "rff": self.rff, "route": self.route,
                "seconds": self.seconds, "complete": self.complete, "rff_floor": self.rff_floor}


# ------------------------------------------------------------------------------------------ inputs


class _Rows:
    """Rows of one embedding: an array, a memory-mapped .npy, or any embedding file (read whole)."""

    def __init__(self, data, name: str):
        self.name = name
        if isinstance(data, (str, Path)):
            p = Path(data)
            if p.suffix.lower() == ".npy" and p.is_file():
                try:
                    data = np.load(p, mmap_mode="r", allow_pickle=False)
                except ValueError as exc:
                    raise ValueError(safe_load_message(p, exc)) from None
            elif str(p).endswith(".zarr") or p.is_dir():  # a zarr store or a folder of parquet files: streamed
                data = as_dask_array(p, str(p))
            else:
                data = read_embedding_file(p).array
            self.name = str(p)
        self.lazy = is_dask_array(data)  # Dask inputs stay lazy: chunks are computed one by one
        arr = data if (isinstance(data, np.ndarray) or self.lazy) else np.asarray(data)
        if np.iscomplexobj(arr):
            raise ValueError(f"{self.name}: holds complex numbers; embeddings must be real")
        if arr.ndim != 2:
            raise ValueError(f"{self.name}: expected a 2-D array of shape (n_samples, n_features), got shape {arr.shape}")
        if not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
            raise ValueError(f"{self.name}: expected a numeric array, got dtype {arr.dtype}")
        self.arr = arr
        self.in_memory = not (self.lazy or isinstance(arr, np.memmap))  # else streamed: memory independent of n
        self.n, self.dim = arr.shape
        self.dtype = np.float32 if arr.dtype == np.float32 else np.float64
        if self.lazy and len(arr.chunks[1]) != 1:
            self.arr = arr.rechunk({1: -1})
        # a memory map's pages stay in this process's resident set once read (6.6 GB for 10⁶ rows
        # of d = 1280 + 384 float32, bench_spec.py): each chunk is copied out and its pages released
        self._mm = getattr(arr, "_mmap", None) if isinstance(arr, np.memmap) else None
        if not hasattr(mmap, "MADV_DONTNEED"):  # pragma: no cover - not Linux
            self._mm = None

    def chunk(self, s: int, e: int) -> np.ndarray:
        block = np.asarray(self.arr[s:e].compute() if self.lazy else self.arr[s:e])
        if not np.isfinite(block).all():
            bad = s + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
            raise ValueError(f"{self.name}: contains NaN/inf (first bad row {bad}); drop or impute those rows first")
        if self._mm is None:
            return block.astype(self.dtype, copy=False)
        out = block.astype(self.dtype, copy=True)
        self._release()
        return out

    def _take(self, idx) -> np.ndarray:
        rows = np.asarray(self.arr[idx], dtype=np.float64)
        self._release()
        return rows

    def _release(self):
        if self._mm is not None:  # read-only mapping: the pages stay in the page cache
            self._mm.madvise(mmap.MADV_DONTNEED)

    def sample(self, max_rows: int = 2000, seed: int = 0) -> np.ndarray:
        """At most ``max_rows`` rows (seeded), float64, for the bandwidth rule."""
        if self.n <= max_rows:
            return self.chunk(0, self.n).astype(np.float64)
        idx = np.sort(np.random.default_rng(seed).choice(self.n, max_rows, replace=False))
        if self.lazy:
            rows = np.asarray(self.arr[idx].compute(), dtype=np.float64)
        else:  # a memory map: 256 rows at a time, each touching up to 64 kB of fault-around
            rows = np.concatenate([self._take(idx[i:i + 256]) for i in range(0, len(idx), 256)])
        if not np.isfinite(rows).all():
            bad = int(idx[np.flatnonzero(~np.isfinite(rows).all(axis=1))[0]])
            raise ValueError(f"{self.name}: contains NaN/inf (row {bad}); drop or impute those rows first")
        return rows


def _auto_chunk(n_features: int, budget: int = 256 << 20) -> int:
    """Rows per chunk: at most 4,096 (chosen with ``benchmarks/bench_spec.py``), and fewer when
    one chunk's float64 features would pass ``budget`` bytes (256 MB)."""
    return int(np.clip(budget // (8 * max(n_features, 1)), 256, 4096))


def _check_args(kernel, eta, route, n_modes, top, chunk_size):
    kernel = resolve_kernel(kernel, SPEC_KERNELS)
    try:
        eta = float(eta)
    except (TypeError, ValueError):
        raise ValueError(f"eta: expected a number >= 0, got {eta!r}") from None
    if not (np.isfinite(eta) and eta >= 0):
        raise ValueError(f"eta: must be a finite number >= 0 (it weighs K_B), got {eta}")
    if route not in ROUTES:
        raise ValueError(f"route: expected one of {ROUTES}, got {route!r}")
    chunk_size = None if chunk_size is None else check_positive_int(chunk_size, "chunk_size")
    return kernel, eta, check_positive_int(n_modes, "n_modes"), check_positive_int(top, "top"), chunk_size


# ------------------------------------------------------------------------------------------ routes


def _direct(A: _Rows, B: _Rows, fa: FeatureMap, fb: FeatureMap, eta: float, exact: bool):
    n = A.n
    if n > DIRECT_MAX_N:
        raise ValueError(f"route: the direct route forms {n} x {n} matrices; n > {DIRECT_MAX_N}. "
                         "Use route='auto' (the covariance routes, linear in n)")
    Xa, Xb = A.chunk(0, n).astype(np.float64), B.chunk(0, n).astype(np.float64)
    if exact:  # the exact Gaussian kernel

        Ka = np.exp(-squared_distances(Xa) / (2 * fa.sigma**2))
        Kb = np.exp(-squared_distances(Xb) / (2 * fb.sigma**2))
    else:
        Pa, Pb = fa(Xa), fb(Xb)
        Ka, Kb = Pa @ np.ascontiguousarray(Pa.T), Pb @ np.ascontiguousarray(Pb.T)
    L = (Ka - eta * Kb) / n
    lam, V = linalg.eigh(L, driver="evd")
    fro = float(np.sqrt(np.einsum("ij,ij->", L, L)))
    return lam, V, fro


def _features(fmap: FeatureMap, rows: _Rows, s: int, e: int, dtype, cache: dict | None, out=None) -> np.ndarray:
    """Features of rows ``s:e`` (into ``out`` when given). With ``cache`` (a dict) the first pass
    keeps, by chunk start, the random Fourier phases ``X ω`` of a Gaussian map, and the next pass
    takes (and drops) them: no second read, check and n x d x m product."""
    if cache is None or fmap.rff is None:
        return fmap(rows.chunk(s, e), dtype=dtype, out=out)
    P = cache.pop(s, None)
    if P is None:
        P = cache[s] = fmap.rff.phases(rows.chunk(s, e), dtype=dtype)
    return fmap.rff.from_phases(P, dtype=dtype, out=out)


def _phase_caches(fa: FeatureMap, fb: FeatureMap, A: _Rows, B: _Rows, dtype, cache_mb: float) -> tuple:
    """What the covariance pass keeps for the mode-score pass, within ``cache_mb``: ``(A's, B's,
    joint)``. Random Fourier features: each side's phases ``X ω`` (n x m), the larger input
    dimension first (its product is the costlier). Cosine, linear: the joint blocks
    ``[Φ_A, √η Φ_B]`` themselves, when both inputs are already in memory (a memory-mapped file is
    streamed, so that memory stays independent of n) and they fit. A ``None`` keeps nothing."""
    left = cache_mb * 2**20
    item = np.dtype(dtype).itemsize
    if fa.rff is None:  # the kernel is the same on both sides
        fits = A.in_memory and B.in_memory and A.n * (fa.n_features + fb.n_features) * item <= left
        return None, None, ({} if fits else None)
    caches = [None, None]
    for i in sorted((0, 1), key=lambda i: -(fa, fb)[i].dim):
        size = (A, B)[i].n * (fa, fb)[i].rff.m * item
        if size <= left:
            caches[i] = {}
            left -= size
    return caches[0], caches[1], None


def _joint_block(A: _Rows, B: _Rows, fa: FeatureMap, fb: FeatureMap, s: int, e: int, dtype, eta: float,
                 caches=(None, None, None)) -> np.ndarray:
    """``[Φ_A, √η Φ_B]`` for rows ``s:e`` (e - s, m_A + m_B) in ``dtype``: both sides' features
    written into one buffer, so that the covariance pass is one symmetric product (syrk) and the
    score pass one product. ``caches``: :func:`_phase_caches` (a kept joint block is handed over
    and dropped)."""
    joint = caches[2]
    if joint is not None and s in joint:
        return joint.pop(s)
    ma = fa.n_features
    P = np.empty((e - s, ma + fb.n_features), dtype=dtype)
    _features(fa, A, s, e, dtype, caches[0], out=P[:, :ma])
    _features(fb, B, s, e, dtype, caches[1], out=P[:, ma:])
    if eta != 1.0:
        P[:, ma:] *= P.dtype.type(np.sqrt(eta))
    if joint is not None:
        joint[s] = P
    return P


def _moments(A: _Rows, B: _Rows, fa: FeatureMap, fb: FeatureMap, chunk: int, dtype, eta: float, progress: bool,
             scheduler=None, caches=(None, None, None), device=None) -> np.ndarray:
    """The joint covariance ``C = ΨᵀΨ / n`` (M x M, float64), ``Ψ = [Φ_A, √η Φ_B]``. In memory:
    per chunk one symmetric product of the joint block in ``dtype`` (numpy's syrk path; the same
    flops as the three blocks' products, but one call, without :class:`PairMoments`' per-chunk
    checks and sums: 17 vs 28 ms at n = 2,000, M = 896), summed in float64. Dask inputs or a scheduler: per chunk
    on the workers, tree-reduced; ``device``: torch :class:`PairMoments` on it."""
    if A.lazy or B.lazy or scheduler is not None:  # per chunk on Dask workers, tree-reduced

        acc = feature_moments(A.arr, B.arr, fa, fb, dtype=dtype, scheduler=scheduler)
        xtx, yty, xty = acc.raw()
        return _joint_cov(xtx / A.n, yty / A.n, xty / A.n, eta)
    starts = range(0, A.n, chunk)
    if device is not None:
        acc = PairMoments(debiased=False, shift_x=np.zeros(fa.n_features), shift_y=np.zeros(fb.n_features),
                          compute_dtype="float32" if dtype == np.float32 else "float64", device=device)
        for s in track(starts, "SPEC covariances", total=len(starts), enabled=progress, unit="chunk"):
            e = min(A.n, s + chunk)
            acc.update(_features(fa, A, s, e, dtype, caches[0]), _features(fb, B, s, e, dtype, caches[1]))
        xtx, yty, xty = acc.raw()
        return _joint_cov(xtx / A.n, yty / A.n, xty / A.n, eta)
    M = fa.n_features + fb.n_features
    C = np.zeros((M, M))
    for s in track(starts, "SPEC covariances", total=len(starts), enabled=progress, unit="chunk"):
        P = _joint_block(A, B, fa, fb, s, min(A.n, s + chunk), dtype, eta, caches)
        C += P.T @ P  # P.T @ P: numpy's syrk path; transposed views go to BLAS as flags, no copy
    C /= A.n
    return C


def _joint_cov(Caa, Cbb, Cab, eta):
    r = np.sqrt(eta)
    return np.block([[Caa, r * Cab], [r * Cab.T, eta * Cbb]])


def _frobenius(C: np.ndarray, ma: int) -> float:
    """``‖Λ‖_F = sqrt(‖C_AA‖² − 2‖C_AB‖² + ‖C_BB‖²)`` from the joint C (its B blocks carry η)."""
    Caa, Cab, Cbb = C[:ma, :ma], C[:ma, ma:], C[ma:, ma:]
    val = np.einsum("ij,ij->", Caa, Caa) - 2 * np.einsum("ij,ij->", Cab, Cab) + np.einsum("ij,ij->", Cbb, Cbb)
    return float(np.sqrt(max(val, 0.0)))


def _covariance_route(C, ma):
    """Eigen-pairs of Γ = J C (Prop. 1); u normalised to uᵀCu = 1 (then ‖Ψu‖ = √n)."""
    J = np.concatenate([np.ones(ma), -np.ones(C.shape[0] - ma)])
    lam, U = linalg.eig(J[:, None] * C)
    lam, U = lam.real, U.real
    norms = np.sqrt(np.maximum(np.einsum("ij,ij->j", U, C @ U), 0.0))
    keep = norms > 1e-12 * max(1.0, norms.max(initial=0.0))
    return lam[keep], U[:, keep] / norms[keep]


def _eigh_ends(S: np.ndarray, k: int):
    """Every eigenvalue of the symmetric ``S`` (r x r, ascending) and the eigenvectors of only its
    k smallest and k largest: one blocked tridiagonal reduction (LAPACK sytrd), the eigenvalues
    of the tridiagonal matrix (O(r²)), 2k of its eigenvectors (MRRR), back-transformed through
    the Householder reflectors (O(r² k)). About 4/3 r³ flops against a full ``eigh``'s ~5 r³.

    A float32 ``S`` is reduced and back-transformed in float32 (the tridiagonal solves in float64).
    ``S`` is overwritten (pass a copy to keep it).

    Returns ``(lam (r,), W (r, 2k), cols)``: ``W[:, j]`` is the eigenvector of ``lam[cols[j]]``."""
    r = S.shape[0]
    sytrd, sytrd_lwork = linalg.lapack.get_lapack_funcs(("sytrd", "sytrd_lwork"), (S,))
    lwork, info = sytrd_lwork(r, lower=1)
    # S is symmetric, so Sᵀ (a Fortran-ordered view, which LAPACK takes without a copy) is the
    # same matrix; S is overwritten
    c, d, e, tau, info = sytrd(S.T if S.flags.c_contiguous else S, lower=1, lwork=max(1, int(lwork)),
                               overwrite_a=1)
    if info != 0:
        raise ValueError("SPEC: the tridiagonal reduction failed")  # pragma: no cover
    d, e = d.astype(np.float64), e.astype(np.float64)  # the O(r²) tridiagonal solves in float64 always
    lam = linalg.eigh_tridiagonal(d, e, eigvals_only=True)
    cols = np.r_[0:k, r - k:r]
    _, Zlo = linalg.eigh_tridiagonal(d, e, select="i", select_range=(0, k - 1))
    _, Zhi = linalg.eigh_tridiagonal(d, e, select="i", select_range=(r - k, r - 1))
    W = np.hstack([Zlo, Zhi]).astype(S.dtype)
    # the end eigenvectors of a tridiagonal matrix are localised: their entries decay
    # exponentially, down to subnormal numbers (11,000 of 36,000 in float32 on XTD-10), which
    # made the back-transformation 15x slower (52 vs 3.5 ms); below eps · 1e-6 they change nothing
    W[np.abs(W) < np.finfo(S.dtype).eps * 1e-6] = 0.0
    # Q = H(0) H(1) ... H(r-2), H(i) = I - tau_i v vᵀ with v = (0, ..., 0, 1, c[i+2:, i]) (i+1
    # zeros): Q = diag(1, Q') with Q' stored as QR reflectors in c[1:, :r-1], so LAPACK's ormqr
    # applies it to W[1:] in one blocked call (4x the Python loop over reflectors it replaces)
    if r > 1:
        ormqr, = linalg.lapack.get_lapack_funcs(("ormqr",), (S,))
        a, t = c[1:, :r - 1], tau[:r - 1]
        work = ormqr("L", "N", a, t, W[1:], lwork=-1)[1]
        out, _, info = ormqr("L", "N", a, t, W[1:], lwork=max(1, int(work[0])))
        if info != 0:
            raise ValueError("SPEC: the back-transformation failed")  # pragma: no cover
        W[1:] = out
    return lam, W, cols


def _factor(C: np.ndarray, try_unpivoted: bool = True):
    """``C = FᵀF`` for the cholesky route. Features that are (numerically) zero on every item
    (C_ii <= tol below: XTD-10's use-multilingual captions have three, with C_ii ~ 1e-65) are
    dropped, then LAPACK ``potrf`` factors the rest when it is safely positive definite (smallest pivot² above ``M · eps · max C_ii``, the tolerance at
    which the pivoted ``pstrf`` would stop); it costs a quarter of pstrf's time at M ≈ 900 (13 vs
    49 ms). Otherwise ``pstrf`` on the whole C, which stops at the numerical rank (a singular C,
    n < M or B = A, needs no jitter; a jitter would turn B = A's nilpotent J C into eigenvalues of
    size √jitter instead of exact zeros). Returns ``(Fp, perm, pivoted)``: ``Fp`` (r, len(perm))
    upper trapezoidal with ``C[perm][:, perm] = FpᵀFp`` (``perm`` 0-based; features not in it
    have zero weight in every eigenvector); pstrf's is a Fortran view with leading dimension M,
    which BLAS reads in place (no copy of an r x M factor, 512 MB at M = 8,000).
    ``try_unpivoted=False`` goes straight to pstrf: random Fourier features' C is numerically
    singular as a rule (2,000 frequencies per side, n = 20,000: potrf's smallest pivot² fell below
    the tolerance), where trying potrf first cost 4 s at M = 8,000 for nothing."""
    M = C.shape[0]
    diag = np.diag(C)
    tol = M * np.finfo(np.float64).eps * max(float(np.max(diag, initial=0.0)), 0.0)
    keep = np.flatnonzero(diag > tol)  # a feature with C_ii <= tol is one pstrf would never pivot in
    if keep.size and try_unpivoted:
        Ck = C[np.ix_(keep, keep)] if keep.size < M else C.copy()
        F, info = linalg.lapack.dpotrf(Ck.T, lower=0, clean=1, overwrite_a=1)  # symmetric: .T is a Fortran view
        if info == 0 and np.min(np.diag(F)) ** 2 > tol:
            return F, keep, False
        del Ck, F  # before pstrf's own copy: one M x M factor in memory at a time
    U, piv, rank, info = linalg.lapack.dpstrf(C, lower=0)
    if info < 0:
        raise ValueError("SPEC: the joint covariance could not be factorised")  # pragma: no cover
    # LAPACK returns U in Fortran order: zero the strict lower part, where it leaves its work, a
    # column at a time (index arrays for it would take 8 M² bytes: 512 MB at M = 8,000)
    U = U if U.flags.f_contiguous else np.asfortranarray(U)
    for j in range(M - 1):
        U[j + 1:, j] = 0.0
    return U[:int(rank)], piv - 1, True


def _signed_gram(Fp: np.ndarray, Jp: np.ndarray, pivoted: bool = True, dtype=np.float64) -> np.ndarray:
    """``S = Fp Jp Fpᵀ`` as ``F₊F₊ᵀ − F₋F₋ᵀ`` over the columns of each sign: symmetric products
    (syrk), half the flops of ``(Fp * Jp) @ Fpᵀ``, and S exactly symmetric. Unpivoted, the m_A
    positive columns come first and F₊ is zero below its first m_A rows: its product is only the
    m_A x m_A corner."""
    if not pivoted:
        ma = int(np.count_nonzero(Jp > 0))
        Neg = np.ascontiguousarray(Fp[:, ma:], dtype=dtype)
        Pos = np.ascontiguousarray(Fp[:ma, :ma], dtype=dtype)
        S = Neg @ Neg.T
        np.negative(S, out=S)
        S[:ma, :ma] += Pos @ Pos.T
        return S
    Pos = np.ascontiguousarray(Fp[:, Jp > 0], dtype=dtype)
    Neg = np.ascontiguousarray(Fp[:, Jp < 0], dtype=dtype)
    return Pos @ Pos.T - Neg @ Neg.T


def _rayleigh_ritz(Fp: np.ndarray, Jp: np.ndarray, W: np.ndarray):
    """Eigen-pairs of ``S = Fp Jp Fpᵀ`` in float64 on the span of ``W`` (r, k): orthonormalise,
    project (S is applied as ``Fp (Jp (Fpᵀ Q))``, O(r M k), never formed), solve the k x k problem.
    Eigenvalue errors are quadratic in the vectors' errors, so vectors from float32 arithmetic give
    eigenvalues to float64 precision. Returns ``(lam (k,) ascending, W (r, k))``."""
    Q, _ = linalg.qr(np.asarray(W, dtype=np.float64), mode="economic")
    T = Q.T @ (Fp @ (Jp[:, None] * (Fp.T @ Q)))
    lam, Z = linalg.eigh((T + T.T) / 2)
    return lam, Q @ Z


def _factor_single(C: np.ndarray):
    """``C ≈ FᵀF`` in float32 for the Lanczos subspace of :func:`_cholesky_ends`: LAPACK ``spotrf``
    on C's features that are not zero on every item (as :func:`_factor` drops them), 2-4x faster
    than float64 ``potrf`` at M ≈ 900 (XTD-10: 5-14 vs 19-31 ms, this machine drifts). Returns ``(F (r, r) float32 upper,
    kept)``, or ``None`` when C is not safely positive definite in float32 (smallest pivot² at or
    below ``M · eps32 · max C_ii``); :func:`_factor` then takes over."""
    M = C.shape[0]
    diag = np.diag(C)
    top = max(float(np.max(diag, initial=0.0)), 0.0)
    keep = np.flatnonzero(diag > M * np.finfo(np.float64).eps * top)
    if not keep.size:
        return None
    C32 = C.astype(np.float32)
    if keep.size < M:
        C32 = C32[np.ix_(keep, keep)]
    F, info = linalg.lapack.spotrf(C32.T, lower=0, clean=1, overwrite_a=1)  # symmetric: .T is a Fortran view
    if info != 0 or float(np.min(np.diag(F))) ** 2 <= M * np.finfo(np.float32).eps * top:
        return None
    return F, keep


def _ritz_pencil(C: np.ndarray, J: np.ndarray, U: np.ndarray):
    """Rayleigh-Ritz for ``Γ = J C`` on the span of ``U`` (M, k), in float64, with C itself: Γ is
    self-adjoint in the C inner product, so the Ritz pairs solve the k x k symmetric-definite pencil
    ``(Zᵀ J Z, Uᵀ Z)``, ``Z = C U`` (the projection of ``C J C u = λ C u``), O(M² k). No factor
    of C enters, so a float32 factor may build the subspace. Directions of ``U`` without C-norm
    (numerically in C's null space, e.g. every direction when B = A) are dropped. Eigenvalue
    errors are quadratic in the subspace's; rounding adds about ``eps (‖C‖/|λ|)²`` relative.
    Returns ``(lam (k',) ascending, U (M, k'))`` with ``uᵀ C u = 1``."""
    norms = np.linalg.norm(U, axis=0)
    U = U[:, norms > 0] / norms[norms > 0]
    Z = C @ U
    Bk = U.T @ Z
    Ak = Z.T @ (J[:, None] * Z)
    mu, Q = linalg.eigh((Bk + Bk.T) / 2)
    ok = mu > C.shape[0] * np.finfo(np.float64).eps * max(float(np.trace(C)), 0.0)
    X = Q[:, ok] / np.sqrt(mu[ok])  # Xᵀ Bk X = I
    T = X.T @ Ak @ X
    lam, Y = linalg.eigh((T + T.T) / 2)
    return lam, U @ (X @ Y)


def _cholesky_ends(C: np.ndarray, J: np.ndarray, wanted: int, single: bool, try_unpivoted: bool):
    """The ``wanted`` largest and ``wanted`` smallest eigen-pairs of Γ = J C, not the whole
    spectrum: Lanczos (ARPACK ``eigsh``, ``which="BE"``) on ``w ↦ F (J (Fᵀ w))`` with C ≈ FᵀF
    (S = F J Fᵀ is never formed: two matrix-vector products per step), then a float64
    Rayleigh-Ritz step on C itself (:func:`_ritz_pencil`). With ``single`` (float32 inputs) the
    factor and the products are float32 (:func:`_factor_single`, else :func:`_factor`'s float64
    factor rounded). Returns ``(lam, Uvec)`` as :func:`_cholesky_route` does, or None when the
    factor's rank leaves no room for 2 x wanted Lanczos vectors or Lanczos does not converge
    (the caller then solves it whole)."""
    M = C.shape[0]
    got = _factor_single(C) if single and try_unpivoted else None
    if got is None:
        Fp, perm, _ = _factor(C, try_unpivoted)
        F = np.asarray(Fp, dtype=np.float32, order="F") if single else Fp
    else:
        F, perm = got
    r = F.shape[0]
    if 2 * wanted >= r:
        return None
    Jp = J[perm].astype(F.dtype)
    op = LinearOperator((r, r), matvec=lambda w: F @ (Jp * (F.T @ w)), dtype=F.dtype)
    try:
        _, W = eigsh(op, k=2 * wanted, which="BE", tol=0, v0=np.ones(r, dtype=F.dtype) / np.sqrt(r))
    except ArpackNoConvergence:
        return None  # never seen; the dense solve is the safe answer
    except ArpackError as exc:
        if exc.info != -9:  # pragma: no cover - any error but "starting vector is zero"
            raise
        return np.zeros(0), np.zeros((M, 0))  # S v0 = 0: S is zero (B = A), no non-zero eigenvalue
    U = np.zeros((M, W.shape[1]))
    U[perm] = Jp[:, None] * (F.T @ W)  # u = J Fᵀ w
    lam, Uvec = _ritz_pencil(C, J, U)
    keep = np.abs(lam) > 1e-12 * max(1.0, float(np.abs(lam).max(initial=0.0)))
    return lam[keep], Uvec[:, keep]


def _cholesky_route(C, ma, wanted=None, single=False, ends=None, try_unpivoted=True):
    """Eigen-pairs by Cholesky C = FᵀF (:func:`_factor`) and the symmetric S = F J Fᵀ (App. A.3);
    ``wanted`` (k) computes only the k largest and k smallest eigenvalues (:func:`_cholesky_ends`:
    Lanczos, in float32 products when ``single``, i.e. float32 inputs, then refined in float64).
    ``ends`` (k): every eigenvalue but the eigenvectors of the k largest and k smallest only (:func:`_eigh_ends`);
    then a fourth value is returned: the positions in the returned eigenvalues of Uvec's columns.
    With ``single`` and ``ends``, S is formed and reduced in float32 (half the time of the r³
    steps) and the k largest and k smallest pairs (the reported modes) are refined in float64
    (:func:`_rayleigh_ritz`): their eigenvalues are float64-accurate for this C (their vectors to
    ~1e-8, first order in the float32 subspace's error), the other eigenvalues float32-accurate
    (about 1e-7 of the largest |λ|), as accurate as the float32 covariance products C comes from.
    ``try_unpivoted``: see :func:`_factor`."""
    M = C.shape[0]
    J = np.concatenate([np.ones(ma), -np.ones(M - ma)])
    if wanted is not None and 2 * wanted < M:
        part = _cholesky_ends(C, J, wanted, single, try_unpivoted)
        if part is not None:
            return (*part, False)
    Fp, perm, pivoted = _factor(C, try_unpivoted)
    Jp = J[perm]
    cols = None
    if ends is not None and 2 * ends < Fp.shape[0]:
        if single:
            lam, W, cols = _eigh_ends(_signed_gram(Fp, Jp, pivoted, np.float32), ends)  # lam: float64
            lam_ends, W = _rayleigh_ritz(Fp, Jp, W)
            lam[cols] = lam_ends
        else:
            lam, W, cols = _eigh_ends(_signed_gram(Fp, Jp, pivoted), ends)
    else:
        lam, W = linalg.eigh(_signed_gram(Fp, Jp, pivoted), driver="evd")
    Uvec = np.zeros((M, W.shape[1]))
    Uvec[perm] = Jp[:, None] * (Fp.T @ W)  # u = J Fᵀ w, and uᵀCu = λ² (‖Ψu‖ = √n |λ|)
    scale = np.abs(lam)
    keep = scale > 1e-12 * max(1.0, scale.max(initial=0.0))
    if cols is None:
        return lam[keep], Uvec[:, keep] / scale[keep], True
    where = np.cumsum(keep) - 1  # position of each kept eigenvalue after the filter
    ok = keep[cols]
    return lam[keep], Uvec[:, ok] / scale[cols[ok]], True, where[cols[ok]]


def _device_route(C, ma, device: str):
    """Eigen-pairs of Γ = J C in torch on ``device`` (float64), for :func:`spec` with a GPU: the
    same symmetric problem as :func:`_cholesky_route` (S = F J Fᵀ with C = FᵀF, App. A.3), with
    F = D^½ Qᵀ from ``eigh(C)`` instead of a pivoted Cholesky factor (torch has none); directions
    with eigenvalues of C below ``M · eps · max`` are dropped, as LAPACK's pivoted Cholesky drops
    them. Two dense ``eigh`` calls, which a GPU runs far faster than the CPU's one reduction."""
    import torch  # noqa: PLC0415 - only with device=

    M = C.shape[0]
    Ct = torch.from_numpy(np.ascontiguousarray(C, dtype=np.float64)).to(device)
    d, Q = torch.linalg.eigh((Ct + Ct.T) / 2)
    kept = d > M * np.finfo(np.float64).eps * d.max().clamp_min(0)
    F = (Q[:, kept] * d[kept].sqrt()).T  # r x M, C = FᵀF (up to the dropped directions)
    J = torch.ones(M, dtype=torch.float64, device=device)
    J[ma:] = -1.0
    S = (F * J) @ F.T
    lam, W = torch.linalg.eigh((S + S.T) / 2)
    U = J[:, None] * (F.T @ W)  # u = J Fᵀ w, uᵀCu = λ²
    scale = lam.abs()
    keep = scale > 1e-12 * max(1.0, float(scale.max()) if scale.numel() else 0.0)
    return lam[keep].cpu().numpy(), (U[:, keep] / scale[keep]).cpu().numpy(), True


# ------------------------------------------------------------------------------------------ modes


def _pick_modes(lam: np.ndarray, n_modes: int) -> np.ndarray:
    """Indices into ``lam`` of the n_modes largest positive, then the n_modes most negative."""
    order = np.argsort(-lam, kind="stable")
    pos = [i for i in order if lam[i] > 0][:n_modes]
    neg = [i for i in order[::-1] if lam[i] < 0][:n_modes]
    return np.array(pos + neg, dtype=int)


class _TopK:
    """Running top-k (largest) of streamed scores per column, plus each column's extreme entry."""

    def __init__(self, k_cols: int, top: int):
        self.top = top
        self.hi = [[] for _ in range(k_cols)]  # min-heaps of (score, -index)
        self.lo = [[] for _ in range(k_cols)]  # for the flipped sign
        self.maxabs = np.full(k_cols, -1.0)
        self.sign = np.ones(k_cols)

    def add(self, s: int, block: np.ndarray) -> None:
        for j in range(block.shape[1]):
            col = block[:, j]
            for arr, heap in ((col, self.hi[j]), (-col, self.lo[j])):
                k = min(self.top, len(arr))
                cand = np.argpartition(-arr, k - 1)[:k] if k < len(arr) else np.arange(len(arr))
                for i in cand:
                    item = (float(arr[i]), -(s + int(i)))
                    if len(heap) < self.top:
                        heapq.heappush(heap, item)
                    elif item > heap[0]:
                        heapq.heapreplace(heap, item)
            a = np.abs(col)
            i = int(np.argmax(a))
            if a[i] > self.maxabs[j]:  # first (lowest index) maximum wins ties
                self.maxabs[j] = a[i]
                self.sign[j] = 1.0 if col[i] >= 0 else -1.0

    def result(self, j: int):
        heap = self.hi[j] if self.sign[j] > 0 else self.lo[j]
        items = sorted(heap, reverse=True)  # best score first; ties: lower index first
        return np.array([-i for _, i in items], dtype=int), np.array([v for v, _ in items])

    def other_end(self, j: int):
        """The opposite end: indices and their (negative) entries in the sign-adjusted vector."""
        heap = self.lo[j] if self.sign[j] > 0 else self.hi[j]
        items = sorted(heap, reverse=True)
        return np.array([-i for _, i in items], dtype=int), -np.array([v for v, _ in items])


def _scores_pass(A, B, fa, fb, eta, Uvec, top, chunk, dtype, keep_scores, progress, caches=(None, None, None)):
    k = Uvec.shape[1]
    tk = _TopK(k, min(top, A.n))
    scores = np.empty((A.n, k)) if keep_scores else None
    U = Uvec.astype(dtype)  # u = [u_A; u_B]: v = Φ_A u_A + √η Φ_B u_B = [Φ_A, √η Φ_B] u
    starts = range(0, A.n, chunk)
    for s in track(starts, "SPEC mode scores", total=len(starts), enabled=progress, unit="chunk"):
        e = min(A.n, s + chunk)
        # in the covariances' precision (float64 features would dominate the cost of the RFF map)
        block = (_joint_block(A, B, fa, fb, s, e, dtype, eta, caches) @ U).astype(np.float64)
        tk.add(s, block)
        if keep_scores:
            scores[s:e] = block
    if keep_scores:
        scores *= tk.sign
    return tk, scores


# ------------------------------------------------------------------------------------------ API


def spec(A, B, kernel: str = "cosine", *, eta: float = 1.0, rff: int | str | None = None, sigma_a=None,
         sigma_b=None, n_modes: int = 5, top: int = 10, route: str = "auto", seed: int = 0,
         chunk_size: int | None = None, return_scores: bool | None = None, precision: str = "auto",
         cache_mb: float = 2048, rff_floor: bool = True, scheduler=None, device=None, spectrum: str = "auto",
         progress: bool = False) -> SPECResult:
    """Where two embeddings of the same items cluster them differently (SPEC).

    Parameters
    ----------
    A : array, shape (n, d_A), np.memmap or path
        Embeddings of the items by encoder A (a ``.npy`` path is memory-mapped and streamed).
    B : array, shape (n, d_B), np.memmap or path
        The same items, same order, by encoder B.
    kernel : {"cosine", "linear", "gaussian"}
        See :mod:`repalign.spectral.features`.
    eta : float
        Weight of K_B in ``(K_A − η K_B)/n`` (default 1).
    rff : int or "exact", optional
        Gaussian only: random Fourier frequencies per embedding (default 2000); ``"exact"``
        uses the exact kernel (direct route only). The exact kernel is also used whenever the
        route is the direct one (n at most the number of features), where random features would
        only add noise. When both embeddings have the same dimension and bandwidth they share
        one draw of frequencies, so ``spec(A, A)`` is exactly 0; otherwise the result reports
        ``rff_floor``, the noise level of the random features, and warns about modes below it.
    sigma_a, sigma_b : float or "auto", optional
        Gaussian bandwidths; default the automatic rule of :mod:`repalign.spectral.features`.
    n_modes : int
        Modes reported per sign (default 5).
    top : int
        Items listed per mode (default 10).
    route : {"auto", "direct", "covariance", "cholesky"}
        Module docstring.
    seed : int
        Random frequencies (A uses ``seed``, B ``seed + 1`` unless they share a draw) and
        bandwidth subsamples.
    chunk_size : int, optional
        Rows per streamed chunk (default: about 64 MB of features per chunk).
    return_scores : bool, optional
        Keep every item's score on every mode (default: when it fits in 256 MB).
    precision : {"auto", "float32", "float64"}
        Precision of the per-chunk covariance products (sums are float64); ``auto``: float32
        when both inputs are float32. With float32, the cholesky route also forms and reduces
        its M x M matrix in float32 and refines the reported modes (the n_modes largest and smallest
        eigen-pairs) in float64; the rest of the spectrum is float32-accurate (~1e-7 of the
        largest |λ|). Comparing an embedding with a near-copy of itself (B = A rotated, say),
        C is near-singular and its float32 round-off (~1e-7) can show as eigenvalues up to
        ~sqrt(eps32) ‖C‖ ≈ 3e-4 (the square root of a Cholesky pivot; the official code's
        float32 route has the same floor); ``"float64"`` brings that floor to ~1e-8.
    cache_mb : float
        Streamed routes: memory (MB) for keeping, from the covariance pass for the mode-score
        pass, the random Fourier phases ``X ω`` (Gaussian; n x m per side; the pass then skips the
        n x d x m products; the side with the larger input dimension goes first) or, for arrays in
        memory, the joint feature blocks ``[Φ_A, √η Φ_B]`` themselves (cosine, linear; both sides
        or none: no second check and normalisation). Default 2048: 10⁵ rows of float32 with 2,000
        frequencies per side fit. 0 recomputes them, keeping memory independent of n. The results
        are identical either way.
    rff_floor : bool, default True
        With random Fourier features, also measure their noise floor (``SPECResult.rff_floor``,
        two extra n x n eigenvalue problems on at most 2,000 rows) and warn about modes below it.
    scheduler : None, str or distributed.Client
        Compute the covariances on a Dask cluster (:mod:`repalign.distributed`); Dask-array
        inputs use the active client or Dask's threads when none is given.
    device : {None, "cpu", "cuda", "cuda:N", "mps", "auto"}
        Covariance routes on a GPU: the n x M² covariance products (the part that grows with n)
        run in torch on this device, float64 sums kept there (:class:`repalign.moments.PairMoments`),
        and so does the cholesky route's M x M eigen-problem (two float64 ``eigh`` calls, see
        ``_device_route``; the covariance route's non-symmetric ``eig`` stays on the CPU). Features
        are made on the CPU, and the mode scores are computed there. ``"cpu"`` runs the NumPy path
        (:func:`repalign._device.compute_device`). Not with ``scheduler``.
    spectrum : {"auto", "full", "ends"}
        What the cholesky route computes. ``"full"``: every non-zero eigenvalue (one dense
        reduction of the M x M matrix, ~4/3 M³ flops). ``"ends"``: the ``n_modes + 2`` largest
        and smallest (the reported modes and the two next ones, i.e. their gap), by Lanczos on
        the factor (:func:`_cholesky_ends`), each refined in float64: what SPEC-diff and the modes
        need, 1.6-2x faster than ``"full"`` at M = 896 (XTD-10, n = 8,000 / 2,000;
        ``benchmarks/bench_vs_official_spec.py``).
        ``"auto"`` (default): ``"full"`` up to ``FULL_SPECTRUM_MAX`` joint features, ``"ends"``
        above. ``SPECResult.complete`` says which one a result holds. The direct and covariance
        routes (and ``device=``) always compute every eigenvalue.
    progress : bool

    Returns
    -------
    SPECResult

    References
    ----------
    jalali2025 (arXiv:2506.06231), Eq. 3-5, Prop. 1, App. A.3.
    """
    t0 = time.perf_counter()
    kernel, eta, n_modes, top, chunk_size = _check_args(kernel, eta, route, n_modes, top, chunk_size)
    if spectrum not in SPECTRA:
        raise ValueError(f"spectrum: expected one of {SPECTRA}, got {spectrum!r}")
    Ra, Rb = _Rows(A, "A"), _Rows(B, "B")
    if Ra.n != Rb.n:
        raise ValueError(f"A and B have mismatched sample counts ({Ra.n} vs {Rb.n}); row i of both must be the "
                         "same item")
    n = Ra.n
    if n < 2:
        raise ValueError(f"A: has {n} rows; SPEC needs at least 2 items")
    if top > n:
        raise ValueError(f"top: {top} items per mode requested but there are only {n} items")
    if n_modes > n:
        raise ValueError(f"n_modes: {n_modes} modes per sign requested but there are only {n} items")
    if isinstance(cache_mb, bool) or not isinstance(cache_mb, (int, float, np.integer, np.floating)) \
            or not (np.isfinite(cache_mb) and cache_mb >= 0):
        raise ValueError(f"cache_mb: expected a number of megabytes >= 0 (0 keeps nothing), got {cache_mb!r}")
    if precision not in ("auto", "float32", "float64"):
        raise ValueError(f"precision: expected 'auto', 'float32' or 'float64', got {precision!r}")
    if device is not None:
        resolve_device(device)  # validated even where the NumPy path runs
        if scheduler is not None:
            raise ValueError("device: runs the covariances here on one device; drop it with scheduler=")
        device = compute_device(device)
    exact = rff == "exact"
    if exact and kernel != "gaussian":
        raise ValueError("rff: 'exact' applies to the gaussian kernel only")
    n_freq = None if (rff is None or exact) else rff
    def sample(R, sigma):  # rows for the automatic bandwidth only: no read for the other kernels
        auto = kernel == "gaussian" and (sigma is None or (isinstance(sigma, str) and sigma == "auto"))
        return R.sample(seed=seed) if auto else np.empty((0, R.dim))

    fa = FeatureMap.build(kernel, sample(Ra, sigma_a), sigma=sigma_a, n_frequencies=n_freq, seed=seed, name="A")
    fb = FeatureMap.build(kernel, sample(Rb, sigma_b), sigma=sigma_b, n_frequencies=n_freq, seed=seed + 1, name="B")
    if fa.rff is not None and fa.dim == fb.dim and fa.sigma == fb.sigma:
        # the same kernel on both sides: one draw of frequencies, so equal inputs give exactly 0
        fb = FeatureMap(fb.kernel, fb.dim, fb.sigma, fa.rff)
    M = fa.n_features + fb.n_features
    chunk_size = chunk_size or _auto_chunk(M)
    chosen = route == "auto"
    if route == "auto":
        route = "direct" if (exact or n <= M) and n <= DIRECT_MAX_N else "cholesky"
    if kernel == "gaussian" and route == "direct" and n <= M and (chosen or rff is None):
        exact = True  # an n x n Gram is no dearer than the features: use the kernel itself, not its noisy estimate
    if exact and route != "direct":
        raise ValueError("rff: the exact gaussian kernel needs route='direct' (n x n); give a number of frequencies")
    dtype = np.float32 if (precision == "float32" or (precision == "auto" and Ra.dtype == Rb.dtype == np.float32)) \
        else np.float64
    keep = return_scores if return_scores is not None else n * 2 * n_modes * 8 <= 256 << 20
    complete = True
    if route == "direct":
        # small n x n eigen-problems: scipy's LAPACK single-threaded (repalign._blas; 1.15-1.8x
        # faster at n = 200-600 on XTD-10 embeddings, level at 800, 0.73x at 1,600)
        with step(f"SPEC direct route (n = {n})", enabled=progress), scipy_lapack_alone(n <= DIRECT_LAPACK_ALONE_MAX):
            lam, V, fro = _direct(Ra, Rb, fa, fb, eta, exact)
        picked = _pick_modes(lam, n_modes)
        tk = _TopK(len(picked), top)
        tk.add(0, V[:, picked])
        scores = V[:, picked] * tk.sign if keep else None
    else:
        local = not (Ra.lazy or Rb.lazy or scheduler is not None)  # Dask computes features on workers
        caches = _phase_caches(fa, fb, Ra, Rb, dtype, cache_mb) if local else (None, None, None)
        C = _moments(Ra, Rb, fa, fb, chunk_size, dtype, eta, progress, scheduler, caches, device)
        fro = _frobenius(C, fa.n_features)
        with step(f"SPEC eigen-decomposition ({route}, {M} features)", enabled=progress):
            cols = []  # eigenvectors of every eigenvalue, unless the cholesky route computes the ends only
            if route == "covariance":
                lam, Uvec = _covariance_route(C, fa.n_features)
            elif device is not None:
                lam, Uvec, complete = _device_route(C, fa.n_features, device)
            else:
                ends_only = spectrum == "ends" or (spectrum == "auto" and M > FULL_SPECTRUM_MAX)
                wanted = n_modes + END_EXTRA if ends_only else None
                # up to M = 2,048 scipy's LAPACK runs single-threaded here, out of the way of
                # numpy's spinning BLAS threads (repalign._blas: 1.4-1.5x faster at M = 896,
                # level at M = 1,664; not measured above, where a reduction of seconds pays for
                # its second thread and the spinning lasts only its first ~0.1 s)
                with scipy_lapack_alone(M <= LAPACK_ALONE_MAX):
                    lam, Uvec, complete, *cols = _cholesky_route(C, fa.n_features, wanted=wanted,
                                                                 single=dtype == np.float32, ends=n_modes,
                                                                 try_unpivoted=fa.rff is None and fb.rff is None)
        if cols:  # eigenvectors of the ends only: column j of Uvec belongs to lam[cols[0][j]]
            # modes are picked among those: when the whole spectrum is round-off (B = A in float32),
            # float32 values of the middle may outlast the float64-refined ends and must not be
            # picked (they have no eigenvector here; it was a KeyError)
            sub = _pick_modes(lam[cols[0]], n_modes)
            picked, Uvec = cols[0][sub], Uvec[:, sub]
        else:
            picked = _pick_modes(lam, n_modes)
            Uvec = Uvec[:, picked]
        Uvec = Uvec / np.sqrt(n)  # v = Ψu is then a unit eigenvector of Λ
        tk, scores = _scores_pass(Ra, Rb, fa, fb, eta, Uvec, top, chunk_size, dtype, keep, progress, caches)
    order = np.argsort(-lam, kind="stable")
    modes = []
    for j, i in enumerate(picked):
        idx, sc = tk.result(j)
        oi, osc = tk.other_end(j)
        if not (len(osc) and len(sc) and np.max(np.abs(osc)) >= OTHER_END * np.max(np.abs(sc))):
            oi, osc = np.zeros(0, dtype=int), np.zeros(0)
        modes.append(SPECMode(float(lam[i]), idx, sc, oi, osc))
    diff = float(np.max(np.abs(lam))) if lam.size else 0.0
    floor = None
    if fa.rff is not None and not exact and rff_floor:
        with step("SPEC random-feature floor", enabled=progress):
            floor = max(_rff_floor(Ra, fa, seed), _rff_floor(Rb, fb, seed))
        below = [m for m in modes if abs(m.eigenvalue) < floor]
        if below:
            warn(f"SPEC: {len(below)} of the {len(modes)} reported modes have |λ| below the random-feature floor "
                 f"{floor:.4g} (what two draws of the frequencies alone produce); they may be noise of the random "
                 "features: use more frequencies (rff=) or the exact kernel (rff='exact')")
    return SPECResult(lam[order], diff, fro, tuple(modes), n, Ra.dim, Rb.dim, kernel, eta, fa.sigma, fb.sigma,
                      None if (fa.rff is None or exact) else fa.rff.m, route, time.perf_counter() - t0, complete,
                      scores, floor)


#: the other end of a mode is reported when its largest |score| reaches this share of the first end's
OTHER_END = 0.5

#: rows (at most) on which the random-feature floor is measured
FLOOR_ROWS = 2000


def _rff_floor(R: _Rows, fmap: FeatureMap, seed: int, max_rows: int = FLOOR_ROWS) -> float:
    """SPEC-diff of one embedding against itself under two independent draws of its random
    Fourier frequencies (same m, same σ), on a seeded subsample of at most ``max_rows`` rows
    (the floor barely depends on n once n is in the thousands)."""
    X = R.sample(max_rows=max_rows, seed=seed)  # the rows the bandwidth rule saw
    other = RandomFourierFeatures(fmap.dim, fmap.rff.m, fmap.sigma, seed=seed + 7919)  # an independent draw
    P1, P2 = fmap(X), other(X)
    L = (P1 @ np.ascontiguousarray(P1.T) - P2 @ np.ascontiguousarray(P2.T)) / len(X)
    return float(np.max(np.abs(linalg.eigvalsh(L))))

