"""Matching and retrieval between unaligned encoders (maniparambil2024 §4): base selection,
stretching, local CKA, baselines and metrics. Work in progress: see the matching issue."""

from .baselines import cosine_scores, linear_regression_scores, relative_scores
from .local_cka import local_cka, local_cka_naive
from .metrics import matching_accuracy, retrieval_metrics
from .prep import select_base, stretch

__all__ = [
    "cosine_scores", "linear_regression_scores", "relative_scores", "local_cka", "local_cka_naive",
    "matching_accuracy", "retrieval_metrics", "select_base", "stretch",
]
