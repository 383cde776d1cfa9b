"""Classification through local CKA, an analogue of maniparambil2024 Table 3 (§5.3).

CIFAR-10 test images (``per_class`` of each class) through EfficientNet-Lite0/1/2
(ImageNet-supervised, never trained with language) against the 10 class names through text
encoders (prompt templates averaged). ``base_per_class`` labelled images per class give the
base pairs (image, embedding of its class text); the other images are classified by the best
local CKA (or a baseline) against the 10 class texts. Top-1 / top-5 over seeds.
"""

from __future__ import annotations

import time

import numpy as np

from .._log import info as log_info
from ..datasets import class_name_embeddings, load_cifar10
from ..encoders import encode_cached, get_encoder
from ..io import check_writable
from ..matching import class_scores, stretch, topk_accuracy
from ..matching.metrics import confusion
from ._base import TableResult, write_result

__all__ = ["ClassificationResult", "run_classification"]

METHODS = ("local-cka", "linear", "relative")


class ClassificationResult(TableResult):

    def markdown(self) -> str:
        lines = ["| image encoder | text encoder | " + " | ".join(f"{m} top-1" for m in METHODS)
                 + " | local-cka top-5 |", "|---|---|" + "---|" * (len(METHODS) + 1)]
        for r in self.rows:
            cells = [f"{100 * r[m]['top1']:.1f} ± {100 * r[m]['top1_std']:.1f}" for m in METHODS]
            lines.append(f"| {r['image_encoder']} | {r['text_encoder']} | " + " | ".join(cells)
                         + f" | {100 * r['local-cka']['top5']:.1f} |")
        return "\n".join(lines)


def run_classification(data_dir=None, image_encoders=("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"),
                       text_encoders=("minilm", "use-multilingual", "e5-small-multilingual"), per_class: int = 100,
                       base_per_class: int = 10, seeds=(0, 1, 2), use_stretch: bool = True, out=None,
                       force: bool = False, progress: bool = False, log=log_info) -> ClassificationResult:
    """Run the experiment (see module docstring); writes JSON to ``out`` when given."""
    if out:
        check_writable(out, force)
    if base_per_class >= per_class:
        raise ValueError(f"base_per_class: must be smaller than per_class ({per_class}) to leave queries")
    t0 = time.perf_counter()
    ds = load_cifar10(per_class=per_class, seed=0, data_dir=data_dir)
    y = ds.labels
    texts = {}
    for name in text_encoders:
        texts[name] = class_name_embeddings(get_encoder(name), ds.class_names)
    rows = []
    for img in image_encoders:
        Z = encode_cached(get_encoder(img), ds.items, progress=progress)[0].astype(np.float64)
        Zs = stretch(Z) if use_stretch else Z
        for txt in text_encoders:
            T = texts[txt]
            runs = {m: [] for m in METHODS}
            conf = np.zeros((len(ds.class_names),) * 2, dtype=np.int64)
            for seed in seeds:
                rng = np.random.default_rng(seed)
                base = np.concatenate([rng.choice(np.flatnonzero(y == c), base_per_class, replace=False)
                                       for c in range(len(ds.class_names))])
                query = np.setdiff1d(np.arange(len(y)), base)
                for m in METHODS:
                    S = class_scores(Zs[base], y[base], T, Zs[query], method=m)
                    runs[m].append(topk_accuracy(S, y[query], ks=(1, 5)))
                    if m == "local-cka":
                        conf += confusion(y[query], np.argmax(S, axis=1), len(ds.class_names))
            row = {"image_encoder": img, "text_encoder": txt, "confusion": conf.tolist()}  # local CKA, all seeds
            for m, rs in runs.items():
                row[m] = {}
                for k in ("top1", "top5"):
                    v = np.array([r[k] for r in rs])
                    row[m][k], row[m][f"{k}_std"] = float(v.mean()), float(v.std())
            rows.append(row)
            log(f"{img} vs {txt}: "
                + ", ".join(f"{m} {100 * row[m]['top1']:.1f}" for m in METHODS))
    result = ClassificationResult(rows, {"per_class": per_class, "base_per_class": base_per_class,
                                         "seeds": list(seeds), "stretch": use_stretch, "chance_top1": 0.1,
                                         "class_names": list(ds.class_names)},
                                  time.perf_counter() - t0, experiment="classification")
    write_result(result, out, force)
    return result
