"""RBF CKA at n = 20,000 (target: within 1.3x of the two Gram products it cannot avoid).

Baselines measured in the same run: the two full Gram products ``X @ X.T`` and ``Y @ Y.T``
(the floor for any exact method), and a plain numpy kernel-space implementation (full n x n
distance and kernel matrices, ``np.median``, double centring) for the value and its time.
ckatorch at n = 5,000: ``bench_vs_ckatorch.py``.
"""

import gc
import sys

import _common  # noqa: F401
import numpy as np
from _common import peak_rss_mb, table, timeit


def plain_numpy_rbf_cka(X, Y):
    def kernel(A):
        sq = (A * A).sum(1)
        D = sq[:, None] + sq[None, :] - 2 * (A @ A.T.copy())
        np.maximum(D, 0, out=D)
        np.fill_diagonal(D, 0)
        iu = np.triu_indices(len(A), 1)
        tri = D[iu]
        del iu
        tri = tri[tri > 0]
        med = np.partition(tri, (len(tri) - 1) // 2)[(len(tri) - 1) // 2]  # lower median
        del tri
        K = np.exp(-D / (2 * med))
        del D
        K -= K.mean(0)[None, :]
        K -= K.mean(1)[:, None]
        return K

    K = kernel(X)
    L = kernel(Y)
    kl = (K * L).sum()
    kk = (K * K).sum()
    ll = (L * L).sum()
    return kl / np.sqrt(kk * ll)


def main(n=20000, dx=1024, dy=768, naive=True):
    import repalign as ra

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, dx))
    Y = X[:, :dy] @ rng.standard_normal((dy, dy)) / np.sqrt(dy) + rng.standard_normal((n, dy))

    def grams():
        a = X @ X.T.copy()
        del a
        gc.collect()
        b = Y @ Y.T.copy()
        del b
        gc.collect()

    t_gram, _ = timeit(grams)
    gc.collect()
    base = peak_rss_mb()
    t_med, r_med = timeit(lambda: ra.rbf_cka_blockwise(X, Y, sigma="median", block_size=2048))
    t_fix, r_fix = timeit(lambda: ra.rbf_cka_blockwise(X, Y, sigma=r_med["sigma_x"], block_size=2048))
    blockwise_mb = peak_rss_mb() - base
    rows = [
        ["two Gram products X Xᵀ, Y Yᵀ (floor)", t_gram, "", "1.00x"],
        ["repalign blockwise, median rule", t_med, r_med["cka"], f"{t_med / t_gram:.2f}x (target <= 1.3x)"],
        ["repalign blockwise, one fixed sigma for both", t_fix, r_fix["cka"], f"{t_fix / t_gram:.2f}x"],
    ]
    if naive:
        t_naive, v_naive = timeit(lambda: plain_numpy_rbf_cka(X, Y))
        rows.append(["plain numpy, full n x n matrices", t_naive, v_naive, f"{t_naive / t_gram:.2f}x"])
        rows.append(["|repalign - plain numpy|", "", abs(v_naive - r_med["cka"]), ""])
    table(f"RBF CKA, n = {n:,}, d = {dx} / {dy}", ["run", "seconds", "CKA", "vs floor"], rows)
    print(f"\npeak memory of the blockwise runs: {blockwise_mb:.0f} MB above the inputs and the Gram "
          f"baseline (the median rule keeps float32 distances; the plain version holds several "
          f"{n * n * 8 / 2**30:.1f} GB matrices)")
    return 0


if __name__ == "__main__":
    sys.exit(main(naive="--no-naive" not in sys.argv))
