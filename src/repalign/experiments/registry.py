"""The one registry of experiments: what each is, which paper table it mirrors, how to run it.

The command line (``repalign experiment list|run``), the HTML report (section titles, grouping
by paper, the result type of ``NAME.json``) and the README generator read this table; nothing
else lists experiments. Reading it imports no experiment module: :meth:`Experiment.runner` and
:meth:`Experiment.result_type` load the module on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

__all__ = ["Experiment", "EXPERIMENTS", "PAPERS", "get_experiment", "result_type"]

# paper keys as CONTRIBUTING.md names them -> the heading the report groups sections under
PAPERS = {
    "maniparambil2024": "Vision–language encoders (maniparambil2024, arXiv:2401.05224)",
    "schnaus2025": "Blind matching (schnaus2025, arXiv:2503.24129)",
    "jalali2025": "SPEC (jalali2025, arXiv:2506.06231)",
    "wald2024": "Semantic RSMs (wald2024, arXiv:2410.23107)",
    "repalign": "Layer-wise maps and the demo",
}


@dataclass(frozen=True)
class Experiment:
    """One experiment of the README.

    Attributes
    ----------
    name : str
        Command-line name; also the stem of the result files (``NAME.json``, ``NAME.md``).
    title : str
        One line: what it measures, and on what.
    paper : str
        A key of :data:`PAPERS`.
    mirrors : str
        The paper's table or figure it is the analogue of (empty when none).
    module : str
        Module under :mod:`repalign.experiments` that defines the runner and the result type.
    runner_name, result_name : str
        The function that runs it and the result class it returns.
    options : tuple of str
        Command-line settings its runner takes besides ``out``, ``force`` and ``log``:
        ``data_dir``, ``seeds``, ``languages``, ``time_limit``, ``scheduler``, ``plot``, ``progress``.
    needs_data : bool
        Whether it cannot run without the data folder (checked before anything is imported).
    """

    name: str
    title: str
    paper: str
    mirrors: str
    module: str
    runner_name: str
    result_name: str
    options: tuple[str, ...] = ("data_dir", "progress")
    needs_data: bool = True

    def _module(self):
        return importlib.import_module(f"{__package__}.{self.module}")

    def runner(self):
        """The function that runs the experiment (imports its module)."""
        return getattr(self._module(), self.runner_name)

    def result_type(self):
        """The result class, with ``from_dict`` and ``readme_markdown`` (imports its module)."""
        return getattr(self._module(), self.result_name)

    @property
    def distributed(self) -> bool:
        """Whether ``--scheduler`` runs its units as Dask tasks."""
        return "scheduler" in self.options

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "paper": self.paper, "mirrors": self.mirrors,
                "distributed": self.distributed}


def _e(name, title, paper, mirrors, module, runner, result, *options, needs_data: bool = True):
    return Experiment(name, title, paper, mirrors, module, runner, result, options or ("data_dir", "progress"),
                      needs_data)


_D, _P = "data_dir", "progress"
EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    _e("crosslingual", "XTD-10 caption matching, English-only vs multilingual encoders (paper Table 4 analogue)",
       "maniparambil2024", "Table 4", "crosslingual", "run_crosslingual", "CrossLingualResult",
       _D, _P, "seeds", "languages", "scheduler"),
    _e("ablation", "k-means base x stretching x CKA kernel for QAP / local CKA (paper Table 6 analogue)",
       "maniparambil2024", "Table 6", "ablation", "run_ablation", "AblationResult", _D, "seeds"),
    _e("classification", "CIFAR-10 through EfficientNet-Lite vs class prompts, local CKA (paper Table 3 analogue)",
       "maniparambil2024", "Table 3", "classification", "run_classification", "ClassificationResult",
       _D, _P, "seeds"),
    _e("cka-vs-qap", "CKA against QAP matching accuracy over encoder pairs (maniparambil2024 Figure 2 analogue)",
       "maniparambil2024", "Figure 2", "cka_vs_qap", "run_cka_vs_qap", "CKAvsQAPResult",
       _D, _P, "languages", "plot", "scheduler"),
    _e("blind-cifar", "CIFAR-10 blind matching of class means, GW / CKA / mutual k-NN (schnaus2025 small scale)",
       "schnaus2025", "", "blind", "run_blind_cifar", "BlindCifarResult",
       _D, _P, "time_limit"),
    _e("unsupervised", "unsupervised CIFAR-10 classifier: k-means centres matched to class names (schnaus2025)",
       "schnaus2025", "", "blind", "run_unsupervised", "UnsupervisedExperimentResult",
       _D, _P, "seeds", "time_limit"),
    _e("blind-xtd", "XTD-10 caption blind matching for N = 10..100, selected vs random subsets (schnaus2025)",
       "schnaus2025", "", "blind", "run_blind_xtd", "BlindXTDResult", _D, _P, "time_limit"),
    _e("qap-solvers", "FAQ, 2-opt, entropic GW, tabu, Hahn-Grant on the same instances (schnaus2025 Table 1)",
       "schnaus2025", "Table 1", "blind", "run_qap_solvers", "SolverComparisonResult",
       _D, _P, "time_limit", "scheduler", needs_data=False),  # real instances only when the data is there
    _e("spec-cifar", "SPEC modes of EfficientNet-Lite0 vs Lite2 and vs raw pixels on CIFAR-10, AMI/NMI (jalali2025)",
       "jalali2025", "", "spec", "run_spec_cifar", "SpecCifarResult"),
    _e("spec-xtd", "SPEC modes of minilm vs use-multilingual and vs GloVe on XTD-10 English captions (jalali2025)",
       "jalali2025", "", "spec", "run_spec_xtd", "SpecXTDResult"),
    _e("spec-planted", "SPEC recovers a group tight in one embedding and spread in the other (synthetic)",
       "jalali2025", "", "spec", "run_spec_planted", "SpecPlantedResult", _P, "scheduler", needs_data=False),
    _e("spec-align", "SPEC-align of EfficientNet-Lite0 toward Lite2 on CIFAR-10: SPEC-diff, CKA, k-NN (jalali2025)",
       "jalali2025", "", "spec_align", "run_spec_align", "SpecAlignExperimentResult"),
    _e("rsm-translation", "overlapping crops: semantic vs spatio-semantic RSMs per depth, ROC-AUC (wald2024 §4.1)",
       "wald2024", "§4.1", "rsm", "run_rsm_translation", "RSMTranslationResult"),
    _e("rsm-retrieval", "CIFAR-10 retrieval with semantic vs spatio-semantic RSMs per kernel (wald2024 §4.2)",
       "wald2024", "§4.2", "rsm", "run_rsm_retrieval", "RSMRetrievalResult"),
    _e("rsm-output", "JSD of ImageNet predictions vs representational similarity, with/without PI (wald2024 Table 1)",
       "wald2024", "Table 1", "rsm", "run_rsm_output", "RSMOutputResult"),
    _e("rsm-approx", "Greedy / TopK-Greedy / Batch-Optimal / auction quality and time at S = 49..3136 "
       "(wald2024 Table 5)", "wald2024", "Table 5", "rsm", "run_rsm_approx", "RSMApproxResult"),
    _e("layers-effnet", "layer-wise CKA maps: EfficientNet-Lite0 vs itself and vs Lite2 on CIFAR-10",
       "repalign", "", "layers", "run_layers_effnet", "LayersResult"),
    _e("layers-text", "layer-wise CKA maps: MiniLM vs MPNet (if installed) on XTD-10 English captions",
       "repalign", "", "layers", "run_layers_text", "LayersResult"),
)}


def get_experiment(name: str) -> Experiment:
    """The record of experiment ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`EXPERIMENTS`.

    Returns
    -------
    Experiment
    """
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise ValueError(f"experiment: unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}") from None


def result_type(name: str):
    """The result class of experiment ``name`` (``None`` when there is no such experiment).

    Parameters
    ----------
    name : str

    Returns
    -------
    type or None
    """
    e = EXPERIMENTS.get(name)
    return None if e is None else e.result_type()
