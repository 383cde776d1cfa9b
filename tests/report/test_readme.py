"""The README's result tables are generated from docs/results and cannot drift from them."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from repalign.report.readme import main, render_block, update_readme

ROOT = Path(__file__).resolve().parents[2]


def test_readme_tables_equal_the_result_files():
    assert update_readme(ROOT / "README.md", ROOT / "docs" / "results", check=True) == []


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
