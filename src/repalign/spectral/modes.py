"""Checking SPEC's modes and choosing its bandwidth.

* :func:`mode_agreement`: do the items of the top modes form clusters in each embedding?
  Each item among the top ``top`` of one of the first modes gets that mode as its label; k-means
  with as many clusters as modes runs ``n_runs`` times on each embedding (restricted to those
  items) and the AMI / NMI between its labels and the mode labels is averaged over runs
  (jalali2025 §6 uses 50 runs). For modes of positive eigenvalue the AMI should be higher on A
  than on B, and the reverse for negative ones.
* :func:`sigma_scan`: the top eigenvalues for a grid of Gaussian bandwidths (multiples of the
  automatic σ of each side), to choose σ as the paper does (until the top eigenvalues separate).
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score
from threadpoolctl import threadpool_limits

from .._validate import as_embeddings, check_positive_int
from ..kernels import cosine_normalize, median_sigma
from .core import SPECResult, spec

__all__ = ["mode_agreement", "sigma_scan", "mode_labels"]


def mode_labels(result: SPECResult, side: str | None = None, n_modes: int | None = None):
    """Items of the first modes and their mode labels.

    Parameters
    ----------
    result : SPECResult
    side : {"A", "B"}, optional
        Only modes of positive (A) or negative (B) eigenvalue.
    n_modes : int, optional
        At most this many modes (default all of that side).

    Returns
    -------
    items : ndarray of int
    labels : ndarray of int
        The position of each item's mode among the chosen modes; an item in two modes keeps the
        first.
    """
    modes = [m for m in result.modes if side is None or m.side == side][:n_modes]
    items, labels, seen = [], [], set()
    for j, m in enumerate(modes):
        for i in m.top_indices:
            if int(i) not in seen:
                seen.add(int(i))
                items.append(int(i))
                labels.append(j)
    return np.array(items, dtype=int), np.array(labels, dtype=int)


def mode_agreement(result: SPECResult, A, B, *, side: str = "A", n_modes: int | None = None, n_runs: int = 50,
                   seed: int = 0) -> dict:
    """Average AMI / NMI between the SPEC mode labels and k-means labels on each embedding.

    Parameters
    ----------
    result : SPECResult
        From ``spec(A, B, ...)``.
    A, B : array, shape (n, d_A) and (n, d_B)
        The same embeddings.
    side : {"A", "B"}
        Modes of positive (A separates them) or negative (B does) eigenvalue.
    n_modes : int, optional
        Modes used (default all of that side; at least 2 are needed).
    n_runs : int
        k-means restarts with different seeds (default 50, as the paper).
    seed : int

    Returns
    -------
    dict
        ``ami_a``, ``ami_b``, ``nmi_a``, ``nmi_b`` (means) and ``ami_a_std``, ``ami_b_std``,
        ``n_items``, ``n_modes``.

    References
    ----------
    jalali2025 (arXiv:2506.06231), §6; Vinh, Epps & Bailey, "Information theoretic measures for
    clusterings comparison", ICML 2009, doi:10.1145/1553374.1553511.
    """
    if side not in ("A", "B"):
        raise ValueError(f"side: expected 'A' or 'B', got {side!r}")
    n_runs = check_positive_int(n_runs, "n_runs")
    A, B = as_embeddings(A, "A"), as_embeddings(B, "B")
    if len(A) != result.n or len(B) != result.n:
        raise ValueError(f"A, B: expected the {result.n} rows SPEC was computed on, got {len(A)} and {len(B)}")
    if n_modes is not None and n_modes < 2:
        raise ValueError(f"n_modes: the agreement compares clusterings of at least 2 modes, got {n_modes}")
    items, labels = mode_labels(result, side, n_modes)
    k = int(labels.max()) + 1 if labels.size else 0
    if k < 2:
        raise ValueError(f"side: the result has {k} mode(s) of side {side}; at least 2 are needed (compute more "
                         "with spec(n_modes=...) or use the other side)")
    out = {"n_items": int(items.size), "n_modes": k}
    for name, X in (("a", A), ("b", B)):
        Xs = cosine_normalize(X[items], name.upper()) if result.kernel == "cosine" else X[items]
        ami, nmi = [], []
        with threadpool_limits(1):  # k-means results must not depend on the core count
            for r in range(n_runs):
                pred = KMeans(k, n_init=1, random_state=seed + r).fit_predict(Xs)
                ami.append(adjusted_mutual_info_score(labels, pred))
                nmi.append(normalized_mutual_info_score(labels, pred))
        out.update({f"ami_{name}": float(np.mean(ami)), f"ami_{name}_std": float(np.std(ami)),
                    f"nmi_{name}": float(np.mean(nmi))})
    return out


def sigma_scan(A, B, factors=(0.25, 0.5, 1.0, 2.0, 4.0), *, top: int = 5, rff: int = 1000, seed: int = 0,
               **spec_kwargs) -> list[dict]:
    """Top eigenvalues of the Gaussian SPEC for bandwidths ``f × σ_auto`` (per side).

    Parameters
    ----------
    A, B : array, shape (n, d_A) and (n, d_B)
    factors : sequence of float
        Multiples of each side's automatic σ (:func:`repalign.kernels.median_sigma`).
    top : int
        Eigenvalues reported per sign.
    rff : int
        Random Fourier frequencies per embedding (default 1000: a scan, not the final run).
    seed : int
    **spec_kwargs
        Passed to :func:`spec`.

    Returns
    -------
    list of dict
        Per factor: ``factor``, ``sigma_a``, ``sigma_b``, ``spec_diff``, ``top_positive``,
        ``top_negative`` and ``gap`` (λ₁ − λ₂ of the positive side, relative to λ₁: how well
        the leading mode stands out).

    References
    ----------
    jalali2025 (arXiv:2506.06231), §6 (bandwidth chosen until the top eigenvalues separate).
    """
    A, B = as_embeddings(A, "A"), as_embeddings(B, "B")
    sa, sb = median_sigma(A, seed=seed, name="A"), median_sigma(B, seed=seed, name="B")
    rows = []
    for f in factors:
        if not (np.isfinite(f) and f > 0):
            raise ValueError(f"factors: must be positive numbers, got {f!r}")
        r = spec(A, B, "gaussian", sigma_a=f * sa, sigma_b=f * sb, rff=rff, seed=seed, n_modes=top, top=1,
                 return_scores=False, **spec_kwargs)
        pos = [m.eigenvalue for m in r.modes if m.eigenvalue > 0]
        neg = [m.eigenvalue for m in r.modes if m.eigenvalue < 0]
        gap = (pos[0] - pos[1]) / pos[0] if len(pos) > 1 and pos[0] > 0 else None
        rows.append({"factor": float(f), "sigma_a": f * sa, "sigma_b": f * sb, "spec_diff": r.spec_diff,
                     "top_positive": pos, "top_negative": neg, "gap": gap})
    return rows
