"""Matchers with the estimator protocol: ``fit(Zb, Hb)`` on the aligned base set, then
``score(Zq, Hq)`` → (N'_z, N'_h) scores (larger = better) and ``match(Zq, Hq)`` → for each
query row of ``Zq`` the index of its partner in ``Hq``. Fitted state ends in ``_``.
"""

from __future__ import annotations

import numpy as np

from .._validate import check_pair
from ..kernels import normalized_kernel
from .baselines import cosine_scores, linear_regression_scores, relative_scores
from .local_cka import local_cka
from .metrics import assign

__all__ = ["Matcher", "LocalCKAMatcher", "LinearMatcher", "RelativeMatcher", "CosineMatcher", "QAPMatcher",
           "MATCHERS", "make_matcher", "normalized_kernel"]


class Matcher:
    """Base class: subclasses implement :meth:`score`; :meth:`match` assigns by LAP."""

    name = "matcher"

    def fit(self, Zb, Hb):
        self.Zb_, self.Hb_ = check_pair(Zb, Hb, names=("Zb", "Hb"))
        return self

    def _check_fitted(self):
        if not hasattr(self, "Zb_"):
            raise ValueError(f"{type(self).__name__}: call fit(Zb, Hb) on the base set first")

    def score(self, Zq, Hq) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def match(self, Zq, Hq) -> np.ndarray:
        return assign(self.score(Zq, Hq))


class LocalCKAMatcher(Matcher):
    """Local CKA scores (maniparambil2024 Eq. 6), linear or RBF kernel."""

    name = "local-cka"

    def __init__(self, kernel: str = "linear", sigma="median"):
        self.kernel, self.sigma = kernel, sigma

    def score(self, Zq, Hq):
        self._check_fitted()
        return local_cka(self.Zb_, self.Hb_, Zq, Hq, kernel=self.kernel, sigma=self.sigma)


class LinearMatcher(Matcher):
    """Least-squares map from the base pairs (no intercept; ``ridge`` > 0 for ridge)."""

    name = "linear"

    def __init__(self, ridge: float = 0.0):
        self.ridge = ridge

    def score(self, Zq, Hq):
        self._check_fitted()
        return linear_regression_scores(self.Zb_, self.Hb_, Zq, Hq, ridge=self.ridge)


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


class QAPMatcher(Matcher):
    """Seeded QAP maximising ``⟨K̄_[Zb;Zq], P L̄_[Hb;Hq] Pᵀ⟩`` with the base pairs as seeds
    (maniparambil2024 Eq. 5), by FAQ with ``restarts``; ``kernel``: ``"cka"`` (linear),
    ``"rbf"`` (median rule per space) or ``"correlation"`` (see :func:`normalized_kernel`). ``start="local-cka"`` (default)
    starts from the local-CKA assignment, ``"barycenter"`` from the flat matrix (the paper's
    single run), and ``polish`` (default on) ends with 2-opt on the query block.
    ``precision``/``n_jobs`` as in :func:`repalign.qap.seeded_qap`. :meth:`score` returns the
    0/1 matrix of the found assignment (QAP gives a matching, not graded scores)."""

    name = "qap"

    def __init__(self, restarts: int = 1, tol: float = 1e-5, maxiter: int = 100, start: str = "local-cka",
                 seed: int = 0, kernel: str = "cka", polish: bool = True, precision: str = "float64",
                 n_jobs: int = 1):
        if start not in ("barycenter", "local-cka"):
            raise ValueError(f"start: expected 'barycenter' or 'local-cka', got {start!r}")
        if kernel not in ("cka", "rbf", "correlation"):
            raise ValueError(f"kernel: expected 'cka', 'rbf' or 'correlation', got {kernel!r}")
        self.restarts, self.tol, self.maxiter, self.start, self.seed = restarts, tol, maxiter, start, seed
        self.kernel, self.polish, self.precision, self.n_jobs = kernel, polish, precision, n_jobs

    def match(self, Zq, Hq):
        from ..qap import seeded_qap

        self._check_fitted()
        Zq, Hq = check_pair(Zq, Hq, names=("Zq", "Hq"), min_samples=1)
        m, k = len(self.Zb_), len(Zq)
        A = normalized_kernel(np.vstack([self.Zb_, Zq]), self.kernel)
        B = normalized_kernel(np.vstack([self.Hb_, Hq]), self.kernel)
        P0 = None
        if self.start == "local-cka":
            cols = assign(local_cka(self.Zb_, self.Hb_, Zq, Hq))
            P0 = np.eye(k)[cols]
        res = seeded_qap(A, B, np.arange(m), maximize=True, restarts=self.restarts, P0=P0, tol=self.tol,
                         maxiter=self.maxiter, seed=self.seed, polish=self.polish, precision=self.precision,
                         n_jobs=self.n_jobs)
        self.result_ = res
        return res.permutation[m:] - m

    def score(self, Zq, Hq):
        cols = self.match(Zq, Hq)
        return np.eye(len(cols))[cols]


MATCHERS = {"local-cka": LocalCKAMatcher, "linear": LinearMatcher, "relative": RelativeMatcher,
            "cosine": CosineMatcher, "qap": QAPMatcher}


def make_matcher(method: str, **kwargs) -> Matcher:
    if method not in MATCHERS:
        raise ValueError(f"method: unknown matching method {method!r}; known: {', '.join(MATCHERS)}")
    return MATCHERS[method](**kwargs)
