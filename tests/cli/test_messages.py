"""Messages that name the right thing (issue 18, items 20 and 21): each case named the wrong
argument, the wrong option, or advice that does not apply."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import repalign as ra

from .conftest import one_line_error, run


def test_options_and_python_spellings_become_the_commands_options():
    from repalign.cli.entry import friendly

    msg = friendly("matcher: bad; see --matcher and use estimator='minibatch' or kernel='inner'", {},
                   {"matcher": 1, "estimator": 1, "kernel": 1})
    assert "----matcher" not in msg and "--matcher" in msg
    assert "--estimator minibatch" in msg and "--kernel inner" in msg
    assert friendly("use route='auto'", {}, {}) == "use route='auto'"  # not an option of this command: kept


def test_spec_with_absurd_random_features_names_rff(capsys, tmp_path):
    g = np.random.default_rng(0)
    np.save(tmp_path / "a.npy", g.normal(size=(3000, 32)))
    np.save(tmp_path / "b.npy", g.normal(size=(3000, 16)))
    code, _, err = run(capsys, "spec", tmp_path / "a.npy", tmp_path / "b.npy", "--kernel", "gaussian",
                       "--rff", "100000000000")
    one_line_error(code, err, "rff: 100000000000 frequencies per side need")
    assert "--limit" not in err and "rows" not in err


@pytest.mark.parametrize("command", ["similarity", "spec"])
def test_a_text_file_named_npy_is_not_advice_to_load_pickles(capsys, tmp_path, command):
    (tmp_path / "a.npy").write_text("0.1,0.2\n0.3,0.4\n")
    np.save(tmp_path / "b.npy", np.random.default_rng(0).normal(size=(2, 2)))
    code, _, err = run(capsys, command, tmp_path / "a.npy", tmp_path / "b.npy")
    one_line_error(code, err, "a.npy")
    assert "allow_pickle" not in err and "unsafe" not in err


def test_library_messages_name_the_argument_at_fault():
    g = np.random.default_rng(0)
    A = g.normal(size=(300, 6))
    B = A @ g.normal(size=(6, 6)) + 0.5 * g.normal(size=(300, 6))
    res = ra.spec(A, B, "cosine", n_modes=3)
    with pytest.raises(ValueError, match="^n_modes: "):
        ra.mode_agreement(res, A, B, n_modes=1)
    K = np.ones((6, 6))  # a constant RSM
    with pytest.raises(ValueError, match="^K: has zero variance"):
        ra.rsm_cka(K, np.eye(6))


def test_rsm_summaries_never_print_nan(capsys, tmp_path):
    g = np.random.default_rng(0)
    np.save(tmp_path / "one.npy", g.normal(size=(1, 3, 2, 2)))
    np.save(tmp_path / "q.npy", g.normal(size=(2, 3, 2, 2)))
    np.save(tmp_path / "d.npy", g.normal(size=(5, 3, 2, 2)))
    code, out, _ = run(capsys, "rsm", tmp_path / "one.npy")
    assert code == 0 and "nan" not in out.lower() and "one sample" in out
    code, out, _ = run(capsys, "rsm", tmp_path / "q.npy", "--other", tmp_path / "d.npy")
    assert code == 0 and "nan" not in out.lower() and "mean similarity" in out


def test_spec_streams_zarr_stores_as_the_readme_says(capsys, tmp_path):
    zarr = pytest.importorskip("zarr")
    g = np.random.default_rng(0)
    A = g.normal(size=(400, 6))
    B = A @ g.normal(size=(6, 5)) + 0.3 * g.normal(size=(400, 5))
    for name, arr in (("a", A), ("b", B)):
        z = zarr.open_array(str(tmp_path / f"{name}.zarr"), mode="w", shape=arr.shape, chunks=(100, arr.shape[1]),
                            dtype="f8")
        z[:] = arr
    code, out, err = run(capsys, "spec", tmp_path / "a.zarr", tmp_path / "b.zarr", "--route", "cholesky")
    assert code == 0, err
    ref = ra.spec(A, B, "cosine", route="cholesky")
    assert f"SPEC-diff {ref.spec_diff:.4f}" in out
    code, out, err = run(capsys, "spec", tmp_path / "a.zarr", tmp_path / "b.zarr", "--route", "cholesky",
                         "--spectrum", "ends", "--modes", "2", "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["complete"] is False and d["spec_diff"] == pytest.approx(ref.spec_diff, abs=1e-12)
    code, out, err = run(capsys, "spec", tmp_path / "a.zarr", tmp_path / "b.zarr", "--spectrum", "ends",
                         "--modes", "2")
    assert code == 0 and "the spectrum's ends only" in out, err


def test_out_of_memory_is_one_line_without_shutdown_noise(tmp_path):
    # bug: under `ulimit -v` the right line came, then ~300 lines of "Exception ignored in
    # sys.unraisablehook"
    resource = pytest.importorskip("resource")
    g = np.random.default_rng(0)
    np.save(tmp_path / "a.npy", g.normal(size=(30000, 4)))
    np.save(tmp_path / "b.npy", g.normal(size=(30000, 4)))

    def limit():  # about 2 GB of address space: the 30,000 x 30,000 RDMs of RSA do not fit
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "repalign.cli", "similarity", str(tmp_path / "a.npy"),
                        str(tmp_path / "b.npy"), "--measure", "rsa"], capture_output=True, text=True,
                       preexec_fn=limit, env=env, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr[-2000:]
    assert lines == [lines[0]] and lines[0].startswith("repalign: error: out of memory"), r.stderr[-2000:]
    assert "--limit" not in lines[0]  # similarity has no --limit
