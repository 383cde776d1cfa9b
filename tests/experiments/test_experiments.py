"""Paper experiments on real data, on a quick setting."""

import json

import pytest

from repalign.cli import main
from repalign.experiments import run_crosslingual

pytestmark = [pytest.mark.slow, pytest.mark.encoders]


def test_crosslingual_quick(data_dir, tmp_path):
    res = run_crosslingual(data_dir, multilingual=("use-multilingual",), languages=["de"], seeds=(0,),
                           out=tmp_path / "x.json", log=lambda m: None)
    (row,) = res.rows
    acc = row["matching"]
    # unaligned encoders, different languages: far above chance (0.2 %), below the aligned bound
    assert acc["local-cka"]["matching_accuracy"] > 0.5 and acc["qap"]["matching_accuracy"] > 0.5
    assert row["aligned_cosine"] > acc["linear"]["matching_accuracy"]
    assert json.loads((tmp_path / "x.json").read_text())["rows"][0]["language"] == "de"
    assert "| use-multilingual | de |" in res.markdown()
    # the CSV beside it: one line per row, nested fields as dotted columns
    (cols,) = list(__import__("csv").DictReader((tmp_path / "x.csv").open()))
    assert cols["language"] == "de" and float(cols["matching.qap.matching_accuracy"]) == acc["qap"]["matching_accuracy"]
    assert "note" not in row and "| note |" not in res.markdown()  # only flagged rows carry a note
    # the data-limited Japanese rows carry the experiment's note, shown in its table
    jp = run_crosslingual(data_dir, multilingual=("use-multilingual",), languages=["jp"], seeds=(0,),
                          base_size=100, query_size=100, log=lambda m: None)
    assert "STAIR" in jp.rows[0]["note"] and "| note |" in jp.markdown() and "STAIR" in jp.markdown()


def test_experiment_cli_errors(capsys, tmp_path):
    assert main(["experiment", "table9", "--out-dir", str(tmp_path)]) == 2
    assert "unknown experiment" in capsys.readouterr().err


def test_ablation_quick(data_dir):
    from repalign.experiments import run_ablation

    res = run_ablation(data_dir, base_size=100, query_size=200, seeds=(0,), log=lambda m: None)
    assert len(res.rows) == 8
    with_cka = [r["qap"]["matching_accuracy"] for r in res.rows if r["cka"]]
    without = [r["qap"]["matching_accuracy"] for r in res.rows if not r["cka"]]
    assert min(with_cka) > max(without)  # the paper's main ablation finding holds here too
    assert "| yes | yes | yes |" in res.markdown()


def test_classification_quick(data_dir):
    from repalign.experiments import run_classification

    res = run_classification(data_dir, image_encoders=("efficientnet-lite0",), text_encoders=("use-multilingual",),
                             per_class=12, base_per_class=4, seeds=(0,), log=lambda m: None)
    (row,) = res.rows
    for m in ("local-cka", "linear", "relative"):
        assert 0.0 <= row[m]["top1"] <= row[m]["top5"] <= 1.0
    assert row["local-cka"]["top1"] > 0.2  # chance is 0.1
    assert "| efficientnet-lite0 | use-multilingual |" in res.markdown()
    with pytest.raises(ValueError, match="base_per_class"):
        run_classification(data_dir, per_class=5, base_per_class=5)


def test_blind_cifar_and_unsupervised_quick(data_dir, tmp_path):
    from repalign.experiments import run_blind_cifar, run_unsupervised

    res = run_blind_cifar(data_dir, image_encoders=("efficientnet-lite0",), text_encoders=("use-multilingual",),
                          per_class=12, resamples=2, time_limit=5, out=tmp_path / "b.json", log=lambda m: None)
    (row,) = res.rows
    assert set(row["measures"]) == {"gw", "cka-linear"} | {f"mutual-knn k={k}" for k in range(1, 9)}
    for v in row["measures"].values():
        assert 0.0 <= v["accuracy"] <= 1.0 and 0.0 <= v["certified"] <= 1.0
    assert row["measures"]["gw"]["certified"] == 1.0  # N = 10 is solved exactly
    assert "| efficientnet-lite0 | use-multilingual |" in res.markdown()
    un = run_unsupervised(data_dir, image_encoders=("efficientnet-lite0",), text_encoders=("use-multilingual",),
                          per_class=12, seeds=(0,), time_limit=3, log=lambda m: None)
    (u,) = un.rows
    assert 0.0 <= u["accuracy"] <= u["oracle_accuracy"] <= 1.0


def test_blind_xtd_and_solver_comparison_quick(data_dir):
    from repalign.experiments import run_blind_xtd, run_qap_solvers

    res = run_blind_xtd(data_dir, pairs=(("use-multilingual", "en", "use-multilingual", "de"),), sizes=(10,),
                        random_draws=1, time_limit=3, log=lambda m: None)
    (row,) = res.rows
    # the same multilingual encoder on translations: the selected subset matches well above chance
    assert row["selected"]["10"]["accuracy"] >= 0.5
    assert "| selected |" in res.markdown()
    sol = run_qap_solvers(time_limit=2, synthetic=((12, 0.6),), real=False, log=lambda m: None)
    (r,) = sol.rows
    best = min(r[s]["objective"] for s in sol.settings["solvers"])
    assert r["hahn-grant"]["optimal"] and r["hahn-grant"]["objective"] == best
    assert all(r[s]["objective"] >= r["hahn-grant"]["bound"] - 1e-9 for s in sol.settings["solvers"])


def test_cka_vs_qap_quick(data_dir, tmp_path):
    from repalign.experiments import run_cka_vs_qap

    res = run_cka_vs_qap(data_dir, english=("minilm",), multilingual=("use-multilingual",), languages=["de", "fr", "es"],
                         image_encoders=(), text_encoders=(), plot=tmp_path / "f.png", log=lambda m: None)
    assert len(res.rows) == 3
    assert all(0 <= r["qap_accuracy"] <= 1 and 0 < r["cka"] < 1 for r in res.rows)
    assert (tmp_path / "f.png").stat().st_size > 1000
    assert res.correlation("text")["n"] == 3


def test_experiment_results_convert_to_a_data_frame_with_the_csv_columns(tmp_path):
    import csv

    pd = pytest.importorskip("pandas")
    from repalign.experiments.blind import run_qap_solvers

    out = tmp_path / "qap-solvers.json"
    res = run_qap_solvers(synthetic=((9, 0.6),), real=False, out=out, log=lambda m: None)
    df = res.to_pandas()
    with open(out.with_suffix(".csv"), newline="") as fh:
        header = next(csv.reader(fh))
    assert isinstance(df, pd.DataFrame) and len(df) == 1 and list(df.columns) == header
    assert df.loc[0, "hahn-grant.objective"] == res.rows[0]["hahn-grant"]["objective"]
    assert df.loc[0, "true_objective"] == res.rows[0]["true_objective"]
