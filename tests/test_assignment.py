"""repalign.assignment: the exact backends agree with each other and with brute force, the wald2024 approximations follow their definitions, the auction's certificate brackets the optimum."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repalign.assignment import approximate, available_backends, lapjv, max_inner_batch, solve
from repalign.rsm import semantic_rsm

from .conftest import maps, run_python_ok


def _auction_cases(n, kind, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, n)),  # generic
            rng.integers(0, 3, size=(n, n)).astype(float),  # many ties
            np.outer(rng.normal(size=n), rng.normal(size=n)),  # rank one
            np.full((n, n), 2.5),  # every permutation optimal
            -np.abs(rng.normal(size=(n, n))) * 1e-6,  # negative optimum, tiny scale
            rng.normal(size=(n, 3)) @ rng.normal(size=(3, n)) + 40.0][kind]  # low rank, large offset


def test_exact_matcher_equals_brute_force():
    x = maps(n=6)
    X = x.reshape(6, 6, 6).transpose(0, 2, 1)
    r = semantic_rsm(x, kernel="inner")
    for i, j in itertools.combinations(range(6), 2):
        best = max(sum(X[i][a] @ X[j][p[a]] for a in range(6)) for p in itertools.permutations(range(6)))
        assert r.inner[i, j] == pytest.approx(best, abs=1e-10)


def test_every_backend_finds_the_same_optimum():
    x = maps(n=15, c=5, h=3, w=3)
    ref = semantic_rsm(x, kernel="inner", backend="scipy").inner
    for b in available_backends():
        assert np.allclose(semantic_rsm(x, kernel="inner", backend=b).inner, ref, atol=1e-10), b


def test_lapjv_equals_scipy_on_hard_cases():
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(1)
    for t in range(400):
        n = int(rng.integers(1, 30))
        C = [rng.normal(size=(n, n)), rng.integers(0, 3, size=(n, n)).astype(float),
             np.outer(rng.normal(size=n), rng.normal(size=n))][t % 3]
        rows, val = lapjv(C)
        r, c = linear_sum_assignment(C)
        assert sorted(rows) == list(range(n)) and val == pytest.approx(C[r, c].sum(), abs=1e-9)
    M = rng.normal(size=(50, 12, 12))
    assert np.allclose(max_inner_batch(M), [m[linear_sum_assignment(m, maximize=True)].sum() for m in M])


def test_integer_backend_keeps_small_unit_norm_affinities():
    # unit-norm samples (49 positions x 1280 channels): affinities are ~1e-3, so truncating
    # cost x 1000 to integers (the paper's code) loses the optimum; the scaled OR-Tools backend does not
    rng = np.random.default_rng(2)
    A = rng.normal(size=(49, 1280))
    B = rng.normal(size=(49, 1280))
    A /= np.linalg.norm(A)
    B /= np.linalg.norm(B)
    M = A @ B.T
    _, opt = solve(M, maximize=True, backend="scipy")
    from scipy.optimize import linear_sum_assignment

    r, c = linear_sum_assignment(-np.trunc(M * 1000), maximize=False)
    assert M[r, c].sum() < opt - 1e-6  # the truncated costs give a worse assignment
    if "ortools" in available_backends():
        assert solve(M, maximize=True, backend="ortools")[1] == pytest.approx(opt, abs=1e-12)


def test_auto_backend_picks_by_size_and_gives_the_optimum():
    from repalign.assignment import resolve_backend

    assert resolve_backend("auto", 49) == "lapjv" and resolve_backend("auto", 784) == "scipy"
    from repalign.rsm.core import rsm_backend  # a semantic RSM's own auto: low-rank affinities

    assert rsm_backend("auto") == "auction-jv" and rsm_backend("scipy") == "scipy"
    with pytest.raises(ValueError, match="backend: unknown 'fast'"):
        rsm_backend("fast")
    assert resolve_backend("auto", 3136) == ("ortools" if "ortools" in available_backends() else "scipy")
    assert resolve_backend("scipy", 3136) == "scipy"
    with pytest.raises(ValueError, match="backend: unknown 'fast'"):
        resolve_backend("fast", 10)
    x = maps(n=6, c=5, h=3, w=3)
    assert np.allclose(semantic_rsm(x).matrix, semantic_rsm(x, backend="scipy").matrix, atol=1e-12)


@pytest.mark.timeout(30)
def test_lapjv_is_fast_on_low_rank_affinities():
    # bug: on low-rank non-negative affinities (real early-layer maps: S = 784, C = 40) the
    # augmenting row reduction ran ~n^2 rounds (42 s at S = 784, scipy 0.2 s); it is now capped
    rng = np.random.default_rng(5)
    A, B = np.maximum(rng.normal(size=(2, 784, 40)), 0) * rng.gamma(1, 1, size=(2, 784, 1))
    M = A @ B.T
    rows, val = lapjv(-M)
    assert -val == pytest.approx(solve(M, maximize=True)[1], rel=1e-12)


@pytest.mark.skipif("ortools" not in available_backends(), reason="OR-Tools is not installed (pip install ortools)")
def test_integer_backend_has_headroom_at_large_sizes():
    # bug: scaling the costs to 2^52 / n made OR-Tools report POSSIBLE_OVERFLOW from S = 784 on
    rng = np.random.default_rng(4)
    A, B = np.abs(rng.normal(size=(2, 900, 40)))
    M = A @ B.T
    assert solve(M, maximize=True, backend="ortools")[1] == pytest.approx(solve(M, maximize=True)[1], rel=1e-12)


def test_approximations_follow_their_definitions():
    rng = np.random.default_rng(5)
    A, B = rng.normal(size=(8, 4)), rng.normal(size=(8, 4))
    M = A @ B.T
    na, nb = np.linalg.norm(A, axis=1), np.linalg.norm(B, axis=1)
    perm, val = approximate(M, na, nb, "greedy")
    free = set(range(8))
    for r in np.argsort(-na, kind="stable"):  # greedy by norm: each row takes its best free column
        best = max(free, key=lambda j: M[r, j])
        assert perm[r] == best
        free.remove(best)
    perm, _ = approximate(M, na, nb, "batch-optimal", 8)  # one window = optimal
    assert M[np.arange(8), perm].sum() == pytest.approx(solve(M, maximize=True)[1])
    perm, _ = approximate(M, na, nb, "topk-greedy", 8)
    assert M[np.arange(8), perm].sum() == pytest.approx(solve(M, maximize=True)[1])


@settings(max_examples=120, deadline=None)
@given(n=st.integers(1, 40), kind=st.integers(0, 5), seed=st.integers(0, 10_000),
       tol=st.sampled_from([0.5, 0.1, 0.01, 1e-3, 1e-12]))
def test_auction_certificate_brackets_the_optimum(n, kind, seed, tol):
    from repalign.assignment import auction

    M = _auction_cases(n, kind, seed)
    r = auction(M, tol=tol)
    opt = solve(M, maximize=True, backend="scipy")[1]
    assert sorted(r.perm.tolist()) == list(range(n))
    assert r.value == pytest.approx(M[np.arange(n), r.perm].sum(), abs=1e-12 * (1 + abs(opt)))
    slack = 1e-9 * (1 + np.abs(M).max() * n)
    assert r.value <= opt + slack and r.bound >= opt - slack  # value <= optimum <= bound
    # stopped by the certificate, or by the smallest epsilon (then within 1e-7 of the range)
    floor = 1e-7 * (M.max() - M.min())
    assert r.bound - r.value <= max(tol * abs(r.bound), floor) + slack
    assert r.value >= opt - max(tol * abs(r.bound), floor) - slack
    assert r.to_dict()["gap"] == pytest.approx(r.gap)


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 40), kind=st.integers(0, 5), seed=st.integers(0, 10_000))
def test_auction_jv_is_exact_and_certified(n, kind, seed):
    """The hybrid (auction prices, then JV) finds scipy's optimum on every case family (random,
    integer with ties, low-rank, constant, huge ranges) and its dual bound equals its value."""
    from repalign.assignment import auction_jv

    M = _auction_cases(n, kind, seed) if n else np.zeros((0, 0))
    r = auction_jv(M)
    opt = solve(M, maximize=True, backend="scipy")[1] if n else 0.0
    assert sorted(r.perm.tolist()) == list(range(n))
    scale = 1e-12 * (1 + np.abs(M).max(initial=0) * n)
    assert r.value == pytest.approx(M[np.arange(n), r.perm].sum(), abs=scale)
    assert abs(r.value - opt) <= scale and abs(r.bound - r.value) <= scale
    if n:
        assert solve(M, maximize=True, backend="auction-jv")[1] == pytest.approx(opt, abs=scale)


def test_auction_jv_batch_on_real_like_maps():
    """max_inner_batch(backend="auction-jv"): the same values as scipy per pair on low-rank
    affinities (the semantic-RSM case, including S > 256 where the handoff gap is tighter), and a
    bad batched backend is refused."""
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(3)
    for S, C in ((49, 20), (300, 12)):
        X = np.abs(rng.normal(size=(6, S, C))) ** 2
        X -= X.mean(axis=0)
        M = np.stack([X[i] @ X[i + 1].T for i in range(5)])
        ref = [m[linear_sum_assignment(m, maximize=True)].sum() for m in M]
        assert np.allclose(max_inner_batch(M, "auction-jv"), ref, rtol=1e-12)
    with pytest.raises(ValueError, match="backend: the batched solvers are"):
        max_inner_batch(M, "scipy")


def test_auction_is_exact_on_small_integer_costs_and_near_optimal_on_real_like_maps():
    from repalign.assignment import auction

    rng = np.random.default_rng(11)
    for _ in range(30):  # integer costs: n ε < 1 at the last phase makes ε-optimal exactly optimal
        M = rng.integers(-50, 50, size=(25, 25)).astype(float)
        assert auction(M, tol=1e-12).value == solve(M, maximize=True)[1]
    # centred low-channel maps like EfficientNet-Lite0's S = 784 layer (C = 40): the default
    # certificate holds and the value is far closer than the 1% it promises
    X = np.abs(rng.normal(size=(2, 300, 40))) ** 2
    X -= X.mean(axis=0)
    M = X[0] @ X[1].T
    r = auction(M)
    opt = solve(M, maximize=True)[1]
    assert r.value >= 0.99 * opt and r.gap <= 0.01 and r.value <= opt


def test_auction_batch_equals_one_by_one_and_is_what_semantic_rsm_uses():
    from repalign.assignment import auction, auction_batch

    rng = np.random.default_rng(13)
    M = rng.normal(size=(7, 20, 20))
    assert np.array_equal(auction_batch(M, 0.02), [auction(m, tol=0.02).value for m in M])
    x = maps(n=9, c=5, h=4, w=5)
    X = x.reshape(9, 5, 20).transpose(0, 2, 1)
    r = semantic_rsm(x, kernel="inner", matcher="auction:0.02")
    i, j = np.triu_indices(9, 1)
    pairs = np.stack([X[a] @ X[b].T for a, b in zip(i, j, strict=True)])
    assert np.allclose(r.inner[i, j], auction_batch(pairs, 0.02))
    assert auction_batch(np.zeros((0, 3, 3))).shape == (0,)
    with pytest.raises(ValueError, match="square"):
        auction_batch(np.zeros((2, 3, 4)))


def test_auction_cut_short_still_returns_a_permutation_and_a_valid_bound():
    from repalign.assignment import _auction

    rng = np.random.default_rng(12)
    M = rng.normal(size=(30, 30))
    perm, value, bound, phases, bids, complete = _auction(M, 1e-6, 5)  # 5 bids: the safety net
    assert not complete and phases == 1 and bids == 5
    assert sorted(perm.tolist()) == list(range(30))
    assert value == pytest.approx(M[np.arange(30), perm].sum())
    assert value <= solve(M, maximize=True)[1] <= bound


@pytest.mark.parametrize("call,match", [
    (lambda: semantic_rsm(maps(n=5), matcher="auction:0"), "in \\(0, 1\\)"),
    (lambda: semantic_rsm(maps(n=5), matcher="auction:1.5"), "in \\(0, 1\\)"),
    (lambda: semantic_rsm(maps(n=5), matcher="auction:fast"), "must be a number"),
    (lambda: __import__("repalign.assignment").assignment.auction(np.ones((2, 3))), "square"),
    (lambda: __import__("repalign.assignment").assignment.auction(np.array([[1.0, np.nan], [0, 1]])), "NaN"),
    (lambda: __import__("repalign.assignment").assignment.auction(np.eye(3), tol=0.0), "tol"),
    (lambda: __import__("repalign.assignment").assignment.auction_jv(np.array([[1.0, np.inf], [0, 1]])), "NaN"),
    (lambda: __import__("repalign.assignment").assignment.auction_jv(np.ones((2, 3))), "square"),
])
def test_auction_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_missing_optional_backend_names_the_package(monkeypatch):
    import sys

    for name in [m for m in sys.modules if m.split(".")[0] in ("ortools", "lap")] + ["ortools", "lap"]:
        monkeypatch.setitem(sys.modules, name, None)  # what an uninstalled package looks like to import
    with pytest.raises(ValueError, match="pip install ortools"):
        solve(np.eye(3), backend="ortools")
    with pytest.raises(ValueError, match="pip install lapx"):
        solve(np.eye(3), backend="lap")
    assert available_backends() == ["scipy", "lapjv", "auction-jv"]


@pytest.mark.slow
def test_parallel_kernels_in_forked_children_after_the_parent_used_them():
    """Bug: after the parent ran a parallel numba kernel (batched assignments, QAP restarts), a
    forked child calling it hung ("fork() called from a process already using GNU OpenMP");
    every parallel kernel now goes through repalign._fork.kernel (serial twins in forks). In a
    subprocess with a timeout, so that a regression fails instead of hanging the suite."""
    code = (
        "import multiprocessing as mp, numpy as np, repalign as ra\n"
        "from repalign.assignment import max_inner_batch, auction_batch\n"
        "from repalign.qap import QAPProblem, solve_qap\n"
        "rng = np.random.default_rng(0)\n"
        "M = rng.normal(size=(6, 20, 20))\n"
        "A = rng.random((12, 12)); A = A + A.T; B = rng.random((12, 12)); B = B + B.T\n"
        "def run(_):\n"
        "    return (max_inner_batch(M, 'auction-jv'), max_inner_batch(M, 'lapjv'), auction_batch(M, 0.01),\n"
        "            solve_qap(QAPProblem(A, B), solver='multistart', seed=0).objective)\n"
        "ref = run(0)\n"
        "with mp.get_context('fork').Pool(2) as p: got = p.map(run, range(2))\n"
        "assert all(np.allclose(g[k], ref[k]) for g in got for k in range(4)), (ref, got)\n"
        "print('ok')\n")
    run_python_ok(code, timeout=600)


def _sequential_best_two(row, p):
    """The bid scan written out plainly: largest ``row - p``, its first index, second largest."""
    v1, j1, v2 = -np.inf, -1, -np.inf
    for j, v in enumerate(row - p):
        if v > v1:
            v1, j1, v2 = v, j, v1
        elif v > v2:
            v2 = v
    return v1, j1, v2


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 45), ties=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_the_vector_bid_scan_equals_a_sequential_scan(n, ties, seed):
    """repalign._simd.best_two (8 lanes in LLVM vectors, merged by a tree) returns exactly what one
    sequential scan returns, including the first index on ties and the tail past the last full
    vector; every bid of the auction depends on it."""
    from repalign._simd import best_two, max_minus

    rng = np.random.default_rng(seed)
    row = rng.integers(0, 3, n).astype(float) if ties else rng.normal(size=n)
    p = rng.integers(0, 2, n).astype(float) if ties else rng.normal(size=n) * 0.1
    assert best_two(row, p) == _sequential_best_two(row, p)
    assert max_minus(row, p) == _sequential_best_two(row, p)[0]


def test_read_only_and_unaligned_inputs_are_solved():
    """Bug found in review: the vector bid scan was typed for writable aligned arrays only, so a
    read-only matrix (a memory map, an array a user froze) failed to compile."""
    from repalign._simd import best_two
    from repalign.assignment import auction, auction_jv

    rng = np.random.default_rng(21)
    M = rng.normal(size=(20, 20))
    opt = solve(M, maximize=True, backend="scipy")[1]
    frozen = M.copy()
    frozen.setflags(write=False)
    assert auction_jv(frozen).value == pytest.approx(opt, rel=1e-12)
    assert auction(frozen, tol=1e-9).value <= opt + 1e-9
    stack = np.stack([M, M.T])
    stack.setflags(write=False)
    assert np.allclose(max_inner_batch(stack, "auction-jv"), opt, rtol=1e-12)
    row, p = rng.normal(size=19), rng.normal(size=19)
    raw = np.zeros(8 * 19 + 1, np.uint8)
    odd = np.frombuffer(raw.data, dtype=np.float64, count=19, offset=1)  # unaligned, read-only
    raw[1:].view(np.float64)[:] = row
    assert not odd.flags.aligned and np.array_equal(odd, row)
    assert best_two(odd, p) == _sequential_best_two(row, p)
