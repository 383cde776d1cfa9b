"""The argument parser of every subcommand.

It imports nothing of the library's maths: ``--help``, ``--version`` and every argument error are
answered before any command module (and so numpy, scipy, numba, torch) is loaded. Each
subcommand names the module of :mod:`repalign.cli` that runs it (``func="similarity"``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .._formats import FORMATS
from .._version import version
from ..qap.registry import SOLVER_INFO
from .errors import UsageError

__all__ = ["build_parser", "UsageError"]

DESCRIPTION = "Measure, match, explain and align the representation spaces of neural encoders."


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage + error over several lines; we print one
        raise UsageError(f"{message} (see '{self.prog} --help')")


class _Version(argparse.Action):
    """``--version``: reads the installed version (importlib.metadata, 40 ms) only when asked."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.exit(message=f"repalign {version()}\n")


def _input_path(text: str) -> str:
    """An input file or folder that exists (``FILE.npz:KEY`` names an array inside a file)."""
    if not Path(text).exists() and not (":" in text and Path(text.rsplit(":", 1)[0]).exists()):
        raise argparse.ArgumentTypeError(f"no such file or folder: {text}")
    return text


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {v}")
        return v

    parse.__name__ = f"integer >= {minimum}"
    return parse


def _float_in(ok, unparsed: str, out_of_range: str):
    """An argparse type: a float for which ``ok(v)`` holds, with the two messages to give."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{unparsed}, got {text!r}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"{out_of_range}, got {text}")
        return v

    return parse


_positive_float = _float_in(lambda v: 0 < v < float("inf"), "expected a number", "must be > 0")
_open_fraction = _float_in(lambda v: 0 < v < 1, "expected a number in (0, 1)", "expected a number in (0, 1)")
_fraction = _float_in(lambda v: 0 <= v <= 1, "expected a number in [0, 1]", "expected a number in [0, 1]")


_positive = _int_at_least(1)
_non_negative = _int_at_least(0)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (one-line errors, see the module docstring)."""
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an error")
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars or progress lines on stderr (log level WARNING)")
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="more detail on stderr (log level DEBUG)")

    p = _Parser(prog="repalign", description=DESCRIPTION, parents=[common])
    p.set_defaults(debug=False, quiet=False, verbose=False)
    p.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def add(name, **kw):
        return sub.add_parser(name, parents=[common], **kw)

    def table_opts(sp):
        sp.add_argument("--index-column", choices=("auto", "drop", "keep"), default="auto",
                        help="CSV/TSV/parquet: a leading row-index column is dropped when named so and refused when "
                             "unnamed (auto, default), dropped, or kept as a feature")
        sp.add_argument("--label-columns", choices=("auto", "drop", "keep"), default="auto",
                        help="CSV/TSV/parquet: integer columns named label/class/target/y/id are refused (auto, "
                             "default), dropped, or kept as features")

    def measure_opts(sp):
        sp.add_argument("--measure", action="extend", nargs="+", metavar="NAME",
                        help="measures to compute (default: all); see `repalign list measures`")
        sp.add_argument("--k", type=_positive, default=None, help="k for mutual-knn / cknna (default 10)")
        sp.add_argument("--seed", type=_non_negative, default=0, help="random seed of the resampling (default 0)")
        sp.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        sp.add_argument("--force", action="store_true", help="overwrite existing outputs")
        table_opts(sp)

    s = add("similarity", help="every similarity measure between two embedding files")
    s.add_argument("a", type=_input_path, help="embedding file (rows = items), or a .zarr store / folder of .parquet files")
    s.add_argument("b", type=_input_path, help="embedding file, same rows in the same order")
    measure_opts(s)
    s.add_argument("--permutations", type=_non_negative, default=0,
                   help="permutation-test resamples for p-values (default 0: none)")
    s.add_argument("--bootstrap", type=_non_negative, default=0,
                   help="resamples for intervals (default 0: none)")
    s.add_argument("--level", type=_open_fraction, default=0.95, help="interval level (default 0.95)")
    s.add_argument("--scheduler", default=None,
                   help="run on this Dask scheduler (tcp://host:8786): the resamples, or the streamed moments")
    s.add_argument("--out-of-core", action="store_true",
                   help="stream linear CKA chunk by chunk on Dask (automatic for .zarr stores and folders of "
                        ".parquet files; .npy files are memory-mapped)")
    s.add_argument("--out", help="also write the JSON result to this .json file")
    s.set_defaults(func="similarity")

    s = add("shuffle-curve", help="measures against the fraction of shuffled pairs")
    s.add_argument("a", type=_input_path, help="embedding file (rows = items)")
    s.add_argument("b", type=_input_path, help="embedding file, same rows in the same order")
    measure_opts(s)
    s.add_argument("--fractions", type=_fraction, nargs="+", default=None,
                   help="fractions of rows to shuffle (default 0 0.1 ... 1)")
    s.add_argument("--repeats", type=_positive, default=3, help="shuffles per fraction (default 3)")
    s.add_argument("--plot", help="write a plot here (.png, .pdf or .svg)")
    s.add_argument("--out", help="write the JSON result to this .json file")
    s.set_defaults(func="shuffle_curve", measure=None)

    s = add("match", help="match / retrieve between two unaligned embedding sets (base + queries)")
    table_opts(s)
    s.add_argument("a", type=_input_path, help="embeddings of side A (rows in ground-truth order)")
    s.add_argument("b", type=_input_path, help="embeddings of side B, same rows")
    s.add_argument("--base-size", type=_positive, default=320, help="known pairs (anchors) per seed (default 320)")
    s.add_argument("--query-size", type=_positive, default=500, help="pairs to match per seed (default 500)")
    s.add_argument("--method", action="extend", nargs="+", metavar="NAME",
                   help="qap, local-cka, linear, relative, cosine (default: all but cosine)")
    s.add_argument("--stretch", action=argparse.BooleanOptionalAction, default=True,
                   help="divide features by their std over base ∪ query (default on)")
    s.add_argument("--base-selection", choices=("kmeans", "uniform"), default="kmeans",
                   help="how the base pairs are chosen (default kmeans)")
    s.add_argument("--seeds", type=_non_negative, nargs="+", default=[0, 1, 2],
                   help="random seeds, one split each (default 0 1 2)")
    s.add_argument("--kernel", choices=("linear", "rbf"), default="linear",
                   help="kernel for local CKA and QAP (RBF: median rule per space)")
    s.add_argument("--restarts", type=_positive, default=1, help="QAP restarts (randomized starts when > 1)")
    s.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    s.add_argument("--out", help="write the full result (per-seed runs too) to this .json file")
    s.add_argument("--force", action="store_true", help="overwrite an existing output")
    s.set_defaults(func="match")

    s = add("embed", help="embed texts, images or a dataset with an encoder")
    s.add_argument("--model", required=True, help="encoder name (see `repalign list encoders`)")
    s.add_argument("--texts", help="UTF-8 text file, one item per line (blank lines inside are refused)")
    s.add_argument("--images", help="folder of images (searched recursively, sorted by path)")
    s.add_argument("--dataset", help="dataset name (see `repalign list datasets`)")
    s.add_argument("--out", required=True, help=f"output file ({' '.join(FORMATS)})")
    s.add_argument("--data-dir", help="data folder (default $REPALIGN_DATA)")
    s.add_argument("--per-class", type=_positive, help="image datasets: items per class")
    s.add_argument("--limit", type=_positive, help="embed only the first N items (texts, images or dataset)")
    s.add_argument("--batch-size", type=_positive, default=None, help="items per forward pass (default: the model's)")
    s.add_argument("--jobs", dest="jobs", type=_positive, default=None,
                   help="threads of the encoder (default: its own)")
    s.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    s.add_argument("--device", default=None,
                   help="torch encoders: cpu (default), cuda, cuda:N or auto; the ONNX / numpy engines run on the CPU")
    s.add_argument("--feature-maps", metavar="LAYER",
                   help="EfficientNet-Lite only: write the (N, C, H, W) maps after LAYER (stem, a block index or "
                        "head) to a .npy file instead of pooled embeddings (input to `repalign rsm`)")
    s.add_argument("--force", action="store_true", help="overwrite an existing output")
    s.set_defaults(func="embed")

    s = add("demo", help="the main job: two encoders on the same items, every measure")
    s.add_argument("--out", default="results/demo", help="output folder (default results/demo)")
    s.add_argument("--data-dir", help="data folder (default $REPALIGN_DATA); XTD-10 pairs need it")
    s.add_argument("--permutations", type=_non_negative, default=100, help="permutation-test resamples (default 100)")
    s.add_argument("--bootstrap", type=_non_negative, default=50, help="interval resamples (default 50)")
    s.add_argument("--repeats", type=_positive, default=3, help="shuffle-curve repeats per fraction (default 3)")
    s.add_argument("--limit", type=_positive, default=None, help="first N items of every set (quick run, N >= 20)")
    s.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    s.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    s.add_argument("--force", action="store_true", help="overwrite existing outputs")
    s.set_defaults(func="demo")

    s = add("experiment", help="list or run the paper experiments on real data")
    s.add_argument("what", nargs="+", metavar="list | run NAME... | NAME",
                   help="'list' the experiments, or 'run' one or more by name ('all' for every one); "
                        "a bare NAME is the same as 'run NAME'")
    s.add_argument("--time-limit", type=_positive_float, default=None,
                   help="an optional cap in QAP seconds per instance (blind / solver experiments; default none)")
    s.add_argument("--out-dir", default="results", help="where NAME.json and NAME.md go (default results/)")
    s.add_argument("--data-dir", help="data folder (default $REPALIGN_DATA)")
    s.add_argument("--languages", nargs="+", default=None, help="XTD-10 languages (default: all but en)")
    s.add_argument("--seeds", type=_non_negative, nargs="+", default=[0, 1, 2], help="random seeds (default 0 1 2)")
    s.add_argument("--scheduler", default=None, help="run the units on this Dask scheduler (tcp://host:8786)")
    s.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    s.add_argument("--force", action="store_true",
                   help="overwrite existing outputs and recompute finished units (checkpoints in NAME.parts/)")
    s.set_defaults(func="experiment")

    s = add("qap", help="solve a QAPLIB instance (.dat), with a bound where the solver gives one")
    s.add_argument("file", help="QAPLIB .dat file")
    s.add_argument("--solver", default="hahn-grant",
                   help=f"{', '.join(SOLVER_INFO)} (default hahn-grant; see `repalign list solvers`)")
    s.add_argument("--time-limit", type=_positive_float, default=None,
                   help="an optional cap in seconds for tabu / multistart / hahn-grant (default none: work "
                        "budgets only, the same answer on every machine)")
    s.add_argument("--budget", type=_positive, default=None,
                   help="the solver's work budget: iterations (tabu), runs (multistart, faq), dual rounds "
                        "(hahn-grant); default the solver's own")
    s.add_argument("--seed", type=_non_negative, default=None, help="the solver's seed (default 0)")
    s.add_argument("--reference", default="auto",
                   help="a .sln to compare against: 'auto' (FILE.sln beside the .dat, if any; default), "
                        "a path, or 'none'")
    s.add_argument("--out", help="write the permutation as a QAPLIB .sln file")
    s.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    s.add_argument("--force", action="store_true", help="overwrite an existing output")
    s.set_defaults(func="qap")

    s = add("spec", help="where two embeddings of the same items cluster them differently (SPEC, jalali2025)")
    table_opts(s)
    s.add_argument("a", type=_input_path, help="embedding file A (rows = items; .npy files, .zarr stores and "
                                                 "folders of .parquet files are streamed)")
    s.add_argument("b", type=_input_path, help="embedding file B, the same items in the same order")
    s.add_argument("--kernel", choices=("cosine", "gaussian", "linear"), default="cosine",
                   help="kernel of both embeddings (default cosine)")
    s.add_argument("--rff", type=_positive, default=None,
                   help="gaussian: random Fourier frequencies per embedding (default 2000)")
    s.add_argument("--sigma-a", type=_positive_float, default=None,
                   help="gaussian bandwidth of A (default: median rule on A)")
    s.add_argument("--sigma-b", type=_positive_float, default=None,
                   help="gaussian bandwidth of B (default: median rule on B)")
    s.add_argument("--eta", type=float, default=1.0, help="weight of B's kernel in K_A - eta K_B (default 1)")
    s.add_argument("--modes", type=_positive, default=5, help="modes reported per sign (default 5)")
    s.add_argument("--top", type=_positive, default=10, help="items listed per mode (default 10)")
    s.add_argument("--route", choices=("auto", "direct", "covariance", "cholesky"), default="auto",
                   help="how the eigen-pairs are computed (default auto)")
    s.add_argument("--spectrum", choices=("auto", "full", "ends"), default="auto",
                   help="cholesky route: every eigenvalue, or the modes' ends only (Lanczos; auto: the ends above "
                        "512 joint features)")
    s.add_argument("--seed", type=_non_negative, default=0, help="random features and subsamples (default 0)")
    s.add_argument("--texts", help="text file, one item per line in row order: captions per mode in modes.md")
    s.add_argument("--images", help="image folder in row order (sorted paths): galleries per mode")
    s.add_argument("--map", action="store_true", help="also draw a t-SNE / UMAP map coloured by mode (map.png)")
    s.add_argument("--scheduler", default=None, help="compute the covariances on this Dask scheduler")
    s.add_argument("--out", help="folder for spec.json, spectrum.png, modes.md (+ galleries, map)")
    s.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    s.add_argument("--force", action="store_true", help="overwrite existing outputs")
    s.set_defaults(func="spec")

    s = add("rsm", help="semantic (spatial-permutation invariant) or spatio-semantic RSM of feature maps (wald2024)")
    s.add_argument("maps", type=_input_path, help="feature maps: .npy or .npz (FILE:KEY) of shape (N, C, H, W) (see --layout)")
    s.add_argument("--other", type=_input_path, help="a second set of maps of the same layer: a rectangular query x database RSM")
    s.add_argument("--kernel", choices=("cosine", "inner", "rbf"), default="cosine", help="kernel (default cosine)")
    s.add_argument("--invariance", choices=("none", "permutation"), default="permutation",
                   help="permutation: semantic RSM (default); none: spatio-semantic")
    s.add_argument("--matcher", default="optimal",
                   help="optimal (default), greedy, topk-greedy:K, batch-optimal:W or auction:TOL (certified "
                        "within TOL of the optimum, e.g. auction:0.01)")
    s.add_argument("--backend", choices=("auto", "auction-jv", "lapjv", "scipy", "lap", "ortools"), default="auto",
                   help="exact assignment solver (default auto: auction-jv, see repalign.rsm.core.rsm_backend)")
    s.add_argument("--layout", choices=("NCHW", "NHWC", "NTD"), default="NCHW", help="axis order (default NCHW)")
    s.add_argument("--center", action="store_true", help="subtract each channel's mean over samples and positions first (keeps the "
                        "spatial-permutation invariance)")
    s.add_argument("--jobs", type=_positive, default=1, help="processes (default 1)")
    s.add_argument("--checkpoint", help="a .npz file that makes a long run resumable")
    s.add_argument("--scheduler", default=None, help="run the blocks on this Dask scheduler (tcp://host:8786)")
    s.add_argument("--out", help="write the RSM to this .npy file (+ .json sidecar)")
    s.add_argument("--json", action="store_true", help="print the settings and shape as JSON")
    s.add_argument("--force", action="store_true", help="overwrite existing outputs")
    s.set_defaults(func="rsm")

    s = add("layers", help="CKA of every layer of one model with every layer of another (heatmap)")
    s.add_argument("model_a", help="packaged encoder (efficientnet-lite0, minilm, ...), timm:NAME or module.py:factory")
    s.add_argument("model_b", nargs="?", default=None, help="the other model (default: model_a against itself)")
    s.add_argument("--dataset", help="items from a dataset (see `repalign list datasets`)")
    s.add_argument("--texts", help="items from a text file, one per line")
    s.add_argument("--images", help="items from an image folder (one subfolder per class)")
    s.add_argument("--data-dir", help="data folder (default $REPALIGN_DATA)")
    s.add_argument("--limit", type=_positive, default=None, help="first N items")
    s.add_argument("--per-class", type=_positive, default=None, help="image datasets: items per class")
    s.add_argument("--layers-a", default=None, help="glob or re:REGEX over model A's module names (default: its blocks)")
    s.add_argument("--layers-b", default=None, help="the same for model B")
    s.add_argument("--estimator", choices=("streamed", "minibatch"), default="streamed",
                   help="exact streamed linear CKA (default) or minibatch unbiased CKA (Nguyen et al.)")
    s.add_argument("--pooling", choices=("mean", "cls", "flatten"), default="mean",
                   help="how maps / token sequences become vectors (default mean)")
    s.add_argument("--batch-size", type=_positive, default=32, help="items per forward pass (default 32)")
    s.add_argument("--seed", type=_non_negative, default=0, help="item order for the minibatch estimator")
    s.add_argument("--device", default=None, help="where the forward passes run: cpu (default), cuda, cuda:N, auto")
    s.add_argument("--out", help="folder for layers.json, layers.png (heatmap), diagonal.png")
    s.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    s.add_argument("--force", action="store_true", help="overwrite existing outputs")
    s.set_defaults(func="layers")

    s = add("report", help="one self-contained HTML page of everything in a results folder")
    s.add_argument("results", help="results folder (searched recursively)")
    s.add_argument("-o", "--output", default="report.html", help="the HTML file (default report.html)")
    s.add_argument("--title", default=None, help="page title")
    s.add_argument("--json", action="store_true", help="print what was rendered and skipped as JSON")
    s.add_argument("--force", action="store_true", help="overwrite an existing page")
    s.set_defaults(func="report")

    s = add("list", help="list encoders, measures, datasets, experiments or QAP solvers")
    s.add_argument("what", choices=("encoders", "measures", "datasets", "experiments", "solvers"),
                   help="what to list")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func="listing")
    return p
