"""Layer-wise maps against torch-cka (issue 21): EfficientNet-Lite0 vs Lite2, all blocks, CIFAR-10
test images at 160 px, batch 32, one DataLoader of the preprocessed tensors for everyone.

Rows: the bare forward passes of both models in the default layout and in channels-last (the
layout repalign forwards convolutional models in on the CPU: the baseline), repalign's streamed
and minibatch maps (targets: <= 1.15x the forward passes; also measured within each call, as
the call's time over the time spent inside the two models' forward methods, which the machine's
drift between runs cannot skew), and torch-cka (installed by ``make bench``) with its
estimator (minibatch unbiased HSIC of flattened outputs; repalign's ``estimator="minibatch",
pooling="flatten"`` is the same estimator: target torch-cka / repalign >= 1.3, values compared).
Each size runs in its own process: a warm-up, then rounds of every run in turn (5 at 256 items,
3 at 1,024: about 20 minutes in all), medians.

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


def peers(n: int, repeat: int):
    """One size in its own process: a warm-up pass of each model, then ``repeat`` rounds, each
    timing (in turn) the bare forward passes in both memory layouts, repalign's two estimators and
    torch-cka; medians per run (a noisy shared machine: alternating, so drift hits all alike)."""
    import copy
    import statistics
    import warnings

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
    out = {"n": n, "source": source, "layers": [len(la), len(lb)], "repeat": repeat}
    try:
        from torch_cka import CKA
    except ImportError:
        CKA = None

    def bare(layout):
        A.to(memory_format=layout)
        B.to(memory_format=layout)
        try:
            with torch.inference_mode():
                for (xb,) in loader:
                    A(xb)
                    B(xb)
        finally:
            A.to(memory_format=torch.contiguous_format)
            B.to(memory_format=torch.contiguous_format)

    inside = [0.0]  # seconds spent inside the two models' forward calls

    def timed(forward):
        def run(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return forward(*args, **kwargs)
            finally:
                inside[0] += time.perf_counter() - t0
        return run

    def ours(est, pool):
        inside[0] = 0.0
        A.forward, B.forward = timed(type(A).forward.__get__(A)), timed(type(B).forward.__get__(B))
        t0 = time.perf_counter()
        try:
            res = ra.layerwise(A, B, loader, layers_a=la, layers_b=lb, estimator=est, pooling=pool)
        finally:
            del A.forward, B.forward
        total = time.perf_counter() - t0
        # the statistics' share measured within the call itself: (call - forward passes) / forward
        # passes, immune to the machine's drift between runs
        share.setdefault(est, []).append((total - inside[0]) / inside[0])
        out[f"{est}_matrix"] = res.matrix.tolist()

    def theirs():
        # torch-cka leaves its hooks on the models: give it copies
        cka = CKA(copy.deepcopy(A), copy.deepcopy(B), model1_layers=la, model2_layers=lb, device="cpu")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cka.compare(loader)
        out["torch_cka_matrix"] = cka.export()["CKA"].numpy().tolist()

    runs = {"forward": lambda: bare(torch.contiguous_format),
            "forward_cl": lambda: bare(torch.channels_last),
            "streamed": lambda: ours("streamed", "mean"),
            "minibatch": lambda: ours("minibatch", "flatten")}
    if CKA is not None:
        runs["torch_cka"] = theirs
    xb = next(iter(loader))[0]
    for layout in (torch.channels_last, torch.contiguous_format):  # warm-up: oneDNN primitives, allocator
        A.to(memory_format=layout)
        B.to(memory_format=layout)
        with torch.inference_mode():
            A(xb)
            B(xb)
    share = {}
    times = {k: [] for k in runs}
    for _ in range(repeat):
        for k, f in runs.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    for k, v in times.items():
        out[k] = statistics.median(v)
    for k, v in share.items():
        out[f"{k}_share"] = statistics.median(v)
    if CKA is None:
        out["torch_cka"] = None
    else:
        out["max_diff"] = float(np.max(np.abs(np.asarray(out["torch_cka_matrix"]) - np.asarray(out["minibatch_matrix"]))))
    print(json.dumps(out))


REPEATS = {256: 5, 1024: 3}


def main():
    rows = []
    for n, repeat in REPEATS.items():
        r = child_json(__file__, "--one", n, repeat)
        if r is None:
            return 1
        f, fcl = r["forward"], r["forward_cl"]
        rows.append([n, repeat, "bare forward passes, both models, default layout", f, "", "", ""])
        rows.append([n, repeat, "bare forward passes, both models, channels-last (baseline)", fcl, "1.00x", "", ""])
        for est in ("streamed", "minibatch"):
            rows.append([n, repeat, f"repalign {est}" + (" (flatten)" if est == "minibatch" else " (mean pooling)"),
                         r[est], f"{r[est] / fcl:.2f}x; in-call {1 + r[est + '_share']:.3f}x (target <= 1.15x)", "",
                         ""])
        if r["torch_cka"] is not None:
            rows.append([n, repeat, "torch-cka (peer; minibatch, flatten)", r["torch_cka"], f"{r['torch_cka'] / fcl:.2f}x",
                         f"{r['torch_cka'] / r['minibatch']:.2f} (target >= 1.3)", f"{r['max_diff']:.1e}"])
    table(f"Layer-wise maps, EfficientNet-Lite0 vs Lite2, all blocks ({r['layers'][0]} x {r['layers'][1]}), 160 px, "
          f"batch 32 ({r['source']}); median of the rounds, runs alternating, after a warm-up",
          ["n", "rounds", "run", "seconds", "vs forward passes (channels-last); in-call: (call) / (its forward passes)",
           "torch-cka / repalign minibatch",
           "max |Δ CKA| vs torch-cka"], rows)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--one":
        peers(int(sys.argv[2]), int(sys.argv[3]))
        sys.exit(0)
    sys.exit(main())
