"""SPEC-align on real data (jalali2025): EfficientNet-Lite0 pulled toward Lite2 on CIFAR-10, with
held-out SPEC-diff, CKA and k-NN accuracy before and after. Its own module because it is the one
experiment that needs torch."""

from __future__ import annotations

import time

import numpy as np

from .._log import info as log_info
from ..datasets import load_cifar10
from ..encoders import encode_cached, get_encoder
from ..io import check_writable
from ..spectral.align import spec_align
from ._base import TableResult, write_result

__all__ = ["SpecAlignExperimentResult", "run_spec_align"]


class SpecAlignExperimentResult(TableResult):
    def markdown(self) -> str:
        lines = ["| A → B | head | loss | SPEC-diff before → after | CKA before → after | k-NN accuracy before → after "
                 "| drift of A |", "|---|---|---|---|---|---|---|"]
        for r in self.rows:
            b, a = r["before"], r["after"]
            lines.append(f"| {r['a']} → {r['b']} | {r['head']} | {r['loss']} | {b['spec_diff']:.4f} → "
                         f"{a['spec_diff']:.4f} | {b['cka']:.3f} → {a['cka']:.3f} | {100 * b['knn_accuracy']:.1f} → "
                         f"{100 * a['knn_accuracy']:.1f} % | {r['drift']:.4f} |")
        s = self.settings
        lines.append(f"\nCIFAR-10, {s['per_class']} images per class, {100 * s['test_fraction']:.0f} % held out for "
                     f"every number; cosine kernel; {s['epochs']} epochs, batch {s['batch_size']}, keep weight "
                     f"{s['keep_weight']}; k-NN (k = 5, cosine) fitted on the training images.")
        return "\n".join(lines)


def run_spec_align(data_dir=None, a: str = "efficientnet-lite0", b: str = "efficientnet-lite2", per_class: int = 100,
                   epochs: int = 40, batch_size: int = 128, keep_weight: float = 0.1, test_fraction: float = 0.3,
                   seed: int = 0, out=None, force: bool = False, progress: bool = False,
                   log=log_info) -> SpecAlignExperimentResult:
    """SPEC-align of ``a`` toward ``b`` on CIFAR-10 (module docstring)."""
    if out:
        check_writable(out, force)
    t0 = time.perf_counter()
    ds = load_cifar10(per_class=per_class, seed=0, data_dir=data_dir)
    A = encode_cached(get_encoder(a), ds.items, progress=progress)[0].astype(np.float64)
    B = encode_cached(get_encoder(b), ds.items, progress=progress)[0].astype(np.float64)
    rows = []
    for head, loss in (("linear", "spec"), ("mlp", "frobenius")):
        r = spec_align(A, B, kernel="cosine", head=head, loss=loss, epochs=epochs, batch_size=batch_size, lr=1e-3,
                       keep_weight=keep_weight, test_fraction=test_fraction, labels=ds.labels, seed=seed,
                       progress=progress)
        rows.append({"a": a, "b": b, "head": head, "loss": loss, "before": r.before, "after": r.after,
                     "drift": r.drift, "history": r.history})
        log(f"{head}/{loss}: SPEC-diff {r.before['spec_diff']:.4f} -> "
            f"{r.after['spec_diff']:.4f}, k-NN {r.before['knn_accuracy']:.3f} -> {r.after['knn_accuracy']:.3f}")
    result = SpecAlignExperimentResult(rows, {"per_class": per_class, "epochs": epochs, "batch_size": batch_size,
                                              "keep_weight": keep_weight, "test_fraction": test_fraction, "seed": seed},
                                       time.perf_counter() - t0, experiment="spec-align")
    write_result(result, out, force)
    return result
