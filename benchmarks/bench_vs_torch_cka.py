"""Layer-wise maps against torch-cka (issue 21): EfficientNet-Lite0 vs Lite2, all blocks, CIFAR-10
test images at 160 px, batch 32, one DataLoader of the preprocessed tensors for everyone.

Rows: the bare forward passes of both models (baseline), repalign's streamed and minibatch maps
(targets: <= 1.15x the forward passes), and torch-cka (installed by ``make bench``) with its
estimator (minibatch unbiased HSIC of flattened outputs; repalign's ``estimator="minibatch",
pooling="flatten"`` is the same estimator: target torch-cka / repalign >= 1.3, values compared).
Each size runs in its own process.

    python benchmarks/bench_vs_torch_cka.py
"""

import json
import sys
import time
from pathlib import Path

import _common  # noqa: F401
import numpy as np
from _common import child_json, table
from bench_layerwise import items

HERE = Path(__file__).parent


def peers(n: int):
    import copy

    import torch
    from torch.utils.data import DataLoader, TensorDataset

    import repalign as ra

    imgs, source = items(n)
    enc0 = ra.get_encoder("efficientnet-lite0", image_size=160)
    enc2 = ra.get_encoder("efficientnet-lite2", image_size=160)
    x = enc0._input(imgs).float()  # (n, 3, 160, 160): the same tensors for both models and every method
    loader = DataLoader(TensorDataset(x), batch_size=32)
    A, B = enc0.model.eval(), enc2.model.eval()
    la = [f"_blocks.{i}" for i in range(len(A._blocks))]
    lb = [f"_blocks.{i}" for i in range(len(B._blocks))]
    out = {"n": n, "source": source, "layers": [len(la), len(lb)]}
    t0 = time.perf_counter()
    with torch.inference_mode():
        for (xb,) in loader:
            A(xb)
            B(xb)
    out["forward"] = time.perf_counter() - t0
    for est, pool in (("streamed", "mean"), ("minibatch", "flatten")):
        t0 = time.perf_counter()
        res = ra.layerwise(A, B, loader, layers_a=la, layers_b=lb, estimator=est, pooling=pool)
        out[est] = time.perf_counter() - t0
        out[f"{est}_matrix"] = res.matrix.tolist()
    try:
        from torch_cka import CKA
    except ImportError:
        out["torch_cka"] = None
    else:
        # torch-cka leaves its hooks on the models: give it copies
        cka = CKA(copy.deepcopy(A), copy.deepcopy(B), model1_layers=la, model2_layers=lb, device="cpu")
        t0 = time.perf_counter()
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cka.compare(loader)
        out["torch_cka"] = time.perf_counter() - t0
        theirs = cka.export()["CKA"].numpy()
        out["max_diff"] = float(np.max(np.abs(theirs - np.asarray(out["minibatch_matrix"]))))
    print(json.dumps(out))


def main():
    rows = []
    for n in (256, 1024):
        r = child_json(__file__, "--one", n)
        if r is None:
            return 1
        f = r["forward"]
        rows.append([n, "bare forward passes, both models (baseline)", f, "1.00x", "", ""])
        for est in ("streamed", "minibatch"):
            rows.append([n, f"repalign {est}" + (" (flatten)" if est == "minibatch" else " (mean pooling)"), r[est],
                         f"{r[est] / f:.2f}x (target <= 1.15x)", "", ""])
        if r["torch_cka"] is not None:
            rows.append([n, "torch-cka (peer; minibatch, flatten)", r["torch_cka"], f"{r['torch_cka'] / f:.2f}x",
                         f"{r['torch_cka'] / r['minibatch']:.2f} (target >= 1.3)", f"{r['max_diff']:.1e}"])
    table(f"Layer-wise maps, EfficientNet-Lite0 vs Lite2, all blocks ({r['layers'][0]} x {r['layers'][1]}), 160 px, "
          f"batch 32 ({r['source']})",
          ["n", "run", "seconds", "vs forward passes", "torch-cka / repalign minibatch", "max |Δ CKA| vs torch-cka"],
          rows)
    return 0



if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        peers(int(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())
