"""Command-line interface: one subcommand per verb, a thin layer over the Python API.

Errors become one line on stderr and a non-zero exit (2 for bad input, 1 for an internal
error); ``--debug`` shows the traceback. Outputs are never overwritten without ``--force``.
"""

from __future__ import annotations

import os

# Before anything can import torch: its OpenMP threads would otherwise spin after every op
# and slow numpy's BLAS several-fold on small machines.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

__all__ = ["main", "build_parser"]


class CLIError(ValueError):
    """A user-facing error raised by the CLI layer itself."""


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=float))


def _write_json(path, obj, force: bool) -> None:
    from .io import atomic_write

    with atomic_write(path, force=force) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=float) + "\n", encoding="utf-8")


def _load_pair(a, b):
    from ._validate import check_pair
    from .io import read_embedding_file

    fa, fb = read_embedding_file(a), read_embedding_file(b)
    X, Y = fa.array, fb.array
    if X.shape[0] != Y.shape[0]:
        raise CLIError(f"{a} has {X.shape[0]} rows but {b} has {Y.shape[0]}; row i of both files must "
                       "describe the same item")
    return check_pair(X, Y)


def _measures(args):
    from .measures import get_measure

    names = args.measure or list(__import__("repalign").DEFAULT_MEASURES)
    out = []
    for name in names:
        params = {}
        if args.k is not None and name in ("mutual-knn", "cknna"):
            params["k"] = args.k
        out.append(get_measure(name, **params))
    return out


# ------------------------------------------------------------------------------------- commands


def cmd_similarity(args) -> int:
    from .measures import evaluate
    from .report import format_similarity_table

    if args.out:
        from .io import check_writable

        check_writable(args.out, args.force)
    X, Y = _load_pair(args.a, args.b)
    rep = evaluate(X, Y, _measures(args), permutations=args.permutations, bootstrap=args.bootstrap,
                   level=args.level, seed=args.seed, progress=not args.json and sys.stderr.isatty())
    if args.out:
        _write_json(args.out, rep.to_dict(), args.force)
    if args.json:
        _print_json(rep.to_dict())
    else:
        print(f"n = {rep.n}, dims = {rep.dim_x} / {rep.dim_y}")
        print(format_similarity_table(rep))
    return 0


def cmd_shuffle_curve(args) -> int:
    from .io import check_writable
    from .measures import shuffle_curve
    from .report import plot_shuffle_curves

    if args.plot:
        check_writable(args.plot, args.force)
    if args.out:
        check_writable(args.out, args.force)
    X, Y = _load_pair(args.a, args.b)
    curve = shuffle_curve(X, Y, _measures(args), fractions=args.fractions, n_seeds=args.seeds, seed=args.seed,
                          progress=not args.json and sys.stderr.isatty())
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

    if args.out:
        from .io import check_writable

        check_writable(args.out, args.force)
    X, Y = _load_pair(args.a, args.b)
    methods = args.method or ["qap", "local-cka", "relative", "linear"]
    opts = {"local-cka": {"kernel": args.kernel},
            "qap": {"restarts": args.restarts, "kernel": "rbf" if args.kernel == "rbf" else "cka"}}
    res = run_matching(X, Y, args.base_size, args.query_size, methods, args.seeds, use_stretch=args.stretch,
                       base_selection=args.base_selection,
                       method_options={m: o for m, o in opts.items() if m in methods})
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


def cmd_embed(args) -> int:
    from .datasets import load_dataset
    from .encoders import encode_cached, get_encoder
    from .io import check_writable, save_embeddings

    sources = [s for s in (args.texts, args.images, args.dataset) if s]
    if len(sources) != 1:
        raise CLIError("embed: give exactly one of --texts FILE, --images DIR or --dataset NAME")
    check_writable(args.out, args.force)
    check_writable(str(args.out) + ".json", args.force)
    meta = {}
    if args.texts:
        p = Path(args.texts)
        if not p.is_file():
            raise CLIError(f"{p}: no such text file (one item per line)")
        items = [ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
        if not items:
            raise CLIError(f"{p}: has no non-empty lines")
        meta["dataset"] = str(p)
    elif args.images:
        from .encoders.images import IMAGE_EXTENSIONS

        p = Path(args.images)
        if not p.is_dir():
            raise CLIError(f"{p}: no such image folder")
        items = sorted(str(f) for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS)
        if not items:
            raise CLIError(f"{p}: contains no images ({', '.join(IMAGE_EXTENSIONS)})")
        meta["dataset"] = str(p)
        meta["files"] = [os.path.relpath(f, p) for f in items]
    else:
        ds = load_dataset(args.dataset, data_dir=args.data_dir, per_class=args.per_class, limit=args.limit)
        items = ds.items
        meta["dataset"] = args.dataset
        if getattr(ds, "labels", None) is not None:
            meta["labels"] = [int(v) for v in ds.labels]
    from .encoders import ENCODERS

    if args.model in ENCODERS:  # check the modality before loading the model
        _check_modality(args, ENCODERS[args.model][0].modality, items)
    kwargs = {"threads": args.threads} if args.threads else {}
    enc = get_encoder(args.model, **kwargs)
    _check_modality(args, enc.modality, items)
    arr, hit = encode_cached(enc, items, batch_size=args.batch_size, progress=sys.stderr.isatty(),
                             use_cache=not args.no_cache)
    meta.update({"model": args.model, "preprocessing": enc.preprocessing(), "from_cache": hit})
    save_embeddings(args.out, arr, metadata=meta, force=args.force)
    print(f"wrote {args.out}: {arr.shape[0]} x {arr.shape[1]} ({args.model}{', from cache' if hit else ''})")
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

    res = run_demo(args.out, force=args.force, data_dir=args.data_dir, permutations=args.permutations,
                   bootstrap=args.bootstrap, n_seeds=args.seeds, use_cache=not args.no_cache,
                   progress=sys.stderr.isatty(), limit=args.limit,
                   log=(lambda msg: print(msg, file=sys.stderr)) if args.json else print)
    if args.json:
        _print_json(res.to_dict())
    return 0


def cmd_experiment(args) -> int:
    from . import experiments as ex

    if args.name not in ex.EXPERIMENTS:
        raise CLIError(f"experiment: unknown experiment {args.name!r}; known: {', '.join(ex.EXPERIMENTS)}")
    if not args.force:
        from .io import check_writable

        check_writable(Path(args.out_dir) / f"{args.name}.md", False)
    out = Path(args.out_dir) / f"{args.name}.json"
    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    common = {"out": out, "force": args.force, "log": log}
    progress = sys.stderr.isatty()
    runners = {
        "crosslingual": lambda: ex.run_crosslingual(args.data_dir, languages=args.languages, seeds=args.seeds,
                                                    progress=progress, **common),
        "ablation": lambda: ex.run_ablation(args.data_dir, seeds=args.seeds, **common),
        "classification": lambda: ex.run_classification(args.data_dir, seeds=args.seeds, progress=progress, **common),
        "cka-vs-qap": lambda: ex.run_cka_vs_qap(args.data_dir, languages=args.languages,
                                                plot=Path(args.out_dir) / "cka-vs-qap.png", progress=progress,
                                                **common),
        "blind-cifar": lambda: ex.run_blind_cifar(args.data_dir, time_limit=args.time_limit or 10.0,
                                                  progress=progress, **common),
        "unsupervised": lambda: ex.run_unsupervised(args.data_dir, seeds=args.seeds,
                                                    time_limit=args.time_limit or 10.0, progress=progress, **common),
        "blind-xtd": lambda: ex.run_blind_xtd(args.data_dir, time_limit=args.time_limit or 10.0,
                                              progress=progress, **common),
        "qap-solvers": lambda: ex.run_qap_solvers(args.data_dir, time_limit=args.time_limit or 20.0,
                                                  progress=progress, **common),
    }
    res = runners[args.name]()
    md = Path(args.out_dir) / f"{args.name}.md"
    from .io import atomic_write

    with atomic_write(md, force=args.force) as tmp:
        tmp.write_text(res.markdown() + "\n", encoding="utf-8")
    if args.json:
        _print_json(res.to_dict())
    else:
        print(res.markdown())
        print(f"wrote {out} and {md} ({res.seconds:.0f} s)")
    return 0


def cmd_qap(args) -> int:
    from .qap import SOLVERS, read_qaplib, read_solution, solve_qap, write_solution

    if args.solver not in SOLVERS:
        raise CLIError(f"--solver: unknown {args.solver!r}; choose one of {', '.join(SOLVERS)}")
    if args.time_limit is not None and args.time_limit <= 0:
        raise CLIError(f"--time-limit: must be > 0 seconds, got {args.time_limit:g}")
    if args.out:
        from .io import check_writable

        check_writable(args.out, args.force)
    problem = read_qaplib(args.file)
    kwargs = {}
    if args.solver == "hahn-grant" and sys.stderr.isatty() and not args.json:
        kwargs["progress"] = True
    res = solve_qap(problem, args.solver, time_limit=args.time_limit, **kwargs)
    out = {"instance": problem.name, "n": problem.n, "solver": args.solver, "objective": res.objective,
           "lower_bound": res.lower_bound, "optimal": res.optimal, "gap": res.gap,
           "permutation": [int(x) for x in res.permutation], "seconds": res.seconds,
           "iterations": res.iterations}
    sln = Path(args.file).with_suffix(".sln")
    if sln.exists():
        ref = read_solution(sln)
        out["reference_objective"] = ref.objective
        out["gap_to_reference"] = (res.objective - ref.objective) / max(abs(ref.objective), 1e-12)
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

        for k, v in EXPERIMENTS.items():
            print(f"{k:<16} {v}")
    elif args.what == "solvers":
        from .qap import SOLVERS

        for k, fn in SOLVERS.items():
            print(f"{k:<12} {(fn.__doc__ or '').strip().splitlines()[0]}")
    else:
        from .datasets import list_datasets

        for k, v in list_datasets().items():
            print(f"{k:<18} {v}")
    return 0


# ------------------------------------------------------------------------------------- parser


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {v}")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="repalign", description=__import__("repalign").__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"repalign {__import__('repalign').__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def measure_opts(sp):
        sp.add_argument("--measure", action="extend", nargs="+", metavar="NAME",
                        help="measures to compute (default: all); see `repalign list measures`")
        sp.add_argument("--k", type=int, default=None, help="k for mutual-knn / cknna (default 10)")
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument("--json", action="store_true", help="print one JSON object")
        sp.add_argument("--force", action="store_true", help="overwrite existing outputs")

    s = sub.add_parser("similarity", help="every similarity measure between two embedding files")
    s.add_argument("a", help="embedding file (rows = items)")
    s.add_argument("b", help="embedding file, same rows in the same order")
    measure_opts(s)
    s.add_argument("--permutations", type=_positive_int, default=0, help="permutation-test resamples (p-value)")
    s.add_argument("--bootstrap", type=_positive_int, default=0, help="bootstrap resamples (interval)")
    s.add_argument("--level", type=float, default=0.95, help="bootstrap interval level (default 0.95)")
    s.add_argument("--out", help="also write the JSON result to this file")
    s.set_defaults(func=cmd_similarity)

    s = sub.add_parser("shuffle-curve", help="measures against the fraction of shuffled pairs")
    s.add_argument("a")
    s.add_argument("b")
    measure_opts(s)
    s.add_argument("--fractions", type=float, nargs="+", default=None, help="default 0 0.1 ... 1")
    s.add_argument("--seeds", type=_positive_int, default=3, help="shuffles per fraction (default 3)")
    s.add_argument("--plot", help="write a PNG plot here")
    s.add_argument("--out", help="write the JSON result here")
    s.set_defaults(func=cmd_shuffle_curve, measure=None)

    s = sub.add_parser("match", help="match / retrieve between two unaligned embedding sets (base + queries)")
    s.add_argument("a", help="embeddings of side A (rows in ground-truth order)")
    s.add_argument("b", help="embeddings of side B, same rows")
    s.add_argument("--base-size", type=int, default=320)
    s.add_argument("--query-size", type=int, default=500)
    s.add_argument("--method", action="extend", nargs="+", metavar="NAME",
                   help="qap, local-cka, linear, relative, cosine (default: all but cosine)")
    s.add_argument("--stretch", action=argparse.BooleanOptionalAction, default=True,
                   help="divide features by their std over base ∪ query (default on)")
    s.add_argument("--base-selection", choices=("kmeans", "uniform"), default="kmeans")
    s.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    s.add_argument("--kernel", choices=("linear", "rbf"), default="linear",
                   help="kernel for local CKA and QAP (RBF: median rule per space)")
    s.add_argument("--restarts", type=int, default=1, help="QAP restarts (randomized starts when > 1)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--out", help="write the full result (per-seed runs too) as JSON")
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_match)

    s = sub.add_parser("embed", help="embed texts, images or a dataset with an encoder")
    s.add_argument("--model", required=True, help="encoder name (see `repalign list encoders`)")
    s.add_argument("--texts", help="text file, one item per line")
    s.add_argument("--images", help="folder of images (searched recursively, sorted by path)")
    s.add_argument("--dataset", help="dataset name (see `repalign list datasets`)")
    s.add_argument("--out", required=True, help="output file (.npy .npz .safetensors .parquet .pt .csv .tsv)")
    s.add_argument("--data-dir", help="data folder (default $REPALIGN_DATA)")
    s.add_argument("--per-class", type=int, help="image datasets: items per class")
    s.add_argument("--limit", type=int, help="first N items only")
    s.add_argument("--batch-size", type=int, default=None)
    s.add_argument("--threads", type=int, default=None)
    s.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    s.add_argument("--force", action="store_true", help="overwrite an existing output")
    s.set_defaults(func=cmd_embed)

    s = sub.add_parser("demo", help="the main job: two encoders on the same items, every measure")
    s.add_argument("--out", default="results/demo", help="output folder (default results/demo)")
    s.add_argument("--data-dir", help="data folder (default $REPALIGN_DATA); XTD-10 pairs need it")
    s.add_argument("--permutations", type=_positive_int, default=100, help="default 100")
    s.add_argument("--bootstrap", type=_positive_int, default=50, help="default 50")
    s.add_argument("--seeds", type=_positive_int, default=3, help="shuffle-curve seeds (default 3)")
    s.add_argument("--limit", type=int, default=None, help="first N items of every set (quick run)")
    s.add_argument("--no-cache", action="store_true")
    s.add_argument("--json", action="store_true")
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("experiment", help="run one of the paper experiments on real data")
    s.add_argument("name", help="experiment name: crosslingual, ablation, classification, cka-vs-qap, blind-cifar, "
                                "unsupervised, blind-xtd, qap-solvers (see `repalign list experiments`)")
    s.add_argument("--time-limit", type=float, default=None, help="QAP seconds per instance (blind / solvers)")
    s.add_argument("--out-dir", default="results", help="where NAME.json and NAME.md go (default results/)")
    s.add_argument("--data-dir", help="data folder (default $REPALIGN_DATA)")
    s.add_argument("--languages", nargs="+", default=None, help="XTD-10 languages (default: all but en)")
    s.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    s.add_argument("--json", action="store_true")
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_experiment)

    s = sub.add_parser("qap", help="solve a QAPLIB instance (.dat), with a bound where the solver gives one")
    s.add_argument("file", help="QAPLIB .dat file; a .sln beside it is compared against")
    s.add_argument("--solver", default="hahn-grant",
                   help="hahn-grant (default), tabu, faq, 2opt, entropic-gw, brute-force")
    s.add_argument("--time-limit", type=float, default=None,
                   help="seconds for tabu / hahn-grant (default 10 / 60)")
    s.add_argument("--out", help="write the permutation as a QAPLIB .sln file")
    s.add_argument("--json", action="store_true")
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_qap)

    s = sub.add_parser("list", help="list encoders, measures, datasets, experiments or QAP solvers")
    s.add_argument("what", choices=("encoders", "measures", "datasets", "experiments", "solvers"))
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_list)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("repalign: interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        if args.debug:
            raise
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"repalign: error: {msg}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a traceback by default
        if args.debug:
            raise
        print(f"repalign: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
