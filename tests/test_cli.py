"""The CLI: JSON contracts, one-line errors with non-zero exits, no overwrites."""

import json
import subprocess
import sys

import numpy as np
import pytest

from repalign.cli import main

from .conftest import related_pair


@pytest.fixture
def pair_files(tmp_path, rng):
    X, Y = related_pair(rng, n=80)
    np.save(tmp_path / "a.npy", X)
    np.save(tmp_path / "b.npy", Y)
    return tmp_path / "a.npy", tmp_path / "b.npy"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


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


@pytest.mark.parametrize("case,expect", [
    ("nan", "row 3"),
    ("mismatch", "has 50"),
    ("missing", "no such file"),
    ("measure", "known measures"),
    ("tiny", "at least"),
    ("constant", "zero variance"),
    ("corrupt", "cannot be read"),
])
def test_errors_are_one_line(capsys, tmp_path, pair_files, case, expect):
    a, b = pair_files
    args = ["similarity", a, b, "--measure", "cka-linear"]
    if case == "nan":
        X = np.load(a)
        X[3, 0] = np.nan
        np.save(tmp_path / "nan.npy", X)
        args[1] = tmp_path / "nan.npy"
    elif case == "mismatch":
        np.save(tmp_path / "short.npy", np.load(b)[:50])
        args[2] = tmp_path / "short.npy"
    elif case == "missing":
        args[1] = tmp_path / "nope.npy"
    elif case == "measure":
        args[4] = "procrustes"
    elif case == "tiny":
        np.save(tmp_path / "t1.npy", np.ones((1, 3)))
        args[1] = args[2] = tmp_path / "t1.npy"
    elif case == "constant":
        np.save(tmp_path / "c.npy", np.ones((80, 3)))
        args[1] = tmp_path / "c.npy"
    elif case == "corrupt":
        (tmp_path / "bad.npy").write_bytes(b"garbage")
        args[1] = tmp_path / "bad.npy"
    code, out, err = run(capsys, *args)
    assert code == 2
    assert err.startswith("repalign: error:") and expect in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_shuffle_curve_cli(capsys, pair_files, tmp_path):
    a, b = pair_files
    png = tmp_path / "c.png"
    code, out, _ = run(capsys, "shuffle-curve", a, b, "--measure", "cka-linear", "--fractions", "0", "0.5", "1",
                       "--seeds", "2", "--json", "--plot", png)
    assert code == 0
    d = json.loads(out)
    assert d["fractions"] == [0, 0.5, 1] and png.read_bytes()[:4] == b"\x89PNG"


def test_embed_cli_and_cache(capsys, tmp_path):
    texts = tmp_path / "t.txt"
    texts.write_text("a dog runs\nthe cat sleeps\nstock prices fell\n")
    out = tmp_path / "e.npy"
    code, stdout, _ = run(capsys, "embed", "--model", "glove-50d", "--texts", texts, "--out", out)
    assert code == 0 and np.load(out).shape == (3, 50)
    meta = json.loads((tmp_path / "e.npy.json").read_text())
    assert meta["model"] == "glove-50d" and meta["n"] == 3 and meta["from_cache"] is False
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--texts", texts, "--out", out)
    assert code == 2 and "already exists" in err
    code, stdout, _ = run(capsys, "embed", "--model", "glove-50d", "--texts", texts, "--out", out, "--force")
    assert code == 0 and "from cache" in stdout


def test_embed_errors(capsys, tmp_path, monkeypatch):
    texts = tmp_path / "t.txt"
    texts.write_text("hello\n")
    code, _, err = run(capsys, "embed", "--model", "clip-vit", "--texts", texts, "--out", tmp_path / "o.npy")
    assert code == 2 and "unknown encoder" in err and "minilm" in err
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--dataset", "imagenet-1k", "--out", tmp_path / "o.npy")
    assert code == 2 and "unknown dataset" in err and "xtd10" in err
    monkeypatch.delenv("REPALIGN_DATA", raising=False)
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--dataset", "xtd10", "--out", tmp_path / "o.npy")
    assert code == 2 and "REPALIGN_DATA" in err
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--dataset", "xtd10", "--data-dir", tmp_path / "x",
                       "--out", tmp_path / "o.npy")
    assert code == 2 and "does not exist" in err
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--out", tmp_path / "o.npy")
    assert code == 2 and "exactly one" in err
    assert not (tmp_path / "o.npy").exists()


def test_list_commands(capsys):
    code, out, _ = run(capsys, "list", "encoders")
    assert code == 0 and "efficientnet-lite0" in out and "use-multilingual" in out
    code, out, _ = run(capsys, "list", "measures", "--json")
    assert json.loads(out)["gw"]["higher_is_more_similar"] is False


def test_console_script_runs_without_traceback(tmp_path):
    exe = [sys.executable, "-m", "repalign.cli"]
    r = subprocess.run(exe + ["similarity", str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "no such file" in r.stderr


def test_embed_refuses_wrong_modality_before_loading(capsys, tmp_path):
    import time

    t0 = time.perf_counter()
    code, _, err = run(capsys, "embed", "--model", "minilm", "--dataset", "digits", "--out", tmp_path / "o.npy")
    assert code == 2 and "holds images" in err
    assert time.perf_counter() - t0 < 5  # the model was never loaded
    (tmp_path / "t.txt").write_text("a\n")
    code, _, err = run(capsys, "embed", "--model", "efficientnet-lite0", "--texts", tmp_path / "t.txt",
                       "--out", tmp_path / "o.npy")
    assert code == 2 and "image encoder" in err


def _qap_file(tmp_path, with_sln=True):
    from repalign.qap import QAPProblem, brute_force, write_qaplib, write_solution

    rng = np.random.default_rng(0)
    A = rng.integers(0, 9, (7, 7)).astype(float)
    B = rng.integers(0, 9, (7, 7)).astype(float)
    pr = QAPProblem(A + A.T, B + B.T)
    f = write_qaplib(pr, tmp_path / "tiny7.dat")
    opt = brute_force(pr)
    if with_sln:
        write_solution(tmp_path / "tiny7.sln", opt.permutation, opt.objective)
    return f, opt


def test_qap_cli_json_contract(capsys, tmp_path):
    f, opt = _qap_file(tmp_path)
    assert main(["qap", str(f), "--solver", "hahn-grant", "--time-limit", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("objective", "lower_bound", "optimal", "permutation", "seconds", "gap_to_reference"):
        assert key in out
    assert out["objective"] == opt.objective
    assert out["lower_bound"] <= opt.objective
    assert out["gap_to_reference"] == 0
    assert sorted(out["permutation"]) == list(range(7))
    assert main(["qap", str(f), "--solver", "tabu", "--time-limit", "0.2", "--out", str(tmp_path / "o.sln")]) == 0
    assert "tiny7 (n=7) tabu" in capsys.readouterr().out
    assert main(["qap", str(f), "--solver", "tabu", "--time-limit", "0.2", "--out", str(tmp_path / "o.sln")]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("args,expect", [
    (["--solver", "simplex"], "unknown 'simplex'"),
    (["--time-limit", "-1"], "--time-limit: must be > 0"),
    (["--solver", "brute-force"], None),
])
def test_qap_cli_errors(capsys, tmp_path, args, expect):
    f, _ = _qap_file(tmp_path, with_sln=False)
    rc = main(["qap", str(f), *args])
    err = capsys.readouterr().err
    if expect is None:
        assert rc == 0
    else:
        assert rc == 2 and expect in err and len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.dat"
    bad.write_text("3\n1 2\n")
    assert main(["qap", str(bad)]) == 2
    assert "expected 2 x 3x3" in capsys.readouterr().err


def test_list_experiments_and_solvers(capsys):
    assert main(["list", "experiments"]) == 0
    assert "qap-solvers" in capsys.readouterr().out
    assert main(["list", "solvers"]) == 0
    assert "hahn-grant" in capsys.readouterr().out
