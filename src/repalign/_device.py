"""Where torch work runs: one rule for every ``device=`` argument.

``None`` or ``"cpu"``: the CPU. ``"auto"``: the first CUDA device when torch sees one, else the
CPU. ``"cuda"`` / ``"cuda:N"`` / ``"mps"``: that device, refused with a one-line ``ValueError``
when this torch build or machine has none (never a silent fallback). torch is imported only
when a device other than the CPU is asked for or ``"auto"`` must look.
"""

from __future__ import annotations

import re

__all__ = ["resolve_device"]

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
