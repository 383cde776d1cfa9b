"""Layer-wise CKA map cost against the forward passes alone (issue 11 target: <= 1.3x), and peak
memory that does not grow with n.

EfficientNet-Lite0 (16 blocks) against itself, streamed estimator, batch 32. Baseline in the
same run: the same forward passes with no hooks (``encoder._forward`` over the same batches), in
the default layout and in channels-last (the layout ``layerwise`` forwards convolutional models in
on the CPU; the ratio is taken against it), after a warm-up of both.
Each size runs in its own process so that its peak RSS is its own.
Lite0 vs Lite2 against torch-cka: ``bench_vs_torch_cka.py``.
"""

import json
import sys
import time
from pathlib import Path

import _common  # noqa: F401
import numpy as np
from _common import child_json, peak_rss_mb, table

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

    def forward(layout):
        enc.model.to(memory_format=layout)
        t0 = time.perf_counter()
        with torch.inference_mode():
            for s in range(0, n, 32):
                enc._forward(enc._input(imgs[s:s + 32]))
        enc.model.to(memory_format=torch.contiguous_format)
        return time.perf_counter() - t0

    x = enc._input(imgs[:32])
    for layout in (torch.channels_last, torch.contiguous_format):  # warm-up (oneDNN primitives, allocator)
        enc.model.to(memory_format=layout)
        with torch.inference_mode():
            enc._forward(x)
    base = peak_rss_mb()
    t_fwd = forward(torch.contiguous_format)
    t_cl = forward(torch.channels_last)
    t0 = time.perf_counter()
    res = layerwise(enc, None, imgs, batch_size=32)
    t_map = time.perf_counter() - t0
    print(json.dumps({"n": n, "forward": t_fwd, "forward_cl": t_cl, "map": t_map, "peak_mb": peak_rss_mb() - base,
                      "source": source, "layers": len(res.layers_a)}))


def main(argv):
    if argv and argv[0] == "--one":
        one(int(argv[1]))
        return 0
    rows = []
    for n in (256, 1024):
        r = child_json(__file__, "--one", n)
        if r is None:
            return 1
        rows.append([r["n"], r["forward"], r["forward_cl"], r["map"],
                     f"{r['map'] / r['forward_cl']:.2f}x (target <= 1.3x)", r["peak_mb"], r["source"]])
    table(f"Layer-wise CKA map, efficientnet-lite0 vs itself ({rows[0][-1]}), 16 blocks, streamed",
          ["n", "forward passes alone, default layout (s)", "forward passes alone, channels-last (s)",
           "whole map (s)", "map / forward (channels-last)", "peak MB above start", "items"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
