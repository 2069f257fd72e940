"""The one function that executes a run and records it: `execute(spec)`.

Executing is two steps, so that an executor can compute somewhere else and record here:
`compute(spec, report)` does the work and returns a plain, picklable outcome; `record(store, spec, outcome)`
writes it to the store with the run's provenance (the normalized spec and its hash, in the entry's params).
A recorded run is found again by its hash (`find_run`), which is how a sweep resumes.

>>> import tempfile
>>> from mechscope.store import Store
>>> store = Store(tempfile.mkdtemp())
>>> spec = RunSpec("discover", "eap", "random:gpt2-tiny", "ioi", n=8, params={"edges": 10, "curve": False})
>>> result = execute(spec, store=store)
>>> result.row["edges_kept"] <= 10, find_run(store, spec).name == result.row["name"]
(True, True)
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from typing import Any

from mechscope.errors import MechscopeError
from mechscope.runs.registry import Report
from mechscope.runs.spec import RunSpec

# each kind's module: compute(spec, report) -> outcome, record(store, spec, hash, outcome, name) -> row, STORE_KIND
KIND_MODULES = {"discover": "mechscope.runs.discovery", "steer": "mechscope.runs.steering",
                "evaluate": "mechscope.runs.circuits", "hypothesis": "mechscope.runs.circuits",
                "version": "mechscope.runs.versions",
                "compare": "mechscope.runs.comparison", "groundtruth": "mechscope.runs.groundtruth",
                "describe": "mechscope.runs.describing", "map": "mechscope.runs.prompts",
                "augment": "mechscope.runs.prompts"}

KIND_MODULES.update(dict.fromkeys(("generate", "steer-eval", "steer-pair"), "mechscope.runs.steered"))


def kind_module(kind: str):
    if kind not in KIND_MODULES:
        raise MechscopeError(f"runs of kind {kind!r} cannot be executed yet; kinds are {', '.join(KIND_MODULES)}")
    return importlib.import_module(KIND_MODULES[kind])


@dataclass
class RunResult:
    """What a run gave: its spec and hash, the result row (store name and headline metrics), and whether it was
    skipped because the store already held it. `value` is the computed object itself (a `Circuit`), when
    computed in this process."""

    spec: RunSpec
    hash: str
    row: dict
    skipped: bool = False
    seconds: float = 0.0
    value: Any = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {"spec": self.spec.to_dict(), "hash": self.hash, **self.row, "skipped": self.skipped,
                "wall_seconds": round(self.seconds, 2)}


def compute(spec: RunSpec, report: Report | None = None):
    """Do the work of `spec` (nothing is recorded); the outcome is what `record` takes."""
    return kind_module(spec.kind).compute(spec, report)


def record(store, spec: RunSpec, outcome, name: str | None = None) -> dict:
    """Record a computed outcome of `spec` in `store` with its provenance; returns the result row."""
    return kind_module(spec.kind).record(store, spec, spec.hash(), outcome, name)


def find_run(store, spec: RunSpec):
    """The store entry a run with `spec`'s hash recorded, or None."""
    kind = kind_module(spec.kind).STORE_KIND
    if kind is None:  # a kind whose results are not kept in the store
        return None
    digest = spec.hash()
    for entry in store.entries(kind):
        if entry.params.get("run_hash") == digest:
            return entry
    return None


def row_of(entry) -> dict:
    """The result row of a recorded run, read back from its store entry."""
    m = entry.metrics
    if entry.kind == "steering":
        return {"kind": entry.kind, "name": entry.name, "id": entry.id, "default_strength": m.get("default_strength"),
                "chosen_strength": m.get("chosen_strength")}
    return {"kind": entry.kind, "name": entry.name, "faithfulness": m.get("faithfulness"), "edges_kept": m.get("edges"),
            "edges_total": m.get("edges_total"), "cpr": m.get("cpr"), "cmd": m.get("cmd"),
            "seconds": m.get("seconds")}


def execute(spec: RunSpec, *, store=None, report: Report | None = None, name: str | None = None,
            skip_recorded: bool = False) -> RunResult:
    """Run `spec` here and record it in `store` (default: the store at ``$MECHSCOPE_HOME``).

    With `skip_recorded`, a run whose hash the store already holds is not run again; its recorded row is returned.
    Parameter errors name the parameter (`ParameterError.param`), never a surface's spelling of it.
    """
    from mechscope.store import Store
    from mechscope.store.db import check_name

    store = store or Store()
    spec.normalized()  # refuse bad parameters before any work
    if name is not None:
        check_name(name)
    digest = spec.hash()
    if skip_recorded:
        entry = find_run(store, spec)
        if entry is not None:
            return RunResult(spec, digest, row_of(entry), skipped=True)
    t0 = time.perf_counter()
    outcome = compute(spec, report)
    row = record(store, spec, outcome, name)
    return RunResult(spec, digest, row, seconds=time.perf_counter() - t0, value=outcome)
