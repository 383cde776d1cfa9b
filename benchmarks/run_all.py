"""Run every benchmark, each in its own process (clean peak-memory figures), and print tables.

`make bench` runs this. Benchmarks are not tests: they print time and quality next to the
baseline they must beat, measured in the same run. This machine is shared and noisy: read the
ratios.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
# every benchmarks/bench_*.py, found by name; each writes benchmarks/results/<name>.json, from which
# `make readme` renders the README's benchmark tables
BENCHES = sorted(p.name for p in HERE.glob("bench_*.py"))
# bench_qap_solvers at the 60 s per QAPLIB instance takes ~80 min; `make bench` uses 10 s
# (the tabu trajectory is deterministic: a longer limit only lowers the gaps). Override with
# `python benchmarks/bench_qap_solvers.py --time-limit 60`.
ARGS = {"bench_qap_solvers.py": ["--time-limit", "10"]}


def main(argv):
    chosen = [b for b in BENCHES if not argv or any(a in b for a in argv)]
    failed = []
    for b in chosen:
        print(f"\n# {b}", flush=True)
        r = subprocess.run([sys.executable, str(HERE / b), *ARGS.get(b, [])], cwd=HERE)
        if r.returncode:
            failed.append(b)
    written = sorted(p.name for p in (HERE / "results").glob("*.json"))
    print(f"\nresults: {', '.join(written)} in {HERE / 'results'} (make readme renders the README's tables)")
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
