"""Reading embedding files: repalign's readers next to pandas and numpy in one run (issue 20).

A 20,000 x 256 float64 matrix (Gaussian) is written once as CSV (a header line, values with 9
significant digits: float32 precision, as most embedding dumps carry), HDF5, zarr and .npy, then
read back; every reader must return the same array as the reference for its file.

* CSV: ``pandas.read_csv(...).to_numpy()`` (baseline) vs ``repalign.load_embeddings`` (pandas'
  C parser, else pyarrow's reader, plus the index and label-column guards), pyarrow's reader, and
  the csv-module reference reader (used when neither is installed). Target: repalign <= 1.5x
  pandas' time.
* HDF5 / zarr / .npy through ``load_embeddings`` next to ``h5py`` / ``zarr`` / ``np.load`` direct.

    python benchmarks/bench_io.py                     # median of 5
    python benchmarks/bench_io.py --rows 2000 --repeat 1
"""

import argparse
import sys
import tempfile
from pathlib import Path

import _common  # noqa: F401
import numpy as np
from _common import median_time, table


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    import h5py
    import pandas as pd
    import zarr

    import repalign as ra
    from repalign.io import _read_text

    X = np.random.default_rng(0).normal(size=(args.rows, args.dim))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = tmp / "emb.csv"
        np.savetxt(csv, X, delimiter=",", fmt="%.9g", header=",".join(f"f{i}" for i in range(args.dim)), comments="")
        ref = np.loadtxt(csv, delimiter=",", skiprows=1)
        mb = csv.stat().st_size / 1e6

        t_pd, got = median_time(lambda: pd.read_csv(csv).to_numpy(np.float64), args.repeat)
        assert np.array_equal(got, ref)
        t_ra, got = median_time(lambda: ra.load_embeddings(csv), args.repeat)
        assert np.array_equal(got, ref)
        t_py, got = median_time(lambda: _read_text(csv, ".csv", "auto", engine="python"), max(1, args.repeat // 2))
        assert np.array_equal(got, ref)
        t_pa, got = median_time(lambda: _read_text(csv, ".csv", "auto", engine="pyarrow"), args.repeat)
        assert np.array_equal(got, ref)
        rows += [[f"CSV {mb:.0f} MB", "pandas.read_csv (baseline)", t_pd, 1.0, ""],
                 [f"CSV {mb:.0f} MB", "load_embeddings (pandas engine)", t_ra, t_pd / t_ra,
                  "yes" if t_ra <= 1.5 * t_pd else "NO"],
                 [f"CSV {mb:.0f} MB", "repalign's pyarrow reader (no pandas)", t_pa, t_pd / t_pa, ""],
                 [f"CSV {mb:.0f} MB", "csv-module reader (no pandas, no pyarrow)", t_py, t_pd / t_py, ""]]

        h5 = tmp / "emb.h5"
        with h5py.File(h5, "w") as f:
            f.create_dataset("layer/emb", data=X)

        def h5_direct():
            with h5py.File(h5, "r") as f:
                return f["layer/emb"][()]

        t_h5, _ = median_time(h5_direct, args.repeat)
        t_h5ra, got = median_time(lambda: ra.load_embeddings(f"{h5}:/layer/emb"), args.repeat)
        assert np.array_equal(got, X)
        z = tmp / "emb.zarr"
        arr = zarr.open_array(str(z), mode="w", shape=X.shape, chunks=(4096, args.dim), dtype="f8")
        arr[:] = X
        t_z, _ = median_time(lambda: zarr.open_array(str(z), mode="r")[...], args.repeat)
        t_zra, got = median_time(lambda: ra.load_embeddings(z), args.repeat)
        assert np.array_equal(got, X)
        npy = tmp / "emb.npy"
        np.save(npy, X)
        t_np, _ = median_time(lambda: np.load(npy), args.repeat)
        t_npra, got = median_time(lambda: ra.load_embeddings(npy), args.repeat)
        assert np.array_equal(got, X)
        rows += [["HDF5", "h5py direct (baseline)", t_h5, 1.0, ""],
                 ["HDF5", "load_embeddings('emb.h5:/layer/emb')", t_h5ra, t_h5 / t_h5ra, ""],
                 ["zarr", "zarr direct (baseline)", t_z, 1.0, ""],
                 ["zarr", "load_embeddings('emb.zarr')", t_zra, t_z / t_zra, ""],
                 [".npy", "np.load (baseline)", t_np, 1.0, ""],
                 [".npy", "load_embeddings('emb.npy')", t_npra, t_np / t_npra, ""]]
    table(f"Reading a {args.rows:,} x {args.dim} float64 matrix (seconds, median of {args.repeat}; "
          "ratio = baseline / this; every reader returns the same array)",
          ["file", "reader", "seconds", "baseline / this", "<= 1.5x pandas"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
