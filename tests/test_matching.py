"""Local CKA (closed form vs naive), baselines, metrics, base selection and stretching."""

import numpy as np
import pytest

from repalign.matching import (
    cosine_scores,
    linear_regression_scores,
    local_cka,
    local_cka_naive,
    matching_accuracy,
    relative_scores,
    retrieval_metrics,
    select_base,
    stretch,
)

from .conftest import related_pair


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
@pytest.mark.parametrize("sigma", ["median", 2.5])
def test_local_cka_closed_form_equals_naive(rng, kernel, sigma):
    Z, H = related_pair(rng, n=46, dx=6, dy=9, noise=1.5)
    Z += 20.0  # an offset must not cost precision
    args = (Z[:30], H[:30], Z[30:], H[30:])
    fast = local_cka(*args, kernel=kernel, sigma=sigma)
    slow = local_cka_naive(*args, kernel=kernel, sigma=sigma)
    assert fast.shape == (16, 16)
    assert np.abs(fast - slow).max() < 1e-9


def test_local_cka_rectangular_and_recovers_pairs(rng):
    Z, H = related_pair(rng, n=260, dx=10, dy=12, noise=0.3)
    S = local_cka(Z[:200], H[:200], Z[200:], H[200:230])
    assert S.shape == (60, 30)
    sq = local_cka(Z[:200], H[:200], Z[200:], H[200:])
    assert matching_accuracy(sq) > 0.9


def test_local_cka_errors(rng):
    Z, H = related_pair(rng, n=20)
    with pytest.raises(ValueError, match="Zq"):
        local_cka(Z[:10], H[:10], Z[10:, :3], H[10:])
    with pytest.raises(ValueError, match="mismatched"):
        local_cka(Z[:10], H[:9], Z[10:], H[10:])
    with pytest.raises(ValueError, match="kernel"):
        local_cka(Z[:10], H[:10], Z[10:], H[10:], kernel="poly")
    with pytest.raises(ValueError, match="Zq"):
        local_cka(Z[:10], H[:10], np.zeros((0, 20)), H[10:])


def test_baselines(rng):
    Z, H = related_pair(rng, n=150, dx=8, dy=8, noise=0.1)
    b, q = slice(0, 100), slice(100, 150)
    assert matching_accuracy(linear_regression_scores(Z[b], H[b], Z[q], H[q])) > 0.95
    assert matching_accuracy(linear_regression_scores(Z[b], H[b], Z[q], H[q], ridge=1.0)) > 0.9
    assert matching_accuracy(relative_scores(Z[b], H[b], Z[q], H[q])) > 0.5
    assert matching_accuracy(cosine_scores(Z[q], Z[q] + 0.01 * rng.normal(size=(50, 8)))) == 1.0
    with pytest.raises(ValueError, match="dims differ"):
        cosine_scores(Z[q], H[q, :5])
    with pytest.raises(ValueError, match="ridge"):
        linear_regression_scores(Z[b], H[b], Z[q], H[q], ridge=-1)


def test_metrics_closed_cases():
    S = np.eye(4)
    assert matching_accuracy(S) == 1.0
    assert matching_accuracy(np.roll(np.eye(4), 1, axis=1)) == 0.0
    S = np.array([[0.9, 0.8, 0.1], [0.95, 0.5, 0.2], [0.0, 0.1, 0.3]])
    m = retrieval_metrics(S, ks=(1, 2))
    # rows: ranks of the diagonal are 1, 2, 1; columns: 2, 2, 1
    assert m["a2b_top1"] == pytest.approx(2 / 3) and m["a2b_top2"] == 1.0
    assert m["a2b_mean_rank"] == pytest.approx(4 / 3) and m["b2a_mean_rank"] == pytest.approx(5 / 3)
    assert retrieval_metrics(np.ones((3, 3)))["a2b_top1"] == 0.0  # ties count against the truth
    with pytest.raises(ValueError, match="square"):
        matching_accuracy(np.ones((2, 3)))


def test_stretch_and_base_selection(rng):
    X = rng.normal(size=(100, 5)) * np.array([1, 10, 100, 0.1, 1])
    X[:, 4] = 3.0
    Xs = stretch(X)
    assert np.allclose(Xs[:, :4].std(0), 1) and np.all(Xs[:, 4] == 3.0)
    for method in ("kmeans", "uniform"):
        idx = select_base(X[:, :4], 30, method, seed=1)
        assert len(idx) == 30 and len(np.unique(idx)) == 30 and np.all(np.diff(idx) > 0)
    with pytest.raises(ValueError, match="smaller than the number of items"):
        select_base(X, 100)
    with pytest.raises(ValueError, match="method"):
        select_base(X, 10, "random")
