"""Compare a base with its versions on tasks: behaviour, activations, weights, mechanism, size, latency.

Memory stays that of about two models whatever the number of versions: the
base is observed once (`Baseline`: logits at the answer positions, residual
streams, its circuits, references to its weights), then each version is
loaded, compared and dropped before the next.

>>> from mechscope.models import load
>>> from mechscope.tasks import load_task
>>> task = load_task("ioi", n=6)
>>> base = Baseline(load("random:llama-tiny"), [task], Settings(circuits=CircuitSettings(which="none")))
>>> row = compare_version(base, load("random:llama-tiny"), name="same")[0]
>>> row["kl"], row["top1_agreement"], row["flips"]
(0.0, 1.0, 0)
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mechscope.compare.behaviour import Observation, behaviour_summary, example_rows, observe
from mechscope.compare.latency import latency_ms, runtime_for
from mechscope.compare.mechanism import CircuitSettings, FindCircuit, mechanism_summary
from mechscope.compare.similarity import CKA_THRESHOLD, ERROR_THRESHOLD, first_divergence, layer_similarity
from mechscope.compare.version import Version, operation_label, parameter_bytes, parameter_layout, size_bytes
from mechscope.compare.weights import base_weights, weight_changes
from mechscope.discover import Circuit, evaluate_circuit
from mechscope.discover.runner import shared_runners
from mechscope.errors import MechscopeError
from mechscope.graph import Graph
from mechscope.models import Model
from mechscope.tasks import Task

Step = Callable[[str], None] | None
Probe = Callable[[Model], dict]  # a measurement of a whole model, e.g. a steering file's effect and damage


@dataclass(frozen=True)
class Settings:
    """What a comparison measures and how (recorded with its results)."""

    batch_size: int = 16
    max_tokens: int | None = 4096  # residual-stream tokens kept per task for the layer similarity
    circuits: CircuitSettings = field(default_factory=CircuitSettings)
    latency: bool = True
    latency_repeats: int = 5
    # time again versions that run the base's kernels (float32, same parameter shapes); else they get its figure
    latency_all: bool = False
    top_flips: int = 5
    cka_threshold: float = CKA_THRESHOLD
    error_threshold: float = ERROR_THRESHOLD

    def to_dict(self) -> dict:
        return {"batch_size": self.batch_size, "max_tokens": self.max_tokens, "circuits": self.circuits.to_dict(),
                "latency": self.latency, "latency_repeats": self.latency_repeats, "latency_all": self.latency_all,
                "top_flips": self.top_flips,
                "cka_threshold": self.cka_threshold, "error_threshold": self.error_threshold}


class Baseline:
    """What every comparison needs from the base, computed once.

    Holds references to the base's weights, not the model: the caller may drop the model (but not
    change its weights). `probes` are further measurements, run on the base and on every version
    (``{"steering": probe}`` adds a ``steering`` entry to the base's summary and to every row).
    """

    def __init__(self, model: Model, tasks: list[Task], settings: Settings = Settings(), *,
                 name: str | None = None, find: FindCircuit | None = None, step: Step = None,
                 probes: dict[str, Probe] | None = None):
        if not tasks:
            raise MechscopeError("a comparison needs at least one task; pass --task ioi")
        self.name = name or model.spec
        self.fingerprint = model.fingerprint
        self.settings = settings
        self.tasks = list(tasks)
        self.find = find or settings.circuits.finder()
        self.weights = base_weights(model)
        self.param_bytes = parameter_bytes(model)
        self.param_shapes = parameter_layout(model)
        self.size_bytes = size_bytes(self.param_bytes, {})
        self.encoded = {t.name: t.encode(model.tokenizer) for t in self.tasks}
        self.tokenizer = model.tokenizer
        self.observations: dict[str, Observation] = {}
        self.circuits: dict[str, Circuit | None] = {}
        self.gaps: dict[str, float | None] = {}
        graph = Graph(model)
        for t in self.tasks:
            _step(step, f"base: {t.name}")
            self.observations[t.name] = observe(model, self.encoded[t.name], settings.batch_size, settings.max_tokens)
            self.circuits[t.name] = self.gaps[t.name] = None
            if settings.circuits.which != "none":
                _step(step, f"base: circuit of {t.name}")
                with shared_runners():  # the evaluation reuses the finder's clean and corrupted runs (and values)
                    self.circuits[t.name] = self.find(graph, t)
                    res = evaluate_circuit(graph, self.circuits[t.name], t, batch_size=settings.circuits.batch_size)
                self.gaps[t.name] = res["clean"] - res["corrupt"]
        self.probes = dict(probes or {})
        self.probed = {}
        for key, probe in self.probes.items():
            _step(step, f"base: {key}")
            self.probed[key] = probe(model)
        self.latency_ms = self.runtime = None
        if settings.latency:
            _step(step, "base: latency")
            self.latency_ms = latency_ms(model, self.encoded[self.tasks[0].name], settings.batch_size,
                                         settings.latency_repeats)
            self.runtime = "torch float32"

    def summary(self) -> dict:
        """The base's own figures, per task."""
        tasks = {}
        for t in self.tasks:
            obs, c = self.observations[t.name], self.circuits[t.name]
            tasks[t.name] = {"task_metric": float(obs.metric.mean()), "accuracy": float(obs.correct.float().mean()),
                             "metric": t.metric, "n": len(t), "task_hash": t.hash(),
                             "circuit_edges": len(c.edges) if c else None,
                             "circuit_faithfulness": c.evaluation.faithfulness if c else None,
                             "circuit_gap": self.gaps[t.name]}
        return {"name": self.name, "fingerprint": self.fingerprint, "size_bytes": self.size_bytes,
                "latency_ms": self.latency_ms, "runtime": self.runtime, "tasks": tasks, **self.probed}


def steps_per_version(settings: Settings, n_tasks: int, n_probes: int = 0) -> int:
    """How many `step` calls one `compare_version` makes (for progress bars)."""
    per_task = 1 + (1 if settings.circuits.which != "none" else 0) + (1 if settings.circuits.which == "all" else 0)
    return n_tasks * per_task + (1 if settings.latency else 0) + n_probes


def compare_version(baseline: Baseline, model: Model, version: Version | None = None, *, name: str | None = None,
                    size: int | None = None, step: Step = None, examples: list | None = None) -> list[dict]:
    """One row per task comparing `model` (a version of the base) with the base.

    `version` gives the operation, parameters and stored weights (for the size
    and the runtime); a checkpoint version counts its files on disk, and without
    `version` the model counts as float32 parameters, or as `size` bytes.
    Per-example rows are appended to `examples`.
    The model is not modified.
    """
    name = name or (version.name if version else model.spec)
    s = baseline.settings
    operation = version.operation if version else "checkpoint"
    params = version.params if version else {}
    if size is None and version is not None and version.checkpoint:
        size = version.params.get("checkpoint_bytes")
    if size is None:
        size = size_bytes(baseline.param_bytes, version.tensors) if version and version.tensors \
            else size_bytes(parameter_bytes(model), {})
    weights = weight_changes(baseline.weights, model)
    common = {"name": name, "operation": operation, "label": operation_label(operation, params), "params": params,
              "fingerprint": model.fingerprint, "size_bytes": size, "size_ratio": size / baseline.size_bytes,
              "weights": {k: v for k, v in weights.items() if k != "modules"}, "weight_modules": weights["modules"]}
    graph = Graph(model)
    rows = []
    for t in baseline.tasks:
        _step(step, f"{name}: {t.name}")
        obs = observe(model, baseline.encoded[t.name], s.batch_size, s.max_tokens)
        base_obs = baseline.observations[t.name]
        similarity = layer_similarity(base_obs.residuals, obs.residuals)
        row = {**common, "task": t.name, **behaviour_summary(t, base_obs, obs, baseline.tokenizer, s.top_flips),
               "layer_similarity": similarity,
               "first_diverging_layer": first_divergence(similarity, s.cka_threshold, s.error_threshold)}
        if examples is not None:
            examples.extend({"version": name, "task": t.name, **r} for r in example_rows(t, base_obs, obs))
        del obs
        own, note = None, None
        if s.circuits.which != "none":
            _step(step, f"{name}: base circuit of {t.name}")
        with shared_runners():  # the own circuit's evaluation and the base circuit's share the version's runs
            if s.circuits.which == "all" and baseline.circuits[t.name] is not None:
                _step(step, f"{name}: own circuit of {t.name}")
                try:
                    own = baseline.find(graph, t)
                except MechscopeError as exc:
                    note = str(exc)
            mech = mechanism_summary(graph, t, baseline.circuits[t.name], own, s.circuits.batch_size,
                                     baseline.gaps[t.name])
        mech["circuit_note"] = mech["circuit_note"] or note
        rows.append({**row, **mech, "own_circuit": own})
    probed = {}
    for key, probe in baseline.probes.items():
        _step(step, f"{name}: {key}")
        probed[key] = probe(model)
    latency, runtime, latency_from = None, None, None
    if s.latency:
        runtime_model, runtime = runtime_for(model, version)
        if not s.latency_all and same_kernels(baseline, runtime_model, runtime):
            _step(step, f"{name}: latency (the base's: same kernels and shapes)")
            latency, latency_from = baseline.latency_ms, "base"
        else:
            _step(step, f"{name}: latency")
            latency = latency_ms(runtime_model, baseline.encoded[baseline.tasks[0].name], s.batch_size,
                                 s.latency_repeats)
            latency_from = "measured"
        del runtime_model
    for row in rows:
        row.update(probed, latency_ms=latency, runtime=runtime, latency_from=latency_from)
    gc.collect()
    return rows


def same_kernels(baseline: Baseline, runtime_model: Model, runtime: str) -> bool:
    """Whether `runtime_model` runs exactly the base's computation for the latency: the base's runtime (dense
    float32 PyTorch: a dequantized GGUF type, a pruned or a fine-tuned version) and every parameter of the
    base's name, shape and dtype. Its forward pass then calls the same kernels on the same shapes, so timing it
    again measures the machine's load, not the version (docs/compare.md, "Latency").

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> m = load("random:llama-tiny")
    >>> base = Baseline(m, [load_task("ioi", n=4)], Settings(circuits=CircuitSettings(which="none")))
    >>> same_kernels(base, load("random:llama-tiny"), "torch float32"), same_kernels(base, m, "torchao int8 weight-only")
    (True, False)
    """
    if baseline.latency_ms is None or runtime != baseline.runtime:
        return False
    return parameter_layout(runtime_model) == baseline.param_shapes


def compare(baseline: Baseline, versions: Iterable[tuple[Version | None, Model]], *, step: Step = None) -> dict:
    """Compare every version with the base, loading them one at a time from the iterable.

    Returns ``{"base", "tasks", "settings", "versions": [one row per version and task],
    "weights": {version: per-module rows}, "examples": [per-example rows]}``.
    """
    rows, examples, weights = [], [], {}
    for version, model in versions:
        for row in compare_version(baseline, model, version, step=step, examples=examples):
            weights[row["name"]] = row.pop("weight_modules")
            row.pop("own_circuit")
            rows.append(row)
        del model
        gc.collect()
    return {"base": baseline.summary(), "tasks": [t.name for t in baseline.tasks],
            "settings": baseline.settings.to_dict(), "versions": rows, "weights": weights, "examples": examples}


def _step(step: Step, description: str) -> None:
    if step is not None:
        step(description)
