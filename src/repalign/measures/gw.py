"""Gromov–Wasserstein discrepancy between two embedding sets (POT's solver).

schnaus2025 uses GW with Euclidean distance matrices as a matching objective. Here
``C_X[i, j] = ‖x_i - x_j‖`` divided by its mean over i≠j (so the value is invariant to
isotropic scaling of either space) and the square loss:

    GW(C_X, C_Y) = min_{T ∈ Π(p, q)} Σ_{ijkl} (C_X[i,k] - C_Y[j,l])² T_ij T_kl

with uniform marginals. Smaller is more similar; 0 iff the metric spaces are isometric up to the
normalisation. The optimised discrepancy does not depend on the row pairing at all, so for
paired data the measure used in the registry (``"gw"``, schnaus2025's "Is matched data more
similar?") is the GW objective of the *ground-truth* coupling ``T = I/n``::

    GW_paired = Σ_ik (C_X[i,k] - C_Y[i,k])² / n²

which grows as pairs are shuffled. :func:`gromov_wasserstein` reports both, plus the mass the
optimised plan puts on the diagonal (how much of the pairing it recovers).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .._result import Result
from .._validate import as_embeddings, check_pair
from ..kernels import normalized_distances

__all__ = ["GWResult", "gromov_wasserstein", "gw_paired", "normalized_distances", "import_pot"]


def import_pot():
    """Import POT without letting it load torch/jax/tensorflow backends (seconds, and torch's
    OpenMP threads slow numpy's BLAS) unless the caller already imported them."""
    for key, mod in (("POT_BACKEND_DISABLE_PYTORCH", "torch"), ("POT_BACKEND_DISABLE_JAX", "jax"),
                     ("POT_BACKEND_DISABLE_TENSORFLOW", "tensorflow"), ("POT_BACKEND_DISABLE_CUPY", "cupy")):
        if mod not in sys.modules:
            os.environ.setdefault(key, "1")
    import ot

    return ot


def gw_paired(X, Y) -> float:
    """GW objective of the identity coupling between row-paired embeddings.

    ``Σ_ik (C_X[i,k] - C_Y[i,k])² / n²`` with mean-normalised Euclidean distance matrices (module
    docstring): 0 for isometric spaces, grows as pairs are shuffled.

    Parameters
    ----------
    X, Y : array, shape (n, dx) and (n, dy)

    Returns
    -------
    float
        Lower = more similar.

    References
    ----------
    schnaus2025 (Schnaus et al., "It's a (Blind) Match!", CVPR 2025, arXiv:2503.24129).
    """
    X, Y = check_pair(X, Y, min_samples=2, rescale=True)  # mean-normalised distances: scale-invariant
    CX, CY = normalized_distances(X, "X"), normalized_distances(Y, "Y")
    n = CX.shape[0]
    return float(((CX - CY) ** 2).sum() / n**2)


@dataclass(frozen=True)
class GWResult(Result):
    """Result of :func:`gromov_wasserstein`.

    Attributes
    ----------
    distance : float
        The optimised GW discrepancy.
    plan : ndarray, shape (n, m)
        The coupling.
    identity_cost : float
        GW objective of the identity coupling (NaN when n != m).
    diagonal_mass : float
        Mass the plan puts on the diagonal (how much of the pairing it recovers).
    converged : bool
    iterations : int
    """

    kind: ClassVar[str] = "gw"

    distance: float
    plan: np.ndarray = field(repr=False)
    identity_cost: float
    diagonal_mass: float
    converged: bool
    iterations: int = 0

    def to_dict(self) -> dict:
        return {"kind": self.kind,
            "distance": self.distance,
            "identity_cost": self.identity_cost,
            "diagonal_mass": self.diagonal_mass,
            "converged": self.converged,
            "iterations": self.iterations,
            "n": int(self.plan.shape[0]),
        }


def gromov_wasserstein(X, Y, *, paired: bool = True, max_iter: int = 10000, tol: float = 1e-9,
                       init: str = "auto") -> GWResult:
    """Square-loss GW discrepancy between two embedding sets (POT's solver).

    Parameters
    ----------
    X : array, shape (n, dx)
    Y : array, shape (m, dy)
    paired : bool
        If True (default) rows must correspond (n == m) and ``identity_cost`` / ``diagonal_mass``
        describe the ground-truth coupling. With False, n and m may differ.
    max_iter : int
        Solver iterations (default 10000).
    tol : float
        Relative and absolute tolerance (default 1e-9).
    init : {"auto", "product", "identity"}
        Start from the independent coupling ``p qᵀ`` or from the identity coupling (needs
        n == m; then ``distance <= identity_cost`` since the solver only descends). ``auto``:
        identity when ``paired``, else product.

    Returns
    -------
    GWResult

    References
    ----------
    Mémoli, "Gromov–Wasserstein distances and the metric approach to object matching", Found.
    Comput. Math. 11 (2011), doi:10.1007/s10208-011-9093-5; Flamary et al., "POT: Python Optimal
    Transport", JMLR 22 (2021); schnaus2025 (arXiv:2503.24129).
    """
    ot = import_pot()
    if paired:
        X, Y = check_pair(X, Y, min_samples=2)
    else:
        X = as_embeddings(X, "X", min_samples=2)
        Y = as_embeddings(Y, "Y", min_samples=2)
    CX, CY = normalized_distances(X, "X"), normalized_distances(Y, "Y")
    n, m = CX.shape[0], CY.shape[0]
    p, q = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
    G0 = None
    if init == "auto":
        init = "identity" if paired and n == m else "product"
    if init == "identity":
        if n != m:
            raise ValueError("init: 'identity' needs the same number of rows in X and Y")
        G0 = np.eye(n) / n
    elif init != "product":
        raise ValueError(f"init: expected 'product' or 'identity', got {init!r}")
    T, log = ot.gromov.gromov_wasserstein(CX, CY, p, q, loss_fun="square_loss", log=True, G0=G0,
                                          max_iter=max_iter, tol_rel=tol, tol_abs=tol)
    dist = float(log["gw_dist"])
    ident = float("nan")
    diag = float("nan")
    if n == m:
        # Σ_ik (C_X[i,k] - C_Y[i,k])² / n²: the GW cost of the identity coupling
        ident = float(((CX - CY) ** 2).sum() / n**2)
        diag = float(np.trace(T))
    n_iter = len(log.get("loss", []))
    return GWResult(dist, T, ident, diag, bool(n_iter < max_iter), n_iter)
