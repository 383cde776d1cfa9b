"""Uncertainty for any measure: permutation tests, bootstrap intervals and shuffle curves.

* Permutation test: the rows of ``Y`` are permuted (breaking the pairing) ``N`` times; the
  one-sided p-value in the measure's similarity direction is
  ``(1 + #{perm at least as similar as observed}) / (1 + N)`` (Phipson & Smyth 2010).
* Intervals (:func:`bootstrap_ci`): rows are resampled jointly with replacement. Copies of an
  item break kernel measures: an item drawn twice pairs with its copy like a diagonal term,
  and biased CKA also grows as n shrinks, so plain bootstrap replicates of CKA sit well above
  θ̂ (at n = 1,000 in 384/512 dimensions: replicates around 0.83 for θ̂ = 0.79, with a spread
  2.3x the true sampling spread measured on fresh samples). Kernel and distance measures
  therefore use half-samples without replacement, recentred on θ̂ and scaled by
  ``sqrt(m/(n-m))`` = 1 for m = n/2 (half-sampling: the spread of a half-sample estimate around
  the full one matches the full one's sampling spread). Check (n = 1,000, 384/512-d, 12
  fresh samples; ``tests/measures/test_stats.py`` repeats a small version): the implied standard
  deviation over the fresh-sample one was 1.13 (linear CKA), 1.03 (RBF), 1.30 (debiased),
  1.0 (GW), 1.47 (RSA) and 1.8 (mutual k-NN: conservative). For k-NN measures and RSA,
  copies of one item are never each other's neighbours / pairs, which removes their bias;
  those use the plain percentile interval.
* Shuffle curve (maniparambil2024 Table 1, schnaus2025 "Is matched data more similar?"): a
  fraction f of the rows of ``Y`` is shuffled among themselves so that every one of them lands
  on a wrong partner (a random cyclic shift of a random subset); the measure is averaged over
  seeds for each f.

All three run through :mod:`repalign.measures.resample`: each space's (n, n) structure is
built once and every resample is a gather from it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar

import numpy as np

from .. import distributed
from .._optional import optional
from .._progress import track
from .._result import Result
from .._validate import check_fraction, check_pair, check_positive_int
from ..distributed import map_tasks
from .figures import shuffle_curves
from .registry import Measure, get_measure
from .resample import prepare

__all__ = [
    "evaluate_out_of_core",
    "STREAMED_MEASURES",
    "MeasureResult",
    "SimilarityReport",
    "ShuffleCurve",
    "permutation_test",
    "bootstrap_ci",
    "evaluate",
    "shuffle_curve",
    "shuffle_fraction",
]


def _as_measure(measure) -> Measure:
    if isinstance(measure, Measure):
        return measure
    if isinstance(measure, str):
        return get_measure(measure)
    raise ValueError(f"measure: expected a measure name or Measure, got {type(measure).__name__}")


def _progress(iterable, enabled: bool, desc: str, total: int):
    return track(iterable, desc, total=total, enabled=enabled)


def _replicates(m: Measure, X, Y, args: list) -> np.ndarray:
    """A task: ``prepare`` once, then the measure on each ``(ix, iy, groups)`` resample."""
    f = prepare(m, X, Y)
    out = np.empty(len(args))
    for k, (ix, iy, g) in enumerate(args):
        try:
            out[k] = f(ix, iy, g)
        except ValueError:  # e.g. a resample with too few distinct items for this k
            out[k] = np.nan
    return out


def _on_cluster(m, X, Y, args, scheduler, tasks: int = 16) -> np.ndarray:
    """The replicates as Dask tasks (the same resamples, drawn here, so results do not change)."""

    chunks = [args[i::tasks] for i in range(min(tasks, len(args)))]
    parts = map_tasks(partial(_replicates, m, X, Y), chunks, scheduler=scheduler)
    out = np.empty(len(args))
    for i, part in enumerate(parts):
        out[i::len(chunks)] = part
    return out


def permutation_test(measure, X, Y, n_permutations: int = 1000, seed: int = 0,
                     progress: bool = False, scheduler=None) -> tuple[float, np.ndarray]:
    """One-sided permutation p-value of a measure.

    The rows of ``Y`` are permuted ``n_permutations`` times; the p-value in the measure's
    similarity direction is ``(1 + #{perm at least as similar}) / (1 + N)``.

    Parameters
    ----------
    measure : str or Measure
    X, Y : array, shape (n, dx) and (n, dy)
    n_permutations : int
        Default 1000.
    seed : int
    progress : bool
    scheduler : None, str or distributed.Client
        Run the permutations as Dask tasks (:mod:`repalign.distributed`); same values.

    Returns
    -------
    p_value : float
    null : ndarray, shape (n_permutations,)

    References
    ----------
    Phipson & Smyth, Stat. Appl. Genet. Mol. Biol. 9 (2010), doi:10.2202/1544-6115.1585.
    """
    m = _as_measure(measure)
    X, Y = check_pair(X, Y, rescale=m.scale_invariant)
    m.check_samples(X.shape[0])
    n_permutations = check_positive_int(n_permutations, "n_permutations")
    rng = np.random.default_rng(seed)
    if scheduler is not None:
        perms = [(None, rng.permutation(X.shape[0]), None) for _ in range(n_permutations)]
        observed = prepare(m, X, Y)(None, None)  # the same route as the tasks: bit-equal comparisons
        null = _on_cluster(m, X, Y, perms, scheduler)
    else:
        f = prepare(m, X, Y)
        observed = f(None, None)
        null = np.empty(n_permutations)
        for i in _progress(range(n_permutations), progress, f"{m.name} permutations", n_permutations):
            null[i] = f(None, rng.permutation(X.shape[0]))
    hits = np.sum(null >= observed) if m.higher_is_more_similar else np.sum(null <= observed)
    return float((1 + hits) / (1 + n_permutations)), null


CI_METHODS = ("auto", "percentile")


def _resample_plan(m: Measure, method: str) -> str:
    """``subsample`` (distinct items, rescaled and recentred) or ``bootstrap`` (with copies)."""
    if method == "percentile":
        return "bootstrap"
    return "subsample" if m.family in ("cka", "gw") else "bootstrap"


def bootstrap_ci(measure, X, Y, n_bootstrap: int = 1000, level: float = 0.95, seed: int = 0,
                 progress: bool = False, method: str = "auto", scheduler=None) -> tuple[float, float, np.ndarray]:
    """Resampling interval of a measure (see the module docstring for why two plans).

    ``method="auto"``: kernel and distance measures (CKA family, GW) use half-samples without
    replacement (m = n/2), with replicates recentred on θ̂ and scaled by ``sqrt(m / (n - m))``;
    k-NN measures and RSA use the plain bootstrap in which copies of an item are never each
    other's neighbours / pairs. Both give a percentile interval, clipped to the measure's range.

    Parameters
    ----------
    measure : str or Measure
    X, Y : array, shape (n, dx) and (n, dy)
    n_bootstrap : int
        Resamples (default 1000).
    level : float
        Interval level (default 0.95).
    seed : int
    progress : bool
    method : {"auto", "percentile"}
        ``percentile``: the plain bootstrap for every measure.
    scheduler : None, str or distributed.Client
        Run the replicates as Dask tasks (:mod:`repalign.distributed`); same values.

    Returns
    -------
    low, high : float
    replicates : ndarray, shape (n_bootstrap,)
        The (adjusted) replicates; NaN where a resample was undefined.

    References
    ----------
    Politis & Romano, "Large sample confidence regions based on subsamples under minimal
    assumptions", Ann. Statist. 22 (1994), doi:10.1214/aos/1176325770.
    """
    if method not in CI_METHODS:
        raise ValueError(f"method: expected one of {CI_METHODS}, got {method!r}")
    m = _as_measure(measure)
    X, Y = check_pair(X, Y, rescale=m.scale_invariant)
    m.check_samples(X.shape[0])
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap")
    level = check_fraction(level, "level", low=0.0, high=1.0)
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    subsample = _resample_plan(m, method) == "subsample"
    scale = np.full(n_bootstrap, np.sqrt((n // 2) / (n - n // 2)) if subsample else 1.0)
    # half-sampling: a fixed size, since biased CKA depends on the size
    draws = [np.sort(rng.choice(n, n // 2, replace=False)) if subsample else np.sort(rng.integers(0, n, n))
             for _ in range(n_bootstrap)]
    args = [(idx, idx, None if subsample else idx) for idx in draws]
    if scheduler is not None:
        theta = prepare(m, X, Y)(None, None)
        vals = _on_cluster(m, X, Y, args, scheduler)
    else:
        f = prepare(m, X, Y)
        theta = f(None, None)
        vals = np.empty(n_bootstrap)
        for i in _progress(range(n_bootstrap), progress, f"{m.name} bootstrap", n_bootstrap):
            try:
                vals[i] = f(*args[i])
            except ValueError:  # e.g. a resample with too few distinct items for this k
                vals[i] = np.nan
    ok = np.isfinite(vals)
    if not ok.any():
        raise ValueError(f"bootstrap: every resample of {m.name} was undefined; use more samples")
    if subsample:  # θ̂ + s (θ*_m - mean θ*_m): the spread at size n around the estimate
        vals = theta + scale * (vals - np.mean(vals[ok]))
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(vals[ok], [alpha, 1.0 - alpha])
    low, high = max(low, m.range[0]), min(high, m.range[1])
    return float(low), float(high), vals


@dataclass(frozen=True)
class MeasureResult(Result):
    """One measure's value with optional permutation p-value and resampling interval.

    Attributes
    ----------
    name : str
    value : float
    higher_is_more_similar : bool
    p_value : float or None
    n_permutations : int
    ci_low, ci_high : float or None
    ci_level : float or None
    ci_method : {"subsample", "bootstrap"} or None
    bootstrap_mean : float or None
    n_bootstrap : int
    seconds : float
    params : dict
    """

    kind: ClassVar[str] = "measure"

    name: str
    value: float
    higher_is_more_similar: bool
    p_value: float | None = None
    n_permutations: int = 0
    ci_low: float | None = None
    ci_high: float | None = None
    ci_level: float | None = None
    ci_method: str | None = None
    bootstrap_mean: float | None = None
    n_bootstrap: int = 0
    seconds: float = 0.0
    params: dict = field(default_factory=dict)

    def __float__(self) -> float:
        """The measure's value: ``float(report["cka-linear"])``."""
        return float(self.value)

    def to_dict(self) -> dict:
        return {"kind": self.kind,
            "value": self.value,
            "higher_is_more_similar": self.higher_is_more_similar,
            "p_value": self.p_value,
            "n_permutations": self.n_permutations,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "ci_level": self.ci_level,
            "ci_method": self.ci_method,
            "bootstrap_mean": self.bootstrap_mean,
            "n_bootstrap": self.n_bootstrap,
            "seconds": self.seconds,
            "params": dict(self.params),
        }


@dataclass(frozen=True)
class SimilarityReport(Result):
    """All measures between one pair of embedding sets (``report["cka-linear"]`` indexes them).

    Attributes
    ----------
    n : int
    dim_x, dim_y : int
    measures : dict of str to MeasureResult
    skipped : dict of str to str
        Measures left out, with the reason (``evaluate(..., too_few="skip")``: too few items).
    """

    kind: ClassVar[str] = "similarity"

    n: int
    dim_x: int
    dim_y: int
    measures: dict[str, MeasureResult]
    skipped: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "n": self.n,
            "dim_x": self.dim_x,
            "dim_y": self.dim_y,
            "measures": {k: v.to_dict() for k, v in self.measures.items()},
            "skipped": dict(self.skipped),
        }

    def __getitem__(self, name: str) -> MeasureResult:
        return self.measures[name]

    def to_pandas(self):
        """The measures as a DataFrame: one row per measure (index ``measure``), the columns of
        :meth:`MeasureResult.to_dict` (value, p-value, interval, ...) but ``params``; needs pandas.

        Returns
        -------
        pandas.DataFrame
        """
        pd = optional("pandas")
        rows = {name: {k: v for k, v in r.to_dict().items() if k not in ("kind", "params")}
                for name, r in self.measures.items()}
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index.name = "measure"
        return frame

    def table(self, markdown: bool = False) -> str:
        """The measures as a table: value, interval, p-value and which direction is more similar.

        Parameters
        ----------
        markdown : bool, default False
            A Markdown table; otherwise aligned plain text for a terminal.

        Returns
        -------
        str
        """
        header = ["measure", "value", "CI", "p-value", "more similar"]
        rows = []
        for name, r in self.measures.items():
            ci = "-" if r.ci_low is None else f"[{_format_number(r.ci_low)}, {_format_number(r.ci_high)}]"
            rows.append([name, _format_number(r.value), ci, _format_number(r.p_value),
                         "higher" if r.higher_is_more_similar else "lower"])
        if markdown:
            lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        out = [fmt.format(*header), fmt.format(*["-" * w for w in widths])]
        notes = [f"{name}: skipped ({why})" for name, why in self.skipped.items()]
        return "\n".join(out + [fmt.format(*r) for r in rows] + notes)


def _format_number(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and (abs(x) >= 1e4 or (0 < abs(x) < 1e-3)):
        return f"{x:.3e}"
    return f"{x:.4f}" if isinstance(x, float) else str(x)


DEFAULT_MEASURES = ("cka-linear", "cka-rbf", "cka-cosine", "cka-linear-debiased", "mutual-knn",
                    "cknna", "gw", "rsa")


def evaluate(X, Y, measures: Sequence = DEFAULT_MEASURES, n_permutations: int = 0, n_bootstrap: int = 0,
             level: float = 0.95, seed: int = 0, progress: bool = False,
             ci_method: str = "auto", scheduler=None, too_few: str = "raise") -> SimilarityReport:
    """Compute several measures between row-paired ``X`` (n, dx) and ``Y`` (n, dy).

    Parameters
    ----------
    X, Y : array, shape (n, dx) and (n, dy)
        Row i of both is the same item.
    measures : sequence of str or Measure
        Registry names (``repalign list measures``) or :class:`Measure` objects; default all.
    n_permutations : int
        Permutation-test resamples for one-sided p-values (0 = none).
    n_bootstrap : int
        Resamples for intervals (0 = none).
    level : float
        Interval level (default 0.95).
    seed : int
        Seeds the resampling.
    progress : bool
        Progress on stderr (see :mod:`repalign._progress`).
    ci_method : {"auto", "percentile"}
        See :func:`bootstrap_ci`.
    scheduler : None, str or distributed.Client
        Resamples as Dask tasks (:mod:`repalign.distributed`); the same values.
    too_few : {"raise", "skip"}
        A measure that needs more items than there are: an error (default), or left out and
        listed in ``SimilarityReport.skipped`` with the reason while the others are computed.

    Returns
    -------
    SimilarityReport

    References
    ----------
    Phipson & Smyth, "Permutation p-values should never be zero", Stat. Appl. Genet. Mol. Biol.
    9 (2010), doi:10.2202/1544-6115.1585; maniparambil2024 (arXiv:2401.05224) Table 1.
    """
    permutations, bootstrap = n_permutations, n_bootstrap
    ms = [_as_measure(m) for m in measures]
    if not ms:
        raise ValueError("measures: give at least one measure name")
    if too_few not in ("raise", "skip"):
        raise ValueError(f"too_few: expected 'raise' or 'skip', got {too_few!r}")
    X, Y = check_pair(X, Y, rescale=all(m.scale_invariant for m in ms))
    skipped = {}
    for m in ms:
        try:
            m.check_samples(X.shape[0])
        except ValueError as exc:
            if too_few == "raise" or len(skipped) == len(ms) - 1:
                raise
            skipped[m.name] = str(exc).split(": ", 1)[-1].split(";")[0]
    if permutations:
        check_positive_int(permutations, "permutations")
    if bootstrap:
        check_positive_int(bootstrap, "bootstrap")
    out = {}
    for i, m in enumerate(ms):  # seeds follow each measure's place in the list, skipped or not
        if m.name in skipped:
            continue
        t0 = time.perf_counter()
        value = m(X, Y)
        p = None
        lo = hi = bmean = None
        if permutations:
            p, _ = permutation_test(m, X, Y, permutations, seed=seed + i, progress=progress, scheduler=scheduler)
        if bootstrap:
            lo, hi, vals = bootstrap_ci(m, X, Y, bootstrap, level=level, seed=seed + 1000 + i,
                                        progress=progress, method=ci_method, scheduler=scheduler)
            bmean = float(np.nanmean(vals))
        out[m.name] = MeasureResult(
            m.name, value, m.higher_is_more_similar, p, int(permutations), lo, hi,
            level if bootstrap else None, _resample_plan(m, ci_method) if bootstrap else None, bmean, int(bootstrap),
            time.perf_counter() - t0, dict(m.params),
        )
    return SimilarityReport(X.shape[0], X.shape[1], Y.shape[1], out, skipped)


def shuffle_fraction(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A permutation that moves a fraction of the rows, each to a wrong place.

    The chosen rows are put in random order and shifted cyclically by one, so none stays put
    (for a count of 1 nothing can move and the identity is returned).

    Parameters
    ----------
    n : int
    fraction : float in [0, 1]
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n,)
    """
    fraction = check_fraction(fraction, "fraction")
    perm = np.arange(n)
    count = int(round(fraction * n))
    if count < 2:
        return perm
    chosen = rng.choice(n, size=count, replace=False)
    perm[chosen] = np.roll(chosen, 1)
    return perm


@dataclass(frozen=True)
class ShuffleCurve(Result):
    """Measure values against the fraction of shuffled rows.

    Attributes
    ----------
    fractions : tuple of float
    mean, std : dict of str to tuple of float
        Per measure, over the repeats.
    n_repeats : int
    n : int
    """

    kind: ClassVar[str] = "shuffle-curve"

    fractions: tuple[float, ...]
    mean: dict[str, tuple[float, ...]]
    std: dict[str, tuple[float, ...]]
    n_repeats: int
    n: int

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "n": self.n,
            "n_repeats": self.n_repeats,
            "fractions": list(self.fractions),
            "measures": {k: {"mean": list(self.mean[k]), "std": list(self.std[k])} for k in self.mean},
        }

    def plot(self, ax=None, *, title: str | None = None):
        """The curves: with ``ax``, every measure as one line (mean ± std) in those axes; without,
        one panel per measure (:func:`repalign.plotting.shuffle_curves`). Needs matplotlib.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
        title : str, optional

        Returns
        -------
        matplotlib.figure.Figure
        """
        if ax is None:
            return shuffle_curves({f"n = {self.n}": self}, title=title)
        x = np.asarray(self.fractions)
        for name in self.mean:
            m, s = np.asarray(self.mean[name]), np.asarray(self.std[name])
            ax.plot(x, m, marker="o", ms=3, label=name)
            ax.fill_between(x, m - s, m + s, alpha=0.2)
        ax.set_xlabel("fraction of pairs shuffled")
        ax.set_ylabel("measure value")
        ax.legend(fontsize=7)
        if title:
            ax.set_title(title)
        return ax.figure

    def is_monotone(self, name: str, higher_is_more_similar: bool = True, slack: float = 0.0) -> bool:
        """Whether the mean curve gets (weakly, up to ``slack``) less similar as f grows."""
        v = np.asarray(self.mean[name])
        d = np.diff(v) if higher_is_more_similar else -np.diff(v)
        return bool(np.all(d <= slack))


def shuffle_curve(X, Y, measures: Sequence = ("cka-linear",), fractions=None, n_repeats: int = 3,
                  seed: int = 0, progress: bool = False) -> ShuffleCurve:
    """Measure vs fraction of rows of ``Y`` shuffled to wrong partners.

    Parameters
    ----------
    X, Y : array, shape (n, dx) and (n, dy)
    measures : sequence of str or Measure
    fractions : sequence of float in [0, 1], optional
        Default 0, 0.1, …, 1.
    n_repeats : int
        Random shuffles per fraction (default 3).
    seed : int
    progress : bool

    Returns
    -------
    ShuffleCurve
        Mean and std over the repeats, per measure and fraction.

    References
    ----------
    maniparambil2024 (arXiv:2401.05224) Table 1; schnaus2025 (arXiv:2503.24129) ("Is matched data more similar?").
    """
    ms = [_as_measure(m) for m in measures]
    if not ms:
        raise ValueError("measures: give at least one measure name")
    X, Y = check_pair(X, Y, rescale=all(m.scale_invariant for m in ms))
    for m in ms:
        m.check_samples(X.shape[0])
    fr = np.linspace(0.0, 1.0, 11) if fractions is None else np.asarray(fractions, dtype=float)
    if fr.ndim != 1 or fr.size == 0:
        raise ValueError("fractions: expected a non-empty 1-D list of numbers in [0, 1]")
    for f in fr:
        check_fraction(f, "fractions")
    n_repeats = check_positive_int(n_repeats, "n_repeats")
    vals = {m.name: np.empty((len(fr), n_repeats)) for m in ms}
    fns = {m.name: prepare(m, X, Y) for m in ms}  # a shuffle is a permutation of Y's rows
    total = len(fr) * n_repeats
    it = ((i, s) for i in range(len(fr)) for s in range(n_repeats))
    for i, s in _progress(it, progress, "shuffle curve", total):
        rng = np.random.default_rng([seed, s, i])
        perm = shuffle_fraction(X.shape[0], fr[i], rng)
        for m in ms:
            vals[m.name][i, s] = fns[m.name](None, perm)
    return ShuffleCurve(
        tuple(float(f) for f in fr),
        {k: tuple(map(float, v.mean(1))) for k, v in vals.items()},
        {k: tuple(map(float, v.std(1))) for k, v in vals.items()},
        n_repeats,
        X.shape[0],
    )


STREAMED_MEASURES = ("cka-linear", "cka-linear-debiased")


def evaluate_out_of_core(a, b, measures: Sequence[str] | None = None, scheduler=None) -> SimilarityReport:
    """Linear CKA (biased and debiased) streamed chunk by chunk on Dask, for inputs larger than memory.

    Parameters
    ----------
    a, b : str, Path or dask array
        ``.zarr`` stores, folders of ``.parquet`` files, ``.npy`` files (memory-mapped) or Dask
        arrays with the same rows in the same order.
    measures : sequence of str, optional
        A subset of :data:`STREAMED_MEASURES` (default both).
    scheduler : str or distributed.Client, optional
        Where the per-chunk moments are computed (:func:`repalign.distributed.resolve_scheduler`).

    Returns
    -------
    SimilarityReport
        One :class:`MeasureResult` per measure, ``params={"out_of_core": True}``, no resamples.

    References
    ----------
    Kornblith et al., "Similarity of Neural Network Representations Revisited", ICML 2019,
    arXiv:1905.00414 (linear CKA); Song et al., JMLR 2012 (unbiased HSIC).
    """
    names = list(measures or STREAMED_MEASURES)
    bad = [m for m in names if m not in STREAMED_MEASURES]
    if bad:
        raise ValueError(f"measure {bad[0]}: out of core only {' and '.join(STREAMED_MEASURES)} are streamed; "
                         "load the data into memory for the others")
    X, Y = distributed.as_dask_pair(a, b, (str(a), str(b)))
    out = {}
    for name in names:
        t0 = time.perf_counter()
        v = distributed.cka(X, Y, debiased=name.endswith("debiased"), scheduler=scheduler)
        out[name] = MeasureResult(name, float(v), True, seconds=time.perf_counter() - t0, params={"out_of_core": True})
    return SimilarityReport(int(X.shape[0]), int(X.shape[1]), int(Y.shape[1]), out)
