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

    pq.write_table(pa.table({"a": [1.0, 2.0, 3.0], "b": [4, 5, 6], "label": ["x", "y", "z"]}), tmp_path / "t.parquet")
    assert ra.load_embeddings(tmp_path / "t.parquet").tolist() == [[1, 4], [2, 5], [3, 6]]
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
    (tmp_path / "x.h5").write_bytes(b"123")
    with pytest.raises(ValueError, match="unsupported"):
        ra.load_embeddings(tmp_path / "x.h5")
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
