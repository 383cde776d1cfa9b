"""The command line, list: encoders, measures, datasets, experiments, solvers."""

import json

from repalign.cli import main

from .conftest import run


def test_list_commands(capsys):
    code, out, _ = run(capsys, "list", "encoders")
    assert code == 0 and "efficientnet-lite0" in out and "use-multilingual" in out
    code, out, _ = run(capsys, "list", "measures", "--json")
    assert json.loads(out)["gw"]["higher_is_more_similar"] is False


def test_list_experiments_and_solvers(capsys):
    assert main(["list", "experiments"]) == 0
    assert "qap-solvers" in capsys.readouterr().out
    assert main(["list", "solvers"]) == 0
    assert "hahn-grant" in capsys.readouterr().out


def test_list_solvers_prints_whole_descriptions(capsys):
    from repalign.qap import SOLVERS

    assert main(["list", "solvers"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == len(SOLVERS)
    assert ":func:" not in out and "``" not in out and all(len(ln.split(None, 1)[1]) > 20 for ln in lines)


def test_layers_refuses_images_for_a_text_model_before_loading_it(capsys, tmp_path):
    (tmp_path / "imgs").mkdir()
    code, _, err = run(capsys, "layers", "minilm", "--images", tmp_path / "imgs")
    assert code == 2 and "--images: model 'minilm' is a text encoder" in err

