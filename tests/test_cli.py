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
                       "--repeats", "2", "--json", "--plot", png)
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


# ------------------------------------------------------------------ the one-line-error promise
def one_line_error(code, err, expect=None):
    assert code == 2, err
    assert err.startswith("repalign: error:") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    if expect is not None:
        assert expect in err, err


@pytest.mark.parametrize("argv,expect", [
    (["similarity"], "the following arguments are required"),
    (["similarity", "a.npy", "b.npy", "--bogus"], "unrecognized arguments"),
    (["embed", "--model", "glove-50d", "--texts", "t.txt", "--out", "o.npy", "--batch-size", "0"], "integer >= 1"),
    (["embed", "--model", "glove-50d", "--texts", "t.txt", "--out", "o.npy", "--jobs", "0"], "integer >= 1"),
    (["embed", "--model", "glove-50d", "--texts", "t.txt", "--out", "o.npy", "--limit", "-3"], "integer >= 1"),
    (["experiment", "blind-cifar", "--time-limit", "0"], "must be > 0"),
    (["experiment", "blind-cifar", "--time-limit", "-2"], "must be > 0"),
    (["similarity", "a.npy", "b.npy", "--level", "1.5"], "(0, 1)"),
    (["nonsense"], "invalid choice"),
])
def test_usage_errors_are_one_line(capsys, argv, expect):
    code, _, err = run(capsys, *argv)
    one_line_error(code, err, expect)


def test_debug_works_after_the_subcommand(capsys, tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        main(["similarity", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--debug"])
    with pytest.raises(ValueError, match="no such file"):
        main(["--debug", "similarity", str(tmp_path / "x.npy"), str(tmp_path / "y.npy")])


def test_output_paths_are_checked_before_any_work(capsys, pair_files, tmp_path):
    a, b = pair_files
    (tmp_path / "afile").write_text("x")
    code, _, err = run(capsys, "similarity", a, b, "--out", tmp_path / "afile" / "r.json")
    one_line_error(code, err, "is a file, not a folder")
    code, _, err = run(capsys, "similarity", a, b, "--out", tmp_path / "r.txt")
    one_line_error(code, err, "unsupported output extension '.txt'")
    code, _, err = run(capsys, "shuffle-curve", a, b, "--plot", tmp_path / "c.jpg")
    one_line_error(code, err, "use one of .png, .pdf, .svg")
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--dataset", "digits", "--out", tmp_path / "e.h5")
    one_line_error(code, err, "unsupported output extension")
    code, _, err = run(capsys, "qap", "x.dat", "--out", tmp_path / "o.txt")
    one_line_error(code, err, ".sln")


def test_plot_format_follows_the_extension(capsys, pair_files, tmp_path):
    a, b = pair_files
    for ext, magic in ((".pdf", b"%PDF"), (".svg", b"<?xml"), (".png", b"\x89PNG")):
        f = tmp_path / f"c{ext}"
        code, _, err = run(capsys, "shuffle-curve", a, b, "--measure", "cka-linear", "--fractions", "0", "1",
                           "--repeats", "1", "--plot", f, "--quiet")
        assert code == 0, err
        assert f.read_bytes()[:len(magic)] == magic


def test_disk_full_and_memory_errors_are_one_line(capsys, pair_files, monkeypatch, tmp_path):
    import errno

    import repalign.cli.similarity as similarity

    a, b = pair_files

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "r.json"))

    monkeypatch.setattr("pathlib.Path.write_text", full)
    code, _, err = run(capsys, "similarity", a, b, "--measure", "cka-linear", "--out", tmp_path / "r.json")
    one_line_error(code, err, "no space left on the device")
    assert not list(tmp_path.glob(".r.json*"))  # the temp file was removed
    monkeypatch.undo()

    def oom(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(similarity, "evaluate", oom)
    code, _, err = run(capsys, "similarity", a, b)
    one_line_error(code, err, "out of memory")


def test_messages_name_files_and_options(capsys, pair_files, tmp_path):
    a, b = pair_files  # 80 rows
    code, _, err = run(capsys, "match", a, b, "--base-size", "60", "--query-size", "50")
    one_line_error(code, err, "--query-size")
    code, _, err = run(capsys, "match", a, b, "--base-size", "90")
    one_line_error(code, err, "--base-size")
    np.save(tmp_path / "few.npy", np.random.default_rng(0).normal(size=(8, 3)))
    code, _, err = run(capsys, "similarity", tmp_path / "few.npy", tmp_path / "few.npy", "--measure", "mutual-knn")
    one_line_error(code, err, "lower k (CLI --k)")
    code, _, err = run(capsys, "similarity", tmp_path / "few.npy", tmp_path / "few.npy", "--measure", "mutual-knn",
                       "--k", "3", "--json")
    assert code == 0 and json.loads(_)["measures"]["mutual-knn"]["params"]["k"] == 3
    from repalign.cli.entry import friendly as _friendly
    from repalign.cli.entry import pair_names as _pair_names

    msg = _friendly("Zb and Hb: have mismatched sample counts; n_permutations too", _pair_names("a.npy", "b.npy"))
    assert msg.startswith("a.npy (base rows) and b.npy (base rows): ") and "--permutations" in msg


def test_warnings_are_one_line(capsys, tmp_path):
    from repalign.qap import write_solution

    f, opt = _qap_file(tmp_path)
    write_solution(tmp_path / "tiny7.sln", opt.permutation, opt.objective + 5, force=True)  # a wrong stated value
    code, out, err = run(capsys, "qap", f, "--solver", "brute-force", "--json", "--quiet")
    assert code == 0 and json.loads(out)["reference"]["permutation_convention"] == "unverified"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("repalign: warning:") and "states objective" in lines[0]


def test_failed_cache_write_warns_and_the_command_goes_on(capsys, tmp_path, monkeypatch):
    (tmp_path / "blocked").write_text("a file where the cache folder should be")
    monkeypatch.setenv("REPALIGN_CACHE", str(tmp_path / "blocked"))
    texts = tmp_path / "t.txt"
    texts.write_text("a dog runs\nthe cat sleeps\n")
    code, out, err = run(capsys, "embed", "--model", "glove-50d", "--texts", texts, "--out", tmp_path / "e.npy",
                         "--quiet")
    assert code == 0 and np.load(tmp_path / "e.npy").shape == (2, 50)
    assert err.count("repalign: warning:") == 1 and "embedding cache" in err


def test_texts_keep_one_row_per_line_and_limit_applies(capsys, tmp_path):
    t = tmp_path / "t.txt"
    t.write_text("first\n\nthird\n")
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--texts", t, "--out", tmp_path / "e.npy")
    one_line_error(code, err, "line 2 is blank")
    assert not (tmp_path / "e.npy").exists()
    t.write_text("a dog\nthe cat\nstocks fell\nrain today\n\n\n")  # trailing blank lines do not shift rows
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--texts", t, "--out", tmp_path / "e.npy", "--quiet")
    assert code == 0 and np.load(tmp_path / "e.npy").shape == (4, 50)
    code, _, _ = run(capsys, "embed", "--model", "glove-50d", "--texts", t, "--out", tmp_path / "l.npy", "--limit",
                     "2", "--quiet")
    assert code == 0 and np.load(tmp_path / "l.npy").shape == (2, 50)
    full, part = np.load(tmp_path / "e.npy"), np.load(tmp_path / "l.npy")
    assert np.array_equal(full[:2], part)


def test_qap_reference_solution_is_validated_before_solving(capsys, tmp_path):
    f, opt = _qap_file(tmp_path)
    sln = tmp_path / "tiny7.sln"
    perm = " ".join(str(x + 1) for x in opt.permutation)
    # a wrong stated optimum: warned about, and the gap uses what the permutation reaches
    sln.write_text(f"7 {int(opt.objective) * 10}\n{perm}\n")
    assert main(["qap", str(f), "--solver", "brute-force", "--json"]) == 0
    cap = capsys.readouterr()
    out = json.loads(cap.out)
    assert out["gap_to_reference"] == 0 and out["reference"]["stated_objective"] == opt.objective * 10
    assert cap.err.count("repalign: warning:") == 1 and "states objective" in cap.err
    # the inverse permutation convention is recognised silently
    inv = " ".join(str(x + 1) for x in np.argsort(opt.permutation))
    sln.write_text(f"7 {int(opt.objective)}\n{inv}\n")
    assert main(["qap", str(f), "--solver", "brute-force", "--json"]) == 0
    cap = capsys.readouterr()
    assert json.loads(cap.out)["gap_to_reference"] == 0 and "warning" not in cap.err
    # a malformed one stops the run before any solving, and --reference none solves without it
    sln.write_text("7 10\n1 1 2\n")
    code, _, err = run(capsys, "qap", f, "--solver", "hahn-grant", "--time-limit", "30")
    one_line_error(code, err, "--reference none")
    assert main(["qap", str(f), "--solver", "brute-force", "--reference", "none", "--json"]) == 0
    assert "reference" not in json.loads(capsys.readouterr().out)


def test_list_solvers_prints_whole_descriptions(capsys):
    from repalign.qap import SOLVERS

    assert main(["list", "solvers"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == len(SOLVERS)
    assert ":func:" not in out and "``" not in out and all(len(ln.split(None, 1)[1]) > 20 for ln in lines)


def test_every_option_has_help():
    import argparse

    from repalign.cli import build_parser

    def walk(parser, where):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, f"{where} {name}")
            elif not isinstance(action, argparse._HelpAction) and action.help != argparse.SUPPRESS:
                yield where, action

    missing = [f"{w}: {a.option_strings or a.dest}" for w, a in walk(build_parser(), "repalign") if not a.help]
    assert not missing


def test_progress_is_one_line_per_step_off_a_terminal(capsys, pair_files):
    a, b = pair_files
    code, _, err = run(capsys, "similarity", a, b, "--measure", "cka-linear", "gw", "--permutations", "20")
    assert code == 0
    steps = [ln for ln in err.splitlines() if "permutations" in ln]
    assert len(steps) == 2 and all(ln.startswith("[") and " s] " in ln for ln in steps)
    code, _, err = run(capsys, "similarity", a, b, "--measure", "cka-linear", "--permutations", "20", "--quiet")
    assert code == 0 and err == ""


def test_sigterm_exits_cleanly(tmp_path, rng):
    import signal
    import time

    X, Y = related_pair(rng, n=400)
    np.save(tmp_path / "a.npy", X)
    np.save(tmp_path / "b.npy", Y)
    proc = subprocess.Popen([sys.executable, "-m", "repalign.cli", "similarity", str(tmp_path / "a.npy"),
                             str(tmp_path / "b.npy"), "--permutations", "100000", "--measure", "rsa",
                             "--out", str(tmp_path / "r.json")], stderr=subprocess.PIPE, text=True)
    first = proc.stderr.readline()  # the first progress line: the command is at work (imports can be slow)
    assert "permutations" in first, first
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] and not list(tmp_path.glob(".r.json*"))
