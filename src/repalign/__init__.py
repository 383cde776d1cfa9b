"""repalign: measure, match, explain and align the representation spaces of neural encoders.

The flat public API::

    import repalign as ra
    ra.cka(X, Y, kernel="rbf")            # centred kernel alignment
    ra.evaluate(X, Y, n_permutations=200) # every measure, with p-values / intervals
    ra.shuffle_curve(X, Y)                # measure vs fraction of broken pairs
    ra.load_embeddings("a.npy")           # embedding files in and out
    ra.local_cka(Zb, Hb, Zq, Hq)          # local CKA scores of every query pair (matching)
    ra.seeded_qap(A, B, seeds)            # seeded FAQ
    ra.solve_qap(ra.read_qaplib("nug12.dat"), "hahn-grant", time_limit=10)   # QAP with a bound
    ra.blind_match(V, T, "gw")            # match without any pairs (schnaus2025)
    ra.spec(A, B, kernel="cosine")        # where two encoders cluster the same items differently (jalali2025)
    ra.semantic_rsm(maps)                 # similarity invariant to where things are (wald2024)
    ra.layerwise("efficientnet-lite0", "efficientnet-lite2", images)   # CKA of every pair of layers
    ra.build_report("results/", "report.html")   # one self-contained HTML page of result files
    ra.get_encoder("minilm").encode([...])

Every name is imported on first use (PEP 562), so ``import repalign`` and the command line's
``--help`` load nothing heavy; ``dir(repalign)`` and ``__all__`` list them all.
"""

import lazy_loader

from . import _fork  # noqa: F401 - registers the fork hook at import (parallel kernels check it)

# public name -> the module that defines it; each is imported on first use (PEP 562)
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "io": ["EmbeddingFile", "load_embeddings", "save_embeddings"],
        "measures": [
            "DEFAULT_MEASURES", "MEASURES", "GWResult", "Measure", "MeasureResult", "ShuffleCurve",
            "SimilarityReport", "bootstrap_ci", "cka", "cka_from_grams", "cka_loss", "cknna", "evaluate", "get_measure",
            "gromov_wasserstein", "gw_paired", "hsic", "hsic_from_grams", "hsic_loss", "measure_names", "mutual_knn",
            "permutation_test", "rbf_cka_blockwise", "rdm", "rsa", "shuffle_curve",
        ],
        "moments": ["PairMoments", "streamed_linear_cka"],
        "qap": ["QAPProblem", "QAPResult", "matching_problem", "read_qaplib", "seeded_qap", "solve_qap"],
        "matching": [
            "blind_match", "class_means", "local_cka", "run_matching", "select_subset", "unsupervised_classifier",
        ],
        "spectral": ["SPECResult", "mode_agreement", "sigma_scan", "spec"],
        "spectral.align": ["spec_align"],
        "rsm": ["RSMResult", "rsm_cka", "semantic_rsm", "semantic_vs_spatial", "spatial_rsm"],
        "_layerwise": ["LayerwiseResult", "layerwise"],
        "encoders": ["get_encoder", "list_encoders"],
        "datasets": ["load_dataset", "list_datasets"],
        "report.html": ["ReportResult", "build_report"],
        "_version": ["__version__"],
    },
)
