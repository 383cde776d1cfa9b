"""Mutual k-NN, CKNNA, Gromov-Wasserstein and RSA against independent slow references."""

import numpy as np
import pytest
from scipy import stats
from scipy.stats import ortho_group

import repalign as ra
from repalign.measures.knn import knn_indices, topk_rows

from ..conftest import related_pair


def naive_knn_sets(X, k):
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = Xn @ Xn.T
    out = []
    for i in range(len(X)):
        order = sorted((j for j in range(len(X)) if j != i), key=lambda j: (-S[i, j], j))
        out.append(set(order[:k]))
    return out


def test_mutual_knn_matches_loop_reference(rng):
    X, Y = related_pair(rng, n=60, noise=2.0)
    for k in (1, 3, 10):
        a, b = naive_knn_sets(X, k), naive_knn_sets(Y, k)
        ref = np.mean([len(a[i] & b[i]) / k for i in range(60)])
        assert ra.mutual_knn(X, Y, k=k) == pytest.approx(ref, abs=1e-12)


def test_knn_ties_broken_by_lower_index():
    S = np.array([[-np.inf, 1.0, 1.0, 1.0], [0.5, -np.inf, 0.5, 0.2], [0.0, 0.0, -np.inf, 0.0], [1, 2, 3, -np.inf]])
    assert topk_rows(S, 2).tolist() == [[1, 2], [0, 2], [0, 1], [2, 1]]


def test_knn_blocks_equal_one_block(rng):
    X = rng.normal(size=(300, 6))
    assert np.array_equal(knn_indices(X, 5, block=37), knn_indices(X, 5, block=4096))


def naive_cknna(X, Y, k, eps=0.0):
    # the platonic-representation reference code, transcribed to numpy with loops
    def norm(A):
        return A / np.linalg.norm(A, axis=1, keepdims=True)

    K, L = norm(X) @ norm(X).T, norm(Y) @ norm(Y).T
    n = len(K)

    def hsic_u(A, B):
        At, Bt = A.copy(), B.copy()
        np.fill_diagonal(At, 0)
        np.fill_diagonal(Bt, 0)
        v = (np.sum(At * Bt.T) + At.sum() * Bt.sum() / ((n - 1) * (n - 2)) - 2 * np.sum(At @ Bt) / (n - 2))
        return v / (n * (n - 3))

    def sim(A, B):
        Ah, Bh = A.copy(), B.copy()
        np.fill_diagonal(Ah, -np.inf)
        np.fill_diagonal(Bh, -np.inf)
        mA, mB = np.zeros((n, n)), np.zeros((n, n))
        for i in range(n):
            mA[i, np.argsort(-Ah[i], kind="stable")[:k]] = 1
            mB[i, np.argsort(-Bh[i], kind="stable")[:k]] = 1
        m = mA * mB
        return hsic_u(m * A, m * B)

    return sim(K, L) / (np.sqrt(sim(K, K) * sim(L, L)) + eps)


def test_cknna_matches_reference(rng):
    X, Y = related_pair(rng, n=50, noise=1.5)
    assert ra.cknna(X, Y, k=5) == pytest.approx(naive_cknna(X, Y, 5), abs=1e-10)


def test_cknna_reference_eps_reproduces_the_reference_code(rng):
    # the reference code divides by sqrt(kk ll) + 1e-6; eps=1e-6 reproduces it exactly, the default
    # (eps=0) is the exact ratio, and the difference grows with n (HSIC of sparse masks shrinks)
    from repalign.measures.knn import REFERENCE_EPS

    gaps = []
    for n in (60, 240):
        X, Y = related_pair(rng, n=n, noise=1.5)
        ref = naive_cknna(X, Y, 10, eps=1e-6)
        assert ra.cknna(X, Y, k=10, eps=REFERENCE_EPS) == pytest.approx(ref, abs=1e-12)
        exact = ra.cknna(X, Y, k=10)
        assert exact == pytest.approx(naive_cknna(X, Y, 10), abs=1e-12)
        gaps.append(exact - ref)
    assert 0 < gaps[0] < gaps[1]
    with pytest.raises(ValueError, match="eps"):
        ra.cknna(X, Y, eps=-1.0)


def test_neighbour_measures_invariances(rng):
    X, Y = related_pair(rng, n=80)
    Q = ortho_group.rvs(20, random_state=3)
    p = rng.permutation(80)
    for f in (ra.mutual_knn, ra.cknna):
        base = f(X, Y)
        assert f(3.0 * X @ Q, Y) == pytest.approx(base, abs=1e-10)
        assert f(X[p], Y[p]) == pytest.approx(base, abs=1e-10)
    assert ra.mutual_knn(X, X) == 1.0


def test_groups_exclude_copies(rng):
    X, Y = related_pair(rng, n=60)
    idx = np.sort(rng.integers(0, 60, 60))
    Xs, Ys = X[idx], Y[idx]
    # with copies, each copy is the other's nearest neighbour in both spaces: inflated
    assert ra.mutual_knn(Xs, Ys, k=1) > ra.mutual_knn(Xs, Ys, k=1, groups=idx)
    with pytest.raises(ValueError, match="groups"):
        ra.mutual_knn(X, Y, groups=np.arange(5))


def test_knn_errors(rng):
    X, Y = related_pair(rng, n=10)
    with pytest.raises(ValueError, match="k = 10"):
        ra.mutual_knn(X, Y, k=10)
    with pytest.raises(ValueError, match="k"):
        ra.mutual_knn(X, Y, k=0)


# ------------------------------------------------------------------ GW
def test_gw_paired_closed_form(rng):
    X, Y = related_pair(rng, n=30)
    from scipy.spatial.distance import cdist

    CX, CY = cdist(X, X), cdist(Y, Y)
    CX /= CX.sum() / (30 * 29)
    CY /= CY.sum() / (30 * 29)
    assert ra.gw_paired(X, Y) == pytest.approx(((CX - CY) ** 2).mean(), rel=1e-10)
    assert ra.gw_paired(X, 5 * X @ ortho_group.rvs(20, random_state=1)) == pytest.approx(0, abs=1e-20)


def test_gromov_wasserstein_solver(rng):
    X, Y = related_pair(rng, n=40)
    res = ra.gromov_wasserstein(X, Y)
    assert res.distance <= res.identity_cost + 1e-12  # starts at the identity and only descends
    assert res.plan.sum() == pytest.approx(1.0)
    assert np.allclose(res.plan.sum(1), 1 / 40)
    Q = ortho_group.rvs(20, random_state=2)
    iso = ra.gromov_wasserstein(X, 2.0 * X @ Q, init="product")
    assert iso.distance == pytest.approx(0.0, abs=1e-8)
    assert iso.diagonal_mass == pytest.approx(1.0, abs=1e-6)
    unp = ra.gromov_wasserstein(X, Y[:25], paired=False)
    assert unp.plan.shape == (40, 25) and np.isnan(unp.identity_cost)
    assert set(res.to_dict()) >= {"distance", "identity_cost", "diagonal_mass", "converged"}


# ------------------------------------------------------------------ RSA
def test_rsa_matches_scipy(rng):
    from scipy.spatial.distance import pdist

    X, Y = related_pair(rng, n=40)
    ref = stats.spearmanr(pdist(X, "correlation"), pdist(Y, "correlation"))[0]
    assert ra.rsa(X, Y) == pytest.approx(ref, abs=1e-10)
    ref = stats.pearsonr(pdist(X, "euclidean"), pdist(Y, "euclidean"))[0]
    assert ra.rsa(X, Y, metric="euclidean", compare="pearson") == pytest.approx(ref, abs=1e-10)
    with pytest.raises(ValueError, match="metric"):
        ra.rsa(X, Y, metric="manhattan")
