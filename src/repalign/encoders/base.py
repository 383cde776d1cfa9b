"""The encoder contract: items in, an (n, d) float32 array out, batched, with a progress bar."""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._progress import progress_bar as _progress_bar
from .._progress import track

__all__ = ["Encoder", "EncoderInfo", "set_offline_env", "batched", "progress_bar", "stack_feature_maps"]


def set_offline_env() -> None:
    """Make Hugging Face libraries never reach for the hub, and keep torch's OpenMP threads from
    spinning after each op (they slow numpy's BLAS several-fold on small machines)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@dataclass(frozen=True)
class EncoderInfo:
    """What the registry knows about an encoder before loading it."""

    name: str
    modality: str  # "text" or "image"
    dim: int | None
    family: str
    packages: tuple[str, ...]
    description: str
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "modality": self.modality, "dim": self.dim, "family": self.family,
                "packages": list(self.packages), "description": self.description, **self.extra}


_CODE_VERSION = None


def _code_version() -> str:
    """SHA-256 (16 hex digits) of the source of every module in this package."""
    global _CODE_VERSION
    if _CODE_VERSION is None:
        h = hashlib.sha256()
        for f in sorted(Path(__file__).parent.glob("*.py")):
            h.update(f.name.encode())
            h.update(f.read_bytes())
        _CODE_VERSION = h.hexdigest()[:16]
    return _CODE_VERSION


def _dist_version(name: str) -> str:
    from importlib import metadata  # 40 ms: only when a cache key is made

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "-"


def batched(items: Sequence, size: int):
    for s in range(0, len(items), size):
        yield items[s:s + size]


def progress_bar(total: int, desc: str, enabled: bool):
    """Progress of an encoding run (see :mod:`repalign._progress`)."""
    return _progress_bar(total, desc, unit="item", enabled=enabled)


class Encoder(ABC):
    """Base class of every encoder.

    Subclasses implement :meth:`_encode_batch` (a list of items → (b, d) array) and set
    ``name``, ``modality`` and ``dim``. :meth:`encode` adds validation, batching, a progress bar
    and float32 output. ``fingerprint`` identifies the model *and* its preprocessing for the
    on-disk cache.
    """

    name: str = "encoder"
    modality: str = "text"
    dim: int | None = None
    default_batch_size: int = 64

    def __init__(self, n_jobs: int | None = None):
        if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1):
            raise ValueError(f"n_jobs: expected a positive number of threads, got {n_jobs!r}")
        self.n_jobs = n_jobs

    @abstractmethod
    def _encode_batch(self, items: list) -> np.ndarray:
        """Embed one batch of items."""

    def preprocessing(self) -> dict:
        """A JSON-able description of the preprocessing (goes into sidecars and cache keys)."""
        return {}

    #: distributions whose versions can change this encoder's numbers (part of the fingerprint)
    packages: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        """Identifies the numbers this encoder produces: its class, name, dimension,
        preprocessing, the source code of repalign's encoder modules and the versions of the
        packages it runs on. A cache entry made by other code is therefore never served."""
        desc = repr((type(self).__name__, self.name, self.dim, sorted(self.preprocessing().items()),
                     _code_version(), [(p, _dist_version(p)) for p in sorted(self.packages)]))
        return hashlib.sha256(desc.encode()).hexdigest()[:16]

    def _check_items(self, items) -> list:
        if isinstance(items, (str, bytes)):
            raise ValueError("items: expected a list of items, got a single string; wrap it in a list")
        items = list(items)
        if not items:
            raise ValueError("items: nothing to encode (empty list)")
        if self.modality == "text":
            bad = [i for i, t in enumerate(items) if not isinstance(t, str)]
            if bad:
                raise ValueError(f"items: text encoder {self.name!r} needs strings; item {bad[0]} is "
                                 f"{type(items[bad[0]]).__name__}")
        return items

    def encode(self, items, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        """Embed ``items`` (texts, or image paths / PIL images / HxWx3 uint8 arrays).

        Returns an (n, dim) float32 array, row i for item i. Deterministic for a fixed model,
        input and thread count.
        """
        items = self._check_items(items)
        bs = batch_size or self.default_batch_size
        if bs < 1:
            raise ValueError(f"batch_size: must be >= 1, got {bs}")
        out = []
        with progress_bar(len(items), f"embedding with {self.name}", progress) as bar:
            for batch in batched(items, bs):
                emb = np.asarray(self._encode_batch(list(batch)), dtype=np.float32)
                if emb.ndim != 2 or emb.shape[0] != len(batch):
                    raise RuntimeError(f"encoder {self.name!r} returned shape {emb.shape} for {len(batch)} items")
                out.append(emb)
                bar.update(len(batch))
        arr = np.concatenate(out, axis=0)
        if self.dim is None:
            self.dim = arr.shape[1]
        return arr

    def info(self) -> dict:
        return {"name": self.name, "modality": self.modality, "dim": self.dim,
                "preprocessing": self.preprocessing(), "fingerprint": self.fingerprint}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, modality={self.modality!r}, dim={self.dim})"


def stack_feature_maps(encoder, items, layer, batch_size: int = 16, progress: bool = False) -> np.ndarray:
    """The spatial feature maps of every item after one layer, as one array.

    Parameters
    ----------
    encoder : Encoder
        An encoder with a ``feature_maps(items, layers=)`` method (the EfficientNet-Lite family).
    items : sequence
        Images (paths, PIL images or arrays).
    layer : int or str
        A block index, ``"stem"`` or ``"head"``; digit strings are read as block indices.
    batch_size : int, default 16
        Items per forward pass.
    progress : bool, default False
        A bar (or one line per step) on stderr.

    Returns
    -------
    ndarray, shape (N, C, H, W)
    """
    name = getattr(encoder, "name", type(encoder).__name__)
    if not hasattr(encoder, "feature_maps"):
        raise ValueError(f"feature_maps: model {name!r} has no spatial maps; use an efficientnet-lite model")
    if isinstance(layer, str) and layer.lstrip("-").isdigit():
        layer = int(layer)
    parts = []
    for s in track(range(0, len(items), batch_size), f"feature maps of {name}", total=-(-len(items) // batch_size),
                   enabled=progress, unit="batch"):
        parts.append(encoder.feature_maps(items[s:s + batch_size], layers=(layer,))[layer])
    return np.concatenate(parts)
