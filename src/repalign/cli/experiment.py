"""``repalign experiment list | run NAME...``: the paper experiments on real data.

Which settings each experiment takes (seeds, languages, a time limit, a Dask scheduler) is read
from its record in :data:`repalign.experiments.EXPERIMENTS`.
"""

from __future__ import annotations

from pathlib import Path

from .. import _log
from ..datasets.base import data_root
from ..experiments.registry import EXPERIMENTS
from ..io import atomic_write, check_writable
from .common import print_json
from .errors import CLIError

__all__ = ["run"]


def run(args) -> int:
    verb, *rest = args.what
    if verb == "list":
        if rest:
            raise CLIError("experiment list: takes no names")
        if args.json:
            print_json({k: e.title for k, e in EXPERIMENTS.items()})
        else:
            for k, e in EXPERIMENTS.items():
                print(f"{k:<16} {e.title}")
        return 0
    names = rest if verb == "run" else [verb, *rest]
    if not names:
        raise CLIError("experiment run: name at least one experiment (or 'all'); see `repalign experiment list`")
    if names == ["all"]:
        names = list(EXPERIMENTS)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise CLIError(f"experiment: unknown experiment {unknown[0]!r}; known: {', '.join(EXPERIMENTS)}")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise CLIError(f"experiment run: {twice[0]!r} is named twice; name each experiment once")
    if any(EXPERIMENTS[n].needs_data for n in names):
        data_root(args.data_dir)  # before importing anything: a missing data folder is one quick error
    for name in names:  # every output is checked before the first experiment starts
        for ext in (".json", ".md"):
            check_writable(Path(args.out_dir) / f"{name}{ext}", args.force)
    results = {name: _run_one(args, name) for name in names}
    if args.json:
        print_json({k: v.to_dict() for k, v in results.items()} if len(results) > 1 else
                   next(iter(results.values())).to_dict())
    return 0


def _run_one(args, name):
    exp = EXPERIMENTS[name]
    out = Path(args.out_dir) / f"{name}.json"
    md = Path(args.out_dir) / f"{name}.md"
    log = _log.info  # stderr, through the package logger (--quiet / --verbose set its level)
    given = {"data_dir": args.data_dir, "seeds": args.seeds, "languages": args.languages, "progress": True,
             "plot": Path(args.out_dir) / f"{name}.png"}
    if args.time_limit is not None:
        given["time_limit"] = args.time_limit
    if args.scheduler:
        if exp.distributed:
            given["scheduler"] = args.scheduler
        else:
            distributed = [k for k, e in EXPERIMENTS.items() if e.distributed]
            _log.warning(f"note: {name} runs here; --scheduler applies to {', '.join(distributed)}")
    kwargs = {k: v for k, v in given.items() if k in exp.options}
    res = exp.runner()(out=out, force=args.force, log=log, **kwargs)
    with atomic_write(md, force=args.force) as tmp:
        tmp.write_text(res.markdown() + "\n", encoding="utf-8")
    if not args.json:
        print(res.markdown())
        print(f"wrote {out} and {md} ({res.seconds:.0f} s)")
    return res
