"""Command-line interface: one subcommand per verb, a thin layer over the Python API.

The promises, each tested:

* every error is one line on stderr, ``repalign: error: ...``, and exit code 2 (bad input,
  a file that cannot be read or written, a full disk, too little memory); 1 is reserved for
  a bug and says so; ``--debug`` (before or after the subcommand) shows the traceback;
* messages name the user's files and options, not internal variable names;
* warnings are one line each (``repalign: warning: ...``);
* an existing output is never replaced without ``--force``, and every output path and
  extension is checked before any work starts;
* long steps show a progress bar on stderr when it is a terminal and one line per step
  otherwise (``--quiet`` silences both);
* SIGTERM ends the run like Ctrl-C: temporary files are removed.
"""

from __future__ import annotations

import os

# Before anything can import torch: its OpenMP threads would otherwise spin after every op
# and slow numpy's BLAS several-fold on small machines.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse  # noqa: E402
import errno  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

from . import _progress  # noqa: E402
from .io import FORMATS, atomic_write, check_extension, check_writable  # noqa: E402

# Lazy imports: every other import is done inside the command that needs it, so that
# `repalign --help` and a mistyped option answer at once, without loading torch or the solvers.

__all__ = ["main", "build_parser", "CLIError"]

JSON_OUT = (".json",)
PLOT_OUT = (".png", ".pdf", ".svg")
SLN_OUT = (".sln",)


class CLIError(ValueError):
    """A user-facing error raised by the CLI layer itself."""


class _UsageError(Exception):
    """An argparse error, reported as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage + error over several lines; we print one
        raise _UsageError(f"{message} (see '{self.prog} --help')")


# ------------------------------------------------------------------------------------- helpers


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=float))


def _write_json(path, obj, force: bool) -> None:
    with atomic_write(path, force=force) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=float) + "\n", encoding="utf-8")


def _check_out(path, allowed, force: bool, what: str = "output") -> None:
    """Refuse a bad extension or an existing file before any work starts."""
    if path:
        check_extension(path, allowed, what)
        check_writable(path, force)


def _load_pair(a, b, measures=()):
    """Both files, checked with their own names in every message."""
    from ._validate import check_no_zero_variance
    from .io import read_embedding_file

    fa, fb = read_embedding_file(a), read_embedding_file(b)
    X, Y = fa.array, fb.array
    if X.shape[0] != Y.shape[0]:
        raise CLIError(f"{a} has {X.shape[0]} rows but {b} has {Y.shape[0]}; row i of both files must "
                       "describe the same item")
    for arr, name in ((X, a), (Y, b)):
        if arr.shape[0] < 2:
            raise CLIError(f"{name}: has {arr.shape[0]} row; at least 2 items are needed")
        check_no_zero_variance(arr, str(name))
    for m in measures:
        m.check_samples(X.shape[0])
    return X, Y


def _measures(args):
    from .measures import DEFAULT_MEASURES, get_measure

    names = args.measure or list(DEFAULT_MEASURES)
    out = []
    for name in names:
        params = {}
        if args.k is not None and name in ("mutual-knn", "cknna"):
            params["k"] = args.k
        out.append(get_measure(name, **params))
    return out


# internal argument names -> what the user typed (whole words only; see _friendly)
_OPTION_NAMES = {
    "n_repeats": "--repeats", "n_seeds": "--repeats", "n_permutations": "--permutations",
    "n_bootstrap": "--bootstrap", "base_size": "--base-size", "query_size": "--query-size",
    "time_limit": "--time-limit", "restarts": "--restarts", "batch_size": "--batch-size", "limit": "--limit",
    "level": "--level", "fractions": "--fractions", "seeds": "--seeds", "n_jobs": "--jobs", "per_class": "--per-class",
    "layers_a": "--layers-a", "layers_b": "--layers-b", "n_modes": "--modes", "sigma_a": "--sigma-a", "sigma_b": "--sigma-b", "matcher": "--matcher", "layout": "--layout",
}
_ARRAY_NAMES = ("Zb", "Hb", "Zq", "Hq", "X", "Y", "Z", "H")


def _friendly(msg: str, files: dict[str, str]) -> str:
    """Rewrite internal names in an API error for the command line: argument names become
    options (``n_permutations`` -> ``--permutations``) and, in the subject of the message (before
    its first colon), array names become the user's files (``Zb`` -> ``a.npy (base rows)``)."""
    head, sep, tail = msg.partition(": ")
    if not sep:
        head, tail = "", msg

    def arrays(text):
        return re.sub(r"\b(" + "|".join(_ARRAY_NAMES) + r")\b", lambda m: files.get(m.group(1), m.group(1)), text)

    def options(text):
        return re.sub(r"\b(" + "|".join(_OPTION_NAMES) + r")\b", lambda m: _OPTION_NAMES[m.group(1)], text)

    head = options(arrays(head))
    return (head + sep if sep else "") + options(tail)


def _pair_names(a, b) -> dict[str, str]:
    return {"X": str(a), "Z": str(a), "Zb": f"{a} (base rows)", "Zq": f"{a} (query rows)",
            "Y": str(b), "H": str(b), "Hb": f"{b} (base rows)", "Hq": f"{b} (query rows)"}


# ------------------------------------------------------------------------------------- commands


_STREAMED = ("cka-linear", "cka-linear-debiased")


def _is_store(path) -> bool:
    p = Path(path)
    return str(path).endswith(".zarr") or p.is_dir()


def _similarity_out_of_core(args):
    """Linear CKA (biased and debiased) streamed chunk by chunk on Dask (repalign.distributed)."""
    from . import distributed
    from .measures.stats import MeasureResult, SimilarityReport

    names = args.measure or list(_STREAMED)
    bad = [m for m in names if m not in _STREAMED]
    if bad:
        raise CLIError(f"--measure {bad[0]}: out of core only {' and '.join(_STREAMED)} are streamed; load the "
                       "data into memory (a file, not a store/folder, and no --out-of-core) for the others")
    if args.permutations or args.bootstrap:
        raise CLIError("--permutations/--bootstrap: resampling needs the data in memory; drop them out of core")
    X, Y = distributed.as_dask_pair(args.a, args.b, (str(args.a), str(args.b)))
    out = {}
    for name in names:
        t0 = time.perf_counter()
        v = distributed.linear_cka(X, Y, debiased=name.endswith("debiased"), scheduler=args.scheduler)
        out[name] = MeasureResult(name, float(v), True, seconds=time.perf_counter() - t0,
                                  params={"out_of_core": True})
    return SimilarityReport(int(X.shape[0]), int(X.shape[1]), int(Y.shape[1]), out)


def cmd_similarity(args) -> int:
    from .measures import evaluate
    from .report import format_similarity_table

    _check_out(args.out, JSON_OUT, args.force)
    streamed = args.out_of_core or _is_store(args.a) or _is_store(args.b)
    if streamed:
        rep = _similarity_out_of_core(args)
    else:
        ms = _measures(args)
        X, Y = _load_pair(args.a, args.b, ms)
        rep = evaluate(X, Y, ms, n_permutations=args.permutations, n_bootstrap=args.bootstrap, level=args.level,
                       seed=args.seed, progress=True, scheduler=args.scheduler)
    if args.out:
        _write_json(args.out, rep.to_dict(), args.force)
    if args.json:
        _print_json(rep.to_dict())
    else:
        print(f"n = {rep.n}, dims = {rep.dim_x} / {rep.dim_y}" + (" (streamed out of core)" if streamed else ""))
        print(format_similarity_table(rep))
    return 0


def cmd_shuffle_curve(args) -> int:
    from .measures import shuffle_curve
    from .report import plot_shuffle_curves

    _check_out(args.plot, PLOT_OUT, args.force, "plot")
    _check_out(args.out, JSON_OUT, args.force)
    ms = _measures(args)
    X, Y = _load_pair(args.a, args.b, ms)
    curve = shuffle_curve(X, Y, ms, fractions=args.fractions, n_repeats=args.repeats, seed=args.seed, progress=True)
    if args.plot:
        plot_shuffle_curves({f"{Path(args.a).stem} vs {Path(args.b).stem}": curve}, args.plot, force=args.force)
    if args.out:
        _write_json(args.out, curve.to_dict(), args.force)
    if args.json:
        _print_json(curve.to_dict())
    else:
        names = list(curve.mean)
        print("fraction  " + "  ".join(f"{n:>22}" for n in names))
        for i, f in enumerate(curve.fractions):
            cells = [f"{curve.mean[n][i]:>12.4f} ± {curve.std[n][i]:<7.4f}" for n in names]
            print(f"{f:8.2f}  " + "  ".join(cells))
    return 0


def cmd_match(args) -> int:
    from .matching import run_matching

    _check_out(args.out, JSON_OUT, args.force)
    X, Y = _load_pair(args.a, args.b)
    n = len(X)
    if args.base_size >= n:
        raise CLIError(f"--base-size: {args.base_size} must be smaller than the {n} rows of {args.a}")
    if args.base_size + args.query_size > n:
        raise CLIError(f"--query-size: base ({args.base_size}) + queries ({args.query_size}) exceed the {n} rows; "
                       f"use at most --query-size {n - args.base_size}")
    methods = args.method or ["qap", "local-cka", "relative", "linear"]
    opts = {"local-cka": {"kernel": args.kernel},
            "qap": {"restarts": args.restarts, "kernel": "rbf" if args.kernel == "rbf" else "cka"}}
    res = run_matching(X, Y, args.base_size, args.query_size, methods, args.seeds, use_stretch=args.stretch,
                       base_selection=args.base_selection,
                       method_options={m: o for m, o in opts.items() if m in methods}, progress=True)
    if args.out:
        _write_json(args.out, res.to_dict(), args.force)
    if args.json:
        _print_json({"methods": res.methods, "settings": res.settings})
    else:
        print(f"n = {len(X)}, base = {args.base_size}, queries = {args.query_size}, seeds = {args.seeds}")
        print(f"{'method':<10} {'matching':>16} {'top1':>8} {'top5':>8} {'top10':>8} {'seconds':>8}")
        for m, v in res.methods.items():
            print(f"{m:<10} {v['matching_accuracy']:>8.3f} ± {v['matching_accuracy_std']:<5.3f} {v['top1']:>8.3f} "
                  f"{v['top5']:>8.3f} {v['top10']:>8.3f} {v['seconds']:>8.3f}")
    return 0


def read_text_items(path, limit: int | None = None) -> list[str]:
    """One item per line of a UTF-8 text file: row i of the embeddings is line i + 1. A blank
    line inside the file is refused with its number (dropping it would shift every later row
    and pair parallel files wrongly); blank lines at the very end are ignored."""
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"{p}: no such text file (one item per line)")
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise CLIError(f"{p}: is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise CLIError(f"{p}: has no non-empty lines")
    blank = [i + 1 for i, ln in enumerate(lines) if not ln.strip()]
    if blank:
        more = f" (and {len(blank) - 1} more)" if len(blank) > 1 else ""
        raise CLIError(f"{p}: line {blank[0]} is blank{more}; every line is one item (row i = line i), so fill or "
                       "remove blank lines in this file and in any file paired with it")
    return lines[:limit] if limit else lines


def cmd_embed(args) -> int:
    from .datasets import load_dataset
    from .encoders import ENCODERS, encode_cached, get_encoder
    from .encoders.images import IMAGE_EXTENSIONS
    from .io import save_embeddings

    sources = [s for s in (args.texts, args.images, args.dataset) if s]
    if len(sources) != 1:
        raise CLIError("embed: give exactly one of --texts FILE, --images DIR or --dataset NAME")
    _check_out(args.out, FORMATS, args.force)
    check_writable(str(args.out) + ".json", args.force)
    meta = {}
    if args.texts:
        items = read_text_items(args.texts, args.limit)
        meta["dataset"] = str(args.texts)
    elif args.images:
        p = Path(args.images)
        if not p.is_dir():
            raise CLIError(f"{p}: no such image folder")
        items = sorted(str(f) for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS)
        if not items:
            raise CLIError(f"{p}: contains no images ({', '.join(IMAGE_EXTENSIONS)})")
        items = items[:args.limit] if args.limit else items
        meta["dataset"] = str(p)
        meta["files"] = [os.path.relpath(f, p) for f in items]
    else:
        ds = load_dataset(args.dataset, data_dir=args.data_dir, per_class=args.per_class, limit=args.limit)
        items = ds.items
        meta["dataset"] = args.dataset
        if getattr(ds, "labels", None) is not None:
            meta["labels"] = [int(v) for v in ds.labels]
    if args.limit:
        meta["limit"] = args.limit
    if args.model in ENCODERS:  # check the modality before loading the model
        _check_modality(args, ENCODERS[args.model][0].modality, items)
    kwargs = {"n_jobs": args.jobs} if args.jobs else {}
    with _progress.step(f"loading {args.model}", enabled=True):
        enc = get_encoder(args.model, **kwargs)
    _check_modality(args, enc.modality, items)
    if args.feature_maps is not None:
        return _embed_maps(args, enc, items, meta)
    arr, hit = encode_cached(enc, items, batch_size=args.batch_size, progress=True, use_cache=not args.no_cache)
    meta.update({"model": args.model, "preprocessing": enc.preprocessing(), "from_cache": hit})
    save_embeddings(args.out, arr, metadata=meta, force=args.force)
    print(f"wrote {args.out}: {arr.shape[0]} x {arr.shape[1]} ({args.model}{', from cache' if hit else ''})")
    return 0


def _embed_maps(args, enc, items, meta) -> int:
    import numpy as np

    if not hasattr(enc, "feature_maps"):
        raise CLIError(f"--feature-maps: model {args.model!r} has no spatial maps; use an efficientnet-lite model")
    if Path(args.out).suffix.lower() != ".npy":
        raise CLIError("--feature-maps: the maps are 4-D; write them to a .npy file")
    layer = args.feature_maps
    layer = int(layer) if layer.lstrip("-").isdigit() else layer
    parts = []
    bs = args.batch_size or 16
    for s in _progress.track(range(0, len(items), bs), f"feature maps of {args.model}", total=-(-len(items) // bs),
                             enabled=True, unit="batch"):
        parts.append(enc.feature_maps(items[s:s + bs], layers=(layer,))[layer])
    maps = np.concatenate(parts)
    with atomic_write(args.out, force=args.force) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, maps)
    meta.update({"model": args.model, "layer": str(layer), "layout": "NCHW", "shape": list(maps.shape),
                 "preprocessing": enc.preprocessing()})
    _write_json(str(args.out) + ".json", meta, args.force)
    print(f"wrote {args.out}: {' x '.join(map(str, maps.shape))} maps after {layer} of {args.model}")
    return 0


def _check_modality(args, modality: str, items) -> None:
    if modality == "text" and args.images:
        raise CLIError(f"model {args.model!r} is a text encoder; it cannot embed --images")
    if modality == "image" and args.texts:
        raise CLIError(f"model {args.model!r} is an image encoder; it cannot embed --texts")
    if args.dataset and not isinstance(items[0], str) and modality == "text":
        raise CLIError(f"dataset {args.dataset!r} holds images; model {args.model!r} is a text encoder")
    if args.dataset and isinstance(items[0], str) and modality == "image" and not Path(items[0]).is_file():
        raise CLIError(f"dataset {args.dataset!r} holds texts; model {args.model!r} is an image encoder")


def cmd_demo(args) -> int:
    from .experiments import run_demo

    if args.limit is not None and args.limit < 20:
        raise CLIError(f"--limit: the demo needs at least 20 items for the k-NN measures, got {args.limit}")
    res = run_demo(args.out, force=args.force, data_dir=args.data_dir, n_permutations=args.permutations,
                   n_bootstrap=args.bootstrap, n_repeats=args.repeats, use_cache=not args.no_cache,
                   progress=True, limit=args.limit,
                   log=(lambda msg: print(msg, file=sys.stderr)) if args.json else print)
    if args.json:
        _print_json(res.to_dict())
    return 0


def cmd_experiment(args) -> int:
    from . import experiments as ex

    verb, *rest = args.what
    if verb == "list":
        if rest:
            raise CLIError("experiment list: takes no names")
        if args.json:
            _print_json(dict(ex.EXPERIMENTS))
        else:
            for k, v in ex.EXPERIMENTS.items():
                print(f"{k:<16} {v}")
        return 0
    names = rest if verb == "run" else [verb, *rest]
    if not names:
        raise CLIError("experiment run: name at least one experiment (or 'all'); see `repalign experiment list`")
    if names == ["all"]:
        names = list(ex.EXPERIMENTS)
    unknown = [n for n in names if n not in ex.EXPERIMENTS]
    if unknown:
        raise CLIError(f"experiment: unknown experiment {unknown[0]!r}; known: {', '.join(ex.EXPERIMENTS)}")
    for name in names:  # every output is checked before the first experiment starts
        for ext in (".json", ".md"):
            check_writable(Path(args.out_dir) / f"{name}{ext}", args.force)
    results = {name: _run_experiment(args, ex, name) for name in names}
    if args.json:
        _print_json({k: v.to_dict() for k, v in results.items()} if len(results) > 1 else
                    next(iter(results.values())).to_dict())
    return 0


_DISTRIBUTED_EXPERIMENTS = ("crosslingual", "cka-vs-qap", "qap-solvers", "spec-planted")


def _run_experiment(args, ex, name):
    out = Path(args.out_dir) / f"{name}.json"
    md = Path(args.out_dir) / f"{name}.md"
    args.name = name
    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    common = {"out": out, "force": args.force, "log": log}
    distributed = {"scheduler": args.scheduler} if args.scheduler else {}
    limit = {} if args.time_limit is None else {"time_limit": args.time_limit}
    runners = {
        "crosslingual": lambda: ex.run_crosslingual(args.data_dir, languages=args.languages, seeds=args.seeds,
                                                    progress=True, **distributed, **common),
        "ablation": lambda: ex.run_ablation(args.data_dir, seeds=args.seeds, **common),
        "classification": lambda: ex.run_classification(args.data_dir, seeds=args.seeds, progress=True, **common),
        "cka-vs-qap": lambda: ex.run_cka_vs_qap(args.data_dir, languages=args.languages,
                                                plot=Path(args.out_dir) / "cka-vs-qap.png", progress=True,
                                                **distributed, **common),
        "blind-cifar": lambda: ex.run_blind_cifar(args.data_dir, progress=True, **limit, **common),
        "unsupervised": lambda: ex.run_unsupervised(args.data_dir, seeds=args.seeds, progress=True, **limit,
                                                    **common),
        "blind-xtd": lambda: ex.run_blind_xtd(args.data_dir, progress=True, **limit, **common),
        "qap-solvers": lambda: ex.run_qap_solvers(args.data_dir, progress=True, **limit, **distributed, **common),
        "spec-cifar": lambda: ex.run_spec_cifar(args.data_dir, progress=True, **common),
        "spec-xtd": lambda: ex.run_spec_xtd(args.data_dir, progress=True, **common),
        "spec-planted": lambda: ex.run_spec_planted(progress=True, **distributed, **common),
        "spec-align": lambda: ex.run_spec_align(args.data_dir, progress=True, **common),
        "rsm-translation": lambda: ex.run_rsm_translation(args.data_dir, progress=True, **common),
        "rsm-retrieval": lambda: ex.run_rsm_retrieval(args.data_dir, progress=True, **common),
        "rsm-output": lambda: ex.run_rsm_output(args.data_dir, progress=True, **common),
        "rsm-approx": lambda: ex.run_rsm_approx(args.data_dir, progress=True, **common),
        "layers-effnet": lambda: ex.run_layers_effnet(args.data_dir, progress=True, **common),
        "layers-text": lambda: ex.run_layers_text(args.data_dir, progress=True, **common),
    }
    if args.scheduler and name not in _DISTRIBUTED_EXPERIMENTS:
        print(f"note: {name} runs here; --scheduler applies to {', '.join(_DISTRIBUTED_EXPERIMENTS)}",
              file=sys.stderr)
    res = runners[name]()
    with atomic_write(md, force=args.force) as tmp:
        tmp.write_text(res.markdown() + "\n", encoding="utf-8")
    if not args.json:
        print(res.markdown())
        print(f"wrote {out} and {md} ({res.seconds:.0f} s)")
    return res


def _reference_solution(args, problem):
    """The ``.sln`` to compare against, validated before solving (None if none).

    Its permutation is read in the QAPLIB convention and, if that does not reproduce its stated
    objective, in the inverse one (some files use it). When neither reproduces the stated value
    the stated value is not trusted: a warning says so and the reference becomes the objective
    of the listed permutation (a value that is certainly reachable)."""
    from ._validate import warn
    from .qap import read_solution

    if args.reference == "none":
        return None
    sln = Path(args.file).with_suffix(".sln") if args.reference == "auto" else Path(args.reference)
    if args.reference == "auto" and not sln.exists():
        return None
    try:
        ref = read_solution(sln)
    except ValueError as exc:
        raise CLIError(f"{exc} (pass --reference none to solve without it)") from None
    if ref.n != problem.n:
        raise CLIError(f"{sln}: is a solution of size {ref.n} but {args.file} has n = {problem.n} "
                       "(pass --reference none to solve without it)")
    inverse = ref.permutation.argsort()
    values = {"as listed": problem.objective(ref.permutation), "inverted": problem.objective(inverse)}
    tol = 1e-9 * max(1.0, abs(ref.objective))
    for how, value in values.items():
        if abs(value - ref.objective) <= tol:
            return {"path": str(sln), "objective": ref.objective, "permutation_convention": how}
    best = min(values.values())
    warn(f"{sln}: states objective {ref.objective:.10g} but its permutation gives {values['as listed']:.10g} "
         f"(inverted: {values['inverted']:.10g}); comparing against {best:.10g}, the value it certainly reaches")
    return {"path": str(sln), "objective": best, "stated_objective": ref.objective,
            "permutation_convention": "unverified"}


def cmd_qap(args) -> int:
    from .qap import SOLVERS, read_qaplib, solve_qap, write_solution

    if args.solver not in SOLVERS:
        raise CLIError(f"--solver: unknown {args.solver!r}; choose one of {', '.join(SOLVERS)}")
    _check_out(args.out, SLN_OUT, args.force)
    problem = read_qaplib(args.file)
    reference = _reference_solution(args, problem)
    kwargs = {}
    if args.solver == "hahn-grant":
        kwargs["progress"] = True
    if args.time_limit is not None:
        if args.solver not in ("tabu", "hahn-grant"):
            raise CLIError(f"--time-limit: solver {args.solver!r} runs to completion; use it with tabu or hahn-grant")
        kwargs["time_limit"] = args.time_limit
    res = solve_qap(problem, args.solver, **kwargs)
    out = {"kind": "qap", "instance": problem.name, "n": problem.n, "solver": args.solver, "objective": res.objective,
           "lower_bound": res.lower_bound, "optimal": res.optimal, "gap": res.gap,
           "permutation": [int(x) for x in res.permutation], "seconds": res.seconds,
           "iterations": res.iterations}
    if reference is not None:
        out["reference"] = reference
        out["reference_objective"] = reference["objective"]
        out["gap_to_reference"] = (res.objective - reference["objective"]) / max(abs(reference["objective"]), 1e-12)
    if args.out:
        write_solution(args.out, res.permutation, res.objective, force=args.force)
    if args.json:
        _print_json(out)
    else:
        lb = "none" if res.lower_bound is None else f"{res.lower_bound:.6g}"
        line = (f"{problem.name} (n={problem.n}) {args.solver}: objective {res.objective:.10g}, lower bound {lb}, "
                f"{'optimal' if res.optimal else 'not proven optimal'}, {res.seconds:.2f} s")
        if "reference_objective" in out:
            line += f"; .sln {out['reference_objective']:.10g} (gap {100 * out['gap_to_reference']:.3f} %)"
        print(line)
    return 0


def _item_list(args, n: int):
    """The items behind the rows (texts or image paths) for galleries, checked against n."""
    from .encoders.images import IMAGE_EXTENSIONS

    if args.texts:
        items = read_text_items(args.texts)
        what = f"{args.texts} has {len(items)} lines"
    elif args.images:
        p = Path(args.images)
        if not p.is_dir():
            raise CLIError(f"{p}: no such image folder")
        items = sorted(str(f) for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS)
        what = f"{p} has {len(items)} images"
    else:
        return None
    if len(items) != n:
        raise CLIError(f"{what} but the embeddings have {n} rows; give the items in the order of the rows "
                       "(images sorted by path, as `repalign embed --images` reads them)")
    return items


SPEC_OUTPUTS = ("spec.json", "spectrum.png", "modes.md", "map.png", "gallery_A.png", "gallery_B.png")


def cmd_spec(args) -> int:
    import numpy as np

    from .report.plots import caption_lists, plot_gallery, plot_mode_map, plot_spectrum
    from .spec import spec

    if args.texts and args.images:
        raise CLIError("spec: give at most one of --texts FILE and --images DIR")
    out = Path(args.out) if args.out else None
    if out is not None:
        if out.exists() and not out.is_dir():
            raise CLIError(f"{out}: exists and is not a folder")
        for name in SPEC_OUTPUTS:
            check_writable(out / name, args.force)
    from .io import read_embedding_file

    A = args.a if str(args.a).endswith(".npy") else read_embedding_file(args.a).array
    B = args.b if str(args.b).endswith(".npy") else read_embedding_file(args.b).array
    n = (np.load(A, mmap_mode="r") if isinstance(A, str) else A).shape[0]
    items = _item_list(args, n)
    res = spec(A, B, args.kernel, eta=args.eta, rff=args.rff, sigma_a=args.sigma_a, sigma_b=args.sigma_b,
               n_modes=args.modes, top=args.top, route=args.route, seed=args.seed, progress=True,
               scheduler=args.scheduler)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        _write_json(out / "spec.json", res.to_dict(), args.force)
        plot_spectrum(res, out / "spectrum.png", force=args.force)
        lines = [f"# SPEC: {args.a} (A) vs {args.b} (B)", "",
                 f"{res.kernel} kernel, η = {res.eta:g}, n = {res.n}, SPEC-diff {res.spec_diff:.4f}, "
                 f"Frobenius {res.frobenius:.4f}, route {res.route}.", ""]
        if items is not None and args.texts:
            lines.append(caption_lists(res, items, per_mode=args.top))
        elif items is not None:
            for side in ("A", "B"):
                if any(m.side == side for m in res.modes):
                    plot_gallery(res, items, out / f"gallery_{side}.png", side=side, per_mode=min(args.top, 10),
                                 force=args.force)
                    lines.append(f"![modes {side} separates](gallery_{side}.png)")
        else:
            lines.append(caption_lists(res, [f"row {i}" for i in range(res.n)], per_mode=args.top))
        with atomic_write(out / "modes.md", force=args.force) as tmp:
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        if args.map:
            Xa = np.load(A, mmap_mode="r") if isinstance(A, str) else A
            Xb = np.load(B, mmap_mode="r") if isinstance(B, str) else B
            plot_mode_map(res, Xa, Xb, out / "map.png", seed=args.seed, force=args.force)
    if args.json:
        _print_json(res.to_dict())
    else:
        print(f"n = {res.n}, {res.kernel} kernel, η = {res.eta:g}: SPEC-diff {res.spec_diff:.4f}, "
              f"Frobenius {res.frobenius:.4f} ({res.route} route, {res.seconds:.1f} s)")
        for k, m in enumerate(res.modes):
            print(f"mode {k + 1:>2} ({m.side}): λ = {m.eigenvalue:+.4f}  top items {', '.join(map(str, m.top_indices[:8]))}")
        if out is not None:
            print(f"wrote {out}/")
    return 0


def _load_maps(path):
    """A spatial-representation array from a .npy / .npz (FILE:KEY) file, without pickles."""
    import numpy as np

    spath, key = str(path), None
    if ":" in spath and not Path(spath).exists():
        spath, key = spath.rsplit(":", 1)
    p = Path(spath)
    if not p.is_file():
        raise CLIError(f"{p}: no such file")
    if p.suffix.lower() not in (".npy", ".npz"):
        raise CLIError(f"{p}: feature maps are read from .npy or .npz files (FILE.npz:KEY), got {p.suffix!r}")
    try:
        obj = np.load(p, allow_pickle=False)
    except ValueError as exc:
        from .io import safe_load_message

        raise CLIError(safe_load_message(p, exc)) from None
    if isinstance(obj, np.lib.npyio.NpzFile):
        with obj:
            names = list(obj.files)
            if key is None and len(names) != 1:
                raise CLIError(f"{p}: holds several arrays ({', '.join(names)}); choose one with {p}:NAME")
            key = key or names[0]
            if key not in names:
                raise CLIError(f"{p}: no array named {key!r}; available: {', '.join(names)}")
            return obj[key]
    return obj


def cmd_rsm(args) -> int:
    import numpy as np

    from .rsm import semantic_rsm, spatial_rsm

    _check_out(args.out, (".npy",), args.force)
    if args.out:
        check_writable(str(args.out) + ".json", args.force)
    x = _load_maps(args.maps)
    y = _load_maps(args.other) if args.other else None
    if args.invariance == "none":
        if args.matcher != "optimal":
            raise CLIError("--matcher: applies to --invariance permutation only")
        res = spatial_rsm(x, y, kernel=args.kernel, layout=args.layout, center=args.center)
    else:
        res = semantic_rsm(x, y, kernel=args.kernel, matcher=args.matcher, backend=args.backend, layout=args.layout,
                           center=args.center, n_jobs=args.jobs, checkpoint=args.checkpoint, progress=True,
                           scheduler=args.scheduler)
    if args.out:
        with atomic_write(args.out, force=args.force) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, res.matrix)
        _write_json(str(args.out) + ".json", {**res.to_dict(), "maps": str(args.maps), "other": args.other},
                    args.force)
    d = res.to_dict()
    if args.json:
        _print_json(d)
    else:
        off = res.matrix[~np.eye(*res.matrix.shape, dtype=bool)] if res.symmetric else res.matrix.ravel()
        print(f"{res.invariance if res.invariance != 'none' else 'spatio-semantic'} RSM {d['shape'][0]} x {d['shape'][1]}, "
              f"{res.kernel} kernel, matcher {res.matcher}: mean off-diagonal {off.mean():.4f} ({res.seconds:.1f} s)"
              + (f"; wrote {args.out}" if args.out else ""))
    return 0


LAYER_OUTPUTS = ("layers.json", "layers.png", "diagonal.png")


def cmd_layers(args) -> int:
    from .datasets import load_dataset
    from .layerwise import layerwise
    from .report.plots import plot_layer_diagonal, plot_layer_heatmap

    if sum(bool(x) for x in (args.texts, args.images, args.dataset)) != 1:
        raise CLIError("layers: give exactly one of --dataset NAME, --texts FILE or --images DIR")
    out = Path(args.out) if args.out else None
    if out is not None:
        if out.exists() and not out.is_dir():
            raise CLIError(f"{out}: exists and is not a folder")
        for name in LAYER_OUTPUTS:
            check_writable(out / name, args.force)
    if args.texts:
        items = read_text_items(args.texts, args.limit)
    elif args.images:
        from .datasets import load_image_folder

        items = load_image_folder(args.images).items[:args.limit]
    else:
        items = load_dataset(args.dataset, data_dir=args.data_dir, limit=args.limit, per_class=args.per_class).items
    res = layerwise(args.model_a, args.model_b, items, layers_a=args.layers_a, layers_b=args.layers_b,
                    estimator=args.estimator, pooling=args.pooling, batch_size=args.batch_size, seed=args.seed,
                    progress=True)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        _write_json(out / "layers.json", res.to_dict(), args.force)
        plot_layer_heatmap(res, out / "layers.png", force=args.force)
        if min(res.matrix.shape) > 1:
            plot_layer_diagonal({f"{res.model_a} vs {res.model_b}": res}, out / "diagonal.png", force=args.force)
    if args.json:
        _print_json(res.to_dict())
    else:
        print(f"{res.model_a} ({len(res.layers_a)} layers) vs {res.model_b} ({len(res.layers_b)} layers), n = {res.n}, "
              f"{res.estimator}: mean CKA {res.matrix.mean():.3f}, diagonal {', '.join(f'{v:.2f}' for v in res.diagonal())}"
              + (f"; wrote {out}/" if out is not None else ""))
    return 0


def cmd_report(args) -> int:
    from .report.html import build_report

    res = build_report(args.results, args.output, force=args.force, title=args.title)
    if args.json:
        _print_json(res.to_dict())
    else:
        print(f"wrote {res.path}: {len(res.sections)} sections, {res.images} images"
              + (f", {len(res.skipped)} files skipped (listed in the page)" if res.skipped else ""))
    return 0


def cmd_list(args) -> int:
    if args.what == "encoders":
        from .encoders import list_encoders

        rows = [i.to_dict() for i in list_encoders()]
        if args.json:
            _print_json(rows)
        else:
            for r in rows:
                print(f"{r['name']:<30} {r['modality']:<6} {str(r['dim']):>5}  {r['description']}")
    elif args.what == "measures":
        from .measures import MEASURES

        if args.json:
            _print_json({k: m.to_dict() for k, m in MEASURES.items()})
        else:
            for k, m in MEASURES.items():
                print(f"{k:<22} {'higher' if m.higher_is_more_similar else 'lower ':<6} = more similar  {m.description}")
    elif args.what == "experiments":
        from .experiments import EXPERIMENTS

        if args.json:
            _print_json(dict(EXPERIMENTS))
        else:
            for k, v in EXPERIMENTS.items():
                print(f"{k:<16} {v}")
    elif args.what == "solvers":
        from .qap import SOLVER_DESCRIPTIONS

        if args.json:
            _print_json(dict(SOLVER_DESCRIPTIONS))
        else:
            for k, v in SOLVER_DESCRIPTIONS.items():
                print(f"{k:<12} {v}")
    else:
        from .datasets import list_datasets

        if args.json:
            _print_json(list_datasets())
        else:
            for k, v in list_datasets().items():
                print(f"{k:<18} {v}")
    return 0


# ------------------------------------------------------------------------------------- parser


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


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (v > 0 and v < float("inf")):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return v


def _open_fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text}")
    return v


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text}")
    return v


_positive = _int_at_least(1)
_non_negative = _int_at_least(0)


class _DeprecatedCount(argparse.Action):
    """``--seeds N`` where it used to mean a count: kept, with a warning, as ``--repeats``."""

    def __call__(self, parser, namespace, values, option_string=None):
        warnings.warn(f"{parser.prog}: --seeds N is deprecated here, use --repeats N (--seeds means a list of "
                      "random seeds elsewhere)", FutureWarning, stacklevel=2)
        namespace.repeats = values


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand (one-line errors, see the module docstring)."""
    from . import __doc__ as pkg_doc
    from . import __version__

    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an error")
    common.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars or progress lines on stderr")

    p = _Parser(prog="repalign", description=pkg_doc.splitlines()[0], parents=[common])
    p.set_defaults(debug=False, quiet=False)
    p.add_argument("--version", action="version", version=f"repalign {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    def add(name, **kw):
        return sub.add_parser(name, parents=[common], **kw)

    def measure_opts(sp):
        sp.add_argument("--measure", action="extend", nargs="+", metavar="NAME",
                        help="measures to compute (default: all); see `repalign list measures`")
        sp.add_argument("--k", type=_positive, default=None, help="k for mutual-knn / cknna (default 10)")
        sp.add_argument("--seed", type=_non_negative, default=0, help="random seed of the resampling (default 0)")
        sp.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        sp.add_argument("--force", action="store_true", help="overwrite existing outputs")

    s = add("similarity", help="every similarity measure between two embedding files")
    s.add_argument("a", help="embedding file (rows = items), or a .zarr store / folder of .parquet files")
    s.add_argument("b", help="embedding file, same rows in the same order")
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
    s.set_defaults(func=cmd_similarity)

    s = add("shuffle-curve", help="measures against the fraction of shuffled pairs")
    s.add_argument("a", help="embedding file (rows = items)")
    s.add_argument("b", help="embedding file, same rows in the same order")
    measure_opts(s)
    s.add_argument("--fractions", type=_fraction, nargs="+", default=None,
                   help="fractions of rows to shuffle (default 0 0.1 ... 1)")
    s.add_argument("--repeats", type=_positive, default=3, help="shuffles per fraction (default 3)")
    s.add_argument("--seeds", type=_positive, action=_DeprecatedCount, help=argparse.SUPPRESS)
    s.add_argument("--plot", help="write a plot here (.png, .pdf or .svg)")
    s.add_argument("--out", help="write the JSON result to this .json file")
    s.set_defaults(func=cmd_shuffle_curve, measure=None)

    s = add("match", help="match / retrieve between two unaligned embedding sets (base + queries)")
    s.add_argument("a", help="embeddings of side A (rows in ground-truth order)")
    s.add_argument("b", help="embeddings of side B, same rows")
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
    s.set_defaults(func=cmd_match)

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
    s.add_argument("--jobs", "--threads", dest="jobs", type=_positive, default=None,
                   help="threads of the encoder (default: its own)")
    s.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    s.add_argument("--feature-maps", metavar="LAYER",
                   help="EfficientNet-Lite only: write the (N, C, H, W) maps after LAYER (stem, a block index or "
                        "head) to a .npy file instead of pooled embeddings (input to `repalign rsm`)")
    s.add_argument("--force", action="store_true", help="overwrite an existing output")
    s.set_defaults(func=cmd_embed)

    s = add("demo", help="the main job: two encoders on the same items, every measure")
    s.add_argument("--out", default="results/demo", help="output folder (default results/demo)")
    s.add_argument("--data-dir", help="data folder (default $REPALIGN_DATA); XTD-10 pairs need it")
    s.add_argument("--permutations", type=_non_negative, default=100, help="permutation-test resamples (default 100)")
    s.add_argument("--bootstrap", type=_non_negative, default=50, help="interval resamples (default 50)")
    s.add_argument("--repeats", type=_positive, default=3, help="shuffle-curve repeats per fraction (default 3)")
    s.add_argument("--seeds", type=_positive, action=_DeprecatedCount, help=argparse.SUPPRESS)
    s.add_argument("--limit", type=_positive, default=None, help="first N items of every set (quick run, N >= 20)")
    s.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    s.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    s.add_argument("--force", action="store_true", help="overwrite existing outputs")
    s.set_defaults(func=cmd_demo)

    s = add("experiment", help="list or run the paper experiments on real data")
    s.add_argument("what", nargs="+", metavar="list | run NAME... | NAME",
                   help="'list' the experiments, or 'run' one or more by name ('all' for every one); "
                        "a bare NAME is the same as 'run NAME'")
    s.add_argument("--time-limit", type=_positive_float, default=None,
                   help="QAP seconds per instance (blind / solver experiments; default their own)")
    s.add_argument("--out-dir", default="results", help="where NAME.json and NAME.md go (default results/)")
    s.add_argument("--data-dir", help="data folder (default $REPALIGN_DATA)")
    s.add_argument("--languages", nargs="+", default=None, help="XTD-10 languages (default: all but en)")
    s.add_argument("--seeds", type=_non_negative, nargs="+", default=[0, 1, 2], help="random seeds (default 0 1 2)")
    s.add_argument("--scheduler", default=None, help="run the units on this Dask scheduler (tcp://host:8786)")
    s.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    s.add_argument("--force", action="store_true",
                   help="overwrite existing outputs and recompute finished units (checkpoints in NAME.parts/)")
    s.set_defaults(func=cmd_experiment)

    s = add("qap", help="solve a QAPLIB instance (.dat), with a bound where the solver gives one")
    s.add_argument("file", help="QAPLIB .dat file")
    s.add_argument("--solver", default="hahn-grant",
                   help="hahn-grant (default), tabu, faq, 2opt, entropic-gw, brute-force")
    s.add_argument("--time-limit", type=_positive_float, default=None,
                   help="seconds for tabu / hahn-grant (default 10)")
    s.add_argument("--reference", default="auto",
                   help="a .sln to compare against: 'auto' (FILE.sln beside the .dat, if any; default), "
                        "a path, or 'none'")
    s.add_argument("--out", help="write the permutation as a QAPLIB .sln file")
    s.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    s.add_argument("--force", action="store_true", help="overwrite an existing output")
    s.set_defaults(func=cmd_qap)

    s = add("spec", help="where two embeddings of the same items cluster them differently (SPEC, jalali2025)")
    s.add_argument("a", help="embedding file A (rows = items; .npy files are streamed)")
    s.add_argument("b", help="embedding file B, the same items in the same order")
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
    s.add_argument("--seed", type=_non_negative, default=0, help="random features and subsamples (default 0)")
    s.add_argument("--texts", help="text file, one item per line in row order: captions per mode in modes.md")
    s.add_argument("--images", help="image folder in row order (sorted paths): galleries per mode")
    s.add_argument("--map", action="store_true", help="also draw a t-SNE / UMAP map coloured by mode (map.png)")
    s.add_argument("--scheduler", default=None, help="compute the covariances on this Dask scheduler")
    s.add_argument("--out", help="folder for spec.json, spectrum.png, modes.md (+ galleries, map)")
    s.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    s.add_argument("--force", action="store_true", help="overwrite existing outputs")
    s.set_defaults(func=cmd_spec)

    s = add("rsm", help="semantic (spatial-permutation invariant) or spatio-semantic RSM of feature maps (wald2024)")
    s.add_argument("maps", help="feature maps: .npy or .npz (FILE:KEY) of shape (N, C, H, W) (see --layout)")
    s.add_argument("--other", help="a second set of maps of the same layer: a rectangular query x database RSM")
    s.add_argument("--kernel", choices=("cosine", "inner", "rbf"), default="cosine", help="kernel (default cosine)")
    s.add_argument("--invariance", choices=("none", "permutation"), default="permutation",
                   help="permutation: semantic RSM (default); none: spatio-semantic")
    s.add_argument("--matcher", default="optimal",
                   help="optimal (default), greedy, topk-greedy:K, batch-optimal:W or auction:TOL (certified "
                        "within TOL of the optimum, e.g. auction:0.01)")
    s.add_argument("--backend", choices=("auto", "lapjv", "scipy", "lap", "ortools"), default="auto",
                   help="exact assignment solver (default auto: by size, see repalign.assignment)")
    s.add_argument("--layout", choices=("NCHW", "NHWC", "NTD"), default="NCHW", help="axis order (default NCHW)")
    s.add_argument("--center", action="store_true", help="subtract the mean over samples first (as the paper)")
    s.add_argument("--jobs", type=_positive, default=1, help="processes (default 1)")
    s.add_argument("--checkpoint", help="a .npz file that makes a long run resumable")
    s.add_argument("--scheduler", default=None, help="run the blocks on this Dask scheduler (tcp://host:8786)")
    s.add_argument("--out", help="write the RSM to this .npy file (+ .json sidecar)")
    s.add_argument("--json", action="store_true", help="print the settings and shape as JSON")
    s.add_argument("--force", action="store_true", help="overwrite existing outputs")
    s.set_defaults(func=cmd_rsm)

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
    s.add_argument("--out", help="folder for layers.json, layers.png (heatmap), diagonal.png")
    s.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    s.add_argument("--force", action="store_true", help="overwrite existing outputs")
    s.set_defaults(func=cmd_layers)

    s = add("report", help="one self-contained HTML page of everything in a results folder")
    s.add_argument("results", help="results folder (searched recursively)")
    s.add_argument("-o", "--output", default="report.html", help="the HTML file (default report.html)")
    s.add_argument("--title", default=None, help="page title")
    s.add_argument("--json", action="store_true", help="print what was rendered and skipped as JSON")
    s.add_argument("--force", action="store_true", help="overwrite an existing page")
    s.set_defaults(func=cmd_report)

    s = add("list", help="list encoders, measures, datasets, experiments or QAP solvers")
    s.add_argument("what", choices=("encoders", "measures", "datasets", "experiments", "solvers"),
                   help="what to list")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_list)
    return p


# ------------------------------------------------------------------------------------- main

_SEEN_WARNINGS: set = set()


def _show_warning(message, category, filename, lineno, file=None, line=None):
    text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
    if text not in _SEEN_WARNINGS:
        _SEEN_WARNINGS.add(text)
        print(f"repalign: warning: {text}", file=sys.stderr)


def _os_message(exc: OSError) -> str:
    where = exc.filename or ""
    if exc.errno == errno.ENOSPC:
        return f"{where + ': ' if where else ''}no space left on the device; free some space or write elsewhere"
    if exc.errno == errno.EDQUOT:
        return f"{where + ': ' if where else ''}disk quota exceeded; free some space or write elsewhere"
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{where}: {reason}" if where else reason


def _files_of(args) -> dict[str, str]:
    a, b = getattr(args, "a", None), getattr(args, "b", None)
    return _pair_names(a, b) if a and b else {}


def main(argv=None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    old_handler = signal.getsignal(signal.SIGTERM)
    old_show = warnings.showwarning
    try:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # finally-blocks remove temp files
    except ValueError:  # not the main thread (e.g. inside a test runner's worker)
        old_handler = None
    warnings.showwarning = _show_warning
    _SEEN_WARNINGS.clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            try:
                args = build_parser().parse_args(argv)
            except _UsageError as exc:
                print(f"repalign: error: {exc}", file=sys.stderr)
                return 2
            _progress.set_mode("off" if args.quiet else "auto", announce=not args.quiet)
            return _run(args, debug or args.debug)
    finally:
        warnings.showwarning = old_show
        _progress.set_mode("auto", announce=False)
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)


def _run(args, debug: bool) -> int:
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("repalign: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, MemoryError) as exc:
        if debug:
            raise
        if isinstance(exc, MemoryError):
            msg = ("out of memory: the inputs are too large for this machine; use fewer rows (--limit) or a "
                   "machine with more memory")
        elif isinstance(exc, OSError) and not isinstance(exc, ValueError):
            msg = _os_message(exc)
        else:
            text = str(exc).strip()
            msg = _friendly(text.splitlines()[0], _files_of(args)) if text else type(exc).__name__
        print(f"repalign: error: {msg}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a traceback by default
        if debug:
            raise
        print(f"repalign: internal error (a bug; please report it): {type(exc).__name__}: {exc} "
              "(rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
