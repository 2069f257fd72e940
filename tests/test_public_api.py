"""Each package's public surface (`__all__`) stays small, real, unique, and is what the code imports.

docs/public-api.md says what each surface is and why; a name left out of `__all__` lives in its submodule
(``from mechscope.steer.vectors import DiffMean``), and nothing imports it from the package root.
"""

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The most public names a package may export (about 5-8 each: its core nouns and verbs).
BOUNDS = {"models": 7, "graph": 7, "tasks": 8, "discover": 8, "hypothesis": 7, "steer": 8, "compare": 8,
          "describe": 7, "data": 7, "store": 8, "runs": 8}


def _exports(pkg: str) -> list[str]:
    return list(importlib.import_module(f"mechscope.{pkg}").__all__)


def _allowed(pkg: str) -> set[str]:
    """What `from mechscope.PKG import X` may name: the public names, submodules, and what the root itself defines."""
    init = ROOT / "src" / "mechscope" / pkg / "__init__.py"
    defined = set()
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined |= {t.id for t in targets if isinstance(t, ast.Name)}
    subs = {m.name for m in pkgutil.iter_modules([str(init.parent)])}
    return set(_exports(pkg)) | subs | defined


def test_every_package_is_bounded_and_exports_what_exists():
    pkgs = {p.name for p in (ROOT / "src" / "mechscope").iterdir() if (p / "__init__.py").exists()} - {"cli", "ui"}
    assert pkgs == set(BOUNDS), f"a package was added or removed: give it a bound here ({sorted(pkgs ^ set(BOUNDS))})"
    for pkg, bound in BOUNDS.items():
        names = _exports(pkg)
        assert len(names) <= bound, f"mechscope.{pkg} exports {len(names)} names, more than its bound {bound}: {names}"
        assert len(set(names)) == len(names), f"mechscope.{pkg}.__all__ repeats a name"
        module = importlib.import_module(f"mechscope.{pkg}")
        missing = [n for n in names if not hasattr(module, n)]
        assert not missing, f"mechscope.{pkg}.__all__ names {missing}, which it does not have"


def test_no_two_packages_export_the_same_name():
    owner: dict[str, str] = {}
    for pkg in BOUNDS:
        for name in _exports(pkg):
            assert name not in owner, f"{name!r} is exported by both mechscope.{owner[name]} and mechscope.{pkg}"
            owner[name] = pkg


def test_the_docs_list_each_surface_as_it_is():
    doc = (ROOT / "docs" / "public-api.md").read_text()
    for pkg in BOUNDS:
        row = re.search(rf"^\| `{pkg}` \| ([^|]*) \|", doc, re.M)
        assert row, f"docs/public-api.md has no row for {pkg}"
        assert sorted(re.findall(r"`(\w+)`", row.group(1))) == sorted(_exports(pkg)), f"docs/public-api.md: {pkg}"


def _root_imports(code: str):
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom) and node.module and re.fullmatch(r"mechscope\.\w+", node.module):
            pkg = node.module.split(".")[1]
            if pkg in BOUNDS:
                yield node.lineno, pkg, [a.name for a in node.names]


def test_nothing_imports_a_private_name_from_a_package_root():
    allowed = {pkg: _allowed(pkg) for pkg in BOUNDS}
    bad = []
    for folder in ("src", "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, pkg, names in _root_imports(path.read_text()):
                bad += [f"{path.relative_to(ROOT)}:{line}: {n} from mechscope.{pkg}" for n in names
                        if n not in allowed[pkg]]
    assert not bad, "import these from their submodules (docs/public-api.md):\n" + "\n".join(bad)


@pytest.mark.parametrize("code, expected", [
    ("from mechscope.steer import DiffMean, load_concept", [(1, "steer", ["DiffMean", "load_concept"])]),
    ("from mechscope.steer.vectors import DiffMean", []),
])
def test_the_import_scan_sees_root_imports(code, expected):
    assert list(_root_imports(code)) == expected
    assert "DiffMean" not in _allowed("steer") and "load_concept" in _allowed("steer")
