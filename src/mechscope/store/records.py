"""Circuits, steering files and comparisons in the store, and exporting entries.

`record_circuit` and `record_steering` are what `mechscope discover` and
`mechscope steer fit` call, so every circuit and steering file a user makes is
in the store with its provenance (and the web app can show it).

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
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from mechscope.atomic import atomic_write
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


def record_circuit(store: Store, circuit: Circuit, scores: dict | None = None, name: str | None = None,
                   replace: bool = True, provenance: dict | None = None) -> Entry:
    """Record a circuit (``circuit.json``) and, when given, every edge's score (``scores.safetensors``,
    one ``[n_receivers, n_sources]`` tensor per receiver group) so a viewer can choose any circuit size.
    `provenance` (the run layer's spec and hash) is added to the entry's params.

    >>> import tempfile
    >>> import mechscope as ms
    >>> from mechscope.discover import find_circuit, score_edges
    >>> m = ms.load("random:gpt2-tiny"); g = ms.Graph.from_model(m); t = ms.load_task("ioi", n=8)
    >>> c = find_circuit(g, t, "eap", edges=10, curve=False)
    >>> e = record_circuit(Store(tempfile.mkdtemp()), c, name="ioi-eap")
    >>> e.kind, e.metrics["edges"] == len(c.edges)
    ('circuit', True)
    """
    from mechscope.atomic import write_safetensors

    name = name or f"circuit-{circuit.task}-{circuit.method}-" + datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    files: dict = {"circuit.json": json.dumps(_plain(circuit.to_dict()), indent=1).encode()}
    if scores is not None:
        meta = {"format": "mechscope.scores/1", "model_fingerprint": circuit.model_fingerprint,
                "axes": json.dumps({k: "receiver source" for k in scores})}
        tensors = {k: v.detach().float().cpu().contiguous() for k, v in scores.items()}
        files["scores.safetensors"] = lambda path: write_safetensors(path, tensors, meta)
    return store.add("circuit", name, files, base=circuit.model_spec, operation=circuit.method,
                     params={**circuit.params, "ablation": circuit.ablation, "task_source": circuit.task_source,
                             **(provenance or {})},
                     model_fingerprint=circuit.model_fingerprint, task_hash=circuit.task_hash,
                     metrics={"faithfulness": circuit.evaluation.faithfulness, "edges": len(circuit.edges),
                              "edges_total": circuit.edges_total, "task": circuit.task,
                              "cpr": circuit.evaluation.areas.get("cpr"), "cmd": circuit.evaluation.areas.get("cmd"),
                              "seconds": circuit.evaluation.seconds.get("total")},
                     replace=replace)


def record_steering(store: Store, path: str | Path, name: str | None = None, replace: bool = True,
                    evaluation: dict | None = None, provenance: dict | None = None) -> Entry:
    """Record a steering file written by `SteeringFile.save` (copied as ``steering.safetensors``, with its
    manifest as ``manifest.json``); its evaluation summary, when present, becomes the entry's metrics, and a
    full evaluation (the dict of `evaluate_steering`, generations included) is kept as ``evaluation.json``."""
    from mechscope.steer.file import SteeringFile

    path = Path(path)
    manifest = SteeringFile.load(path).manifest
    name = name or path.stem
    summary = manifest.get("evaluation") or {}
    metrics = {"concept": manifest.get("concept"), "default_strength": manifest.get("default_strength"),
               "sites": len(manifest.get("sites", [])),
               **{k: summary.get(k) for k in ("chosen_strength", "base_ppl") if k in summary}}
    files = {"steering.safetensors": path.read_bytes(), "manifest.json": json.dumps(_plain(manifest), indent=1).encode()}
    evaluation = evaluation if evaluation is not None else manifest.get("evaluation")
    if evaluation is not None:
        files["evaluation.json"] = json.dumps(_plain(evaluation), indent=1).encode()
    return store.add("steering", name, files,
                     base=manifest["model"]["spec"], operation=manifest["method"],
                     params={**manifest.get("params", {}), **(provenance or {})},
                     model_fingerprint=manifest["model"]["fingerprint"], task_hash=manifest.get("data", {}).get("hash"),
                     metrics=metrics, replace=replace)


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
                  metrics={"faithfulness": circuit.evaluation.faithfulness, "edges": len(circuit.edges), "task": task.name},
                  replace=True)
        return circuit

    return cached


def save_comparison(store: Store, result: dict, name: str | None = None, provenance: dict | None = None) -> Entry:
    """Record a comparison (the dict from `mechscope.compare.compare`); returns its entry. `provenance` (the run
    layer's spec and hash) is added to the entry's params."""
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
                             **result["settings"], **(provenance or {})},
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

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for e in chosen:
                prefix = f"{e.kind}/{e.name}"
                z.writestr(f"{prefix}/entry.json", json.dumps(e.to_dict(), indent=1))
                for f in sorted(store.path(e).rglob("*")):
                    if f.is_file():
                        z.write(f, f"{prefix}/{f.relative_to(store.path(e))}")

    atomic_write(out, write)
    return chosen


def export_mib(store: Store, name: str, folder: str | Path, *, circuits: bool = False, selection: str = "signed",
               task: str | None = None, model: str | None = None) -> list[Path]:
    """Write a recorded circuit's edge scores as MIB's circuit-track submission ``folder/{task}_{model}/``.

    Without `circuits`, one importance file (``importances.json``); with it, MIB's nine binary circuits
    (0.1 % ... 50 % of the edges, top edges by `selection`). `task` and `model` name the MIB cell
    (default: the circuit's task and a file-safe form of its model spec). Returns the files written.

    >>> import tempfile
    >>> import mechscope as ms
    >>> from mechscope.discover import find_circuit, score_edges
    >>> m = ms.load("random:gpt2-tiny"); g = ms.Graph.from_model(m); t = ms.load_task("ioi", n=8)
    >>> s = Store(tempfile.mkdtemp())
    >>> _ = record_circuit(s, find_circuit(g, t, "eap", edges=10, curve=False), score_edges(g, t, "eap"), name="c")
    >>> [p.name for p in export_mib(s, "c", tempfile.mkdtemp(), model="gpt2")]
    ['importances.json']
    """
    from safetensors.torch import load_file

    from mechscope.discover.mib import export_submission
    from mechscope.store.versions import load_model

    entry = store.get("circuit", name)
    entry_folder = store.path(entry)
    scores_path = entry_folder / "scores.safetensors"
    if not scores_path.exists():
        raise MechscopeError(f"circuit {name!r} was recorded without its edge scores, which MIB's files need; "
                             "find it again with `mechscope discover` (it records them)")
    circuit = Circuit.load(entry_folder / "circuit.json")
    graph = Graph.from_model(load_model(store, circuit.model_spec.removeprefix("version:")))
    model = model or "".join(c if c.isalnum() or c in "-." else "-" for c in circuit.model_spec)
    return export_submission(graph, load_file(str(scores_path)), folder, task=task or circuit.task, model=model,
                             circuits=circuits, selection=selection)


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
