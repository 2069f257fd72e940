"""Steering runs: a record for every steering method, and how a steering spec is fitted, swept and recorded.

The records are made from `mechscope.steer.METHODS`: each method's constructor arguments (sklearn-style:
``sites``, ``layers``, ``pooling`` and its own) become its parameter model, beside what every steering run
takes (how many sentences to fit on, the strengths to sweep, the evaluation's sizes). A new steering class
in `METHODS` is registered here without touching this file.

A steering run's ``task`` is a shipped concept (``wedding``, ``ocean``, ...). It fits on the concept's source
and target sentences (or on the ``source`` and ``target`` sentence files, which then need no concept); with
``strengths`` it sweeps them (effect and damage per strength, beside the prompting baseline and prompting plus
steering at the chosen strength when the concept has an instruction) and writes the summary and the chosen
strength into the file's manifest. The file is recorded in the store. A trained method (one with ``steps``) reports
each step's loss.

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

    source: str | None = Field(None, description="source sentences: a txt (one a line), JSONL or CSV file, or a "
                               "shipped file name (default: the concept's)")
    target: str | None = Field(None, description="target sentences, as for source (default: the concept's)")

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
    """Work units of a steering run: loading, fitting (one per training step of a trained method), each
    strength of the sweep and its unsteered row, and the prompting and prompting-plus-steering baselines."""
    trained = getattr(params, "steps", None) or 0
    baselines = 2 if concept is not None and concept.instruction else 0
    return 2 + trained + (len(params.strengths) + 1 + baselines if params.strengths else 0)


def _fit(cls_name: str):
    def run(model, source, target, on_step=None, **params):
        import mechscope.steer

        method = mechscope.steer.METHODS[cls_name](**params)
        if on_step is not None and "on_step" in inspect.signature(method.fit).parameters:
            return method.fit(model, source, target, on_step=on_step)
        return method.fit(model, source, target)

    return run


def _register_builtins() -> None:
    from mechscope.steer import METHODS

    for name, cls in METHODS.items():
        summary = (cls.__doc__ or name).strip().splitlines()[0]
        register(Method("steer", name, _fit(name), _params_model(cls), _sentences, summary,
                        {"file_params": ("source", "target")}))


_register_builtins()
RUN_FIELDS = tuple(SteerRunParams.model_fields)
FILE_PARAMS = ("source", "target")  # parameters naming files (their bytes are part of the run's hash)


def compute(spec, report: Report | None = None):
    """Fit (and with strengths, sweep) the steering of a spec; returns ``(SteeringFile, evaluation or None)``."""
    import time

    from mechscope.runs.models import cached_model
    from mechscope.steer import SteeringFile, evaluate_steering, load_concept
    from mechscope.steer.concepts import read_sentences
    from mechscope.steer.evaluate import evaluate_prompting

    method = spec.method_record()
    p = method.validate(spec.params)
    concept = load_concept(spec.task) if spec.task is not None else None
    sentences = {}
    for side in FILE_PARAMS:
        if getattr(p, side) is not None:
            sentences[side] = read_sentences(getattr(p, side))
        elif concept is not None:
            sentences[side] = getattr(concept, side)
        else:
            raise ParameterError(side, f"is missing; give a {side} sentence file (txt, JSONL or CSV) or a concept")
    if p.strengths and concept is None:
        raise ParameterError("strengths", "sweeps the concept's prompts and lexicon; give a concept")
    n = p.n_sentences
    source, target = sentences["source"][:n], sentences["target"][:n]
    report = report or (lambda done, total, message: None)
    total = method.units(None, concept, p)
    report(0, total, f"loading {spec.model}")
    model = cached_model(spec.model, device=spec.device, dtype=spec.dtype)
    values = p.model_dump()
    own = {k: v for k, v in values.items() if k not in RUN_FIELDS and v is not None}
    trained = getattr(p, "steps", None) or 0
    verb = "training" if trained else "fitting"
    report(1, total, f"{verb} {spec.method} on {len(source)} source and {len(target)} target sentences")

    def on_step(i: int, loss: float) -> None:
        report(1 + i + 1, total, f"training {spec.method}: loss {loss:.4f}")

    t0 = time.perf_counter()
    fitted = method.run(model, source, target, on_step=on_step if trained else None, **own)
    seconds = round(time.perf_counter() - t0, 2)
    extra = {"concept": concept.name if concept else None, "fit_seconds": seconds}
    if concept is not None:
        extra.update(lexicon=concept.lexicon, instruction=concept.instruction, scorer=concept.scorer)
    sf = SteeringFile.from_method(fitted, **extra)
    evaluation = None
    if p.strengths:
        done = [2 + trained]

        def step(message: str) -> None:
            report(done[0], total, message)
            done[0] += 1

        prompts, neutral = concept.prompts[:p.n_prompts], concept.neutral[:p.n_neutral]
        kw = dict(lexicon=concept.lexicon, max_new_tokens=p.max_new_tokens, seed=spec.seed)
        evaluation = evaluate_steering(model, sf, prompts, neutral, strengths=p.strengths, on_step=step, **kw)
        if concept.instruction:  # the baselines: prompting, and prompting plus steering at the chosen strength
            step("prompting baseline")
            evaluation["prompting"] = evaluate_prompting(model, concept.instruction, prompts, neutral, **kw)
            step("prompting plus steering")
            if evaluation["chosen_strength"]:
                evaluation["prompting_steering"] = evaluate_prompting(
                    model, concept.instruction, prompts, neutral, steering=sf,
                    strength=evaluation["chosen_strength"], **kw)
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
    return {"kind": "steering", "name": entry.name, "id": entry.id, "default_strength": sf.default_strength,
            "chosen_strength": (evaluation or {}).get("chosen_strength")}


def default_name(spec, digest: str) -> str:
    """``<concept>-<method>-<hash>``, e.g. ``wedding-diffmean-0123456789ab`` (``sentences-...`` without one)."""
    return f"{spec.task or 'sentences'}-{spec.method}-{digest[:12]}"
