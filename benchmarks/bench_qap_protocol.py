"""Seeded QAP with the paper's protocol on a real, hard instance (maniparambil2024 §5, Table 4).

Instance: XTD-10 captions, English through ``minilm`` against German through
``use-multilingual``; M = 320 k-means base pairs, N' = 500 queries, stretched; kernels
``K̄ = HKH/‖HKH‖`` (n = 820). Falls back to a synthetic instance (two noisy views, more
noise than bench_matching's) when ``$REPALIGN_DATA`` is missing.

Rows, all in the same run:
* scipy ``quadratic_assignment`` from R shared randomized starts (tol 1e-5), extrapolated to 500.
* repalign FAQ from the same R starts (float64): same objectives.
* repalign: 500 randomized restarts, float32 chains (whose Frank-Wolfe directions use repalign's
  lapjv, ``lap="auto"``), 2 processes (the protocol, timed in full).
* repalign default: local-CKA start -> FAQ -> 2-opt of the query block (one run).
"""

import argparse
import os
import sys

import _common  # noqa: F401
import numpy as np
from _common import table, timeit


def instance(seed=0):
    """The instance, embedded in a spawned child so that this process never loads torch (with
    torch loaded, restarts run in threads instead of forked processes)."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(_instance, (seed,))


def _instance(seed=0):
    from repalign.matching import split, stretch

    data = os.environ.get("REPALIGN_DATA")
    if data and os.path.isdir(os.path.join(data, "xtd10")):
        from repalign.datasets import load_xtd10
        from repalign.encoders import encode_cached, get_encoder

        Z = encode_cached(get_encoder("minilm"), load_xtd10("en", data).items)[0].astype(float)
        H = encode_cached(get_encoder("use-multilingual"), load_xtd10("de", data).items)[0].astype(float)
        label = "XTD-10 en/minilm vs de/use-multilingual"
    else:
        rng = np.random.default_rng(seed)
        lat = rng.normal(size=(1000, 64))
        Z = lat @ rng.normal(size=(64, 384)) + 20 * rng.normal(size=(1000, 384))
        H = lat @ rng.normal(size=(64, 512)) + 20 * rng.normal(size=(1000, 512))
        label = "synthetic noisy views (no REPALIGN_DATA)"
    base, query = split(Z, 320, 500, seed)
    rows = np.concatenate([base, query])
    return stretch(Z[rows]), stretch(H[rows]), label


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared-starts", type=int, default=10)
    ap.add_argument("--restarts", type=int, default=500)
    args = ap.parse_args(argv)
    from scipy.optimize import quadratic_assignment

    from repalign.matching import QAPMatcher, normalized_kernel
    from repalign.qap import faq, seeded_qap
    from repalign.qap.frank_wolfe import doubly_stochastic

    M, Nq = 320, 500
    Zs, Hs, label = instance()
    A, B = normalized_kernel(Zs), normalized_kernel(Hs)
    seeds = np.arange(M)
    truth = np.arange(M + Nq)
    rng = np.random.default_rng(1)
    t_ref = t_ours = 0.0
    ref_best = ours_best = -np.inf
    diffs = []
    for _ in range(args.shared_starts):
        P0 = (np.full((Nq, Nq), 1 / Nq) + doubly_stochastic(rng.uniform(size=(Nq, Nq)))) / 2
        t, ref = timeit(lambda P0=P0: quadratic_assignment(A, B, options=dict(
            partial_match=np.c_[seeds, seeds], maximize=True, P0=P0, tol=1e-5, rng=np.random.default_rng(0))))
        t_ref += t
        t, ours = timeit(lambda P0=P0: faq(A, B, seeds, maximize=True, init=P0, tol=1e-5, max_iter=100))
        t_ours += t
        ref_best, ours_best = max(ref_best, ref.fun), max(ours_best, ours.objective)
        diffs.append(abs(ref.fun - ours.objective))
    R = args.shared_starts
    t_proto, proto = timeit(lambda: seeded_qap(A, B, seeds, maximize=True, restarts=args.restarts, tol=1e-5,
                                               max_iter=100, seed=2, n_jobs=2, precision="float32"))
    Zb, Hb, Zq, Hq = Zs[:M], Hs[:M], Zs[M:], Hs[M:]
    QAPMatcher().fit(Zb[:50], Hb[:50]).match(Zq[:20], Hq[:20])  # load the compiled 2-opt once (numba cache)
    t_def, cols = timeit(lambda: QAPMatcher().fit(Zb, Hb).match(Zq, Hq), repeat=3)
    r_def = QAPMatcher().fit(Zb, Hb).solve(Zq, Hq)
    t_bar, cols_bar = timeit(lambda: QAPMatcher(init="barycenter", polish=False).fit(Zb, Hb).match(Zq, Hq))
    r_bar = QAPMatcher(init="barycenter", polish=False).fit(Zb, Hb).solve(Zq, Hq)

    def acc(perm):
        return float(np.mean(perm[M:] == truth[M:]))

    table(f"Seeded QAP, M = 320, N' = 500 ({label}), maximise <K̄, P L̄ Pᵀ>",
          ["run", "seconds", "best objective", "matching acc", "note"], [
              [f"scipy, {R} shared randomized starts", t_ref, ref_best, "-",
               f"500 restarts ≈ {t_ref * 500 / R:.0f} s (baseline)"],
              [f"repalign FAQ float64, same {R} starts", t_ours, ours_best, "-",
               f"{t_ref / t_ours:.1f}x scipy; max |objective diff| {max(diffs):.1e}"],
              [f"repalign {args.restarts} restarts, float32 + lapjv, 2 processes", t_proto, proto.objective,
               acc(proto.permutation),
               f"{t_ref * args.restarts / R / t_proto:.0f}x scipy's extrapolated time; target <= 10 s; "
               f"vs scipy best {proto.objective - ref_best:+.2e}"],
              ["repalign FAQ barycenter (paper's single run)", t_bar, r_bar.objective,
               float(np.mean(cols_bar == np.arange(Nq))), ""],
              ["repalign default: local-CKA start -> FAQ -> 2-opt", t_def, r_def.objective,
               float(np.mean(cols == np.arange(Nq))),
               f"target <= 1 s; vs best of {args.restarts} restarts {r_def.objective - proto.objective:+.2e}"],
          ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
