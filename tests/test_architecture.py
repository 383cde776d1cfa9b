"""The package's shape as a contract: imports run one way (infrastructure -> maths -> methods ->
experiments -> report -> CLI), no public function hides a module of the same name, the command
line starts without the heavy stack, and every result type has a kind."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import repalign

SRC = Path(repalign.__file__).parent

# Layer of every top-level module or package of repalign; a module may import from its own layer
# or any lower one, never from a higher one.
LAYERS = {
    0: ["_version", "_formats", "_result", "_validate", "_log", "_progress", "_optional", "_device", "_figures",
        "_fork", "_simd", "_blas"],
    1: ["io", "items", "kernels", "moments", "distributed"],
    2: ["measures", "assignment"],
    3: ["qap"],
    4: ["matching", "rsm", "spectral", "encoders", "datasets", "_layerwise", "plotting"],
    5: ["experiments"],
    6: ["report"],
    7: ["cli", "__init__", "__main__"],
}
LAYER_OF = {name: level for level, names in LAYERS.items() for name in names}


def _top(module_path: Path) -> str:
    rel = module_path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imported_tops(path: Path):
    """(line, top-level repalign module) for every import of repalign code in ``path``."""
    tree = ast.parse(path.read_text())
    pkg_parts = list(path.relative_to(SRC).with_suffix("").parts)
    if pkg_parts[-1] == "__init__":
        pkg_parts = pkg_parts[:-1]
    else:
        pkg_parts = pkg_parts[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - (node.level - 1)]
                target = base + (node.module.split(".") if node.module else [])
                if not target:  # "from .. import x" at the package root: x is a module
                    for alias in node.names:
                        yield node.lineno, alias.name
                    continue
                yield node.lineno, target[0]
            elif node.module and node.module.split(".")[0] == "repalign":
                parts = node.module.split(".")
                if len(parts) > 1:
                    yield node.lineno, parts[1]
                else:
                    for alias in node.names:
                        yield node.lineno, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "repalign" and len(parts) > 1:
                    yield node.lineno, parts[1]


def test_every_module_has_a_layer():
    tops = {p.name.removesuffix(".py") for p in SRC.iterdir() if (p.suffix == ".py" or (p / "__init__.py").exists())}
    assert tops - set(LAYER_OF) == set(), "add these modules to LAYERS"


def test_imports_run_one_way():
    offenders = []
    for path in SRC.rglob("*.py"):
        here = _top(path)
        for line, target in _imported_tops(path):
            if target not in LAYER_OF:
                continue  # a name imported from the package root (e.g. __version__)
            if LAYER_OF[target] > LAYER_OF[here]:
                offenders.append(f"{path.relative_to(SRC)}:{line}: {here} (layer {LAYER_OF[here]}) imports "
                                 f"{target} (layer {LAYER_OF[target]})")
    assert not offenders, "imports from a higher layer:\n" + "\n".join(offenders)


def test_the_layer_test_sees_an_upward_import(tmp_path, monkeypatch):
    """The checker itself: a lower module importing the report is found."""
    fake = SRC / "measures" / "_probe_upward.py"
    fake.write_text("from ..report import html\n")
    try:
        with pytest.raises(AssertionError, match="measures .layer 2. imports report"):
            test_imports_run_one_way()
    finally:
        fake.unlink()


def _packages():
    yield repalign
    for info in pkgutil.walk_packages(repalign.__path__, "repalign."):
        if info.ispkg:
            yield importlib.import_module(info.name)


def test_no_public_name_hides_a_module():
    """``import repalign.x.y as m`` must give the module y, whatever was imported first."""
    clashes = []
    for pkg in _packages():
        subs = {info.name for info in pkgutil.iter_modules(pkg.__path__)}
        for name in getattr(pkg, "__all__", ()):
            if name in subs:
                clashes.append(f"{pkg.__name__}.{name}")
    assert not clashes


def test_every_lazy_name_resolves():
    for pkg in _packages():
        for name in getattr(pkg, "__all__", ()):
            assert getattr(pkg, name) is not None, f"{pkg.__name__}.{name}"


HEAVY = ("torch", "numba", "sklearn", "pandas", "scipy", "matplotlib")


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["list", "solvers"], ["list", "experiments"],
                                  ["similarity", "--no-such-option"], ["qap"]])
def test_the_command_line_starts_without_the_heavy_stack(argv):
    code = (f"import sys\nfrom repalign.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_import_repalign_is_light():
    code = f"import sys, repalign\nprint(sorted(m for m in {HEAVY!r} + ('numpy',) if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def _result_types():
    from repalign._result import Result

    seen = set()
    for info in pkgutil.walk_packages(repalign.__path__, "repalign."):
        if info.name.startswith("repalign.cli"):
            continue
        try:
            mod = importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed
            continue
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, Result) and obj is not Result:
                seen.add(obj)
    return seen


def test_every_result_type_has_a_kind_and_is_a_frozen_dataclass():
    types = _result_types()
    assert len(types) >= 17
    for cls in types:
        assert cls.kind, cls
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls
    # names of classes ending in Result all derive from the base
    for pkg in _packages():
        for name in getattr(pkg, "__all__", ()):
            obj = getattr(pkg, name)
            if isinstance(obj, type) and name.endswith("Result") and dataclasses.is_dataclass(obj):
                assert obj in types, f"{pkg.__name__}.{name} does not derive from repalign._result.Result"


def test_result_files_carry_kind_and_version(tmp_path):
    from repalign.io import write_json

    X = __import__("numpy").random.default_rng(0).normal(size=(30, 4))
    rep = repalign.evaluate(X, X + 0.1, ["cka-linear"])
    path = write_json(tmp_path / "r.json", rep.to_dict())
    d = json.loads(path.read_text())
    assert d["kind"] == "similarity" and d["repalign_version"] == repalign.__version__


def test_the_result_files_of_the_readme_carry_kind_and_version():
    for path in sorted((SRC.parents[1] / "docs" / "results").glob("*.json")):
        d = json.loads(path.read_text())
        assert d.get("kind") and d.get("repalign_version"), path.name
        if d["kind"] == "experiment":
            assert d["experiment"] == path.stem
