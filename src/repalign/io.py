"""Embedding files in and out.

Formats (chosen by extension):

=====================  ==========================================================
``.npy``               one 2-D array
``.npz``               named arrays; with several, pass ``key=`` (the error lists them)
``.safetensors``       named tensors, same key rule (read/written without torch)
``.parquet``           one list column (each row a vector) or several numeric columns
``.pt`` / ``.pth``     a tensor or a dict of tensors (``torch.load(weights_only=True)``)
``.csv`` / ``.tsv``    numbers, optional header line
=====================  ==========================================================

Every file may have a JSON sidecar ``<file>.json`` with model, dataset, n, dim, dtype,
preprocessing and creation time. Writes go to a temporary file in the same folder and are
renamed into place (atomic), and never replace an existing file unless ``force=True``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._validate import as_embeddings

__all__ = [
    "FORMATS",
    "EmbeddingFile",
    "load_embeddings",
    "read_embedding_file",
    "save_embeddings",
    "sidecar_path",
    "atomic_write",
    "check_writable",
]

FORMATS = (".npy", ".npz", ".safetensors", ".parquet", ".pt", ".pth", ".csv", ".tsv")


@dataclass(frozen=True)
class EmbeddingFile:
    """An embedding matrix with the metadata of its sidecar (empty dict if none)."""

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
    p = Path(path)
    return p.with_name(p.name + ".json")


def _ext(path: Path) -> str:
    ext = path.suffix.lower()
    if ext not in FORMATS:
        raise ValueError(
            f"{path}: unsupported embedding file extension {ext or '(none)'!r}; "
            f"use one of {', '.join(FORMATS)}"
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


def _read_parquet(path: Path):
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if table.num_columns == 0:
        raise ValueError(f"{path}: the parquet file has no columns")
    import pyarrow as pa

    list_cols = [c for c in table.column_names
                 if pa.types.is_list(table.schema.field(c).type)
                 or pa.types.is_fixed_size_list(table.schema.field(c).type)
                 or pa.types.is_large_list(table.schema.field(c).type)]
    if len(list_cols) == 1:
        col = table.column(list_cols[0]).to_pylist()
        lengths = {len(v) if v is not None else -1 for v in col}
        if len(lengths) != 1 or -1 in lengths:
            raise ValueError(f"{path}: column {list_cols[0]!r} has rows of different lengths or nulls")
        return np.asarray(col, dtype=np.float64)
    if len(list_cols) > 1:
        raise ValueError(f"{path}: several list columns ({', '.join(list_cols)}); keep exactly one")
    numeric = [c for c in table.column_names
               if pa.types.is_integer(table.schema.field(c).type)
               or pa.types.is_floating(table.schema.field(c).type)]
    if not numeric:
        raise ValueError(f"{path}: no numeric or list columns found")
    return np.column_stack([table.column(c).to_numpy(zero_copy_only=False) for c in numeric])


def _read_text(path: Path, ext: str):
    delim = "\t" if ext == ".tsv" else ","
    with open(path, encoding="utf-8") as fh:
        lines = [ln for ln in fh.read().splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"{path}: the file is empty")

    def parse(line: str, lineno: int):
        try:
            return [float(v) for v in line.split(delim)]
        except ValueError:
            return None if lineno == 0 else lineno

    first = parse(lines[0], 0)
    start = 0 if first is not None else 1  # a non-numeric first line is a header
    rows = []
    for i, line in enumerate(lines[start:], start=start):
        vals = parse(line, i)
        if not isinstance(vals, list):
            raise ValueError(f"{path}: line {i + 1} is not a row of numbers separated by {delim!r}")
        rows.append(vals)
    if not rows:
        raise ValueError(f"{path}: no data rows after the header")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise ValueError(f"{path}: rows have different numbers of values ({sorted(widths)})")
    return np.asarray(rows, dtype=np.float64)


def _read_raw(path: Path, key: str | None):
    ext = _ext(path)
    if ext == ".npy":
        return np.load(path, allow_pickle=False)
    if ext == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return _pick({k: z[k] for k in z.files}, key, path)
    if ext == ".safetensors":
        from safetensors.numpy import load_file

        return _pick(load_file(str(path)), key, path)
    if ext == ".parquet":
        return _read_parquet(path)
    if ext in (".pt", ".pth"):
        import torch

        obj = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(obj, dict):
            obj = _pick({str(k): v for k, v in obj.items()}, key, path)
        if not isinstance(obj, torch.Tensor):
            raise ValueError(f"{path}: expected a tensor or a dict of tensors, got {type(obj).__name__}")
        return obj.detach().to(torch.float64).numpy()
    return _read_text(path, ext)


def read_embedding_file(path, key: str | None = None, *, min_samples: int = 1,
                        dtype=np.float64) -> EmbeddingFile:
    """Read an embedding file (see module docstring) and its sidecar metadata.

    A ``path`` of the form ``file.npz:NAME`` selects the array ``NAME``. The array is checked:
    2-D, numeric, finite (the error names the file and the first bad row).
    """
    spath = str(path)
    if key is None and ":" in spath and not Path(spath).exists():
        spath, key = spath.rsplit(":", 1)
    p = Path(spath)
    if not p.exists():
        raise ValueError(f"{p}: no such file")
    if p.is_dir():
        raise ValueError(f"{p}: is a folder, expected an embedding file")
    if p.stat().st_size == 0:
        raise ValueError(f"{p}: the file is empty")
    try:
        raw = _read_raw(p, key)
    except ValueError as exc:
        if str(exc).startswith(str(p)):  # our own message, already naming the file
            raise
        raise ValueError(f"{p}: cannot be read as {p.suffix} embeddings ({exc})") from None
    except Exception as exc:  # corrupt files raise many different things
        raise ValueError(f"{p}: cannot be read as {p.suffix} embeddings ({type(exc).__name__}: {exc})") from None
    arr = as_embeddings(raw, "embeddings", min_samples=min_samples, dtype=dtype, source=str(p))
    meta = {}
    sc = sidecar_path(p)
    if sc.exists():
        try:
            meta = json.loads(sc.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{sc}: the sidecar is not valid JSON ({exc})") from None
    return EmbeddingFile(arr, meta, str(p))


def load_embeddings(path, key: str | None = None) -> np.ndarray:
    """Load an (n, d) float64 embedding matrix from ``path`` (formats: module docstring)."""
    return read_embedding_file(path, key).array


def check_writable(path, force: bool = False) -> Path:
    """Raise if ``path`` exists and ``force`` is False, or its folder cannot be created."""
    p = Path(path)
    if p.exists() and not force:
        raise ValueError(f"{p}: already exists; pass --force (force=True) to overwrite it")
    if p.is_dir():
        raise ValueError(f"{p}: is a folder, expected a file path")
    return p


@contextlib.contextmanager
def atomic_write(path, force: bool = False, suffix: str | None = None):
    """Yield a temporary path next to ``path``; on success rename it onto ``path``."""
    p = check_writable(path, force)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=suffix or p.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        if p.exists() and not force:  # appeared while we were writing
            raise ValueError(f"{p}: already exists; pass --force (force=True) to overwrite it")
        os.replace(tmp, p)
    finally:
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
        from safetensors.numpy import save_file

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
    else:
        delim = "\t" if ext == ".tsv" else ","
        np.savetxt(tmp, arr, delimiter=delim, fmt="%.17g")


def save_embeddings(path, X, *, metadata: dict | None = None, force: bool = False,
                    key: str = "embeddings", dtype=None) -> Path:
    """Write ``X`` (n, d) to ``path`` atomically, plus a JSON sidecar ``<path>.json``.

    The sidecar records ``n``, ``dim``, ``dtype``, ``format``, ``created`` (UTC, ISO 8601), the
    repalign version and every entry of ``metadata`` (model, dataset, preprocessing, ...).
    Neither file is replaced if it exists, unless ``force=True``.
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
    from . import __version__

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
    with atomic_write(p, force=force) as tmp:
        _write_raw(arr, tmp, ext, key)
    with atomic_write(sc, force=force) as tmp:
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    return p
