"""CKA / HSIC: published reference values, invariances, and every route against the others."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import ortho_group

import repalign as ra
from repalign.moments import PairMoments, streamed_linear_cka

from ..conftest import related_pair, run_python_ok


def kornblith_demo():
    np.random.seed(1337)
    X = np.random.randn(100, 10)
    Y = np.random.randn(100, 10) + X
    return X, Y


X8 = np.arange(32.0).reshape(8, 4)
Y8 = np.array([[1, 2, 27, 22], [0, 28, 15, 18], [12, 9, 14, 8], [11, 19, 16, 13],
               [31, 20, 10, 3], [24, 5, 7, 29], [4, 30, 21, 6], [26, 17, 23, 25]], float)


# ------------------------------------------------------------------ published / independent values
def test_kornblith_reference_values():
    X, Y = kornblith_demo()
    assert ra.cka(X, Y) == pytest.approx(0.55761, abs=5e-6)
    assert ra.cka(X, Y, kernel="rbf", sigma="kornblith", threshold=0.5) == pytest.approx(0.65483, abs=5e-6)
    assert ra.cka(X, Y, debiased=True) == pytest.approx(0.51346, abs=5e-6)


def test_small_integer_reference_values():
    assert ra.cka(X8, Y8) == pytest.approx(0.28150, abs=5e-6)
    assert ra.cka(X8, Y8, kernel="rbf") == pytest.approx(0.39445, abs=5e-6)  # median rule, lower median


def test_threshold_applies_to_every_bandwidth_rule(rng):
    # sigma = threshold x rule's sigma, as in Kornblith et al.'s code, for the median rule too
    from repalign.kernels import rbf_sigma, squared_distances

    X, Y = related_pair(rng, n=60)
    D = squared_distances(X)
    for rule in ("median", "kornblith"):
        assert rbf_sigma(D, rule, 0.5) == pytest.approx(0.5 * rbf_sigma(D, rule), rel=1e-14)
    sx, sy = rbf_sigma(D, "median", 0.5), rbf_sigma(squared_distances(Y), "median", 0.5)
    K = np.exp(-squared_distances(X) / (2 * sx**2))
    L = np.exp(-squared_distances(Y) / (2 * sy**2))
    assert ra.cka(X, Y, kernel="rbf", threshold=0.5) == pytest.approx(ra.cka_from_grams(K, L), abs=1e-12)
    assert ra.cka(X, Y, kernel="rbf", threshold=0.5) != pytest.approx(ra.cka(X, Y, kernel="rbf"), abs=1e-6)


@pytest.mark.parametrize("kwargs,match", [
    ({"kernel": "rbf", "sigma": 2.0, "threshold": 0.5}, "threshold"),
    ({"kernel": "linear", "threshold": 0.5}, "only with kernel='rbf'"),
    ({"kernel": "cosine", "sigma": "median"}, "only with kernel='rbf'"),
    ({"kernel": "rbf", "threshold": 0.0}, "threshold"),
])
def test_bandwidth_arguments_are_never_ignored(rng, kwargs, match):
    X, Y = related_pair(rng, n=30)
    with pytest.raises(ValueError, match=match):
        ra.cka(X, Y, **kwargs)


def naive_hsic(K, L):
    n = len(K)
    H = np.eye(n) - np.ones((n, n)) / n
    return np.trace(K @ H @ L @ H) / (n - 1) ** 2


def naive_unbiased_hsic(K, L):
    # Song et al. (2012), Eq. (5), written with explicit loops over the formula's terms
    n = len(K)
    Kt, Lt = K.copy(), L.copy()
    np.fill_diagonal(Kt, 0)
    np.fill_diagonal(Lt, 0)
    one = np.ones(n)
    term = np.trace(Kt @ Lt) + (one @ Kt @ one) * (one @ Lt @ one) / ((n - 1) * (n - 2)) \
        - 2 / (n - 2) * (one @ Kt @ Lt @ one)
    return term / (n * (n - 3))


def test_hsic_matches_naive_trace_formula(rng):
    X, Y = related_pair(rng, n=40)
    assert ra.hsic(X, Y) == pytest.approx(naive_hsic(X @ X.T, Y @ Y.T), rel=1e-10)
    assert ra.hsic(X, Y, debiased=True) == pytest.approx(naive_unbiased_hsic(X @ X.T, Y @ Y.T), rel=1e-9)
    # the Gram route (d > n) too
    Xw, Yw = rng.normal(size=(15, 40)), rng.normal(size=(15, 50))
    assert ra.hsic(Xw, Yw) == pytest.approx(naive_hsic(Xw @ Xw.T, Yw @ Yw.T), rel=1e-10)
    K, _ = __import__("repalign.kernels", fromlist=["rbf_gram"]).rbf_gram(X)
    L, _ = __import__("repalign.kernels", fromlist=["rbf_gram"]).rbf_gram(Y)
    assert ra.hsic(X, Y, kernel="rbf") == pytest.approx(naive_hsic(K, L), rel=1e-10)


def test_cka_of_itself_is_one_and_symmetric(rng):
    X, Y = related_pair(rng)
    for kernel in ("linear", "cosine", "rbf"):
        assert ra.cka(X, X, kernel=kernel) == pytest.approx(1.0, abs=1e-12)
        assert ra.cka(X, Y, kernel=kernel) == pytest.approx(ra.cka(Y, X, kernel=kernel), abs=1e-12)


# ------------------------------------------------------------------ invariances
@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 100.0))
def test_orthogonal_and_isotropic_scaling_invariance(seed, scale):
    rng = np.random.default_rng(seed)
    X, Y = related_pair(rng, n=50, dx=6, dy=8)
    Q = ortho_group.rvs(6, random_state=seed)
    for kernel in ("linear", "rbf", "cosine"):
        base = ra.cka(X, Y, kernel=kernel)
        assert ra.cka(scale * X @ Q, Y, kernel=kernel) == pytest.approx(base, abs=1e-9)
    base = ra.cka(X, Y, debiased=True)
    assert ra.cka(scale * X @ Q, Y, debiased=True) == pytest.approx(base, abs=1e-9)


@given(seed=st.integers(0, 10_000))
def test_joint_permutation_invariance(seed):
    rng = np.random.default_rng(seed)
    X, Y = related_pair(rng, n=40, dx=5, dy=7)
    p = rng.permutation(40)
    for kernel in ("linear", "rbf"):
        for deb in (False, True):
            assert ra.cka(X[p], Y[p], kernel=kernel, debiased=deb) == pytest.approx(
                ra.cka(X, Y, kernel=kernel, debiased=deb), abs=1e-10)


def test_not_invariant_to_general_linear_maps(rng):
    X, Y = related_pair(rng, n=100, dx=5, dy=5)
    A = np.diag([1, 1, 1, 1, 50.0]) @ rng.normal(size=(5, 5))
    assert abs(ra.cka(X @ A, Y) - ra.cka(X, Y)) > 1e-3


@pytest.mark.parametrize("route", ["feature", "gram"])
@pytest.mark.parametrize("debiased", [False, True])
def test_translation_invariance(rng, route, debiased):
    X, Y = related_pair(rng)
    assert ra.cka(X + 1e3, Y - 7, route=route, debiased=debiased) == pytest.approx(
        ra.cka(X, Y, route=route, debiased=debiased), abs=1e-9)


# ------------------------------------------------------------------ routes agree
@pytest.mark.parametrize("debiased", [False, True])
def test_feature_and_gram_routes_equal(rng, debiased):
    X, Y = related_pair(rng, n=120, dx=10, dy=14)
    a = ra.cka(X, Y, debiased=debiased, route="feature")
    b = ra.cka(X, Y, debiased=debiased, route="gram")
    assert a == pytest.approx(b, abs=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_streamed_equals_in_memory(rng, debiased):
    X, Y = related_pair(rng, n=1000, dx=12, dy=9)
    X += 50.0  # a large offset: the shifted accumulator must not lose precision
    chunks = ((X[s:s + 97], Y[s:s + 97]) for s in range(0, 1000, 97))
    assert streamed_linear_cka(chunks, debiased=debiased) == pytest.approx(
        ra.cka(X, Y, debiased=debiased, route="gram"), abs=1e-10)


def test_moments_merge_equals_one_pass(rng):
    X, Y = related_pair(rng, n=300)
    sx, sy = X[:10].mean(0), Y[:10].mean(0)
    whole = PairMoments(shift_x=sx, shift_y=sy).update(X, Y)
    a = PairMoments(shift_x=sx, shift_y=sy).update(X[:120], Y[:120])
    b = PairMoments(shift_x=sx, shift_y=sy).update(X[120:], Y[120:])
    a.merge(b)
    for deb in (False, True):
        assert a.linear_cka(deb) == pytest.approx(whole.linear_cka(deb), abs=1e-12)
    with pytest.raises(ValueError, match="different shifts"):
        PairMoments().update(X[:5], Y[:5]).merge(PairMoments().update(X[5:9], Y[5:9]))


@pytest.mark.parametrize("sigma", ["median", "kornblith", 3.0])
@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("memory", [2 << 30, 0])  # distances kept, or recomputed per pass
def test_blockwise_rbf_equals_dense(rng, sigma, debiased, memory):
    X, Y = related_pair(rng, n=530, dx=8, dy=11)
    dense = ra.cka(X, Y, kernel="rbf", sigma=sigma, debiased=debiased)
    res = ra.rbf_cka_blockwise(X, Y, sigma=sigma, debiased=debiased, block_size=128, max_memory_bytes=memory)
    assert res["stored"] == (memory > 0 and isinstance(sigma, str))
    assert res["cka"] == pytest.approx(dense, abs=1e-6 if memory else 1e-9)


def test_blockwise_sigma_is_the_exact_order_statistic(rng):
    from repalign.kernels import rbf_sigma, squared_distances

    X = rng.normal(size=(301, 5))
    D = squared_distances(X)
    for rule in ("median", "kornblith"):
        res = ra.rbf_cka_blockwise(X, X, sigma=rule, block_size=64, max_memory_bytes=0)
        assert res["sigma_x"] == pytest.approx(rbf_sigma(D, rule), rel=1e-12)


def test_rbf_dispatches_to_blockwise_above_block_size(rng):
    X, Y = related_pair(rng, n=300, dx=4, dy=4)
    assert ra.cka(X, Y, kernel="rbf", block_size=100) == pytest.approx(ra.cka(X, Y, kernel="rbf"), abs=1e-6)


def test_duplicate_rows_have_exactly_zero_distance(rng):
    from repalign.kernels import squared_distances

    X = rng.normal(size=(20, 7)) * 1e3 + 1e4
    X[5] = X[3]
    assert squared_distances(X)[3, 5] == 0.0


# ------------------------------------------------------------------ bad input
def test_errors_name_the_argument(rng):
    X, Y = related_pair(rng, n=20)
    with pytest.raises(ValueError, match="mismatched sample counts"):
        ra.cka(X, Y[:10])
    bad = X.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="row 7"):
        ra.cka(bad, Y)
    with pytest.raises(ValueError, match="zero variance"):
        ra.cka(np.ones((20, 3)), Y)
    with pytest.raises(ValueError, match="at least 4"):
        ra.cka(X[:3], Y[:3], debiased=True)
    with pytest.raises(ValueError, match="2-D"):
        ra.cka(X[:, 0], Y)
    with pytest.raises(ValueError, match="kernel"):
        ra.cka(X, Y, kernel="poly")
    with pytest.raises(ValueError, match="sigma"):
        ra.cka(X, Y, kernel="rbf", sigma=-1)
    with pytest.raises(ValueError, match="sigma"):
        ra.cka(X, Y, kernel="rbf", sigma="mean")
    with pytest.raises(ValueError, match="all zeros"):
        Z = X.copy()
        Z[0] = 0
        ra.cka(Z, Y, kernel="cosine")
    with pytest.raises(ValueError, match="identical"):
        ra.cka(np.ones((20, 3)), Y, kernel="rbf")


def test_float32_chunks_computed_in_float32_stay_close(rng):
    X, Y = related_pair(rng, n=5000, dx=64, dy=48)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    chunks = [(X32[s:s + 1000], Y32[s:s + 1000]) for s in range(0, 5000, 1000)]
    exact = ra.cka(X32.astype(np.float64), Y32.astype(np.float64))
    assert streamed_linear_cka(chunks) == pytest.approx(exact, abs=1e-6)
    assert streamed_linear_cka(chunks, compute_dtype="float64") == pytest.approx(exact, abs=1e-12)
    with pytest.raises(ValueError, match="compute_dtype"):
        PairMoments(compute_dtype="float16")


def test_compiled_dense_rbf_passes_against_the_numpy_reference():
    """The dense RBF route's compiled passes: distances bit for bit those of squared_distances,
    the bandwidth rules on their triangle, and the HSIC triplet equal to centring full Gram
    matrices (hsic_from_grams on rbf_gram), for every rule."""
    from repalign.kernels import rbf_gram, squared_distances
    from repalign.measures import _rbf_jit
    from repalign.measures.kernel_alignment import _dense_rbf_triplet, hsic_from_grams

    rng = np.random.default_rng(11)
    X = rng.normal(size=(257, 12))
    Y = X[:, :5] @ rng.normal(size=(5, 7)) + rng.normal(size=(257, 7))
    X[3] = X[7]  # identical rows: exact zero distances
    Xc = X - X.mean(axis=0)
    G = Xc @ Xc.T
    tri = np.empty(257 * 256 // 2)
    _rbf_jit.distances_inplace(G, np.einsum("ij,ij->i", Xc, Xc), tri)
    assert np.array_equal(G, squared_distances(X)) and np.array_equal(tri, G[np.triu_indices(257, 1)])
    for sigma, threshold in (("median", 1.0), ("kornblith", 1.0), ("median", 0.5), (1.7, 1.0)):
        K, _ = rbf_gram(X, sigma, threshold)
        L, _ = rbf_gram(Y, sigma, threshold)
        ref = (hsic_from_grams(K, L), hsic_from_grams(K, K), hsic_from_grams(L, L))
        assert np.allclose(_dense_rbf_triplet(X, Y, sigma, threshold), ref, rtol=1e-12, atol=0)


def test_dense_rbf_cka_in_forked_children_after_the_parent_used_it():
    """Bug: after the parent ran the parallel RBF passes, a forked child computing RBF CKA hung
    (GNU OpenMP, numba's pool here, is not fork-safe); forked children now run serial twins.
    In a subprocess with a timeout, so that a regression fails instead of hanging the suite."""
    code = (
        "import multiprocessing as mp, numpy as np, repalign as ra\n"
        "X = np.random.default_rng(0).normal(size=(300, 5))\n"
        "ref = ra.cka(X, X**2, kernel='rbf')\n"
        "def f(_): return ra.cka(X, X**2, kernel='rbf')\n"
        "with mp.get_context('fork').Pool(2) as p: got = p.map(f, range(2))\n"
        "assert all(abs(g - ref) < 1e-12 for g in got), (ref, got)\n"
        "print('ok')\n")
    run_python_ok(code, timeout=300)
