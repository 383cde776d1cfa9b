"""Matchers with the estimator protocol: ``fit(Zb, Hb)`` on the aligned base set, then
``score(Zq, Hq)`` → (N'_z, N'_h) scores (larger = better) and ``match(Zq, Hq)`` → for each
query row of ``Zq`` the index of its partner in ``Hq``.

They are scikit-learn estimators (``BaseEstimator``): ``get_params`` / ``set_params``,
``sklearn.base.clone``, a readable repr; ``__init__`` only stores the parameters, ``fit``
validates them, and fitted state ends in ``_``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from .._validate import check_pair
from ..kernels import NORMALIZED_KERNELS, normalized_kernel, resolve_sigma
from ..qap import QAPResult, seeded_qap
from .baselines import LinearMap, cosine_scores, relative_scores
from .local import LocalCKABase, local_cka
from .metrics import assign

__all__ = ["Matcher", "LocalCKAMatcher", "LinearMatcher", "RelativeMatcher", "CosineMatcher", "QAPMatcher",
           "MATCHERS", "make_matcher", "normalized_kernel"]


class Matcher(BaseEstimator):
    """Base class: ``fit`` validates the parameters, checks and stores the base pairs and does
    every base-only computation; :meth:`score` (subclasses) uses only fitted state and the
    queries and sets none; :meth:`match` assigns by LAP."""

    name = "matcher"

    def _validate_params(self):
        """Check the constructor's parameters (scikit-learn convention: in ``fit``, not ``__init__``)."""

    def fit(self, Zb, Hb):
        """Fit on the aligned base pairs ``Zb`` (M, d1), ``Hb`` (M, d2); returns self."""
        self._validate_params()
        self.Zb_, self.Hb_ = check_pair(Zb, Hb, names=("Zb", "Hb"))
        return self

    def _check_fitted(self):
        if not hasattr(self, "Zb_"):
            raise ValueError(f"{type(self).__name__}: call fit(Zb, Hb) on the base set first")

    def score(self, Zq, Hq) -> np.ndarray:  # pragma: no cover - abstract
        """(N'_z, N'_h) scores, larger = better match."""
        raise NotImplementedError

    def match(self, Zq, Hq) -> np.ndarray:
        """For each row of ``Zq`` the index of its partner in ``Hq`` (a one-to-one assignment)."""
        return assign(self.score(Zq, Hq))


class LocalCKAMatcher(Matcher):
    """Local CKA scores (maniparambil2024 Eq. 6), linear or RBF kernel. ``fit`` computes the
    base terms (for the RBF median rule the bandwidth needs the queries too, so there the
    base kernel waits for :meth:`score`)."""

    name = "local-cka"

    def __init__(self, kernel: str = "linear", sigma="median"):
        self.kernel = kernel
        self.sigma = sigma

    def _validate_params(self):
        if self.kernel not in ("linear", "rbf"):
            raise ValueError(f"kernel: expected 'linear' or 'rbf', got {self.kernel!r}")

    def fit(self, Zb, Hb):
        super().fit(Zb, Hb)
        self.base_ = None
        if self.kernel == "linear" or not isinstance(resolve_sigma(self.sigma), str):
            sig = (None, None) if self.kernel == "linear" else (float(self.sigma),) * 2
            self.base_ = LocalCKABase(self.Zb_, self.Hb_, self.kernel, sig)
        return self

    def score(self, Zq, Hq):
        self._check_fitted()
        if self.base_ is not None:
            return self.base_.scores(Zq, Hq)
        return local_cka(self.Zb_, self.Hb_, Zq, Hq, kernel=self.kernel, sigma=self.sigma)


class LinearMatcher(Matcher):
    """Least-squares map from the base pairs (no intercept; ``ridge`` > 0 for ridge), fitted
    once in :meth:`fit`; scores are cosines between ``Zq W`` and ``Hq``."""

    name = "linear"

    def __init__(self, ridge: float = 0.0):
        self.ridge = ridge

    def fit(self, Zb, Hb):
        super().fit(Zb, Hb)
        self.map_ = LinearMap(self.Zb_, self.Hb_, self.ridge)
        return self

    def score(self, Zq, Hq):
        self._check_fitted()
        return cosine_scores(self.map_.predict(Zq), Hq)


class RelativeMatcher(Matcher):
    """Relative representations: cosines to the base anchors, compared by cosine."""

    name = "relative"

    def score(self, Zq, Hq):
        self._check_fitted()
        return relative_scores(self.Zb_, self.Hb_, Zq, Hq)


class CosineMatcher(Matcher):
    """Plain cosine (encoders sharing one space); the base set is not used."""

    name = "cosine"

    def fit(self, Zb=None, Hb=None):
        self.Zb_ = self.Hb_ = None
        return self

    def score(self, Zq, Hq):
        return cosine_scores(Zq, Hq)


QAP_INITS = ("local-cka", "barycenter")


class QAPMatcher(Matcher):
    """Seeded QAP maximising ``⟨K̄_[Zb;Zq], P L̄_[Hb;Hq] Pᵀ⟩`` with the base pairs as anchors
    (maniparambil2024 Eq. 5), by FAQ with ``restarts``.

    Parameters
    ----------
    restarts : int
        FAQ runs (randomized after the first).
    tol, max_iter : float, int
        FAQ stopping rule.
    init : {"local-cka", "barycenter"}
        ``local-cka`` (default) starts from the local-CKA assignment, ``barycenter`` from the
        flat matrix (the paper's single run).
    seed : int
        Seeds the randomized restarts.
    kernel : {"cka", "rbf", "correlation"}
        See :func:`repalign.kernels.normalized_kernel`.
    polish : bool
        2-opt on the query block at the end (default on).
    precision, n_jobs
        As in :func:`repalign.qap.seeded_qap`.

    Notes
    -----
    The kernels cover base ∪ queries, so the QAP is built when queries arrive; :meth:`solve`
    returns the whole :class:`~repalign.qap.QAPResult`, :meth:`match` its query block, and
    :meth:`score` the 0/1 matrix of that assignment (QAP gives a matching, not graded scores).
    """

    name = "qap"

    def __init__(self, restarts: int = 1, tol: float = 1e-5, max_iter: int = 100, init: str = "local-cka",
                 seed: int = 0, kernel: str = "cka", polish: bool = True, precision: str = "float64",
                 n_jobs: int = 1):
        self.restarts = restarts
        self.tol = tol
        self.max_iter = max_iter
        self.init = init
        self.seed = seed
        self.kernel = kernel
        self.polish = polish
        self.precision = precision
        self.n_jobs = n_jobs

    def _validate_params(self):
        if self.init not in QAP_INITS:
            raise ValueError(f"init: expected one of {QAP_INITS}, got {self.init!r}")
        if self.kernel not in NORMALIZED_KERNELS:
            raise ValueError(f"kernel: expected one of {NORMALIZED_KERNELS}, got {self.kernel!r}")

    def solve(self, Zq, Hq) -> QAPResult:
        """The seeded QAP over base ∪ queries: a :class:`~repalign.qap.QAPResult` whose
        permutation maps rows of ``[Zb; Zq]`` to rows of ``[Hb; Hq]`` (base rows fixed)."""
        self._check_fitted()
        Zq, Hq = check_pair(Zq, Hq, names=("Zq", "Hq"), min_samples=1)
        m = len(self.Zb_)
        A = normalized_kernel(np.vstack([self.Zb_, Zq]), self.kernel)
        B = normalized_kernel(np.vstack([self.Hb_, Hq]), self.kernel)
        init = None
        if self.init == "local-cka":
            cols = assign(local_cka(self.Zb_, self.Hb_, Zq, Hq))
            init = np.concatenate([np.arange(m), m + cols])
        return seeded_qap(A, B, np.arange(m), maximize=True, restarts=self.restarts, init=init, tol=self.tol,
                          max_iter=self.max_iter, seed=self.seed, polish=self.polish, precision=self.precision,
                          n_jobs=self.n_jobs)

    def match(self, Zq, Hq):
        return self.solve(Zq, Hq).permutation[len(self.Zb_):] - len(self.Zb_)

    def score(self, Zq, Hq):
        cols = self.match(Zq, Hq)
        return np.eye(len(cols))[cols]


MATCHERS = {"local-cka": LocalCKAMatcher, "linear": LinearMatcher, "relative": RelativeMatcher,
            "cosine": CosineMatcher, "qap": QAPMatcher}


def make_matcher(method: str, **kwargs) -> Matcher:
    """A matcher by name.

    Parameters
    ----------
    method : {"qap", "local-cka", "linear", "relative", "cosine"}
    **kwargs
        Passed to the matcher's constructor.

    Returns
    -------
    Matcher
        Its parameters already validated.
    """
    if method not in MATCHERS:
        raise ValueError(f"method: unknown matching method {method!r}; known: {', '.join(MATCHERS)}")
    matcher = MATCHERS[method](**kwargs)
    matcher._validate_params()  # a factory fails at once on a bad option, not at fit
    return matcher
