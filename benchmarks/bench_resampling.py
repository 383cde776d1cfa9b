"""Permutation tests and intervals: the fast resampling paths against recomputing the measure
on resampled arrays (the straightforward way), n = 1,000, 100 resamples each."""

import sys

import _common  # noqa: F401
import numpy as np
from _common import table, timeit


def main(n=1000, reps=100):
    import repalign as ra
    from repalign.measures import MEASURES

    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 384))
    Y = X @ rng.normal(size=(384, 512)) + 5 * rng.normal(size=(n, 512))
    perms = [rng.permutation(n) for _ in range(reps)]
    rows = []
    for name, m in MEASURES.items():
        t_fast, (p, _) = timeit(lambda m=m: ra.permutation_test(m, X, Y, reps, seed=0))
        t_slow, _ = timeit(lambda m=m: [m(X, Y[q]) for q in perms])
        rows.append([name, t_slow, t_fast, f"{t_slow / t_fast:.1f}x"])
    table(f"{reps} permutations at n = {n:,} (seconds)", ["measure", "recompute each", "repalign", "speed-up"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
