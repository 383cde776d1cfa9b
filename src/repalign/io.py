"""Embedding files in and out.

Formats (chosen by extension):

=====================  ==========================================================
``.npy``               one 2-D array
``.npz``               named arrays; with several, pass ``key=`` (the error lists them)
``.safetensors``       named tensors, same key rule (read/written without torch)
``.parquet``           one list column (each row a vector) or several numeric columns
``.pt`` / ``.pth``     a tensor or a dict of tensors (``torch.load(weights_only=True)``)
``.csv`` / ``.tsv``    numbers, optional header line, quoted fields (pandas, else pyarrow)
``.h5`` / ``.hdf5``    HDF5 datasets (h5py); ``file.h5:/group/name`` picks one
``.zarr``              a zarr array, or a group (``store.zarr:name`` picks an array); read only
=====================  ==========================================================

Multi-array files (``.npz``, ``.safetensors``, ``.pt`` dicts, HDF5, zarr groups) holding one
array need no key; with several, pass ``key=`` or ``FILE:KEY`` (the error lists them).

Index columns (``index_column="auto"``, the default): a table written with its row index
(pandas' ``df.to_csv()`` gives the header ``,f0,f1,…``; ``df.to_parquet()`` stores
``__index_level_0__`` or names the index in its pandas metadata) would otherwise be read as one
more feature and silently distort every measure. The rule:

* a first CSV/TSV column whose header is empty, ``index``, ``Unnamed: 0`` or
  ``__index_level_N__`` is dropped; parquet columns named as pandas index columns (in the file's
  pandas metadata, or ``__index_level_N__`` / ``Unnamed: 0``) are dropped;
* a first column with any other or no header whose values count 0, 1, …, n-1 (or 1, …, n)
  while other columns exist is refused with a clear error: it looks like an index, and only
  the user knows. ``index_column="drop"`` drops the first column, ``"keep"`` keeps it.

Label columns (``label_columns="auto"``, the default): a CSV/TSV or parquet column named like a
label or id (``label``, ``class``, ``target``, ``y``, ``id``, ``category``, case-insensitive)
holding only integers is refused with a clear error, since read as a feature it would distort
every measure (linear CKA 0.049 instead of 0.698 on one user's file). ``"drop"`` drops such
columns, ``"keep"`` keeps them. On the command line: ``--index-column`` and ``--label-columns``.

Arrays must be real: complex files are refused, never cast. Files holding Python objects
(pickles) are never loaded.

Every file may have a JSON sidecar ``<file>.json`` with model, dataset, n, dim, dtype,
preprocessing and creation time. Writes go to a temporary file in the same folder and are
renamed into place (atomic), and never replace an existing file unless ``force=True``. A writer
holds a lock on its temporary file until the rename; temporary files nobody holds (their writer
was killed) are removed by the next write to the same path, whatever PID namespace the writer
was in (without file locks: after an hour). A file and its sidecar are written under one lock
on their folder, so two writers never leave one's array beside the other's sidecar. Written
files get the usual permissions (``0666`` minus the umask, or those of the file they replace),
not the ``0600`` of a temporary file.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import json
import os
import re
import secrets
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

try:
    import fcntl  # POSIX file locks
except ImportError:  # pragma: no cover - Windows: temporary files then age out instead
    fcntl = None

from ._formats import FORMATS, READ_FORMATS
from ._optional import available, optional
from ._validate import as_embeddings
from ._version import __version__

__all__ = [
    "FORMATS",
    "READ_FORMATS",
    "parquet_parts",
    "read_parquet_part",
    "EmbeddingFile",
    "load_embeddings",
    "read_embedding_file",
    "save_embeddings",
    "sidecar_path",
    "atomic_write",
    "check_writable",
    "check_extension",
    "safe_load_message",
    "INDEX_COLUMN_MODES",
    "write_json",
    "load_array",
    "open_zarr",
]

INDEX_COLUMN_MODES = ("auto", "drop", "keep")
_INDEX_NAMES = re.compile(r"^(|index|unnamed: ?0|__index_level_\d+__)$", re.IGNORECASE)
_LABEL_NAMES = re.compile(r"^(labels?|class(es)?|class_?id|targets?|y|ids?|category|categories)$", re.IGNORECASE)



@dataclass(frozen=True)
class EmbeddingFile:
    """An embedding matrix with the metadata of its sidecar.

    Attributes
    ----------
    array : ndarray, shape (n, d)
    metadata : dict
        The sidecar's content (empty when there is none).
    path : str
    """

    array: np.ndarray = field(repr=False)
    metadata: dict
    path: str

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.array.shape)

    def to_dict(self) -> dict:
        return {"path": self.path, "n": int(self.array.shape[0]), "dim": int(self.array.shape[1]),
                "metadata": dict(self.metadata)}


def sidecar_path(path) -> Path:
    """The JSON sidecar of an embedding file.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Path
        ``<path>.json``.
    """
    p = Path(path)
    return p.with_name(p.name + ".json")


def _ext(path: Path, formats=FORMATS) -> str:
    ext = path.suffix.lower()
    if ext not in formats:
        raise ValueError(
            f"{path}: unsupported embedding file extension {ext or '(none)'!r}; "
            f"use one of {', '.join(formats)}"
        )
    return ext


def _pick(named: dict, key: str | None, path: Path):
    if not named:
        raise ValueError(f"{path}: the file holds no arrays")
    if key is not None:
        if key not in named:
            raise ValueError(f"{path}: no array named {key!r}; available: {', '.join(sorted(named))}")
        return named[key]
    if len(named) == 1:
        return next(iter(named.values()))
    raise ValueError(
        f"{path}: holds several arrays ({', '.join(sorted(named))}); choose one with key=NAME "
        "(CLI: FILE:NAME)"
    )


def _counts_rows(col: np.ndarray) -> bool:
    """Whether a column holds exactly 0..n-1 or 1..n in order (a row index)."""
    n = len(col)
    if n < 3:
        return False
    return bool(np.array_equal(col, np.arange(n)) or np.array_equal(col, np.arange(1, n + 1)))


def _drop_labels(cols: list, names: list, path: Path, mode: str) -> tuple[list, list]:
    """Apply the label-column rule (module docstring): integer columns named like a label or id."""
    if mode == "keep" or len(cols) < 2:
        return cols, names
    hits = [i for i, nm in enumerate(names) if nm is not None and _LABEL_NAMES.match(str(nm).strip())
            and _is_integral(cols[i])]
    if not hits:
        return cols, names
    if mode == "drop":
        if len(hits) == len(cols):
            raise ValueError(f"{path}: every column is named like a label; no features are left")
        return [c for i, c in enumerate(cols) if i not in hits], [n for i, n in enumerate(names) if i not in hits]
    which = ", ".join(repr(names[i]) for i in hits)
    raise ValueError(
        f"{path}: column {which} holds integers and is named like a label or id, so it would be read as a feature "
        "and distort every measure; remove it from the file, or pass label_columns='drop' (command line: "
        "--label-columns drop) to drop it ('keep' to use it as a feature)")


def _is_integral(col) -> bool:
    a = np.asarray(col, dtype=float)
    return bool(a.size) and bool(np.all(np.isfinite(a))) and bool(np.all(a == np.round(a)))


def _drop_index(cols: list, names: list, path: Path, mode: str, named_index: set,
                label_mode: str = "auto") -> tuple[list, list]:
    """Apply the index-column rule, then the label-column rule (module docstring) to parallel lists
    of columns and names."""
    if mode == "drop":
        return _drop_labels(cols[1:], names[1:], path, label_mode)
    if mode == "keep" or len(cols) < 2:
        return _drop_labels(cols, names, path, label_mode)
    keep = [i for i, nm in enumerate(names) if not (nm in named_index or _INDEX_NAMES.match(str(nm)))]
    if len(keep) < len(cols) and keep:
        cols, names = [cols[i] for i in keep], [names[i] for i in keep]
    if len(cols) >= 2 and _counts_rows(np.asarray(cols[0], dtype=float)):
        label = f"column {names[0]!r}" if names[0] is not None else "the first column"
        raise ValueError(
            f"{path}: {label} counts the rows (0, 1, 2, ... like a row index), so it would be read as a "
            "feature; remove it from the file, or pass index_column='drop' (command line: --index-column drop) to "
            "drop it ('keep' to use it)")
    return _drop_labels(cols, names, path, label_mode)


def _parquet_plan(schema, path, index_column: str, first_table, label_columns: str = "auto"):
    """Which columns of a parquet schema hold the vectors: ``(columns, is_list)`` (module docstring)."""
    import pyarrow as pa

    names = list(schema.names)
    if not names:
        raise ValueError(f"{path}: the parquet file has no columns")
    named_index = set()
    meta = schema.metadata or {}
    if b"pandas" in meta:
        try:
            named_index = {c for c in json.loads(meta[b"pandas"]).get("index_columns", []) if isinstance(c, str)}
        except (ValueError, AttributeError):
            named_index = set()
    if index_column != "keep":
        drop = [c for c in names if c in named_index or _INDEX_NAMES.match(c)]
        if drop and len(drop) < len(names):
            names = [c for c in names if c not in drop]
    list_cols = [c for c in names
                 if pa.types.is_list(schema.field(c).type)
                 or pa.types.is_fixed_size_list(schema.field(c).type)
                 or pa.types.is_large_list(schema.field(c).type)]
    if len(list_cols) == 1:
        return list_cols, True
    if len(list_cols) > 1:
        raise ValueError(f"{path}: several list columns ({', '.join(list_cols)}); keep exactly one")
    numeric = [c for c in names
               if pa.types.is_integer(schema.field(c).type) or pa.types.is_floating(schema.field(c).type)]
    if not numeric:
        raise ValueError(f"{path}: no numeric or list columns found")
    cols = [first_table.column(c).to_numpy(zero_copy_only=False) for c in numeric]
    _, numeric = _drop_index(cols, numeric, path, index_column, named_index, label_columns)
    return numeric, False


def _parquet_array(table, columns: list, is_list: bool, path) -> np.ndarray:
    """The (n, d) float64 array of ``columns`` of a pyarrow table (see :func:`_parquet_plan`)."""
    if is_list:
        col = table.column(columns[0]).to_pylist()
        lengths = {len(v) if v is not None else -1 for v in col}
        if len(lengths) > 1 or -1 in lengths:
            raise ValueError(f"{path}: column {columns[0]!r} has rows of different lengths or nulls")
        return np.asarray(col, dtype=np.float64).reshape(len(col), -1)
    return np.column_stack([table.column(c).to_numpy(zero_copy_only=False) for c in columns]).astype(np.float64)


def _read_parquet(path: Path, index_column: str, label_columns: str = "auto"):
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns, is_list = _parquet_plan(table.schema, path, index_column, table, label_columns)
    return _parquet_array(table, columns, is_list, path)


def _natural_key(path: Path) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def parquet_parts(path, index_column: str = "auto", label_columns: str = "auto") -> tuple[list, list, bool, int]:
    """The pieces of a parquet file or folder of files, for reading it chunk by chunk.

    Parameters
    ----------
    path : str or Path
        A ``.parquet`` file or a folder of them (read in natural name order: ``part.2`` before
        ``part.10``).
    index_column : {"auto", "drop", "keep"}
        As in :func:`load_embeddings`; decided once, on the first row group.
    label_columns : {"auto", "drop", "keep"}
        Integer columns named like a label or id (module docstring).

    Returns
    -------
    parts : list of (Path, int, int)
        ``(file, row group, rows)`` per row group.
    columns : list of str
    is_list : bool
        Whether ``columns`` is one list column (each row a vector) rather than numeric columns.
    d : int
        Features per row.
    """
    import pyarrow.parquet as pq

    p = Path(path)
    # natural order (part.2 before part.10), as Dask and Spark write and read them
    files = sorted(p.glob("*.parquet"), key=_natural_key) if p.is_dir() else [p]
    if not files or not files[0].is_file():
        raise ValueError(f"{path}: no such parquet file or folder of .parquet files")
    parts = []
    plan = None
    for f in files:
        try:
            pf = pq.ParquetFile(f)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for damaged files
            raise ValueError(f"{f}: not a readable parquet file ({type(exc).__name__}: {exc})") from None
        if plan is None:
            if pf.metadata.num_row_groups == 0:
                raise ValueError(f"{f}: the parquet file has no rows")
            first = pf.read_row_group(0)
            columns, is_list = _parquet_plan(pf.schema_arrow, f, index_column, first, label_columns)
            d = _parquet_array(first.slice(0, 1), columns, is_list, f).shape[1]
            plan = (columns, is_list, d, pf.schema_arrow)
        elif not pf.schema_arrow.equals(plan[3], check_metadata=False):
            raise ValueError(f"{f}: its columns differ from {files[0].name}'s; every file must have the same schema")
        parts += [(f, i, pf.metadata.row_group(i).num_rows) for i in range(pf.metadata.num_row_groups)]
    return parts, plan[0], plan[1], plan[2]


def read_parquet_part(file, row_group: int, columns: list, is_list: bool) -> np.ndarray:
    """One row group of :func:`parquet_parts` as an (rows, d) float64 array.

    Parameters
    ----------
    file : Path
    row_group : int
    columns : list of str
    is_list : bool

    Returns
    -------
    ndarray, shape (rows, d)
    """
    import pyarrow.parquet as pq

    table = pq.ParquetFile(file).read_row_group(row_group, columns=columns)
    return _parquet_array(table, columns, is_list, file)


def _floats(fields):
    try:
        return [float(v) for v in fields]
    except ValueError:
        return None


def _csv_first_row(path: Path, delim: str):
    """The first non-empty row of a CSV/TSV file (quotes honoured) and the number of physical
    lines up to and including it."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter=delim)
        for row in reader:
            if any(f.strip() for f in row):
                return row, reader.line_num
    raise ValueError(f"{path}: the file is empty")


def _csv_columns_arrow(path: Path, delim: str, width: int, skip: int) -> list:
    """The ``width`` columns of a CSV/TSV file as float64 arrays, read by pyarrow's multi-threaded
    reader; ``skip`` physical lines (the header) are skipped. Empty fields are errors, not NaN."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"c{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=skip),
            parse_options=pacsv.ParseOptions(delimiter=delim),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.float64() for c in names}, null_values=[],
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except pa.ArrowInvalid as exc:
        msg = str(exc).strip().splitlines()[0]
        if "Expected" in msg and "columns" in msg:
            raise ValueError(f"{path}: rows have different numbers of values (the first row has {width}; {msg})") from None
        raise ValueError(f"{path}: not a table of numbers separated by {delim!r} ({msg})") from None
    return [table.column(i).to_numpy() for i in range(width)]


def _csv_columns_pandas(path: Path, delim: str, width: int, skip: int) -> list:
    """The ``width`` columns of a CSV/TSV file as float64 arrays, read by pandas' C parser (the
    fastest reader measured here: ``benchmarks/bench_io.py``); ``skip`` physical lines (the
    header) are skipped. pandas fills short rows and empty fields with NaN: a file with any NaN
    is read again by :func:`_csv_columns_stdlib`, which names the line (or returns the NaN the
    file spells out, which the finiteness check then reports)."""
    pd = optional("pandas")
    try:
        frame = pd.read_csv(path, sep=delim, header=None, skiprows=skip, skip_blank_lines=True, engine="c")
    except pd.errors.EmptyDataError:
        return [np.empty(0)] * width  # "no data rows after the header"
    except (pd.errors.ParserError, ValueError) as exc:
        msg = str(exc).strip().splitlines()[0]
        if "Expected" in msg and "fields" in msg:
            raise ValueError(f"{path}: rows have different numbers of values (the first row has {width}; {msg})") from None
        raise ValueError(f"{path}: not a table of numbers separated by {delim!r} ({msg})") from None
    if frame.shape[1] != width:
        raise ValueError(f"{path}: rows have different numbers of values (the first row has {width}, others "
                         f"{frame.shape[1]})")
    numeric = pd.api.types.is_numeric_dtype
    for j, dt in enumerate(frame.dtypes):
        if not numeric(dt):
            bad = next((str(v) for v in frame.iloc[:, j] if not _floats([str(v)])), "?")
            raise ValueError(f"{path}: not a table of numbers separated by {delim!r} (column {j} holds {bad!r})")
    arr = frame.to_numpy(np.float64)
    if np.isnan(arr).any():  # a short row or an empty field (pandas fills NaN): the reference reader says which
        return _csv_columns_stdlib(path, delim, width, skip)
    return [arr[:, j] for j in range(arr.shape[1])]


def _csv_columns_stdlib(path: Path, delim: str, width: int, skip: int) -> list:
    """:func:`_csv_columns_arrow` by Python's csv module: the reference, and the reader when
    pyarrow is not installed (several times slower)."""
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter=delim)
        for row in reader:
            if reader.line_num <= skip or not any(f.strip() for f in row):
                continue
            vals = _floats(row)
            if vals is None:
                raise ValueError(f"{path}: line {reader.line_num} is not a row of numbers separated by {delim!r}")
            if len(vals) != width:
                raise ValueError(f"{path}: rows have different numbers of values (the first row has {width}; "
                                 f"line {reader.line_num} has {len(vals)})")
            rows.append(vals)
    arr = np.asarray(rows, dtype=np.float64).reshape(len(rows), width)
    return list(arr.T)


def _read_text(path: Path, ext: str, index_column: str, label_columns: str = "auto", *, engine: str = "auto"):
    """A CSV/TSV file as an (n, d) float64 array: a first row that is not all numbers is a header;
    then the index- and label-column rules (module docstring). ``engine``: "pandas", "pyarrow",
    "python", or "auto" (the first installed of these, in that order)."""
    delim = "\t" if ext == ".tsv" else ","
    first, line = _csv_first_row(path, delim)
    header = None if _floats(first) is not None else [h.strip() for h in first]
    width = len(first)
    if engine == "auto":
        engine = "pandas" if available("pandas") else "pyarrow" if available("pyarrow") else "python"
    read = {"pandas": _csv_columns_pandas, "pyarrow": _csv_columns_arrow, "python": _csv_columns_stdlib}[engine]
    cols = read(path, delim, width, line if header is not None else 0)
    if not len(cols[0]):
        raise ValueError(f"{path}: no data rows after the header")
    names = header if header is not None else [None] * width
    cols, _ = _drop_index(cols, names, path, index_column, set(), label_columns)
    out = np.empty((len(cols[0]), len(cols)), order="F")  # column by column: contiguous writes
    for j, c in enumerate(cols):
        out[:, j] = c
    return out


def _h5_datasets(f) -> dict:
    """Every dataset of an open HDF5 file by its absolute path (``/group/name``)."""
    h5py = optional("h5py")
    found = {}

    def visit(name, obj):  # returns None: visititems stops at the first non-None return
        if isinstance(obj, h5py.Dataset):
            found["/" + name] = obj

    f.visititems(visit)
    return found


def _read_hdf5(path: Path, key: str | None):
    h5py = optional("h5py")
    with h5py.File(path, "r") as f:
        datasets = _h5_datasets(f)
        ds = _pick(datasets, None if key is None else "/" + key.lstrip("/"), path)
        return np.asarray(ds[()])


def open_zarr(path, key: str | None = None, name: str = "embeddings"):
    """The zarr array at ``path`` (a store folder ending in ``.zarr``), or the array ``key`` of a
    zarr group, with every chunk present (zarr would read a missing one as its fill value:
    silently wrong rows).

    Parameters
    ----------
    path : str or Path
    key : str, optional
        Array inside a group (``a`` or ``group/a``); default: the group's only array.
    name : str
        Argument name used in errors.

    Returns
    -------
    zarr.Array
    """
    zarr = optional("zarr")
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{name}: no such zarr store {p}")
    try:
        obj = zarr.open(str(p), mode="r")
    except Exception as exc:  # noqa: BLE001 - zarr raises many things for a bad store
        raise ValueError(f"{name}: {p} is not a readable zarr array or group ({type(exc).__name__}: {exc})") from None
    if not hasattr(obj, "shape"):  # a group
        arrays = {k: obj[k] for k in obj.array_keys()}
        if key is not None and key not in arrays:
            try:
                arrays[key] = obj[key.strip("/")]
            except KeyError:
                pass
        obj = _pick(arrays, key, p)
        if not hasattr(obj, "shape"):
            raise ValueError(f"{p}: {key!r} is a group, not an array")
    elif key is not None:
        raise ValueError(f"{p}: holds one array, not a group; drop the key {key!r}")
    stored = getattr(obj, "nchunks_initialized", None)
    if stored is not None and stored < obj.nchunks:
        raise ValueError(f"{name}: {p} is missing {obj.nchunks - stored} of its {obj.nchunks} chunks; zarr would read "
                         "them as zeros, so restore or rewrite the store")
    return obj


def _read_zarr(path: Path, key: str | None):
    arr = open_zarr(path, key)
    try:
        return arr[...]
    except Exception as exc:  # noqa: BLE001 - codecs raise anything for damaged bytes
        raise ValueError(f"{path}: a chunk cannot be read ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else 'damaged data'}); the store is damaged, "
                         "restore or rewrite it") from None


_UNSAFE = ("allow_pickle", "weights_only", "pickle", "Unpickl")


_MAGIC = {".npy": (b"\x93NUMPY",), ".npz": (b"PK",), ".pt": (b"PK", b"\x80"), ".pth": (b"PK", b"\x80")}


def _has_format_magic(path: Path) -> bool:
    """Whether the file starts like a real file of its format (else it is junk, not a pickle)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    return any(head.startswith(m) for m in _MAGIC.get(path.suffix.lower(), (b"",)))


def safe_load_message(path: Path, exc: Exception) -> str:
    """The error message for a file numpy or torch could not load, without their advice to load
    pickled objects (which can run arbitrary code).

    Parameters
    ----------
    path : Path
    exc : Exception
        What the loader raised.

    Returns
    -------
    str
        One line naming the file.
    """
    text = f"{type(exc).__name__}: {exc}"
    if any(word in text for word in _UNSAFE) and _has_format_magic(path):
        return (f"{path}: holds Python objects (pickled data), which repalign never loads because "
                "loading them can run arbitrary code; save the embeddings as a plain numeric array "
                "(np.save(path, np.asarray(X, dtype=np.float32)))")
    if any(word in text for word in _UNSAFE):
        return f"{path}: cannot be read as {path.suffix} embeddings (not a valid {path.suffix} file)"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"{path}: cannot be read as {path.suffix} embeddings ({first})"


def _read_raw(path: Path, key: str | None, index_column: str = "auto", label_columns: str = "auto"):
    ext = _ext(path, READ_FORMATS)
    if ext in (".h5", ".hdf5"):
        return _read_hdf5(path, key)
    if ext == ".zarr":
        return _read_zarr(path, key)
    if ext == ".npy":
        return np.load(path, allow_pickle=False)
    if ext == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return _pick({k: z[k] for k in z.files}, key, path)
    if ext == ".safetensors":
        load_file = optional("safetensors.numpy").load_file

        return _pick(load_file(str(path)), key, path)
    if ext == ".parquet":
        return _read_parquet(path, index_column, label_columns)
    if ext in (".pt", ".pth"):
        import torch

        obj = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(obj, dict):
            obj = _pick({str(k): v for k, v in obj.items()}, key, path)
        if not isinstance(obj, torch.Tensor):
            raise ValueError(f"{path}: expected a tensor or a dict of tensors, got {type(obj).__name__}")
        if obj.is_complex():
            raise ValueError(f"{path}: holds complex numbers; embeddings must be real")
        return obj.detach().to(torch.float64).numpy()
    return _read_text(path, ext, index_column, label_columns)


def read_embedding_file(path, key: str | None = None, *, min_samples: int = 1,
                        dtype=np.float64, index_column: str = "auto", label_columns: str = "auto") -> EmbeddingFile:
    """Read an embedding file (see module docstring) and its sidecar metadata.

    Parameters
    ----------
    path : str or Path
        The file; ``file.npz:NAME`` selects the array ``NAME``.
    key : str, optional
        Array name inside ``.npz`` / ``.safetensors`` / ``.pt`` files holding several.
    min_samples : int
        Fewest rows accepted.
    dtype : numpy dtype
        Dtype of the returned array (default float64).
    index_column : {"auto", "drop", "keep"}
        CSV/TSV/parquet: what to do with a leading row-index column (module docstring).
    label_columns : {"auto", "drop", "keep"}
        Integer columns named like a label or id (module docstring).

    Returns
    -------
    EmbeddingFile
        The checked (n, d) array (2-D, real, finite; errors name the file and the first bad
        row) and the sidecar metadata.
    """
    if index_column not in INDEX_COLUMN_MODES:
        raise ValueError(f"index_column: expected one of {INDEX_COLUMN_MODES}, got {index_column!r}")
    if label_columns not in INDEX_COLUMN_MODES:
        raise ValueError(f"label_columns: expected one of {INDEX_COLUMN_MODES}, got {label_columns!r}")
    spath = str(path)
    if key is None and ":" in spath and not Path(spath).exists():
        spath, key = spath.rsplit(":", 1)
    p = Path(spath)
    if not p.exists():
        raise ValueError(f"{p}: no such file")
    if p.is_dir() and p.suffix.lower() != ".zarr":
        raise ValueError(f"{p}: is a folder, expected an embedding file (or a .zarr store)")
    if p.stat().st_size == 0:
        raise ValueError(f"{p}: the file is empty")
    try:
        raw = _read_raw(p, key, index_column, label_columns)
    except ValueError as exc:
        if str(exc).startswith(str(p)):  # our own message, already naming the file
            raise
        raise ValueError(safe_load_message(p, exc)) from None
    except Exception as exc:  # corrupt files raise many different things
        raise ValueError(safe_load_message(p, exc)) from None
    arr = as_embeddings(raw, "embeddings", min_samples=min_samples, dtype=dtype, source=str(p))
    meta = {}
    sc = sidecar_path(p)
    if sc.exists():
        try:
            meta = json.loads(sc.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{sc}: the sidecar is not valid JSON ({exc})") from None
    return EmbeddingFile(arr, meta, str(p))


def load_embeddings(path, key: str | None = None, *, index_column: str = "auto",
                    label_columns: str = "auto") -> np.ndarray:
    """Load an (n, d) float64 embedding matrix from ``path``.

    Parameters
    ----------
    path : str or Path
        ``.npy``, ``.npz``, ``.safetensors``, ``.parquet``, ``.pt``, ``.csv`` or ``.tsv``
        (module docstring); ``file.npz:NAME`` picks one array.
    key : str, optional
        Array name in multi-array files.
    index_column : {"auto", "drop", "keep"}
        Leading row-index columns of tables (module docstring).
    label_columns : {"auto", "drop", "keep"}
        Integer columns named like a label or id (module docstring).

    Returns
    -------
    ndarray, shape (n, d), float64
    """
    return read_embedding_file(path, key, index_column=index_column, label_columns=label_columns).array


def check_extension(path, allowed, what: str = "output") -> Path:
    """Refuse a path whose extension is not allowed, before any work.

    Parameters
    ----------
    path : str or Path
    allowed : sequence of str
        E.g. ``(".png", ".pdf")``.
    what : str
        Word used in the error ("output", "plot").

    Returns
    -------
    Path
    """
    p = Path(path)
    if p.suffix.lower() not in allowed:
        raise ValueError(f"{p}: unsupported {what} extension {p.suffix or '(none)'!r}; use one of {', '.join(allowed)}")
    return p


def check_writable(path, force: bool = False) -> Path:
    """Refuse an output path that exists (without ``force``), is a folder, or sits under a file.

    Parameters
    ----------
    path : str or Path
    force : bool

    Returns
    -------
    Path
    """
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{p}: is a folder, expected a file path")
    if p.exists() and not force:
        raise ValueError(f"{p}: already exists; pass --force (force=True) to overwrite it")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{p}: cannot be written because {parent} is a file, not a folder")
            break
    return p


_TMP_TAG = ".repalign-"


def _tmp_pattern(p: Path) -> re.Pattern:
    return re.compile(rf"^\.{re.escape(p.name)}{re.escape(_TMP_TAG)}(\d+)-[0-9a-f]+")


#: a temporary file nobody holds a lock on is left alone this long when locks are not available
STALE_AFTER_S = 3600.0


def _writer_gone(f: Path) -> bool:
    """Whether the writer of temporary file ``f`` is gone: nobody holds its lock (a writer holds
    an exclusive ``flock`` on its temporary file until it is renamed, and the kernel releases it
    when the writer dies, in any PID namespace). Without file locks: older than an hour."""
    try:
        fd = os.open(f, os.O_RDONLY)
    except OSError:
        return False
    try:
        if fcntl is None:
            raise OSError("no flock here")
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False  # a live writer holds it
    except OSError:
        try:
            return time.time() - os.fstat(fd).st_mtime > STALE_AFTER_S
        except OSError:
            return False
    finally:
        os.close(fd)


def _remove_stale_temps(p: Path) -> None:
    """Delete temporary files of earlier writes to ``p`` whose writer is gone (:func:`_writer_gone`;
    the process id in the name is not enough: a writer in another PID namespace has another one)."""
    pat = _tmp_pattern(p)
    try:
        entries = list(p.parent.iterdir())
    except OSError:
        return
    for f in entries:
        if pat.match(f.name) and _writer_gone(f):
            with contextlib.suppress(OSError):
                f.unlink()


@contextlib.contextmanager
def _folder_lock(folder: Path):
    """An exclusive lock on ``folder`` (flock on the directory) for the duration: writes that must
    land together (a file and its sidecar) are one transaction against other writers."""
    if fcntl is None:
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a folder that cannot be opened for locking: write without the lock
        yield
        return
    try:
        with contextlib.suppress(OSError):  # file systems without flock: write without the lock
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _default_mode(p: Path) -> int:
    """The mode a plain ``open(p, "w")`` would give: the replaced file's, else 0666 & ~umask."""
    try:
        return stat.S_IMODE(p.stat().st_mode)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_write(path, force: bool = False, suffix: str | None = None):
    """Write a file atomically: yield a temporary path next to ``path``, rename it on success.

    The temporary name carries this process's id (stale ones from killed writers are removed
    first); the final file gets normal permissions (module docstring).

    Parameters
    ----------
    path : str or Path
    force : bool
        Replace an existing file.
    suffix : str, optional
        Suffix of the temporary file (default: that of ``path``).

    Returns
    -------
    context manager yielding Path
    """
    p = check_writable(path, force)
    p.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(p)
    tmp = p.parent / f".{p.name}{_TMP_TAG}{os.getpid()}-{secrets.token_hex(4)}{suffix or p.suffix}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    if fcntl is not None:  # held until the rename: our temporary file is never taken for stale
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        yield Path(tmp)
        if p.exists() and not force:  # appeared while we were writing
            raise ValueError(f"{p}: already exists; pass --force (force=True) to overwrite it")
        os.chmod(tmp, _default_mode(p))
        os.replace(tmp, p)
    finally:
        os.close(fd)
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_raw(arr: np.ndarray, tmp: Path, ext: str, key: str) -> None:
    if ext == ".npy":
        with open(tmp, "wb") as fh:
            np.save(fh, arr)
    elif ext == ".npz":
        with open(tmp, "wb") as fh:
            np.savez(fh, **{key: arr})
    elif ext == ".safetensors":
        save_file = optional("safetensors.numpy").save_file

        save_file({key: np.ascontiguousarray(arr)}, str(tmp))
    elif ext == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        flat = pa.array(np.ascontiguousarray(arr).ravel())
        col = pa.FixedSizeListArray.from_arrays(flat, arr.shape[1])
        pq.write_table(pa.table({key: col}), tmp)
    elif ext in (".pt", ".pth"):
        import torch

        torch.save(torch.from_numpy(np.ascontiguousarray(arr)), tmp)
    elif ext in (".h5", ".hdf5"):
        h5py = optional("h5py")
        # the temporary file is already locked by atomic_write (fcntl); HDF5's own lock would collide
        with h5py.File(tmp, "w", locking=False) as f:
            f.create_dataset(key, data=arr)
    else:
        delim = "\t" if ext == ".tsv" else ","
        np.savetxt(tmp, arr, delimiter=delim, fmt="%.17g")


def save_embeddings(path, X, *, metadata: dict | None = None, force: bool = False,
                    key: str = "embeddings", dtype=None) -> Path:
    """Write an embedding matrix atomically, plus a JSON sidecar ``<path>.json``.

    The sidecar records ``n``, ``dim``, ``dtype``, ``format``, ``created`` (UTC, ISO 8601), the
    repalign version and every entry of ``metadata`` (model, dataset, preprocessing, ...). Neither
    file is replaced if it exists, unless ``force=True``.

    Parameters
    ----------
    path : str or Path
        Format by extension (module docstring).
    X : array, shape (n, d)
    metadata : dict, optional
    force : bool
    key : str
        Array name in formats that name arrays (default ``"embeddings"``).
    dtype : numpy dtype, optional
        Default: the input's floating dtype, else float64.

    Returns
    -------
    Path
    """
    p = Path(path)
    ext = _ext(p)
    raw = np.asarray(X)
    if dtype is None:
        dtype = raw.dtype if np.issubdtype(raw.dtype, np.floating) else np.float64
    arr = as_embeddings(raw, "X", min_samples=1, dtype=dtype)
    sc = sidecar_path(p)
    check_writable(p, force)
    check_writable(sc, force)
    meta = {
        "n": int(arr.shape[0]),
        "dim": int(arr.shape[1]),
        "dtype": str(arr.dtype),
        "format": ext.lstrip("."),
        "key": key,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "repalign_version": __version__,
    }
    meta.update(metadata or {})
    p.parent.mkdir(parents=True, exist_ok=True)
    with _folder_lock(p.parent):  # the file and its sidecar land together, against other writers
        with atomic_write(p, force=force) as tmp:
            _write_raw(arr, tmp, ext, key)
        with atomic_write(sc, force=force) as tmp:
            tmp.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return p


def write_json(path, obj, force: bool = False) -> Path:
    """Write ``obj`` as indented JSON, atomically, never over an existing file unless ``force``.

    A result (a dict with a ``kind``, e.g. any ``Result.to_dict()``) also gets
    ``repalign_version``: the version that wrote it.

    Parameters
    ----------
    path : str or Path
    obj : dict or list
        JSON-ready; NumPy scalars are written as floats.
    force : bool, default False
        Replace an existing file.

    Returns
    -------
    Path
    """
    if isinstance(obj, dict) and "kind" in obj and "repalign_version" not in obj:
        obj = {**obj, "repalign_version": __version__}
    with atomic_write(path, force=force) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=float) + "\n", encoding="utf-8")
    return Path(path)


def load_array(path) -> np.ndarray:
    """An array of any rank from a ``.npy`` file or one array of a ``.npz`` file, without pickles.

    Parameters
    ----------
    path : str or Path
        ``maps.npy``, ``maps.npz`` (when it holds one array) or ``maps.npz:NAME``.

    Returns
    -------
    ndarray
    """
    spath, key = str(path), None
    if ":" in spath and not Path(spath).exists():
        spath, key = spath.rsplit(":", 1)
    p = Path(spath)
    if not p.is_file():
        raise ValueError(f"{p}: no such file")
    if p.suffix.lower() not in (".npy", ".npz"):
        raise ValueError(f"{p}: arrays are read from .npy or .npz files (FILE.npz:KEY), got {p.suffix!r}")
    try:
        obj = np.load(p, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(safe_load_message(p, exc)) from None
    if isinstance(obj, np.lib.npyio.NpzFile):
        with obj:
            names = list(obj.files)
            if key is None and len(names) != 1:
                raise ValueError(f"{p}: holds several arrays ({', '.join(names)}); choose one with {p}:NAME")
            key = key or names[0]
            if key not in names:
                raise ValueError(f"{p}: no array named {key!r}; available: {', '.join(names)}")
            return obj[key]
    return obj
