"""Surfaces are thin (DESIGN.md, issue 22): the CLI and the web app parse, submit and show; they neither name a
method nor compute a science result. This test counts the places where they still do, by reading their source:

- a string literal that is a registered method's name where a method is meant (the method argument of
  `RunSpec`/`get_method`, a ``method=`` keyword, a ``"method"`` key, a comparison with a ``method`` variable), or
  anywhere for a name no other word shares (``eap-ig``, ``lowrank``);
- a name imported from a method package (discover, steer, compare, describe, data, hypothesis) that computes,
  rather than reads, writes, draws or lists (those are the allowances below, each with its reason).

The places that remain are listed, with the reason each is still there, in docs/runs.md ("Surfaces: what is
left"); the test fails when a new one appears, or when one listed there is gone and the list is stale.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SURFACES = ("src/mechscope/cli", "src/mechscope/ui")
METHOD_PACKAGES = ("discover", "steer", "compare", "describe", "data", "hypothesis")

# What a surface may import from a method package: result types it loads and shows, readers of the user's files
# and of shipped data, lists of choices for a form, drawing, and writing files the user reviewed.
ALLOWED = {
    "Circuit": "the circuit result type: loaded from a file or the store and shown",
    "SteeringFile": "the steering result type: loaded from a file or the store and shown",
    "draw_circuit": "draws a recorded circuit (showing)",
    "read_sentences": "reads the user's sentence file",
    "read_prompts": "reads the user's prompt set (its path and hash are the map's provenance)",
    "load_concept": "reads a shipped concept's sentences and prompts",
    "CONCEPTS": "the shipped concepts, for a form's choices",
    "METHODS": "reads a steering class's default strengths for the playground's slider",
    "DEFAULT_EMBED": "a form's default embedding space",
    "MIN_PROMPTS": "a form's limit",
    "SCORERS": "the scorers, for a form's choices",
    "SHIPPED": "the shipped prompt sets, for a form's choices",
    "export_rows": "writes the rows a user accepted in review to a file",
    "GroundTruth": "the zoo model type: loaded and listed",
    "groundtruth_dir": "where the zoo is cached (listing)",
    "is_built": "whether a zoo model is cached (listing)",
    "zoo_names": "the zoo's model names (listing)",
    "_builder": "refuses an unknown zoo model name with the closest ones",
    "PLANTED_BY_NAME": "a zoo model's training steps, for a progress bar's total",
    "passed": "reads a built zoo model's recorded verification",
    "load_zoo_model": "loads a built zoo model from the cache (listing)",
    "check_tests": "refuses unknown hypothesis-test names (parsing --tests)",
    "planned_runs": "the number of patched runs the tests will make, for a progress bar's total",
    "CircuitSettings": "the discovery settings a comparison recorded, to find its circuits' store names",
    "operation_label": "a version's readable label",
    "parse_prune": "parses the --prune option",
    "serve": "serves a model as a chat endpoint for llm: interpreters (no result)",
    "export_control_vector": "writes a steering file in llama.cpp's format (a file conversion)",
}
# method names that are also ordinary words or other things' names (a kind, a parameter, an ablation)
AMBIGUOUS = {"build", "map", "concept", "versions", "node", "exact", "llm", "ablation", "interpolate"}


def _method_names() -> set[str]:
    from mechscope.runs import methods

    return {m.name for m in methods()}


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _names_method(node: ast.Constant, parent: ast.AST | None) -> bool:
    """Whether the literal `node` stands where a method is meant."""
    if isinstance(parent, ast.Call):
        func = parent.func.id if isinstance(parent.func, ast.Name) else getattr(parent.func, "attr", "")
        if func in ("RunSpec", "get_method") and len(parent.args) > 1 and parent.args[1] is node:
            return True
    if isinstance(parent, ast.keyword) and parent.arg == "method":
        return True
    if isinstance(parent, ast.Dict):
        for key, value in zip(parent.keys, parent.values):
            if value is node and isinstance(key, ast.Constant) and key.value == "method":
                return True
    if isinstance(parent, ast.Compare):
        sides = [parent.left, *parent.comparators]
        return any("method" in ast.unparse(s) for s in sides if s is not node)
    return False


def surface_science_sites() -> list[tuple[str, int, str]]:
    """Every place a surface names a method or imports a computing name from a method package:
    ``(path relative to src/mechscope, line, what)``."""
    names = _method_names()
    sites = []
    for folder in SURFACES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = str(path.relative_to(ROOT / "src" / "mechscope"))
            tree = ast.parse(path.read_text())
            parents = _parents(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                    if node.value not in AMBIGUOUS or _names_method(node, parents.get(node)):
                        sites.append((rel, node.lineno, f"names method {node.value!r}"))
                elif isinstance(node, ast.ImportFrom) and node.module:
                    parts = node.module.split(".")
                    if len(parts) > 1 and parts[0] == "mechscope" and parts[1] in METHOD_PACKAGES:
                        sites += [(rel, node.lineno, f"{node.module}.{a.name}") for a in node.names
                                  if a.name not in ALLOWED]
                elif isinstance(node, ast.Import):
                    sites += [(rel, node.lineno, a.name) for a in node.names
                              if a.name.split(".")[:2][-1] in METHOD_PACKAGES and a.name.startswith("mechscope.")]
    return sites


def documented_sites() -> set[tuple[str, str]]:
    """The ``(file, what)`` pairs docs/runs.md lists under "Surfaces: what is left" (a table: file | what | why)."""
    text = (ROOT / "docs" / "runs.md").read_text()
    section = text.split("## Surfaces: what is left", 1)[1].split("\n## ", 1)[0]
    return {(m[1], m[2]) for m in re.finditer(r"^\| `([^`]+)` \| `([^`]+)` \|", section, re.M)}


def test_count_the_places_where_a_surface_names_a_method_or_computes():
    sites = surface_science_sites()
    print(f"\n{len(sites)} places where a surface names a method or computes a science result (target: none):")
    for rel, line, what in sites:
        print(f"  {rel}:{line}: {what}")
    found = {(rel, what) for rel, _, what in sites}
    listed = documented_sites()
    assert found - listed == set(), f"new places, not listed in docs/runs.md: {sorted(found - listed)}"
    assert listed - found == set(), f"docs/runs.md lists places that are gone: {sorted(listed - found)}"
    assert not any("names method" in what for _, _, what in sites), "a surface names a method"


def test_the_scan_sees_what_it_should(tmp_path):
    """The scanner finds a method named in a spec, a computing import and a method compared with; not a word."""
    names = _method_names()
    tree = ast.parse('RunSpec("discover", "eap-ig", m)\nif method == "llm": pass\nx = {"ablation": 1}\n'
                     'y = {"method": "node"}\nfrom mechscope.steer import evaluate_steering, SteeringFile\n')
    parents = _parents(tree)
    literal = [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in names]
    flagged = [n.value for n in literal if n.value not in AMBIGUOUS or _names_method(n, parents.get(n))]
    assert flagged == ["eap-ig", "llm", "node"]
    imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names
                if a.name not in ALLOWED]
    assert imported == ["evaluate_steering"]
