"""Streamed linear CKA at n = 1,000,000, d = 1024 (target: <= 60 s, <= 2 GB on 2 cores).

Rows come from a pool of 5 pre-generated chunks of 8,000 pairs reused 25 times (generating
2e9 normals would take longer than the CKA itself). Repeating every row the same number of
times leaves linear CKA unchanged, so the result is checked against a dense float64 numpy
computation on the 40,000 distinct rows. Baseline in the same run: the Gram-matrix
(kernel-space) CKA that the papers' code uses, at n = 5,000 (at 1e6 it would need 8 TB).

Run in its own process so that the peak-memory figure is this computation's.
"""

import sys

import _common  # noqa: F401
import numpy as np
from _common import peak_rss_mb, table, timeit


def dense_reference(X, Y):
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    return np.linalg.norm(Xc.T @ Yc) ** 2 / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc))


def gram_cka(X, Y):
    n = len(X)
    H = np.eye(n) - 1.0 / n
    K = H @ (X @ X.T.copy()) @ H
    L = H @ (Y @ Y.T.copy()) @ H
    return (K * L).sum() / np.sqrt((K * K).sum() * (L * L).sum())


def main(n=1_000_000, d=1024, chunk=8000, pool=5):
    from repalign.moments import streamed_linear_cka

    rng = np.random.default_rng(0)
    R = (rng.standard_normal((d, d), dtype=np.float32) / np.sqrt(d)).astype(np.float32)
    Xs = [rng.standard_normal((chunk, d), dtype=np.float32) for _ in range(pool)]
    Ys = [(x @ R + 2.0 * rng.standard_normal((chunk, d), dtype=np.float32)).astype(np.float32) for x in Xs]
    assert all(a.dtype == np.float32 for a in Xs + Ys)
    base_mb = peak_rss_mb()
    reps = n // (chunk * pool)

    def stream(dtype):
        gen = ((Xs[i % pool], Ys[i % pool]) for i in range(reps * pool))
        return streamed_linear_cka(gen, compute_dtype=dtype)

    t32, v32 = timeit(lambda: stream("auto"))
    t64, v64 = timeit(lambda: stream("float64"))
    peak = peak_rss_mb()
    ref = dense_reference(np.concatenate(Xs).astype(np.float64), np.concatenate(Ys).astype(np.float64))
    # baseline: kernel-space CKA (centring matrix H, as in the papers' code) at n = 5,000
    Xb, Yb = np.concatenate(Xs)[:5000].astype(np.float64), np.concatenate(Ys)[:5000].astype(np.float64)
    tg, vg = timeit(lambda: gram_cka(Xb, Yb))
    tf, vf = timeit(lambda: streamed_linear_cka([(Xb, Yb)]), repeat=3)
    table(f"Streamed linear CKA, n = {reps * pool * chunk:,}, d = {d}", ["run", "seconds", "CKA", "|error|", "note"], [
        ["streamed, float32 products (default for float32 input)", t32, v32, abs(v32 - ref), "target <= 60 s"],
        ["streamed, float64 products", t64, v64, abs(v64 - ref), ""],
        ["peak memory above the data pool (MB)", peak - base_mb, "", "", "target <= 2048 MB"],
        ["Gram-matrix CKA with H, n = 5,000 (papers' route)", tg, vg, abs(vg - vf), "baseline"],
        ["repalign feature route, n = 5,000", tf, vf, "", f"{tg / tf:.0f}x faster"],
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
