"""repalign.moments: streamed first and second moments give the in-memory CKA exactly, whatever
the chunking, the merge order and the shift."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import repalign as ra
from repalign.moments import PairMoments, streamed_linear_cka


def _chunks(X, Y, cuts):
    edges = [0, *sorted(set(cuts)), len(X)]
    return [(X[a:b], Y[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


@settings(max_examples=30, deadline=None)
@given(st.integers(6, 60), st.lists(st.integers(1, 59), max_size=6), st.booleans(), st.integers(0, 2**31 - 1))
def test_any_chunking_and_merge_order_gives_the_in_memory_cka(n, cuts, debiased, seed):
    g = np.random.default_rng(seed)
    X = g.normal(size=(n, 4)) + 50.0  # a large offset: the shift keeps the sums well conditioned
    Y = X[:, :3] @ g.normal(size=(3, 5)) + g.normal(size=(n, 5))
    parts = _chunks(X, Y, [c for c in cuts if c < n])
    whole = PairMoments(debiased=debiased, compute_dtype="float64").update(X, Y)
    pieces = [PairMoments(debiased=debiased, shift_x=X[0], shift_y=Y[0], compute_dtype="float64").update(a, b)
              for a, b in parts]
    merged = pieces[0]
    for p in reversed(pieces[1:]):  # merge order does not matter
        merged = merged.merge(p)
    ref = ra.cka(X, Y, debiased=debiased)
    assert whole.linear_cka(debiased) == pytest.approx(ref, abs=1e-10)
    assert merged.linear_cka(debiased) == pytest.approx(ref, abs=1e-10)
    assert streamed_linear_cka(parts, debiased=debiased, compute_dtype="float64") == pytest.approx(ref, abs=1e-10)


def test_streamed_cka_is_invariant_to_orthogonal_maps_and_isotropic_scaling(rng):
    X, Y = rng.normal(size=(80, 6)), rng.normal(size=(80, 4))
    Q = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    a = streamed_linear_cka([(X[:50], Y[:50]), (X[50:], Y[50:])], compute_dtype="float64")
    b = streamed_linear_cka([(3.0 * X[:50] @ Q, Y[:50]), (3.0 * X[50:] @ Q, Y[50:])], compute_dtype="float64")
    assert a == pytest.approx(b, abs=1e-12)


def test_mismatched_chunks_are_refused(rng):
    acc = PairMoments()
    with pytest.raises(ValueError):
        acc.update(rng.normal(size=(5, 3)), rng.normal(size=(4, 3)))


def test_moments_on_a_device_equal_the_numpy_ones(rng, torch_on_cpu):
    """PairMoments(device=...): chunk products in torch, float64 sums kept on the device; the same
    statistics as NumPy, for arrays and for tensors, read, updated again, merged."""
    torch = pytest.importorskip("torch")
    from repalign.moments import PairMoments, streamed_linear_cka

    X = rng.normal(size=(900, 12)) + 5.0
    Y = X[:, :6] @ rng.normal(size=(6, 9)) + rng.normal(size=(900, 9))
    chunks = [(X[s:s + 128], Y[s:s + 128]) for s in range(0, 900, 128)]
    for debiased in (False, True):
        ref = PairMoments(debiased=True)
        dev = PairMoments(debiased=True, device="cpu")
        for a, b in chunks[:4]:
            ref.update(a, b)
            dev.update(torch.from_numpy(a), b)
        assert dev.linear_cka(debiased) == pytest.approx(ref.linear_cka(debiased), rel=1e-12)  # a read ...
        for a, b in chunks[4:]:
            ref.update(a, b)
            dev.update(a, b)  # ... then more chunks on the device
        assert dev.linear_cka(debiased) == pytest.approx(ref.linear_cka(debiased), rel=1e-12)
        assert np.allclose(dev.raw()[2], ref.raw()[2], rtol=1e-12)
        other = PairMoments(debiased=True, shift_x=dev.shift_x, shift_y=dev.shift_y, device="cpu").update(X[:50], Y[:50])
        both = PairMoments(debiased=True, shift_x=dev.shift_x, shift_y=dev.shift_y)
        both.update(X, Y).update(X[:50], Y[:50])
        assert dev.merge(other).linear_cka(debiased) == pytest.approx(both.linear_cka(debiased), rel=1e-12)
    f32 = streamed_linear_cka([(torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32))
                               for a, b in chunks], device="cpu")
    assert f32 == pytest.approx(streamed_linear_cka(chunks), rel=1e-5)
    bad = PairMoments(device="cpu")
    with pytest.raises(ValueError, match="mismatched sample counts"):
        bad.update(X[:5], Y[:4])
    Z = X[:10].copy()
    Z[3, 1] = np.inf
    with pytest.raises(ValueError, match="X chunk: contains NaN/inf"):
        bad.update(torch.from_numpy(Z), Y[:10])
    with pytest.raises(ValueError, match="device: expected"):
        PairMoments(device="tpu")


@pytest.mark.parametrize("shift", ["none", "zero", "x-only", "y-only"])
def test_raw_moments_undo_any_shift_exactly(shift):
    """raw() gives the uncentred XᵀX, YᵀY, XᵀY whatever the shift (the automatic first-chunk
    mean, zero as SPEC uses, or a shift on one side only)."""
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(60, 4)) + 3.0, rng.normal(size=(60, 3)) - 1.0
    zx, zy = np.zeros(4), np.zeros(3)
    kw = {"none": {}, "zero": dict(shift_x=zx, shift_y=zy), "x-only": dict(shift_x=zx + 2.0, shift_y=zy),
          "y-only": dict(shift_x=zx, shift_y=zy - 1.5)}[shift]
    acc = PairMoments(**kw)
    for s in range(0, 60, 25):
        acc.update(X[s:s + 25], Y[s:s + 25])
    for got, ref in zip(acc.raw(), (X.T @ X, Y.T @ Y, X.T @ Y), strict=True):
        assert np.allclose(got, ref, rtol=1e-12, atol=1e-10)
