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
from .layers import LayersResult, run_layers_effnet, run_layers_text
from .rsm import (
    RSMApproxResult,
    RSMOutputResult,
    RSMRetrievalResult,
    RSMTranslationResult,
    run_rsm_approx,
    run_rsm_output,
    run_rsm_retrieval,
    run_rsm_translation,
)
from .spec import (
    SpecAlignExperimentResult,
    SpecCifarResult,
    SpecPlantedResult,
    SpecXTDResult,
    run_spec_align,
    run_spec_cifar,
    run_spec_planted,
    run_spec_xtd,
)

__all__ = ["AblationResult", "run_ablation", "ClassificationResult", "run_classification", "CrossLingualResult",
           "run_crosslingual", "DemoResult", "run_demo", "EXPERIMENTS", "CKAvsQAPResult", "run_cka_vs_qap",
           "BlindCifarResult", "run_blind_cifar", "UnsupervisedExperimentResult", "run_unsupervised",
           "BlindXTDResult", "run_blind_xtd", "SolverComparisonResult", "run_qap_solvers", "RESULT_TYPES",
           "SpecCifarResult", "run_spec_cifar", "SpecXTDResult", "run_spec_xtd", "SpecPlantedResult", "run_spec_planted",
           "SpecAlignExperimentResult", "run_spec_align", "RSMTranslationResult", "run_rsm_translation",
           "RSMRetrievalResult", "run_rsm_retrieval", "RSMOutputResult", "run_rsm_output", "RSMApproxResult",
           "run_rsm_approx", "LayersResult", "run_layers_effnet", "run_layers_text"]

RESULT_TYPES = {"crosslingual": CrossLingualResult, "ablation": AblationResult, "classification": ClassificationResult,
                "cka-vs-qap": CKAvsQAPResult, "blind-cifar": BlindCifarResult, "unsupervised": UnsupervisedExperimentResult,
                "blind-xtd": BlindXTDResult, "qap-solvers": SolverComparisonResult, "spec-cifar": SpecCifarResult,
                "spec-xtd": SpecXTDResult, "spec-planted": SpecPlantedResult, "spec-align": SpecAlignExperimentResult,
                "rsm-translation": RSMTranslationResult, "rsm-retrieval": RSMRetrievalResult,
                "rsm-output": RSMOutputResult, "rsm-approx": RSMApproxResult, "layers-effnet": LayersResult,
                "layers-text": LayersResult}

EXPERIMENTS = {
    "crosslingual": "XTD-10 caption matching, English-only vs multilingual encoders (paper Table 4 analogue)",
    "ablation": "k-means base x stretching x CKA kernel for QAP / local CKA (paper Table 6 analogue)",
    "classification": "CIFAR-10 through EfficientNet-Lite vs class prompts, local CKA (paper Table 3 analogue)",
    "cka-vs-qap": "CKA against QAP matching accuracy over encoder pairs (maniparambil2024 Figure 2 analogue)",
    "blind-cifar": "CIFAR-10 blind matching of class means, GW / CKA / mutual k-NN (schnaus2025 small scale)",
    "unsupervised": "unsupervised CIFAR-10 classifier: k-means centres matched to class names (schnaus2025)",
    "blind-xtd": "XTD-10 caption blind matching for N = 10..100, selected vs random subsets (schnaus2025)",
    "qap-solvers": "FAQ, 2-opt, entropic GW, tabu, Hahn-Grant on the same instances (schnaus2025 Table 1)",
    "spec-cifar": "SPEC modes of EfficientNet-Lite0 vs Lite2 and vs raw pixels on CIFAR-10, AMI/NMI (jalali2025)",
    "spec-xtd": "SPEC modes of minilm vs use-multilingual and vs GloVe on XTD-10 English captions (jalali2025)",
    "spec-planted": "SPEC recovers a group tight in one embedding and spread in the other (synthetic)",
    "spec-align": "SPEC-align of EfficientNet-Lite0 toward Lite2 on CIFAR-10: SPEC-diff, CKA, k-NN (jalali2025)",
    "rsm-translation": "overlapping crops: semantic vs spatio-semantic RSMs per depth, ROC-AUC (wald2024 §4.1)",
    "rsm-retrieval": "CIFAR-10 retrieval with semantic vs spatio-semantic RSMs per kernel (wald2024 §4.2)",
    "rsm-output": "JSD of ImageNet predictions vs representational similarity, with/without PI (wald2024 Table 1)",
    "rsm-approx": "Greedy / TopK-Greedy / Batch-Optimal / auction quality and time at S = 49..3136 (wald2024 Table 5)",
    "layers-effnet": "layer-wise CKA maps: EfficientNet-Lite0 vs itself and vs Lite2 on CIFAR-10",
    "layers-text": "layer-wise CKA maps: MiniLM vs MPNet (if installed) on XTD-10 English captions",
}
