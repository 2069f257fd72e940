"""Steering runs: a record for every steering method, and how a steering spec is fitted, swept and recorded.

The records are made from `mechscope.steer.METHODS`: each method's constructor arguments (sklearn-style:
``sites``, ``layers``, ``pooling`` and its own) become its parameter model, beside what every steering run
takes (how many sentences to fit on, the strengths to sweep, the evaluation's sizes). A new steering class
in `METHODS` is registered here without touching this file.

A steering run's ``task`` is a shipped concept (``wedding``, ``ocean``, ...). It fits on the concept's source
and target sentences; with ``strengths`` it sweeps them (effect and damage per strength) and writes the
summary and the chosen strength into the file's manifest. The file is recorded in the store.

>>> from mechscope.runs import get_method
>>> get_method("steer", "diffmean").validate({"layers": "1", "strengths": [0, 2]}).strengths
[0.0, 2.0]
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from pydantic import Field, create_model

from mechscope.runs.registry import Method, Params, ParameterError, Report, register

STORE_KIND = "steering"


class SteerRunParams(Params):
    """What every steering run takes, beside its method's own parameters."""

    n_sentences: int | None = Field(None, ge=1, description="fit on the concept's first N source and target "
                                    "sentences (default: all)")
    strengths: list[float] | None = Field(None, description="strengths to sweep after fitting (effect and damage "
                                          "per strength; none: no sweep)")
    n_prompts: int = Field(4, ge=1, description="prompts generated from per strength in the sweep")
    n_neutral: int = Field(8, ge=1, description="neutral texts for the sweep's perplexity and KL")
    max_new_tokens: int = Field(12, ge=1, description="tokens generated per prompt in the sweep")


def _params_model(cls) -> type[Params]:
    """`SteerRunParams` plus the constructor arguments of steering class `cls`, with their defaults."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:
        hints = {}
    fields: dict[str, Any] = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = None if p.default is inspect.Parameter.empty else p.default
        fields[name] = (hints.get(name, Any), Field(default, description=f"{cls.__name__}'s {name}"))
    return create_model(f"{cls.__name__}RunParams", __base__=SteerRunParams, **fields)


def _sentences(model, concept, params) -> int:
    return 2 + (len(params.strengths) + 1 if params.strengths else 0)


def _fit(cls_name: str):
    def run(model, source, target, **params):
        import mechscope.steer

        return mechscope.steer.METHODS[cls_name](**params).fit(model, source, target)

    return run


def _register_builtins() -> None:
    from mechscope.steer import METHODS

    for name, cls in METHODS.items():
        summary = (cls.__doc__ or name).strip().splitlines()[0]
        register(Method("steer", name, _fit(name), _params_model(cls), _sentences, summary))


_register_builtins()
RUN_FIELDS = tuple(SteerRunParams.model_fields)


def compute(spec, report: Report | None = None):
    """Fit (and with strengths, sweep) the steering of a spec; returns ``(SteeringFile, evaluation or None)``."""
    from mechscope.runs.models import cached_model
    from mechscope.steer import SteeringFile, evaluate_steering, load_concept

    method = spec.method_record()
    p = method.validate(spec.params)
    if spec.task is None:
        raise ParameterError("task", "is missing; a steering run needs a concept (e.g. wedding)")
    concept = load_concept(spec.task)
    report = report or (lambda done, total, message: None)
    total = method.units(None, concept, p)
    report(0, total, f"loading {spec.model}")
    model = cached_model(spec.model, device=spec.device, dtype=spec.dtype)
    values = p.model_dump()
    own = {k: v for k, v in values.items() if k not in RUN_FIELDS and v is not None}
    report(1, total, f"fitting {spec.method} on {concept.name}")
    n = p.n_sentences
    fitted = method.run(model, concept.source[:n], concept.target[:n], **own)
    sf = SteeringFile.from_method(fitted, concept=concept.name, lexicon=concept.lexicon,
                                  instruction=concept.instruction, scorer=concept.scorer)
    evaluation = None
    if p.strengths:
        done = [2]

        def step(message: str) -> None:
            report(done[0], total, message)
            done[0] += 1

        evaluation = evaluate_steering(model, sf, concept.prompts[:p.n_prompts], concept.neutral[:p.n_neutral],
                                       strengths=p.strengths, lexicon=concept.lexicon,
                                       max_new_tokens=p.max_new_tokens, seed=spec.seed, on_step=step)
        write_summary(sf, evaluation)
    report(total, total, "recording the steering file")
    return sf, evaluation


def write_summary(sf, evaluation: dict) -> None:
    """Put a sweep's summary (every row without its generations) and its chosen strength into the file's manifest:
    the one form of the summary, whoever ran the sweep."""
    sf.manifest["evaluation"] = {k: v for k, v in evaluation.items() if k not in ("unsteered", "chosen")}
    sf.manifest["evaluation"]["sweep"] = [{k: v for k, v in r.items() if k != "examples"}
                                          for r in evaluation["sweep"]]
    if evaluation["chosen_strength"] is not None:
        sf.manifest["default_strength"] = evaluation["chosen_strength"]


def record(store, spec, digest: str, outcome, name: str | None = None) -> dict:
    """Record a fitted steering file in `store` with the run's provenance; returns the result row."""
    import tempfile
    from pathlib import Path

    from mechscope.store import record_steering

    sf, evaluation = outcome
    name = name or default_name(spec, digest)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.safetensors"
        sf.save(path)
        entry = record_steering(store, path, name=name, evaluation=evaluation,
                                provenance={"run": spec.normalized().to_dict(), "run_hash": digest})
    return {"kind": "steering", "name": entry.name, "default_strength": sf.default_strength,
            "chosen_strength": (evaluation or {}).get("chosen_strength")}


def default_name(spec, digest: str) -> str:
    """``<concept>-<method>-<hash>``, e.g. ``wedding-diffmean-0123456789ab``."""
    return f"{spec.task}-{spec.method}-{digest[:12]}"
