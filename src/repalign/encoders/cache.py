"""On-disk embedding cache keyed by model, data fingerprint and preprocessing.

``encode_cached(encoder, items)`` returns the same array as ``encoder.encode(items)``; the
second call with the same encoder (fingerprint covers model and preprocessing) and the same
items (content hash) reads it back instead of running the model.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .base import Encoder
from .images import image_fingerprint

__all__ = ["default_cache_dir", "data_fingerprint", "encode_cached", "cache_key"]

CACHE_VERSION = "1"


def default_cache_dir() -> Path:
    """``$REPALIGN_CACHE`` if set, else ``$XDG_CACHE_HOME/repalign`` or ``~/.cache/repalign``."""
    env = os.environ.get("REPALIGN_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "repalign"


def data_fingerprint(items, modality: str) -> str:
    """Content hash of the inputs: texts are hashed verbatim, images by bytes / pixels."""
    if modality == "text":
        h = hashlib.sha256()
        for t in items:
            h.update(t.encode("utf-8"))
            h.update(b"\0")
        return h.hexdigest()
    return image_fingerprint(items)


def cache_key(encoder: Encoder, fingerprint: str) -> str:
    return hashlib.sha256(f"{CACHE_VERSION}|{encoder.fingerprint}|{fingerprint}".encode()).hexdigest()[:32]


def encode_cached(encoder: Encoder, items, *, cache_dir=None, batch_size: int | None = None,
                  progress: bool = False, refresh: bool = False, use_cache: bool = True):
    """Embed ``items`` with ``encoder`` through the cache. Returns ``(array, from_cache)``."""
    items = encoder._check_items(items)
    if not use_cache:
        return encoder.encode(items, batch_size=batch_size, progress=progress), False
    folder = Path(cache_dir) if cache_dir else default_cache_dir()
    key = cache_key(encoder, data_fingerprint(items, encoder.modality))
    path = folder / "embeddings" / f"{encoder.name.replace('/', '_').replace(':', '_')}-{key}.npy"
    if path.exists() and not refresh:
        try:
            arr = np.load(path, allow_pickle=False)
            if arr.ndim == 2 and arr.shape[0] == len(items):
                return arr, True
        except (OSError, ValueError):
            pass  # a corrupt cache entry is recomputed
    arr = encoder.encode(items, batch_size=batch_size, progress=progress)
    from ..io import atomic_write

    with atomic_write(path, force=True) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, arr)
    return arr, False
