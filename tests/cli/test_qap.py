"""The command line, qap: JSON contract, errors, the reference solution."""

import json

import numpy as np
import pytest

from repalign.cli import main

from .conftest import one_line_error, run


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
    assert out["stopped_by"] in ("optimal", "budget")
    assert main(["qap", str(f), "--solver", "tabu", "--time-limit", "0.2", "--out", str(tmp_path / "o.sln")]) == 0
    assert "tiny7 (n=7) tabu" in capsys.readouterr().out
    assert main(["qap", str(f), "--solver", "tabu", "--time-limit", "0.2", "--out", str(tmp_path / "o.sln")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_qap_cli_budget_and_seed(capsys, tmp_path):
    f, opt = _qap_file(tmp_path, with_sln=False)
    outs = []
    for _ in range(2):  # work budget + seed: the same answer twice
        assert main(["qap", str(f), "--solver", "multistart", "--budget", "8", "--seed", "3", "--json"]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    assert outs[0]["permutation"] == outs[1]["permutation"] and outs[0]["objective"] == opt.objective
    assert outs[0]["stopped_by"] in ("budget", "converged")
    assert main(["qap", str(f), "--solver", "tabu", "--budget", "500"]) == 0
    assert "stopped by its work budget" in capsys.readouterr().out


@pytest.mark.parametrize("args,expect", [
    (["--solver", "simplex"], "unknown 'simplex'"),
    (["--solver", "2opt", "--seed", "1"], "--seed: solver '2opt' draws no random numbers"),
    (["--solver", "brute-force", "--budget", "3"], "--budget: solver 'brute-force' runs to completion"),
    (["--budget", "0"], "--budget"),
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


def test_warnings_are_one_line(capsys, tmp_path):
    from repalign.qap import write_solution

    f, opt = _qap_file(tmp_path)
    write_solution(tmp_path / "tiny7.sln", opt.permutation, opt.objective + 5, force=True)  # a wrong stated value
    code, out, err = run(capsys, "qap", f, "--solver", "brute-force", "--json", "--quiet")
    assert code == 0 and json.loads(out)["reference"]["permutation_convention"] == "unverified"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("repalign: warning:") and "states objective" in lines[0]
