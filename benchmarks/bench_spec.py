"""SPEC in time linear in n (jalali2025): covariance routes against the direct n x n route.

Targets (issue 9): cosine kernel, d = 1280 + 384, n = 1,000,000 within 60 s and 2 GB on 2 cores;
Gaussian kernel with 2,000 random Fourier frequencies per side, n = 100,000 within 60 s; linear
growth from 10⁴ to 10⁶. Baseline in the same run: the direct route (``eigh`` of the n x n kernel
difference) at the largest n it handles here (4,000), and the cholesky route on the same rows.

Data: a pool of 8,000 correlated float32 rows (two noisy views of a 64-d latent), repeated to
n rows in memory-mapped ``.npy`` files under $TMPDIR (built once, ~7 GB at 10⁶): SPEC streams
them from disk as a user's files would be. Repeating every row the same number of times leaves
the eigenvalues of (K_A − K_B)/n unchanged, which checks the 10⁶ run against the pool's direct
route. Each size runs in its own process, so peak memory is that run's VmHWM: anonymous memory
plus the memory map's pages while they are resident (SPEC releases them chunk by chunk; the page
cache itself is not counted).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401
import numpy as np
from _common import peak_rss_mb, table

POOL = 8000
DA, DB = 1280, 384
HERE = Path(__file__).parent


def pool(seed=0):
    rng = np.random.default_rng(seed)
    lat = rng.standard_normal((POOL, 64), dtype=np.float32)
    A = lat @ rng.standard_normal((64, DA), dtype=np.float32) + 3 * rng.standard_normal((POOL, DA), dtype=np.float32)
    B = lat @ rng.standard_normal((64, DB), dtype=np.float32) + 3 * rng.standard_normal((POOL, DB), dtype=np.float32)
    return A.astype(np.float32), B.astype(np.float32)


def files(n: int):
    folder = Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / "repalign-bench-spec"
    folder.mkdir(exist_ok=True)
    fa, fb = folder / f"a_{n}.npy", folder / f"b_{n}.npy"
    if not (fa.exists() and fb.exists()):
        A, B = pool()
        for f, X in ((fa, A), (fb, B)):
            mm = np.lib.format.open_memmap(f.with_suffix(".tmp.npy"), mode="w+", dtype=np.float32,
                                           shape=(n, X.shape[1]))
            for s in range(0, n, POOL):
                e = min(n, s + POOL)
                mm[s:e] = X[: e - s]
            mm.flush()
            del mm
            os.replace(f.with_suffix(".tmp.npy"), f)
    return fa, fb


def one(n: int, kernel: str, rff: int | None, route: str):
    """Child process: one SPEC run, printed as JSON."""
    from repalign.spectral import spec

    fa, fb = files(n)
    base = peak_rss_mb()
    t0 = time.perf_counter()
    r = spec(str(fa), str(fb), kernel, rff=rff, route=route, n_modes=3, top=5, return_scores=False)
    t = time.perf_counter() - t0
    print(json.dumps({"n": n, "kernel": kernel, "rff": rff, "route": r.route, "seconds": t,
                      "peak_mb": peak_rss_mb() - base, "spec_diff": r.spec_diff,
                      "top": [float(x) for x in r.eigenvalues[:3]]}))


def child(n, kernel="cosine", rff=None, route="auto"):
    files(n)  # built here, not in the child: writing them would count in the child's peak memory
    cmd = [sys.executable, __file__, "--one", str(n), "--kernel", kernel, "--route", route]
    if rff:
        cmd += ["--rff", str(rff)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--one", type=int)
    p.add_argument("--kernel", default="cosine")
    p.add_argument("--rff", type=int)
    p.add_argument("--route", default="auto")
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = p.parse_args(argv)
    if args.one:
        one(args.one, args.kernel, args.rff, args.route)
        return 0
    from repalign.spectral import spec

    # baseline: the direct route at n = 4,000 against the cholesky route on the same rows
    A, B = pool()
    t0 = time.perf_counter()
    direct = spec(A[:4000], B[:4000], "cosine", route="direct", n_modes=3, top=5)
    t_direct = time.perf_counter() - t0
    t0 = time.perf_counter()
    chol = spec(A[:4000], B[:4000], "cosine", route="cholesky", n_modes=3, top=5)
    t_chol = time.perf_counter() - t0
    ref = spec(A, B, "cosine", route="cholesky", n_modes=3, top=5)  # the pool: what every repeated n must give
    rows = [["direct n x n route (baseline)", 4000, t_direct, "-", direct.spec_diff, "O(n³): 10⁶ rows would take "
             f"~{t_direct * (1e6 / 4000) ** 3 / 3.15e7:.0f} years"],
            ["cholesky route, same rows", 4000, t_chol, "-", chol.spec_diff,
             f"{t_direct / t_chol:.0f}x faster; |Δ SPEC-diff| {abs(direct.spec_diff - chol.spec_diff):.1e}"]]
    scaling = []
    for n in args.sizes:
        r = child(n)
        scaling.append(r)
        err = max(abs(a - b) for a, b in zip(r["top"], ref.eigenvalues[:3], strict=True))
        rows.append([f"cholesky route, streamed from .npy ({r['route']})", n, r["seconds"], r["peak_mb"],
                     r["spec_diff"], f"top-3 λ vs the pool's: {err:.1e}" + ("; target <= 60 s, 2 GB" if n == 1_000_000
                                                                            else "")])
    per = [r["seconds"] / r["n"] * 1e6 for r in scaling]
    table("SPEC, cosine kernel, d = 1280 + 384 (float32 files)", ["route", "n", "seconds", "peak MB", "SPEC-diff",
                                                                   "note"], rows)
    sizes = ", ".join(f"{r['n']:,}" for r in scaling)
    print(f"\nseconds per 10⁶ rows at n = {sizes}: {', '.join(f'{x:.1f}' for x in per)} (linear growth: constant)")
    g = child(100_000, "gaussian", 2000)
    table("SPEC, Gaussian kernel, 2,000 random Fourier frequencies per side (8,000 features), d = 1280 + 384",
          ["n", "seconds", "peak MB", "SPEC-diff", "note"],
          [[g["n"], g["seconds"], g["peak_mb"], g["spec_diff"], "target <= 60 s (paper App. B.1: 85 s at 10k RFF on "
            "two GPUs)"]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
