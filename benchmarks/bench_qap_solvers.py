"""QAP solvers with bounds (schnaus2025): certification on correlated instances and QAPLIB gaps.

1. Hahn-Grant on vision-language-like instances: two noisy views (isometric maps of one
   16-d latent plus noise) matched under GW; time to a certified optimum (limit 60 s at
   N <= 30, 600 s at N = 40), against scipy's FAQ objective in the same run.
2. QAPLIB instances with n <= --max-n and a .sln: repalign (tabu search for half the limit
   as warm start, then Hahn-Grant rounds for the rest of it, for the bound) against scipy's FAQ and 2-opt, gaps to
   the .sln optimum. The tabu trajectory is deterministic, so a longer limit can only lower
   the gap reported here.

    python benchmarks/bench_qap_solvers.py --time-limit 60        # the issue's setting
    python benchmarks/bench_qap_solvers.py --time-limit 10 --max-n 50
"""

import argparse
import sys
import time

import _common  # noqa: F401
import numpy as np
from _common import qaplib_instances, table

from repalign.experiments.blind import noisy_views as views


def scipy_solve(problem, method):
    from scipy.optimize import quadratic_assignment

    A, B, L, c = problem.minimization_form()
    if np.any(L):
        return None, 0.0
    t0 = time.perf_counter()
    res = quadratic_assignment(A, B, method=method, options={"rng": np.random.default_rng(0)})
    return problem.objective(res.col_ind), time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per QAPLIB instance")
    ap.add_argument("--max-n", type=int, default=50)
    ap.add_argument("--skip-qaplib", action="store_true")
    ap.add_argument("--skip-certify", action="store_true")
    args = ap.parse_args(argv)
    from repalign.qap import hahn_grant, matching_problem, tabu_search

    hahn_grant(matching_problem(*views(8, 0.5, 0), "gw"))  # load the compiled code once

    if not args.skip_certify:
        rows = []
        for n, noise, limit in ((20, 0.6, 60), (20, 0.8, 60), (30, 0.6, 60), (40, 0.6, 600), (40, 0.8, 600)):
            for seed in range(2):
                p = matching_problem(*views(n, noise, seed), "gw")
                ref, t_ref = scipy_solve(p, "faq")
                res = hahn_grant(p, time_limit=limit, rounds=10**9)  # rounds until certified or the limit
                rows.append([n, noise, seed, res.objective, res.bound, f"{res.gap:.1e}", "yes" if res.optimal else "no",
                             res.seconds, limit, f"{(ref - res.objective) / abs(res.objective):+.2%}",
                             float(np.mean(res.permutation == np.arange(n)))])
                print(rows[-1], flush=True)
        table("Hahn-Grant on correlated instances (two noisy views, GW)",
              ["N", "noise", "seed", "objective", "bound", "gap", "certified", "seconds", "limit",
               "scipy FAQ excess", "accuracy"], rows)

    if args.skip_qaplib:
        return time_limits_kept()
    instances = qaplib_instances(args.max_n)
    if instances is None:
        return time_limits_kept()
    rows, gaps = [], {"faq": [], "2opt": [], "ours": []}
    T = args.time_limit
    for dat, p, sol in instances:
        sln = dat.with_suffix(".sln")
        opt = sol.objective
        if p.objective(sol.permutation) != opt:
            print(f"note: {sln.name}'s permutation has objective {p.objective(sol.permutation):g}, not {opt:g}")
        f_obj, t_f = scipy_solve(p, "faq")
        o_obj, t_o = scipy_solve(p, "2opt")
        warm = tabu_search(p, time_limit=T / 2, target=opt)  # stops early once it reaches the known optimum
        res = hahn_grant(p, time_limit=max(T - warm.seconds, 1e-3), init=warm.permutation, rounds=10**9)

        def g(x, opt=opt):
            return (x - opt) / abs(opt) if opt else 0.0

        gaps["faq"].append(g(f_obj))
        gaps["2opt"].append(g(o_obj))
        gaps["ours"].append(g(res.objective))
        rows.append([dat.stem, p.n, opt, f"{100 * g(f_obj):.2f}", f"{100 * g(o_obj):.2f}", f"{100 * g(res.objective):.2f}",
                     f"{100 * (opt - res.bound) / abs(opt):.1f}" if opt else "-", "yes" if res.optimal else "no",
                     warm.seconds + res.seconds])
        print(rows[-1], flush=True)
    rows.append(["**median**", "", "", f"{100 * np.median(gaps['faq']):.2f}", f"{100 * np.median(gaps['2opt']):.2f}",
                 f"{100 * np.median(gaps['ours']):.2f}", "", "", ""])
    table(f"QAPLIB n <= {args.max_n}: gap to the .sln optimum in %, {T:g} s per instance (repalign)",
          ["instance", "n", "optimum", "scipy FAQ", "scipy 2-opt", "repalign tabu + Hahn-Grant",
           "bound below opt %", "certified", "seconds"], rows)
    return time_limits_kept()


def time_limits_kept() -> int:
    """Wall-clock time of the time-limited solvers against their limits (these were test asserts;
    on a shared machine a clock is a measurement, not a verdict). n = 100 noisy views, where one
    Hahn-Grant round costs several seconds, so the limit must be read inside rounds."""
    from repalign import blind_match
    from repalign.qap import matching_problem, solve_qap

    rows = []
    X, Y = views(100, 1.0, seed=0)
    res = solve_qap(matching_problem(X, Y, "gw"), "hahn-grant", time_limit=1.0, init=np.arange(100), rounds=5)
    rows.append([f"hahn-grant rounds, n = 100 (stopped by {res.stopped_by})", 1.0, res.seconds,
                 f"{res.seconds / 1.0:.2f}x"])
    X, Y = views(200, 1.0, seed=100)
    r = blind_match(X, Y, "gw", time_limit=2)
    rows.append([f"blind_match default, n = 200 (stopped by {r.qap.stopped_by})", 2.0, r.qap.seconds,
                 f"{r.qap.seconds / 2.0:.2f}x"])
    table("Time limits kept (seconds; the tests check the mechanism with a fake clock)",
          ["call", "limit", "seconds", "seconds / limit"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
