"""File extensions the package reads and writes (no imports: the command line's parser uses them)."""

__all__ = ["FORMATS", "READ_FORMATS", "JSON_OUT", "PLOT_OUT"]

#: embedding files read and written (see :mod:`repalign.io`)
FORMATS = (".npy", ".npz", ".safetensors", ".parquet", ".pt", ".pth", ".csv", ".tsv", ".h5", ".hdf5")
#: embedding files read: the above and zarr stores (folders)
READ_FORMATS = FORMATS + (".zarr",)
JSON_OUT = (".json",)
PLOT_OUT = (".png", ".pdf", ".svg")
