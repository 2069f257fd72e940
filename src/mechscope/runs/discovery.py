"""Discovery runs: the discovery methods' records, and how a discovery spec is computed and recorded.

A discovery run scores every edge on the task's train split with the method, chooses the circuit
(``edges`` or ``threshold``, by ``selection``) and measures it and its faithfulness curve on the test split;
the circuit and every edge's score are recorded in the store under the run's hash.

To add a discovery method: write its function in ``mechscope/discover/`` (``(graph, enc, **params) -> Scores``)
and add its record below (see docs/adding-a-method.md).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Literal

from pydantic import Field, field_validator, model_validator

from mechscope.errors import MechscopeError

from mechscope.runs.registry import Method, Params, ParameterError, Report, register

STORE_KIND = "circuit"
CIRCUIT_FIELDS = ("edges", "threshold", "selection", "curve")  # how the circuit is chosen, not how edges are scored


class ScoringParams(Params):
    """What every discovery method takes."""

    ablation: Literal["resample", "mean", "zero"] = Field(
        "resample", description="what a patched edge carries: resample (the corrupted prompts), mean or zero")
    batch_size: int = Field(16, ge=1, description="prompts per forward pass")


class CircuitParams(ScoringParams):
    """A method whose scores rank edges: the circuit is the top ``edges`` (or those scoring ``>= threshold``)."""

    edges: int | None = Field(None, ge=1, description="keep the top N edges by score (default: the smallest "
                              "curve point reaching faithfulness 0.8, else the best: discover.choose_size)")
    threshold: float | None = Field(None, ge=0, description="keep edges with |score| >= TAU instead")
    selection: Literal["top", "signed", "greedy"] = Field(
        "top", description="top (|score|), signed (most negative score) or greedy (grow from the logits)")
    curve: bool = Field(True, description="measure the faithfulness curve over circuit sizes")

    @model_validator(mode="after")
    def _one_size(self):
        if self.edges is not None and self.threshold is not None:
            raise ParameterError("threshold", f"cannot be given with edges (got edges={self.edges}, threshold="
                                 f"{self.threshold}); choose the circuit by one of them")
        return self


class GradientParams(CircuitParams):
    """A method scoring by gradients: its batches are split to fit a memory budget."""

    max_memory: str | None = Field(None, description="memory budget of a scoring pass, e.g. 8GiB: the tensors it "
                                   "holds above the loaded model (default: half the device's free memory); batches "
                                   "are split, and sources chunked, to fit")

    @field_validator("max_memory")
    @classmethod
    def _size(cls, value):
        if value is not None:
            from mechscope.graph.memory import parse_bytes

            try:
                parse_bytes(value)
            except MechscopeError:
                raise ValueError("is not a memory size; use e.g. 8GiB, 512MB or 2g") from None
        return value


class EapIgParams(GradientParams):
    steps: int = Field(5, ge=1, description="integration steps")
    interpolate: Literal["inputs", "edges"] = Field(
        "inputs", description="interpolate the input embedding (inputs) or every edge's mask (edges)")


class AcdcParams(ScoringParams):
    tau: float = Field(0.01, ge=0, description="ACDC's threshold: keep an edge whose removal raises the loss by >= TAU")
    metric: Literal["kl", "task"] = Field("kl", description="ACDC's loss: kl (to the clean logits) or task (metric)")


class EdgePruningParams(CircuitParams):
    steps: int = Field(40, ge=1, description="passes of gradient descent over the train batches")
    lr: float = Field(0.1, gt=0, description="Adam's learning rate on the edges' keep logits")
    sparsity: float = Field(1.0, ge=0, description="weight of the expected fraction of edges kept in the loss")
    warm_start: Literal["eap-ig", "none"] = Field("eap-ig", description="start from EAP-IG's top edges, or all at 0.5")
    warm_fraction: float = Field(0.05, gt=0, le=1, description="fraction of edges the warm start keeps")
    ig_steps: int = Field(5, ge=1, description="EAP-IG steps of the warm start")


class BootstrapParams(CircuitParams):
    steps: int = Field(5, ge=1, description="EAP-IG integration steps")
    resamples: int = Field(200, ge=1, description="bootstrap resamples of the train examples")
    agreement: float = Field(0.9, ge=0.5, le=1, description="share of resamples that must keep an edge's sign")


class MarginalGainParams(CircuitParams):
    steps: int = Field(5, ge=1, description="integration steps of the first scores and of each round's gains")
    aim: Literal["rise", "one"] = Field("rise", description="each round's edges: the largest predicted rise of the "
                                        "metric (MIB's CPR), or the gap to the full model closed (faithfulness 1, CMD)")


def _n_train(graph, train, params) -> int:
    return len(train)


def _n_edges(graph, train, params) -> int:
    return graph.n_edges


def _n_sources(graph, train, params) -> int:
    return graph.n_sources


def _discover(name: str):
    """The discovery function `mechscope.discover.METHODS` holds under `name`, imported when first called (listing
    methods must not load torch)."""

    def run(graph, enc, **params):
        from mechscope.discover import METHODS

        return METHODS[name](graph, enc, **params)

    run.__name__ = run.__qualname__ = name.replace("-", "_")
    return run


for _name, _params, _units, _summary in (
    ("eap", GradientParams, _n_train, "edge attribution patching: one gradient for every edge"),
    ("eap-ig", EapIgParams, _n_train, "EAP with integrated gradients (Hanna et al. 2024)"),
    ("exact", CircuitParams, _n_edges, "patch each edge alone: one forward pass per edge"),
    ("acdc", AcdcParams, _n_edges, "ACDC: remove edges one by one while the loss stays within tau"),
    ("node", CircuitParams, _n_sources, "activation patching of nodes: an edge scores as its source"),
):
    # sized: the circuit is chosen by a size from ranked scores (ACDC's is the edges it kept, one size only)
    register(Method("discover", _name, _discover(_name), _params, _units, _summary, {"sized": _name != "acdc"}))

# MIB's shared-task winners (mechscope/discover/winners.py)
for _name, _params, _units, _summary in (
    ("edge-pruning", EdgePruningParams, lambda graph, train, p: p.steps,
     "edge pruning (Bhaskar et al. 2024): learned keep-probabilities, warm-started from EAP-IG"),
    ("eap-ig-bootstrap", BootstrapParams, _n_train,
     "EAP-IG with edges of unstable sign over bootstrap resamples ranked after the stable ones"),
    ("marginal-gain", MarginalGainParams, lambda graph, train, p: 8,
     "grow the circuit by each edge's integrated gain at the current circuit"),
):
    register(Method("discover", _name, _discover(_name), _params, _units, _summary))


def compute(spec, report: Report | None = None):
    """Score, choose and evaluate the circuit of a discovery spec; returns ``(circuit, scores)`` (not recorded).

    `report(done, total, message)` hears the scoring's progress in the method's work units.
    """
    import torch

    from mechscope.discover import circuit_from_scores
    from mechscope.graph import Graph
    from mechscope.runs.models import cached_model
    from mechscope.tasks import load_task

    method = spec.method_record()
    p = method.validate(spec.params)
    if spec.task is None:
        raise ParameterError("task", "is missing; a discovery run needs a task (a built-in name or a task file)")
    task = load_task(spec.task, n=spec.n, seed=spec.seed)
    report = report or (lambda done, total, message: None)
    report(0, 1, f"loading {spec.model}")
    graph = Graph.from_model(cached_model(spec.model, device=spec.device, dtype=spec.dtype))
    torch.manual_seed(spec.seed)
    train = task.split("train")
    total, done = max(1, method.units(graph, train, p)), [0.0]
    message = f"{spec.method} on {task.name} (train split)"

    def advance(k: float) -> None:
        done[0] += k
        report(min(done[0], total), total, message)

    values = p.model_dump()
    scoring = {k: v for k, v in values.items() if k not in CIRCUIT_FIELDS}
    extra = {k: v for k, v in scoring.items() if k not in ("ablation", "batch_size", "max_memory")}
    enc = train.encode(graph.model.tokenizer)
    plan = None
    if "max_memory" in values:  # how the gradient batches will fit the budget (a too-small budget fails here)
        from mechscope.discover.attribution import gradient_plan

        plan = gradient_plan(graph, enc, spec.method, batch_size=values["batch_size"],
                             max_memory=values["max_memory"], interpolate=values.get("interpolate", "inputs"))
        report(0, total, plan.note)
    report(0, total, message)
    t0 = time.perf_counter()
    scores = method.run(graph, enc, progress=advance, **scoring)
    report(total, total, "evaluating the circuit on the test split")
    size = {}
    if "edges" in values:  # with neither edges nor threshold discover chooses the size from the curve
        size = {"edges": values["edges"], "threshold": values["threshold"], "selection": values["selection"],
                "curve": values["curve"]}
    common = dict(ablation=values["ablation"], batch_size=values["batch_size"], **extra)
    circuit = circuit_from_scores(graph, task, scores, spec.method, scoring_seconds=time.perf_counter() - t0,
                                  **size, **common)
    if plan is not None:
        circuit = replace(circuit, params={**circuit.params, "batch_plan": plan.note})
    return circuit, scores


def record(store, spec, digest: str, outcome, name: str | None = None) -> dict:
    """Record a computed discovery in `store` with the run's provenance; returns the result row."""
    from mechscope.store import record_circuit

    circuit, scores = outcome
    name = name or default_name(spec, digest)
    entry = record_circuit(store, circuit, scores, name=name,
                           provenance={"run": spec.normalized().to_dict(), "run_hash": digest})
    return {"kind": "circuit", "name": entry.name, "faithfulness": circuit.evaluation.faithfulness,
            "edges_kept": len(circuit.edges), "edges_total": circuit.edges_total,
            "cpr": circuit.evaluation.areas.get("cpr"), "cmd": circuit.evaluation.areas.get("cmd"), "seconds": circuit.evaluation.seconds["total"]}


def default_name(spec, digest: str) -> str:
    """The store name of a run: ``<method>-<task>-<hash>``, e.g. ``eap-ig-ioi-0123456789ab``."""
    import re
    from pathlib import Path

    task = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(str(spec.task)).stem)[:40].strip("-.") or "task"
    return f"{spec.method}-{task}-{digest[:12]}"
