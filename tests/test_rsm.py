"""Semantic RSMs (wald2024): exact matching vs brute force, every backend the same optimum,
permutation invariance, approximations bounded by the optimum, kernels, checkpoints, bad input."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repalign.assignment import approximate, available_backends, lapjv, max_inner_batch, solve
from repalign.rsm import rsm_cka, semantic_rsm, semantic_vs_spatial, spatial_rsm


def maps(n=20, c=6, h=2, w=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, c, h, w))


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


def test_spatially_permuted_copy_is_as_similar_as_itself():
    rng = np.random.default_rng(3)
    x = maps(n=5, c=7, h=3, w=4)
    flat = x.reshape(5, 7, 12)
    perm = np.stack([flat[i][:, rng.permutation(12)] for i in range(5)]).reshape(5, 7, 3, 4)
    r = semantic_rsm(x, y=perm, kernel="cosine")
    assert np.allclose(np.diag(r.matrix), 1.0)
    assert np.allclose(np.diag(r.inner), np.einsum("ichw,ichw->i", x, x))
    s = spatial_rsm(x, y=perm, kernel="cosine")
    assert np.all(np.diag(s.matrix) < 0.99)


def test_semantic_bounds_and_diagonal():
    x = maps(n=25, c=8, h=3, w=3, seed=4)
    sem, spa = semantic_rsm(x, kernel="inner"), spatial_rsm(x, kernel="inner")
    assert np.all(sem.inner >= spa.inner - 1e-10)  # the identity is a feasible permutation
    assert np.allclose(np.diag(sem.matrix), np.diag(spa.matrix))
    assert np.allclose(sem.matrix, sem.matrix.T)
    for m in ("greedy", "topk-greedy:3", "batch-optimal:4", "auction:0.05", "none"):
        approx = semantic_rsm(x, kernel="inner", matcher=m)
        assert np.all(approx.inner <= sem.inner + 1e-10), m
    assert np.allclose(semantic_rsm(x, kernel="inner", matcher="none").inner, spa.inner)


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


def _auction_cases(n, kind, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, n)),  # generic
            rng.integers(0, 3, size=(n, n)).astype(float),  # many ties
            np.outer(rng.normal(size=n), rng.normal(size=n)),  # rank one
            np.full((n, n), 2.5),  # every permutation optimal
            -np.abs(rng.normal(size=(n, n))) * 1e-6,  # negative optimum, tiny scale
            rng.normal(size=(n, 3)) @ rng.normal(size=(3, n)) + 40.0][kind]  # low rank, large offset


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
])
def test_auction_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_kernels_from_matched_inner_products():
    x = maps(n=12, seed=6)
    r = semantic_rsm(x, kernel="rbf")
    G, n2 = r.inner, np.diag(r.inner)
    D = n2[:, None] + n2[None, :] - 2 * G
    np.fill_diagonal(D, 0)
    off = D[np.triu_indices(12, 1)]
    sigma = np.sqrt(np.sort(off)[(len(off) - 1) // 2])
    assert r.sigma == pytest.approx(sigma)
    assert np.allclose(r.matrix, np.exp(-D / (2 * sigma**2)))
    c = semantic_rsm(x, kernel="cosine")
    assert np.allclose(c.matrix, G / np.sqrt(np.outer(n2, n2)))
    assert np.all(c.matrix <= 1 + 1e-12)


def test_layouts_and_rectangular_rsms():
    x = maps(n=6, c=4, h=2, w=2)
    nhwc = x.transpose(0, 2, 3, 1)
    ntd = x.reshape(6, 4, 4).transpose(0, 2, 1)
    a = semantic_rsm(x, kernel="inner").inner
    assert np.allclose(semantic_rsm(nhwc, kernel="inner", layout="NHWC").inner, a)
    assert np.allclose(semantic_rsm(ntd, kernel="inner", layout="NTD").inner, a)
    rect = semantic_rsm(x[:2], y=x, kernel="inner")
    assert rect.matrix.shape == (2, 6) and np.allclose(rect.inner, a[:2])


def test_parallel_and_resumable(tmp_path):
    x = maps(n=40, c=5, h=2, w=2, seed=7)
    one = semantic_rsm(x, kernel="inner").inner
    assert np.allclose(semantic_rsm(x, kernel="inner", n_jobs=2).inner, one)
    ck = tmp_path / "rsm.npz"
    first = semantic_rsm(x, kernel="inner", checkpoint=ck)
    assert ck.exists() and np.allclose(first.inner, one)
    # a checkpoint of other inputs is ignored, not trusted
    other = semantic_rsm(x + 1.0, kernel="inner", checkpoint=ck)
    assert not np.allclose(other.inner, one)
    ck.write_bytes(b"damaged")
    assert np.allclose(semantic_rsm(x, kernel="inner", checkpoint=ck).inner, one)


def test_rsm_cka_and_semantic_vs_spatial():
    x = maps(n=30, c=6, h=3, w=3, seed=8)
    sem = semantic_rsm(x, kernel="inner")
    assert rsm_cka(sem, sem) == pytest.approx(1.0)
    full = rsm_cka(sem, spatial_rsm(x, kernel="inner"))
    batched = rsm_cka(sem, spatial_rsm(x, kernel="inner"), batch_size=10)
    assert 0 < full < 1 and 0 < batched < 1
    out = semantic_vs_spatial(np.abs(x), batch_size=15, center=False)  # post-ReLU-like maps
    assert 0 < out["cka"] <= 1 and 0 < out["mean_ratio"] <= 1


@pytest.mark.parametrize("call,match", [
    (lambda x: semantic_rsm(x[:, :, 0]), "4-D"),
    (lambda x: semantic_rsm(x, layout="NLC"), "layout"),
    (lambda x: semantic_rsm(x, y=x[:, :3]), "channels differ"),
    (lambda x: semantic_rsm(x, y=x[:, :, :1]), "spatial size differ"),
    (lambda x: semantic_rsm(x, matcher="batch-optimal:0"), ">= 1"),
    (lambda x: semantic_rsm(x, matcher="topk-greedy:-2"), ">= 1"),
    (lambda x: semantic_rsm(x, matcher="batch-optimal"), "needs a size"),
    (lambda x: semantic_rsm(x, backend="hungarian"), "unknown 'hungarian'"),
    (lambda x: semantic_rsm(np.where(np.arange(x.size).reshape(x.shape) == 7, np.nan, x)), "NaN"),
    (lambda x: semantic_rsm(x, kernel="laplace"), "kernel"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call(maps(n=5))


def test_missing_optional_backend_names_the_package(monkeypatch):
    import sys

    for name in [m for m in sys.modules if m.split(".")[0] in ("ortools", "lap")] + ["ortools", "lap"]:
        monkeypatch.setitem(sys.modules, name, None)  # what an uninstalled package looks like to import
    with pytest.raises(ValueError, match="pip install ortools"):
        solve(np.eye(3), backend="ortools")
    with pytest.raises(ValueError, match="pip install lapx"):
        solve(np.eye(3), backend="lap")
    assert available_backends() == ["scipy", "lapjv"]


# ------------------------------------------------------------------ CLI
def test_rsm_cli(tmp_path, capsys):
    import json

    from repalign.cli import main

    x = maps(n=12, c=5, h=2, w=3)
    np.save(tmp_path / "m.npy", x)
    np.savez(tmp_path / "two.npz", a=x, b=x[:4])
    out = tmp_path / "r.npy"
    assert main(["rsm", str(tmp_path / "m.npy"), "--kernel", "inner", "--out", str(out), "--json", "--quiet"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["shape"] == [12, 12] and d["invariance"] == "permutation"
    assert np.allclose(np.load(out), semantic_rsm(x, kernel="inner").matrix)
    assert json.loads((tmp_path / "r.npy.json").read_text())["kernel"] == "inner"
    assert main(["rsm", f"{tmp_path / 'two.npz'}:b", "--other", f"{tmp_path / 'two.npz'}:a", "--json",
                 "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["shape"] == [4, 12]
    assert main(["rsm", str(tmp_path / "m.npy"), "--kernel", "inner", "--matcher", "auction:0.001", "--json",
                 "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["matcher"] == "auction:0.001"
    cases = [
        (["--matcher", "batch-optimal:0"], "--matcher"),
        (["--matcher", "auction:2"], "auction tolerance must be in (0, 1)"),
        (["--backend", "hungarian"], "invalid choice"),
        (["--other", str(tmp_path / "two.npz") + ":zz"], "no array named 'zz'"),
        (["--layout", "NTD"], "3-D"),
        (["--out", str(out)], "already exists"),
        (["--invariance", "none", "--matcher", "greedy"], "--matcher: applies"),
    ]
    for extra, expect in cases:
        code = main(["rsm", str(tmp_path / "m.npy"), *extra])
        err = capsys.readouterr().err
        assert code == 2 and expect in err and len(err.strip().splitlines()) == 1, (extra, err)
    np.save(tmp_path / "obj.npy", np.array([{}], dtype=object), allow_pickle=True)
    assert main(["rsm", str(tmp_path / "obj.npy")]) == 2
    assert "allow_pickle" not in capsys.readouterr().err


@pytest.mark.encoders
def test_embed_feature_maps_feed_rsm(tmp_path, capsys):
    from repalign.cli import main

    out = tmp_path / "maps.npy"
    assert main(["embed", "--model", "efficientnet-lite0", "--dataset", "digits", "--limit", "4", "--feature-maps",
                 "15", "--out", str(out), "--quiet"]) == 0
    m = np.load(out)
    assert m.shape == (4, 320, 7, 7)
    assert main(["rsm", str(out), "--kernel", "cosine", "--quiet"]) == 0
