"""A registry of similarity measures with their metadata.

Every measure declares its direction (is a larger value more similar?), its range, the
transformations it is invariant to, and how many samples it needs. ``get_measure(name)``
returns a :class:`Measure`; calling it on ``(X, Y)`` returns a float.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .._validate import check_positive_int
from .dissimilarity import rsa
from .gw import gw_paired
from .kernel_alignment import cka
from .knn import cknna, mutual_knn

__all__ = ["Measure", "MEASURES", "get_measure", "measure_names"]

_ROT = ("orthogonal transform", "isotropic scaling", "joint row permutation")


@dataclass(frozen=True)
class Measure:
    """A named similarity measure between two row-paired embedding sets; call it on ``(X, Y)``.

    Attributes
    ----------
    name : str
    fn : callable
        ``fn(X, Y, **params) -> float``.
    higher_is_more_similar : bool
    range : tuple of float
    invariances : tuple of str
    min_samples : int
        Fewest items it needs (k + 1 for neighbourhood measures, whatever k is).
    description : str
    params : dict
        Keyword arguments passed to ``fn``.
    family : str
        Which fast resampling path applies (:mod:`repalign.measures.resample`).
    accepts_groups : bool
        Whether ``fn`` takes ``groups=``.
    """

    name: str
    fn: Callable[..., float] = field(repr=False)
    higher_is_more_similar: bool
    range: tuple[float, float]
    invariances: tuple[str, ...]
    min_samples: int
    description: str
    params: dict = field(default_factory=dict)
    family: str = "generic"  # which fast resampling path applies (see measures.resample)
    accepts_groups: bool = False  # takes groups= (rows never neighbours of same-group rows)

    def __post_init__(self):
        # neighbourhood measures need k + 1 distinct items, whatever k is
        if "k" in self.params:
            object.__setattr__(self, "min_samples", max(self.min_samples, int(self.params["k"]) + 1))

    @property
    def scale_invariant(self) -> bool:
        """Whether scaling X or Y by a constant leaves the value unchanged: every registered measure,
        except an RBF kernel with a numeric bandwidth and CKNNA with ``eps > 0``. Such measures
        are computed on inputs rescaled to unit scale (no overflow near 1e300, no underflow near
        1e-300)."""
        if "sigma" in self.params and not isinstance(self.params["sigma"], (str, type(None))):
            return False
        return not float(self.params.get("eps", 0) or 0) > 0

    def check_samples(self, n: int) -> None:
        """Raise a ValueError that names this measure (and k) when ``n`` items are too few."""
        if n >= self.min_samples:
            return
        if "k" in self.params:
            raise ValueError(f"{self.name}: needs at least k + 1 = {self.min_samples} items with k = {self.params['k']}, "
                             f"got {n}; lower k (CLI --k) or leave {self.name} out (CLI --measure)")
        raise ValueError(f"{self.name}: needs at least {self.min_samples} items, got {n}; "
                         f"leave {self.name} out (CLI --measure)")

    def __call__(self, X, Y, **extra) -> float:
        return float(self.fn(X, Y, **self.params, **extra))

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "higher_is_more_similar": self.higher_is_more_similar,
            "range": list(self.range),
            "invariances": list(self.invariances),
            "min_samples": self.min_samples,
            "description": self.description,
            "params": dict(self.params),
        }


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in [
        Measure("cka-linear", cka, True, (0.0, 1.0), _ROT + ("translation",), 2,
                "CKA with linear kernels (maniparambil2024 Eq. 1)", {"kernel": "linear"}, "cka"),
        Measure("cka-rbf", cka, True, (0.0, 1.0), _ROT + ("translation",), 3,
                "CKA with RBF kernels, bandwidth = sqrt(lower median of non-zero squared distances) per space",
                {"kernel": "rbf", "sigma": "median"}, "cka"),
        Measure("cka-cosine", cka, True, (0.0, 1.0), ("orthogonal transform", "isotropic scaling",
                "per-row scaling", "joint row permutation"), 2,
                "CKA with linear kernels on L2-normalised rows", {"kernel": "cosine"}, "cka"),
        Measure("cka-linear-debiased", cka, True, (-1.0, 1.0), _ROT + ("translation",), 4,
                "CKA with Song et al.'s unbiased HSIC (Kornblith et al. 2019)",
                {"kernel": "linear", "debiased": True}, "cka"),
        Measure("mutual-knn", mutual_knn, True, (0.0, 1.0), ("orthogonal transform", "isotropic scaling",
                "per-row scaling", "joint row permutation"), 2,
                "mean fraction of shared k nearest neighbours (cosine), platonic-representation definition",
                {"k": 10}, "knn", True),
        Measure("cknna", cknna, True, (-1.0, 1.0), ("orthogonal transform", "isotropic scaling",
                "per-row scaling", "joint row permutation"), 4,
                "CKA restricted to mutual k-NN pairs (Huh et al. 2024)", {"k": 10}, "knn", True),
        Measure("gw", gw_paired, False, (0.0, float("inf")), _ROT + ("translation",), 2,
                "square-loss Gromov-Wasserstein objective of the ground-truth coupling, mean-normalised Euclidean distances",
                {}, "gw"),
        Measure("rsa", rsa, True, (-1.0, 1.0), ("isotropic scaling", "joint row permutation",
                "per-row affine maps"), 3,
                "Spearman correlation of 1 - Pearson RDMs", {"metric": "correlation", "compare": "spearman"}, "rsa"),
    ]
}


# before k raises it (min_samples of a registered measure already includes its default k)
_BASE_MIN_SAMPLES = {"mutual-knn": 2, "cknna": 4}


def measure_names() -> list[str]:
    """Names of the registered measures.

    Returns
    -------
    list of str
    """
    return list(MEASURES)


def get_measure(name: str, **params) -> Measure:
    """Look a measure up by name, optionally with other parameters.

    Parameters
    ----------
    name : str
        A registry name (``repalign list measures``).
    **params
        Overrides of its parameters (e.g. ``k=5``); unknown ones are an error.

    Returns
    -------
    Measure
    """
    if name not in MEASURES:
        raise ValueError(f"measure: unknown measure {name!r}; known measures: {', '.join(MEASURES)}")
    m = MEASURES[name]
    if not params:
        return m
    unknown = set(params) - set(m.params)
    if unknown:
        raise ValueError(f"measure {name!r}: unknown parameter(s) {sorted(unknown)}; it accepts {sorted(m.params)}")
    new = dict(m.params)
    new.update(params)
    if "k" in new:
        new["k"] = check_positive_int(new["k"], "k")
    base = _BASE_MIN_SAMPLES.get(m.name, m.min_samples)
    return Measure(m.name, m.fn, m.higher_is_more_similar, m.range, m.invariances, base,
                   m.description, new, m.family, m.accepts_groups)
