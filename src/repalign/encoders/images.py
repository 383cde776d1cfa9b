"""Image inputs: file paths, PIL images or HxWx3 uint8 arrays → float batches."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from .._optional import optional
from ..items import IMAGE_EXTENSIONS

__all__ = ["load_rgb", "to_batch", "image_fingerprint", "IMAGE_EXTENSIONS"]



def load_rgb(item):
    """Return a PIL RGB image from a path, a PIL image or an (H, W, 3) / (H, W) uint8 array."""
    Image = optional("PIL.Image")
    UnidentifiedImageError = optional("PIL").UnidentifiedImageError

    if isinstance(item, (str, Path)):
        p = Path(item)
        if not p.is_file():
            raise ValueError(f"{p}: no such image file")
        try:
            with Image.open(p) as im:
                return im.convert("RGB")
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(f"{p}: not a readable image ({exc})") from None
    if isinstance(item, Image.Image):
        return item.convert("RGB")
    arr = np.asarray(item)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"image: expected (H, W, 3) array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if arr.max() <= 1.0:
            arr = arr * 255.0
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return Image.fromarray(arr[..., :3], "RGB")


def to_batch(items, size: int, resample: str = "bicubic") -> np.ndarray:
    """Resize every image to ``size x size`` (squash; CIFAR-style inputs are square) and stack as
    an (n, 3, size, size) float32 array of raw 0–255 values."""
    Image = optional("PIL.Image")

    mode = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}[resample]
    out = np.empty((len(items), 3, size, size), dtype=np.float32)
    for i, item in enumerate(items):
        im = load_rgb(item).resize((size, size), mode)
        out[i] = np.asarray(im, dtype=np.float32).transpose(2, 0, 1)
    return out


def image_fingerprint(items) -> str:
    """Content hash of a list of images (file bytes for paths, pixels otherwise)."""
    h = hashlib.sha256()
    for item in items:
        if isinstance(item, (str, Path)):
            h.update(Path(item).read_bytes())
        else:
            arr = np.asarray(load_rgb(item))
            h.update(str(arr.shape).encode())
            h.update(arr.tobytes())
        h.update(b"\0")
    return h.hexdigest()
