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
"""

from .io import EmbeddingFile, load_embeddings, save_embeddings
from .layerwise import LayerwiseResult, layerwise
from .matching import (
    blind_match,
    class_means,
    local_cka,
    run_matching,
    select_subset,
    unsupervised_classifier,
)
from .measures import (
    DEFAULT_MEASURES,
    MEASURES,
    GWResult,
    Measure,
    MeasureResult,
    ShuffleCurve,
    SimilarityReport,
    bootstrap_ci,
    cka,
    cka_from_grams,
    cknna,
    evaluate,
    get_measure,
    gromov_wasserstein,
    gw_paired,
    hsic,
    hsic_from_grams,
    measure_names,
    mutual_knn,
    permutation_test,
    rbf_cka_blockwise,
    rdm,
    rsa,
    shuffle_curve,
)
from .moments import PairMoments, streamed_linear_cka
from .qap import QAPProblem, QAPResult, matching_problem, read_qaplib, seeded_qap, solve_qap
from .report.html import ReportResult, build_report
from .rsm import RSMResult, rsm_cka, semantic_rsm, semantic_vs_spatial, spatial_rsm
from .spec import SPECResult, mode_agreement, sigma_scan, spec

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MEASURES", "MEASURES", "GWResult", "Measure", "MeasureResult", "ShuffleCurve",
    "SimilarityReport", "bootstrap_ci", "cka", "cka_from_grams", "cknna", "evaluate", "get_measure",
    "gromov_wasserstein", "gw_paired", "hsic", "hsic_from_grams", "measure_names", "mutual_knn",
    "permutation_test", "rbf_cka_blockwise", "rdm", "rsa", "shuffle_curve", "PairMoments",
    "streamed_linear_cka", "EmbeddingFile", "load_embeddings", "save_embeddings", "get_encoder",
    "list_encoders", "load_dataset", "list_datasets", "local_cka", "run_matching", "seeded_qap", "__version__",
    "QAPProblem", "QAPResult", "matching_problem", "read_qaplib", "solve_qap", "blind_match", "class_means",
    "select_subset", "unsupervised_classifier", "spec", "SPECResult", "mode_agreement", "sigma_scan", "spec_align",
    "semantic_rsm", "spatial_rsm", "RSMResult", "rsm_cka", "semantic_vs_spatial", "layerwise", "LayerwiseResult",
    "build_report", "ReportResult",
]


def __getattr__(name):
    # Encoders and datasets pull in heavier optional dependencies: import them on first use.
    if name in ("get_encoder", "list_encoders"):
        from . import encoders  # import cost: pulls the optional encoder stack on first use

        return getattr(encoders, name)
    if name == "spec_align":
        from .spec import align  # import cost: torch, first use only

        return align.spec_align
    if name in ("load_dataset", "list_datasets"):
        from . import datasets  # import cost: first use only

        return getattr(datasets, name)
    raise AttributeError(f"module 'repalign' has no attribute {name!r}")
