"""Comparison runs: a base model and its versions on tasks, set up once for the CLI and the web app.

A comparison spec's ``model`` is the base (a model spec or a version of the store) and its parameters name the
versions, the tasks, how circuits are found and whether a steering file is probed on each model. `compute`
loads the base, measures it, then loads one version at a time (so two models are in memory at most) and
measures what changed (`mechscope.compare.compare`); `record` saves the comparison in the store.

>>> from mechscope.runs import get_method
>>> get_method("compare", "versions").validate({"versions": ["q4"]}).circuits
'all'
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mechscope.errors import MechscopeError
from mechscope.runs.registry import Method, Params, ParameterError, Report, register

STORE_KIND = "comparison"


class CompareParams(Params):
    versions: list[str] = Field(..., min_length=1, description="versions of the store (or model specs such as "
                                "hf:<dir>) to compare with the base")
    tasks: list[str] = Field(["ioi"], min_length=1, description="built-in tasks or task files")
    circuits: Literal["all", "base", "none"] = Field(
        "all", description="all (the base's circuit and each version's own), base or none")
    circuit_edges: int | None = Field(None, ge=1, description="circuit size in edges (default 1% of edges)")
    circuit_method: str = Field("eap-ig", description="discovery method for the circuits")
    selection: Literal["top", "signed", "greedy"] = Field("signed", description="circuit selection")
    steps: int = Field(5, ge=1, description="eap-ig integration steps")
    batch_size: int = Field(16, ge=1, description="prompts per forward pass")
    latency: bool = Field(True, description="measure each model's latency")
    latency_all: bool = Field(False, description="also time versions that run the base's float32 kernels on the "
                              "same shapes (otherwise they report the base's latency, latency_from 'base')")
    steer: str | None = Field(None, description="a steering file: its effect and damage on the base and each version")
    steer_prompts: str | None = Field(None, description="prompts to steer (default: the file's concept)")
    steer_neutral: str | None = Field(None, description="neutral text for the damage (default: the file's concept)")
    cache_circuits: bool = Field(True, description="reuse circuits the store holds and record those found")

    @field_validator("circuit_method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        from mechscope.runs.registry import get_method

        get_method("discover", value)
        return value


def _steps(base, tasks, params) -> int:
    from mechscope.compare import CircuitSettings, Settings
    from mechscope.compare.comparison import steps_per_version

    settings = Settings(circuits=CircuitSettings(which=params.circuits), latency=params.latency)
    probes = 1 if params.steer else 0
    per_version = steps_per_version(settings, len(tasks), probes) + 1
    base_steps = len(tasks) * (2 if params.circuits != "none" else 1) + (1 if params.latency else 0) + 1 + probes
    return base_steps + per_version * len(params.versions)


def _compare(baseline, versions, step=None):
    from mechscope.compare import compare

    return compare(baseline, versions, step=step)


register(Method("compare", "versions", _compare, CompareParams, _steps,
                "behaviour, layer drift, weights and circuits of each version against its base"))


def steering_probe(path, prompts: str | None = None, neutral: str | None = None, n_prompts: int = 8,
                   n_neutral: int = 16, max_new_tokens: int = 20):
    """A probe (model -> dict) measuring a steering file at its default strength: the concept's effect on
    generations from the prompts, and the damage on neutral text (perplexity rise, KL, top-1 agreement)."""
    from mechscope.steer import SteeringFile, evaluate_steering, load_concept
    from mechscope.steer.concepts import read_sentences

    sf = SteeringFile.load(path)
    concept = load_concept(sf.manifest["concept"]) if sf.manifest.get("concept") else None
    if concept is None and (prompts is None or neutral is None):
        raise ParameterError("steer", f"is {str(path)!r}, which names no concept; give steer_prompts and "
                             "steer_neutral too")
    ps = read_sentences(prompts) if prompts else concept.prompts
    neu = read_sentences(neutral) if neutral else concept.neutral
    lexicon = sf.manifest.get("lexicon") or (concept.lexicon if concept else None)
    strength = sf.default_strength

    def probe(model) -> dict:
        doc = evaluate_steering(model, sf, ps[:n_prompts], neu[:n_neutral], strengths=[0.0, strength],
                                lexicon=lexicon, scorer=sf.manifest.get("scorer") or "lexicon", strict=False,
                                max_new_tokens=max_new_tokens)
        steered, plain = doc["sweep"][-1], doc["unsteered"]
        return {"file": str(path), "method": doc["method"], "strength": strength, "effect": steered.get("effect"),
                "unsteered_effect": plain.get("effect"), "delta_ppl": steered.get("delta_ppl"),
                "kl": steered.get("kl"), "top1_agreement": steered.get("top1_agreement")}

    return probe


def compute(spec, report: Report | None = None) -> dict:
    """Run the comparison of a spec; returns `mechscope.compare.compare`'s dict (with its ``examples``)."""
    from mechscope.compare import Baseline, CircuitSettings, Settings
    from mechscope.store import Store, load_model, load_version
    from mechscope.store.records import cached_finder
    from mechscope.store.versions import is_version
    from mechscope.tasks import load_task

    method = spec.method_record()
    p = method.validate(spec.params)
    store = Store()
    if spec.model in p.versions:
        raise ParameterError("versions", f"include the base {spec.model!r}; list only the versions to compare with it")
    for v in p.versions:  # fail on a misspelt name before any model loads
        if not is_version(store, v) and ":" not in v:
            store.get("version", v)
    tasks = [load_task(t, n=spec.n, seed=spec.seed) for t in dict.fromkeys(p.tasks)]
    circuits = CircuitSettings(which=p.circuits, method=p.circuit_method, edges=p.circuit_edges,
                               selection=p.selection, steps=p.steps, batch_size=p.batch_size)
    settings = Settings(batch_size=p.batch_size, circuits=circuits, latency=p.latency, latency_all=p.latency_all)
    find = cached_finder(store, circuits) if p.cache_circuits else circuits.finder()
    probes = {"steering": steering_probe(p.steer, p.steer_prompts, p.steer_neutral)} if p.steer else {}
    total, done = method.units(spec.model, tasks, p), [0]
    report = report or (lambda d, t, m: None)

    def step(message: str) -> None:
        report(min(done[0], total), total, message)
        done[0] += 1

    step(f"loading {spec.model}")
    base_model = load_model(store, spec.model, spec.device, spec.dtype)
    baseline = Baseline(base_model, tasks, settings, name=spec.model, find=find, step=step, probes=probes)
    del base_model

    def loaded():
        for v in p.versions:
            step(f"loading {v}")
            yield (load_version(store, v) if is_version(store, v) else None), load_model(store, v, spec.device, spec.dtype)

    result = method.run(baseline, loaded(), step=step)
    report(total, total, "recording the comparison")
    return result


def record(store, spec, digest: str, outcome: dict, name: str | None = None) -> dict:
    """Record a comparison in `store` with the run's provenance; returns ``{"kind", "name"}``."""
    from mechscope.store import save_comparison

    if not isinstance(outcome, dict):
        raise MechscopeError("a comparison outcome is the dict of mechscope.compare.compare")
    entry = save_comparison(store, outcome, name=name,
                            provenance={"run": spec.normalized().to_dict(), "run_hash": digest})
    return {"kind": "comparison", "name": entry.name}
