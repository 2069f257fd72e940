"""Sweeps: a grid of runs (models x tasks x methods x parameters x seeds), resumable, as a results table.

A parameter applies to the methods whose records take it (``steps`` varies eap-ig, not eap); one that no
method takes is refused. A cell whose spec hash the store already holds is skipped, so an interrupted
sweep resumes where it stopped. Each finished cell is recorded at once, by this process.

>>> cells = grid(["random:gpt2-tiny"], ["ioi"], ["eap", "eap-ig"], {"steps": [2, 4]}, seeds=[0], n=8)
>>> [(c.method, c.params) for c in cells]
[('eap', {}), ('eap-ig', {'steps': 2}), ('eap-ig', {'steps': 4})]
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Callable
from pathlib import Path

from mechscope.errors import MechscopeError
from mechscope.runs.registry import ParameterError, get_method
from mechscope.runs.spec import RunSpec

ROW_COLUMNS = ("model", "task", "method", "seed", "params", "faithfulness", "edges_kept", "edges_total", "cpr", "cmd",
               "seconds", "name", "hash", "status", "error")
SPEC_KEYS = ("kind", "models", "tasks", "methods", "params", "seeds", "n")


def grid(models: list[str], tasks: list[str], methods: list[str], params: dict[str, list] | None = None,
         seeds: list[int] = (0,), n: int | None = None, kind: str = "discover", device: str | None = None,
         dtype: str | None = None) -> list[RunSpec]:
    """Every cell of the grid, in order (models outermost, seeds innermost), each once."""
    params = params or {}
    records = [get_method(kind, m) for m in dict.fromkeys(methods)]
    for key in params:
        if not any(key in r.params.model_fields for r in records):
            raise ParameterError(key, f"is taken by none of the methods {', '.join(r.name for r in records)}",
                                 "this sweep")
    for what, values in (("models", models), ("tasks", tasks), ("methods", methods), ("seeds", seeds)):
        if not values:
            raise ParameterError(what, "is empty; a sweep needs at least one of each", "this sweep")
    cells, seen = [], set()
    for model, task, record in itertools.product(models, tasks, records):
        own = {k: v for k, v in params.items() if k in record.params.model_fields}
        for values in itertools.product(*own.values()):
            for seed in seeds:
                spec = RunSpec(kind, record.name, model, task, n, dict(zip(own, values)), seed, device, dtype)
                digest = spec.hash()
                if digest not in seen:
                    seen.add(digest)
                    cells.append(spec)
    return cells


def read_sweep_file(path: str | Path) -> dict:
    """A sweep spec file (YAML or JSON) as `grid`'s arguments: ``{"models", "tasks", "methods", "params", "seeds",
    "n", "kind"}``; each list may be written as one value. A file that is not such a mapping raises one
    `MechscopeError` line naming the file, the problem and the fix.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.yaml"
    >>> _ = p.write_text("models: random:gpt2-tiny\\ntasks: [ioi]\\nmethods: eap\\n")
    >>> read_sweep_file(p)["methods"]
    ['eap']
    """
    path = Path(path)
    where = f"sweep spec file {str(path)!r}"
    if not path.is_file():
        raise MechscopeError(f"{where} not found; check the path")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MechscopeError(f"{where} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at {exc.start}); "
                             "save it as UTF-8 YAML or JSON") from None
    if "\x00" in text:
        raise MechscopeError(f"{where} holds a NUL character; give a YAML or JSON text file")
    try:
        if path.suffix.lower() == ".json":
            doc = json.loads(text)
        else:
            import yaml

            doc = yaml.safe_load(text)
    except RecursionError:
        raise MechscopeError(f"{where} is nested too deeply; write it as a flat mapping of lists") from None
    except Exception as exc:  # noqa: BLE001 - json, yaml and their many error types
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise MechscopeError(f"{where} does not parse ({first}); fix its YAML or JSON syntax") from None
    keys = ", ".join(SPEC_KEYS)
    if not isinstance(doc, dict):
        raise MechscopeError(f"{where} holds a {type(doc).__name__}, not a mapping; give a mapping with keys {keys}")
    unknown = sorted(repr(k) for k in doc if k not in SPEC_KEYS)
    if unknown:
        raise MechscopeError(f"{where} has an unknown key {unknown[0]}; keys are {keys}")

    def listed(key, value, kind):
        values = value if isinstance(value, list) else [value]
        for v in values:
            ok = isinstance(v, int) and not isinstance(v, bool) if kind is int else isinstance(v, str) and v.strip()
            if not ok:
                what = "whole number" if kind is int else "name"
                raise MechscopeError(f"{where}: {key} holds {_shown(v)}, not a {what}; write {key} as a list of "
                                     f"{what}s")
        return values

    out = {k: listed(k, doc[k], int if k == "seeds" else str) for k in ("models", "tasks", "methods", "seeds")
           if k in doc}
    params = doc.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise MechscopeError(f"{where}: params must map each parameter name to a value or a list; "
                             "e.g. params: {edges: [100, 200]}")
    for k, v in params.items():
        for value in v if isinstance(v, list) else [v]:
            if not isinstance(value, (str, int, float, bool)) or value is None:
                raise MechscopeError(f"{where}: params {k!r} holds {_shown(value)}; give numbers, words or "
                                     "true/false, one or a list")
    out["params"] = {k: v if isinstance(v, list) else [v] for k, v in params.items()}
    if doc.get("n") is not None:
        if isinstance(doc["n"], bool) or not isinstance(doc["n"], int) or doc["n"] < 1:
            raise MechscopeError(f"{where}: n is {_shown(doc['n'])}; give a whole number of examples, 1 or more")
        out["n"] = doc["n"]
    if doc.get("kind") is not None:
        if not isinstance(doc["kind"], str):
            raise MechscopeError(f"{where}: kind is {_shown(doc['kind'])}; give a run kind such as discover")
        out["kind"] = doc["kind"]
    return out


def _shown(value) -> str:
    """A value as an error line shows it: its repr, cut to 40 characters, on one line."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 40 else text[:37] + "..."


def row(spec: RunSpec, digest: str, result: dict | None, status: str, error: str | None = None) -> dict:
    """One line of the results table."""
    result = result or {}
    return {"model": spec.model, "task": spec.task, "method": spec.method, "seed": spec.seed,
            "params": json.dumps(spec.params, sort_keys=True), "faithfulness": result.get("faithfulness"),
            "edges_kept": result.get("edges_kept"), "edges_total": result.get("edges_total"),
            "cpr": result.get("cpr"), "cmd": result.get("cmd"), "seconds": result.get("seconds"),
            "name": result.get("name"), "hash": digest, "status": status, "error": error}


def run_sweep(specs: list[RunSpec], executor, store, *, resume: bool = True,
              on_cell: Callable[[int, float, float, str], None] | None = None,
              on_row: Callable[[int, dict], None] | None = None) -> list[dict]:
    """Compute every cell not yet in `store` with `executor`, recording each as it finishes; returns the table.

    `on_cell(index, done, total, message)` hears each cell's progress; `on_row(index, row)` each finished cell
    (done, skipped or failed). Ctrl-C stops the executor; every cell finished by then is recorded.
    """
    from mechscope.runs.execute import find_run, record, row_of

    on_cell = on_cell or (lambda i, d, t, m: None)
    on_row = on_row or (lambda i, r: None)
    for spec in specs:
        spec.normalized()  # every cell's parameters are checked before any work
    digests = [s.hash() for s in specs]
    rows: list[dict | None] = [None] * len(specs)
    todo = []
    for i, spec in enumerate(specs):
        entry = find_run(store, spec) if resume else None
        if entry is not None:
            rows[i] = row(spec, digests[i], row_of(entry), "skipped")
            on_row(i, rows[i])
        else:
            todo.append(i)
    if todo:
        try:
            for j, outcome, error in executor.compute([specs[i] for i in todo],
                                                      lambda j, d, t, m: on_cell(todo[j], d, t, m)):
                i = todo[j]
                if error is not None:
                    rows[i] = row(specs[i], digests[i], None, "failed", error)
                else:
                    rows[i] = row(specs[i], digests[i], record(store, specs[i], outcome), "done")
                on_row(i, rows[i])
        finally:
            executor.close()
    return [r for r in rows if r is not None]


def write_table(rows: list[dict], path: str | Path) -> Path:
    """The results table as Parquet at `path`, written atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mechscope.atomic import write_bytes

    columns = {c: [r.get(c) for r in rows] for c in ROW_COLUMNS}
    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf)
    write_bytes(path, buf.getvalue())
    return Path(path)


def sweeps_dir(store) -> Path:
    """Where a store keeps its sweeps' results tables: ``<store>/sweeps/<name>.parquet``."""
    return Path(store.root) / "sweeps"


def list_tables(store) -> list[dict]:
    """The store's sweep tables, newest first: ``[{"name", "cells", "done", "skipped", "failed", "modified"}]``."""
    import pyarrow.parquet as pq

    out = []
    for path in sorted(sweeps_dir(store).glob("*.parquet"), key=lambda p: -p.stat().st_mtime):
        status = pq.read_table(path, columns=["status"]).column("status").to_pylist()
        out.append({"name": path.stem, "cells": len(status), **{s: status.count(s) for s in ("done", "skipped",
                                                                                           "failed")},
                    "modified": path.stat().st_mtime})
    return out


def read_table(store, name: str) -> list[dict]:
    """The rows of the store's sweep table `name`, or a one-line error naming the tables there are."""
    import pyarrow.parquet as pq

    from mechscope.errors import closest
    from mechscope.store.db import check_name

    check_name(name)
    path = sweeps_dir(store) / f"{name}.parquet"
    if not path.is_file():
        names = [t["name"] for t in list_tables(store)]
        raise MechscopeError(f"no sweep named {name!r}{closest(name, names)}; the store has "
                             f"{', '.join(names) or 'no sweeps yet (`mechscope sweep`)'}")
    return pq.read_table(path).to_pylist()
