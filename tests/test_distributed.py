"""Dask scale-out: a real LocalCluster (2 worker processes) gives the in-memory numbers."""

import numpy as np
import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed (pip install 'repalign[dask]')")
da = pytest.importorskip("dask.array")

import repalign as ra  # noqa: E402
from repalign import distributed as rd  # noqa: E402

from .conftest import related_pair  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(c)
    yield client
    client.close()
    c.close()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X, Y = related_pair(rng, n=4000, dx=24, dy=16)
    return X + 5.0, Y - 3.0  # an offset: the shift must be handled


def test_linear_cka_and_hsic_from_zarr_on_the_cluster(cluster, data, tmp_path):
    zarr = pytest.importorskip("zarr")
    X, Y = data
    zx = zarr.open_array(str(tmp_path / "x.zarr"), mode="w", shape=X.shape, chunks=(700, X.shape[1]), dtype="f8")
    zx[:] = X
    zy = zarr.open_array(str(tmp_path / "y.zarr"), mode="w", shape=Y.shape, chunks=(700, Y.shape[1]), dtype="f8")
    zy[:] = Y
    for debiased in (False, True):
        got = rd.cka(tmp_path / "x.zarr", tmp_path / "y.zarr", debiased=debiased, scheduler=cluster)
        assert got == pytest.approx(ra.cka(X, Y, debiased=debiased), abs=1e-10)
        h = rd.hsic(str(tmp_path / "x.zarr"), str(tmp_path / "y.zarr"), debiased=debiased, scheduler=cluster)
        assert h == pytest.approx(ra.hsic(X, Y, debiased=debiased), rel=1e-10)
    # many chunks: the same fixed reduction every time, so bit-identical
    Xd, Yd = da.from_array(X, chunks=(100, -1)), da.from_array(Y, chunks=(100, -1))
    a, b = rd.cka(Xd, Yd, scheduler=cluster), rd.cka(Xd, Yd, scheduler=cluster)
    assert a == b and a == pytest.approx(ra.cka(X, Y), abs=1e-10)
    # by address, as --scheduler does
    addr = cluster.scheduler.address
    assert rd.cka(da.from_array(X, chunks=(512, -1)), da.from_array(Y, chunks=(512, -1)),
                         scheduler=addr) == pytest.approx(ra.cka(X, Y), abs=1e-10)


def test_npy_stacks_and_spec_covariances(cluster, data, tmp_path):
    X, Y = data
    for i, s in enumerate(range(0, 4000, 1000)):
        np.save(tmp_path / f"x{i}.npy", X[s:s + 1000])
        np.save(tmp_path / f"y{i}.npy", Y[s:s + 1000])
    xs = [tmp_path / f"x{i}.npy" for i in range(4)]
    ys = [tmp_path / f"y{i}.npy" for i in range(4)]
    assert rd.cka(xs, ys, scheduler=cluster) == pytest.approx(ra.cka(X, Y), abs=1e-10)
    ref = ra.spec(X, Y, "gaussian", rff=100, route="cholesky", seed=2)
    dx, dy = rd.as_dask_array(xs, "A"), rd.as_dask_array(ys, "B")
    got = ra.spec(dx, dy, "gaussian", rff=100, route="cholesky", seed=2, scheduler=cluster)
    assert np.allclose(got.eigenvalues[:10], ref.eigenvalues[:10], atol=1e-10)
    assert [m.top_indices.tolist() for m in got.modes] == [m.top_indices.tolist() for m in ref.modes]


def test_npy_files_of_different_widths_stream_without_the_data_in_the_graph(cluster, data, tmp_path, monkeypatch):
    # bugs: (1) the memory map went into the graph by value (an 880 MB graph for 400 MB of files,
    # 12x slower); (2) two .npy files of different widths got different row chunks and were
    # refused with advice to rechunk, which a user passing paths cannot do
    import pickle

    X, Y = data
    wide = np.hstack([X] * 40)  # 960 columns
    monkeypatch.setattr(rd, "_rows_for", lambda d: 300 if d > 100 else 1000)  # as 64 MB chunks do at scale
    np.save(tmp_path / "x.npy", wide)
    np.save(tmp_path / "y.npy", Y)
    dx = rd.as_dask_array(tmp_path / "x.npy")
    assert len(pickle.dumps(dict(dx.__dask_graph__()))) < wide.nbytes / 20
    assert rd.as_dask_array(tmp_path / "y.npy").chunks[0] != dx.chunks[0]
    got = rd.cka(tmp_path / "x.npy", tmp_path / "y.npy", scheduler=cluster)
    assert got == pytest.approx(ra.cka(wide, Y), abs=1e-10)
    assert np.array_equal(dx.compute(), wide)
    np.save(tmp_path / "v.npy", X[:, 0])
    with pytest.raises(ValueError, match="2-D"):
        rd.as_dask_array(tmp_path / "v.npy")


def test_embarrassingly_parallel_work_gives_the_same_numbers(cluster, data):
    X, Y = data[0][:200], data[1][:200]
    p1, n1 = ra.permutation_test("cka-linear", X, Y, 40, seed=3)
    p2, n2 = ra.permutation_test("cka-linear", X, Y, 40, seed=3, scheduler=cluster)
    assert p1 == p2 and np.array_equal(n1, n2)
    b1 = ra.bootstrap_ci("mutual-knn", X, Y, 20, seed=4)
    b2 = ra.bootstrap_ci("mutual-knn", X, Y, 20, seed=4, scheduler=cluster)
    assert b1[:2] == b2[:2] and np.allclose(b1[2], b2[2], equal_nan=True)
    from repalign.kernels import normalized_kernel

    A, B = normalized_kernel(X[:60]), normalized_kernel(Y[:60])
    from repalign.qap import faq_solver

    problem = ra.QAPProblem(A, B, anchors=np.arange(20), maximize=True)
    q1 = faq_solver(problem, restarts=6, seed=1, max_iter=50)
    q2 = faq_solver(problem, restarts=6, seed=1, max_iter=50, scheduler=cluster)
    assert np.array_equal(q1.permutation, q2.permutation) and q1.objective == q2.objective
    maps = np.abs(np.random.default_rng(5).normal(size=(40, 6, 3, 3)))
    r1 = ra.semantic_rsm(maps, kernel="inner")
    r2 = ra.semantic_rsm(maps, kernel="inner", scheduler=cluster)
    assert np.allclose(r1.inner, r2.inner, atol=1e-12)
    assert rd.map_tasks(abs, [-3, 2, -1], scheduler=cluster) == [3, 2, 1]
    # experiment units: data every unit reads is scattered once, results come back in order
    import operator

    from repalign.experiments._base import Units

    shared = {"a": X[:3].tolist(), "b": Y[:2].tolist()}
    assert Units(None, {}).run(["b", "a"], operator.getitem, shared=shared, scheduler=cluster) == [shared["b"],
                                                                                                   shared["a"]]


def test_bad_inputs_are_one_clear_error(data, tmp_path):
    X, Y = data
    with pytest.raises(ValueError, match="cannot reach tcp://127.0.0.1:9"):
        rd.resolve_client("tcp://127.0.0.1:9", timeout=2)
    with pytest.raises(ValueError, match=r"rechunk"):
        rd.cka(da.from_array(X, chunks=(500, -1)), da.from_array(Y, chunks=(300, -1)))
    with pytest.raises(ValueError, match="mismatched sample counts"):
        rd.cka(da.from_array(X, chunks=(500, -1)), da.from_array(Y[:100], chunks=(500, -1)))
    with pytest.raises(ValueError, match="2-D"):
        rd.as_dask_array(da.ones(10), "X")
    with pytest.raises(ValueError, match="numeric"):
        rd.as_dask_array(da.from_array(np.array([["a", "b"], ["c", "d"]])), "X")
    with pytest.raises(ValueError, match="no such zarr store"):
        rd.as_dask_array(tmp_path / "none.zarr")
    (tmp_path / "bad.zarr").mkdir()
    with pytest.raises(ValueError, match="not a readable zarr array"):
        rd.as_dask_array(tmp_path / "bad.zarr")


def test_parquet_folders_stream_by_row_group(data, tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X, Y = data
    (tmp_path / "x").mkdir()
    for i, s in enumerate(range(0, 4000, 1500)):  # wide numeric columns, pandas index stored
        pd.DataFrame(X[s:s + 1500], columns=[f"f{j}" for j in range(X.shape[1])]).to_parquet(
            tmp_path / "x" / f"part{i}.parquet", row_group_size=400)
    pd.DataFrame({"emb": list(Y)}).to_parquet(tmp_path / "y.parquet", row_group_size=900)  # one list column
    Xd = rd.as_dask_array(tmp_path / "x")
    assert Xd.shape == X.shape and np.array_equal(Xd.compute(), X)
    assert np.array_equal(rd.as_dask_array(tmp_path / "y.parquet").compute(), Y)
    Yd = rd.as_dask_array(tmp_path / "y.parquet").rechunk({0: Xd.chunks[0]})
    assert rd.cka(Xd, Yd) == pytest.approx(ra.cka(X, Y), abs=1e-10)
    # files are read in natural order: part2 before part10 (not part10, part2)
    (tmp_path / "n").mkdir()
    for i, s in zip((2, 10, 1), (1500, 3000, 0), strict=True):
        pd.DataFrame(X[s:s + 1500], columns=[f"f{j}" for j in range(X.shape[1])]).to_parquet(
            tmp_path / "n" / f"part{i}.parquet")
    assert np.array_equal(rd.as_dask_array(tmp_path / "n").compute(), X)
    # a file with other columns in the folder is refused by name
    pd.DataFrame(X[:10, :3]).to_parquet(tmp_path / "x" / "part9.parquet")
    with pytest.raises(ValueError, match="part9.parquet: its columns differ"):
        rd.as_dask_array(tmp_path / "x")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match="not a readable parquet file"):
        rd.as_dask_array(tmp_path / "junk.parquet")


def test_cli_streams_stores_out_of_core(data, tmp_path, capsys):
    zarr = pytest.importorskip("zarr")
    from repalign.cli import main

    X, Y = data
    zx = zarr.open_array(str(tmp_path / "x.zarr"), mode="w", shape=X.shape, chunks=(700, X.shape[1]), dtype="f8")
    zx[:] = X
    np.save(tmp_path / "y.npy", Y)
    assert main(["similarity", str(tmp_path / "x.zarr"), str(tmp_path / "y.npy"), "--json"]) == 0
    got = __import__("json").loads(capsys.readouterr().out)
    assert got["n"] == 4000 and got["measures"]["cka-linear"]["value"] == pytest.approx(ra.cka(X, Y), abs=1e-10)
    deb = got["measures"]["cka-linear-debiased"]["value"]
    assert deb == pytest.approx(ra.cka(X, Y, debiased=True), abs=1e-10)
    assert main(["similarity", str(tmp_path / "x.zarr"), str(tmp_path / "y.npy"), "--measure", "gw"]) == 2
    assert "only cka-linear and cka-linear-debiased are streamed" in capsys.readouterr().err
    assert main(["similarity", str(tmp_path / "x.zarr"), str(tmp_path / "y.npy"), "--bootstrap", "10"]) == 2
    assert "needs the data in memory" in capsys.readouterr().err


def test_out_of_core_cka_has_the_in_memory_signature_and_refuses_other_kernels(rng):
    import dask.array as da

    X, Y = rng.normal(size=(60, 4)), rng.normal(size=(60, 3))
    Xd, Yd = da.from_array(X, chunks=(20, -1)), da.from_array(Y, chunks=(20, -1))
    assert rd.cka(Xd, Yd, "linear") == pytest.approx(ra.cka(X, Y, "linear"), abs=1e-12)
    assert rd.hsic(Xd, Yd, kernel="linear") == pytest.approx(ra.hsic(X, Y), rel=1e-10)
    with pytest.raises(ValueError, match="kernel: out of core only the linear kernel"):
        rd.cka(Xd, Yd, "rbf")


def _zarr_pair(tmp_path, rng):
    zarr = pytest.importorskip("zarr")
    X = rng.normal(size=(100, 4))
    Y = X @ rng.normal(size=(4, 3)) + rng.normal(size=(100, 3))
    for nm, arr in (("x", X), ("y", Y)):
        z = zarr.open_array(str(tmp_path / f"{nm}.zarr"), mode="w", shape=arr.shape, chunks=(25, arr.shape[1]),
                            dtype="f8")
        z[:] = arr
    return X, Y


def _chunk_files(store):
    return sorted(p for p in store.rglob("*") if p.is_file() and p.name not in ("zarr.json", ".zarray", ".zattrs"))


def test_a_zarr_store_with_a_missing_chunk_is_refused(tmp_path, rng):
    # bug: a deleted chunk was read as zeros (CKA 0.509 instead of 0.567)
    X, Y = _zarr_pair(tmp_path, rng)
    assert rd.cka(tmp_path / "x.zarr", tmp_path / "y.zarr") == pytest.approx(ra.cka(X, Y), abs=1e-12)
    _chunk_files(tmp_path / "x.zarr")[1].unlink()
    with pytest.raises(ValueError, match=r"X: .*x.zarr is missing 1 of its 4 chunks"):
        rd.cka(tmp_path / "x.zarr", tmp_path / "y.zarr")


def test_a_truncated_zarr_chunk_is_one_clear_error(tmp_path, rng, capsys):
    from repalign.cli import main

    _zarr_pair(tmp_path, rng)
    f = _chunk_files(tmp_path / "y.zarr")[2]
    f.write_bytes(f.read_bytes()[:7])
    with pytest.raises(ValueError, match=r"Y: a chunk of .*y.zarr cannot be read .*damaged"):
        rd.cka(tmp_path / "x.zarr", tmp_path / "y.zarr")
    assert main(["similarity", str(tmp_path / "x.zarr"), str(tmp_path / "y.zarr")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("repalign: error:") and "cannot be read" in err and "internal error" not in err


def test_a_service_that_is_not_a_dask_scheduler_fails_fast():
    # bug: --scheduler pointing at a non-Dask service hung for over 10 minutes (another asked for
    # 3 EiB of memory)
    import socket
    import threading
    import time

    servers = []
    for banner in (None, b"SSH-2.0-OpenSSH_9.2p1\r\n"):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)

        def serve(srv=srv, banner=banner):
            conn, _ = srv.accept()
            if banner:
                conn.sendall(banner)
            time.sleep(3)
            conn.close()

        threading.Thread(target=serve, daemon=True).start()
        servers.append(srv)
    for srv in servers:  # (pytest-timeout ends the run if the probe ever waits like Dask's client did)
        with pytest.raises(ValueError, match="is not a Dask scheduler"):
            rd.resolve_client(f"tcp://127.0.0.1:{srv.getsockname()[1]}", timeout=2)
        srv.close()


@pytest.mark.parametrize("bad", ["nonsense address", "http://host", "tcp://host", "host"])
def test_scheduler_addresses_are_checked(bad):
    with pytest.raises(ValueError, match="is not an address; use tcp://HOST:PORT"):
        rd.resolve_client(bad)


def test_a_real_tcp_scheduler_passes_the_probe():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        client, owned = rd.resolve_client(cluster.scheduler_address)
        try:
            assert client.submit(lambda: 41 + 1).result() == 42 and owned is None
        finally:
            client.close()
