"""The CUDA paths, checked against the CPU on a machine with a GPU (issue 20). Not a test: run it
where a GPU is lent (``python benchmarks/gpu_check.py``, under 10 minutes); on a machine without
CUDA it says so and exits 0 without writing results.

1. Linear CKA on 10⁶ x 1,024 float32 rows generated chunk by chunk on the device (no host copy):
   ``repalign.cka(X, Y, device="cuda")`` against the same tensors on the CPU (``device="cpu"``:
   the NumPy path, float32 products, float64 sums); relative difference <= 1e-6.
2. RBF CKA (median rule; n = 20,000 is above 8,192 rows, so the blockwise route on both sides)
   and debiased linear CKA: CUDA vs CPU <= 1e-6 relative.
3. SPEC, cosine kernel, 10⁶ x 256 float32 rows per side (covariances and eigen-solve on the
   device, features and mode scores on the CPU): the top eigenvalues, CUDA vs CPU <= 1e-6 relative.
4. Layer-wise maps of EfficientNet-Lite0 vs Lite2 (all blocks, streamed estimator) on 10,000
   generated 3 x 160 x 160 images, batch 64: ``layerwise(..., device="cuda")`` vs the CPU map,
   TF32 off; max |difference| <= 1e-6 relative.

Seconds of each side and the speed-up go to benchmarks/results/gpu_check.json, from which the
README's GPU table is made.
"""

import argparse
import os
import sys
import time

import _common  # noqa: F401
import numpy as np
from _common import table


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--gram-n", type=int, default=20_000)
    ap.add_argument("--images", type=int, default=10_000)
    args = ap.parse_args(argv)
    import torch

    import repalign as ra

    if not torch.cuda.is_available():
        print("no CUDA device here: nothing checked (run this where a GPU is lent)")
        _common.TABLES.clear()
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False  # full float32 on both sides
    torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(os.cpu_count() or 1)
    gen = torch.Generator(device="cuda").manual_seed(0)
    rows = []

    # 1. linear CKA on 10^6 x 1024, generated on the device chunk by chunk
    W = torch.randn(args.dim, args.dim, device="cuda", generator=gen) / args.dim ** 0.5
    X = torch.empty(args.rows, args.dim, device="cuda")
    Y = torch.empty(args.rows, args.dim, device="cuda")
    for s in range(0, args.rows, 100_000):
        x = torch.randn(min(100_000, args.rows - s), args.dim, device="cuda", generator=gen)
        X[s:s + len(x)] = x
        Y[s:s + len(x)] = x @ W + torch.randn(x.shape, device="cuda", generator=gen)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    gpu = ra.cka(X, Y, device="cuda")
    t_gpu = time.perf_counter() - t0
    X, Y = X.cpu(), Y.cpu()  # frees the device copies
    t0 = time.perf_counter()
    cpu = ra.cka(X, Y, device="cpu")
    t_cpu = time.perf_counter() - t0
    rows.append([f"linear CKA {args.rows:,} x {args.dim}", t_cpu, t_gpu, t_cpu / t_gpu, abs(gpu - cpu) / abs(cpu)])
    X = Y = None

    # 2. the Gram route
    n = args.gram_n
    A = torch.randn(n, 256, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    B = A[:, :128] @ torch.randn(128, 256, dtype=torch.float64) + torch.randn(n, 256, dtype=torch.float64)
    for label, kw in (("RBF CKA, median rule", dict(kernel="rbf")), ("debiased linear CKA", dict(debiased=True))):
        cpu, t_cpu = timed(lambda kw=kw: ra.cka(A, B, device="cpu", **kw))
        gpu, t_gpu = timed(lambda kw=kw: ra.cka(A.cuda(), B.cuda(), device="cuda", **kw))
        rows.append([f"{label}, n = {n:,} (float64)", t_cpu, t_gpu, t_cpu / t_gpu, abs(gpu - cpu) / abs(cpu)])

    # 3. SPEC, cosine, 10^6 rows
    g = torch.Generator().manual_seed(3)
    A = torch.randn(args.rows, 256, generator=g)
    B = A[:, :64] @ torch.randn(64, 256, generator=g) + torch.randn(args.rows, 256, generator=g)
    A, B = A.numpy(), B.numpy()
    cpu, t_cpu = timed(lambda: ra.spec(A, B, "cosine", route="cholesky"))
    gpu, t_gpu = timed(lambda: ra.spec(A, B, "cosine", route="cholesky", device="cuda"))
    top = [m.eigenvalue for m in cpu.modes]
    diff = max(abs(x - y) / abs(x) for x, y in zip(top, [m.eigenvalue for m in gpu.modes], strict=True))
    rows.append([f"SPEC cosine {args.rows:,} x 256 (float32)", t_cpu, t_gpu, t_cpu / t_gpu, diff])
    A = B = None

    # 4. layer-wise maps of two EfficientNets
    imgs = torch.rand(args.images, 3, 160, 160, generator=torch.Generator().manual_seed(2)) * 2 - 1
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(imgs), batch_size=64)
    from repalign.encoders import get_encoder

    a, b = get_encoder("efficientnet-lite0").model, get_encoder("efficientnet-lite2").model
    la = [f"_blocks.{i}" for i in range(len(a._blocks))]
    lb = [f"_blocks.{i}" for i in range(len(b._blocks))]
    cpu, t_cpu = timed(lambda: ra.layerwise(a, b, loader, layers_a=la, layers_b=lb, device="cpu"))
    gpu, t_gpu = timed(lambda: ra.layerwise(a, b, loader, layers_a=la, layers_b=lb, device="cuda"))
    diff = float(np.max(np.abs(gpu.matrix - cpu.matrix) / np.abs(cpu.matrix)))
    rows.append([f"layer-wise Lite0 x Lite2, {args.images:,} images", t_cpu, t_gpu, t_cpu / t_gpu, diff])

    for r in rows:
        r.append("yes" if r[4] <= 1e-6 else "NO")
    table(f"CUDA against the CPU ({torch.cuda.get_device_name(0)}; CPU: {os.cpu_count()} cores)",
          ["check", "cpu s", "cuda s", "speed-up", "max rel diff", "<= 1e-6"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
