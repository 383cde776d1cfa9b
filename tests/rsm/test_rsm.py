"""Semantic RSMs (wald2024): exact matching vs brute force, every backend the same optimum,
permutation invariance, approximations bounded by the optimum, kernels, checkpoints, bad input."""


import numpy as np
import pytest

from repalign.rsm import rsm_cka, semantic_rsm, semantic_vs_spatial, spatial_rsm

from ..conftest import maps


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
    # a checkpoint of other inputs is never trusted: refused, or overwritten when forced
    with pytest.raises(ValueError, match="checkpoint of other inputs"):
        semantic_rsm(x + 1.0, kernel="inner", checkpoint=ck)
    other = semantic_rsm(x + 1.0, kernel="inner", checkpoint=ck, force=True)
    assert not np.allclose(other.inner, one)
    ck.write_bytes(b"damaged")
    with pytest.warns(UserWarning, match="cannot be read"):
        assert np.allclose(semantic_rsm(x, kernel="inner", checkpoint=ck).inner, one)


def test_rsm_cka_and_semantic_vs_spatial():
    x = maps(n=30, c=6, h=3, w=3, seed=8)
    sem = semantic_rsm(x, kernel="inner")
    assert rsm_cka(sem, sem) == pytest.approx(1.0)
    full = rsm_cka(sem, spatial_rsm(x, kernel="inner"))
    batched = rsm_cka(sem, spatial_rsm(x, kernel="inner"), batch_size=10)
    assert 0 < full < 1 and 0 < batched < 1
    out = semantic_vs_spatial(np.abs(x), batch_size=15, center=False)  # post-ReLU-like maps
    assert 0 < out["cka"] <= 1 and 0 <= out["spatial_share"] <= 1


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




def test_centring_keeps_the_invariance_to_spatial_permutations():
    # bug: center=True subtracted a mean per position over samples, so spatially shuffled copies of
    # the same maps got a different semantic RSM (by 0.05 on real maps)
    rng = np.random.default_rng(11)
    x = maps(n=8, c=5, h=3, w=3, seed=4) + rng.normal(size=(1, 5, 3, 3)) * 3  # a position-dependent offset
    flat = x.reshape(8, 5, 9)
    shuffled = np.stack([f[:, rng.permutation(9)] for f in flat]).reshape(x.shape)
    for kernel in ("inner", "cosine", "rbf"):
        a = semantic_rsm(x, kernel=kernel, center=True).matrix
        b = semantic_rsm(shuffled, kernel=kernel, center=True).matrix
        assert np.allclose(a, b, atol=1e-12), kernel
    # the centring removes one mean per channel, over samples and positions
    X = semantic_rsm(x, kernel="inner", center=True)
    c = x - x.mean(axis=(0, 2, 3), keepdims=True)
    assert X.matrix[0, 1] == pytest.approx(semantic_rsm(c, kernel="inner").matrix[0, 1], abs=1e-12)


def test_spatial_share_has_its_stated_range_and_meaning():
    # bug: the former mean ratio of spatial to semantic inner products came out at -12.27 on
    # centred maps (near-zero denominators); the share lies in [0, 1] by construction
    for seed in range(5):
        x = maps(n=10, c=4, h=3, w=3, seed=seed)
        out = semantic_vs_spatial(x)  # centred: denominators near zero are exactly the old failure
        assert 0.0 <= out["spatial_share"] <= 1.0 and out["pairs"] > 0
        assert 0.2 < out["spatial_share"] < 0.8  # random positions: neither the best nor the worst matching
    rng = np.random.default_rng(0)
    base = rng.normal(size=(1, 4, 3, 3))
    aligned = base + 0.05 * rng.normal(size=(10, 4, 3, 3))  # positions already agree across samples
    assert semantic_vs_spatial(aligned, center=False)["spatial_share"] > 0.95


def test_a_checkpoint_never_takes_over_a_file_that_is_not_its_own(tmp_path):
    # bug: --checkpoint FILE overwrote any .npz (4.4 MB of user arrays lost, exit 0) and crashed
    # with "internal error" on a .npy
    x = maps(n=12, c=4, h=2, w=2)
    user = tmp_path / "mine.npz"
    np.savez(user, weights=np.arange(5.0))
    with pytest.raises(ValueError, match="checkpoint: .*mine.npz is not a repalign checkpoint .*weights.*force"):
        semantic_rsm(x, checkpoint=user)
    assert np.array_equal(np.load(user)["weights"], np.arange(5.0))  # untouched
    npy = tmp_path / "arr.npy"
    np.save(npy, np.ones(3))
    with pytest.raises(ValueError, match="checkpoint: .*arr.npy is not a .npz file"):
        semantic_rsm(x, checkpoint=npy)
    ck = tmp_path / "ck.npz"
    a = semantic_rsm(x, checkpoint=ck)  # its own checkpoint: written, then resumed
    assert np.array_equal(semantic_rsm(x, checkpoint=ck).matrix, a.matrix)
    with pytest.raises(ValueError, match="checkpoint of other inputs or settings"):
        semantic_rsm(x[:8], checkpoint=ck)
    assert semantic_rsm(x[:8], checkpoint=ck, force=True).matrix.shape == (8, 8)
    assert semantic_rsm(x, checkpoint=user, force=True).matrix.shape == (12, 12)  # forced: overwritten


def test_a_damaged_checkpoint_is_recomputed_with_a_warning(tmp_path):
    x = maps(n=10, c=3, h=2, w=2)
    ck = tmp_path / "ck.npz"
    ref = semantic_rsm(x, checkpoint=ck).matrix
    ck.write_bytes(ck.read_bytes()[: len(ck.read_bytes()) // 2])  # a truncated zip
    with pytest.warns(UserWarning, match="cannot be read.*recomputing"):
        again = semantic_rsm(x, checkpoint=ck).matrix
    assert np.array_equal(again, ref)


def test_the_checkpoint_is_saved_on_interrupt(tmp_path, monkeypatch):
    import repalign.rsm.core as core

    x = maps(n=60, c=2, h=1, w=2)
    monkeypatch.setattr(core, "_block_size", lambda S, C: 10)  # several blocks
    real = core._Job.run
    calls = []

    def flaky(self, i0, j0):
        calls.append((i0, j0))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, i0, j0)

    monkeypatch.setattr(core._Job, "run", flaky)
    ck = tmp_path / "ck.npz"
    with pytest.raises(KeyboardInterrupt):
        semantic_rsm(x, kernel="inner", checkpoint=ck)
    with np.load(ck) as z:
        assert z["done"].sum() == 2 and str(z["format"]) == core._CHECKPOINT_FORMAT
    monkeypatch.setattr(core._Job, "run", real)
    assert np.allclose(semantic_rsm(x, kernel="inner", checkpoint=ck).matrix, semantic_rsm(x, kernel="inner").matrix)


def test_a_layout_that_reads_square_maps_as_non_square_ones_is_refused():
    # bug: --layout NHWC on (N, C, H, W) data ran for minutes on 2,240 positions of 7 channels
    x = maps(n=4, c=32, h=7, w=7)  # NCHW
    with pytest.raises(ValueError, match=r"x: read as NHWC, shape \(4, 32, 7, 7\) gives 32 x 7 positions.*layout='NCHW'"):
        semantic_rsm(x, layout="NHWC")
    assert semantic_rsm(x, layout="NHWC", check_layout=False).matrix.shape == (4, 4)  # the user insists
    nhwc = np.transpose(x, (0, 2, 3, 1))
    assert np.allclose(semantic_rsm(nhwc, layout="NHWC").matrix, semantic_rsm(x).matrix)
    with pytest.raises(ValueError, match="read as NCHW"):
        spatial_rsm(nhwc, layout="NCHW")


def test_to_pandas_labels_rows_and_columns():
    pd = pytest.importorskip("pandas")
    x = maps(n=6, c=4, h=2, w=2)
    sym = semantic_rsm(x, kernel="cosine")
    names = [f"img{i}" for i in range(6)]
    df = sym.to_pandas(names)  # symmetric: the columns take the row labels
    assert isinstance(df, pd.DataFrame) and list(df.index) == names and list(df.columns) == names
    assert df.loc["img1", "img4"] == sym.matrix[1, 4]
    rect = semantic_rsm(x[:2], y=x, kernel="inner").to_pandas()
    assert rect.shape == (2, 6) and list(rect.columns) == list(range(6)) and rect.index.name == "x"
    with pytest.raises(ValueError, match="labels_x: expected 6 labels"):
        sym.to_pandas(names[:5])


@pytest.mark.parametrize("matcher", ["optimal", "greedy", "topk-greedy:3", "auction:0.05"])
@pytest.mark.parametrize("c", [5, 40])  # C <= 4 S: a GEMM per image; C > 4 S: one per block, copied
def test_blocks_give_every_pair_its_own_affinities(monkeypatch, matcher, c):
    """Several blocks of unequal sizes (diagonal blocks solve only the pairs above the diagonal,
    every block reuses one buffer): the same values as one block, per pair as the matcher gives
    on ``X_i X_jᵀ`` (the approximations are not symmetric, so the orientation is checked too)."""
    from repalign.assignment import approximate, auction, solve
    from repalign.rsm import core

    x = maps(n=11, c=c, h=3, w=3, seed=12)
    y = maps(n=7, c=c, h=3, w=3, seed=13)
    X, Y = (a.reshape(len(a), c, 9).transpose(0, 2, 1) for a in (x, y))
    one = semantic_rsm(x, kernel="inner", matcher=matcher), semantic_rsm(x, y=y, kernel="inner", matcher=matcher)
    monkeypatch.setattr(core, "_block_size", lambda S, C: 4)
    many = semantic_rsm(x, kernel="inner", matcher=matcher), semantic_rsm(x, y=y, kernel="inner", matcher=matcher)
    for a, b in zip(one, many, strict=True):  # the two GEMM layouts round differently
        assert np.allclose(a.inner, b.inner, rtol=1e-12, atol=0)
    name, k = core.parse_matcher(matcher)
    for (i, j), v in np.ndenumerate(many[1].inner):
        M = X[i] @ Y[j].T
        if name == "optimal":
            ref = solve(M, maximize=True, backend="scipy")[1]
        elif name == "auction":
            ref = auction(M, tol=k).value
        else:
            ref = approximate(M, np.linalg.norm(X[i], axis=1), np.linalg.norm(Y[j], axis=1), name, k)[1]
        assert v == pytest.approx(ref, rel=1e-12, abs=1e-12), (i, j)
