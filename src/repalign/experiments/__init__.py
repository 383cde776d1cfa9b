"""Experiments: one module per result the README reports; each returns a result object and
writes JSON."""

from .ablation import AblationResult, run_ablation
from .blind import (
    BlindCifarResult,
    BlindXTDResult,
    SolverComparisonResult,
    UnsupervisedExperimentResult,
    run_blind_cifar,
    run_blind_xtd,
    run_qap_solvers,
    run_unsupervised,
)
from .cka_vs_qap import CKAvsQAPResult, run_cka_vs_qap
from .classification import ClassificationResult, run_classification
from .crosslingual import CrossLingualResult, run_crosslingual
from .demo import DemoResult, run_demo

__all__ = ["AblationResult", "run_ablation", "ClassificationResult", "run_classification", "CrossLingualResult",
           "run_crosslingual", "DemoResult", "run_demo", "EXPERIMENTS", "CKAvsQAPResult", "run_cka_vs_qap",
           "BlindCifarResult", "run_blind_cifar", "UnsupervisedExperimentResult", "run_unsupervised",
           "BlindXTDResult", "run_blind_xtd", "SolverComparisonResult", "run_qap_solvers", "RESULT_TYPES"]

RESULT_TYPES = {"crosslingual": CrossLingualResult, "ablation": AblationResult, "classification": ClassificationResult,
                "cka-vs-qap": CKAvsQAPResult, "blind-cifar": BlindCifarResult, "unsupervised": UnsupervisedExperimentResult,
                "blind-xtd": BlindXTDResult, "qap-solvers": SolverComparisonResult}

EXPERIMENTS = {
    "crosslingual": "XTD-10 caption matching, English-only vs multilingual encoders (paper Table 4 analogue)",
    "ablation": "k-means base x stretching x CKA kernel for QAP / local CKA (paper Table 6 analogue)",
    "classification": "CIFAR-10 through EfficientNet-Lite vs class prompts, local CKA (paper Table 3 analogue)",
    "cka-vs-qap": "CKA against QAP matching accuracy over encoder pairs (maniparambil2024 Figure 2 analogue)",
    "blind-cifar": "CIFAR-10 blind matching of class means, GW / CKA / mutual k-NN (schnaus2025 small scale)",
    "unsupervised": "unsupervised CIFAR-10 classifier: k-means centres matched to class names (schnaus2025)",
    "blind-xtd": "XTD-10 caption blind matching for N = 10..100, selected vs random subsets (schnaus2025)",
    "qap-solvers": "FAQ, 2-opt, entropic GW, tabu, Hahn-Grant on the same instances (schnaus2025 Table 1)",
}
