"""Input checks shared by every public function.

Every check raises :class:`ValueError` with a message that names the offending argument and
says how to fix it, so that the CLI can print it as one line.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = [
    "check_time_limit",
    "RepalignWarning",
    "warn",
    "as_embeddings",
    "is_tensor",
    "tensor_to_numpy",
    "check_pair",
    "check_positive_int",
    "check_fraction",
    "check_no_zero_variance",
    "check_square_matrix",
    "to_unit_scale",
]


class RepalignWarning(UserWarning):
    """Something the user should know that does not stop the work (the CLI prints it as one line)."""


def warn(message: str, stacklevel: int = 3) -> None:
    """Issue a :class:`RepalignWarning`."""
    warnings.warn(message, RepalignWarning, stacklevel=stacklevel)


def is_tensor(x) -> bool:
    """Whether ``x`` is a torch tensor, without importing torch (``type(x).__module__``)."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach") and hasattr(x, "device")


def tensor_to_numpy(x, name: str = "X") -> np.ndarray:
    """A torch tensor of any dtype on any device as a NumPy array on the CPU: detached, with a
    one-line note, when it requires grad (use :func:`repalign.cka_loss` for a differentiable
    CKA); bfloat16 and float16 widened to float32 (NumPy has no bfloat16)."""
    if getattr(x, "requires_grad", False):
        warn(f"{name}: a tensor that requires grad; detached (repalign.cka_loss / hsic_loss keep the graph)",
             stacklevel=4)
    x = x.detach()
    if str(x.dtype) in ("torch.bfloat16", "torch.float16"):
        x = x.float()
    return x.cpu().numpy()


def as_embeddings(
    X,
    name: str = "X",
    *,
    min_samples: int = 2,
    dtype=np.float64,
    source: str | None = None,
    rescale: bool = False,
) -> np.ndarray:
    """Return ``X`` as a C-contiguous ``(n, d)`` float array after checking it.

    Parameters
    ----------
    X : array-like or torch tensor, shape (n, d)
        Embeddings, one row per sample. A 1-D array is rejected (ambiguous: one sample or one
        feature?). Tensors of any dtype on any device are copied to the CPU
        (:func:`tensor_to_numpy`).
    name : str
        Argument name used in error messages.
    min_samples : int
        Smallest acceptable ``n``.
    source : str, optional
        File the array came from, quoted in NaN/inf errors.
    rescale : bool, default False
        Multiply by a power of two so that the largest ``|x|`` lies in [0.5, 1): exact in floating
        point, and what scale-invariant measures ask for, so that inputs near 1e300 do not
        overflow and inputs near 1e-300 (denormals too) do not underflow in their products.

    Returns
    -------
    ndarray, shape (n, d)
    """
    where = f" (from {source})" if source else ""
    if is_tensor(X):
        X = tensor_to_numpy(X, name)
    try:
        arr = np.asarray(X)
    except Exception as exc:  # pragma: no cover - numpy raises many things
        raise ValueError(f"{name}{where}: cannot be read as an array ({exc})") from None
    if np.iscomplexobj(arr):
        raise ValueError(f"{name}{where}: holds complex numbers; embeddings must be real "
                         "(take .real or the magnitude yourself if that is what you mean)")
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{name}{where}: expected a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2:
        hint = " (use X.reshape(-1, 1) for one feature)" if arr.ndim == 1 else ""
        raise ValueError(
            f"{name}{where}: expected a 2-D array of shape (n_samples, n_features), "
            f"got shape {arr.shape}{hint}"
        )
    n, d = arr.shape
    if d == 0:
        raise ValueError(f"{name}{where}: has 0 features; each row needs at least one value")
    if n < min_samples:
        raise ValueError(
            f"{name}{where}: has {n} samples but at least {min_samples} are needed for this estimator"
        )
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if not np.isfinite(arr).all():
        bad_rows = np.flatnonzero(~np.isfinite(arr).all(axis=1))
        kind = "NaN" if np.isnan(arr[bad_rows[0]]).any() else "inf"
        raise ValueError(
            f"{name}{where}: contains NaN/inf ({len(bad_rows)} bad rows, first is row "
            f"{int(bad_rows[0])} with {kind}); drop or impute those rows first"
        )
    if rescale:
        return to_unit_scale(arr)
    return arr


def to_unit_scale(arr: np.ndarray) -> np.ndarray:
    """``arr · 2^-e`` with the largest ``|x|`` in [0.5, 1) (exact: only the exponents change)."""
    m = float(np.max(np.abs(arr))) if arr.size else 0.0
    if m == 0.0 or 0.5 <= m < 1.0:
        return arr
    return np.ldexp(arr, -int(np.frexp(m)[1])).astype(arr.dtype, copy=False)


def check_pair(X, Y, names=("X", "Y"), *, min_samples: int = 2, dtype=np.float64, rescale: bool = False):
    """Validate two embedding sets over the same samples (rows must correspond); ``rescale`` as in
    :func:`as_embeddings` (each side on its own)."""
    X = as_embeddings(X, names[0], min_samples=min_samples, dtype=dtype, rescale=rescale)
    Y = as_embeddings(Y, names[1], min_samples=min_samples, dtype=dtype, rescale=rescale)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"{names[0]} and {names[1]} have mismatched sample counts ({X.shape[0]} vs "
            f"{Y.shape[0]}); row i of both must describe the same item"
        )
    return X, Y


def check_no_zero_variance(X, name: str = "X") -> None:
    """Raise if every feature of ``X`` is constant (all rows identical)."""
    if X.shape[0] and np.all(np.ptp(X, axis=0) == 0):
        raise ValueError(
            f"{name}: has zero variance (all {X.shape[0]} rows are identical); "
            "the similarity is undefined, check that the encoder produced distinct embeddings"
        )


def check_positive_int(value, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}: must be <= {maximum}, got {value}")
    return value


def check_time_limit(time_limit, name: str = "time_limit") -> float | None:
    """An optional cap in seconds: None, or a finite number > 0 (as float)."""
    if time_limit is None:
        return None
    try:
        t = float(time_limit)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number of seconds, got {time_limit!r}") from None
    if not np.isfinite(t) or t <= 0:
        raise ValueError(f"{name}: must be a positive number of seconds, got {time_limit!r}")
    return t


def check_square_matrix(M, name: str, *, n: int | None = None, kind: str = "matrix",
                        allow_empty: bool = True) -> np.ndarray:
    """``M`` as a C-contiguous float64 square matrix, or a ValueError naming ``name``.

    Parameters
    ----------
    M : array-like, shape (n, n)
    name : str
        The argument's name in messages.
    n : int, optional
        Required size (e.g. "like A").
    kind : str
        What the matrix is, for the message ("matrix", "RSM").
    allow_empty : bool
        Accept a 0 x 0 matrix.

    Returns
    -------
    ndarray, shape (n, n)
    """
    try:
        A = np.asarray(M, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a numeric {kind}") from None
    if A.ndim != 2 or A.shape[0] != A.shape[1] or (not allow_empty and A.shape[0] == 0):
        raise ValueError(f"{name}: expected a {'' if allow_empty else 'non-empty '}square (n, n) {kind}, "
                         f"got shape {A.shape}")
    if n is not None and A.shape[0] != n:
        raise ValueError(f"{name}: expected shape ({n}, {n}) like A, got {A.shape}; both matrices need the same n")
    if not np.isfinite(A).all():
        raise ValueError(f"{name}: contains NaN or inf; clean or impute it first")
    return np.ascontiguousarray(A)


def check_fraction(value, name: str, *, low: float = 0.0, high: float = 1.0) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number in [{low}, {high}], got {value!r}") from None
    if not (low <= value <= high) or not np.isfinite(value):
        raise ValueError(f"{name}: expected a number in [{low}, {high}], got {value}")
    return value
