"""Matching and retrieval between unaligned encoders (maniparambil2024 §4): base selection,
stretching, local CKA, baselines, seeded QAP, metrics; and blind matching without pairs
(schnaus2025): class means, subset selection, an unsupervised classifier."""

from .baselines import cosine_scores, linear_regression_scores, relative_scores
from .blind import (
    BlindMatchResult,
    SubsetResult,
    UnsupervisedResult,
    agreement_matrix,
    blind_match,
    class_means,
    select_subset,
    unsupervised_classifier,
)
from .classify import class_scores, topk_accuracy
from .local_cka import local_cka, local_cka_naive
from .matchers import (
    MATCHERS,
    CosineMatcher,
    LinearMatcher,
    LocalCKAMatcher,
    Matcher,
    QAPMatcher,
    RelativeMatcher,
    make_matcher,
    normalized_kernel,
)
from .metrics import assign, matching_accuracy, retrieval_metrics
from .prep import select_base, stretch
from .protocol import MatchingResult, run_matching, split

__all__ = [
    "cosine_scores", "linear_regression_scores", "relative_scores", "local_cka", "local_cka_naive",
    "matching_accuracy", "retrieval_metrics", "select_base", "stretch", "MATCHERS", "CosineMatcher",
    "LinearMatcher", "LocalCKAMatcher", "Matcher", "QAPMatcher", "RelativeMatcher", "make_matcher",
    "normalized_kernel", "assign", "MatchingResult", "run_matching", "split", "class_scores",
    "topk_accuracy", "BlindMatchResult", "SubsetResult", "UnsupervisedResult", "agreement_matrix", "blind_match",
    "class_means", "select_subset", "unsupervised_classifier",
]
