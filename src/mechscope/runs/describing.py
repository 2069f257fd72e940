"""Description runs: the description methods' records, and how a description spec is computed.

Four methods of `mechscope.describe`: ``find-functions`` generates the FIND-style benchmark (a data set of
functions with their ground truth; no model); ``top-inputs`` describes one unit of a model from the inputs that
activate it most; ``explain-simulate`` scores descriptions of many units by the explainer/simulator protocol
against random descriptions; ``find-bench`` runs an interpreter over the FIND-style benchmark and scores it
per category. The outcome is a plain document (what the CLI prints as JSON); descriptions are not kept in the
experiment store, so `record` returns the document with the run's spec and hash.

>>> from mechscope.runs import get_method
>>> get_method("describe", "find-bench").validate({"domains": ["strings"]}).domains
['strings']
>>> get_method("describe", "find-bench").validate({"heldout": 1.5})
Traceback (most recent call last):
...
mechscope.runs.registry.ParameterError: parameter 'heldout' of describe method find-bench must be less than 1; got 1.5
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mechscope.errors import MechscopeError
from mechscope.runs.registry import Method, ParameterError, Params, Report, register, run_spec

STORE_KIND = None  # a description is printed and written where asked, not kept in the store
DOMAINS = ("numeric", "strings", "concepts")


class FindFunctionsParams(Params):
    size: int = Field(100, ge=1, description="functions per domain (numeric, strings per string space, concepts)")
    out: str | None = Field(None, description="directory (default $MECHSCOPE_CACHE/describe)")
    unit_tests: int = Field(5, ge=0, description="multiple-choice description tests per function")
    strings: str = Field("both", description="string functions: find (FIND's primitives and rules), mechscope "
                         "(ours) or both")

    @field_validator("strings")
    @classmethod
    def _space(cls, value: str) -> str:
        from mechscope.describe.bench import STRING_SPACES

        if value not in STRING_SPACES:
            raise ParameterError("strings", f"must be one of {', '.join(STRING_SPACES)}; got {value!r}")
        return value


class TopInputsParams(Params):
    unit: str = Field(..., description="SITE:INDEX, e.g. mlp.3:120 or resid.5:7")
    top_k: int = Field(12, ge=1, description="top-activating inputs to show")


class ExplainSimulateParams(Params):
    units: list[str] | None = Field(None, description="SITE:INDEX units (default: a seeded sample)")
    mlp: int = Field(20, ge=0, description="MLP neurons to sample when units are not given")
    resid: int = Field(10, ge=0, description="residual dimensions to sample when units are not given")
    steering: list[str] | None = Field(None, description="steering files whose vectors are scored too")
    explainer: str = Field("tokens", description="tokens (offline), llm:URL#MODEL or lm[:MODEL] (in process)")
    simulator: str = Field("tokens", description="tokens (offline), llm:URL#MODEL or lm[:MODEL] (in process)")

    @field_validator("explainer", "simulator")
    @classmethod
    def _agent(cls, value: str, info) -> str:  # a bad spec is refused before any model is loaded
        if not (value in ("tokens", "lm") or value.startswith(("llm:", "lm:"))):
            raise ParameterError(info.field_name, f"names an unknown {info.field_name} {value!r}; use 'tokens', "
                                 "'llm:URL#MODEL' or 'lm:MODEL' (in process)")
        return value


class FindBenchParams(Params):
    interpreter: str = Field("baseline", description="baseline or llm:URL#MODEL")
    bench: str | None = Field(None, description="benchmark directory (default $MECHSCOPE_CACHE/describe)")
    domains: list[Literal["numeric", "strings", "concepts"]] = Field(list(DOMAINS), min_length=1,
                                                                     description="domains to run")
    limit: int | None = Field(None, ge=1, description="at most this many functions per domain")
    heldout: float = Field(0.0, ge=0, lt=1, description="baseline: fraction of string primitives held out of its "
                           "search")
    rounds: int = Field(8, ge=1, description="llm: experiment rounds before the final answer")
    judge: str = Field("rule", description="description judge: rule or llm:URL#MODEL")

    @field_validator("interpreter", "judge")
    @classmethod
    def _spec(cls, value: str, info) -> str:
        own = "baseline" if info.field_name == "interpreter" else "rule"
        if value != own and not value.startswith("llm:"):
            raise ParameterError(info.field_name, f"names an unknown {info.field_name} {value!r}; use {own!r} or "
                                 "'llm:URL#MODEL'")
        return value


def make_interpreter(spec: str, heldout: float, rounds: int):
    """`baseline` or `llm:URL#MODEL`, as an interpreter object."""
    from mechscope.describe.interp_strings import heldout_primitives
    from mechscope.describe.llm import LLMInterpreter, parse_spec
    from mechscope.describe.runner import BaselineInterpreter

    if spec == "baseline":
        return BaselineInterpreter(heldout_primitives(heldout))
    if spec.startswith("llm:"):
        url, model = parse_spec(spec)
        return LLMInterpreter(url, model, max_rounds=rounds)
    raise MechscopeError(f"unknown interpreter {spec!r}; use 'baseline' or 'llm:URL#MODEL'")


def make_judge(spec: str):
    """`rule` or `llm:URL#MODEL`, as a judge object."""
    from mechscope.describe.judge import LLMJudge, RuleJudge
    from mechscope.describe.llm import parse_spec

    if spec == "rule":
        return RuleJudge()
    if spec.startswith("llm:"):
        return LLMJudge(*parse_spec(spec))
    raise MechscopeError(f"unknown judge {spec!r}; use 'rule' or 'llm:URL#MODEL'")


def unit_agent(spec: str, kind: str, loaded=None):
    """The explainer or simulator `spec` names: ``tokens`` (offline), ``llm:URL#MODEL`` (a chat endpoint) or
    ``lm[:MODEL]`` (in process; plain ``lm`` is `loaded`, the run's own model)."""
    from mechscope.describe import simulate as sim
    from mechscope.describe.llm import parse_spec

    if spec == "tokens":
        return sim.TokenExplainer() if kind == "explainer" else sim.TokenSimulator()
    if spec.startswith("llm:"):
        url, name = parse_spec(spec)
        return sim.LLMExplainer(url, name) if kind == "explainer" else sim.LLMSimulator(url, name)
    if spec == "lm" or spec.startswith("lm:"):
        from mechscope.describe.simulate_lm import LMExplainer, LMSimulator
        from mechscope.runs.models import cached_model

        lm = loaded if spec == "lm" or (loaded is not None and spec[3:] == loaded.spec) else cached_model(spec[3:])
        return LMExplainer(lm) if kind == "explainer" else LMSimulator(lm)
    raise MechscopeError(f"unknown {kind} {spec!r}; use 'tokens', 'llm:URL#MODEL' or 'lm:MODEL' (in process)")


def _find_functions(spec, p, report) -> dict:
    """Generate the benchmark with `spec.seed`; its folder, seed, size and functions per category."""
    from mechscope.describe.bench import build_benchmark

    bench = build_benchmark(seed=spec.seed, size=p.size, out=p.out, n_unit_tests=p.unit_tests, strings=p.strings,
                            progress=lambda done, total: report(done, total, "building functions"))
    counts: dict[str, int] = {}
    for it in bench.items:
        counts[it["category"]] = counts.get(it["category"], 0) + 1
    return {"path": str(bench.root), "seed": spec.seed, "size": p.size, "categories": counts}


def _top_inputs(spec, p, report) -> dict:
    from mechscope.describe.unit import describe_unit
    from mechscope.runs.models import cached_model

    report(0, 2, f"loading {spec.model}")
    model = cached_model(spec.model, device=spec.device, dtype=spec.dtype)
    report(1, 2, f"probing {p.unit}")
    interp = describe_unit(model, p.unit, top_k=p.top_k)
    return {"description": interp.description, **interp.evidence}


def _explain_simulate(spec, p, report) -> dict:
    from mechscope.describe.unit_scores import sample_units, score_units, steering_units
    from mechscope.runs.models import cached_model

    report(0, 1, f"loading {spec.model}")
    model = cached_model(spec.model, device=spec.device, dtype=spec.dtype)
    explainer, simulator = unit_agent(p.explainer, "explainer", model), unit_agent(p.simulator, "simulator", model)
    units: list = list(p.units) if p.units else sample_units(model, p.mlp, p.resid, spec.seed)
    for path in p.steering or []:
        units += steering_units(path)
    if not units:
        raise ParameterError("units", "are none; give units such as mlp.3:120,resid.5:7, or mlp/resid counts "
                             "above 0", "describe method explain-simulate")
    message = f"explaining and simulating {len(units)} units"
    return score_units(model, units, explainer, simulator, seed=spec.seed,
                       progress=lambda done, total: report(done, total, message))


def _find_bench(spec, p, report) -> dict:
    from mechscope.describe.bench import Benchmark
    from mechscope.describe.runner import run_benchmark

    bench = Benchmark.load(p.bench)
    interpreter, judge = make_interpreter(p.interpreter, p.heldout, p.rounds), make_judge(p.judge)
    message = f"interpreting ({p.interpreter})"
    res = run_benchmark(bench, interpreter, tuple(p.domains), p.limit, judge,
              progress=lambda done, total: report(done, total, message))
    return {"bench": str(bench.root), "seed": bench.manifest["seed"], **res}


def _one(model, task, params) -> int:
    return 1


# `command`: the `mechscope describe` command that offers each method (its options are the method's parameters)
for _name, _fn, _params, _summary, _command in (
    ("top-inputs", _top_inputs, TopInputsParams, "describe one unit from the inputs that activate it most", "unit"),
    ("explain-simulate", _explain_simulate, ExplainSimulateParams,
     "score unit descriptions by explaining and simulating activations, against random descriptions", "units"),
    ("find-bench", _find_bench, FindBenchParams, "interpret the FIND-style benchmark's functions and score them",
     "run"),
    ("find-functions", _find_functions, FindFunctionsParams,
     "generate the FIND-style benchmark: numeric, string and concept functions with full ground truth", "build"),
):
    register(Method("describe", _name, _fn, _params, _one, _summary, {"command": _command}))


def compute(spec, report: Report | None = None) -> dict:
    """The description document of `spec` (what `mechscope describe` prints with --json)."""
    return run_spec(spec, report)


def record(store, spec, digest: str, outcome: dict, name: str | None = None) -> dict:
    """Nothing is kept in the store: the row is the document with the run's spec and hash."""
    return {"kind": "description", "run": spec.normalized().to_dict(), "run_hash": digest, **outcome}
