"""Generic loaders for users who are online or have local model folders.

* :class:`HFVisionEncoder` – any Hugging Face ``transformers`` vision backbone (id or folder):
  ``AutoImageProcessor`` + ``AutoModel``; embedding = ``pooler_output`` when the model has one,
  else the CLS token of ``last_hidden_state`` (``pool="cls"``) or the token mean (``"mean"``).
* :class:`TimmEncoder` – ``timm.create_model(name, pretrained=True, num_classes=0)`` with the
  model's own data config.
* :class:`OpenClipEncoder` – an ``open_clip`` model's image or text tower.

These need their packages and (for hub ids) a connection; local folders work offline.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from .base import Encoder, set_offline_env
from .images import load_rgb
from .text import missing_package

__all__ = ["HFVisionEncoder", "TimmEncoder", "OpenClipEncoder"]


class _TorchEncoder(Encoder):
    """Shared set-up of the torch-based generic loaders: offline environment, optional
    package import with a clear error, thread count and device."""

    def _setup(self, name: str, pkg: str, modules: tuple[str, ...], device: str):
        set_offline_env()
        try:
            mods = [importlib.import_module(m) for m in ("torch", *modules)]
        except ImportError:
            raise missing_package(pkg, name, in_extra=pkg == "transformers") from None
        if self.n_jobs:
            mods[0].set_num_threads(int(self.n_jobs))
        self.torch, self.name, self.device = mods[0], name, device
        return mods[1:]


class HFVisionEncoder(_TorchEncoder):
    """A Hugging Face vision backbone (hub id or local folder), pooled output."""

    packages = ("torch", "transformers", "pillow")
    modality = "image"
    default_batch_size = 16

    def __init__(self, model: str | Path, pool: str = "auto", device: str = "cpu", n_jobs: int | None = None):
        super().__init__(n_jobs)
        if pool not in ("auto", "cls", "mean"):
            raise ValueError(f"pool: expected 'auto', 'cls' or 'mean', got {pool!r}")
        (tf,) = self._setup(f"hf:{model}", "transformers", ("transformers",), device)
        AutoImageProcessor, AutoModel = tf.AutoImageProcessor, tf.AutoModel
        self.model_ref = str(model)
        self.pool = pool
        try:
            self.processor = AutoImageProcessor.from_pretrained(self.model_ref)
            self.model = AutoModel.from_pretrained(self.model_ref).to(device).eval()
        except Exception as exc:
            raise ValueError(f"encoder {self.name!r}: cannot load ({type(exc).__name__}: {exc})") from None

    def preprocessing(self) -> dict:
        return {"model": Path(self.model_ref).name, "pool": self.pool, "processor": type(self.processor).__name__}

    def _encode_batch(self, items):
        images = [load_rgb(i) for i in items]
        inputs = self.processor(images=images, return_tensors="pt").to(self.device)
        with self.torch.inference_mode():
            out = self.model(**inputs)
        pooled = getattr(out, "pooler_output", None)
        if self.pool == "auto" and pooled is not None:
            emb = pooled
        else:
            hidden = out.last_hidden_state
            if hidden.ndim == 4:  # convolutional: (b, c, h, w)
                emb = hidden.mean(dim=(2, 3))
            elif self.pool == "mean":
                emb = hidden.mean(dim=1)
            else:
                emb = hidden[:, 0]
        emb = emb.reshape(emb.shape[0], -1)
        return emb.float().cpu().numpy()


class TimmEncoder(_TorchEncoder):
    """A timm model (``pretrained=True`` needs its weights locally or a connection)."""

    packages = ("torch", "timm", "pillow")
    modality = "image"
    default_batch_size = 16

    def __init__(self, model: str, pretrained: bool = True, device: str = "cpu", n_jobs: int | None = None):
        super().__init__(n_jobs)
        timm, timm_data = self._setup(f"timm:{model}", "timm", ("timm", "timm.data"), device)
        try:
            self.model = timm.create_model(model, pretrained=pretrained, num_classes=0).to(device).eval()
        except Exception as exc:
            raise ValueError(f"encoder {self.name!r}: cannot load ({type(exc).__name__}: {exc})") from None
        cfg = timm_data.resolve_data_config({}, model=self.model)
        self.transform = timm_data.create_transform(**cfg)
        self.dim = self.model.num_features

    def preprocessing(self) -> dict:
        return {"model": self.name, "transform": repr(self.transform)}

    def _encode_batch(self, items):
        x = self.torch.stack([self.transform(load_rgb(i)) for i in items]).to(self.device)
        with self.torch.inference_mode():
            return self.model(x).float().cpu().numpy()


class OpenClipEncoder(_TorchEncoder):
    """An open_clip image (default) or text tower."""

    packages = ("torch", "open_clip_torch", "pillow")
    default_batch_size = 32

    def __init__(self, arch: str, pretrained: str | None = None, tower: str = "image",
                 device: str = "cpu", n_jobs: int | None = None):
        super().__init__(n_jobs)
        if tower not in ("image", "text"):
            raise ValueError(f"tower: expected 'image' or 'text', got {tower!r}")
        (open_clip,) = self._setup(f"open_clip:{arch}:{pretrained}:{tower}", "open_clip_torch", ("open_clip",), device)
        self.modality = tower
        try:
            self.model, _, self.preprocess = open_clip.create_model_and_transforms(arch, pretrained=pretrained)
        except Exception as exc:
            raise ValueError(f"encoder {self.name!r}: cannot load ({type(exc).__name__}: {exc})") from None
        self.model = self.model.to(device).eval()
        self.tokenizer = open_clip.get_tokenizer(arch)

    def preprocessing(self) -> dict:
        return {"model": self.name}

    def _encode_batch(self, items):
        with self.torch.inference_mode():
            if self.modality == "image":
                x = self.torch.stack([self.preprocess(load_rgb(i)) for i in items]).to(self.device)
                out = self.model.encode_image(x)
            else:
                out = self.model.encode_text(self.tokenizer(items).to(self.device))
        return np.asarray(out.float().cpu().numpy())
