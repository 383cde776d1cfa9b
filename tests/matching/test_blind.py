"""Blind matching, subset selection and the unsupervised classifier (schnaus2025)."""

import itertools

import numpy as np
import pytest

from repalign.matching import (
    agreement_matrix,
    blind_match,
    class_means,
    select_subset,
    unsupervised_classifier,
)

from ..conftest import isometric_views


def test_class_means():
    X = np.array([[1.0, 0], [3, 0], [0, 2], [0, 4]])
    M = class_means(X, np.array([0, 0, 1, 1]))
    assert np.allclose(M, [[1, 0], [0, 1]])
    assert np.allclose(class_means(X, [0, 0, 1, 1], normalize=False), [[2, 0], [0, 3]])
    with pytest.raises(ValueError, match="class 1 has no rows"):
        class_means(X, np.array([0, 0, 2, 2]))
    with pytest.raises(ValueError, match="one label per row"):
        class_means(X, [0, 1])


@pytest.mark.parametrize("metric", ["gw", "cka-linear", "mutual-knn"])
def test_blind_match_recovers_correlated_views(metric):
    X, Y = isometric_views(12, 0.2, seed=1)
    res = blind_match(X, Y, metric, k=3, solver="hahn-grant", time_limit=10)
    assert res.accuracy >= (1.0 if metric != "mutual-knn" else 0.5)
    assert res.chance == pytest.approx(1 / 12)
    if res.qap.optimal:
        assert res.qap.objective == pytest.approx(res.qap.bound, rel=1e-8, abs=1e-8)
    # the hidden shuffle: a different seed gives the same matching (the problem is the same)
    assert np.array_equal(blind_match(X, Y, metric, k=3, solver="tabu", time_limit=1, seed=5).permutation,
                          res.permutation) or metric == "mutual-knn"


def test_blind_match_is_not_biased_toward_the_identity():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(10, 5)), rng.normal(size=(10, 5))  # unrelated: accuracy near chance
    accs = [blind_match(X, Y, "gw", solver="tabu", time_limit=0.2, seed=s).accuracy for s in range(5)]
    assert np.mean(accs) < 0.5


def test_subset_selection_greedy_vs_milp_vs_exhaustive():
    X, Y = isometric_views(12, 0.8, seed=3)
    W = agreement_matrix(X, Y, "gw")
    best = max(W[np.ix_(c, c)].sum() for c in map(list, itertools.combinations(range(12), 5)))
    milp = select_subset(X, Y, 5, "gw", method="milp")
    assert milp.optimal and milp.score == pytest.approx(best)
    greedy = select_subset(X, Y, 5, "gw", method="greedy")
    assert best - 0.05 * abs(best) <= greedy.score <= best + 1e-9
    assert len(greedy.indices) == 5 and len(set(greedy.indices)) == 5


def test_subset_selection_prefers_the_matchable_items():
    X, Y = isometric_views(30, 0.1, seed=4)
    Y[20:] = Y[20:][np.roll(np.arange(10), 1)]  # 10 pairs with the wrong partner
    sub = select_subset(X, Y, 15, "gw", method="greedy")
    assert np.mean(sub.indices < 20) >= 0.9


def test_unsupervised_classifier():
    rng = np.random.default_rng(5)
    C = 8
    centres, T = isometric_views(C, 0.1, seed=6)
    y = np.repeat(np.arange(C), 20)
    images = centres[y] + 0.1 * rng.normal(size=(len(y), centres.shape[1]))
    res = unsupervised_classifier(images, T, y, measure="gw", time_limit=10)
    assert res.oracle_accuracy > 0.95
    assert res.accuracy == pytest.approx(res.oracle_accuracy)
    assert res.matched_clusters == 1.0


def test_bad_input():
    X = np.random.default_rng(0).normal(size=(6, 3))
    with pytest.raises(ValueError, match="N rows with N rows"):
        blind_match(X, X[:5])
    with pytest.raises(ValueError, match="cannot choose 9 of 6"):
        select_subset(X, X, 9)
    with pytest.raises(ValueError, match="method"):
        select_subset(X, X, 3, method="exact")
    with pytest.raises(ValueError, match="measure"):
        blind_match(X, X, "euclid")
    with pytest.raises(ValueError, match="time_limit"):
        blind_match(X, X, solver="tabu", time_limit=0)


@pytest.mark.slow
def test_default_solver_keeps_the_warm_start_quality_at_large_n():
    # Hahn-Grant rounds cost ~n^5: at N = 100 its default gives the tabu warm start 90 % of the
    # time, so the default is as good as tabu alone (it once got 1 s and returned 0 %)
    from repalign.experiments.blind import noisy_views
    from repalign.qap import heuristic_share

    assert heuristic_share(10) == pytest.approx(0.1) and heuristic_share(100) == pytest.approx(0.9)
    X, Y = noisy_views(100, 0.8, seed=100)
    default = blind_match(X, Y, "gw", time_limit=2)
    tabu = blind_match(X, Y, "gw", solver="tabu", time_limit=2)
    assert default.accuracy >= 0.9 and default.accuracy >= tabu.accuracy - 0.02
    # that the 2 s limit is kept is measured in benchmarks/bench_qap_solvers.py, not asserted on
    # a shared machine's clock; the limit's mechanism is tested with a fake clock in tests/qap
