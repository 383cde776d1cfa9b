"""Out-of-core linear CKA on a Dask LocalCluster (issue 12).

X: 10,000,000 x 1,024 float32 rows stored in a zarr array on disk (41 GB, written once under
$TMPDIR and reused); Y: a fixed random projection of each X chunk plus seeded noise, computed on
the workers from the same chunk (a second 41 GB store would not fit on this disk). Target: peak
memory <= 4 GB per worker; baseline in the same run: the in-memory path (repalign.cka's feature
route) on the first 10⁶ rows, whose throughput (rows/s) the cluster run is compared with, and
whose value the cluster run on those rows must equal.

``--rows`` makes a smaller store for a quick check. Worker memory is read from the workers'
own peak resident set (``VmHWM`` in ``/proc/self/status``).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401
import numpy as np
from _common import table

D = 1024
CHUNK = 50_000


def store(rows: int):
    import zarr

    path = Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / f"repalign-bench-dask-{rows}.zarr"
    if (path / ".complete").exists():
        return zarr.open_array(str(path), mode="r"), path
    z = zarr.open_array(str(path), mode="w", shape=(rows, D), chunks=(CHUNK, D), dtype="f4")
    t0 = time.perf_counter()
    for s in range(0, rows, CHUNK):
        e = min(rows, s + CHUNK)
        z[s:e] = np.random.default_rng(s).standard_normal((e - s, D), dtype=np.float32)
    (path / ".complete").write_text("ok")
    print(f"wrote {path} ({rows * D * 4 / 2**30:.1f} GB) in {time.perf_counter() - t0:.0f} s", flush=True)
    return zarr.open_array(str(path), mode="r"), path


def _y_block(x, block_info=None):
    R = np.random.default_rng(7).standard_normal((D, 256), dtype=np.float32) / np.float32(np.sqrt(D))
    start = block_info[0]["array-location"][0][0] if block_info else 0
    noise = np.random.default_rng(10_000 + start).standard_normal((x.shape[0], 256), dtype=np.float32)
    return (x @ R + 2.0 * noise).astype(np.float32)


def pair(z):
    import dask.array as da

    X = da.from_zarr(z)
    Y = X.map_blocks(_y_block, chunks=(X.chunks[0], (256,)), dtype=np.float32)
    return X, Y


def _peak_rss_mb():
    """This process's peak resident set (VmHWM). Not ``ru_maxrss``: execve keeps it, so a worker
    spawned from a process that once held 15 GB reports 15 GB (what an earlier run of this
    benchmark printed)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")  # pragma: no cover - not Linux


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--baseline-rows", type=int, default=1_000_000)
    args = p.parse_args(argv)
    from distributed import Client, LocalCluster

    import repalign as ra
    from repalign import distributed as rd

    z, path = store(args.rows)
    X, Y = pair(z)
    # workers start before the baseline loads its rows, so they begin small
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="4GiB",
                           dashboard_address=None)
    client = Client(cluster)
    # baseline: the in-memory path on the first rows
    nb = min(args.baseline_rows, args.rows)
    Xb = np.asarray(X[:nb].compute(scheduler="threads"))  # not on the workers
    Yb = np.asarray(Y[:nb].compute(scheduler="threads"))
    t0 = time.perf_counter()
    v_mem = ra.cka(Xb, Yb)
    t_mem = time.perf_counter() - t0
    del Xb, Yb
    try:
        t0 = time.perf_counter()
        v_sub = rd.cka(X[:nb], Y[:nb], scheduler=client)
        t_sub = time.perf_counter() - t0
        t0 = time.perf_counter()
        v_all = rd.cka(X, Y, scheduler=client)
        t_all = time.perf_counter() - t0
        peaks = client.run(_peak_rss_mb)
    finally:
        client.close()
        cluster.close()
    table(f"Linear CKA out of core: {args.rows:,} x {D} float32 rows in zarr ({path.name}), Y = projection + noise",
          ["run", "rows", "seconds", "rows/s", "CKA", "note"], [
              ["in memory (repalign.cka, feature route), baseline", nb, t_mem, nb / t_mem, v_mem, ""],
              ["LocalCluster, 2 worker processes, same rows", nb, t_sub, nb / t_sub, v_sub,
               f"|Δ| vs in memory {abs(v_sub - v_mem):.1e}"],
              ["LocalCluster, 2 worker processes, all rows from disk", args.rows, t_all, args.rows / t_all, v_all,
               f"peak RSS per worker {max(peaks.values()):.0f} MB (target <= 4096)"],
          ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
