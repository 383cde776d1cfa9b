"""Start-up time of the command line: what `repalign --help`, `--version`, `list`, and an argument
error cost, against the interpreter alone and against the previous design (importing the whole
flat API first, as `import repalign` did before it became lazy). Target: <= 0.3 s each on a quiet
machine, importing neither torch, numba, scikit-learn nor pandas. Median of 7 runs each."""

import statistics
import subprocess
import sys
import time

from _common import table

HEAVY = ("torch", "numba", "sklearn", "pandas")


def _run(code: str, repeat: int = 7):
    times, out = [], ""
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        out = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    return statistics.median(times), out


def _cli(argv):
    return (f"import sys\nfrom repalign.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules) or '-')")


def main():
    base, _ = _run("pass")
    # what the former eager `import repalign` loaded: every flat-API name but the encoders, the
    # datasets and spec_align (those were lazy already)
    lazy_before = ("get_encoder", "list_encoders", "load_dataset", "list_datasets", "spec_align")
    eager, eager_mods = _run(f"import sys, repalign as ra\nfor n in ra.__all__:\n    if n not in {lazy_before!r}:\n"
                             f"        getattr(ra, n)\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules) or '-')", repeat=3)
    rows = [["python -c pass (interpreter alone)", base, "-", ""],
            ["the former eager `import repalign` (every name the CLI used to load)", eager, eager_mods, ""]]
    for argv in (["--help"], ["--version"], ["list", "solvers"], ["list", "experiments"], ["qap"],
                 ["similarity", "--no-such-option"]):
        t, mods = _run(_cli(argv))
        rows.append([f"repalign {' '.join(argv)}", t, mods, "yes" if t <= 0.3 and mods == "-" else "no"])
    table("Command-line start-up (seconds, median; heavy modules loaded)",
          ["command", "seconds", "heavy modules", "<= 0.3 s, none heavy"], rows)


if __name__ == "__main__":
    main()
