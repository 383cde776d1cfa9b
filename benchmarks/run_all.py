"""Run every benchmark, each in its own process (clean peak-memory figures), and print tables.

`make bench` runs this. Benchmarks are not tests: they print time and quality next to the
baseline they must beat, measured in the same run. This machine is shared and noisy: read the
ratios.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHES = ["bench_matching.py", "bench_resampling.py", "bench_rbf_cka.py", "bench_linear_cka_stream.py", "bench_encoders.py"]


def main(argv):
    chosen = [b for b in BENCHES if not argv or any(a in b for a in argv)]
    failed = []
    for b in chosen:
        print(f"\n# {b}", flush=True)
        r = subprocess.run([sys.executable, str(HERE / b)], cwd=HERE)
        if r.returncode:
            failed.append(b)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
