"""The command line, similarity and shuffle-curve: JSON contracts, tables, outputs."""

import json

import numpy as np

from .conftest import run


def test_similarity_json_contract(capsys, pair_files):
    a, b = pair_files
    code, out, err = run(capsys, "similarity", a, b, "--json", "--permutations", "9", "--bootstrap", "5")
    assert code == 0
    d = json.loads(out)
    assert d["n"] == 80
    assert set(d["measures"]) == {"cka-linear", "cka-rbf", "cka-cosine", "cka-linear-debiased", "mutual-knn",
                                  "cknna", "gw", "rsa"}
    for v in d["measures"].values():
        assert isinstance(v["value"], float) and v["p_value"] is not None and v["ci_low"] is not None


def test_similarity_table_and_selected_measures(capsys, pair_files):
    a, b = pair_files
    code, out, _ = run(capsys, "similarity", a, b, "--measure", "cka-linear", "--measure", "mutual-knn", "--k", "3")
    assert code == 0 and "cka-linear" in out and "mutual-knn" in out and "gw" not in out
    code, out2, _ = run(capsys, "similarity", a, b, "--measure", "cka-linear", "mutual-knn", "--k", "3")
    assert code == 0 and out2 == out


def test_similarity_writes_out_file_once(capsys, pair_files, tmp_path):
    a, b = pair_files
    out_file = tmp_path / "r.json"
    assert run(capsys, "similarity", a, b, "--measure", "cka-linear", "--out", out_file)[0] == 0
    assert json.loads(out_file.read_text())["n"] == 80
    code, _, err = run(capsys, "similarity", a, b, "--measure", "cka-linear", "--out", out_file)
    assert code == 2 and "already exists" in err and "--force" in err


def test_shuffle_curve_cli(capsys, pair_files, tmp_path):
    a, b = pair_files
    png = tmp_path / "c.png"
    code, out, _ = run(capsys, "shuffle-curve", a, b, "--measure", "cka-linear", "--fractions", "0", "0.5", "1",
                       "--repeats", "2", "--json", "--plot", png)
    assert code == 0
    d = json.loads(out)
    assert d["fractions"] == [0, 0.5, 1] and png.read_bytes()[:4] == b"\x89PNG"


def test_plot_format_follows_the_extension(capsys, pair_files, tmp_path):
    a, b = pair_files
    for ext, magic in ((".pdf", b"%PDF"), (".svg", b"<?xml"), (".png", b"\x89PNG")):
        f = tmp_path / f"c{ext}"
        code, _, err = run(capsys, "shuffle-curve", a, b, "--measure", "cka-linear", "--fractions", "0", "1",
                           "--repeats", "1", "--plot", f, "--quiet")
        assert code == 0, err
        assert f.read_bytes()[:len(magic)] == magic


def test_similarity_on_few_items_computes_what_it_can_and_says_what_it_skipped(capsys, tmp_path):
    # bug: on 3 items the whole command failed because one default measure needs 4
    g = np.random.default_rng(0)
    np.save(tmp_path / "a.npy", g.normal(size=(3, 4)))
    np.save(tmp_path / "b.npy", g.normal(size=(3, 5)))
    code, out, err = run(capsys, "similarity", tmp_path / "a.npy", tmp_path / "b.npy", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert "cka-linear" in d["measures"] and "gw" in d["measures"]
    assert "needs at least 4 items" in d["skipped"]["cka-linear-debiased"] and "mutual-knn" in d["skipped"]
    code, out, _ = run(capsys, "similarity", tmp_path / "a.npy", tmp_path / "b.npy")
    assert code == 0 and "cka-linear-debiased: skipped (needs at least 4 items" in out
    code, _, err = run(capsys, "similarity", tmp_path / "a.npy", tmp_path / "b.npy", "--measure", "mutual-knn")
    assert code == 2 and "mutual-knn" in err  # a measure the user named is not skipped silently


def test_a_scheduler_with_nothing_to_distribute_is_said(capsys, pair_files):
    a, b = pair_files
    code, _, err = run(capsys, "similarity", a, b, "--measure", "cka-linear", "--scheduler", "tcp://127.0.0.1:1")
    assert code == 0 and "repalign: warning: --scheduler: nothing to distribute" in err
    code, _, err = run(capsys, "similarity", a, b, "--measure", "cka-linear", "--permutations", "5",
                       "--scheduler", "not an address")
    assert code == 2 and "is not an address; use tcp://HOST:PORT" in err
