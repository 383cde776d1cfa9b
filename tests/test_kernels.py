"""repalign.kernels: the one kernel vocabulary, one median bandwidth, one round-off rule, and the
one unbiased-HSIC formula that the layer-wise maps share with the measures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import repalign as ra
from repalign.kernels import (
    KERNEL_NAMES,
    KERNEL_SYNONYMS,
    median_bandwidth,
    rbf_sigma,
    resolve_kernel,
    sq_distances_from_inner,
    squared_distances,
)
from repalign.measures.kernel_alignment import unbiased_hsic, unbiased_hsic_from_terms


def test_every_method_takes_the_canonical_names_and_keeps_its_own_spelling(rng):
    assert set(KERNEL_SYNONYMS.values()) <= set(KERNEL_NAMES)
    assert resolve_kernel("rbf", ("cosine", "linear", "gaussian")) == "gaussian"
    assert resolve_kernel("linear", ("inner", "cosine", "rbf")) == "inner"
    assert resolve_kernel("gaussian", ("linear", "cosine", "rbf")) == "rbf"
    with pytest.raises(ValueError, match=r"kernel: unknown kernel 'poly'; use one of linear \(inner\), cosine, rbf"):
        resolve_kernel("poly", ("inner", "cosine", "rbf"))
    X = rng.normal(size=(40, 6))
    Y = X @ rng.normal(size=(6, 5)) + 0.3 * rng.normal(size=(40, 5))
    assert ra.cka(X, Y, kernel="gaussian") == ra.cka(X, Y, kernel="rbf")
    a = ra.spec(X, Y, kernel="rbf", rff=64, seed=1)
    b = ra.spec(X, Y, kernel="gaussian", rff=64, seed=1)
    assert a.kernel == b.kernel == "gaussian" and np.array_equal(a.eigenvalues, b.eigenvalues)
    maps = rng.normal(size=(5, 3, 2, 2))
    r1, r2 = ra.semantic_rsm(maps, kernel="linear"), ra.semantic_rsm(maps, kernel="inner")
    assert r1.kernel == r2.kernel == "inner" and np.array_equal(r1.matrix, r2.matrix)


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 25), st.integers(1, 5), st.integers(0, 2**31 - 1), st.integers(0, 3))
def test_median_bandwidth_is_the_rule_of_rbf_sigma(n, d, seed, dup):
    g = np.random.default_rng(seed)
    X = g.normal(size=(n, d))
    X[:dup] = X[n - 1]  # identical rows give zero distances, which the rule skips
    D = squared_distances(X)
    tri = D[np.triu_indices(n, 1)]
    if not (tri > 0).any():
        return
    nz = np.sort(tri[tri > 0])
    expect = np.sqrt(nz[(nz.size - 1) // 2])  # the lower median of the non-zero values, by hand
    assert median_bandwidth(tri) == pytest.approx(expect, rel=1e-15)
    assert rbf_sigma(D, "median") == pytest.approx(expect, rel=1e-15)


def test_median_bandwidth_refuses_all_zero_distances():
    with pytest.raises(ValueError, match="all pairwise distances are zero"):
        median_bandwidth(np.zeros(6))


def test_distances_from_inner_products_set_rounding_noise_to_zero(rng):
    A = rng.normal(size=(7, 4)) * 1e3
    B = np.vstack([A[:3], rng.normal(size=(2, 4))])
    G = A @ B.T
    D = sq_distances_from_inner(G, (A**2).sum(1), (B**2).sum(1))
    ref = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    assert np.all(D >= 0) and np.allclose(D, ref, rtol=1e-10, atol=1e-6)
    assert np.all(D[np.arange(3), np.arange(3)] == 0.0)  # identical rows are exactly 0 apart
    assert np.array_equal(G, A @ B.T)  # the input is not modified


def test_one_unbiased_hsic_formula_scalar_and_vectorised(rng):
    Ks = [rng.normal(size=(9, 9)) for _ in range(3)]
    Ks = [k + k.T for k in Ks]
    Ls = [rng.normal(size=(9, 9)) for _ in range(2)]
    Ls = [k + k.T for k in Ls]

    def terms(K):
        Kt = K.copy()
        np.fill_diagonal(Kt, 0)
        return Kt, Kt.sum(), Kt.sum(1)

    ta, tb = [terms(k) for k in Ks], [terms(k) for k in Ls]
    tr = np.array([[np.sum(a[0] * b[0]) for b in tb] for a in ta])
    M = unbiased_hsic_from_terms(9, tr, np.array([t[1] for t in ta])[:, None], np.array([t[1] for t in tb])[None, :],
                                 np.stack([t[2] for t in ta]) @ np.stack([t[2] for t in tb]).T)
    for i, K in enumerate(Ks):
        for j, L in enumerate(Ls):
            assert M[i, j] == pytest.approx(unbiased_hsic(K, L), rel=1e-12, abs=1e-12)
    with pytest.raises(ValueError, match="at least 4"):
        unbiased_hsic_from_terms(3, 0.0, 0.0, 0.0, 0.0)
