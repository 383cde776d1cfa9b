"""Embedding files: every format round-trips, sidecars, atomic writes, clear errors."""

import json

import numpy as np
import pytest

import repalign as ra
from repalign.io import FORMATS, read_embedding_file


@pytest.mark.parametrize("ext", [e for e in FORMATS if e != ".pth"])
def test_round_trip(tmp_path, rng, ext):
    X = rng.normal(size=(17, 5))
    p = tmp_path / f"emb{ext}"
    ra.save_embeddings(p, X, metadata={"model": "m", "dataset": "d", "preprocessing": {"a": 1}})
    back = read_embedding_file(p)
    assert back.array.shape == (17, 5)
    assert np.allclose(back.array, X, rtol=0, atol=1e-15)
    assert back.metadata["model"] == "m" and back.metadata["n"] == 17 and back.metadata["dim"] == 5
    assert {"created", "dtype", "preprocessing"} <= set(back.metadata)


def test_float32_is_kept_in_the_file(tmp_path, rng):
    X = rng.normal(size=(4, 3)).astype(np.float32)
    ra.save_embeddings(tmp_path / "a.npy", X)
    assert np.load(tmp_path / "a.npy").dtype == np.float32
    assert json.loads((tmp_path / "a.npy.json").read_text())["dtype"] == "float32"


def test_npz_with_several_arrays_needs_a_key(tmp_path, rng):
    p = tmp_path / "m.npz"
    np.savez(p, image=rng.normal(size=(3, 2)), text=rng.normal(size=(3, 4)))
    with pytest.raises(ValueError, match="image, text"):
        ra.load_embeddings(p)
    assert ra.load_embeddings(p, key="text").shape == (3, 4)
    assert ra.load_embeddings(f"{p}:image").shape == (3, 2)
    with pytest.raises(ValueError, match="no array named 'audio'"):
        ra.load_embeddings(p, key="audio")


def test_parquet_numeric_columns_and_text_header(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    # (a first column 1, 2, 3 would count the rows and be refused as a likely index)
    pq.write_table(pa.table({"a": [1.0, 2.5, 3.0], "b": [4, 5, 6], "label": ["x", "y", "z"]}), tmp_path / "t.parquet")
    assert ra.load_embeddings(tmp_path / "t.parquet").tolist() == [[1, 4], [2.5, 5], [3, 6]]
    (tmp_path / "h.csv").write_text("d0,d1\n1,2\n3,4\n")
    assert ra.load_embeddings(tmp_path / "h.csv").tolist() == [[1, 2], [3, 4]]
    (tmp_path / "t.tsv").write_text("1\t2\n3\t4\n")
    assert ra.load_embeddings(tmp_path / "t.tsv").shape == (2, 2)


def test_pt_dict_of_tensors(tmp_path):
    import torch

    torch.save({"emb": torch.ones(3, 2)}, tmp_path / "x.pt")
    assert ra.load_embeddings(tmp_path / "x.pt").shape == (3, 2)


def test_never_overwrites_without_force(tmp_path, rng):
    p = tmp_path / "a.npy"
    ra.save_embeddings(p, rng.normal(size=(3, 2)))
    before = p.read_bytes()
    with pytest.raises(ValueError, match="already exists"):
        ra.save_embeddings(p, rng.normal(size=(3, 2)))
    assert p.read_bytes() == before
    ra.save_embeddings(p, np.zeros((3, 2)), force=True)
    assert np.all(np.load(p) == 0)
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")]  # no temp files left


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        ra.save_embeddings(tmp_path / "b.npy", np.array([[1.0, np.nan]]))
    assert list(tmp_path.iterdir()) == []


def test_bad_files(tmp_path, rng):
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        ra.load_embeddings(tmp_path / "empty.npy")
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    with pytest.raises(ValueError, match="cannot be read"):
        ra.load_embeddings(tmp_path / "junk.npy")
    (tmp_path / "x.hdf4").write_bytes(b"123")
    with pytest.raises(ValueError, match="unsupported"):
        ra.load_embeddings(tmp_path / "x.hdf4")
    with pytest.raises(ValueError, match="no such file"):
        ra.load_embeddings(tmp_path / "missing.npy")
    X = rng.normal(size=(10, 3))
    X[6, 1] = np.inf
    np.save(tmp_path / "bad.npy", X)
    with pytest.raises(ValueError, match=r"bad\.npy.*row 6"):
        ra.load_embeddings(tmp_path / "bad.npy")
    np.save(tmp_path / "vec.npy", np.ones(5))
    with pytest.raises(ValueError, match="2-D"):
        ra.load_embeddings(tmp_path / "vec.npy")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    with pytest.raises(ValueError, match="different numbers"):
        ra.load_embeddings(tmp_path / "ragged.csv")
    np.save(tmp_path / "s.npy", np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="numeric"):
        ra.load_embeddings(tmp_path / "s.npy")


# ------------------------------------------------------------------ index columns, unsafe and complex files
def test_pandas_index_column_in_csv_is_dropped(tmp_path, rng):
    # pandas' df.to_csv() writes ",f0,f1,..." then "0,x,y,...": the index is not a feature
    X = rng.normal(size=(40, 5))
    lines = ["," + ",".join(f"f{j}" for j in range(5))]
    lines += [f"{i}," + ",".join(repr(float(v)) for v in row) for i, row in enumerate(X)]
    (tmp_path / "pd.csv").write_text("\n".join(lines) + "\n")
    got = ra.load_embeddings(tmp_path / "pd.csv")
    assert got.shape == (40, 5) and np.allclose(got, X)
    assert ra.cka(got, X) == pytest.approx(1.0)
    for name in ("index", "Unnamed: 0", "__index_level_0__"):
        (tmp_path / "n.csv").write_text("\n".join([f"{name}," + lines[0][1:]] + lines[1:]) + "\n")
        assert ra.load_embeddings(tmp_path / "n.csv").shape == (40, 5)


def test_unnamed_counting_column_is_refused(tmp_path, rng):
    X = rng.normal(size=(30, 4))
    rows = [f"{i}," + ",".join(repr(float(v)) for v in r) for i, r in enumerate(X)]
    (tmp_path / "idx.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"idx\.csv.*counts the rows.*index_column"):
        ra.load_embeddings(tmp_path / "idx.csv")
    assert np.allclose(ra.load_embeddings(tmp_path / "idx.csv", index_column="drop"), X)
    assert ra.load_embeddings(tmp_path / "idx.csv", index_column="keep").shape == (30, 5)
    (tmp_path / "one.csv").write_text("\n".join(f"{i + 1},{float(r[0])!r}" for i, r in enumerate(X)) + "\n")
    with pytest.raises(ValueError, match="counts the rows"):
        ra.load_embeddings(tmp_path / "one.csv")
    with pytest.raises(ValueError, match="index_column"):
        ra.load_embeddings(tmp_path / "one.csv", index_column="maybe")


def test_parquet_index_columns_are_dropped(tmp_path, rng):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    import json as _json

    X = rng.normal(size=(25, 3))
    cols = {f"f{j}": X[:, j] for j in range(3)}
    t = pa.table({"__index_level_0__": np.arange(25) + 100, **cols})
    pq.write_table(t, tmp_path / "a.parquet")
    assert np.allclose(ra.load_embeddings(tmp_path / "a.parquet"), X)
    # an index named in pandas' metadata
    meta = {b"pandas": _json.dumps({"index_columns": ["item_id"], "columns": []}).encode()}
    t = pa.table({"item_id": np.arange(25) * 7, **cols}).replace_schema_metadata(meta)
    pq.write_table(t, tmp_path / "b.parquet")
    assert np.allclose(ra.load_embeddings(tmp_path / "b.parquet"), X)
    t = pa.table({"row": np.arange(25), **cols})
    pq.write_table(t, tmp_path / "c.parquet")
    with pytest.raises(ValueError, match="counts the rows"):
        ra.load_embeddings(tmp_path / "c.parquet")


def test_pickled_and_complex_files_are_refused_safely(tmp_path, rng):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError) as e:
        ra.load_embeddings(tmp_path / "obj.npy")
    msg = str(e.value)
    assert "Python objects" in msg and "allow_pickle" not in msg and "weights_only" not in msg
    np.save(tmp_path / "c.npy", rng.normal(size=(5, 3)) + 1j)
    with pytest.raises(ValueError, match="complex"):
        ra.load_embeddings(tmp_path / "c.npy")
    with pytest.raises(ValueError, match="complex"):
        ra.cka(rng.normal(size=(5, 3)) + 0j, rng.normal(size=(5, 3)))


class _Custom:  # an arbitrary Python object inside a .pt file
    pass


def test_pickled_torch_file_message_is_safe(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"emb": torch.zeros(3, 2), "meta": _Custom()}, tmp_path / "x.pt")
    with pytest.raises(ValueError) as e:
        ra.load_embeddings(tmp_path / "x.pt")
    assert "weights_only" not in str(e.value) and "\n" not in str(e.value)


def test_written_files_follow_the_umask_and_stale_temps_are_removed(tmp_path, rng):
    import os
    import stat

    from repalign.io import atomic_write

    old = os.umask(0o022)
    try:
        ra.save_embeddings(tmp_path / "e.npy", rng.normal(size=(4, 2)))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "e.npy").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "e.npy.json").stat().st_mode) == 0o644
    # a temp file left by a killed writer (a pid that no longer exists) is cleaned up
    stale = tmp_path / ".r.json.repalign-999999999-abcd.json"
    stale.write_text("partial")
    live = tmp_path / f".r.json.repalign-{os.getpid()}-beef.json"
    live.write_text("in progress")
    import fcntl

    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a live writer holds its temporary file's lock
    try:
        with atomic_write(tmp_path / "r.json") as tmp:
            tmp.write_text("{}")
    finally:
        os.close(fd)
    assert not stale.exists() and live.exists()
    assert (tmp_path / "r.json").read_text() == "{}"


def test_output_under_a_file_is_a_clear_error(tmp_path, rng):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        ra.save_embeddings(tmp_path / "f" / "e.npy", rng.normal(size=(4, 2)))


def test_integer_columns_named_like_labels_are_refused_dropped_or_kept(tmp_path, rng):
    # bug: a CSV column "label" of class ids was read as one more feature (CKA 0.049 instead of 0.698)
    X = rng.normal(size=(30, 4))
    labels = rng.integers(0, 5, size=30)
    f = tmp_path / "e.csv"
    f.write_text("f0,f1,label,f3\n" + "\n".join(f"{a},{b},{c},{d}" for (a, b, d), c in
                                                 zip(X[:, [0, 1, 3]], labels, strict=True)) + "\n")
    with pytest.raises(ValueError, match=r"column 'label' holds integers and is named like a label.*--label-columns"):
        ra.load_embeddings(f)
    assert np.allclose(ra.load_embeddings(f, label_columns="drop"), X[:, [0, 1, 3]])
    assert ra.load_embeddings(f, label_columns="keep").shape == (30, 4)
    g = tmp_path / "float_y.csv"  # a float column named y is a feature like any other
    g.write_text("a,y\n" + "\n".join(f"{a},{b}" for a, b in X[:, :2]) + "\n")
    assert ra.load_embeddings(g).shape == (30, 2)
    with pytest.raises(ValueError, match="label_columns: expected one of"):
        ra.load_embeddings(f, label_columns="maybe")


def test_label_columns_in_parquet_and_on_the_command_line(tmp_path, rng, capsys):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    from repalign.cli import main

    X = rng.normal(size=(40, 3))
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["Target"] = rng.integers(0, 3, size=40)
    df.to_parquet(tmp_path / "x.parquet", index=False)
    Y = X @ rng.normal(size=(3, 5)) + rng.normal(size=(40, 5))
    np.save(tmp_path / "y.npy", Y)
    with pytest.raises(ValueError, match="column 'Target'"):
        ra.load_embeddings(tmp_path / "x.parquet")
    assert main(["similarity", str(tmp_path / "x.parquet"), str(tmp_path / "y.npy"), "--measure", "cka-linear"]) == 2
    assert "--label-columns drop" in capsys.readouterr().err
    assert main(["similarity", str(tmp_path / "x.parquet"), str(tmp_path / "y.npy"), "--measure", "cka-linear",
                 "--label-columns", "drop", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["measures"]["cka-linear"]["value"] == pytest.approx(ra.cka(X, Y), abs=1e-12)


def _save_as(path, k):
    ra.save_embeddings(path, np.full((50, 8), float(k)), metadata={"writer": k}, force=True)


def test_a_file_and_its_sidecar_come_from_the_same_writer(tmp_path):
    # bug: two writers saving the same file with force left one's .npy beside the other's
    # sidecar in 13 of 200 races
    import multiprocessing as mp

    path = tmp_path / "e.npy"
    ctx = mp.get_context("fork")
    for _ in range(25):
        procs = [ctx.Process(target=_save_as, args=(path, k)) for k in (1, 2, 3)]
        for pr in procs:
            pr.start()
        for pr in procs:
            pr.join()
        f = read_embedding_file(path)
        assert f.array[0, 0] == f.metadata["writer"]


def test_a_live_writers_temporary_file_is_kept_whatever_its_pid(tmp_path):
    # bug: a writer in another PID namespace had its live temporary file deleted as stale,
    # because its process id meant nothing here
    import fcntl
    import os

    from repalign.io import atomic_write

    target = tmp_path / "x.json"
    live = tmp_path / f".{target.name}.repalign-999999-abcd.json"  # a pid that does not exist here
    dead = tmp_path / f".{target.name}.repalign-999998-ef01.json"
    live.write_text("half written")
    dead.write_text("left by a killed writer")
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # what the live writer holds until its rename
    try:
        with atomic_write(target) as tmp:
            tmp.write_text("{}")
        assert live.exists() and not dead.exists() and target.read_text() == "{}"
    finally:
        os.close(fd)


# ------------------------------------------------------------------ CSV through pyarrow, HDF5, zarr

@pytest.mark.parametrize("engine", ["pandas", "pyarrow", "python"])
def test_csv_readers_agree_with_the_matrix_and_each_other(tmp_path, rng, engine):
    """The pandas reader (default) and the pyarrow one against the csv-module reference: headers,
    quoted fields, blank lines, TSV, pandas' index column, CRLF line ends."""
    from repalign.io import _read_text

    pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    X = rng.normal(size=(25, 4))
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in X)
    cases = {
        "plain.csv": body + "\n",
        "header.csv": "a,b,c,d\n" + body + "\n",
        "quoted.csv": '"a","b","c","d"\n' + "\n".join(",".join(f'"{float(v)!r}"' for v in row) for row in X) + "\n",
        "blank.csv": "\n\na,b,c,d\n\n" + body.replace("\n", "\n\n") + "\n\n",
        "crlf.csv": ("a,b,c,d\n" + body + "\n").replace("\n", "\r\n"),
        "pandas.csv": ",a,b,c,d\n" + "\n".join(f"{i}," + ",".join(repr(float(v)) for v in row)
                                             for i, row in enumerate(X)) + "\n",
        "tabs.tsv": "a\tb\tc\td\n" + body.replace(",", "\t") + "\n",
    }
    for name, text in cases.items():
        p = tmp_path / name
        p.write_bytes(text.encode())
        got = _read_text(p, p.suffix, "auto", engine=engine)
        assert np.array_equal(got, X), name
        assert np.array_equal(got, _read_text(p, p.suffix, "auto", engine="python")), name


@pytest.mark.parametrize("engine", ["pandas", "pyarrow", "python"])
def test_csv_errors_name_the_file_and_the_problem(tmp_path, engine):
    from repalign.io import _read_text

    pytest.importorskip("pyarrow")
    pytest.importorskip("pandas")
    cases = {"ragged.csv": ("1,2\n3,4,5\n", "different numbers of values"),
             "short.csv": ("1,2\n3\n", "different numbers of values"),
             "word.csv": ("1,2\n3,abc\n", "not a .*row.* of numbers|not a table of numbers"),
             "empty_field.csv": ("1,2\n3,\n", "not a .*row.* of numbers|not a table of numbers"),
             "header_only.csv": ("a,b\n", "no data rows")}
    for name, (text, msg) in cases.items():
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(ValueError, match=rf"{name.split('.')[0]}\.csv.*({msg})"):
            _read_text(p, ".csv", "auto", engine=engine)
    (tmp_path / "spelled.csv").write_text("1,2\n3,nan\n4,5\n")
    with pytest.raises(ValueError, match=r"spelled\.csv.*NaN/inf .*first is row 1"):
        ra.load_embeddings(tmp_path / "spelled.csv")


def test_csv_keeps_the_index_and_label_guards_through_pyarrow(tmp_path, rng):
    X = rng.normal(size=(30, 3))
    f = tmp_path / "idx.csv"
    f.write_text("\n".join(f"{i}," + ",".join(repr(float(v)) for v in r) for i, r in enumerate(X)) + "\n")
    with pytest.raises(ValueError, match="counts the rows"):
        ra.load_embeddings(f)
    g = tmp_path / "lab.csv"
    g.write_text("a,b,c,label\n" + "\n".join(",".join(repr(float(v)) for v in r) + f",{i % 3}" for i, r in enumerate(X)) + "\n")
    with pytest.raises(ValueError, match="named like a label"):
        ra.load_embeddings(g)
    assert np.array_equal(ra.load_embeddings(g, label_columns="drop"), X)


def test_hdf5_datasets_by_path(tmp_path, rng):
    h5py = pytest.importorskip("h5py")
    A, B = rng.normal(size=(6, 3)), rng.normal(size=(6, 5))
    p = tmp_path / "e.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("vision/layer4", data=A)
        f.create_dataset("text", data=B)
    with pytest.raises(ValueError, match=r"e\.h5: holds several arrays \(/text, /vision/layer4\)"):
        ra.load_embeddings(p)
    assert np.array_equal(ra.load_embeddings(f"{p}:/vision/layer4"), A)
    assert np.array_equal(ra.load_embeddings(p, key="vision/layer4"), A)
    assert np.array_equal(ra.load_embeddings(f"{p}:text"), B)
    with pytest.raises(ValueError, match="no array named '/audio'"):
        ra.load_embeddings(p, key="audio")
    q = tmp_path / "one.hdf5"
    with h5py.File(q, "w") as f:
        f.create_dataset("g/x", data=A.astype(np.float32))
    assert np.allclose(ra.load_embeddings(q), A, atol=1e-6)
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match=r"junk\.h5: cannot be read"):
        ra.load_embeddings(tmp_path / "junk.h5")


def test_zarr_arrays_groups_and_missing_chunks(tmp_path, rng):
    zarr = pytest.importorskip("zarr")
    X, Y = rng.normal(size=(40, 4)), rng.normal(size=(40, 2))
    a = zarr.open_array(str(tmp_path / "a.zarr"), mode="w", shape=X.shape, chunks=(10, 4), dtype="f8")
    a[:] = X
    assert np.array_equal(ra.load_embeddings(tmp_path / "a.zarr"), X)
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    g.create_array("x", shape=X.shape, chunks=(10, 4), dtype="f8")[:] = X
    g.create_array("y", shape=Y.shape, chunks=(10, 2), dtype="f8")[:] = Y
    with pytest.raises(ValueError, match=r"g\.zarr: holds several arrays \(x, y\)"):
        ra.load_embeddings(tmp_path / "g.zarr")
    assert np.array_equal(ra.load_embeddings(f"{tmp_path / 'g.zarr'}:y"), Y)
    h = zarr.open_array(str(tmp_path / "holes.zarr"), mode="w", shape=X.shape, chunks=(10, 4), dtype="f8")
    h[:20] = X[:20]  # two of four chunks written: zarr would read the rest as zeros
    with pytest.raises(ValueError, match=r"holes\.zarr is missing 2 of its 4 chunks"):
        ra.load_embeddings(tmp_path / "holes.zarr")
    (tmp_path / "plain").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        ra.load_embeddings(tmp_path / "plain")
