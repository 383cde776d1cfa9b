"""The README's result tables are generated from docs/results and cannot drift from them."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from repalign.report.readme import main, render_bench_block, render_block, update_readme

ROOT = Path(__file__).resolve().parents[2]


def test_readme_tables_equal_the_result_files():
    assert update_readme(ROOT / "README.md", ROOT / "docs" / "results", bench_dir=ROOT / "benchmarks" / "results",
                         check=True) == []


def test_every_benchmark_block_has_its_file_and_every_file_is_tracked():
    text = (ROOT / "README.md").read_text()
    blocks = set(__import__("re").findall(r"<!-- bench:([\w:-]+) -->", text))
    for name in blocks:
        render_bench_block(name, ROOT / "benchmarks" / "results")  # raises when the file or table is missing
    scripts = {b.split(":")[0] for b in blocks}
    assert all((ROOT / "benchmarks" / f"{s}.py").exists() for s in scripts)


def test_benchmark_blocks_render_a_table_with_its_provenance(tmp_path):
    d = {"benchmark": "bench_x", "argv": ["--n", "5"], "repalign_version": "0.1.0", "when": "2026-12-02T20:00:00+00:00",
         "machine": {"cpus": 2}, "tables": [{"title": "T0", "header": ["a", "b"], "rows": [["x|y", 1.23456789], [None, 3]]},
                                            {"title": "T1", "header": ["c"], "rows": [["z"]]}]}
    (tmp_path / "bench_x.json").write_text(json.dumps(d))
    out = render_bench_block("bench_x:0", tmp_path)
    assert out.splitlines()[:5] == ["**T0**", "", "| a | b |", "|---|---|", "| x\\|y | 1.235 |"]
    assert "| - | 3 |" in out and "`python benchmarks/bench_x.py --n 5`, 2026-12-02T20:00:00+00:00, 2 cores" in out
    assert render_bench_block("bench_x:1", tmp_path).startswith("**T1**")
    with pytest.raises(ValueError, match="holds 2 tables"):
        render_bench_block("bench_x", tmp_path)
    with pytest.raises(ValueError, match="tables 0..1"):
        render_bench_block("bench_x:2", tmp_path)
    with pytest.raises(ValueError, match="no benchmark file"):
        render_bench_block("bench_y:0", tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- bench:bench_x:1 -->\nold\n<!-- /bench:bench_x:1 -->\nb\n")
    assert update_readme(readme, tmp_path, bench_dir=tmp_path) == ["bench_x:1"]
    assert "| z |" in readme.read_text() and update_readme(readme, tmp_path, bench_dir=tmp_path) == []


def test_every_block_has_a_result_file_and_every_file_a_block():
    text = (ROOT / "README.md").read_text()
    files = {p.stem for p in (ROOT / "docs" / "results").glob("*.json")}
    blocks = set(__import__("re").findall(r"<!-- results:([\w-]+) -->", text))
    assert blocks == files


def test_result_files_are_not_git_ignored():
    # bug: .gitignore's 'results/' also matched docs/results, so the files existed only on the
    # machine that made them and CI failed with "no result file" for every README block
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to ask git which paths it ignores")
    files = [*(ROOT / "docs" / "results").glob("*.json"), *(ROOT / "docs" / "figures").glob("*")]
    paths = [str(p.relative_to(ROOT)) for p in files if p.is_file()]
    assert paths, "docs/results holds no result files"
    out = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.split() == [], f"git ignores these files: {out.stdout.split()}"


def test_update_rewrites_only_blocks(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(ROOT / "docs" / "results" / "ablation.json", results)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:ablation -->\nstale\n<!-- /results:ablation -->\noutro\n")
    assert update_readme(readme, results, check=True) == ["ablation"]
    assert "stale" in readme.read_text()  # --check writes nothing
    assert main(["--readme", str(readme), "--results", str(results), "--check"]) == 1
    assert update_readme(readme, results) == ["ablation"]
    text = readme.read_text()
    assert text.startswith("intro\n<!-- results:ablation -->\n| k-means base") and text.endswith("outro\n")
    assert update_readme(readme, results) == []


def test_bad_result_files_are_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no result file"):
        render_block("ablation", tmp_path)
    (tmp_path / "ablation.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        render_block("ablation", tmp_path)
    (tmp_path / "ablation.json").write_text(json.dumps({"rows": []}))
    with pytest.raises(ValueError, match="missing or bad field"):
        render_block("ablation", tmp_path)
