"""The README's result tables, generated from result files so that they cannot drift.

A block in the README::

    <!-- results:crosslingual -->
    ...generated table...
    <!-- /results:crosslingual -->

is replaced by the table rebuilt from ``docs/results/crosslingual.json`` (the file that
``repalign experiment run crosslingual --out-dir docs/results`` writes). ``demo`` comes from
``docs/results/demo.json`` (``results.json`` of ``repalign demo``).

Benchmark tables work the same way: a block ``<!-- bench:bench_rsm:1 -->`` is table 1 (counting
from 0) that ``benchmarks/bench_rsm.py`` printed in its last run, read from
``benchmarks/results/bench_rsm.json``, with the command, date and machine under it.

``make readme`` rewrites every block; ``python -m repalign.report.readme --check`` (and
``tests/report/test_readme.py``) fails when a block differs from what its file gives.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from ..experiments.registry import EXPERIMENTS
from ..io import atomic_write

__all__ = ["render_block", "render_bench_block", "update_readme", "BLOCK", "main"]

BLOCK = re.compile(r"(<!-- (?P<src>results|bench):(?P<name>[\w:-]+) -->\n)(?P<body>.*?)(<!-- /(?P=src):(?P=name) -->)",
                   re.S)

_DEMO_COLUMNS = [("cka-linear", "CKA lin", "{:.3f}"), ("cka-rbf", "CKA rbf", "{:.3f}"),
                 ("cka-linear-debiased", "CKA debiased", "{:.3f}"), ("mutual-knn", "mutual k-NN", "{:.3f}"),
                 ("cknna", "CKNNA", "{:.3f}"), ("gw", "GW (lower = closer)", "{:.4f}"), ("rsa", "RSA", "{:.3f}")]


def _demo_table(d: dict) -> str:
    lines = ["| pair | " + " | ".join(c[1] for c in _DEMO_COLUMNS) + " |", "|---|" + "---|" * len(_DEMO_COLUMNS)]
    for label, pair in d["pairs"].items():
        ms = pair["similarity"]["measures"]
        cells = [fmt.format(ms[key]["value"]) if key in ms else "-" for key, _, fmt in _DEMO_COLUMNS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_block(name: str, results_dir) -> str:
    """The Markdown of block ``name`` from ``results_dir/<name>.json``."""
    path = Path(results_dir) / f"{name}.json"
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no result file for README block {name!r}; run `repalign experiment run "
                         f"{name} --out-dir {results_dir}`") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if name == "demo":
        return _demo_table(d)
    if name not in EXPERIMENTS:
        raise ValueError(f"README block {name!r}: no result type; known: demo, {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name].result_type().from_dict(d).readme_markdown()


def _cell(c) -> str:
    if c is None:
        return "-"
    if isinstance(c, float):
        return f"{c:.4g}"
    return str(c).replace("|", "\\|")


def render_bench_block(name: str, bench_dir) -> str:
    """The Markdown of benchmark block ``name`` (``SCRIPT:K``: table K of ``bench_dir/SCRIPT.json``).

    Parameters
    ----------
    name : str
        ``bench_rsm:1`` (or ``bench_rsm`` for its only table).
    bench_dir : str or Path
        Where the benchmarks write their JSON (``benchmarks/results``).

    Returns
    -------
    str
        The table, then one line: the command, date, machine and version of the run.
    """
    script, _, k = name.partition(":")
    path = Path(bench_dir) / f"{script}.json"
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        tables = d["tables"]
    except FileNotFoundError:
        raise ValueError(f"{path}: no benchmark file for README block {name!r}; run `python benchmarks/"
                         f"{script}.py`") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a benchmark result ({exc})") from None
    if not k and len(tables) != 1:
        raise ValueError(f"README block {name!r}: {path.name} holds {len(tables)} tables; name one ({script}:0 ...)")
    idx = int(k or 0)
    if not 0 <= idx < len(tables):
        raise ValueError(f"README block {name!r}: {path.name} has tables 0..{len(tables) - 1}")
    t = tables[idx]
    lines = [f"**{t['title']}**", "", "| " + " | ".join(t["header"]) + " |", "|" + "---|" * len(t["header"])]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t["rows"]]
    m = d.get("machine", {})
    argv = " ".join(d.get("argv") or [])
    lines += ["", f"<sub>`python benchmarks/{script}.py{' ' + argv if argv else ''}`, {d.get('when', '?')}, "
                  f"{m.get('cpus', '?')} cores, repalign {d.get('repalign_version', '?')}.</sub>"]
    return "\n".join(lines)


def update_readme(readme, results_dir, *, bench_dir=None, check: bool = False) -> list[str]:
    """Regenerate every block of ``readme`` from ``results_dir`` (and benchmark blocks from
    ``bench_dir``); returns the names of the blocks that changed (with ``check``, nothing is
    written)."""
    readme = Path(readme)
    text = readme.read_text(encoding="utf-8")
    changed = []

    def sub(m):
        if m.group("src") == "bench":
            if bench_dir is None:
                return m.group(0)
            body = render_bench_block(m.group("name"), bench_dir)
        else:
            body = render_block(m.group("name"), results_dir)
        body = body.rstrip("\n") + "\n"
        if body != m.group("body"):
            changed.append(m.group("name"))
        return m.group(1) + body + m.group(5)

    new = BLOCK.sub(sub, text)
    if changed and not check:
        with atomic_write(readme, force=True) as tmp:
            tmp.write_text(new, encoding="utf-8")
    return changed


def main(argv=None) -> int:
    """``python -m repalign.report.readme [--readme README.md] [--results docs/results]
    [--benchmarks benchmarks/results] [--check]``."""
    p = argparse.ArgumentParser(prog="python -m repalign.report.readme", description=__doc__.splitlines()[0])
    p.add_argument("--readme", default="README.md", help="the README to update (default README.md)")
    p.add_argument("--results", default="docs/results", help="folder of result files (default docs/results)")
    p.add_argument("--benchmarks", default="benchmarks/results",
                   help="folder of benchmark result files (default benchmarks/results)")
    p.add_argument("--check", action="store_true", help="only report blocks that differ; exit 1 if any")
    args = p.parse_args(argv)
    try:
        changed = update_readme(args.readme, args.results, bench_dir=args.benchmarks, check=args.check)
    except (ValueError, OSError) as exc:
        print(f"repalign: error: {exc}", file=sys.stderr)
        return 2
    if args.check and changed:
        print(f"README blocks out of date: {', '.join(changed)} (run `make readme`)", file=sys.stderr)
        return 1
    print(f"{'would update' if args.check else 'updated'}: {', '.join(changed) or 'nothing'}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
