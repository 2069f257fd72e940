"""Circuits and comparisons in the store, and exporting entries.

Circuits found during a comparison are recorded under a key of the model
fingerprint, the task (hash, split seed and test fraction) and the discovery
settings, so a second comparison on the same base reuses them. A comparison
is recorded as ``comparison.json`` plus its per-example table,
``examples.parquet`` (``examples.jsonl`` where pyarrow is missing).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from mechscope.compare.mechanism import CircuitSettings, FindCircuit
from mechscope.discover import Circuit
from mechscope.errors import MechscopeError, closest
from mechscope.graph import Graph
from mechscope.store.db import Entry, Store
from mechscope.store.versions import lineage
from mechscope.tasks import Task


def circuit_name(fingerprint: str, task: Task, settings: CircuitSettings) -> str:
    """The store name of a circuit found with `settings` on a model and task.

    >>> from mechscope.tasks import load_task
    >>> circuit_name("0123abcd", load_task("ioi", n=4), CircuitSettings()).startswith("circuit-0123abcd-")
    True
    """
    key = {**settings.to_dict(), "split_seed": task.seed, "test_fraction": task.test_fraction}
    key.pop("which")
    digest = hashlib.blake2b(json.dumps(key, sort_keys=True).encode(), digest_size=4).hexdigest()
    return f"circuit-{fingerprint}-{task.hash()}-{digest}"


def cached_finder(store: Store, settings: CircuitSettings) -> FindCircuit:
    """A circuit finder that reads circuits from the store and records the ones it finds."""
    find = settings.finder()

    def cached(graph: Graph, task: Task) -> Circuit:
        name = circuit_name(graph.model.fingerprint, task, settings)
        entry = store.find("circuit", name)
        if entry is not None:
            return Circuit.load(store.path(entry) / "circuit.json")
        circuit = find(graph, task)
        store.add("circuit", name, {"circuit.json": json.dumps(circuit.to_dict(), indent=1).encode()},
                  base=graph.model.spec, operation=settings.method, params=settings.to_dict(),
                  model_fingerprint=graph.model.fingerprint, task_hash=task.hash(),
                  metrics={"faithfulness": circuit.faithfulness, "edges": len(circuit.edges), "task": task.name},
                  replace=True)
        return circuit

    return cached


def save_comparison(store: Store, result: dict, name: str | None = None) -> Entry:
    """Record a comparison (the dict from `mechscope.compare.compare`); returns its entry."""
    doc = {k: v for k, v in result.items() if k != "examples"}
    name = name or "compare-" + datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    files = {"comparison.json": json.dumps(_plain(doc), indent=1).encode()}
    files.update(example_table(result.get("examples", [])))
    metrics = {f"{r['name']}/{r['task']}": {"task_metric": r["task_metric"], "kl": r["kl"],
                                             "top1_agreement": r["top1_agreement"],
                                             "circuit_faithfulness_of_base": r["circuit_faithfulness_of_base"],
                                             "circuit_jaccard": r["circuit_jaccard"]} for r in result["versions"]}
    return store.add("comparison", name, files, base=result["base"]["name"], operation="compare",
                     params={"tasks": result["tasks"], "versions": sorted({r["name"] for r in result["versions"]}),
                             **result["settings"]},
                     model_fingerprint=result["base"]["fingerprint"], metrics=metrics)


def example_table(rows: list[dict]) -> dict[str, bytes]:
    """``{"examples.parquet": bytes}``, or ``{"examples.jsonl": bytes}`` without pyarrow.

    >>> sorted(example_table([{"version": "v", "task": "ioi", "example": 0, "kl": 0.0}]))
    ['examples.parquet']
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return {"examples.jsonl": "".join(json.dumps(r) + "\n" for r in rows).encode()}
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return {"examples.parquet": sink.getvalue()}


def export(store: Store, names: list[str] | None, out: str | Path) -> list[Entry]:
    """Write entries (all by default; a version brings the versions it is made from) to one zip file.

    Inside: ``<kind>/<name>/entry.json`` (the row: provenance and metrics) and the entry's files.
    """
    chosen = store.entries() if not names else [_entry_named(store, n) for n in names]
    seen = {(e.kind, e.name) for e in chosen}
    for e in list(chosen):
        if e.kind == "version":
            for ancestor in lineage(store, e.name)[:-1]:
                parent = store.find("version", ancestor)
                if parent is not None and ("version", ancestor) not in seen:
                    seen.add(("version", ancestor))
                    chosen.append(parent)
    if not chosen:
        raise MechscopeError(f"the store at {store.root} is empty; nothing to export")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for e in chosen:
                prefix = f"{e.kind}/{e.name}"
                z.writestr(f"{prefix}/entry.json", json.dumps(e.to_dict(), indent=1))
                for f in sorted(store.path(e).rglob("*")):
                    if f.is_file():
                        z.write(f, f"{prefix}/{f.relative_to(store.path(e))}")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return chosen


def _entry_named(store: Store, name: str) -> Entry:
    entries = store.entries()
    matches = [e for e in entries if e.name == name]
    if not matches:
        raise MechscopeError(f"no entry named {name!r} in {store.root}{closest(name, [e.name for e in entries])}; "
                             "`mechscope store list` shows them")
    return matches[0]


def _plain(value):
    """JSON-safe: NaN and inf become None."""
    import math

    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
