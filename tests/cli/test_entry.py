"""The command line, the entry point's promises: one-line errors and exit codes, --debug, outputs checked before work, disk full, messages in the user's words, progress, SIGTERM."""

import json
import subprocess
import sys

import numpy as np
import pytest

from repalign.cli import main

from ..conftest import related_pair
from .conftest import one_line_error, run


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


def test_console_script_runs_without_traceback(tmp_path):
    exe = [sys.executable, "-m", "repalign.cli"]
    r = subprocess.run(exe + ["similarity", str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "no such file" in r.stderr


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
def test_usage_errors_are_one_line(capsys, argv, expect, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the inputs exist, so the error is the one each case is about
    for name in ("a.npy", "b.npy"):
        np.save(name, np.zeros((3, 2)))
    code, _, err = run(capsys, *argv)
    one_line_error(code, err, expect)


def test_debug_works_after_the_subcommand(capsys, tmp_path):
    (tmp_path / "x.npy").write_text("not an array")  # a file that cannot be read: an error in the command
    np.save(tmp_path / "y.npy", np.zeros((3, 2)))
    with pytest.raises(ValueError, match="x.npy"):
        main(["similarity", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "--debug"])
    with pytest.raises(ValueError, match="x.npy"):
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
    code, _, err = run(capsys, "embed", "--model", "glove-50d", "--dataset", "digits", "--out", tmp_path / "e.hdf4")
    one_line_error(code, err, "unsupported output extension")
    code, _, err = run(capsys, "qap", "x.dat", "--out", tmp_path / "o.txt")
    one_line_error(code, err, ".sln")


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


def test_inputs_and_the_data_folder_are_checked_before_anything_is_imported(capsys, tmp_path, monkeypatch):
    # bug: a missing input took 2.4 s and a missing data folder 8 s to be reported; `experiment
    # run X X` ran X and then failed
    code, _, err = run(capsys, "similarity", tmp_path / "missing.npy", tmp_path / "b.npy")
    one_line_error(code, err, "no such file or folder")
    monkeypatch.delenv("REPALIGN_DATA", raising=False)
    code, _, err = run(capsys, "experiment", "run", "ablation", "--out-dir", tmp_path)
    one_line_error(code, err, "data folder: not set")
    code, _, err = run(capsys, "experiment", "run", "spec-planted", "spec-planted", "--out-dir", tmp_path)
    one_line_error(code, err, "'spec-planted' is named twice")
    code = subprocess.run([sys.executable, "-c", "import sys\nfrom repalign.cli import main\nmain(['experiment', "
                           "'run', 'ablation'])\nprint('scipy' in sys.modules)"], capture_output=True, text=True,
                          env={**__import__("os").environ, "REPALIGN_DATA": ""})
    assert code.stdout.strip() == "False"
