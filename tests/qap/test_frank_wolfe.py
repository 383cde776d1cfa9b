"""Own FAQ against scipy's, with anchors (seeds), both directions, symmetric and asymmetric inputs."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment, quadratic_assignment

from repalign.qap import faq, seeded_qap
from repalign.qap.frank_wolfe import qap_objective


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("maximize", [True, False])
@pytest.mark.parametrize("n_seeds", [0, 7])
def test_same_iterates_as_scipy(symmetric, maximize, n_seeds):
    rng = np.random.default_rng(n_seeds + 10 * symmetric + 100 * maximize)
    n = 30
    A, B = rng.random((n, n)), rng.random((n, n))
    if symmetric:
        A, B = A + A.T, B + B.T
    seeds = np.column_stack([np.arange(n_seeds), rng.permutation(n)[:n_seeds]]) if n_seeds else np.zeros((0, 2), int)
    k = n - n_seeds
    P0 = (np.full((k, k), 1 / k) + np.eye(k)[rng.permutation(k)]) / 2
    ref = quadratic_assignment(A, B, options=dict(partial_match=seeds, maximize=maximize, P0=P0, tol=1e-6, rng=np.random.default_rng(0),
                                                  maxiter=200))
    ours = faq(A, B, seeds, maximize=maximize, init=P0, tol=1e-6, max_iter=200)
    assert np.array_equal(ours.permutation, ref.col_ind)
    assert ours.objective == pytest.approx(ref.fun, rel=1e-12)
    assert ours.iterations == ref.nit
    assert ours.objective == pytest.approx(qap_objective(A, B, ours.permutation))
    assert np.array_equal(ours.permutation[seeds[:, 0]], seeds[:, 1])


def test_barycenter_default_matches_scipy_and_recovers_a_planted_permutation():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(120, 10))
    A = Z @ Z.T
    p = rng.permutation(120)
    B = A[np.ix_(np.argsort(p), np.argsort(p))]  # B[p[i], p[j]] = A[i, j]
    seeds = np.column_stack([np.arange(20), p[:20]])
    ref = quadratic_assignment(A, B, options=dict(partial_match=seeds, maximize=True, rng=np.random.default_rng(0)))
    ours = faq(A, B, seeds, maximize=True)
    assert np.array_equal(ours.permutation, ref.col_ind)
    assert np.array_equal(ours.permutation, p)


def test_restarts_keep_the_best():
    rng = np.random.default_rng(1)
    A, B = rng.random((25, 25)), rng.random((25, 25))
    many = seeded_qap(A, B, maximize=False, restarts=8, seed=3)
    assert many.restarts == 8
    singles = [faq(A, B, maximize=False, init="randomized", seed=s).objective
               for s in np.random.default_rng(3).integers(2**63, size=8)]
    assert many.objective == pytest.approx(min(singles))


def test_bad_input():
    A = np.eye(4)
    with pytest.raises(ValueError, match="square"):
        faq(np.ones((3, 4)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="same shape"):
        faq(A, np.eye(5))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        faq(A, A, anchors=[0, 7])
    with pytest.raises(ValueError, match="duplicated"):
        faq(A, A, anchors=[[0, 1], [2, 1]])
    with pytest.raises(ValueError, match="restarts"):
        seeded_qap(A, A, restarts=0)


def _instance(seed=0, n=90, m=30):
    rng = np.random.default_rng(seed)
    lat = rng.normal(size=(n, 6))
    Z = lat @ rng.normal(size=(6, 20)) + 1.5 * rng.normal(size=(n, 20))
    H = lat @ rng.normal(size=(6, 15)) + 1.5 * rng.normal(size=(n, 15))
    from repalign.matching import normalized_kernel

    return normalized_kernel(Z), normalized_kernel(H), np.arange(m)


def test_polish_is_a_2opt_local_optimum_of_the_query_block():
    A, B, seeds = _instance()
    plain = seeded_qap(A, B, seeds, maximize=True)
    pol = seeded_qap(A, B, seeds, maximize=True, polish=True)
    assert pol.objective >= plain.objective - 1e-12
    assert pol.objective == pytest.approx(qap_objective(A, B, pol.permutation))
    assert np.array_equal(pol.permutation[seeds], seeds)
    p = pol.permutation
    for r in range(30, 90, 7):  # no exchange of two query nodes improves it
        for s in range(r + 1, 90, 5):
            q = p.copy()
            q[[r, s]] = q[[s, r]]
            assert qap_objective(A, B, q) <= pol.objective + 1e-12


def test_polish_from_a_blas_state_walks_the_loop_kernels_moves():
    # FAQEngine.polish starts 2-opt from a BLAS-computed state (FAQ's own products are BLAS);
    # on a problem with moves to make it must land where the all-loop kernel lands
    from repalign.qap import _jit
    from repalign.qap.frank_wolfe import FAQEngine
    from repalign.qap.problem import QAPProblem

    rng = np.random.default_rng(3)
    n = 40
    A, B = rng.normal(size=(n, n)), rng.normal(size=(n, n))
    start = rng.permutation(n)
    engine = FAQEngine(QAPProblem(A, B))
    cols, moves = engine.polish(start)
    p = start.astype(np.int64).copy()
    _, moves_ref = _jit.two_opt(np.ascontiguousarray(A), B, np.zeros((n, n)), p, np.ones(n, np.bool_), 10**9)
    assert moves > 0 and moves == moves_ref and np.array_equal(cols, p)


def test_threads_and_float32_do_not_change_the_answer():
    A, B, seeds = _instance(1)
    one = seeded_qap(A, B, seeds, restarts=6, tol=1e-5, max_iter=100, seed=4)
    two = seeded_qap(A, B, seeds, restarts=6, tol=1e-5, max_iter=100, seed=4, n_jobs=2)
    assert np.array_equal(one.permutation, two.permutation) and one.objective == two.objective
    f32 = seeded_qap(A, B, seeds, restarts=6, tol=1e-5, max_iter=100, seed=4, precision="float32")
    assert f32.objective == pytest.approx(one.objective, rel=1e-6)
    assert f32.objective == pytest.approx(qap_objective(A, B, f32.permutation), abs=1e-12)  # float64 objective
    with pytest.raises(ValueError, match="precision"):
        seeded_qap(A, B, seeds, precision="float16")
    with pytest.raises(ValueError, match="n_jobs"):
        seeded_qap(A, B, seeds, n_jobs=0)


def test_lapjv_directions_give_scipys_iterates_where_the_assignment_is_unique():
    from repalign.qap.frank_wolfe import _lapjv_lsa, faq_lap

    A, B, seeds = _instance(2)
    runs = {lap: seeded_qap(A, B, seeds, restarts=5, tol=1e-5, max_iter=100, seed=7, lap=lap, n_jobs=n_jobs)
            for lap, n_jobs in (("scipy", 1), ("lapjv", 1), ("lapjv", 2))}
    ref = runs["scipy"]
    for r in runs.values():  # float gradients: unique optima, so the same Frank-Wolfe path
        assert np.array_equal(r.permutation, ref.permutation) and r.iterations == ref.iterations
    assert faq_lap("auto", "float32") is _lapjv_lsa and faq_lap("auto", "float64") is not _lapjv_lsa
    rng = np.random.default_rng(3)
    for maximize in (True, False):
        G = rng.normal(size=(40, 40))
        r, c = _lapjv_lsa(G, maximize=maximize)
        rs, cs = linear_sum_assignment(G, maximize=maximize)
        assert np.array_equal(r, rs) and np.array_equal(c, cs)
    with pytest.raises(ValueError, match="lap: expected one of auto, scipy, lapjv"):
        seeded_qap(A, B, seeds, lap="hungarian")


def test_linear_term_in_the_seeded_problem():
    from repalign.qap import QAPProblem, faq_solver

    rng = np.random.default_rng(3)
    A, B, L = rng.random((12, 12)), rng.random((12, 12)), rng.random((12, 12))
    res = faq_solver(QAPProblem(A, B, linear=L, anchors=[[0, 2], [1, 0]]))
    p = res.permutation
    assert p[0] == 2 and p[1] == 0
    assert res.objective == pytest.approx(qap_objective(A, B, p) + L[np.arange(12), p].sum())


def test_seeded_qap_equals_the_anchor_reduction():
    # anchors as a QAPProblem: the reduced problem's objective equals the full one for every
    # free permutation, and every solver respects the anchors
    from repalign.qap import QAPProblem, solve_qap

    rng = np.random.default_rng(8)
    A, B, L = rng.random((9, 9)), rng.random((9, 9)), rng.random((9, 9))
    anchors = np.array([[0, 3], [4, 4], [7, 1]])
    pr = QAPProblem(A, B, linear=L, constant=2.5, anchors=anchors)
    sub, rows, cols = pr.split_anchors()
    for _ in range(20):
        q = rng.permutation(sub.n)
        assert sub.objective(q) == pytest.approx(pr.objective(pr.expand(q)), rel=1e-13)
    exact = solve_qap(pr, "brute-force")
    for solver in ("faq", "2opt", "entropic-gw", "tabu", "hahn-grant"):
        kw = {"time_limit": 1.0} if solver in ("tabu", "hahn-grant") else {}
        r = solve_qap(pr, solver, **kw)
        assert np.array_equal(r.permutation[anchors[:, 0]], anchors[:, 1])
        assert r.objective == pytest.approx(pr.objective(r.permutation), abs=1e-12)
        assert r.objective >= exact.objective - 1e-9
    hg = solve_qap(pr, "hahn-grant", time_limit=2.0)
    assert hg.bound <= exact.objective + 1e-9
