"""Layer-wise CKA map cost against the forward passes alone (issue 11 target: <= 1.3x), and peak
memory that does not grow with n.

EfficientNet-Lite0 (16 blocks) against itself, streamed estimator, batch 32. Baseline in the
same run: the same forward passes with no hooks (``encoder._forward`` over the same batches).
Each size runs in its own process so that its peak RSS is its own.

Second table (issue 21): EfficientNet-Lite0 vs Lite2, all blocks, CIFAR-10 test images at
160 px, batch 32, one DataLoader of the preprocessed tensors for everyone: the bare forward
passes of both models (baseline), repalign's streamed and minibatch maps (targets: <= 1.15x the
forward passes), and torch-cka (installed by ``make bench``) with its estimator (minibatch
unbiased HSIC of flattened outputs; repalign's ``estimator="minibatch", pooling="flatten"`` is
the same estimator: target torch-cka / repalign >= 1.3, values compared).
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import _common  # noqa: F401
import numpy as np
from _common import peak_rss_mb, table

HERE = Path(__file__).parent


def items(n):
    from repalign.encoders.images import load_rgb

    try:
        from repalign.datasets import load_cifar10

        ds = load_cifar10(per_class=max(1, -(-n // 10)), seed=0)
        return [np.asarray(load_rgb(p)) for p in ds.items[:n]], "CIFAR-10 test images"
    except ValueError:
        rng = np.random.default_rng(0)
        return [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(n)], "random images"


def one(n: int):
    import repalign as ra
    from repalign._layerwise import layerwise

    imgs, source = items(n)
    enc = ra.get_encoder("efficientnet-lite0")
    import torch

    base = peak_rss_mb()
    t0 = time.perf_counter()
    with torch.inference_mode():
        for s in range(0, n, 32):
            enc._forward(enc._input(imgs[s:s + 32]))
    t_fwd = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = layerwise(enc, None, imgs, batch_size=32)
    t_map = time.perf_counter() - t0
    print(json.dumps({"n": n, "forward": t_fwd, "map": t_map, "peak_mb": peak_rss_mb() - base, "source": source,
                      "layers": len(res.layers_a)}))


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


def peers_table():
    rows = []
    for n in (256, 1024):
        out = subprocess.run([sys.executable, __file__, "--peers", str(n)], capture_output=True, text=True, cwd=HERE)
        if out.returncode:
            print(out.stderr[-2000:])
            return 1
        r = json.loads(out.stdout.strip().splitlines()[-1])
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


def main(argv):
    if argv and argv[0] == "--one":
        one(int(argv[1]))
        return 0
    if argv and argv[0] == "--peers":
        peers(int(argv[1]))
        return 0
    if argv and argv[0] == "--peers-only":
        return peers_table()
    rows = []
    for n in (256, 1024):
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, cwd=HERE)
        if out.returncode:
            print(out.stderr[-2000:])
            return 1
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append([r["n"], r["forward"], r["map"], f"{r['map'] / r['forward']:.2f}x (target <= 1.3x)",
                     r["peak_mb"], r["source"]])
    table(f"Layer-wise CKA map, efficientnet-lite0 vs itself ({rows[0][-1]}), 16 blocks, streamed",
          ["n", "forward passes alone (s)", "whole map (s)", "map / forward", "peak MB above start", "items"], rows)
    return peers_table()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
