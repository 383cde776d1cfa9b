"""Experiments: one module per result the README reports; each returns a result object and
writes JSON."""

from .ablation import AblationResult, run_ablation
from .classification import ClassificationResult, run_classification
from .crosslingual import CrossLingualResult, run_crosslingual
from .demo import DemoResult, run_demo

__all__ = ["AblationResult", "run_ablation", "ClassificationResult", "run_classification", "CrossLingualResult", "run_crosslingual", "DemoResult", "run_demo", "EXPERIMENTS"]

EXPERIMENTS = {
    "crosslingual": "XTD-10 caption matching, English-only vs multilingual encoders (paper Table 4 analogue)",
    "ablation": "k-means base x stretching x CKA kernel for QAP / local CKA (paper Table 6 analogue)",
    "classification": "CIFAR-10 through EfficientNet-Lite vs class prompts, local CKA (paper Table 3 analogue)",
}
