"""File extensions the package reads and writes (no imports: the command line's parser uses them)."""

__all__ = ["FORMATS", "JSON_OUT", "PLOT_OUT"]

#: embedding files (see :mod:`repalign.io`)
FORMATS = (".npy", ".npz", ".safetensors", ".parquet", ".pt", ".pth", ".csv", ".tsv")
JSON_OUT = (".json",)
PLOT_OUT = (".png", ".pdf", ".svg")
