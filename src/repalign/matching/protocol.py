"""The evaluation protocol of maniparambil2024 §5: base/query split, hidden correspondence,
every method, metrics averaged over seeds.

For each seed: take ``base_size`` base pairs (uniform or k-means on ``Z``) and ``query_size``
query pairs from the rest (uniform); optionally stretch both spaces over base ∪ query; hide
the query correspondence by a seeded shuffle of the ``H`` side; let every method score or
match; undo the shuffle and score against the truth.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .._optional import optional
from .._progress import track
from .._result import Result
from .._validate import check_pair, check_positive_int
from .matchers import QAPMatcher, make_matcher
from .metrics import matching_accuracy, retrieval_metrics
from .prep import select_base, stretch

__all__ = ["MatchingResult", "run_matching", "split"]


def split(Z, base_size: int, query_size: int, seed: int, base_selection: str = "kmeans"):
    """Base and query indices for one seed.

    Parameters
    ----------
    Z : array, shape (n, d)
        k-means runs on these rows.
    base_size, query_size : int
    seed : int
    base_selection : {"kmeans", "uniform"}

    Returns
    -------
    base_idx, query_idx : ndarray of int
        Sorted; disjoint.
    """
    n = len(Z)
    base_size = check_positive_int(base_size, "base_size")
    query_size = check_positive_int(query_size, "query_size")
    if base_size >= n:
        raise ValueError(f"base_size: {base_size} must be smaller than the number of pairs ({n})")
    if base_size + query_size > n:
        raise ValueError(f"query_size: base ({base_size}) + queries ({query_size}) exceed the {n} pairs; "
                         f"use at most {n - base_size} queries")
    if base_selection not in ("kmeans", "uniform"):
        raise ValueError(f"base_selection: expected 'kmeans' or 'uniform', got {base_selection!r}")
    base = select_base(Z, base_size, base_selection, seed)
    rng = np.random.default_rng(seed)
    rest = np.setdiff1d(np.arange(n), base)
    query = np.sort(rng.choice(rest, query_size, replace=False))
    return base, query


@dataclass(frozen=True)
class MatchingResult(Result):
    """Result of :func:`run_matching`.

    Attributes
    ----------
    methods : dict
        Per method: mean and std (``_std``) over seeds of every metric.
    runs : dict
        Per method: the per-seed values.
    settings : dict
    """

    kind: ClassVar[str] = "matching"

    methods: dict
    runs: dict = field(repr=False)
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "methods": self.methods, "settings": self.settings, "runs": self.runs}

    def to_pandas(self):
        """The methods' metrics as a DataFrame: one row per method (index ``method``), one column
        per metric (mean over seeds, ``<metric>_std`` beside it); needs pandas.

        Returns
        -------
        pandas.DataFrame
        """
        pd = optional("pandas")
        frame = pd.DataFrame.from_dict(self.methods, orient="index")
        frame.index.name = "method"
        return frame


def run_matching(Z, H, base_size: int = 320, query_size: int = 500, methods: Sequence[str] = ("qap", "local-cka",
                 "relative", "linear"), seeds: Sequence[int] = (0, 1, 2), use_stretch: bool = True,
                 base_selection: str = "kmeans", method_options: dict | None = None,
                 progress: bool = False) -> MatchingResult:
    """Evaluate matching methods between row-aligned ``Z`` (n, d1) and ``H`` (n, d2)
    (maniparambil2024 §5's protocol).

    Parameters
    ----------
    Z, H : array, shape (n, d1) and (n, d2)
        Row i of both is the same item (the truth used for scoring only).
    base_size, query_size : int
        Known pairs (anchors) and pairs to match per seed.
    methods : sequence of str
        ``qap``, ``local-cka``, ``relative``, ``linear``, ``cosine``.
    seeds : sequence of int
        Random seeds, one split each.
    use_stretch : bool
        Stretch both spaces over base ∪ queries.
    base_selection : {"kmeans", "uniform"}
    method_options : dict, optional
        Per-method keyword arguments of the matcher.
    progress : bool
        One progress step per seed and method.

    Returns
    -------
    MatchingResult
        Per method ``matching_accuracy``, ``top1``/``top5``/``top10`` (Z→H retrieval),
        ``h2z_top1``/``h2z_top5``/``h2z_top10``, ``mean_rank`` and ``seconds``, each with
        ``_std``. QAP produces a matching only: its retrieval numbers are those of the 0/1
        assignment.

    References
    ----------
    maniparambil2024 (arXiv:2401.05224) §5.
    """
    Z, H = check_pair(Z, H, names=("Z", "H"))
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds: give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: duplicated seeds {seeds}; each seed must be distinct")
    if any((not isinstance(s, (int, np.integer))) or s < 0 for s in seeds):
        raise ValueError(f"seeds: must be non-negative integers, got {seeds}")
    opts = method_options or {}
    runs = {m: [] for m in methods}
    for m in methods:
        make_matcher(m, **opts.get(m, {}))  # fail early on unknown names / options
    for seed in seeds:
        base, query = split(Z, base_size, query_size, seed, base_selection)
        rows = np.concatenate([base, query])
        Zs, Hs = (stretch(Z[rows]), stretch(H[rows])) if use_stretch else (Z[rows], H[rows])
        Zb, Hb, Zq, Hq = Zs[:base_size], Hs[:base_size], Zs[base_size:], Hs[base_size:]
        hide = np.random.default_rng([seed, 7]).permutation(len(query))
        Hq_shuffled = Hq[hide]
        for m in track(methods, f"matching, seed {seed}", enabled=progress, unit="method"):
            matcher = make_matcher(m, **opts.get(m, {})).fit(Zb, Hb)
            t0 = time.perf_counter()
            if isinstance(matcher, QAPMatcher):
                cols = matcher.match(Zq, Hq_shuffled)
                S_shuffled = np.eye(len(cols))[cols]
            else:
                S_shuffled = matcher.score(Zq, Hq_shuffled)
            seconds = time.perf_counter() - t0
            S = np.empty_like(S_shuffled)
            S[:, hide] = S_shuffled  # column j of S is the true partner of row j
            r = retrieval_metrics(S)
            runs[m].append({
                "seed": int(seed),
                "matching_accuracy": matching_accuracy(S),
                "top1": r["a2b_top1"], "top5": r["a2b_top5"], "top10": r["a2b_top10"],
                "h2z_top1": r["b2a_top1"], "h2z_top5": r["b2a_top5"], "h2z_top10": r["b2a_top10"],
                "mean_rank": r["a2b_mean_rank"], "seconds": seconds,
            })
    summary = {}
    for m, rs in runs.items():
        keys = [k for k in rs[0] if k != "seed"]
        summary[m] = {}
        for k in keys:
            v = np.array([r[k] for r in rs], dtype=float)
            summary[m][k] = float(v.mean())
            summary[m][f"{k}_std"] = float(v.std())
    settings = {"n": len(Z), "base_size": base_size, "query_size": query_size, "seeds": seeds,
                "stretch": use_stretch, "base_selection": base_selection}
    return MatchingResult(summary, runs, settings)
