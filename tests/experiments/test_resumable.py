"""Resumable experiments: units are checkpointed; SIGKILL then rerun gives the uninterrupted result."""

import json
import signal
import subprocess
import sys
import time

import pytest

from repalign.experiments import run_spec_planted
from repalign.experiments._base import Units

RUN = ("import sys; from repalign.experiments import run_spec_planted; "
       "run_spec_planted(n=600, size=30, seeds=range(8), out=sys.argv[1], force=False, log=print)")


@pytest.mark.slow
def test_sigkill_then_rerun_equals_an_uninterrupted_run(tmp_path):
    ref = run_spec_planted(n=600, size=30, seeds=range(8), out=tmp_path / "ref" / "spec-planted.json",
                           log=lambda m: None)
    out = tmp_path / "run" / "spec-planted.json"
    out.parent.mkdir()
    parts = tmp_path / "run" / "spec-planted.parts"
    proc = subprocess.Popen([sys.executable, "-c", RUN, str(out)], stdout=subprocess.PIPE, text=True)
    t0 = time.time()
    while time.time() - t0 < 120 and len(list(parts.glob("*.json")) if parts.exists() else []) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(parts.glob("*.json")))
    assert not out.exists() and done_before >= 3  # killed mid-run, some units stored
    rerun = subprocess.run([sys.executable, "-c", RUN, str(out)], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming:" in rerun.stdout and "skipping them" in rerun.stdout
    got = json.loads(out.read_text())
    want = json.loads((tmp_path / "ref" / "spec-planted.json").read_text())
    assert got["rows"] == want["rows"] == ref.to_dict()["rows"]


def test_damaged_or_foreign_checkpoints_are_recomputed(tmp_path):
    logs = []
    u = Units(tmp_path / "x.json", {"a": 1}, log=logs.append)
    calls = []
    assert u.run(["p", "q"], lambda n: calls.append(n) or {"v": n}) == [{"v": "p"}, {"v": "q"}]
    (tmp_path / "x.parts" / "q.json").write_text('{"sha256": "0", "value": {"v": "tampered"}}')
    again = Units(tmp_path / "x.json", {"a": 1}, log=logs.append)
    assert again.run(["p", "q"], lambda n: calls.append(n) or {"v": n}) == [{"v": "p"}, {"v": "q"}]
    assert calls == ["p", "q", "q"] and any("damaged" in m for m in logs) and any("resuming" in m for m in logs)
    Units(tmp_path / "x.json", {"a": 2}, log=logs.append).run(["p"], lambda n: calls.append(n) or {"v": n})
    assert calls[-1] == "p"  # other settings: the old checkpoints are not used
    Units(tmp_path / "x.json", {"a": 2}, force=True, log=logs.append).run(["p"], lambda n: calls.append(n) or 1)
    assert calls[-1] == "p" and len(calls) == 5  # force recomputes


def test_flatten_row_for_csv():
    from repalign.experiments._base import flatten_row

    row = {"S": 49, "methods": {"greedy": {"relative": 0.9, "rank": 2}}, "top": [1, 2], "name": "a,b"}
    assert flatten_row(row) == {"S": 49, "methods.greedy.relative": 0.9, "methods.greedy.rank": 2,
                                "top": "[1, 2]", "name": "a,b"}
    # for to_pandas lists stay lists
    assert flatten_row(row, lists_as_json=False)["top"] == [1, 2]


def test_a_rerun_removes_only_its_own_unit_files(tmp_path):
    # bug: `experiment run NAME` deleted a NAME.parts/ folder holding files it did not write
    from repalign.experiments._base import Units

    out = tmp_path / "exp.json"
    parts = tmp_path / "exp.parts"
    parts.mkdir()
    (parts / "notes.txt").write_text("mine")
    (parts / "table.json").write_text('{"a": 1}')
    u = Units(out, {"s": 1}, log=lambda m: None)
    u.put("unit1", [1, 2])
    assert (parts / "unit1.json").exists()
    Units(out, {"s": 2}, log=lambda m: None)  # other settings: its old units go
    assert not (parts / "unit1.json").exists()
    assert (parts / "notes.txt").read_text() == "mine" and (parts / "table.json").read_text() == '{"a": 1}'
    v = Units(out, {"s": 2}, force=True, log=lambda m: None)
    v.put("unit2", 3)
    assert v.get("unit2") == 3 and (parts / "notes.txt").exists()
