"""``repalign report FOLDER``: one self-contained HTML page of everything in a results folder."""

from __future__ import annotations

from ..report.html import build_report
from .common import print_json

__all__ = ["run"]


def run(args) -> int:
    res = build_report(args.results, args.output, force=args.force, title=args.title)
    if args.json:
        print_json(res.to_dict())
    else:
        print(f"wrote {res.path}: {len(res.sections)} sections, {res.images} images"
              + (f", {len(res.skipped)} files skipped (listed in the page)" if res.skipped else ""))
    return 0
