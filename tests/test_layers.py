"""The package keeps DESIGN.md's layering: a layer imports only from the layers listed before it.

Imports inside functions count too (a lazy import is still a dependency). The package root
(`mechscope/__init__.py`, `mechscope/errors.py`, `mechscope/atomic.py`, `mechscope/heap.py`) is shared by every
layer, and `mechscope/__main__.py` is the composition root that puts the CLI's and the web app's commands on
one command line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mechscope"
LAYERS = ["models", "graph", "tasks", "discover", "hypothesis", "steer", "compare", "describe", "data",
          "store", "runs", "cli", "ui"]
SHARED = {"__init__", "errors", "atomic", "heap", "interrupts"}  # importable from anywhere
COMPOSITION_ROOT = {"__main__"}  # may import anything


def imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """Every absolute module name `path` (a file under the package folder `root`) imports, with its line."""
    tree = ast.parse(path.read_text(), filename=str(path))
    # the package a relative import starts from: the file's folder (for `cli/x.py` and `cli/__init__.py` alike)
    package = ["mechscope", *path.relative_to(root).parts[:-1]]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            name = ".".join([*base, node.module] if node.module else base)
            found.append((node.lineno, name))
            # `from mechscope import ui` names a layer in its alias (`from mechscope import __version__` does not)
            if name == "mechscope":
                found += [(node.lineno, f"mechscope.{alias.name}") for alias in node.names
                          if alias.name in LAYERS or alias.name in COMPOSITION_ROOT]
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "mechscope" or len(parts) < 2:
        return None
    return parts[1]


def layer_violations(root: Path = SRC) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        own = path.relative_to(root).with_suffix("").parts[0]
        if own in SHARED or own in COMPOSITION_ROOT:
            continue
        assert own in LAYERS, f"{path} is in no layer of DESIGN.md; add it to LAYERS or move it"
        for line, module in imported_modules(path, root):
            target = layer_of(module)
            if target is None or target in SHARED or target == own:
                continue
            if target in COMPOSITION_ROOT or LAYERS.index(target) > LAYERS.index(own):
                problems.append(f"{path.relative_to(root)}:{line} ({own}) imports {module} ({target})")
    return problems


def test_no_layer_imports_a_layer_above_it():
    assert layer_violations() == []


@pytest.mark.parametrize("where, source, expected", [
    ("cli", "from mechscope.ui import serve_hint\n", ["cli/x.py:1 (cli) imports mechscope.ui (ui)"]),
    ("graph", "def f():\n    import mechscope.discover.eap\n",
     ["graph/x.py:2 (graph) imports mechscope.discover.eap (discover)"]),
    ("steer", "from mechscope import ui, __version__\n", ["steer/x.py:1 (steer) imports mechscope.ui (ui)"]),
    ("discover", "from ..steer import fit\n", ["discover/x.py:1 (discover) imports mechscope.steer (steer)"]),
    ("cli", "from mechscope.__main__ import app\n", ["cli/x.py:1 (cli) imports mechscope.__main__ (__main__)"]),
    ("cli", "from ..store import home\nfrom mechscope.graph import Graph\nfrom . import output\n", []),
])
def test_the_check_sees_an_upward_import(tmp_path, where, source, expected):
    # the same walk over a package holding one planted file: the check must be able to fail
    fake = tmp_path / "mechscope"
    (fake / where).mkdir(parents=True)
    (fake / where / "x.py").write_text(source)
    assert layer_violations(fake) == expected


def test_relative_imports_in_a_package_init_start_from_that_package(tmp_path):
    fake = tmp_path / "mechscope"
    (fake / "cli").mkdir(parents=True)
    (fake / "cli" / "__init__.py").write_text("from ..ui import serve_hint\nfrom .output import err\n")
    assert layer_violations(fake) == ["cli/__init__.py:1 (cli) imports mechscope.ui (ui)"]
