"""``repalign shuffle-curve A B``: measures against the fraction of shuffled pairs."""

from __future__ import annotations

from pathlib import Path

from ..measures import shuffle_curve
from ..plotting import save_figure, shuffle_curves
from .common import (
    JSON_OUT,
    PLOT_OUT,
    check_out,
    load_pair,
    measures_from_args,
    print_json,
    write_json,
)

__all__ = ["run"]


def run(args) -> int:
    check_out(args.plot, PLOT_OUT, args.force, "plot")
    check_out(args.out, JSON_OUT, args.force)
    ms = measures_from_args(args)
    X, Y = load_pair(args.a, args.b, ms, args)
    curve = shuffle_curve(X, Y, ms, fractions=args.fractions, n_repeats=args.repeats, seed=args.seed, progress=True)
    if args.plot:
        save_figure(shuffle_curves({f"{Path(args.a).stem} vs {Path(args.b).stem}": curve}), args.plot, force=args.force)
    if args.out:
        write_json(args.out, curve.to_dict(), args.force)
    if args.json:
        print_json(curve.to_dict())
    else:
        names = list(curve.mean)
        print("fraction  " + "  ".join(f"{n:>22}" for n in names))
        for i, f in enumerate(curve.fractions):
            cells = [f"{curve.mean[n][i]:>12.4f} ± {curve.std[n][i]:<7.4f}" for n in names]
            print(f"{f:8.2f}  " + "  ".join(cells))
    return 0
