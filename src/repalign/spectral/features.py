"""Explicit kernel feature maps for SPEC: ``k(x, y) = φ(x)·φ(y)``.

* ``cosine``: ``φ(x) = x / ‖x‖`` (a normalised kernel: ``k(x, x) = 1``);
* ``linear``: ``φ(x) = x`` (not normalised; SPEC's ``1 - η`` trace identity does not hold);
* ``gaussian``: random Fourier features (:class:`repalign.kernels.RandomFourierFeatures`),
  ``m`` frequencies per embedding, drawn separately for A and B from the seed; normalised.

Bandwidth (``gaussian``): an explicit σ per side, or the automatic rule: the median rule of
:func:`repalign.kernels.median_sigma` (``σ² = lower median of the non-zero squared distances``
over a seeded subsample of at most 2,000 rows), computed for each embedding separately. The
paper tunes σ by hand until the top eigenvalues separate; :func:`repalign.spectral.sigma_scan`
reports the top eigenvalues for a grid of multiples of the automatic σ so a user can do the
same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..distributed import available_memory
from ..kernels import RandomFourierFeatures, cosine_normalize, median_sigma, resolve_kernel

__all__ = ["FeatureMap", "SPEC_KERNELS", "DEFAULT_RFF"]

SPEC_KERNELS = ("cosine", "linear", "gaussian")
#: random Fourier frequencies per embedding when ``kernel="gaussian"`` and none is given
DEFAULT_RFF = 2000


@dataclass(frozen=True)
class FeatureMap:
    """One embedding's kernel feature map.

    Attributes
    ----------
    kernel : {"cosine", "linear", "gaussian"}
    dim : int
        Input dimension.
    sigma : float or None
        Gaussian bandwidth (None otherwise).
    rff : RandomFourierFeatures or None
    """

    kernel: str
    dim: int
    sigma: float | None = None
    rff: RandomFourierFeatures | None = None

    @classmethod
    def build(cls, kernel: str, sample: np.ndarray, *, sigma=None, n_frequencies: int | None = None, seed: int = 0,
              name: str = "A") -> FeatureMap:
        """The map for ``kernel``; ``sample`` (rows of the embedding) sets the automatic σ."""
        kernel = resolve_kernel(kernel, SPEC_KERNELS)
        dim = sample.shape[1]
        if kernel != "gaussian":
            if sigma is not None or n_frequencies is not None:
                raise ValueError(f"sigma/rff: only the gaussian kernel has a bandwidth and random features, "
                                 f"not {kernel!r}")
            return cls(kernel, dim)
        if sigma is None or sigma == "auto":
            sigma = median_sigma(sample, seed=seed, name=name)
        else:
            try:
                sigma = float(sigma)
            except (TypeError, ValueError):
                raise ValueError(f"sigma_{name.lower()}: expected a positive number or 'auto', got {sigma!r}") from None
            if not (np.isfinite(sigma) and sigma > 0):
                raise ValueError(f"sigma_{name.lower()}: must be a positive number, got {sigma:g}")
        m = DEFAULT_RFF if n_frequencies is None else n_frequencies
        need = 8 * dim * int(m)  # the (dim, m) frequency matrix alone, before any features
        if need > (available_memory() or 1 << 62):  # 0: unknown here
            raise ValueError(f"rff: {m} frequencies per side need {need / 2**30:.1f} GB for the frequencies of {name} "
                             f"(d = {dim}) alone, more than this machine has free; use fewer (default {DEFAULT_RFF})")
        return cls(kernel, dim, sigma, RandomFourierFeatures(dim, m, sigma, seed=seed))

    @property
    def n_features(self) -> int:
        """Feature dimension (2m for random Fourier features)."""
        return self.rff.n_features if self.rff is not None else self.dim

    @property
    def normalized(self) -> bool:
        """Whether ``k(x, x) = 1`` for every x."""
        return self.kernel != "linear"

    def __call__(self, X: np.ndarray, dtype=np.float64, out: np.ndarray | None = None) -> np.ndarray:
        """Features (n, n_features) of rows ``X`` (n, dim), in ``dtype``; written into ``out``
        (n, n_features) of that dtype when given (e.g. one side of a joint block)."""
        if self.kernel == "gaussian":
            return self.rff(X, dtype=dtype, out=out)
        X = np.asarray(X, dtype=dtype)
        if self.kernel == "cosine":
            return cosine_normalize(X, "embeddings", out=out)
        if out is None:
            return X
        out[...] = X
        return out

    def to_dict(self) -> dict:
        """Kernel, σ and number of random frequencies."""
        return {"kernel": self.kernel, "sigma": self.sigma, "rff": None if self.rff is None else self.rff.m}
