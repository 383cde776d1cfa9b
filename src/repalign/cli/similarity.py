"""``repalign similarity A B``: every similarity measure between two embedding files."""

from __future__ import annotations

from pathlib import Path

from .._validate import warn
from ..measures import evaluate, evaluate_out_of_core
from .common import JSON_OUT, check_out, load_pair, measures_from_args, print_json, write_json
from .errors import CLIError

__all__ = ["run"]


def _is_store(path) -> bool:
    return str(path).endswith(".zarr") or Path(path).is_dir()


def run(args) -> int:
    check_out(args.out, JSON_OUT, args.force)
    streamed = args.out_of_core or _is_store(args.a) or _is_store(args.b)
    if streamed:
        if args.permutations or args.bootstrap:
            raise CLIError("--permutations/--bootstrap: resampling needs the data in memory; drop them out of core")
        try:
            rep = evaluate_out_of_core(args.a, args.b, args.measure, scheduler=args.scheduler)
        except ValueError as exc:
            if str(exc).startswith("measure "):
                raise CLIError("--" + str(exc) + " (a file, not a store/folder, and no --out-of-core)") from None
            raise
    else:
        if args.scheduler and not (args.permutations or args.bootstrap):
            warn("--scheduler: nothing to distribute (no --permutations or --bootstrap, inputs in memory); "
                 "computing here")
        ms = measures_from_args(args)
        named = bool(args.measure)  # measures the user named must run; the default set skips what cannot
        X, Y = load_pair(args.a, args.b, ms if named else (), args)
        rep = evaluate(X, Y, ms, n_permutations=args.permutations, n_bootstrap=args.bootstrap, level=args.level,
                       seed=args.seed, progress=True, scheduler=args.scheduler, too_few="raise" if named else "skip")
    if args.out:
        write_json(args.out, rep.to_dict(), args.force)
    if args.json:
        print_json(rep.to_dict())
    else:
        print(f"n = {rep.n}, dims = {rep.dim_x} / {rep.dim_y}" + (" (streamed out of core)" if streamed else ""))
        print(rep.table())
    return 0
