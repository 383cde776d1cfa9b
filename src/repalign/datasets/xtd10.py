"""XTD-10: 1,000 MS-COCO captions, line-aligned across 11 languages (Aggarwal & Kale 2020).

Folder layout (as distributed): ``XTD10/test_1kcaptions_{en,es,it,ko,pl,ru,tr,zh}.txt``,
``MIC/test_1kcaptions_{de,fr}.txt``, ``STAIR/test_1kcaptions_jp.txt`` and
``XTD10/test_image_names.txt``. Line i of every file is the same caption.
"""

from __future__ import annotations

from .base import TextDataset, data_root, require_folder

__all__ = ["XTD10_LANGUAGES", "load_xtd10"]

XTD10_LANGUAGES = {
    "en": "XTD10", "es": "XTD10", "it": "XTD10", "ko": "XTD10", "pl": "XTD10", "ru": "XTD10",
    "tr": "XTD10", "zh": "XTD10", "de": "MIC", "fr": "MIC", "jp": "STAIR",
}


def _read_lines(path):
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    if lines and lines[-1] == "":  # a final newline is optional
        lines.pop()
    return [ln.rstrip("\r") for ln in lines]


def load_xtd10(language: str = "en", data_dir=None) -> TextDataset:
    """The 1,000 XTD-10 captions in ``language`` (one of :data:`XTD10_LANGUAGES`)."""
    if language not in XTD10_LANGUAGES:
        raise ValueError(f"language: unknown XTD-10 language {language!r}; known: {', '.join(XTD10_LANGUAGES)}")
    root = require_folder(data_root(data_dir), "xtd10", "xtd10")
    path = root / XTD10_LANGUAGES[language] / f"test_1kcaptions_{language}.txt"
    if not path.is_file():
        raise ValueError(f"xtd10: missing {path}")
    texts = _read_lines(path)
    names_path = root / "XTD10" / "test_image_names.txt"
    ids = _read_lines(names_path) if names_path.is_file() else None
    if ids is not None and len(ids) != len(texts):
        raise ValueError(f"xtd10: {path.name} has {len(texts)} lines but {names_path.name} has {len(ids)}")
    if any(not t.strip() for t in texts):
        bad = next(i for i, t in enumerate(texts) if not t.strip())
        raise ValueError(f"xtd10: {path} line {bad + 1} is empty")
    return TextDataset(f"xtd10-{language}", tuple(texts), ids=tuple(ids) if ids else None)
