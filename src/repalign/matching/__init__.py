"""Matching and retrieval between unaligned encoders (maniparambil2024 §4): base selection,
stretching, local CKA, baselines, seeded QAP, metrics; and blind matching without pairs
(schnaus2025): class means, subset selection, an unsupervised classifier."""

import lazy_loader

# each public name is imported from its module on first use (PEP 562)
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "baselines": ["cosine_scores", "linear_regression_scores", "relative_scores"],
        "blind": [
            "BlindMatchResult", "SubsetResult", "UnsupervisedResult", "agreement_matrix",
            "blind_match", "class_means", "select_subset", "unsupervised_classifier"
        ],
        "classify": ["class_scores", "topk_accuracy"],
        "local": ["local_cka", "local_cka_naive"],
        "matchers": [
            "MATCHERS", "CosineMatcher", "LinearMatcher", "LocalCKAMatcher", "Matcher",
            "QAPMatcher", "RelativeMatcher", "make_matcher", "normalized_kernel"
        ],
        "metrics": ["assign", "matching_accuracy", "retrieval_metrics"],
        "prep": ["select_base", "stretch"],
        "protocol": ["MatchingResult", "run_matching", "split"],
    },
)
