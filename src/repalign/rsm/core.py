"""Semantic and spatio-semantic representational similarity matrices (wald2024).

A sample's spatial representation (C channels at S positions: a CNN map ``(C, H, W)`` with
S = H·W, or a token sequence ``(T, D)``) is a set of S "semantic concept vectors" ``x_s ∈ R^C``.

* Spatio-semantic RSM (the usual one): positions are compared as they are,
  ``G_ij = ⟨x_i, x_j⟩ = Σ_s ⟨x_i,s, x_j,s⟩`` (wald2024 Eq. 3).
* Semantic RSM: per sample pair, the spatial permutation that maximises the inner product,
  ``G_ij = max_π Σ_s ⟨x_i,s, x_j,π(s)⟩`` (Eq. 4-5), a linear assignment on the S × S affinity
  matrix ``X_i X_jᵀ``. It is invariant to any spatial permutation of either sample.

The permutation found for the inner product is reused for every kernel (a permutation
preserves norms, so ``‖x_i − π x_j‖² = ‖x_i‖² + ‖x_j‖² − 2 G_ij``):

* ``inner``: ``G_ij``;
* ``cosine``: ``G_ij / (‖x_i‖ ‖x_j‖)``;
* ``rbf``: ``exp(−d²_ij / (2σ²))`` with ``σ² =`` the lower median of the non-zero ``d²_ij`` of
  the matrix computed (its off-diagonal entries when square), i.e. σ the median Euclidean
  distance (wald2024 App. A computes it per mini-batch; here per RSM).

Because ``G`` is all a kernel needs, RSMs are computed as ``G`` in blocks of sample pairs: the
affinity matrices of the block's pairs come from one GEMM per image into a reused buffer (one per
block when C > 4 S; :func:`_affinities`), then every assignment of the block is solved in
one compiled parallel loop (``backend="auction-jv"`` or ``"lapjv"``, :func:`repalign.assignment.max_inner_batch`)
or one by one (other backends, approximations). Square RSMs compute the upper triangle only
(``G`` is symmetric: the inverse permutation is optimal for the reverse pair); the diagonal is
``‖x_i‖²`` (the identity is optimal for a sample with itself). Memory is the (N_x, N_y) result
plus one block (about 128 MB); ``n_jobs`` processes share the blocks; a ``checkpoint`` file
makes long runs resumable (a checkpoint of other inputs or settings is recomputed, never used).

References
----------
wald2024 (Wald et al., "Decoupling Semantic Similarity from Spatial Alignment for Neural
Networks", NeurIPS 2024, arXiv:2410.23107), Eq. 3-5, App. A and F.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from .._optional import optional
from .._progress import track
from .._result import Result
from .._validate import check_positive_int, warn
from ..assignment import (
    BACKENDS,
    approximate,
    auction_batch,
    max_inner_batch,
    parse_matcher,
    solve,
)
from ..distributed import client_for
from ..io import atomic_write
from ..kernels import median_bandwidth, resolve_kernel, sq_distances_from_inner

__all__ = ["semantic_rsm", "spatial_rsm", "RSMResult", "as_concept_sets", "LAYOUTS", "RSM_KERNELS", "rsm_kernel"]

LAYOUTS = ("NCHW", "NHWC", "NTD")
RSM_KERNELS = ("inner", "cosine", "rbf")
_BLOCK_BYTES = 128 << 20


def as_concept_sets(x, layout: str = "NCHW", name: str = "x", check_layout: bool = True) -> np.ndarray:
    """Spatial representations as sets of concept vectors.

    Parameters
    ----------
    x : array
        ``(N, C, H, W)`` (``NCHW``, e.g. CNN maps), ``(N, H, W, C)`` (``NHWC``) or ``(N, T, D)``
        (``NTD``, token sequences).
    layout : {"NCHW", "NHWC", "NTD"}
        The axis convention, stated explicitly.
    name : str
    check_layout : bool, default True
        Refuse a 4-D layout under which the maps are not square while the other 4-D layout
        reads them as square maps: ``NHWC`` given for ``(N, 320, 7, 7)`` NCHW data would run for
        minutes on 2,240 positions of 7 channels.

    Returns
    -------
    ndarray, shape (N, S, C), float64, C-contiguous
        S = H·W or T positions, each a C-dimensional vector.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {LAYOUTS}, got {layout!r}")
    a = np.asarray(x)
    if np.iscomplexobj(a) or not (np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.bool_)):
        raise ValueError(f"{name}: expected real numbers, got dtype {a.dtype}")
    want = 3 if layout == "NTD" else 4
    if a.ndim != want:
        raise ValueError(f"{name}: layout {layout} expects a {want}-D array, got shape {a.shape}; "
                         "(N, C, H, W) maps are 'NCHW', (N, H, W, C) 'NHWC', (N, T, D) token sequences 'NTD'")
    if layout != "NTD" and check_layout:
        other = "NHWC" if layout == "NCHW" else "NCHW"
        (h, w, c), (h2, w2, c2) = ((a.shape[2], a.shape[3], a.shape[1]), (a.shape[1], a.shape[2], a.shape[3]))
        if layout == "NHWC":
            (h, w, c), (h2, w2, c2) = (h2, w2, c2), (h, w, c)
        if h != w and h2 == w2:
            raise ValueError(f"{name}: read as {layout}, shape {a.shape} gives {h} x {w} positions of {c} channels, "
                             f"but as {other} square {h2} x {w2} maps of {c2} channels; pass layout='{other}' "
                             f"(command line: --layout {other}), or check_layout=False (--force) if {layout} is right")
    if layout == "NCHW":
        n, c, h, w = a.shape
        a = a.reshape(n, c, h * w).transpose(0, 2, 1)
    elif layout == "NHWC":
        n, h, w, c = a.shape
        a = a.reshape(n, h * w, c)
    a = np.ascontiguousarray(a, dtype=np.float64)
    if min(a.shape) == 0:
        raise ValueError(f"{name}: has an empty axis, shape {a.shape}")
    if not np.isfinite(a).all():
        bad = int(np.flatnonzero(~np.isfinite(a).reshape(len(a), -1).all(axis=1))[0])
        raise ValueError(f"{name}: contains NaN/inf (first bad sample {bad}); drop or impute those samples first")
    return a


@dataclass(frozen=True)
class RSMResult(Result):
    """A representational similarity matrix and how it was made.

    Attributes
    ----------
    matrix : ndarray, shape (N_x, N_y)
        Kernel values.
    inner : ndarray, shape (N_x, N_y)
        The matched inner products ``G`` every kernel derives from.
    kernel : str
    invariance : {"none", "permutation"}
    matcher : str
        ``optimal``, ``greedy``, ``topk-greedy:K``, ``batch-optimal:W``, ``auction:TOL``
        (``none`` for spatio-semantic RSMs).
    backend : str
    sigma : float or None
        The RBF bandwidth.
    symmetric : bool
        Square RSM of one set with itself.
    seconds : float
    """

    kind: ClassVar[str] = "rsm"

    matrix: np.ndarray = field(repr=False)
    inner: np.ndarray = field(repr=False)
    kernel: str
    invariance: str
    matcher: str
    backend: str
    sigma: float | None
    symmetric: bool
    seconds: float

    def plot(self, ax=None, *, title: str | None = None, max_side: int = 400):
        """The RSM as an image with a colour bar (:func:`repalign.plotting.matrix_heatmap`);
        needs matplotlib.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Draw into these axes (default: a new figure).
        title : str, optional
            Default: the kernel and the invariance.
        max_side : int
            Larger RSMs are drawn with every k-th row and column (default 400).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from ..plotting import matrix_heatmap  # noqa: PLC0415 - plotting imports rsm users and scikit-learn

        if title is None:
            title = f"{self.kernel} RSM ({'semantic' if self.invariance == 'permutation' else 'spatio-semantic'})"
        return matrix_heatmap(self.matrix, title=title, max_side=max_side, ax=ax)

    def to_pandas(self, labels_x=None, labels_y=None):
        """The RSM as a DataFrame: rows = samples of X, columns = samples of Y; needs pandas.

        Parameters
        ----------
        labels_x, labels_y : sequence, optional
            Row and column labels (length N_x and N_y; default 0..N-1). For a symmetric RSM
            ``labels_y`` defaults to ``labels_x``.

        Returns
        -------
        pandas.DataFrame, shape (N_x, N_y)
        """
        pd = optional("pandas")
        nx, ny = self.matrix.shape
        if labels_y is None and self.symmetric:
            labels_y = labels_x
        for name, lab, size in (("labels_x", labels_x, nx), ("labels_y", labels_y, ny)):
            if lab is not None and len(lab) != size:
                raise ValueError(f"{name}: expected {size} labels, one per sample, got {len(lab)}")
        return pd.DataFrame(self.matrix, index=pd.Index(range(nx) if labels_x is None else list(labels_x), name="x"),
                            columns=pd.Index(range(ny) if labels_y is None else list(labels_y), name="y"))

    def to_dict(self) -> dict:
        """Settings and shape (the matrices go to ``.npy`` files, not JSON)."""
        return {"kind": self.kind, "shape": list(self.matrix.shape), "kernel": self.kernel, "invariance": self.invariance,
                "matcher": self.matcher, "backend": self.backend, "sigma": self.sigma, "symmetric": self.symmetric,
                "seconds": self.seconds}


def rsm_kernel(G: np.ndarray, na: np.ndarray, nb: np.ndarray, kernel: str, symmetric: bool):
    """Kernel values from matched inner products and the vectors' norms (module docstring).

    Parameters
    ----------
    G : ndarray, shape (N_x, N_y)
    na, nb : ndarray, shape (N_x,) and (N_y,)
        ``‖x_i‖`` and ``‖y_j‖`` (Frobenius norms of the samples).
    kernel : {"inner", "cosine", "rbf"}
    symmetric : bool
        Square RSM of one set (the bandwidth then uses the off-diagonal entries).

    Returns
    -------
    K : ndarray, shape (N_x, N_y)
    sigma : float or None
    """
    kernel = resolve_kernel(kernel, RSM_KERNELS)
    if kernel == "inner":
        return G.copy(), None
    if kernel == "cosine":
        if np.any(na == 0) or np.any(nb == 0):
            raise ValueError("x: a sample is all zeros, so its cosine similarity is undefined; use kernel='inner'")
        return G / np.outer(na, nb), None
    D = sq_distances_from_inner(G, na**2, nb**2)
    try:  # the median rule of repalign.kernels, over the off-diagonal pairs when square
        sigma = median_bandwidth(D[np.triu_indices(len(D), 1)] if symmetric else D)
    except ValueError:
        raise ValueError("x: all distances between samples are zero; the rbf bandwidth is undefined") from None
    return np.exp(-D / (2 * sigma**2)), sigma


# ---------------------------------------------------------------------------------- the blocks


def _block_size(S: int, C: int) -> int:
    per_pair = 8 * S * S
    return int(max(1, min(256, np.sqrt(_BLOCK_BYTES / per_pair))))


def _affinities(Xi: np.ndarray, Yj: np.ndarray, upper: bool, buffer=np.empty):
    """The affinity matrices ``Xi[a] @ Yj[c]ᵀ`` (S, S) of a block's pairs, stacked, with the pairs
    ``(a, c)``: every pair, or with ``upper`` (a diagonal block of a square RSM) those with
    a < c only. One GEMM per c over the a's (a contiguous run), straight into the stack: no
    affinity of a pair that is not needed, no gather; except for an off-diagonal block with
    C > 4 S, where one block GEMM and a copy are faster (``benchmarks/bench_rsm.py``'s S = 49,
    C = 1280: 0.6 vs 1.2 s per block; at C <= 2.6 S the GEMMs per c were as fast or faster).
    ``buffer(size)`` gives the stack's memory (default a new array; :class:`_Job` reuses one
    per thread).

    Returns ``(M (k, S, S), a (k,), c (k,))``: ``M[t] = Xi[a[t]] @ Yj[c[t]]ᵀ``."""
    bi, S, C = Xi.shape
    bj = Yj.shape[0]
    if not upper and C > 4 * S:
        # compute-bound products (many channels, few positions): one large GEMM, then a transposed
        # copy; a GEMM per image has only S columns and ran at half speed (S = 49, C = 1280)
        M = buffer(bi * bj * S * S).reshape(bi, bj, S, S)
        np.copyto(M, (Xi.reshape(bi * S, C) @ Yj.reshape(bj * S, C).T).reshape(bi, S, bj, S).transpose(0, 2, 1, 3))
        return M.reshape(bi * bj, S, S), np.repeat(np.arange(bi), bj), np.tile(np.arange(bj), bi)
    runs = [(min(c, bi) if upper else bi, c) for c in range(bj)]
    k = sum(r for r, _ in runs)
    M = buffer(k * S * S).reshape(k, S, S)
    a = np.empty(k, np.int64)
    cs = np.empty(k, np.int64)
    t = 0
    for r, c in runs:
        if r:
            np.matmul(Xi[:r].reshape(r * S, C), Yj[c].T, out=M[t:t + r].reshape(r * S, S))
            a[t:t + r] = np.arange(r)
            cs[t:t + r] = c
            t += r
    return M, a, cs


def rsm_backend(backend: str) -> str:
    """The exact solver a semantic RSM uses for ``backend``: ``auto`` is ``auction-jv`` at every
    S. Affinities of concept vectors are low-rank products (rank <= C), where the auction's
    prices settle most of the problem: on EfficientNet-Lite0 maps it beat scipy 1.5-2x (S = 49),
    2.9-3.3x (196), 6-8x (784) and ~13x (3136; OR-Tools 3.3x), one thread, ``benchmarks/bench_rsm.py``.
    (On integer costs with many ties it can be slower than scipy; :func:`repalign.assignment.solve`'s
    own ``auto`` does not pick it.)"""
    if backend not in BACKENDS:
        raise ValueError(f"backend: unknown {backend!r}; choose one of {', '.join(BACKENDS)}")
    return "auction-jv" if backend == "auto" else backend


def _pairs_values(M, na_rows, nb_rows, name, k, backend):
    """Matched inner products of a list of affinity matrices (k, S, S)."""
    if name == "optimal":
        backend = rsm_backend(backend)
        if backend in ("lapjv", "auction-jv"):
            return max_inner_batch(M, backend)
    if name == "auction":
        return auction_batch(M, k)
    out = np.empty(len(M))
    for t in range(len(M)):
        if name == "optimal":
            out[t] = solve(M[t], maximize=True, backend=backend)[1]
        else:
            out[t] = approximate(M[t], na_rows[t], nb_rows[t], name, k, backend)[1]
    return out


class _Job:
    """Everything a block needs; a module-level object so forked workers inherit it."""

    def __init__(self, X, Y, symmetric, name, k, backend, b):
        X, Y = np.ascontiguousarray(X), (X if Y is X else np.ascontiguousarray(Y))
        self.X, self.Y, self.symmetric, self.name, self.k, self.backend, self.b = X, Y, symmetric, name, k, backend, b
        self.vx = np.linalg.norm(X, axis=2)  # (N, S) vector norms, for the approximations
        self.vy = self.vx if symmetric else np.linalg.norm(Y, axis=2)
        self._buffers = {}  # thread id -> affinity stack reused from block to block (fresh ~100 MB
        # arrays cost their page faults every block); freed with the job

    def __getstate__(self):  # Dask ships the job to its workers: without the buffers
        return {**self.__dict__, "_buffers": {}}

    def _buffer(self, size: int) -> np.ndarray:
        key = threading.get_ident()  # blocks may run in several threads (Dask workers)
        buf = self._buffers.get(key)
        if buf is None or buf.size < size:
            buf = self._buffers[key] = np.empty(size)
        return buf[:size]

    def blocks(self):
        nx, ny = len(self.X), len(self.Y)
        for i0 in range(0, nx, self.b):
            for j0 in range(i0 if self.symmetric else 0, ny, self.b):
                yield i0, j0

    def run(self, i0, j0):
        """Matched inner products of block (i0, j0): (bi, bj), NaN where not computed."""
        Xi, Yj = self.X[i0:i0 + self.b], self.Y[j0:j0 + self.b]
        bi, bj = len(Xi), len(Yj)
        out = np.full((bi, bj), np.nan)
        if self.name == "none":
            out[:] = np.einsum("isc,jsc->ij", Xi, Yj)
            return out
        M, a, c = _affinities(Xi, Yj, self.symmetric and i0 == j0, self._buffer)
        if len(a):
            out[a, c] = _pairs_values(M, self.vx[i0 + a], self.vy[j0 + c], self.name, self.k, self.backend)
        return out


_JOB = None


def _run_block(args):
    return args, _JOB.run(*args)


def _fingerprint(X, Y, settings) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for A in (X, Y):
        h.update(str(A.shape).encode())
        h.update(np.ascontiguousarray(A).view(np.uint8).data)
    return h.hexdigest()


_CHECKPOINT_FORMAT = "repalign-rsm-checkpoint-1"


def _load_checkpoint(path: Path, key: str, shape, overwrite: bool = False):
    """``(G, done)`` to resume from, or None to start afresh; refuses to take over a file that is
    not a checkpoint of this computation (user arrays, another run's checkpoint) unless
    ``overwrite``. A damaged checkpoint is recomputed with a warning."""
    if path.suffix.lower() != ".npz":
        raise ValueError(f"checkpoint: {path} is not a .npz file; name a new .npz file for the checkpoint")
    if not path.exists():
        return None
    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            files = set(z.files)
            ours = "format" in files and str(z["format"]) == _CHECKPOINT_FORMAT
            if ours and str(z["key"]) == key and tuple(z["G"].shape) == tuple(shape):
                return z["G"].copy(), z["done"].copy()
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # damaged: recompute, never trust
        warn(f"checkpoint: {path} cannot be read ({type(exc).__name__}); recomputing and overwriting it")
        return None
    if overwrite:
        return None
    what = "a checkpoint of other inputs or settings" if ours else f"not a repalign checkpoint (it holds {', '.join(sorted(files))})"
    raise ValueError(f"checkpoint: {path} is {what}; name another file, or pass force=True (command line: --force) "
                     "to overwrite it")


def _save_checkpoint(path: Path, key: str, G, done):
    with atomic_write(path, force=True) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, format=np.array(_CHECKPOINT_FORMAT), key=np.array(key), G=G, done=done)


def _job_block(blk, job):
    return blk, job.run(*blk)


def _inner_products(X, Y, symmetric, matcher, backend, n_jobs, checkpoint, progress, desc, scheduler=None,
                    force: bool = False):
    name, k = parse_matcher(matcher)
    if backend not in BACKENDS:
        raise ValueError(f"backend: unknown {backend!r}; choose one of {', '.join(BACKENDS)}")
    S, C = X.shape[1], X.shape[2]
    b = _block_size(S, C)
    job = _Job(X, Y, symmetric, name, k, backend, b)
    nx, ny = len(X), len(Y)
    G = np.full((nx, ny), np.nan)
    blocks = list(job.blocks())
    done = np.zeros(len(blocks), dtype=bool)
    key = None
    ck = Path(checkpoint) if checkpoint else None
    if ck is not None:
        key = _fingerprint(X, Y, {"matcher": matcher, "backend": backend, "symmetric": symmetric})
        got = _load_checkpoint(ck, key, G.shape, overwrite=force)
        if got is not None and len(got[1]) == len(blocks):
            G, done = got
    todo = [blk for blk, d in zip(blocks, done, strict=True) if not d]
    index = {blk: t for t, blk in enumerate(blocks)}
    last_save = time.perf_counter()

    def store(blk, vals):
        nonlocal last_save
        i0, j0 = blk
        G[i0:i0 + vals.shape[0], j0:j0 + vals.shape[1]] = np.where(np.isnan(vals), G[i0:i0 + vals.shape[0],
                                                                                    j0:j0 + vals.shape[1]], vals)
        done[index[blk]] = True
        if ck is not None and time.perf_counter() - last_save > 30:
            _save_checkpoint(ck, key, G, done)
            last_save = time.perf_counter()

    try:
        if scheduler is not None and todo:
            with client_for(scheduler) as client:
                if client is None:
                    for blk in track(todo, desc, total=len(todo), enabled=progress, unit="block"):
                        store(blk, job.run(*blk))
                else:
                    from distributed import as_completed  # optional dependency

                    shared = client.scatter(job, broadcast=True)
                    futures = client.map(_job_block, todo, job=shared)
                    for fut in track(as_completed(futures), desc, total=len(todo), enabled=progress, unit="block"):
                        store(*fut.result())
        elif n_jobs > 1 and len(todo) > 1 and "fork" in mp.get_all_start_methods() and "torch" not in sys.modules:
            global _JOB
            _JOB = job
            try:
                with threadpool_limits(1), mp.get_context("fork").Pool(n_jobs, initializer=_one_numba_thread) as pool:
                    for blk, vals in track(pool.imap_unordered(_run_block, todo), desc, total=len(todo),
                                           enabled=progress, unit="block"):
                        store(blk, vals)
            finally:
                _JOB = None
        else:
            for blk in track(todo, desc, total=len(todo), enabled=progress, unit="block"):
                store(blk, job.run(*blk))
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C / SIGTERM: keep what is done
        if ck is not None:
            _save_checkpoint(ck, key, G, done)
        raise
    if ck is not None:
        _save_checkpoint(ck, key, G, done)
    if symmetric:
        iu = np.triu_indices(nx, 1)
        G[(iu[1], iu[0])] = G[iu]
        np.fill_diagonal(G, np.einsum("isc,isc->i", X, X))
    return G


def _one_numba_thread():  # pragma: no cover - runs in forked workers

    numba.set_num_threads(1)


# ---------------------------------------------------------------------------------- API


def _prepare(x, y, layout, center, check_layout=True):
    X = as_concept_sets(x, layout, "x", check_layout)
    Y = None if y is None else as_concept_sets(y, layout, "y", check_layout)
    if Y is not None and X.shape[1:] != Y.shape[1:]:
        which = "spatial size" if X.shape[1] != Y.shape[1] else "channels"
        raise ValueError(f"y: its {which} differ from x's (x: {X.shape[1]} positions x {X.shape[2]} channels, "
                         f"y: {Y.shape[1]} x {Y.shape[2]}); both must come from the same layer")
    if center:
        # One mean per channel, over samples *and* positions: subtracting it commutes with any
        # spatial permutation of a sample, so semantic RSMs keep their invariance. (A mean per
        # position over samples would depend on where things are.)
        mu = (X.mean(axis=(0, 1)) if Y is None else (X.sum(axis=(0, 1)) + Y.sum(axis=(0, 1))) /
              ((len(X) + len(Y)) * X.shape[1]))
        X = X - mu
        Y = None if Y is None else Y - mu
    return X, Y


def semantic_rsm(x, y=None, *, kernel: str = "cosine", matcher: str = "optimal", backend: str = "auto",
                 layout: str = "NCHW", center: bool = False, n_jobs: int = 1, checkpoint=None,
                 force: bool = False, check_layout: bool = True, scheduler=None, progress: bool = False) -> RSMResult:
    """The semantic RSM: similarity invariant to spatial permutation (wald2024 Eq. 4-5).

    Parameters
    ----------
    x : array
        Spatial representations, ``layout``; N_x samples.
    y : array, optional
        A second set (database) of the same layer: the RSM is then rectangular (N_x, N_y);
        default the square RSM of ``x`` with itself.
    kernel : {"inner", "cosine", "rbf"}
        Module docstring.
    matcher : str
        ``optimal`` (exact), ``greedy``, ``topk-greedy:K``, ``batch-optimal:W`` (wald2024 App. F),
        or ``auction:TOL`` (not in the paper: every matched inner product certified within a
        relative TOL of its optimum, e.g. ``auction:0.01``; :func:`repalign.assignment.auction`).
    backend : {"auto", "auction-jv", "lapjv", "scipy", "lap", "ortools"}
        Exact assignment solver (:mod:`repalign.assignment`). ``auto`` (default) is
        ``auction-jv`` (:func:`rsm_backend`: the auction's prices, then Jonker–Volgenant; every
        value certified by its dual bound), a block's assignments in one compiled parallel loop,
        as ``lapjv``'s; the others solve pair by pair.
    layout : {"NCHW", "NHWC", "NTD"}
    center : bool
        Subtract each channel's mean over all samples and positions first. This keeps the
        invariance to spatial permutations, which a per-position mean over samples would break.
    n_jobs : int
        Processes over blocks of sample pairs.
    checkpoint : path, optional
        ``.npz`` file saved every 30 s, on Ctrl-C / SIGTERM and at the end; a rerun with the same
        inputs and settings resumes from it. An existing file that is not a checkpoint of this
        computation is refused (``force``); a damaged checkpoint is recomputed with a warning.
    force : bool, default False
        Overwrite a ``checkpoint`` file that belongs to something else.
    check_layout : bool, default True
        See :func:`as_concept_sets`.
    scheduler : None, str or distributed.Client
        Blocks of sample pairs as Dask tasks (:mod:`repalign.distributed`); the same matrix.
    progress : bool

    Returns
    -------
    RSMResult

    References
    ----------
    wald2024 (arXiv:2410.23107), Eq. 4-5, App. A and F.
    """
    t0 = time.perf_counter()
    kernel = resolve_kernel(kernel, RSM_KERNELS)
    parse_matcher(matcher)
    n_jobs = check_positive_int(n_jobs, "n_jobs")
    X, Y = _prepare(x, y, layout, center, check_layout)
    symmetric = Y is None
    G = _inner_products(X, X if symmetric else Y, symmetric, matcher, backend, n_jobs, checkpoint, progress,
                        "semantic RSM", scheduler, force=force)
    na = np.sqrt(np.einsum("isc,isc->i", X, X))
    nb = na if symmetric else np.sqrt(np.einsum("isc,isc->i", Y, Y))
    K, sigma = rsm_kernel(G, na, nb, kernel, symmetric)
    inv = "none" if parse_matcher(matcher)[0] == "none" else "permutation"
    return RSMResult(K, G, kernel, inv, matcher, backend, sigma, symmetric, time.perf_counter() - t0)


def spatial_rsm(x, y=None, *, kernel: str = "cosine", layout: str = "NCHW", center: bool = False,
                check_layout: bool = True) -> RSMResult:
    """The spatio-semantic RSM: positions compared as they are (wald2024 Eq. 3).

    Parameters
    ----------
    x, y, kernel, layout, center, check_layout
        As in :func:`semantic_rsm`.

    Returns
    -------
    RSMResult

    References
    ----------
    wald2024 (arXiv:2410.23107), Eq. 3.
    """
    t0 = time.perf_counter()
    kernel = resolve_kernel(kernel, RSM_KERNELS)
    X, Y = _prepare(x, y, layout, center, check_layout)
    symmetric = Y is None
    Yv = X if symmetric else Y
    G = X.reshape(len(X), -1) @ np.ascontiguousarray(Yv.reshape(len(Yv), -1).T)
    na = np.sqrt(np.einsum("isc,isc->i", X, X))
    nb = na if symmetric else np.sqrt(np.einsum("isc,isc->i", Yv, Yv))
    K, sigma = rsm_kernel(G, na, nb, kernel, symmetric)
    return RSMResult(K, G, kernel, "none", "none", "-", sigma, symmetric, time.perf_counter() - t0)

