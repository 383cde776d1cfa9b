"""Shared helpers for the benchmarks: quiet threads, timing, tables, peak memory."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before anything imports torch
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import atexit  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

#: every table this benchmark printed; written to benchmarks/results/<script>.json at exit
TABLES: list = []
RESULTS_DIR = Path(__file__).parent / "results"


def timeit(fn, repeat: int = 1):
    """Best wall time of ``repeat`` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def median_time(fn, repeat: int):
    """Median wall time of ``repeat`` calls (a noisy shared machine: the median, not the best),
    and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def child_json(script, *args) -> dict | None:
    """Run ``script`` with ``args`` in its own process (its peak memory its own) and parse the JSON
    on its last stdout line; None (after printing its stderr tail) when it failed."""
    import subprocess

    out = subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                         cwd=Path(script).parent)
    if out.returncode:
        print(out.stderr[-2000:])
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (VmHWM), in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _write_tables() -> None:
    if not TABLES:
        return
    try:
        from repalign import __version__
    except ImportError:  # run without the package installed
        __version__ = "unknown"
    script = Path(sys.argv[0]).stem
    RESULTS_DIR.mkdir(exist_ok=True)
    out = {"benchmark": script, "argv": sys.argv[1:], "repalign_version": __version__,
           "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                       "python": platform.python_version()},
           "tables": TABLES}
    tmp = RESULTS_DIR / f".{script}.json.tmp"
    tmp.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    tmp.replace(RESULTS_DIR / f"{script}.json")


atexit.register(_write_tables)


def qaplib_instances(max_n: int):
    """The QAPLIB development set's instances with a ``.sln`` and n <= ``max_n``, as
    ``(dat path, QAPProblem, Solution)`` in file-name order; a file the readers refuse is
    reported and skipped. None (after saying so) when $REPALIGN_DATA has no qaplib folder."""
    from repalign.qap import read_qaplib, read_solution

    folder = Path(os.environ.get("REPALIGN_DATA", "")) / "qaplib"
    if not folder.is_dir():
        print("\n(no QAPLIB folder: set REPALIGN_DATA to the data folder)")
        return None
    out = []
    for dat in sorted(folder.glob("*.dat")):
        sln = dat.with_suffix(".sln")
        if not sln.exists():
            continue
        try:
            p = read_qaplib(dat)
            if p.n > max_n:
                continue
            out.append((dat, p, read_solution(sln)))
        except ValueError as exc:  # report a bad file and go on
            print(f"skipping {dat.name}: {exc}", flush=True)
    return out


def table(title: str, header, rows) -> None:
    """Print a Markdown table and record it for benchmarks/results/<script>.json."""
    TABLES.append({"title": title, "header": [str(h) for h in header],
                   "rows": [[c if isinstance(c, (str, int, float)) or c is None else str(c) for c in r] for r in rows]})
    rows = [[c if isinstance(c, str) else (f"{c:.4g}" if isinstance(c, float) else str(c)) for c in r] for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(f"\n## {title}\n")
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
