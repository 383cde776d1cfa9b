"""Similarity measures between two row-paired embedding sets, and their uncertainty."""

from .cka import cka, cka_from_grams, hsic, hsic_from_grams, rbf_cka_blockwise
from .gw import GWResult, gromov_wasserstein, gw_paired
from .knn import cknna, mutual_knn
from .registry import MEASURES, Measure, get_measure, measure_names
from .rsa import rdm, rsa
from .stats import (
    DEFAULT_MEASURES,
    MeasureResult,
    ShuffleCurve,
    SimilarityReport,
    bootstrap_ci,
    evaluate,
    permutation_test,
    shuffle_curve,
    shuffle_fraction,
)

__all__ = [
    "cka", "cka_from_grams", "hsic", "hsic_from_grams", "rbf_cka_blockwise", "GWResult",
    "gromov_wasserstein", "gw_paired", "cknna", "mutual_knn", "MEASURES", "Measure", "get_measure",
    "measure_names", "rdm", "rsa", "DEFAULT_MEASURES", "MeasureResult", "ShuffleCurve",
    "SimilarityReport", "bootstrap_ci", "evaluate", "permutation_test", "shuffle_curve",
    "shuffle_fraction",
]
