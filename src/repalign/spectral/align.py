"""SPEC-align (jalali2025 §5, Eq. 6, Prop. 2): pull embedding A's clusters toward B's.

Losses on mini-batches of *paired* items (row i of both batches is the same item through both
encoders), in torch:

* :class:`SPECDiffLoss`: differentiable SPEC-diff. With batch features ``F_A`` (b, m_A) and
  ``F_B`` (b, m_B) the differential covariance is ``Γ = [[C_AA, √η C_AB], [−√η C_BA, −η C_BB]]``
  (``C = FᵀF/b``); its eigenvalue of largest magnitude is the batch's SPEC-diff. Its right
  eigenvector r comes from a power method warm-started at the previous batch's vector (Γ lives
  in feature space, so it carries over); since ``Γ = J C`` with ``C ⪰ 0`` the joint covariance
  and ``J = diag(I, −I)``, the left eigenvector is exactly ``l = C r``. The loss
  ``|λ| = sqrt(rᵀΓᵀCΓr / rᵀCr)`` with r held fixed has the gradient of Prop. 2,
  ``∂λ = lᵀ (∂Γ) r / lᵀ r``, at an eigenvector, and its denominator ``lᵀr = rᵀCr`` is
  positive.
* :func:`frobenius_loss`: ``‖Λ‖²_F = ‖C_AA‖² − 2η‖C_AB‖² + η²‖C_BB‖²`` (Remark 2), unbiased
  enough for stochastic optimisation and cheaper.

:func:`spec_align` fits a projection head g (linear, initialised to the identity, or a
residual MLP whose output layer starts at zero) on frozen embeddings of A, minimising
``loss(g(A), B) + keep_weight · ‖Λ(g(A), A)‖²_F`` (the second term keeps A's own structure),
and reports SPEC-diff, CKA and (with labels) k-NN accuracy before and after on held-out items.

References
----------
jalali2025 (arXiv:2506.06231), §5, Eq. 6, Prop. 2, Remark 2.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
from sklearn.neighbors import KNeighborsClassifier

from .._progress import track
from .._result import Result
from .._validate import check_pair, check_positive_int
from ..kernels import RandomFourierFeatures, median_sigma, resolve_kernel
from ..measures.kernel_alignment import cka
from .core import spec
from .features import SPEC_KERNELS

__all__ = ["SPECDiffLoss", "frobenius_loss", "kernel_features", "spec_align", "SPECAlignResult", "HEADS", "ALIGN_LOSSES"]

HEADS = ("linear", "mlp")
ALIGN_LOSSES = ("spec", "frobenius")


def kernel_features(Z: torch.Tensor, kernel: str = "cosine", rff: RandomFourierFeatures | None = None) -> torch.Tensor:
    """Differentiable kernel features of a batch (see :mod:`repalign.spectral.features`).

    Parameters
    ----------
    Z : torch.Tensor, shape (b, d)
    kernel : {"cosine", "linear", "gaussian"}
    rff : RandomFourierFeatures, optional
        The fixed frequencies for ``gaussian``.

    Returns
    -------
    torch.Tensor, shape (b, m)
    """
    kernel = resolve_kernel(kernel, SPEC_KERNELS)
    if kernel == "cosine":
        return torch.nn.functional.normalize(Z, dim=1)
    if kernel == "linear":
        return Z
    if kernel == "gaussian":
        if rff is None:
            raise ValueError("rff: the gaussian kernel needs its RandomFourierFeatures map")
        omega = torch.as_tensor(rff.omega, dtype=Z.dtype, device=Z.device)
        P = Z @ omega
        return torch.cat([torch.cos(P), torch.sin(P)], dim=1) / np.sqrt(rff.m)
    raise ValueError(f"kernel: expected 'cosine', 'linear' or 'gaussian', got {kernel!r}")


def _covariances(Fa, Fb, eta):
    b = Fa.shape[0]
    r = float(np.sqrt(eta))
    Caa, Cbb, Cab = Fa.T @ Fa / b, Fb.T @ Fb / b, Fa.T @ Fb / b
    return Caa, Cbb, Cab, r


def frobenius_loss(Fa: torch.Tensor, Fb: torch.Tensor, eta: float = 1.0) -> torch.Tensor:
    """``‖Λ‖²_F`` of a batch of paired features (Remark 2).

    Parameters
    ----------
    Fa, Fb : torch.Tensor, shape (b, m_A) and (b, m_B)
        Kernel features of the same b items.
    eta : float

    Returns
    -------
    torch.Tensor
        A scalar, ``‖C_AA‖² − 2η‖C_AB‖² + η²‖C_BB‖²`` = ``‖K_A − ηK_B‖²_F / b²``.

    References
    ----------
    jalali2025 (arXiv:2506.06231), Remark 2.
    """
    Caa, Cbb, Cab, _ = _covariances(Fa, Fb, eta)
    return (Caa**2).sum() - 2 * eta * (Cab**2).sum() + eta**2 * (Cbb**2).sum()


class SPECDiffLoss(torch.nn.Module):
    """Differentiable SPEC-diff of paired batches by a warm-started power method (module docstring).

    Parameters
    ----------
    eta : float
    iters : int
        Power iterations per batch (default 30; warm starts make few enough).

    References
    ----------
    jalali2025 (arXiv:2506.06231), Eq. 5 and Prop. 2.
    """

    def __init__(self, eta: float = 1.0, iters: int = 30):
        super().__init__()
        if not (np.isfinite(eta) and eta >= 0):
            raise ValueError(f"eta: must be a finite number >= 0, got {eta!r}")
        self.eta, self.iters = float(eta), check_positive_int(iters, "iters")
        self.right = None
        self.eigenvalue = None

    def gamma(self, Fa: torch.Tensor, Fb: torch.Tensor) -> torch.Tensor:
        """The differential covariance Γ (M × M) of a batch."""
        Caa, Cbb, Cab, r = _covariances(Fa, Fb, self.eta)
        return torch.cat([torch.cat([Caa, r * Cab], 1), torch.cat([-r * Cab.T, -self.eta * Cbb], 1)], 0)

    def forward(self, Fa: torch.Tensor, Fb: torch.Tensor) -> torch.Tensor:
        """|λ| of the dominant eigenvalue of Γ, differentiable in ``Fa`` and ``Fb``."""
        G = self.gamma(Fa, Fb)
        M, ma = G.shape[0], Fa.shape[1]
        # Γ = J C with C = [[C_AA, √η C_AB], [√η C_BA, η C_BB]] ⪰ 0 and J = diag(I, −I)
        C = torch.cat([G[:ma], -G[ma:]], 0)
        with torch.no_grad():
            gen = torch.Generator(device="cpu").manual_seed(0)
            r = self.right if self.right is not None and self.right.shape[0] == M else torch.randn(
                M, generator=gen, dtype=G.dtype).to(G.device)
            Gd = G.detach()
            for _ in range(self.iters):
                r = Gd @ r
                r = r / r.norm().clamp_min(1e-30)
            if not bool(torch.isfinite(r).all()) or float(r.norm()) == 0.0:
                # Γ can be nilpotent (identical inputs: every eigenvalue is 0) and the iterate then
                # vanishes; any unit vector is as good a start for the estimate below
                r = torch.randn(M, generator=gen, dtype=G.dtype).to(G.device)
                r = r / r.norm()
            self.right = r
        # The left eigenvector of Γ = J C for the right one r is exactly l = C r, so lᵀr = rᵀCr > 0
        # and Prop. 2's λ = lᵀΓr / lᵀr never divides by ~0 (separately iterated left vectors could
        # turn orthogonal to r when the top positive and negative eigenvalues have nearly equal
        # magnitude, which minimising |λ| drives the batch toward: the estimate then blew up).
        # The loss is |λ| = sqrt(‖Γr‖²_C / ‖r‖²_C): at an eigenvector its gradient with r fixed is
        # Prop. 2's, and while r still mixes the ±λ eigenvectors it stays a weighted mean of λ².
        Cr = C @ r
        Gr = G @ r
        den = r @ Cr
        if not float(den.detach()) > 0.0:  # r in the null space of C: nothing this batch can measure
            self.eigenvalue = 0.0
            return G.sum() * 0.0
        lam2 = (Gr @ (C @ Gr)) / den
        self.eigenvalue = float(((Cr @ Gr) / den).detach())
        value = lam2.clamp_min(0).sqrt()
        # |λ| is not differentiable at 0: there its gradient has unit size in a direction set by
        # rounding noise, which Adam turns into full-size steps, so identical inputs drifted apart
        # (SPEC-diff 0 -> 0.005). Below the rounding level of the batch's spectrum there is nothing
        # to align: no gradient.
        scale = torch.diagonal(G[:ma, :ma]).sum().abs() + self.eta * torch.diagonal(G[ma:, ma:]).sum().abs()
        if float(value.detach()) <= 1e-9 * float(scale.detach()):
            return lam2 * 0.0  # zero, with a zero (not NaN: d sqrt at 0) gradient
        return value


@dataclass(frozen=True)
class SPECAlignResult(Result):
    """What :func:`spec_align` returns.

    Attributes
    ----------
    before, after : dict
        On held-out items: ``spec_diff`` (g(A) or A vs B), ``frobenius``, ``cka`` (linear CKA
        with B) and, with labels, ``knn_accuracy`` (k-NN classifier fitted on the training
        items).
    drift : float
        SPEC-diff between g(A) and A on the held-out items (how far A's own structure moved).
    history : list of dict
        Per epoch: training loss terms.
    settings : dict
    seconds : float
    head : torch.nn.Module
        The fitted head (CPU); :meth:`transform` applies it.
    """

    kind: ClassVar[str] = "spec-align"

    before: dict
    after: dict
    drift: float
    history: list = field(repr=False)
    settings: dict = field(repr=False)
    seconds: float = 0.0
    head: object = field(default=None, repr=False)

    def transform(self, A) -> np.ndarray:
        """g(A) for embeddings ``A`` (n, d_A) → (n, d_out), float64."""
        X = torch.as_tensor(np.asarray(A, dtype=np.float64))
        with torch.no_grad():
            return self.head(X).numpy()

    def to_dict(self) -> dict:
        """Before/after metrics, drift, history and settings."""
        return {"kind": self.kind, "before": self.before, "after": self.after, "drift": self.drift, "history": self.history,
                "settings": self.settings, "seconds": self.seconds}


class _Residual(torch.nn.Module):
    def __init__(self, d: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(d, hidden), torch.nn.Linear(hidden, d)
        torch.nn.init.zeros_(self.fc2.weight)
        torch.nn.init.zeros_(self.fc2.bias)

    def forward(self, x):
        return x + self.fc2(torch.relu(self.fc1(x)))


def _make_head(kind: str, d: int, hidden: int):
    if kind == "linear":
        head = torch.nn.Linear(d, d)
        with torch.no_grad():
            head.weight.copy_(torch.eye(d))
            head.bias.zero_()
        return head
    if kind == "mlp":
        return _Residual(d, hidden)
    raise ValueError(f"head: expected one of {HEADS}, got {kind!r}")


def _knn_accuracy(train_X, train_y, test_X, test_y, k=5) -> float:
    clf = KNeighborsClassifier(n_neighbors=min(k, len(train_X)), metric="cosine").fit(train_X, train_y)
    return float(np.mean(clf.predict(test_X) == test_y))


def _evaluate(gA, B, kernel, eta, rff_kw, idx_tr, idx_te, labels):
    r = spec(gA[idx_te], B[idx_te], kernel, eta=eta, n_modes=1, top=1, return_scores=False, **rff_kw)
    out = {"spec_diff": r.spec_diff, "frobenius": r.frobenius, "cka": cka(gA[idx_te], B[idx_te])}
    if labels is not None:
        out["knn_accuracy"] = _knn_accuracy(gA[idx_tr], labels[idx_tr], gA[idx_te], labels[idx_te])
    return out


def spec_align(A, B, *, kernel: str = "cosine", head: str = "linear", loss: str = "spec", keep_weight: float = 1.0,
               eta: float = 1.0, epochs: int = 30, batch_size: int = 256, lr: float = 1e-3, hidden: int = 512,
               test_fraction: float = 0.25, labels=None, rff: int = 500, sigma_a=None, sigma_b=None, seed: int = 0,
               device: str = "cpu", progress: bool = False) -> SPECAlignResult:
    """Fit a head g on frozen embeddings of A so that SPEC-diff(g(A), B) falls (SPEC-align).

    Parameters
    ----------
    A, B : array, shape (n, d_A) and (n, d_B)
        The same n items through both encoders (paired rows; B stays fixed).
    kernel : {"cosine", "linear", "gaussian"}
    head : {"linear", "mlp"}
        Linear map initialised to the identity, or a residual MLP (``hidden`` units) starting at
        the identity.
    loss : {"spec", "frobenius"}
        :class:`SPECDiffLoss` (the paper's SPEC-diff) or :func:`frobenius_loss`.
    keep_weight : float
        Weight of ``‖Λ(g(A), A)‖²_F`` that keeps A's own kernel structure (0 = none).
    eta : float
    epochs, batch_size, lr : int, int, float
        Adam on shuffled paired mini-batches of the training items.
    hidden : int
        MLP width.
    test_fraction : float
        Held-out share of the items, for the before/after report.
    labels : array of int, shape (n,), optional
        Class labels for the k-NN accuracy report (never used for fitting).
    rff : int
        Random Fourier frequencies for ``gaussian``.
    sigma_a, sigma_b : float, optional
        Gaussian bandwidths (default: the median rule on A and on B); fixed during training.
    seed : int
        Split, initialisation, batches and random features.
    device : str
        ``"cpu"`` or a CUDA device.
    progress : bool

    Returns
    -------
    SPECAlignResult

    References
    ----------
    jalali2025 (arXiv:2506.06231), §5, Eq. 6 and Prop. 2.
    """
    t0 = time.perf_counter()
    A, B = check_pair(A, B, names=("A", "B"), min_samples=8)
    if loss not in ALIGN_LOSSES:
        raise ValueError(f"loss: expected one of {ALIGN_LOSSES}, got {loss!r}")
    if head not in HEADS:
        raise ValueError(f"head: expected one of {HEADS}, got {head!r}")
    if not (0 < test_fraction < 1):
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction!r}")
    if not (np.isfinite(keep_weight) and keep_weight >= 0):
        raise ValueError(f"keep_weight: must be >= 0, got {keep_weight!r}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: must be > 0, got {lr!r}")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size", minimum=4)
    y = None
    if labels is not None:
        y = np.asarray(labels)
        if y.shape != (len(A),):
            raise ValueError(f"labels: expected shape ({len(A)},), one per item, got {y.shape}")
    n = len(A)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_te = max(2, int(round(test_fraction * n)))
    idx_te, idx_tr = np.sort(perm[:n_te]), np.sort(perm[n_te:])
    if len(idx_tr) < 4:
        raise ValueError(f"test_fraction: leaves {len(idx_tr)} training items; at least 4 are needed")
    torch.manual_seed(seed)
    dev = torch.device(device)
    maps = {}
    rff_kw = {}
    kernel = resolve_kernel(kernel, SPEC_KERNELS)
    if kernel == "gaussian":
        sa = sigma_a or median_sigma(A[idx_tr], seed=seed, name="A")
        sb = sigma_b or median_sigma(B[idx_tr], seed=seed, name="B")
        maps = {"a": RandomFourierFeatures(A.shape[1], rff, sa, seed)}
        # the same kernel on both sides shares one draw of frequencies (as repalign.spec does)
        maps["b"] = maps["a"] if (A.shape[1] == B.shape[1] and sa == sb) else RandomFourierFeatures(
            B.shape[1], rff, sb, seed + 1)
        rff_kw = {"rff": rff, "sigma_a": sa, "sigma_b": sb, "seed": seed}
    g = _make_head(head, A.shape[1], hidden).double().to(dev)
    opt = torch.optim.Adam(g.parameters(), lr=lr)
    At = torch.as_tensor(A, device=dev)
    Bt = torch.as_tensor(B, device=dev)
    # B's features never change: computed once
    Fb_all = kernel_features(Bt, kernel, maps.get("b"))
    main = SPECDiffLoss(eta) if loss == "spec" else None
    history = []
    for epoch in track(range(epochs), "SPEC-align", total=epochs, enabled=progress, unit="epoch"):
        order = idx_tr[rng.permutation(len(idx_tr))]
        tot = {"loss": 0.0, "keep": 0.0, "batches": 0}
        for s in range(0, len(order), batch_size):
            bi = torch.as_tensor(order[s:s + batch_size], device=dev)
            if len(bi) < 4:
                continue
            Za = At[bi]
            Ga = kernel_features(g(Za), kernel, maps.get("a"))
            Fb = Fb_all[bi]
            term = main(Ga, Fb) if main is not None else frobenius_loss(Ga, Fb, eta)
            keep = frobenius_loss(Ga, kernel_features(Za, kernel, maps.get("a")), 1.0) if keep_weight else Ga.new_zeros(())
            total = term + keep_weight * keep
            opt.zero_grad()
            total.backward()
            opt.step()
            tot["loss"] += float(term.detach())
            tot["keep"] += float(keep.detach())
            tot["batches"] += 1
        nb = max(tot["batches"], 1)
        history.append({"epoch": epoch, "loss": tot["loss"] / nb, "keep": tot["keep"] / nb})
    g = g.cpu().eval()
    with torch.no_grad():
        gA = g(torch.as_tensor(A)).numpy()
    before = _evaluate(A, B, kernel, eta, rff_kw, idx_tr, idx_te, y)
    after = _evaluate(gA, B, kernel, eta, rff_kw, idx_tr, idx_te, y)
    drift_kw = dict(rff_kw)
    if kernel == "gaussian":
        drift_kw["sigma_b"] = drift_kw["sigma_a"]
    drift = spec(gA[idx_te], A[idx_te], kernel, n_modes=1, top=1, return_scores=False, **drift_kw).spec_diff
    settings = {"kernel": kernel, "head": head, "loss": loss, "keep_weight": keep_weight, "eta": eta, "epochs": epochs,
                "batch_size": batch_size, "lr": lr, "test_fraction": test_fraction, "n_train": int(len(idx_tr)),
                "n_test": int(len(idx_te)), "seed": seed, "rff": rff if kernel == "gaussian" else None}
    return SPECAlignResult(before, after, float(drift), history, settings, time.perf_counter() - t0, g)
