"""Ground-truth zoo runs: building one zoo model (trained and verified) as a run, so the zoo builds on any executor.

A spec's ``model`` is the zoo model's name; ``build`` trains it (planted models, seeded) or makes it (hand-built
ones) and saves it in the zoo's cache (``$MECHSCOPE_CACHE/groundtruth``) of the machine it ran on, which for a
local pool or a local Ray is this one. The outcome is the model's one-line summary.

>>> from mechscope.runs import get_method
>>> get_method("groundtruth", "build").validate({}).force
False
"""

from __future__ import annotations

import time

from pydantic import Field

from mechscope.runs.registry import Method, Params, Report, register

STORE_KIND = None  # the zoo lives in its cache, not in the experiment store


class BuildParams(Params):
    force: bool = Field(False, description="rebuild even if the cache holds the model")


def _steps(name, task, params) -> int:
    from mechscope.hypothesis.groundtruth.zoo import PLANTED_BY_NAME

    spec = PLANTED_BY_NAME.get(name)
    return spec.steps if spec else 1


def _build(name: str, *, force: bool = False, progress=None):
    from mechscope.hypothesis.groundtruth.zoo import build

    return build(name, force=force, progress=progress)


register(Method("groundtruth", "build", _build, BuildParams, _steps, "train (or make), verify and cache a zoo model"))


def compute(spec, report: Report | None = None) -> dict:
    """Build the zoo model `spec.model`; returns its summary row (name, kind, task, true edges, holds, seconds)."""
    method = spec.method_record()
    p = method.validate(spec.params)
    report = report or (lambda done, total, message: None)
    total = method.units(spec.model, None, p)
    t0 = time.perf_counter()
    truth = method.run(spec.model, force=p.force,
                       progress=lambda step, parts: report(step, total, f"training {spec.model}"))
    report(total, total, f"built {spec.model}")
    ver = truth.info.get("verification", {}).get("resample", {})
    return {"kind": "groundtruth", "name": truth.name, "task": truth.task.name,
            "true_edges": len(truth.true_edges.get("resample", [])), "holds": bool(ver.get("holds")),
            "faithfulness": ver.get("faithfulness"), "seconds": round(time.perf_counter() - t0, 1)}


def record(store, spec, digest: str, outcome, name: str | None = None) -> dict:
    """Nothing to record in the store: the model is in the zoo's cache already."""
    return outcome
