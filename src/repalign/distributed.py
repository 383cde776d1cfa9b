"""Beyond one machine: Dask-backed streaming statistics and parallel tasks.

Nothing here schedules work itself: Dask (``dask.distributed``) does.

* Inputs (:func:`as_dask_array`): Dask arrays, zarr stores (a path ending in ``.zarr`` or a
  ``zarr.Array``), parquet files or folders of them (one chunk per row group), ``.npy`` files
  (one or a list stacked by rows; each task reads its own rows), or in-memory arrays. Inputs
  chunked here follow the other input's row chunks (:func:`as_dask_pair`); two Dask arrays
  chunked differently are refused (the error says how to rechunk).
* Statistics: :func:`moments` computes :class:`repalign.moments.PairMoments` of every row chunk
  on the workers with one fixed shift (the first chunk's mean, computed first) and tree-reduces
  them with ``merge``; :func:`cka` / :func:`hsic` (biased and debiased) then equal the
  in-memory path to rounding (tested to 1e-10). SPEC's covariances use the same reduction
  (:func:`repalign.spectral.spec` accepts Dask arrays and ``scheduler=``).
* Where: ``scheduler=`` an address (``tcp://host:8786``) or a ``distributed.Client``; else the
  active client if there is one; else, when the input is larger than this machine's free
  memory, a ``LocalCluster`` sized to the machine (one worker per core, memory split evenly);
  otherwise Dask's threaded scheduler in this process.
* Tasks (:func:`map_tasks`): embarrassingly parallel work (QAP restarts, semantic-RSM blocks,
  permutation and bootstrap replicates, experiment units) as ``client.map`` over a list, in
  order, or a plain loop when no cluster is involved.

References
----------
Rocklin, "Dask: Parallel Computation with Blocked algorithms and Task Scheduling", SciPy 2015,
doi:10.25080/Majora-7b98e3ed-013.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from pathlib import Path

import numpy as np

from .io import open_zarr, parquet_parts, read_parquet_part
from .kernels import KERNEL_NAMES, resolve_kernel
from .moments import PairMoments

__all__ = ["as_dask_array", "as_dask_pair", "resolve_client", "moments", "cka", "hsic", "map_tasks", "client_for", "available_memory",
           "is_dask_array", "feature_moments"]


def _dask():
    try:
        import dask.array as da  # optional dependency: the 'dask' extra
    except ImportError:
        raise ValueError("dask: needs the packages dask and distributed (pip install 'repalign[dask]')") from None
    return da


def is_dask_array(x) -> bool:
    """Whether ``x`` is a Dask array (without importing Dask when it is not loaded).

    Parameters
    ----------
    x : object

    Returns
    -------
    bool
    """
    return type(x).__module__.startswith("dask.array")


def as_dask_array(x, name: str = "X", chunk_rows: int | None = None):
    """A 2-D float Dask array chunked along rows only.

    Parameters
    ----------
    x : dask array, zarr array or path (``*.zarr``), parquet file or folder of them (one chunk
        per row group; columns as in :func:`repalign.load_embeddings`), ``.npy`` path or list of
        paths, or array
    name : str
        Argument name used in errors.
    chunk_rows : int, optional
        Rows per chunk for inputs that have none (default: about 64 MB per chunk).

    Returns
    -------
    dask.array.Array, shape (n, d)
    """
    da = _dask()
    if isinstance(x, (str, Path)) and str(x).endswith(".zarr"):
        p = Path(x)
        x = open_zarr(p, name=name)  # every chunk present, a group's only array
        x = _CheckedZarr(x, name, str(p))
    if isinstance(x, (str, Path)) and (str(x).endswith(".parquet") or (Path(x).is_dir() and any(Path(x).glob("*.parquet")))):
        x = _parquet_dask(x, name)
    if isinstance(x, (str, Path)) or (isinstance(x, (list, tuple)) and x and isinstance(x[0], (str, Path))):
        paths = [x] if isinstance(x, (str, Path)) else list(x)
        parts = []
        for p in paths:
            p = Path(p)
            if p.suffix.lower() != ".npy" or not p.is_file():
                raise ValueError(f"{name}: {p} is not a .npy file (Dask inputs: dask arrays, .zarr stores, "
                                 "parquet files or folders, .npy files)")
            parts.append(_npy_dask(p, name, chunk_rows))
        x = parts[0] if len(parts) == 1 else da.concatenate(parts, axis=0)
    if not is_dask_array(x):
        arr = x if hasattr(x, "shape") and hasattr(x, "dtype") else np.asarray(x)
        x = da.from_array(arr, chunks=(chunk_rows or _rows_for(arr.shape[-1] if arr.ndim else 1), -1))
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (n_samples, n_features), got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"{name}: expected a numeric (float) array, got dtype {x.dtype}")
    if len(x.chunks[1]) != 1:
        x = x.rechunk({1: -1})
    return x


class _CheckedZarr:
    """A zarr array whose unreadable (truncated, corrupted) chunks raise one clear ValueError."""

    def __init__(self, arr, name: str, path: str):
        self.arr, self.name, self.path = arr, name, path
        self.shape, self.dtype, self.ndim = arr.shape, arr.dtype, arr.ndim

    def __getitem__(self, key):
        try:
            return self.arr[key]
        except Exception as exc:  # noqa: BLE001 - codecs raise anything for damaged bytes
            raise ValueError(f"{self.name}: a chunk of {self.path} cannot be read ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'damaged data'}); the store is damaged, "
                             "restore or rewrite it") from None


def _npy_dask(path: Path, name: str, chunk_rows):
    """A ``.npy`` file as a Dask array whose tasks read their own rows. ``da.from_array`` on the
    memory map embedded the whole file in the graph (an 880 MB graph for a 400 MB pair of files,
    sent to the scheduler); here a task carries only (path, start, stop)."""
    import dask  # optional dependency

    m = np.load(path, mmap_mode="r", allow_pickle=False)  # the header: shape and dtype
    shape, dtype = m.shape, m.dtype
    if len(shape) != 2:
        raise ValueError(f"{name}: expected a 2-D array (n_samples, n_features), got shape {shape} in {path}")
    rows = chunk_rows or _rows_for(shape[1])
    stamp = path.stat().st_mtime_ns  # a rewritten file gets new task keys
    read = dask.delayed(_read_npy_rows, pure=True)
    return _stack([(read(str(path), s, min(shape[0], s + rows), stamp), min(shape[0], s + rows) - s)
                   for s in range(0, shape[0], rows)], shape[1], dtype)


def _read_npy_rows(path: str, start: int, stop: int, stamp: int) -> np.ndarray:
    """Rows ``start:stop`` of a ``.npy`` file, copied out of a memory map (closed on return)."""
    return np.array(np.load(path, mmap_mode="r", allow_pickle=False)[start:stop])


def _stack(pieces, d: int, dtype):
    """One Dask array from ``(delayed block, rows)`` pieces stacked by rows (empty ones skipped)."""
    da = _dask()
    blocks = [da.from_delayed(b, shape=(rows, d), dtype=dtype) for b, rows in pieces if rows]
    if not blocks:
        return da.zeros((0, d), dtype=dtype)
    return da.concatenate(blocks, axis=0) if len(blocks) > 1 else blocks[0]


def _parquet_dask(path, name):
    import dask  # optional dependency

    try:
        parts, columns, is_list, d = parquet_parts(path)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    read = dask.delayed(read_parquet_part)
    return _stack([(read(f, g, columns, is_list), rows) for f, g, rows in parts], d, np.float64)


def _rows_for(d: int, budget: int = 64 << 20) -> int:
    return int(max(1024, budget // (8 * max(d, 1))))


def as_dask_pair(X, Y, names=("X", "Y")):
    """Both inputs as Dask arrays (see :func:`as_dask_array`) with the same row chunks.

    Parameters
    ----------
    X, Y : Dask array, zarr store, parquet file or folder, ``.npy`` path(s) or array, shape (n, d)
        The same n items, row for row.
    names : tuple of str
        Names used in error messages (the user's argument or file names).

    Returns
    -------
    (dask.array.Array, dask.array.Array)
        Inputs this module chunks itself (files, stores, in-memory arrays) follow the other's rows:
        two ``.npy`` files of different widths get different default chunks, which a user passing
        paths could not rechunk. Only two Dask arrays the user chunked differently are refused.
    """
    user_x, user_y = is_dask_array(X), is_dask_array(Y)
    X, Y = as_dask_array(X, names[0]), as_dask_array(Y, names[1])
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"{names[0]} and {names[1]} have mismatched sample counts ({X.shape[0]} vs {Y.shape[0]}); "
                         "row i of both must describe the same item")
    if X.chunks[0] != Y.chunks[0]:
        if not user_y:
            Y = Y.rechunk({0: X.chunks[0]})
        elif not user_x:
            X = X.rechunk({0: Y.chunks[0]})
        else:
            raise ValueError(f"{names[1]}: its row chunks differ from {names[0]}'s ({Y.chunks[0][:3]}... vs "
                             f"{X.chunks[0][:3]}...); rechunk it: {names[1]}.rechunk({{0: {names[0]}.chunks[0]}})")
    return X, Y


# ---------------------------------------------------------------------------------- where


def _local_cluster():
    from distributed import Client, LocalCluster  # optional dependency

    n = os.cpu_count() or 1
    mem = available_memory()
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                           memory_limit=int(mem * 0.8 / n) if mem else "auto")
    return Client(cluster), cluster


def available_memory() -> int:
    """Free memory in bytes (MemAvailable), 0 where it cannot be read.

    Returns
    -------
    int
    """
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


SCHEDULER_FORMS = "tcp://HOST:PORT, HOST:PORT, tls://HOST:PORT, or 'local' (a LocalCluster on this machine)"
_ADDRESS = re.compile(r"^(?:(tcp|tls|ws|wss|ucx|inproc)://)?([^/:\s]+|\[[0-9a-fA-F:]+\])(?::(\d+))?(/\S*)?$")


def _check_address(scheduler: str) -> str:
    """A scheduler address in a form Dask accepts (``host:port`` means ``tcp://host:port``)."""
    m = _ADDRESS.match(scheduler.strip())
    if not m or (m.group(1) in (None, "tcp", "tls") and not m.group(3)):
        raise ValueError(f"scheduler: {scheduler!r} is not an address; use {SCHEDULER_FORMS}")
    return scheduler.strip() if m.group(1) else f"tcp://{scheduler.strip()}"


def _probe_dask(address: str, timeout: float) -> None:
    """Fail fast when ``address`` is not a Dask scheduler: on connect a Dask TCP server sends its
    handshake at once, framed by an 8-byte little-endian length (a few dozen bytes). A service
    that sends nothing (an HTTP server) or a banner whose first 8 bytes read as an absurd length
    (an SSH server) is not one; Dask's own client would wait on it for minutes, or try to
    allocate the absurd length."""
    host, port = address[len("tcp://"):].rsplit(":", 1)
    host = host.strip("[]")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            sock.settimeout(min(timeout, 5.0))
            head = b""
            while len(head) < 8:
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    break
                head += chunk
    except TimeoutError:
        raise ValueError(f"scheduler: {address} is not a Dask scheduler (it sent no handshake within "
                         f"{min(timeout, 5.0):g} s); check the address (the scheduler's port, 8786 by default)") from None
    except OSError as exc:
        raise ValueError(f"scheduler: cannot reach {address} ({exc.strerror or exc}); check the address "
                         "(tcp://host:8786) or leave --scheduler out") from None
    if len(head) < 8 or not 0 < int.from_bytes(head, "little") <= 1 << 20:
        raise ValueError(f"scheduler: {address} is not a Dask scheduler (it answered something else); check the "
                         "address (the scheduler's port, 8786 by default)")


def resolve_client(scheduler=None, *, data_bytes: int | None = None, timeout: float = 10.0):
    """The ``distributed.Client`` to run on, or None for Dask's threaded scheduler.

    Parameters
    ----------
    scheduler : None, str or distributed.Client
        An address (:data:`SCHEDULER_FORMS`; ``"local"`` starts a LocalCluster here), a client, or
        None (module docstring for the default rule). A TCP address is probed first, so that a
        service that is not a Dask scheduler is one quick error.
    data_bytes : int, optional
        Size of the input: above the free memory a LocalCluster is started.
    timeout : float
        Seconds to wait for a scheduler address.

    Returns
    -------
    client : distributed.Client or None
    owned : object or None
        A LocalCluster this call started (close it with the client), else None.
    """
    if scheduler is not None and not isinstance(scheduler, str):
        return scheduler, None
    if isinstance(scheduler, str):
        try:
            from distributed import Client  # optional dependency
        except ImportError:
            raise ValueError("scheduler: needs the package distributed (pip install 'repalign[dask]')") from None
        if scheduler == "local":
            return _local_cluster()
        address = _check_address(scheduler)
        if address.startswith("tcp://"):
            _probe_dask(address, timeout)
        try:
            return Client(address, timeout=timeout), None
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"scheduler: cannot reach {scheduler} ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                             "check the address (tcp://host:8786) or leave --scheduler out") from None
    try:
        from distributed import get_client  # an active client, if the user made one

        return get_client(), None
    except (ImportError, ValueError):
        pass
    if data_bytes is not None and data_bytes > available_memory() > 0:
        client, cluster = _local_cluster()
        return client, cluster
    return None, None


@contextlib.contextmanager
def client_for(scheduler=None, data_bytes: int | None = None):
    """Context manager around :func:`resolve_client` that closes what it started.

    Parameters
    ----------
    scheduler, data_bytes
        As in :func:`resolve_client`.

    Returns
    -------
    context manager yielding distributed.Client or None
    """
    client, cluster = resolve_client(scheduler, data_bytes=data_bytes)
    started = cluster is not None or isinstance(scheduler, str)
    try:
        yield client
    finally:
        if started and client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def map_tasks(fn, items, *, scheduler=None, pure: bool = True):
    """``[fn(x) for x in items]``, as Dask tasks when a cluster is involved.

    Parameters
    ----------
    fn : callable
        Picklable (a module-level function or a ``functools.partial`` of one).
    items : sequence
    scheduler : None, str or distributed.Client
        As in :func:`resolve_client`; None and no active client: a plain loop here.
    pure : bool
        Whether equal arguments may share one result.

    Returns
    -------
    list
        In the order of ``items``.
    """
    items = list(items)
    with client_for(scheduler) as client:
        if client is None:
            return [fn(x) for x in items]
        futures = client.map(fn, items, pure=pure)
        return client.gather(futures)


# ---------------------------------------------------------------------------------- statistics


def _chunk_moments(x, y, shift_x, shift_y, debiased, compute_dtype):
    acc = PairMoments(debiased=debiased, shift_x=shift_x, shift_y=shift_y, compute_dtype=compute_dtype)
    if len(x):
        acc.update(x, y)
    return acc


def _merge(parts):
    out = parts[0]
    for p in parts[1:]:
        out = out.merge(p)
    return out


def _tree_reduce(delayed_parts, fan_in: int = 8):
    import dask

    parts = list(delayed_parts)
    while len(parts) > 1:
        parts = [dask.delayed(_merge)(parts[i:i + fan_in]) for i in range(0, len(parts), fan_in)]
    return parts[0]


def moments(X, Y, *, debiased: bool = False, compute_dtype: str = "auto", scheduler=None) -> PairMoments:
    """First and second moments of a row-aligned pair, per chunk on the workers, tree-reduced.

    Parameters
    ----------
    X, Y : see :func:`as_dask_array`
        Row-aligned, same row chunks.
    debiased : bool
        Also the row-norm terms of the unbiased HSIC.
    compute_dtype : {"auto", "float64", "float32"}
        As in :class:`repalign.moments.PairMoments` (sums are float64).
    scheduler : None, str or distributed.Client

    Returns
    -------
    PairMoments
    """
    import dask

    X, Y = as_dask_pair(X, Y)
    if X.shape[0] == 0:
        raise ValueError("X: has no rows")
    data_bytes = (X.nbytes + Y.nbytes) if hasattr(X, "nbytes") else None
    with client_for(scheduler, data_bytes) as client:
        first_x, first_y = (dask.compute(X.blocks[0].mean(axis=0, dtype=np.float64),
                                         Y.blocks[0].mean(axis=0, dtype=np.float64),
                                         scheduler=client.get if client is not None else "threads"))
        bx, by = X.to_delayed().ravel(), Y.to_delayed().ravel()
        parts = [dask.delayed(_chunk_moments)(a, b, first_x, first_y, debiased, compute_dtype)
                 for a, b in zip(bx, by, strict=True)]
        total = _tree_reduce(parts)
        if client is not None:
            return client.compute(total).result()
        return total.compute(scheduler="threads")


def _linear_only(kernel: str) -> None:
    if resolve_kernel(kernel, KERNEL_NAMES) != "linear":
        raise ValueError(f"kernel: out of core only the linear kernel is streamed, got {kernel!r}; load the data "
                         "into memory (repalign.cka) for the others")


def cka(X, Y, kernel: str = "linear", *, debiased: bool = False, compute_dtype: str = "auto", scheduler=None) -> float:
    """CKA of row-aligned Dask / zarr / .npy inputs, out of core (module docstring).

    The same name and leading arguments as :func:`repalign.cka`; only the linear kernel is
    streamed (its statistics are d x d moments; other kernels need the n x n Gram matrix).

    Parameters
    ----------
    X, Y : see :func:`as_dask_array`
    kernel : {"linear"}
    debiased : bool
    compute_dtype : {"auto", "float64", "float32"}
    scheduler : None, str or distributed.Client

    Returns
    -------
    float
        Equal to :func:`repalign.cka` on the same rows (to rounding).

    References
    ----------
    Kornblith et al., ICML 2019, arXiv:1905.00414; maniparambil2024 (arXiv:2401.05224), Eq. 1.
    """
    _linear_only(kernel)
    return moments(X, Y, debiased=debiased, compute_dtype=compute_dtype, scheduler=scheduler).linear_cka(debiased)


def hsic(X, Y, kernel: str = "linear", *, debiased: bool = False, compute_dtype: str = "auto",
         scheduler=None) -> float:
    """HSIC of row-aligned Dask / zarr / .npy inputs, out of core (linear kernel only, as :func:`cka`).

    Parameters
    ----------
    X, Y : see :func:`as_dask_array`
    kernel : {"linear"}
    debiased : bool
        Song et al.'s unbiased estimator (``1/(n(n-3))`` scale) instead of ``1/(n-1)²``.
    compute_dtype : {"auto", "float64", "float32"}
    scheduler : None, str or distributed.Client

    Returns
    -------
    float
        Equal to :func:`repalign.hsic` with the linear kernel.

    References
    ----------
    Gretton et al., ALT 2005, doi:10.1007/11564089_7; Song et al., JMLR 13 (2012).
    """
    _linear_only(kernel)
    acc = moments(X, Y, debiased=debiased, compute_dtype=compute_dtype, scheduler=scheduler)
    n = acc.n
    scale = 1.0 / (n * (n - 3.0)) if debiased else 1.0 / (n - 1.0) ** 2
    return float(scale * acc.hsic_terms(debiased=debiased)[0])


def _feature_chunk(x, y, fa, fb, dtype):
    acc = PairMoments(debiased=False, shift_x=np.zeros(fa.n_features), shift_y=np.zeros(fb.n_features),
                      compute_dtype="float32" if dtype == np.float32 else "float64")
    if len(x):
        acc.update(fa(np.asarray(x), dtype=dtype), fb(np.asarray(y), dtype=dtype))
    return acc


def feature_moments(X, Y, fa, fb, *, dtype=np.float64, scheduler=None) -> PairMoments:
    """Raw moments of kernel features ``fa(X)``, ``fb(Y)`` per chunk on the workers (SPEC).

    Parameters
    ----------
    X, Y : see :func:`as_dask_array`
    fa, fb : repalign.spectral.FeatureMap
    dtype : numpy dtype
        Of the per-chunk products.
    scheduler : None, str or distributed.Client

    Returns
    -------
    PairMoments
        With zero shift: ``raw()`` gives ΦᵀΦ sums.
    """
    import dask

    X, Y = as_dask_pair(X, Y, ("A", "B"))
    with client_for(scheduler, X.nbytes + Y.nbytes) as client:
        parts = [dask.delayed(_feature_chunk)(a, b, fa, fb, dtype)
                 for a, b in zip(X.to_delayed().ravel(), Y.to_delayed().ravel(), strict=True)]
        total = _tree_reduce(parts)
        if client is not None:
            return client.compute(total).result()
        return total.compute(scheduler="threads")
