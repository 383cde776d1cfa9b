"""Similarity measures between two row-paired embedding sets, and their uncertainty."""

import lazy_loader

# each public name is imported from its module on first use (PEP 562)
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "kernel_alignment": [
            "cka", "cka_from_grams", "hsic", "hsic_from_grams", "rbf_cka_blockwise"
        ],
        "torch_backend": ["cka_loss", "hsic_loss"],
        "gw": ["GWResult", "gromov_wasserstein", "gw_paired"],
        "knn": ["cknna", "mutual_knn"],
        "registry": ["MEASURES", "Measure", "get_measure", "measure_names"],
        "dissimilarity": ["rdm", "rsa"],
        "stats": [
            "DEFAULT_MEASURES", "MeasureResult", "ShuffleCurve", "SimilarityReport", "bootstrap_ci",
            "evaluate", "permutation_test", "shuffle_curve", "shuffle_fraction", "evaluate_out_of_core", "STREAMED_MEASURES"
        ],
    },
)
