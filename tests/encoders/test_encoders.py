"""Packaged encoders load with the hub disabled, give deterministic embeddings of their
documented size, and put paraphrases / crops closer than unrelated items."""

import os

import numpy as np
import pytest

import repalign as ra
from repalign._validate import RepalignWarning
from repalign.encoders import ENCODERS, Encoder, encode_cached, get_encoder

pytestmark = pytest.mark.encoders

PARA = ["A man is riding a horse on the beach.", "Someone rides a horse along the seashore.",
        "The quarterly earnings report was delayed."]
TEXT_MODELS = ["minilm", "use-multilingual", "e5-small-multilingual", "minilm-l3", "glove-50d"]


def cos(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def loaded():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = get_encoder(name)
        return cache[name]

    return get


def test_hub_is_disabled():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_text_encoders(loaded, name):
    enc = loaded(name)
    a = enc.encode(PARA)
    b = enc.encode(PARA)
    assert a.shape == (3, ENCODERS[name][0].dim) and a.dtype == np.float32
    assert np.array_equal(a, b), "embeddings must be deterministic"
    assert cos(a[0], a[1]) > cos(a[0], a[2]) + 0.05
    # batching does not change the result beyond float noise
    assert np.allclose(enc.encode(PARA, batch_size=1), a, atol=2e-5)


def test_multilingual_encoders_align_translations(loaded):
    en = ["a cat sleeping on a sofa", "two men playing football in the rain"]
    de = ["eine Katze schläft auf einem Sofa", "zwei Männer spielen Fußball im Regen"]
    for name in ("use-multilingual", "e5-small-multilingual"):
        enc = loaded(name)
        a, b = enc.encode(en), enc.encode(de)
        assert cos(a[0], b[0]) > cos(a[0], b[1]) and cos(a[1], b[1]) > cos(a[1], b[0])


def test_glove_reports_out_of_vocabulary_rows(loaded):
    enc = loaded("glove-50d")
    out = enc.encode(["the dog", "qqqzzzxxy"])
    assert enc.oov_rows == [1] and np.all(out[1] == 0)


def test_generic_sentence_transformers_loader_with_a_local_folder(loaded):
    from repalign.encoders.text import minilm_path

    generic = get_encoder(str(minilm_path()))
    assert np.allclose(generic.encode(PARA), loaded("minilm").encode(PARA), atol=1e-6)
    st = get_encoder(f"st:{minilm_path()}")
    assert st.dim == 384


def test_generic_hf_vision_loader_with_a_local_folder(tmp_path):
    import torch
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    torch.manual_seed(0)
    cfg = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64)
    ViTModel(cfg).save_pretrained(tmp_path)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    enc = get_encoder(str(tmp_path))
    imgs = [np.full((40, 40, 3), v, np.uint8) for v in (0, 128, 255)]
    out = enc.encode(imgs)
    assert out.shape == (3, 32) and np.array_equal(out, enc.encode(imgs))


def crops(paths):
    from PIL import Image

    out = []
    for p in paths:
        with Image.open(p) as im:
            w, h = im.size
            out.append(np.asarray(im.convert("RGB").crop((2, 2, w - 2, h - 2)).resize((w, h))))
    return out


@pytest.mark.parametrize("name", ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"])
def test_image_encoders(data_dir, loaded, name):
    ds = ra.load_dataset("cifar10", data_dir=data_dir, per_class=1)
    enc = loaded(name)
    a = enc.encode(ds.items)
    assert a.shape == (10, 1280) and np.array_equal(a, enc.encode(ds.items))
    c = enc.encode(crops(ds.items))
    # each image is closer to its own crop than to any other image
    for i in range(10):
        own = cos(a[i], c[i])
        assert all(own > cos(a[i], a[j]) for j in range(10) if j != i)


def test_efficientnet_logits_and_feature_maps(data_dir, loaded):
    ds = ra.load_dataset("cifar10", data_dir=data_dir, per_class=2)
    logits = get_encoder("efficientnet-lite0:logits").encode(ds.items)
    assert logits.shape == (20, 1000)
    enc = loaded("efficientnet-lite0")
    maps = enc.feature_maps(ds.items[:3], layers=("stem", 5, "head"))
    assert maps["stem"].shape[:2] == (3, 32) and maps["head"].shape == (3, 1280, 7, 7)
    pooled = maps["head"].mean(axis=(2, 3))
    assert np.allclose(pooled, enc.encode(ds.items[:3]), atol=1e-5)
    with pytest.raises(ValueError, match="block index"):
        enc.feature_maps(ds.items[:1], layers=(999,))


def test_cache_makes_reruns_instant(loaded, tmp_path):
    enc = loaded("glove-50d")
    a, hit1 = encode_cached(enc, PARA, cache_dir=tmp_path)
    b, hit2 = encode_cached(enc, PARA, cache_dir=tmp_path)
    c, hit3 = encode_cached(enc, PARA + ["x"], cache_dir=tmp_path)
    assert (hit1, hit2, hit3) == (False, True, False) and np.array_equal(a, b)


def test_registry_errors():
    with pytest.raises(ValueError, match="unknown encoder 'clip'.*minilm"):
        get_encoder("clip")
    with pytest.raises(ValueError, match="open_clip"):
        get_encoder("open_clip:")
    with pytest.raises(ValueError, match="items"):
        get_encoder("glove-50d").encode("just one string")
    with pytest.raises(ValueError, match="needs strings"):
        get_encoder("glove-50d").encode([1, 2])
    assert {i.name for i in ra.list_encoders("image")} >= {"efficientnet-lite0", "efficientnet-lite2"}


class _CountingEncoder(Encoder):
    """A deterministic toy encoder that counts its calls (no model needed)."""

    name = "toy"
    dim = 3

    def __init__(self):
        super().__init__()
        self.calls = 0

    def _encode_batch(self, items):
        self.calls += 1
        return np.array([[len(t), t.count("a"), 1.0] for t in items])


def test_damaged_cache_entry_is_recomputed_not_served(tmp_path):
    enc = _CountingEncoder()
    a, _ = encode_cached(enc, PARA, cache_dir=tmp_path)
    (entry,) = (tmp_path / "embeddings").glob("*.npy")
    data = bytearray(entry.read_bytes())
    data[-4:] = b"\x00\x00\x80\x7f"  # same shape, one value changed
    entry.write_bytes(bytes(data))
    with pytest.warns(RepalignWarning, match="damaged"):
        b, hit = encode_cached(enc, PARA, cache_dir=tmp_path)
    assert not hit and np.array_equal(a, b) and enc.calls == 2
    c, hit = encode_cached(enc, PARA, cache_dir=tmp_path)  # repaired
    assert hit and np.array_equal(a, c)


def test_unwritable_cache_warns_and_goes_on(tmp_path):
    (tmp_path / "blocked").write_text("a file where the cache folder should be")
    enc = _CountingEncoder()
    with pytest.warns(RepalignWarning, match="could not write the embedding cache"):
        a, hit = encode_cached(enc, PARA, cache_dir=tmp_path / "blocked")
    assert not hit and a.shape == (len(PARA), 3)


def test_cache_entries_are_keyed_by_batch_size_and_code(tmp_path):
    # another batch size changes a transformer's last bits, so its entry is never served
    enc = _CountingEncoder()
    encode_cached(enc, PARA, cache_dir=tmp_path)
    _, hit = encode_cached(enc, PARA, cache_dir=tmp_path, batch_size=2)
    assert not hit and enc.calls > 1
    _, hit = encode_cached(enc, PARA, cache_dir=tmp_path, batch_size=enc.default_batch_size)
    assert hit  # None means the encoder's default batch size
    from repalign.encoders.cache import cache_key

    class Other(_CountingEncoder):
        packages = ("numpy",)

    assert cache_key(enc, "x") != cache_key(Other(), "x")


@pytest.mark.parametrize("bad,reason", [
    (np.zeros((len(PARA), 10), dtype=np.float32), "10 columns"),
    (np.zeros((len(PARA), 3), dtype=np.float16), "float16"),
    (np.full((len(PARA), 3), np.nan, dtype=np.float32), "NaN"),
])
def test_cache_entries_that_the_encoder_could_not_have_written_are_recomputed(tmp_path, bad, reason):
    # bug: entries of the wrong width, dtype or all-NaN were served as hits (their checksum matched)
    import hashlib
    import io

    enc = _CountingEncoder()
    a, _ = encode_cached(enc, PARA, cache_dir=tmp_path)
    (entry,) = (tmp_path / "embeddings").glob("*.npy")
    buf = io.BytesIO()
    np.save(buf, bad)
    entry.write_bytes(buf.getvalue())
    entry.with_name(entry.name + ".sha256").write_text(hashlib.sha256(buf.getvalue()).hexdigest() + "\n")
    with pytest.warns(RepalignWarning, match=reason):
        b, hit = encode_cached(enc, PARA, cache_dir=tmp_path)
    assert not hit and np.array_equal(a, b)


def test_the_registry_knows_the_block_counts():
    pytest.importorskip("efficientnet_lite_pytorch")
    from repalign.encoders import get_encoder
    from repalign.encoders.registry import EFFNET_BLOCKS

    for name, blocks in EFFNET_BLOCKS.items():
        try:
            enc = get_encoder(name)
        except ValueError as exc:  # weights package not installed
            pytest.skip(str(exc))
        assert enc.n_blocks == blocks, name
