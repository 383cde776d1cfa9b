"""``repalign match A B``: match / retrieve between two unaligned embedding sets (base + queries)."""

from __future__ import annotations

from ..matching import run_matching
from .common import JSON_OUT, check_out, load_pair, print_json, write_json
from .errors import CLIError

__all__ = ["run"]


def run(args) -> int:
    check_out(args.out, JSON_OUT, args.force)
    X, Y = load_pair(args.a, args.b, (), args)
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
        write_json(args.out, res.to_dict(), args.force)
    if args.json:
        print_json({"methods": res.methods, "settings": res.settings})
    else:
        print(f"n = {len(X)}, base = {args.base_size}, queries = {args.query_size}, seeds = {args.seeds}")
        print(f"{'method':<10} {'matching':>16} {'top1':>8} {'top5':>8} {'top10':>8} {'seconds':>8}")
        for m, v in res.methods.items():
            print(f"{m:<10} {v['matching_accuracy']:>8.3f} ± {v['matching_accuracy_std']:<5.3f} {v['top1']:>8.3f} "
                  f"{v['top5']:>8.3f} {v['top10']:>8.3f} {v['seconds']:>8.3f}")
    return 0
