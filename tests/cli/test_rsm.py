"""The command line, rsm (and embed --feature-maps feeding it)."""


import numpy as np
import pytest

from repalign.rsm import semantic_rsm

from ..conftest import maps


# ------------------------------------------------------------------ CLI
def test_rsm_cli(tmp_path, capsys):
    import json

    from repalign.cli import main

    x = maps(n=12, c=5, h=2, w=3)
    np.save(tmp_path / "m.npy", x)
    np.savez(tmp_path / "two.npz", a=x, b=x[:4])
    out = tmp_path / "r.npy"
    assert main(["rsm", str(tmp_path / "m.npy"), "--kernel", "inner", "--out", str(out), "--json", "--quiet"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["shape"] == [12, 12] and d["invariance"] == "permutation"
    assert np.allclose(np.load(out), semantic_rsm(x, kernel="inner").matrix)
    assert json.loads((tmp_path / "r.npy.json").read_text())["kernel"] == "inner"
    assert main(["rsm", f"{tmp_path / 'two.npz'}:b", "--other", f"{tmp_path / 'two.npz'}:a", "--json",
                 "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["shape"] == [4, 12]
    assert main(["rsm", str(tmp_path / "m.npy"), "--kernel", "inner", "--matcher", "auction:0.001", "--json",
                 "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["matcher"] == "auction:0.001"
    cases = [
        (["--matcher", "batch-optimal:0"], "--matcher"),
        (["--matcher", "auction:2"], "auction tolerance must be in (0, 1)"),
        (["--backend", "hungarian"], "invalid choice"),
        (["--other", str(tmp_path / "two.npz") + ":zz"], "no array named 'zz'"),
        (["--layout", "NTD"], "3-D"),
        (["--out", str(out)], "already exists"),
        (["--invariance", "none", "--matcher", "greedy"], "--matcher: applies"),
    ]
    for extra, expect in cases:
        code = main(["rsm", str(tmp_path / "m.npy"), *extra])
        err = capsys.readouterr().err
        assert code == 2 and expect in err and len(err.strip().splitlines()) == 1, (extra, err)
    np.save(tmp_path / "obj.npy", np.array([{}], dtype=object), allow_pickle=True)
    assert main(["rsm", str(tmp_path / "obj.npy")]) == 2
    assert "allow_pickle" not in capsys.readouterr().err


@pytest.mark.encoders
def test_embed_feature_maps_feed_rsm(tmp_path, capsys):
    from repalign.cli import main

    out = tmp_path / "maps.npy"
    assert main(["embed", "--model", "efficientnet-lite0", "--dataset", "digits", "--limit", "4", "--feature-maps",
                 "15", "--out", str(out), "--quiet"]) == 0
    m = np.load(out)
    assert m.shape == (4, 320, 7, 7)
    assert main(["rsm", str(out), "--kernel", "cosine", "--quiet"]) == 0


def test_rsm_out_may_not_name_its_own_input(tmp_path, capsys):
    from repalign.cli import main

    x = maps(n=6, c=3, h=2, w=2)
    np.save(tmp_path / "m.npy", x)
    assert main(["rsm", str(tmp_path / "m.npy"), "--out", str(tmp_path / "m.npy"), "--force"]) == 2
    assert "--out: " in capsys.readouterr().err and np.array_equal(np.load(tmp_path / "m.npy"), x)
