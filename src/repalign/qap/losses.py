"""Losses and kernels for matching by QAP (schnaus2025 Eq. 1).

A loss ``l(x, y) = f1(x) + f2(y) - h1(x) h2(y)`` between an entry of the similarity matrix of
one space and one of the other; :func:`problem_from_kernels` turns any such loss over two
(n, n) matrices into a :class:`QAPProblem` that every solver accepts.

* ``"squared"``: ``(x - y)²`` (Gromov-Wasserstein with distance kernels), minimised.
* ``"inner"``: ``-x y`` (CKA with centred-normalised kernels, mutual k-NN with k-NN
  adjacency), i.e. maximise ``⟨X, P Y Pᵀ⟩``.

Kernels from embeddings (rows = items): :func:`distance_kernel` (Euclidean, GW),
:func:`cka_kernel` (``HKH / ‖HKH‖_F``), :func:`knn_kernel` (k-NN adjacency) and
:func:`standardize_offdiagonal`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._validate import as_embeddings, check_positive_int
from ..kernels import (
    cosine_normalize,
    linear_gram,
    normalized_distances,
    normalized_kernel,
    squared_distances,
)
from ..measures.knn import knn_mask
from .problem import QAPProblem

__all__ = ["Loss", "LOSSES", "problem_from_kernels", "distance_kernel", "cka_kernel", "knn_kernel",
           "standardize_offdiagonal", "KERNEL_BUILDERS", "MATCHING_MEASURES", "matching_problem",
           "measure_kernels", "canonical_measure"]


@dataclass(frozen=True)
class Loss:
    """A factorised loss ``l(x, y) = f1(x) + f2(y) - h1(x) h2(y)`` (vectorised callables).

    Attributes
    ----------
    name : str
    f1, f2, h1, h2 : callable

    References
    ----------
    schnaus2025 (arXiv:2503.24129), Eq. 1 and its factorised losses.
    """

    name: str
    f1: Callable
    f2: Callable
    h1: Callable
    h2: Callable

    def __call__(self, x, y):
        return self.f1(x) + self.f2(y) - self.h1(x) * self.h2(y)


LOSSES = {
    "squared": Loss("squared", np.square, np.square, lambda x: 2.0 * x, lambda y: y),
    "inner": Loss("inner", np.zeros_like, np.zeros_like, lambda x: x, lambda y: y),
}


def problem_from_kernels(X, Y, loss="squared", name: str = "") -> QAPProblem:
    """``Σ_ik l(X_ik, Y_p(i)p(k))`` as a minimisation :class:`QAPProblem` (module docstring).

    Parameters
    ----------
    X, Y : ndarray, shape (n, n)
        Similarity or distance matrices of the two spaces, rows in any order.
    loss : {"squared", "inner"} or Loss
    name : str

    Returns
    -------
    QAPProblem

    References
    ----------
    schnaus2025 (arXiv:2503.24129), Eq. 1.
    """
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"loss: expected one of {sorted(LOSSES)} or a Loss, got {loss!r}")
        loss = LOSSES[loss]
    probe = QAPProblem(X, Y)  # validates shapes and finiteness
    X, Y = probe.A, probe.B
    const = float(loss.f1(X).sum() + loss.f2(Y).sum())
    return QAPProblem(-loss.h1(X), loss.h2(Y), constant=const, maximize=False, name=name)


def distance_kernel(X, scale: str | None = "mean") -> np.ndarray:
    """Euclidean distance matrix of the rows, mean-normalised by default.

    Parameters
    ----------
    X : array, shape (n, d)
    scale : {"mean", None}
        ``mean`` divides by the mean off-diagonal distance (:func:`repalign.kernels.normalized_distances`)
        so that two spaces are comparable; None keeps raw distances.

    Returns
    -------
    ndarray, shape (n, n)
        Exactly symmetric (:func:`_symmetric`).
    """
    X = as_embeddings(X, "X")
    if scale == "mean":
        return _symmetric(normalized_distances(X, "X"))
    if scale is not None and scale != "none":
        raise ValueError(f"scale: expected 'mean' or None, got {scale!r}")
    return _symmetric(np.sqrt(squared_distances(X)))


def _symmetric(K: np.ndarray) -> np.ndarray:
    """``(K + Kᵀ) / 2``: a kernel that is symmetric in exact arithmetic but not bit for bit
    (a BLAS Gram product rounds ``K_ij`` and ``K_ji`` differently, ~1e-16) made exactly so, which
    lets the tabu search take its symmetric fast path (:mod:`repalign.qap._jit`)."""
    K = K + K.T
    K *= 0.5
    return K


def cka_kernel(X) -> np.ndarray:
    """``HKH / ‖HKH‖_F`` for the linear kernel ``K = X Xᵀ``.

    ``⟨cka_kernel(X), cka_kernel(Y)⟩`` is linear CKA.

    Parameters
    ----------
    X : array, shape (n, d)

    Returns
    -------
    ndarray, shape (n, n)
        Exactly symmetric (:func:`_symmetric`).

    References
    ----------
    maniparambil2024 (arXiv:2401.05224), after Eq. 4.
    """
    return _symmetric(normalized_kernel(as_embeddings(X, "X"), "cka"))


def knn_kernel(X, k: int = 3) -> np.ndarray:
    """0/1 k-NN adjacency by cosine similarity (row i marks its k nearest other rows).

    ``⟨knn_kernel(X), P knn_kernel(Y) Pᵀ⟩ / (n k)`` is the mutual k-NN alignment.

    Parameters
    ----------
    X : array, shape (n, d)
    k : int
        Neighbours, < n (default 3).

    Returns
    -------
    ndarray, shape (n, n)

    References
    ----------
    schnaus2025 (arXiv:2503.24129); Huh et al., arXiv:2405.07987.
    """
    X = as_embeddings(X, "X")
    check_positive_int(k, "k")
    if k >= len(X):
        raise ValueError(f"k: must be < n = {len(X)} (each row has n - 1 other rows), got {k}")
    return knn_mask(linear_gram(cosine_normalize(X, "X")), k).astype(float)


def standardize_offdiagonal(K) -> np.ndarray:
    """Subtract the mean and divide by the std of the off-diagonal entries; diagonal set to 0.

    Parameters
    ----------
    K : array, shape (n, n)

    Returns
    -------
    ndarray, shape (n, n)
    """
    K = np.array(K, dtype=float)
    n = len(K)
    off = ~np.eye(n, dtype=bool)
    sd = K[off].std()
    if not np.isfinite(sd) or sd == 0:
        raise ValueError("K: off-diagonal entries have zero variance; cannot standardise")
    K = (K - K[off].mean()) / sd
    K[~off] = 0.0
    return K


KERNEL_BUILDERS = {"distance": distance_kernel, "cka": cka_kernel, "knn": knn_kernel}
#: measure -> (kernel, loss): the blind-matching objectives of schnaus2025, named as in the
#: measure registry (``repalign list measures``), so ``evaluate`` and ``blind_match`` share names.
MATCHING_MEASURES = {"gw": ("distance", "squared"), "cka-linear": ("cka", "inner"), "mutual-knn": ("knn", "inner")}


def canonical_measure(name: str) -> str:
    """The registry name of a matching measure: one of :data:`MATCHING_MEASURES`."""
    if name not in MATCHING_MEASURES:
        raise ValueError(f"measure: expected one of {', '.join(MATCHING_MEASURES)}, got {name!r}")
    return name


def measure_kernels(X, Y, measure: str = "gw", *, k: int = 3, standardize: bool = False):
    """``(KX, KY, loss)``: the two kernels and the loss name of ``measure`` (see
    :data:`MATCHING_MEASURES`) for ``X`` (n, d1) and ``Y`` (n, d2) with the same n;
    ``standardize`` applies off-diagonal standardisation to both kernels."""
    measure = canonical_measure(measure)
    X, Y = as_embeddings(X, "X"), as_embeddings(Y, "Y")
    if len(X) != len(Y):
        raise ValueError(f"X, Y: need the same number of rows to be matched, got {len(X)} and {len(Y)}")
    kname, loss = MATCHING_MEASURES[measure]
    kern = KERNEL_BUILDERS[kname]
    KX, KY = (kern(X, k=k), kern(Y, k=k)) if kname == "knn" else (kern(X), kern(Y))
    if standardize:
        KX, KY = standardize_offdiagonal(KX), standardize_offdiagonal(KY)
    return KX, KY, loss




def matching_problem(X, Y, measure: str = "gw", *, k: int = 3, standardize: bool = False) -> QAPProblem:
    """The QAP matching rows of ``X`` (n, d1) to rows of ``Y`` (n, d2) (schnaus2025 Eq. 1).

    Parameters
    ----------
    X, Y : array, shape (n, d1) and (n, d2)
    measure : {"gw", "cka-linear", "mutual-knn"}
        The objective: a key of :data:`MATCHING_MEASURES`.
    k : int
        Neighbours for ``mutual-knn``.
    standardize : bool
        Off-diagonal standardisation of both kernels.

    Returns
    -------
    QAPProblem
        Minimisation form.

    References
    ----------
    schnaus2025 (arXiv:2503.24129), Eq. 1.
    """
    KX, KY, loss = measure_kernels(X, Y, measure, k=k, standardize=standardize)
    return problem_from_kernels(KX, KY, loss, name=canonical_measure(measure))
