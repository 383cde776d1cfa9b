"""The main job end to end, on a quick setting (the full run is `make demo`)."""

import json

import pytest

from repalign.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.encoders]


def test_demo_quick_run(tmp_path, data_dir, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--data-dir", str(data_dir), "--limit", "60",
                 "--permutations", "9", "--bootstrap", "5", "--repeats", "1", "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((out / "results.json").read_text())
    assert printed["pairs"].keys() == saved["pairs"].keys()
    assert len(saved["pairs"]) == 3
    for pair in saved["pairs"].values():
        assert pair["similarity"]["n"] == 60
        assert "1,000" not in pair["description"]  # bug: the text said 1,000 items above n = 60
        assert set(pair["similarity"]["measures"]) >= {"cka-linear", "gw", "rsa", "mutual-knn"}
        assert len(pair["shuffle_curve"]["fractions"]) == 11
    assert (out / "shuffle_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert "cka-linear" in (out / "summary.md").read_text()
    assert "60 ImageNet class descriptions" in (out / "summary.md").read_text()
    # never overwrite without --force
    code = main(["demo", "--out", str(out), "--data-dir", str(data_dir), "--limit", "60"])
    assert code == 2 and "already exists" in capsys.readouterr().err
