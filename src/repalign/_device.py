"""Where torch work runs: one rule for every ``device=`` argument.

``None`` or ``"cpu"``: the CPU. ``"auto"``: the first CUDA device when torch sees one, else the
CPU. ``"cuda"`` / ``"cuda:N"`` / ``"mps"``: that device, refused with a one-line ``ValueError``
when this torch build or machine has none (never a silent fallback). torch is imported only
when a device other than the CPU is asked for or ``"auto"`` must look.

Where the arithmetic runs (:func:`compute_device`): on a CUDA or MPS device, in torch; on the
CPU, in the NumPy path, because torch on the CPU is slower than it for every route here
(``benchmarks/bench_torch.py``: no syrk for Gram products, slower order statistics, no compiled
RBF passes; 1.3-3.5x). CPU tensors reach the NumPy path without a copy when they are float64.
:data:`TORCH_ON_CPU` (or the environment variable ``REPALIGN_TORCH_ON_CPU=1``) runs the torch
kernels on the CPU instead: the code a GPU runs, for tests and benchmarks on a machine with none.
"""

from __future__ import annotations

import os
import re

__all__ = ["resolve_device", "compute_device", "TORCH_ON_CPU"]

#: run the torch kernels for ``device="cpu"`` (module docstring); default: the NumPy path
TORCH_ON_CPU = os.environ.get("REPALIGN_TORCH_ON_CPU", "") not in ("", "0")

_DEVICE = re.compile(r"^(cpu|auto|mps|cuda(:\d+)?)$")


def resolve_device(device=None, name: str = "device") -> str:
    """The torch device string for ``device`` (module docstring).

    Parameters
    ----------
    device : None, str or torch.device
    name : str
        Argument name used in errors.

    Returns
    -------
    str
        ``"cpu"``, ``"cuda:N"`` or ``"mps"``.
    """
    if device is None:
        return "cpu"
    text = str(device)
    if not _DEVICE.match(text):
        raise ValueError(f"{name}: expected 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto', got {device!r}")
    if text == "cpu":
        return "cpu"
    import torch  # noqa: PLC0415 - only when a device must be looked up

    if text == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if text == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"{name}: 'mps' is not available on this machine; use 'cpu' or 'auto'")
        return "mps"
    if not torch.cuda.is_available():
        raise ValueError(f"{name}: {text!r} asked for, but torch {torch.__version__} sees no CUDA device here "
                         "(a CPU-only build or no GPU); use 'cpu' or 'auto'")
    index = int(text.split(":")[1]) if ":" in text else 0
    if index >= torch.cuda.device_count():
        raise ValueError(f"{name}: {text!r} asked for, but there are {torch.cuda.device_count()} CUDA devices "
                         f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})")
    return f"cuda:{index}"


def compute_device(device=None, name: str = "device") -> str | None:
    """Where a measure's arithmetic runs for ``device``: ``None`` for the NumPy path (``device``
    None, or the CPU unless :data:`TORCH_ON_CPU`), else the torch device string. Validates like
    :func:`resolve_device`."""
    if device is None:
        return None
    resolved = resolve_device(device, name)
    if resolved == "cpu" and not TORCH_ON_CPU:
        return None
    return resolved
