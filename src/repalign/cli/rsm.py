"""``repalign rsm MAPS``: semantic (spatial-permutation invariant) or spatio-semantic RSM of feature maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._validate import warn
from ..io import atomic_write, check_writable, load_array
from ..rsm import semantic_rsm, spatial_rsm
from .common import check_out, print_json, write_json
from .errors import CLIError

__all__ = ["run"]


def run(args) -> int:
    check_out(args.out, (".npy",), args.force)
    if args.out:
        check_writable(str(args.out) + ".json", args.force)
    if args.out:  # never overwrite an input, even with --force
        out = Path(args.out).resolve()
        for given, what in ((args.maps, "maps"), (args.other, "--other"), (args.checkpoint, "--checkpoint")):
            if given and Path(str(given).rsplit(":", 1)[0] if not Path(given).exists() else given).resolve() in (
                    out, Path(str(out) + ".json")):
                raise CLIError(f"--out: {args.out} is the {what} file; write the RSM to another file")
    x = load_array(args.maps)
    y = load_array(args.other) if args.other else None
    if args.invariance == "none":
        if args.scheduler:
            warn("--scheduler: a spatio-semantic RSM (--invariance none) is one matrix product; computing here")
        if args.matcher != "optimal":
            raise CLIError("--matcher: applies to --invariance permutation only")
        res = spatial_rsm(x, y, kernel=args.kernel, layout=args.layout, center=args.center, check_layout=not args.force)
    else:
        res = semantic_rsm(x, y, kernel=args.kernel, matcher=args.matcher, backend=args.backend, layout=args.layout,
                           center=args.center, n_jobs=args.jobs, checkpoint=args.checkpoint, force=args.force,
                           check_layout=not args.force,
                           progress=True,
                           scheduler=args.scheduler)
    if args.out:
        with atomic_write(args.out, force=args.force) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, res.matrix)
        write_json(str(args.out) + ".json", {**res.to_dict(), "maps": str(args.maps), "other": args.other}, args.force)
    d = res.to_dict()
    if args.json:
        print_json(d)
    else:
        if res.symmetric and len(res.matrix) > 1:
            summary = f"mean off-diagonal {res.matrix[~np.eye(len(res.matrix), dtype=bool)].mean():.4f}"
        elif res.symmetric:
            summary = "one sample: nothing off the diagonal"
        else:
            summary = f"mean similarity {res.matrix.mean():.4f}"
        print(f"{res.invariance if res.invariance != 'none' else 'spatio-semantic'} RSM {d['shape'][0]} x {d['shape'][1]}, "
              f"{res.kernel} kernel, matcher {res.matcher}: {summary} ({res.seconds:.1f} s)"
              + (f"; wrote {args.out}" if args.out else ""))
    return 0
