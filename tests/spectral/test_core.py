"""SPEC (jalali2025): the three routes against each other, identities, streaming, planted
clusters, validation of modes, bad input."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from repalign.kernels import RandomFourierFeatures, squared_distances
from repalign.spectral import mode_agreement, sigma_scan, spec


def views(n=400, dA=24, dB=16, seed=0):
    rng = np.random.default_rng(seed)
    lat = rng.normal(size=(n, 6))
    A = lat @ rng.normal(size=(6, dA)) + 0.5 * rng.normal(size=(n, dA))
    B = lat @ rng.normal(size=(6, dB)) + 0.5 * rng.normal(size=(n, dB))
    return A, B


def planted(n=500, size=40, seed=0):
    """A: items [0, size) form a tight cluster; B: the same items are scattered like the rest."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, 12))
    A[:size] = rng.normal(size=12) * 3 + 0.15 * rng.normal(size=(size, 12))
    B = rng.normal(size=(n, 10))
    # B has its own cluster elsewhere: items [size, 2 size)
    B[size:2 * size] = rng.normal(size=10) * 3 + 0.15 * rng.normal(size=(size, 10))
    return A, B


@pytest.mark.parametrize("kernel,kw", [("cosine", {}), ("linear", {}), ("gaussian", {"rff": 300})])
def test_three_routes_agree(kernel, kw):
    A, B = views(n=2000) if kernel == "cosine" else views(n=600)
    res = {r: spec(A, B, kernel, route=r, eta=0.6, n_modes=4, spectrum="full", **kw)
           for r in ("direct", "covariance", "cholesky")}
    d = res["direct"]
    for r in ("covariance", "cholesky"):
        x = res[r]
        for sign in (1, -1):  # the non-zero spectrum of each sign, largest magnitude first
            ours = np.sort(sign * x.eigenvalues[sign * x.eigenvalues > 1e-9])[::-1][:15]
            ref = np.sort(sign * d.eigenvalues[sign * d.eigenvalues > 1e-9])[::-1][:15]
            assert len(ours) == len(ref) and np.allclose(ours, ref, atol=1e-8)
        assert x.spec_diff == pytest.approx(d.spec_diff, abs=1e-8)
        assert x.frobenius == pytest.approx(d.frobenius, abs=1e-8)
        # eigenvectors equal with the same sign convention (√η on B's side included: eta = 0.6)
        assert np.allclose(x.scores, d.scores, atol=1e-6)
        for a, b in zip(x.modes, d.modes, strict=True):
            assert np.array_equal(a.top_indices, b.top_indices)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_partial_spectrum_by_lanczos_equals_the_full_one(monkeypatch, dtype):
    # spectrum="ends" computes the n_modes + 2 largest and smallest only (Lanczos on F J Fᵀ; it
    # was two dense subset eigh calls, each a full O(r³) reduction: 166 s at 8,000 features).
    # float32 inputs run Lanczos on a float32 factor and products, then a float64 Rayleigh-Ritz
    # step on C itself: the eigenvalues must still equal the full float64 spectrum of the same
    # covariance, not float32's 1e-7
    import importlib

    core = importlib.import_module("repalign.spectral.core")
    A, B = (x.astype(dtype) for x in views(n=900))
    kw = dict(rff=120, route="cholesky", n_modes=3, eta=0.7, seed=2, rff_floor=False)
    full = spec(A, B, "gaussian", spectrum="full", **kw)
    part = spec(A, B, "gaussian", spectrum="ends", **kw)
    assert full.complete and not part.complete and len(part.eigenvalues) == 2 * (3 + core.END_EXTRA)
    # "auto": the whole spectrum up to FULL_SPECTRUM_MAX joint features (480 here), the ends above
    assert spec(A, B, "gaussian", **kw).complete
    monkeypatch.setattr(core, "FULL_SPECTRUM_MAX", 100)
    auto = spec(A, B, "gaussian", **kw)
    assert not auto.complete and np.array_equal(auto.eigenvalues, part.eigenvalues)
    for sign in (1, -1):
        ours = np.sort(sign * part.eigenvalues[sign * part.eigenvalues > 0])[::-1]
        ref = np.sort(sign * full.eigenvalues[sign * full.eigenvalues > 0])[::-1]
        assert len(ours) == 3 + core.END_EXTRA
        # every computed end is float64-accurate (the full path's float32 middle is float32-accurate:
        # compare the ends it refines, its n_modes per sign, to 1e-12, the next ones to 1e-7)
        assert np.allclose(ours[:3], ref[:3], rtol=0, atol=1e-12)
        assert np.allclose(ours, ref[:len(ours)], rtol=0, atol=1e-12 if dtype == np.float64 else 1e-7)
    assert part.spec_diff == pytest.approx(full.spec_diff, abs=1e-12)
    # scores: the float32 path's vectors are first-order accurate in its float32 subspace
    assert np.allclose(part.scores, full.scores, atol=1e-7 if dtype == np.float64 else 1e-6)
    for a, b in zip(part.modes, full.modes, strict=True):
        assert np.array_equal(a.top_indices, b.top_indices)
    with pytest.raises(ValueError, match="spectrum: expected one of"):
        spec(A, B, "gaussian", spectrum="top", **kw)
    # Lanczos that does not converge falls back to the dense solve (the whole spectrum)
    from scipy.sparse.linalg import ArpackNoConvergence

    def stuck(*a, **k):
        raise ArpackNoConvergence("no convergence", np.zeros(0), np.zeros((0, 0)))

    monkeypatch.setattr(core, "eigsh", stuck)
    fallback = spec(A, B, "gaussian", spectrum="ends", **kw)
    assert fallback.complete and np.array_equal(fallback.eigenvalues, full.eigenvalues)


def test_sqrt_eta_on_b_features_matters():
    # scores from the covariance route recomputed by hand: v = Φ_A u_A + √η Φ_B u_B
    A, B = views(n=300)
    r = spec(A, B, "linear", route="direct", eta=0.3, n_modes=1)
    lam = r.modes[0].eigenvalue
    v = r.scores[:, 0]
    L = (A @ A.T - 0.3 * B @ B.T) / len(A)
    assert np.allclose(L @ v, lam * v, atol=1e-10)
    c = spec(A, B, "linear", route="cholesky", eta=0.3, n_modes=1)
    assert np.allclose(c.scores[:, 0], v, atol=1e-8)


def test_rank_deficient_cholesky_needs_no_jitter():
    A, B = views(n=60, dA=50, dB=40)  # n < d_A + d_B: the joint covariance is singular
    d = spec(A, B, "cosine", route="direct")
    c = spec(A, B, "cosine", route="cholesky")
    assert np.allclose(c.eigenvalues[:10], np.sort(d.eigenvalues)[::-1][:10], atol=1e-9)
    assert np.allclose(c.scores, d.scores, atol=1e-7)


def test_factor_unpivoted_when_safe_pivoted_when_singular():
    # _factor: potrf (a quarter of pstrf's time) when C is safely positive definite, after dropping
    # features that are zero on every item; pstrf otherwise (a jitter would turn B = A's nilpotent
    # J C into eigenvalues of size √jitter, tested by test_shuffled_copy_is_far_and_an_aligned_copy_is_zero)
    from repalign.spectral import core

    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 20))
    X[:, [3, 11]] = 0.0  # two features that are zero on every item
    C = X.T @ X / 300
    Fp, perm, pivoted = core._factor(C)
    assert not pivoted and perm.tolist() == [i for i in range(20) if i not in (3, 11)]
    assert np.allclose(Fp.T @ Fp, C[np.ix_(perm, perm)], atol=1e-13)
    assert np.allclose(Fp, np.triu(Fp))
    Y = rng.normal(size=(300, 10)) @ rng.normal(size=(10, 20))  # rank 10 of 20, no zero feature
    C2 = Y.T @ Y / 300
    Fp, perm, pivoted = core._factor(C2)
    assert pivoted and Fp.shape[0] == 10 and sorted(perm.tolist()) == list(range(20))
    assert np.allclose(Fp.T @ Fp, C2[np.ix_(perm, perm)], atol=1e-12)
    # both branches give the eigen-pairs of J C
    for Cm in (C, C2):
        J = np.r_[np.ones(8), -np.ones(12)]
        ref = np.linalg.eigvals(J[:, None] * Cm).real
        ref = np.sort(ref[np.abs(ref) > 1e-10])
        lam, U, complete = core._cholesky_route(Cm, 8)
        assert complete and np.allclose(np.sort(lam), ref, atol=1e-12)
        assert np.allclose(J[:, None] * Cm @ U, U * lam, atol=1e-11)


def test_random_features_go_straight_to_the_pivoted_factor(monkeypatch):
    # a Gaussian map's C is numerically singular as a rule: trying potrf first cost 4 s at M = 8,000
    from scipy import linalg


    calls = []
    real = linalg.lapack.dpotrf
    monkeypatch.setattr(linalg.lapack, "dpotrf", lambda *a, **k: calls.append(1) or real(*a, **k))
    A, B = views(n=600)
    spec(A, B, "gaussian", rff=40, route="cholesky", n_modes=2, rff_floor=False)
    assert calls == []
    spec(A, B, "cosine", route="cholesky", n_modes=2)
    assert calls == [1]


def test_float32_route_refines_the_ends_in_float64():
    # float32 inputs: S is formed and reduced in float32, the n_modes pairs of each end are
    # refined in float64; they must equal the float64 eigen-solve of the same C to ~1e-12, the
    # rest of the spectrum to float32 accuracy
    from repalign.spectral import core

    A, B = views(n=3000, dA=90, dB=70, seed=5)
    C = np.cov(np.hstack([A, B]).T)
    r64 = core._cholesky_route(C, 90, ends=3)
    r32 = core._cholesky_route(C, 90, single=True, ends=3)
    lam64, lam32 = r64[0], r32[0]
    assert lam64.shape == lam32.shape
    top = np.abs(lam64).max()
    assert np.allclose(lam32[:3], lam64[:3], rtol=0, atol=1e-12 * top)
    assert np.allclose(lam32[-3:], lam64[-3:], rtol=0, atol=1e-12 * top)
    assert np.abs(lam32 - lam64).max() < 1e-5 * top
    assert not np.array_equal(lam32, lam64)  # the middle really is float32 arithmetic
    # the picked modes' eigenvectors agree (up to sign) to what a float32 subspace allows:
    # first order in its error over the gap (eigenvalues are second order)
    picked = core._pick_modes(lam64, 3)
    at64 = {int(c): j for j, c in enumerate(r64[3])}
    at32 = {int(c): j for j, c in enumerate(r32[3])}
    for p in picked:
        u, w = r64[1][:, at64[int(p)]], r32[1][:, at32[int(p)]]
        assert min(np.abs(u - w).max(), np.abs(u + w).max()) < 1e-6 * np.abs(u).max()


def test_identities():
    A, B = views(n=500)
    for eta in (1.0, 0.4):
        r = spec(A, B, "cosine", eta=eta, route="cholesky")
        assert r.eigenvalues.sum() == pytest.approx(1 - eta, abs=1e-10)  # tr Λ for normalised kernels
        g = spec(A, B, "gaussian", eta=eta, rff=200)
        assert g.eigenvalues.sum() == pytest.approx(1 - eta, abs=1e-10)
        assert np.sqrt(np.sum(r.eigenvalues**2)) == pytest.approx(r.frobenius, rel=1e-9)
    self_ = spec(A, A.copy(), "cosine")
    assert self_.spec_diff < 1e-12 and self_.frobenius < 1e-7
    p = np.random.default_rng(1).permutation(500)  # a joint row permutation changes nothing but the indices
    r, q = spec(A, B, "cosine"), spec(A[p], B[p], "cosine")
    assert np.allclose(r.eigenvalues[:20], q.eigenvalues[:20], atol=1e-12)
    for a, b in zip(r.modes, q.modes, strict=True):
        assert np.array_equal(p[b.top_indices], a.top_indices)


def test_modes_convert_to_a_data_frame():
    pd = pytest.importorskip("pandas")
    A, B = views(n=300)
    r = spec(A, B, "cosine", n_modes=3)
    df = r.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == len(r.modes) and df.index.name == "mode"
    assert list(df["eigenvalue"]) == [float(m.eigenvalue) for m in r.modes]
    assert list(df["side"]) == [m.side for m in r.modes] and "below_rff_floor" not in df.columns
    assert df.loc[0, "top_indices"] == [int(i) for i in r.modes[0].top_indices]
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # modes below the floor are warned about; here they are wanted
        g = spec(X, X[:, ::-1] + 0.3 * rng.normal(size=(600, 10)), "gaussian", rff=100, n_modes=2)
    assert g.rff_floor is not None  # random features: each mode flagged against their floor
    assert list(g.to_pandas()["below_rff_floor"]) == [abs(m.eigenvalue) < g.rff_floor for m in g.modes]


def test_shuffled_copy_is_far_and_an_aligned_copy_is_zero():
    A, _ = views(n=800)
    rng = np.random.default_rng(3)
    Q = np.linalg.qr(rng.normal(size=(24, 24)))[0]
    aligned = spec(A, 2.5 * A @ Q, "cosine")  # cosine kernel: invariant to rotation and scale
    shuffled = spec(A, A[rng.permutation(800)], "cosine")
    assert aligned.spec_diff < 1e-10
    assert shuffled.spec_diff > 0.1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_ends_of_an_aligned_copy_are_zero_too(dtype):
    # spectrum="ends" on B = A and on a rotated, scaled A: S = F J Fᵀ is zero up to round-off, so
    # Lanczos meets a zero operator (ARPACK's "starting vector is zero") or tiny Ritz vectors,
    # whose C-norm the float64 Rayleigh-Ritz step drops. float32 products leave errors of
    # ~eps32 in a C that is singular here, which the square root of a Cholesky pivot turns into
    # eigenvalues up to ~sqrt(eps32) ‖C‖ (documented under `precision`); float64 stays at round-off.
    # Bug found with it: the full float32 path picked a mode among its float32 middle values
    # (no eigenvector computed for them: a KeyError) when the refined ends fell below the cut
    A, _ = views(n=800, dA=40)
    A = A.astype(dtype)
    Q = np.linalg.qr(np.random.default_rng(3).normal(size=(40, 40)))[0]
    tol = 1e-10 if dtype == np.float64 else 3 * np.sqrt(np.finfo(np.float32).eps) * 2  # tr C = 1 + η = 2
    for B in (A, (2.5 * A @ Q).astype(dtype)):
        full = spec(A, B, "cosine", route="cholesky", spectrum="full")
        ends = spec(A, B, "cosine", route="cholesky", spectrum="ends", n_modes=3)
        assert full.spec_diff < tol and ends.spec_diff < tol
        assert not ends.complete and all(abs(m.eigenvalue) < tol for m in ends.modes + full.modes)


def test_rff_gram_converges_to_the_gaussian_kernel():
    X = np.random.default_rng(0).normal(size=(80, 5))
    sigma = 2.0
    K = np.exp(-squared_distances(X) / (2 * sigma**2))
    errs = []
    for m in (50, 500, 5000):
        phi = RandomFourierFeatures(5, m, sigma, seed=1)(X)
        assert np.allclose(np.einsum("ij,ij->i", phi, phi), 1.0)  # normalised: ‖φ(x)‖ = 1
        errs.append(np.abs(phi @ phi.T - K).max())
    assert errs[0] > errs[1] > errs[2] and errs[2] < 0.06
    rff = RandomFourierFeatures(5, 300, sigma, seed=1)  # float32 features, computed in float32
    f32 = rff(X.astype(np.float32), dtype=np.float32)
    assert f32.dtype == np.float32 and np.abs(f32 - rff(X)).max() < 1e-6


def test_exact_gaussian_on_the_direct_route():
    A, B = views(n=200)
    exact = spec(A, B, "gaussian", rff="exact", sigma_a=4.0, sigma_b=3.0)
    approx = spec(A, B, "gaussian", rff=4000, sigma_a=4.0, sigma_b=3.0, route="direct")
    assert exact.route == "direct"
    assert approx.spec_diff == pytest.approx(exact.spec_diff, abs=0.02)
    with pytest.raises(ValueError, match="route='direct'"):
        spec(A, B, "gaussian", rff="exact", route="cholesky")


def test_streamed_from_files_equals_in_memory(tmp_path):
    A, B = views(n=700)
    np.save(tmp_path / "a.npy", A)
    np.save(tmp_path / "b.npy", B)
    mem = spec(A, B, "gaussian", rff=100, route="cholesky", seed=5)
    streamed = spec(tmp_path / "a.npy", str(tmp_path / "b.npy"), "gaussian", rff=100, route="cholesky", seed=5,
                    chunk_size=64)
    assert np.allclose(mem.eigenvalues, streamed.eigenvalues, atol=1e-12)
    assert np.allclose(mem.scores, streamed.scores, atol=1e-10)
    assert [m.top_indices.tolist() for m in mem.modes] == [m.top_indices.tolist() for m in streamed.modes]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)")
def test_streaming_a_npy_file_does_not_keep_its_pages_resident(tmp_path):
    # bug: the memory map's pages stayed resident once read, so streaming 10⁶ rows from .npy
    # peaked at 6.6 GB (the files' size) against a 2 GB target. Own process: VmHWM is per process.
    n, d = 400_000, 80  # 128 MB per file
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        mm = np.lib.format.open_memmap(tmp_path / f"{name}.npy", mode="w+", dtype=np.float32, shape=(n, d))
        for s in range(0, n, 50_000):
            mm[s:s + 50_000] = rng.standard_normal((50_000, d), dtype=np.float32)
        mm.flush()
        del mm
    code = f"""
import numpy as np
from repalign.spectral import spec
def hwm():
    return next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM")) / 1024
h0 = hwm()
r = spec(r"{tmp_path / 'a.npy'}", r"{tmp_path / 'b.npy'}", "linear", chunk_size=10_000, n_modes=2, top=3)
print(hwm() - h0)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    grew = float(out.stdout.strip().splitlines()[-1])
    assert grew < 80, f"peak resident memory grew by {grew:.0f} MB while streaming 256 MB of .npy"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kept_phases_give_identical_results_and_skip_the_second_products(monkeypatch, dtype):
    # the Gaussian map's n x d x m products were computed twice (covariances, then mode scores);
    # the first pass now keeps X ω within cache_mb, and nothing may change but the work done
    calls = []
    real = RandomFourierFeatures.phases

    def counted(self, X, dtype=np.float64):
        calls.append(self.dim)
        return real(self, X, dtype=dtype)

    monkeypatch.setattr(RandomFourierFeatures, "phases", counted)
    A, B = (x.astype(dtype) for x in views(n=900, dA=24, dB=16))
    kw = dict(kernel="gaussian", rff=50, route="cholesky", n_modes=3, top=7, eta=0.8, chunk_size=100, seed=3,
              rff_floor=False)
    chunks = 9
    runs = {}
    for cache_mb, per_side in ((0, (2, 2)), (2048, (1, 1)), (900 * 50 * np.dtype(dtype).itemsize / 2**20, (1, 2))):
        calls.clear()
        runs[cache_mb] = spec(A, B, cache_mb=cache_mb, **kw)
        # the side with the larger input dimension (A, d = 24) is kept first when only one fits
        assert (calls.count(24), calls.count(16)) == (per_side[0] * chunks, per_side[1] * chunks), cache_mb
    ref = runs[0]
    for r in runs.values():
        assert np.array_equal(r.eigenvalues, ref.eigenvalues) and r.spec_diff == ref.spec_diff
        assert np.array_equal(r.scores, ref.scores)
        for a, b in zip(r.modes, ref.modes, strict=True):
            assert np.array_equal(a.top_indices, b.top_indices) and np.array_equal(a.top_scores, b.top_scores)


@pytest.mark.parametrize("kernel", ["cosine", "linear"])
def test_kept_features_give_identical_results_and_skip_the_second_read(monkeypatch, kernel):
    # cosine/linear features of in-memory arrays are kept from the covariance pass for the
    # score pass (no second finiteness check and normalisation); memory maps are read again
    from repalign.spectral import core

    reads = []
    real = core._Rows.chunk

    def counted(self, s, e):
        reads.append(self.name)
        return real(self, s, e)

    monkeypatch.setattr(core._Rows, "chunk", counted)
    A, B = views(n=900, dA=24, dB=16)
    kw = dict(kernel=kernel, route="cholesky", n_modes=3, top=7, chunk_size=100)
    runs = {}
    for cache_mb, per_side in ((0, 2), (2048, 1)):
        reads.clear()
        runs[cache_mb] = spec(A, B, cache_mb=cache_mb, **kw)
        assert (reads.count("A"), reads.count("B")) == (per_side * 9,) * 2, cache_mb  # no bandwidth sample either
    a, b = runs[0], runs[2048]
    assert np.array_equal(a.eigenvalues, b.eigenvalues) and np.array_equal(a.scores, b.scores)


def test_rff_phases_then_features_equal_the_map():
    rff = RandomFourierFeatures(12, 30, 1.7, seed=4)
    X = np.random.default_rng(0).standard_normal((50, 12))
    for dtype in (np.float64, np.float32):
        P = rff.phases(X, dtype=dtype)
        P0 = P.copy()
        F = rff.from_phases(P, dtype=dtype)
        assert np.array_equal(P, P0)  # the phases are not overwritten
        ref = np.hstack([np.cos(P0), np.sin(P0)]) * P0.dtype.type(1 / np.sqrt(30))
        assert F.dtype == dtype and np.array_equal(F, ref) and np.array_equal(rff(X, dtype=dtype), F)


def test_a_planted_cluster_is_found_on_its_side():
    A, B = planted()
    r = spec(A, B, "cosine", top=40)
    first_a = next(m for m in r.modes if m.side == "A")
    first_b = next(m for m in r.modes if m.side == "B")
    assert np.mean(first_a.top_indices < 40) >= 0.9  # tight in A, scattered in B
    assert np.mean((first_b.top_indices >= 40) & (first_b.top_indices < 80)) >= 0.9  # the reverse
    assert first_a.eigenvalue > 0 > first_b.eigenvalue


def test_mode_agreement_prefers_the_side_that_clusters():
    A, B = planted(n=600, size=30, seed=2)
    rng = np.random.default_rng(4)  # a second cluster in A so that side A has two modes
    A[100:130] = rng.normal(size=12) * 3 + 0.15 * rng.normal(size=(30, 12))
    r = spec(A, B, "cosine", top=30, n_modes=2)
    agree = mode_agreement(r, A, B, side="A", n_runs=10)
    assert agree["ami_a"] > 0.8 and agree["ami_a"] > agree["ami_b"] + 0.3
    assert agree["n_modes"] == 2


def test_sigma_scan_reports_every_factor():
    A, B = views(n=300)
    rows = sigma_scan(A, B, factors=(0.5, 1.0, 2.0), rff=100, top=3)
    assert [r["factor"] for r in rows] == [0.5, 1.0, 2.0]
    assert rows[1]["sigma_a"] == pytest.approx(2 * rows[0]["sigma_a"])
    assert all(len(r["top_positive"]) <= 3 and r["spec_diff"] > 0 for r in rows)


def test_sign_convention_largest_entry_positive():
    A, B = views(n=300)
    r = spec(A, B, "cosine")
    for j in range(r.scores.shape[1]):
        col = r.scores[:, j]
        assert col[np.argmax(np.abs(col))] > 0


@pytest.mark.parametrize("kwargs,match", [
    ({"B": "short"}, "mismatched sample counts"),
    ({"sigma_a": -1.0, "kernel": "gaussian"}, "sigma_a"),
    ({"sigma_b": 0.0, "kernel": "gaussian"}, "sigma_b"),
    ({"rff": 0, "kernel": "gaussian"}, "rff"),
    ({"eta": -0.5}, "eta"),
    ({"A": "nan"}, "NaN"),
    ({"n_modes": 500}, "n_modes"),
    ({"top": 500}, "top"),
    ({"kernel": "laplace"}, "kernel"),
    ({"route": "magic"}, "route"),
    ({"sigma_a": 1.0}, "only the gaussian kernel"),
    ({"cache_mb": -1, "kernel": "gaussian"}, "cache_mb"),
    ({"cache_mb": float("nan"), "kernel": "gaussian"}, "cache_mb"),
])
def test_bad_input_is_one_clear_error(kwargs, match):
    A, B = views(n=100)
    args = {"A": A, "B": B, "kernel": "cosine"}
    args.update(kwargs)
    if isinstance(args["B"], str):
        args["B"] = B[:90]
    if isinstance(args["A"], str) and args["A"] == "nan":
        A = A.copy()
        A[7, 2] = np.nan
        args["A"] = A
    with pytest.raises(ValueError, match=match):
        spec(**args)


# ------------------------------------------------------------------ CLI
def test_spec_cli_json_and_outputs(tmp_path, capsys):
    import json

    from repalign.cli import main

    A, B = planted()
    np.save(tmp_path / "a.npy", A)
    np.save(tmp_path / "b.npy", B)
    (tmp_path / "items.txt").write_text("\n".join(f"caption {i}" for i in range(len(A))) + "\n")
    out = tmp_path / "out"
    assert main(["spec", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--texts", str(tmp_path / "items.txt"),
                 "--out", str(out), "--json", "--top", "5", "--quiet"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d) >= {"eigenvalues", "spec_diff", "modes"} and d["modes"][0]["top_indices"]
    assert {p.name for p in out.iterdir()} == {"spec.json", "spectrum.png", "modes.md"}
    assert "caption 12" in (out / "modes.md").read_text()


def test_spec_cli_bad_input_writes_nothing(tmp_path, capsys):
    from repalign.cli import main

    A, B = views(n=50)
    np.save(tmp_path / "a.npy", A)
    np.save(tmp_path / "b.npy", B)
    np.save(tmp_path / "short.npy", B[:40])
    img = tmp_path / "imgs"
    img.mkdir()
    from PIL import Image

    for i in range(3):
        Image.new("RGB", (8, 8)).save(img / f"{i}.png")
    cases = [
        (["--images", str(img)], "has 3 images but the embeddings have 50 rows"),
        (["--kernel", "gaussian", "--sigma-a", "0"], "must be > 0"),
        (["--kernel", "gaussian", "--rff", "0"], "integer >= 1"),
        (["--eta", "-1"], "eta"),
        (["--modes", "60"], "--modes: 60 modes"),
    ]
    for extra, expect in cases:
        code = main(["spec", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--out", str(tmp_path / "o"), *extra])
        err = capsys.readouterr().err
        assert code == 2 and expect in err and len(err.strip().splitlines()) == 1, (extra, err)
    code = main(["spec", str(tmp_path / "a.npy"), str(tmp_path / "short.npy"), "--out", str(tmp_path / "o")])
    assert code == 2 and "mismatched sample counts" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_random_features_do_not_invent_modes():
    # bug: spec(A, A, "gaussian") gave SPEC-diff 0.0088 and ten "modes" (each side drew its own
    # frequencies), and the direct route at n = 300 used the noisy random-feature Gram
    g = np.random.default_rng(0)
    A = g.normal(size=(2500, 12))
    same = spec(A, A.copy(), "gaussian", rff=300)
    assert same.route != "direct" and same.spec_diff == 0.0
    small = A[:300] @ g.normal(size=(12, 12))
    r = spec(A[:300], small, "gaussian")  # n <= features: the exact kernel, no random features
    exact = spec(A[:300], small, "gaussian", rff="exact")
    assert r.route == "direct" and r.rff is None and r.rff_floor is None
    assert np.allclose(r.eigenvalues, exact.eigenvalues, atol=1e-12)
    assert spec(A[:300], small, "cosine").rff_floor is None


def test_the_random_feature_floor_is_reported_and_warned_about():
    g = np.random.default_rng(1)
    A = g.normal(size=(3000, 10))
    B = A[:, ::-1] @ np.diag(np.linspace(0.5, 2, 10)) + 0.3 * g.normal(size=(3000, 10))
    with pytest.warns(UserWarning, match="below the random-feature floor"):
        r = spec(A, B, "gaussian", rff=200, n_modes=5)
    assert r.rff_floor is not None and 0 < r.rff_floor < 1
    assert r.to_dict()["rff_floor"] == r.rff_floor
    # the floor is what two independent draws give on one embedding: more frequencies, lower floor
    assert spec(A, B, "gaussian", rff=600, n_modes=1).rff_floor < r.rff_floor
    assert spec(A, B, "gaussian", rff=200, n_modes=1, rff_floor=False).rff_floor is None


def test_modes_with_two_strong_ends_report_both():
    # bug: the sign convention listed one end of an eigenvector; for a mode that separates two
    # groups (one at each end) the second group was never shown
    g = np.random.default_rng(5)
    n = 400
    A = g.normal(size=(n, 8))
    B = A.copy()
    # A merges items 0-29 and 30-59 into two tight, far-apart clusters that B leaves spread
    A[:30] = 4 * np.eye(8)[0] + 0.05 * g.normal(size=(30, 8))
    A[30:60] = -4 * np.eye(8)[0] + 0.05 * g.normal(size=(30, 8))
    r = spec(A, B, "linear", n_modes=2, top=30)
    m = r.modes[0]
    assert m.two_ended
    ends = [set(m.top_indices.tolist()), set(m.other_indices.tolist())]
    assert set(range(30)) in ends and set(range(30, 60)) in ends
    assert np.all(m.other_scores < 0) and np.all(m.top_scores > 0)
    d = m.to_dict()
    assert len(d["other_indices"]) == 30 and len(d["other_scores"]) == 30
    A1 = B.copy()
    A1[:30] = 4 * np.eye(8)[0] + 0.05 * g.normal(size=(30, 8))  # one group only: one end
    single = spec(A1, B, "cosine", n_modes=1, top=30).modes[0]
    assert set(single.top_indices.tolist()) == set(range(30)) and not single.two_ended


def test_eigenvectors_of_the_ends_only(monkeypatch):
    """_eigh_ends: every eigenvalue, and eigenvectors of the k smallest and k largest, as a full
    eigh gives them; SPEC's modes are the same whether the route computes all vectors or these."""
    from scipy import linalg

    from repalign.spectral import core

    rng = np.random.default_rng(4)
    for r, k in ((7, 1), (60, 5), (200, 10)):
        X = rng.normal(size=(r, r))
        S = (X + X.T) / 2
        lam, W, cols = core._eigh_ends(S.copy(), k)
        ref = linalg.eigvalsh(S)
        assert np.allclose(lam, ref, atol=1e-12 * np.abs(ref).max())
        assert np.allclose(S @ W, W * lam[cols], atol=1e-10)
        assert np.allclose(W.T @ W, np.eye(2 * k), atol=1e-10)
    A = rng.normal(size=(600, 40))
    B = A[:, :20] @ rng.normal(size=(20, 30)) + rng.normal(size=(600, 30))
    ends = spec(A, B, kernel="cosine", route="cholesky", n_modes=4)
    orig = core._cholesky_route
    monkeypatch.setattr(core, "_cholesky_route", lambda C, ma, wanted=None, single=False, ends=None, **kw:
                        orig(C, ma, wanted, single, None, **kw))  # every eigenvector, as before
    full = spec(A, B, kernel="cosine", route="cholesky", n_modes=4)
    assert np.allclose(ends.eigenvalues, full.eigenvalues, atol=1e-13)
    for a, b in zip(ends.modes, full.modes, strict=True):
        assert a.eigenvalue == pytest.approx(b.eigenvalue, abs=1e-13)
        assert np.array_equal(a.top_indices, b.top_indices)
        assert np.allclose(a.top_scores, b.top_scores, atol=1e-10)


def test_covariances_on_a_device_give_the_same_spec(torch_on_cpu):
    """The device route (torch PairMoments, then two eigh calls in torch) against the NumPy
    cholesky route: the same spectrum and modes."""
    pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    A = rng.normal(size=(900, 30)).astype(np.float32)
    B = (A[:, :10] @ rng.normal(size=(10, 20)) + rng.normal(size=(900, 20))).astype(np.float32)
    for kw in (dict(kernel="cosine"), dict(kernel="gaussian", rff=200, rff_floor=False)):
        ref = spec(A, B, route="cholesky", spectrum="full", **kw)  # the device route solves it whole
        dev = spec(A, B, route="cholesky", device="cpu", **kw)
        assert np.allclose(dev.eigenvalues, ref.eigenvalues, rtol=1e-5, atol=1e-8)
        assert np.allclose([m.eigenvalue for m in dev.modes], [m.eigenvalue for m in ref.modes], rtol=1e-5)
        assert [m.top_indices.tolist()[:3] for m in dev.modes] == [m.top_indices.tolist()[:3] for m in ref.modes]
    with pytest.raises(ValueError, match="device: expected"):
        spec(A, B, device="gpu")
