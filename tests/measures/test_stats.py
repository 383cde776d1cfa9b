"""Permutation tests, intervals, shuffle curves, and the fast resampling paths vs slow ones."""

import numpy as np
import pytest
from scipy import stats

import repalign as ra
from repalign.measures import MEASURES, get_measure
from repalign.measures.resample import prepare
from repalign.measures.stats import shuffle_fraction

from ..conftest import related_pair


@pytest.mark.parametrize("name", list(MEASURES))
def test_fast_resampling_equals_slow_path(rng, name):
    m = MEASURES[name]
    X, Y = related_pair(rng, n=120, noise=2.0)
    X += 30.0
    f = prepare(m, X, Y)
    p = rng.permutation(120)
    idx = np.sort(rng.integers(0, 120, 120))
    half = np.sort(rng.choice(120, 60, replace=False))
    assert f(None, None) == pytest.approx(m(X, Y), abs=1e-10)
    assert f(None, p) == pytest.approx(m(X, Y[p]), abs=1e-10)
    assert f(half, half) == pytest.approx(m(X[half], Y[half]), abs=1e-10)
    if m.accepts_groups:
        assert f(idx, idx, idx) == pytest.approx(m(X[idx], Y[idx], groups=idx), abs=1e-10)
    elif name == "rsa":  # pairs of copies are left out
        from scipy.spatial.distance import squareform

        iu = np.triu_indices(120, 1)
        keep = idx[iu[0]] != idx[iu[1]]
        a = ra.rdm(X[idx])[iu][keep]
        b = ra.rdm(Y[idx])[iu][keep]
        assert f(idx, idx, idx) == pytest.approx(stats.spearmanr(a, b)[0], abs=1e-10)
        del squareform
    else:
        assert f(idx, idx, idx) == pytest.approx(m(X[idx], Y[idx]), abs=1e-10)


def test_permutation_p_values(rng):
    X, Y = related_pair(rng, n=100)
    p, null = ra.permutation_test("cka-linear", X, Y, n_permutations=99, seed=1)
    assert p == pytest.approx(0.01) and null.shape == (99,)
    # independent data: the p-value is not small, and GW's direction (lower = more similar) holds
    Z = rng.normal(size=(100, 30))
    p_ind, _ = ra.permutation_test("cka-linear", X, Z, n_permutations=199, seed=1)
    assert p_ind > 0.05
    p_gw, _ = ra.permutation_test("gw", X, Y, n_permutations=99)
    assert p_gw == pytest.approx(0.01)


def test_permutation_p_values_are_uniform_under_the_null():
    ps = []
    for s in range(60):
        r = np.random.default_rng(s)
        p, _ = ra.permutation_test("cka-linear", r.normal(size=(30, 3)), r.normal(size=(30, 3)),
                                   n_permutations=49, seed=s)
        ps.append(p)
    assert stats.kstest(ps, "uniform").pvalue > 0.01


def test_intervals_are_centred_and_honest(rng):
    X, Y = related_pair(rng, n=300, dx=30, dy=40, noise=4.0)
    rep = ra.evaluate(X, Y, n_bootstrap=60, seed=3)
    for name, r in rep.measures.items():
        assert r.ci_low <= r.value <= r.ci_high, name
        assert r.ci_method in ("subsample", "bootstrap")
    # plain percentile bootstrap of biased CKA misses the estimate: the reason for the default
    lo, hi, _ = ra.bootstrap_ci("cka-linear", X, Y, 60, method="percentile")
    assert lo > ra.cka(X, Y)


def test_interval_width_tracks_fresh_sample_spread():
    W = np.random.default_rng(0).normal(size=(20, 30))

    def sample(s):
        r = np.random.default_rng(s)
        A = r.normal(size=(300, 20))
        return A, A @ W + 6 * r.normal(size=(300, 30))

    fresh = [ra.cka(*sample(s), debiased=True) for s in range(1, 25)]
    lo, hi, _ = ra.bootstrap_ci("cka-linear-debiased", *sample(100), 200)
    implied = (hi - lo) / 3.92
    assert 0.5 < implied / np.std(fresh) < 3.0


def test_shuffle_fraction_moves_every_chosen_row(rng):
    for f in (0.0, 0.05, 0.5, 1.0):
        p = shuffle_fraction(200, f, rng)
        assert sorted(p) == list(range(200))
        assert (p != np.arange(200)).sum() == (round(f * 200) if round(f * 200) >= 2 else 0)


def test_shuffle_curve_decreases(rng):
    X, Y = related_pair(rng, n=200, noise=0.5)
    names = ["cka-linear", "cka-rbf", "mutual-knn", "gw", "rsa"]
    c = ra.shuffle_curve(X, Y, names, n_repeats=2)
    assert c.fractions[0] == 0 and c.fractions[-1] == 1
    for n in names:
        assert c.is_monotone(n, MEASURES[n].higher_is_more_similar, slack=0.02), n
    assert c.mean["cka-linear"][0] == pytest.approx(ra.cka(X, Y))
    d = c.to_dict()
    assert set(d["measures"]["gw"]) == {"mean", "std"}


def test_evaluate_report(rng):
    X, Y = related_pair(rng, n=60)
    rep = ra.evaluate(X, Y, ["cka-linear", get_measure("mutual-knn", k=3)], n_permutations=9)
    d = rep.to_dict()
    assert d["n"] == 60 and set(d["measures"]) == {"cka-linear", "mutual-knn"}
    assert d["measures"]["mutual-knn"]["params"] == {"k": 3}
    assert rep["cka-linear"].p_value == pytest.approx(0.1)


def test_registry_metadata_and_errors():
    for name, m in MEASURES.items():
        d = m.to_dict()
        assert d["name"] == name and len(d["range"]) == 2 and d["invariances"]
    assert not MEASURES["gw"].higher_is_more_similar
    with pytest.raises(ValueError, match="known measures"):
        get_measure("procrustes")
    with pytest.raises(ValueError, match="unknown parameter"):
        get_measure("cka-linear", k=3)
    with pytest.raises(ValueError, match="n_permutations"):
        ra.permutation_test("cka-linear", np.eye(5), np.eye(5), n_permutations=0)
    with pytest.raises(ValueError, match="method"):
        ra.bootstrap_ci("cka-linear", np.eye(5), np.eye(5), 3, method="bca")


SCALES = [1e-300 * 10.0**-10, 1e-300, 1e-200, 1e-160, 1e-100, 1e100, 1e154, 1e200, 1e300]  # the first is denormal


@pytest.mark.parametrize("scale", SCALES)
def test_scale_invariant_measures_do_not_overflow_or_underflow(scale):
    # bug: near 1e300 cka returned NaN and mutual_knn 1.0 (true 0.198); near 1e-160 and for
    # denormals the inputs were refused as "zero variance"
    g = np.random.default_rng(0)
    X = g.normal(size=(60, 8))
    Y = X[:, :5] @ g.normal(size=(5, 6)) + g.normal(size=(60, 6))
    fns = {"cka": ra.cka, "cka-rbf": lambda a, b: ra.cka(a, b, kernel="rbf"),
           "cka-debiased": lambda a, b: ra.cka(a, b, debiased=True), "mutual-knn": ra.mutual_knn,
           "cknna": ra.cknna, "gw": ra.gw_paired, "rsa": ra.rsa}
    for name, f in fns.items():
        assert f(X * scale, Y) == pytest.approx(f(X, Y), abs=1e-12), name
        assert f(X, Y * scale) == pytest.approx(f(X, Y), abs=1e-12), name
    rep, ref = ra.evaluate(X * scale, Y, n_permutations=10, seed=0), ra.evaluate(X, Y, n_permutations=10, seed=0)
    for m in ref.measures:
        assert rep[m].value == pytest.approx(ref[m].value, abs=1e-12) and rep[m].p_value == ref[m].p_value


def test_measures_with_a_set_scale_are_not_rescaled():
    from repalign.measures import get_measure

    assert get_measure("cka-rbf").scale_invariant
    assert not get_measure("cka-rbf", sigma=2.0).scale_invariant
    X = np.random.default_rng(1).normal(size=(30, 4))
    assert ra.cka(X, X * 3, kernel="rbf", sigma=1.0) != pytest.approx(ra.cka(X, X, kernel="rbf", sigma=1.0))
