"""On-disk embedding cache keyed by model, data fingerprint and preprocessing.

``encode_cached(encoder, items)`` returns the same array as ``encoder.encode(items)``; the
second call with the same encoder (fingerprint covers model and preprocessing) and the same
items (content hash) reads it back instead of running the model.

The key covers the encoder's fingerprint (model, preprocessing, repalign's encoder code, the
versions of the packages it runs on), the content of the items and the batch size: transformer
encoders pad each batch to its longest item, so another batch size changes the last bits of
the embeddings (seen: 1.3e-7 for MiniLM between batches of 16 and 64), and k-means base
selection amplifies such differences into different experiment numbers. An entry is served
only to the computation that would reproduce it bit for bit.

Each entry is ``<name>-<key>.npy`` plus ``<name>-<key>.npy.sha256`` holding the SHA-256 of the
``.npy`` bytes: an entry whose checksum, shape or row count does not match is recomputed (with a
warning), never served. The cache is an optimisation: when it cannot be written (read-only
folder, disk full) a warning is issued and the embeddings are returned all the same.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np

from .._validate import warn
from ..io import atomic_write
from .base import Encoder
from .images import image_fingerprint

__all__ = ["default_cache_dir", "data_fingerprint", "encode_cached", "cache_key"]

CACHE_VERSION = "2"


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


def cache_key(encoder: Encoder, fingerprint: str, batch_size: int | None = None) -> str:
    """The entry name for ``encoder`` on items with content hash ``fingerprint`` at
    ``batch_size`` (None: the encoder's default)."""
    bs = batch_size or encoder.default_batch_size
    return hashlib.sha256(f"{CACHE_VERSION}|{encoder.fingerprint}|{fingerprint}|bs={bs}".encode()).hexdigest()[:32]


def encode_cached(encoder: Encoder, items, *, cache_dir=None, batch_size: int | None = None,
                  progress: bool = False, refresh: bool = False, use_cache: bool = True):
    """Embed ``items`` with ``encoder`` through the cache. Returns ``(array, from_cache)``."""
    items = encoder._check_items(items)
    if not use_cache:
        return encoder.encode(items, batch_size=batch_size, progress=progress), False
    folder = Path(cache_dir) if cache_dir else default_cache_dir()
    key = cache_key(encoder, data_fingerprint(items, encoder.modality), batch_size)
    path = folder / "embeddings" / f"{encoder.name.replace('/', '_').replace(':', '_')}-{key}.npy"
    if path.exists() and not refresh:
        arr = _read_entry(path, len(items), encoder)
        if arr is not None:
            return arr, True
    arr = encoder.encode(items, batch_size=batch_size, progress=progress)
    _write_entry(path, arr)
    return arr, False


def _checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _read_entry(path: Path, n: int, encoder: Encoder | None = None):
    """The cached array, or None (with a warning) when the entry is damaged or is not what the
    encoder produces (rows, its dimension, float32, finite): a matching checksum only says the
    bytes are the ones written, not that the right thing was written."""
    try:
        data = path.read_bytes()
        expected = _checksum_path(path).read_text().strip()
    except OSError:
        warn(f"embedding cache entry {path.name} has no checksum; recomputing it")
        return None
    if hashlib.sha256(data).hexdigest() != expected:
        warn(f"embedding cache entry {path.name} is damaged (checksum mismatch); recomputing it")
        return None
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError):
        warn(f"embedding cache entry {path.name} cannot be read; recomputing it")
        return None
    if arr.ndim != 2 or arr.shape[0] != n:
        warn(f"embedding cache entry {path.name} has shape {arr.shape}, expected {n} rows; recomputing it")
        return None
    dim = getattr(encoder, "dim", None)
    if dim is not None and arr.shape[1] != dim:
        warn(f"embedding cache entry {path.name} has {arr.shape[1]} columns but {encoder.name} gives {dim}; "
             "recomputing it")
        return None
    if arr.dtype != np.float32:
        warn(f"embedding cache entry {path.name} is {arr.dtype}, not the float32 the encoders write; recomputing it")
        return None
    if not np.isfinite(arr).all():
        warn(f"embedding cache entry {path.name} contains NaN/inf; recomputing it")
        return None
    return arr


def _write_entry(path: Path, arr: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, arr)
    data = buf.getvalue()
    try:
        with atomic_write(path, force=True) as tmp:
            tmp.write_bytes(data)
        with atomic_write(_checksum_path(path), force=True) as tmp:
            tmp.write_text(hashlib.sha256(data).hexdigest() + "\n")
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        warn(f"could not write the embedding cache under {path.parent} ({reason}); continuing without it")
