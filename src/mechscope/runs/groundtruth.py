"""Ground-truth zoo runs: building one zoo model (trained and verified), and scoring one discovery method against
its true circuit, as runs, so the zoo builds and the benchmark scores on any executor.

A spec's ``model`` is the zoo model's name. ``build`` trains it (planted models, seeded) or makes it (hand-built
ones) and saves it in the zoo's cache (``$MECHSCOPE_CACHE/groundtruth``) of the machine it ran on, which for a
local pool or a local Ray is this one; the outcome is the model's one-line summary. ``recovery`` scores the
discovery method ``discover_method`` against the built model's true circuit (edge and node ROC AUC, precision at
k, seconds: `mechscope.hypothesis.groundtruth.score.score_method`); ``mechscope bench groundtruth`` is one such
run per (model, method) cell. Nothing is kept in the experiment store.

>>> from mechscope.runs import get_method
>>> get_method("groundtruth", "build").validate({}).force
False
>>> get_method("groundtruth", "recovery").validate({"discover_method": "eapp"})
Traceback (most recent call last):
...
mechscope.runs.registry.ParameterError: parameter 'discover_method' of groundtruth method recovery is 'eapp', which is unknown; did you mean 'eap', 'eap-ig'?; use one of eap, eap-ig, exact, acdc, node, edge-pruning, eap-ig-bootstrap, marginal-gain
"""

from __future__ import annotations

import time

from typing import Literal

from pydantic import Field, field_validator

from mechscope.runs.registry import Method, ParameterError, Params, Report, register, run_spec

STORE_KIND = None  # the zoo lives in its cache, not in the experiment store


class BuildParams(Params):
    force: bool = Field(False, description="rebuild even if the cache holds the model")


def _steps(name, task, params) -> int:
    from mechscope.hypothesis.groundtruth.zoo import PLANTED_BY_NAME

    spec = PLANTED_BY_NAME.get(name)
    return spec.steps if spec else 1


class RecoveryParams(Params):
    discover_method: str = Field(..., description="the discovery method to score (a discover method's name)")
    ablation: Literal["resample", "mean", "zero"] = Field(
        "resample", description="the ablation whose true circuit is scored against (where the truth is known)")
    batch_size: int = Field(64, ge=1, description="prompts per forward pass")

    @field_validator("discover_method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        from mechscope.runs.registry import get_method

        try:
            get_method("discover", value)
        except ParameterError as exc:
            raise ParameterError("discover_method", exc.problem) from None
        return value


def _build(spec, p, report) -> dict:
    from mechscope.hypothesis.groundtruth.zoo import build

    total = _steps(spec.model, None, p)
    t0 = time.perf_counter()
    truth = build(spec.model, force=p.force, progress=lambda step, parts: report(step, total, f"training {spec.model}"))
    report(total, total, f"built {spec.model}")
    ver = truth.info.get("verification", {}).get("resample", {})
    return {"kind": "groundtruth", "name": truth.name, "task": truth.task.name,
            "true_edges": len(truth.true_edges.get("resample", [])), "holds": bool(ver.get("holds")),
            "faithfulness": ver.get("faithfulness"), "seconds": round(time.perf_counter() - t0, 1)}


def _recovery(spec, p, report) -> dict:
    """`score_method`'s row for the built zoo model `spec.model`, on one torch thread (zoo models are tiny: a
    second thread only adds contention; ACDC's sweep ran several times faster on one)."""
    import torch

    from mechscope.hypothesis.groundtruth.score import score_method
    from mechscope.hypothesis.groundtruth.zoo import load_zoo_model

    report(0, 1, f"loading {spec.model}")
    truth = load_zoo_model(spec.model)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        report(0, 1, f"{p.discover_method} on {spec.model}")
        row = score_method(truth, p.discover_method, ablation=p.ablation, batch_size=p.batch_size)
    finally:
        torch.set_num_threads(threads)
    report(1, 1, f"{p.discover_method} on {spec.model}")
    return row


register(Method("groundtruth", "build", _build, BuildParams, _steps, "train (or make), verify and cache a zoo model"))
register(Method("groundtruth", "recovery", _recovery, RecoveryParams, lambda name, task, params: 1,
                "score a discovery method against a zoo model's true circuit: edge and node ROC AUC, precision at k",
                {"command": "bench groundtruth"}))


def compute(spec, report: Report | None = None) -> dict:
    """Build the zoo model `spec.model` (its summary row: name, kind, task, true edges, holds, seconds), or score a
    discovery method against it (``model, method, ablation, roc_auc, node_roc_auc, precision_at_k, seconds,
    n_edges, n_true``)."""
    return run_spec(spec, report)


def record(store, spec, digest: str, outcome, name: str | None = None) -> dict:
    """Nothing to record in the store: a built model is in the zoo's cache already; a score is the row."""
    return outcome
