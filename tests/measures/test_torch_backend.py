"""CKA / HSIC in torch (device=) against the NumPy path, tensors as inputs, and the
differentiable losses against finite differences."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import repalign as ra  # noqa: E402
from repalign._validate import RepalignWarning  # noqa: E402

# device="cpu" runs the NumPy path by default; these tests check the torch kernels a GPU runs
pytestmark = pytest.mark.usefixtures("torch_on_cpu")

SETTINGS = [dict(), dict(kernel="cosine"), dict(kernel="rbf"), dict(kernel="rbf", sigma="kornblith"),
            dict(kernel="rbf", sigma=2.5), dict(kernel="rbf", threshold=0.5), dict(debiased=True),
            dict(kernel="cosine", debiased=True), dict(kernel="rbf", debiased=True)]


@pytest.fixture
def pair(rng):
    X = rng.normal(size=(70, 9))
    return X, X @ rng.normal(size=(9, 6)) + rng.normal(size=(70, 6))


@pytest.mark.parametrize("kw", SETTINGS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "linear")
def test_torch_route_equals_numpy(pair, kw):
    X, Y = pair
    ref_c, ref_h = ra.cka(X, Y, **kw), ra.hsic(X, Y, **kw)
    assert ra.cka(X, Y, device="cpu", **kw) == pytest.approx(ref_c, rel=1e-10, abs=1e-12)
    assert ra.hsic(X, Y, device="cpu", **kw) == pytest.approx(ref_h, rel=1e-10, abs=1e-12)
    # float32 tensors: float32 products, float64 sums
    X32, Y32 = torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)
    ref32 = ra.cka(X32.double().numpy(), Y32.double().numpy(), **kw)
    assert ra.cka(X32, Y32, device="cpu", **kw) == pytest.approx(ref32, rel=1e-5)
    # tensors into the NumPy path
    assert ra.cka(torch.from_numpy(X), torch.from_numpy(Y), **kw) == ref_c


def test_large_n_feature_route_and_invariances(rng):
    X = rng.normal(size=(3000, 16))
    Y = X[:, :8] @ rng.normal(size=(8, 12)) + 0.5 * rng.normal(size=(3000, 12))
    ref = ra.cka(X, Y)
    Q = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    got = ra.cka(torch.from_numpy(X @ Q * 1e150), torch.from_numpy(Y), device="auto")
    assert got == pytest.approx(ref, rel=1e-10)
    p = rng.permutation(3000)
    assert ra.cka(X[p], Y[p], device="cpu") == pytest.approx(ref, rel=1e-10)


def test_tensors_of_any_dtype_and_grad_into_the_numpy_path(pair):
    X, Y = pair
    ref = ra.cka(X, Y)
    Xt = torch.tensor(X, requires_grad=True)
    with pytest.warns(RepalignWarning, match="X: a tensor that requires grad; detached"):
        assert ra.cka(Xt, Y) == ref
    for dt, tol in ((torch.float32, 1e-6), (torch.bfloat16, 2e-2), (torch.float16, 5e-3)):
        assert ra.cka(torch.tensor(X).to(dt), torch.tensor(Y).to(dt)) == pytest.approx(ref, rel=tol)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep = ra.evaluate(torch.from_numpy(X), torch.from_numpy(Y), measures=["cka-linear", "mutual-knn"])
    assert float(rep["cka-linear"]) == pytest.approx(ref)


def test_bad_input_on_the_torch_route(pair):
    X, Y = pair
    with pytest.raises(ValueError, match="X, Y: need the same number of samples"):
        ra.cka(X, Y[:-1], device="cpu")
    bad = X.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="X: contains NaN/inf .*first is row 5"):
        ra.cka(bad, Y, device="cpu")
    with pytest.raises(ValueError, match="expected a 2-D array"):
        ra.cka(X[:, 0], Y, device="cpu")
    with pytest.raises(ValueError, match="device: expected 'cpu'"):
        ra.cka(X, Y, device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no CUDA device"):
            ra.cka(X, Y, device="cuda:0")
    with pytest.raises(ValueError, match="zero variance"):
        ra.cka(np.ones((10, 3)), Y[:10], device="cpu")
    with pytest.raises(ValueError, match="route: the torch path"):
        ra.cka(X, Y, device="cpu", route="gram")
    with pytest.raises(ValueError, match="sigma/threshold: set a bandwidth only with kernel='rbf'"):
        ra.cka(X, Y, device="cpu", sigma=1.0)


@pytest.mark.parametrize("kw", [dict(), dict(kernel="cosine"), dict(kernel="rbf", sigma=3.0), dict(debiased=True),
                                dict(kernel="rbf", sigma=3.0, debiased=True)],
                         ids=["linear", "cosine", "rbf-fixed", "debiased", "rbf-debiased"])
def test_losses_match_the_measures_and_finite_differences(rng, kw):
    X = torch.tensor(rng.normal(size=(12, 4)), requires_grad=True)
    Y = torch.tensor(rng.normal(size=(12, 3)), requires_grad=True)
    loss = ra.cka_loss(X, Y, **kw)
    assert float(loss.detach()) == pytest.approx(1.0 - ra.cka(X.detach().numpy(), Y.detach().numpy(), **kw), abs=1e-12)
    assert float(ra.hsic_loss(X, Y, **kw).detach()) == pytest.approx(-ra.hsic(X.detach().numpy(), Y.detach().numpy(), **kw),
                                                            abs=1e-12)
    assert torch.autograd.gradcheck(lambda a, b: ra.cka_loss(a, b, **kw), (X, Y), eps=1e-6, atol=1e-6)
    assert torch.autograd.gradcheck(lambda a, b: ra.hsic_loss(a, b, **kw), (X, Y), eps=1e-6, atol=1e-6)


def test_a_bandwidth_rule_is_a_constant_of_the_step(rng, monkeypatch):
    """With sigma='median' the gradient treats each space's σ as fixed (documented): it equals
    finite differences of the loss with those two σ frozen."""
    import itertools

    from repalign.measures import torch_backend as tb

    X = torch.tensor(rng.normal(size=(12, 4)), requires_grad=True)
    Y = torch.tensor(rng.normal(size=(12, 3)), requires_grad=True)
    gx, gy = torch.autograd.grad(ra.cka_loss(X, Y, kernel="rbf"), (X, Y))
    sx, sy = (tb._sigma(tb._sq_distances(tb._unit_scale(T.detach())), "median", 1.0) for T in (X, Y))
    frozen = itertools.cycle([sx, sy])  # _triplet asks for X's σ, then Y's
    monkeypatch.setattr(tb, "_sigma", lambda D, sigma, threshold: next(frozen))
    fx, fy = torch.autograd.grad(ra.cka_loss(X, Y, kernel="rbf"), (X, Y))
    assert torch.allclose(gx, fx, atol=1e-14) and torch.allclose(gy, fy, atol=1e-14)
    assert torch.autograd.gradcheck(lambda a, b: ra.cka_loss(a, b, kernel="rbf"), (X, Y), eps=1e-6, atol=1e-6)


def test_a_few_gradient_steps_raise_cka(rng):
    X = torch.tensor(rng.normal(size=(64, 8)), dtype=torch.float32)
    W = torch.zeros(8, 5, requires_grad=True)
    torch.nn.init.normal_(W, generator=torch.Generator().manual_seed(0))
    target = torch.tensor(rng.normal(size=(64, 5)), dtype=torch.float32)
    opt = torch.optim.Adam([W], lr=0.05)
    start = float(ra.cka_loss(X @ W, target).detach())
    for _ in range(60):
        opt.zero_grad()
        loss = ra.cka_loss(X @ W, target)
        loss.backward()
        opt.step()
    assert float(loss.detach()) < start and loss.dtype == torch.float32


def test_loss_bad_input(rng):
    X = torch.tensor(rng.normal(size=(12, 4)))
    with pytest.raises(ValueError, match="the losses take torch tensors"):
        ra.cka_loss(X.numpy(), X)
    with pytest.raises(ValueError, match="need the same number of samples"):
        ra.cka_loss(X, X[:-1])
    with pytest.raises(ValueError, match="at least 4 are needed"):
        ra.cka_loss(X[:3], X[:3], debiased=True)
    with pytest.raises(ValueError, match="expected a real floating tensor"):
        ra.hsic_loss(X.long(), X)


def test_mutual_knn_on_a_device_finds_the_same_neighbours(rng):
    X = rng.normal(size=(700, 7))
    Y = X @ rng.normal(size=(7, 4)) + rng.normal(size=(700, 4))
    for k in (1, 5, 30):
        assert ra.mutual_knn(X, Y, k=k, device="cpu") == ra.mutual_knn(X, Y, k=k)
    # integer-valued rows: many exact ties at the k-th place, resolved by the lower index as in NumPy
    Xi, Yi = np.round(X) + 0.5, np.round(Y) + 0.5
    assert ra.mutual_knn(Xi, Yi, k=5, device="cpu") == ra.mutual_knn(Xi, Yi, k=5)
    g = np.repeat(np.arange(350), 2)  # bootstrap copies are never each other's neighbours
    assert ra.mutual_knn(X, Y, k=4, groups=g, device="cpu") == ra.mutual_knn(X, Y, k=4, groups=g)
    from repalign.measures import torch_backend as tb

    assert np.array_equal(tb.knn_indices_torch(tb.normalized_pair(X, Y, "cpu")[0], 6, block=128).shape, (700, 6))
    Z = Y.copy()
    Z[9] = 0.0
    with pytest.raises(ValueError, match="Y: row 9 is all zeros"):
        ra.mutual_knn(X, Z, device="cpu")
    with pytest.raises(ValueError, match="k = 700 needs at least"):
        ra.mutual_knn(X, Y, k=700, device="cpu")


def test_cpu_runs_the_numpy_path(monkeypatch, pair):
    """Without TORCH_ON_CPU, device="cpu" (and "auto" with no GPU) hands the work to the NumPy path,
    which is faster on a CPU (bench_torch): the torch kernels are never called, values are NumPy's
    bit for bit, and a bad device string is still refused."""
    import repalign._device
    from repalign.measures import kernel_alignment, torch_backend
    from repalign.moments import PairMoments

    monkeypatch.setattr(repalign._device, "TORCH_ON_CPU", False)

    def refuse(*a, **k):
        raise AssertionError("the torch kernels ran for device='cpu'")

    for mod in (kernel_alignment, torch_backend):
        for name in ("cka_torch", "hsic_torch", "knn_indices_torch", "normalized_pair"):
            if hasattr(mod, name):
                monkeypatch.setattr(mod, name, refuse)
    X, Y = pair
    for kw in SETTINGS:
        assert ra.cka(X, Y, device="cpu", **kw) == ra.cka(X, Y, **kw)
        assert ra.hsic(torch.from_numpy(X), Y, device="cpu", **kw) == ra.hsic(X, Y, **kw)
    if not torch.cuda.is_available():
        assert ra.cka(X, Y, device="auto") == ra.cka(X, Y)
    assert ra.cka(X, Y, device="cpu", route="gram") == ra.cka(X, Y, route="gram")
    assert ra.mutual_knn(X, Y, k=5, device="cpu") == ra.mutual_knn(X, Y, k=5)
    assert PairMoments(device="cpu").device is None
    with pytest.raises(ValueError, match="device: expected 'cpu', 'cuda'"):
        ra.cka(X, Y, device="gpu")


@pytest.mark.parametrize("kw", [dict(), dict(sigma="kornblith"), dict(sigma=2.5), dict(threshold=0.5),
                                dict(debiased=True)], ids=str)
def test_blockwise_rbf_equals_dense(pair, kw):
    """RBF above block_size rows runs in blocks of rows (the route for more than 8,192 rows on a
    device): the same value as the dense torch route and the NumPy path, the bandwidth rules'
    order statistics exact through the two histogram passes (duplicate rows give exact zeros)."""
    X, Y = pair
    X = np.vstack([X, X[:5]])  # identical rows: zero distances the median rule must skip
    Y = np.vstack([Y, Y[:5]])
    ref = ra.cka(X, Y, kernel="rbf", **kw)
    for block in (7, 32, 74):
        assert ra.cka(X, Y, kernel="rbf", device="cpu", block_size=block, **kw) == pytest.approx(ref, rel=1e-10)
    assert ra.hsic(X, Y, kernel="rbf", device="cpu", block_size=16, **kw) == pytest.approx(
        ra.hsic(X, Y, kernel="rbf", **kw), rel=1e-10)
    from repalign.measures.torch_backend import _blocked_sigma

    Xt = torch.from_numpy(X - X.mean(0))
    sq = (Xt * Xt).sum(1)
    for rule in ("median", "kornblith"):
        from repalign.kernels import rbf_gram
        assert _blocked_sigma(Xt, sq, rule, 1.0, 9, bins=64) == pytest.approx(rbf_gram(X, rule, 1.0)[1], rel=1e-12)
