"""What the runs, steering and comparison views show, read from the experiment store.

Every function returns plain JSON-safe data (the web app's API and the notebook widgets send it
as is) and raises `MechscopeError` with one line on an unknown name.

>>> import tempfile
>>> from mechscope.store import Store
>>> runs_view(Store(tempfile.mkdtemp()))["entries"]
[]
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from mechscope.errors import MechscopeError, closest
from mechscope.store import Store
from mechscope.store.db import KINDS
from mechscope.store.versions import lineage

JSON_PREVIEW_BYTES = 2_000_000  # JSON files up to this size are shown inline on an entry's page


def plain(value):
    """JSON-safe: NaN and inf become None, tuples become lists.

    >>> plain({"a": float("nan"), "b": (1, 2.5)})
    {'a': None, 'b': [1, 2.5]}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise MechscopeError(f"unknown kind {kind!r}{closest(kind, KINDS)}; kinds are {', '.join(KINDS)}")
    return kind


def runs_view(store: Store) -> dict:
    """The store as a table (every entry, oldest first) and the provenance tree of model versions: each model
    or version with the versions made from it and the circuits, steering files and comparisons made on it."""
    entries = store.entries()
    versions = [e for e in entries if e.kind == "version"]
    names = {e.name for e in versions}

    def on(model: str) -> list[dict]:
        return [{"kind": e.kind, "name": e.name} for e in entries
                if e.kind != "version" and (e.base or "").removeprefix("version:") == model]

    nodes = {e.name: {"name": e.name, "kind": "version", "label": e.metrics.get("label"), "operation": e.operation,
                      "created": e.created, "children": [], "artifacts": on(e.name)} for e in versions}
    roots: dict[str, dict] = {}
    for e in versions:  # oldest first: a base is listed before what is made from it
        if e.base in names:
            nodes[e.base]["children"].append(nodes[e.name])
        else:
            root = roots.setdefault(e.base, {"name": e.base, "kind": "model", "children": [], "artifacts": on(e.base)})
            root["children"].append(nodes[e.name])
    for e in entries:  # models that have artifacts but no versions are roots too
        base = (e.base or "").removeprefix("version:")
        if e.kind != "version" and base and base not in names and base not in roots:
            roots[base] = {"name": base, "kind": "model", "children": [], "artifacts": on(base)}
    rows = [{**e.to_dict(), "lineage": lineage(store, e.name) if e.kind == "version" else None} for e in entries]
    return plain({"root": str(store.root.resolve()), "entries": rows, "tree": list(roots.values())})


def entry_view(store: Store, kind: str, name: str) -> dict:
    """One entry: its provenance row, its files (name and size) and the content of its JSON files."""
    entry = store.get(check_kind(kind), name)
    folder = store.path(entry)
    files, documents = [], {}
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = str(f.relative_to(folder))
        files.append({"name": rel, "bytes": f.stat().st_size})
        if f.suffix == ".json" and f.stat().st_size <= JSON_PREVIEW_BYTES:
            documents[rel] = json.loads(f.read_text())
    row = {**entry.to_dict(), "lineage": lineage(store, name) if kind == "version" else None}
    return plain({"entry": row, "files": files, "documents": documents})


def artifact_path(store: Store, kind: str, name: str, filename: str) -> Path:
    """The path of one of an entry's files; refuses names that leave the entry's folder."""
    entry = store.get(check_kind(kind), name)
    folder = store.path(entry).resolve()
    path = (folder / filename).resolve()
    if folder not in path.parents or not path.is_file():
        listing = ", ".join(sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()))
        raise MechscopeError(f"{kind} {name!r} has no file {filename!r}; its files are {listing}")
    return path


def steering_view(store: Store, name: str) -> dict:
    """A steering file of the store: its manifest, its strength sweep (effect against damage, the chosen
    strength) and prompts to start the playground with."""
    entry = store.get("steering", name)
    folder = store.path(entry)
    manifest = json.loads((folder / "manifest.json").read_text())
    evaluation = None
    if (folder / "evaluation.json").exists():
        evaluation = json.loads((folder / "evaluation.json").read_text()) or None
    return {"name": name, "entry": entry.to_dict(), **steering_view_from(manifest, evaluation)}


def steering_view_from(manifest: dict, evaluation: dict | None = None) -> dict:
    """The steering view of a manifest (`SteeringFile.manifest`) and its evaluation (by default the summary
    the manifest carries)."""
    from mechscope.steer import METHODS, load_concept

    evaluation = evaluation or manifest.get("evaluation")
    prompts = []
    if manifest.get("concept"):
        try:
            prompts = load_concept(manifest["concept"]).prompts[:2]
        except MechscopeError:
            prompts = []
    method = METHODS.get(manifest.get("method"))
    return plain({"manifest": manifest, "evaluation": evaluation,
                  "default_strengths": list(method.default_strengths) if method else [],
                  "prompts": prompts or ["I think that"]})


def comparison_view(store: Store, name: str) -> dict:
    """A comparison of the store, with its examples that flip and the store names of the circuits it used."""
    entry = store.get("comparison", name)
    folder = store.path(entry)
    doc = json.loads((folder / "comparison.json").read_text())
    return {"name": name, "entry": entry.to_dict(), **comparison_view_from(doc, _examples(folder), store)}


def comparison_view_from(doc: dict, examples: list[dict], store: Store | None = None) -> dict:
    """The comparison view of a comparison document (the dict of `mechscope.compare.compare` or a
    ``comparison.json``) and its per-example rows: the examples that flip (right on one model, wrong on the
    other), with their prompts when the task can be rebuilt, and, given the store, its circuits' names."""
    doc = {k: v for k, v in doc.items() if k != "examples"}
    prompts = {t: _prompts(t, info) for t, info in doc["base"]["tasks"].items()}
    flips = [{**r, "prompt": prompts.get(r["task"], {}).get(r["example"])} for r in examples
             if r["base_correct"] != r["correct"]]
    return plain({"comparison": doc, "flips": flips, "n_examples": len(examples),
                  "circuits": _circuit_names(store, doc) if store is not None else {}})


def _examples(folder: Path) -> list[dict]:
    if (folder / "examples.parquet").exists():
        import pyarrow.parquet as pq

        return pq.read_table(folder / "examples.parquet").to_pylist()
    if (folder / "examples.jsonl").exists():
        return [json.loads(line) for line in (folder / "examples.jsonl").read_text().splitlines() if line]
    return []


def _task(name: str, info: dict):
    """The comparison's task rebuilt (a built-in task with its size), if its hash matches the recorded one."""
    from mechscope.tasks import load_task

    try:
        task = load_task(name, n=info.get("n"))
    except (MechscopeError, OSError):
        return None
    return task if task.hash() == info.get("task_hash") else None


def _prompts(name: str, info: dict) -> dict[int, str]:
    task = _task(name, info)
    return {i: ex.clean for i, ex in enumerate(task.examples)} if task is not None else {}


def _circuit_names(store: Store, doc: dict) -> dict:
    """``{task: {"base": name, version: name, ...}}``: the circuits a comparison found, where the store has them
    (they are recorded under a key of the model, the task and the discovery settings)."""
    from mechscope.compare import CircuitSettings
    from mechscope.store.records import circuit_name

    settings = doc.get("settings", {}).get("circuits") or {}
    if settings.get("which", "none") == "none":
        return {}
    cs = CircuitSettings(**settings)
    out: dict[str, dict] = {}
    for t, info in doc["base"]["tasks"].items():
        task = _task(t, info)
        if task is None:
            continue
        found = {}
        for label, fp in [("base", doc["base"]["fingerprint"])] + [(r["name"], r["fingerprint"])
                                                                      for r in doc["versions"] if r["task"] == t]:
            circuit = circuit_name(fp, task, cs)
            if store.find("circuit", circuit) is not None:
                found[label] = circuit
        out[t] = found
    return out
