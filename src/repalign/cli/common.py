"""What the command modules share: the CLI's own error, JSON output, output checks, and loading
a pair of embedding files with the user's file names in every message."""

from __future__ import annotations

import json
from pathlib import Path

from .. import measures as _measures  # a lazy package: loaded by the commands that use it
from .._formats import JSON_OUT, PLOT_OUT
from .._validate import check_no_zero_variance
from ..io import check_extension, check_writable, read_embedding_file, write_json
from .errors import CLIError

__all__ = ["CLIError", "JSON_OUT", "PLOT_OUT", "print_json", "write_json", "check_out", "check_out_folder",
           "load_pair", "measures_from_args"]


def print_json(obj) -> None:
    print(json.dumps(obj, indent=2, default=float))


def check_out(path, allowed, force: bool, what: str = "output") -> None:
    """Refuse a bad extension or an existing file before any work starts."""
    if path:
        check_extension(path, allowed, what)
        check_writable(path, force)


def check_out_folder(out, names, force: bool) -> Path | None:
    """An output folder and the files a command will write in it, checked before any work."""
    if out is None:
        return None
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CLIError(f"{out}: exists and is not a folder")
    for name in names:
        check_writable(out / name, force)
    return out


def read_table_args(path, args):
    """An embedding file read with the command's --index-column / --label-columns."""
    return read_embedding_file(path, index_column=getattr(args, "index_column", "auto"),
                               label_columns=getattr(args, "label_columns", "auto"))


def load_pair(a, b, measures=(), args=None):
    """Both files, checked with their own names in every message."""
    fa, fb = read_table_args(a, args), read_table_args(b, args)
    X, Y = fa.array, fb.array
    if X.shape[0] != Y.shape[0]:
        raise CLIError(f"{a} has {X.shape[0]} rows but {b} has {Y.shape[0]}; row i of both files must "
                       "describe the same item")
    for arr, name in ((X, a), (Y, b)):
        if arr.shape[0] < 2:
            raise CLIError(f"{name}: has {arr.shape[0]} row; at least 2 items are needed")
        check_no_zero_variance(arr, str(name))
    for m in measures:
        m.check_samples(X.shape[0])
    return X, Y


def measures_from_args(args):
    """The measures named by ``--measure`` (default: every default measure), with ``--k``."""
    names = args.measure or list(_measures.DEFAULT_MEASURES)
    out = []
    for name in names:
        params = {}
        if args.k is not None and name in ("mutual-knn", "cknna"):
            params["k"] = args.k
        out.append(_measures.get_measure(name, **params))
    return out
