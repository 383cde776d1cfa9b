"""``repalign list encoders|measures|datasets|experiments|solvers``.

Experiments and solvers are read from their registries, which import nothing heavy; encoders,
measures and datasets load their packages' registries.
"""

from __future__ import annotations

import json

from .. import datasets, encoders, measures  # lazy packages: nothing loads until a name is used
from ..experiments.registry import EXPERIMENTS
from ..qap.registry import SOLVER_DESCRIPTIONS

__all__ = ["run"]


def _print(rows: dict, as_json: bool, width: int) -> None:
    if as_json:
        print(json.dumps(rows, indent=2, default=float))
    else:
        for k, v in rows.items():
            print(f"{k:<{width}} {v}")


def run(args) -> int:
    if args.what == "experiments":
        _print({k: e.title for k, e in EXPERIMENTS.items()}, args.json, 16)
    elif args.what == "solvers":
        _print(dict(SOLVER_DESCRIPTIONS), args.json, 12)
    elif args.what == "datasets":
        _print(datasets.list_datasets(), args.json, 18)
    elif args.what == "encoders":
        rows = [i.to_dict() for i in encoders.list_encoders()]
        if args.json:
            print(json.dumps(rows, indent=2, default=float))
        else:
            for r in rows:
                print(f"{r['name']:<30} {r['modality']:<6} {str(r['dim']):>5}  {r['description']}")
    else:
        table = measures.MEASURES
        if args.json:
            print(json.dumps({k: m.to_dict() for k, m in table.items()}, indent=2, default=float))
        else:
            for k, m in table.items():
                print(f"{k:<22} {'higher' if m.higher_is_more_similar else 'lower ':<6} = more similar  {m.description}")
    return 0
