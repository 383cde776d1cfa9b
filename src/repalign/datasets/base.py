"""Dataset containers and the data-folder rule.

Data location: the ``data_dir`` argument (CLI ``--data-dir``), else ``$REPALIGN_DATA``.
The make targets and the tests point ``REPALIGN_DATA`` at ``../shared/data`` when it exists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["TextDataset", "ImageDataset", "data_root", "require_folder"]


@dataclass(frozen=True)
class TextDataset:
    """Texts with optional integer labels and class names."""

    name: str
    texts: tuple[str, ...]
    labels: np.ndarray | None = field(default=None, repr=False)
    class_names: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = field(default=None, repr=False)
    modality: str = "text"

    @property
    def items(self) -> list[str]:
        return list(self.texts)

    def __len__(self) -> int:
        return len(self.texts)

    def to_dict(self) -> dict:
        return {"name": self.name, "modality": self.modality, "n": len(self),
                "n_classes": len(self.class_names) if self.class_names else None}


@dataclass(frozen=True)
class ImageDataset:
    """Images (file paths or uint8 arrays) with integer labels and class names."""

    name: str
    images: tuple = field(repr=False)
    labels: np.ndarray = field(repr=False)
    class_names: tuple[str, ...]
    modality: str = "image"

    @property
    def items(self) -> list:
        return list(self.images)

    def __len__(self) -> int:
        return len(self.images)

    def to_dict(self) -> dict:
        return {"name": self.name, "modality": self.modality, "n": len(self),
                "n_classes": len(self.class_names)}

    def subset(self, per_class: int | None = None, seed: int = 0) -> ImageDataset:
        """At most ``per_class`` items of every class, chosen uniformly with ``seed`` (sorted)."""
        if per_class is None:
            return self
        if per_class < 1:
            raise ValueError(f"per_class: must be >= 1, got {per_class}")
        rng = np.random.default_rng(seed)
        keep = []
        for c in range(len(self.class_names)):
            idx = np.flatnonzero(self.labels == c)
            if len(idx) > per_class:
                idx = np.sort(rng.choice(idx, per_class, replace=False))
            keep.extend(idx.tolist())
        keep = np.asarray(sorted(keep))
        return ImageDataset(self.name, tuple(self.images[i] for i in keep), self.labels[keep], self.class_names)


def data_root(data_dir=None) -> Path:
    """The data folder: ``data_dir`` or ``$REPALIGN_DATA``; a clear error if neither exists."""
    src = data_dir if data_dir is not None else os.environ.get("REPALIGN_DATA")
    if not src:
        raise ValueError(
            "data folder: not set; pass --data-dir DIR (data_dir=...) or set REPALIGN_DATA=DIR "
            "(the folder holding xtd10/, cifar10/, qaplib/)"
        )
    p = Path(src).expanduser()
    if not p.is_dir():
        raise ValueError(f"data folder: {p} does not exist; pass --data-dir DIR or set REPALIGN_DATA")
    return p


def require_folder(root: Path, sub: str, what: str) -> Path:
    p = root / sub
    if not p.is_dir():
        raise ValueError(f"{what}: expected the folder {p}; check --data-dir / REPALIGN_DATA")
    return p
