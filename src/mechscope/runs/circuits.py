"""Runs on a saved circuit: re-evaluating it (kind ``evaluate``) and testing it (kind ``hypothesis``).

A spec's ``circuit`` parameter is a circuit JSON file (written by ``mechscope discover --out``); its bytes are
part of the run's hash, so an edited file is another run. ``model`` is the model to run it on (the CLI gives the
circuit's own by default) and ``task`` the task (None: the circuit's own, rebuilt as it was found, with ``n``
examples of a built-in if given).

- ``evaluate`` / ``circuit-faithfulness``: the circuit's faithfulness on a split of the task, on this model
  (possibly another version than the circuit was found on): `mechscope.discover.evaluate_circuit`.
- ``hypothesis`` / ``circuit-tests``: the hypothesis tests of Shi et al. (2024) (equivalence, independence,
  minimality, sufficiency, necessity): `mechscope.hypothesis.test_circuit`. The spec's ``seed`` draws the random
  circuits and permutations, so the tests over seeds are a list of specs, one per seed, on any executor.

The outcome is the document the CLI prints with ``--json``; neither is kept in the experiment store, so `record`
returns the document with the run's spec and hash.

>>> from mechscope.runs import get_method
>>> get_method("hypothesis", "circuit-tests").validate({"circuit": "c.json", "tests": ["sufficiency"]}).n_random
100
>>> get_method("hypothesis", "circuit-tests").validate({"circuit": "c.json", "tests": ["minimalty"]})
Traceback (most recent call last):
...
mechscope.runs.registry.ParameterError: parameter 'tests' of hypothesis method circuit-tests names unknown test 'minimalty'; did you mean 'minimality'?; tests are equivalence, independence, minimality, sufficiency, necessity
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mechscope.errors import MechscopeError
from mechscope.runs.registry import Method, ParameterError, Params, Report, register, run_spec

STORE_KIND = None  # an evaluation or a test is printed (and written where asked), not kept in the store
TESTS = ("equivalence", "independence", "minimality", "sufficiency", "necessity")  # mechscope.hypothesis.TESTS


class CircuitRunParams(Params):
    circuit: str = Field(..., description="a circuit JSON file (written by `mechscope discover --out`)")
    split: Literal["train", "test", "all"] = Field("test", description="examples to run on: train, test or all")
    batch_size: int = Field(16, ge=1, description="prompts per forward pass")


class TestParams(CircuitRunParams):
    tests: list[str] = Field(list(TESTS), min_length=1, description="which tests: " + ", ".join(TESTS))
    ablation: Literal["resample", "mean", "zero"] | None = Field(
        None, description="how edges outside the circuit are patched (default: the circuit's own)")
    alpha: float = Field(0.05, gt=0, lt=1, description="significance level of every test")
    n_random: int = Field(100, ge=1, description="random circuits for minimality, sufficiency, necessity")
    epsilon: float = Field(0.1, ge=0, description="equivalence tolerance around 1/2")
    tie_tol: float = Field(0.0, ge=0, description="equivalence: score differences up to this count as ties")
    n_permutations: int = Field(1000, ge=1, description="permutations of the independence test")
    quantile: float = Field(0.9, ge=0, le=1, description="minimality's q*: share of random edges an edge must beat")
    max_edges: int | None = Field(None, ge=1, description="minimality: test a random sample of this many edges")
    complement: bool = Field(False, description="necessity: draw random circuits from the edges outside the circuit "
                             "(advisable for circuits of a few edges)")

    @field_validator("tests")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        from mechscope.errors import closest

        for t in value:
            if t not in TESTS:
                raise ParameterError("tests", f"names unknown test {t!r}{closest(t, TESTS)}; tests are "
                                     f"{', '.join(TESTS)}")
        return list(dict.fromkeys(value))


TestParams.__test__ = False  # type: ignore[attr-defined]  # not a pytest test class when imported into one


def circuit_task(circuit, task: str | None, n: int | None):
    """`task` (a built-in name or file), or by default the circuit's own task rebuilt as it was found.

    >>> import mechscope as ms
    >>> from mechscope.discover import Circuit
    >>> c = Circuit(edges={}, edges_total=1, model_spec="m", model_fingerprint="f", task="ioi", task_hash="h",
    ...             task_source="builtin:ioi", task_size=12, method="manual", params={})
    >>> len(circuit_task(c, None, None)), len(circuit_task(c, "ioi", 8))
    (12, 8)
    """
    from mechscope.tasks import load_task

    if task is None:
        builtin = circuit.task_source.startswith("builtin:")
        task = circuit.task_source.removeprefix("builtin:") or circuit.task
        n = n if n is not None or not builtin else circuit.task_size
    return load_task(task, n=n)


def _load(spec, p):
    """The spec's circuit, task and model (the graph's)."""
    from mechscope.discover import Circuit
    from mechscope.runs.models import cached_model

    circuit = Circuit.load(p.circuit)
    task = circuit_task(circuit, spec.task, spec.n)
    return circuit, task, cached_model(spec.model, device=spec.device, dtype=spec.dtype)


def _evaluate(spec, p, report) -> dict:
    from mechscope.discover import evaluate_circuit
    from mechscope.graph import Graph

    report(0, 2, f"loading {spec.model}")
    circuit, task, model = _load(spec, p)
    report(1, 2, "evaluating")
    res = evaluate_circuit(Graph.from_model(model), circuit, task, split=p.split, batch_size=p.batch_size)
    report(2, 2, "evaluated")
    return {"circuit": p.circuit, "model": model.spec, **res}


def _test(spec, p, report) -> dict:
    from mechscope.graph import Graph
    from mechscope.hypothesis import test_circuit
    from mechscope.hypothesis.criteria import planned_runs

    report(0, 1, f"loading {spec.model}")
    circuit, task, model = _load(spec, p)
    if model.fingerprint != circuit.model_fingerprint:
        raise MechscopeError(
            f"circuit {p.circuit} was found on model {circuit.model_fingerprint} ({circuit.model_spec}), got "
            f"{model.fingerprint} ({spec.model}); test it on its own model or rediscover it on {spec.model}")
    graph = Graph.from_model(model)
    part = task if p.split == "all" else task.split(p.split)
    enc = part.encode(model.tokenizer)
    ablation = p.ablation or circuit.ablation
    total, done = planned_runs(circuit, p.tests, n_random=p.n_random, max_edges=p.max_edges), [0]
    message = f"testing {len(circuit.edges):,} edges on {len(enc)} examples"

    def advance(k: int) -> None:
        done[0] += k
        report(min(done[0], total), total, message)

    report(0, total, message)
    results = test_circuit(graph, circuit, enc, p.tests, ablation=ablation, alpha=p.alpha, seed=spec.seed,
                           n_random=p.n_random, epsilon=p.epsilon, tie_tol=p.tie_tol,
                           n_permutations=p.n_permutations, quantile=p.quantile, max_edges=p.max_edges,
                           complement=p.complement, batch_size=p.batch_size, progress=advance)
    doc: dict = {name: r.to_dict() for name, r in results.items()}
    doc["circuit"] = {"path": p.circuit, "model": spec.model, "task": task.name, "split": p.split, "n": len(enc),
                      "edges": len(circuit.edges), "edges_total": graph.n_edges, "ablation": ablation,
                      "alpha": p.alpha, "seed": spec.seed, "complement": p.complement}
    return doc


def _one(model, task, params) -> int:
    return 1


register(Method("evaluate", "circuit-faithfulness", _evaluate, CircuitRunParams, _one,
                "re-measure a saved circuit's faithfulness on a task split, on its model or another version",
                {"file_params": ("circuit",)}))
register(Method("hypothesis", "circuit-tests", _test, TestParams, _one,
                "equivalence, independence, minimality, sufficiency and partial necessity (Shi et al. 2024)",
                {"file_params": ("circuit",)}))


def compute(spec, report: Report | None = None) -> dict:
    """The evaluation or test document of `spec` (what the CLI prints with --json)."""
    return run_spec(spec, report)


def record(store, spec, digest: str, outcome: dict, name: str | None = None) -> dict:
    """Nothing is kept in the store: the row is the document with the run's spec and hash."""
    kind = "evaluation" if spec.kind == "evaluate" else "hypothesis-tests"
    return {"kind": kind, "run": spec.normalized().to_dict(), "run_hash": digest, **outcome}
