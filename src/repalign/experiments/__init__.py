"""Experiments: one module per result the README reports; each returns a result object and
writes JSON.

The experiments are listed once, in :mod:`.registry`; the runners and result types are imported
on first use."""

import lazy_loader

# each public name is imported from its module on first use (PEP 562)
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "ablation": ["AblationResult", "run_ablation"],
        "blind": [
            "BlindCifarResult", "BlindXTDResult", "SolverComparisonResult",
            "UnsupervisedExperimentResult", "run_blind_cifar", "run_blind_xtd", "run_qap_solvers",
            "run_unsupervised"
        ],
        "cka_vs_qap": ["CKAvsQAPResult", "run_cka_vs_qap"],
        "classification": ["ClassificationResult", "run_classification"],
        "crosslingual": ["CrossLingualResult", "run_crosslingual"],
        "demo": ["DemoResult", "run_demo"],
        "layers": ["LayersResult", "run_layers_effnet", "run_layers_text"],
        "rsm": [
            "RSMApproxResult", "RSMOutputResult", "RSMRetrievalResult", "RSMTranslationResult",
            "run_rsm_approx", "run_rsm_output", "run_rsm_retrieval", "run_rsm_translation"
        ],
        "spec": [
            "SpecCifarResult", "SpecPlantedResult", "SpecXTDResult",
            "run_spec_cifar", "run_spec_planted", "run_spec_xtd"
        ],
        "spec_align": ["SpecAlignExperimentResult", "run_spec_align"],
        "registry": ["EXPERIMENTS", "PAPERS", "Experiment", "get_experiment", "result_type"],
    },
)
