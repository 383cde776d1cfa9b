"""``repalign demo``: the main job (two encoders on the same items, every measure), then its report."""

from __future__ import annotations

from pathlib import Path

from .. import _log
from ..experiments import run_demo
from ..io import check_writable
from ..report import build_report
from .common import print_json
from .errors import CLIError

__all__ = ["run"]


def run(args) -> int:
    if args.limit is not None and args.limit < 20:
        raise CLIError(f"--limit: the demo needs at least 20 items for the k-NN measures, got {args.limit}")
    page = Path(args.out) / "report.html"
    check_writable(page, args.force)
    log = _log.info  # stderr, through the package logger (--quiet / --verbose set its level)
    res = run_demo(args.out, force=args.force, data_dir=args.data_dir, n_permutations=args.permutations,
                   n_bootstrap=args.bootstrap, n_repeats=args.repeats, use_cache=not args.no_cache,
                   progress=True, limit=args.limit, log=log)
    report = build_report(args.out, page, force=args.force, title="repalign demo")
    log(f"report: {report.path}")
    if args.json:
        print_json(res.to_dict())
    return 0
