"""`mechscope describe build|run|unit|serve`: the FIND-style description benchmark."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mechscope.atomic import write_json
from mechscope.cli.options import Device, Dtype, load_spec
from mechscope.cli.output import err, out, print_json, progress, status
from mechscope.errors import MechscopeError

describe_app = typer.Typer(
    help="Describe what functions and model units compute; score it on a FIND-style benchmark.", no_args_is_help=True
)
JSON_HELP = "print one JSON document on stdout and nothing else"
DOMAINS = ("numeric", "strings", "concepts")


@describe_app.command("build")
def build_command(
    seed: int = typer.Option(0, help="seed for every function drawn"),
    size: int = typer.Option(100, help="functions per domain (numeric, strings per string space, concepts)"),
    out_dir: Path = typer.Option(None, "--out", help="directory (default $MECHSCOPE_CACHE/describe)"),
    unit_tests: int = typer.Option(5, "--unit-tests", help="multiple-choice description tests per function"),
    strings: str = typer.Option(
        "both", "--strings", help="string functions: find (FIND's primitives and rules), mechscope (ours) or both"
    ),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Generate the benchmark: numeric, string and concept functions with full ground truth."""
    from mechscope.describe.bench import build_benchmark

    with progress(not json_out) as bar:
        job = bar.add_task("building functions", total=None)
        bench = build_benchmark(
            seed=seed,
            size=size,
            out=out_dir,
            n_unit_tests=unit_tests,
            progress=lambda done, total: bar.update(job, completed=done, total=total),
            strings=strings,
        )
    counts: dict[str, int] = {}
    for it in bench.items:
        counts[it["category"]] = counts.get(it["category"], 0) + 1
    doc = {"path": str(bench.root), "seed": seed, "size": size, "categories": counts}
    if json_out:
        print_json(doc)
        return
    table = Table(title=f"describe benchmark at {bench.root} (seed {seed})")
    table.add_column("category")
    table.add_column("functions", justify="right")
    for cat, n in sorted(counts.items()):
        table.add_row(cat, str(n))
    out.print(table)
    out.print(f"run a function as a script: python {bench.root / 'numeric' / 'f0000.py'} 1 2 3")


def make_interpreter(spec: str, heldout: float, rounds: int):
    """`baseline` or `llm:URL#MODEL`, as an interpreter object."""
    from mechscope.describe.interp_strings import heldout_primitives
    from mechscope.describe.llm import LLMInterpreter, parse_spec
    from mechscope.describe.runner import BaselineInterpreter

    if spec == "baseline":
        if not 0.0 <= heldout < 1.0:
            raise MechscopeError(f"--heldout must be a fraction in [0, 1), got {heldout}; e.g. --heldout 0.25")
        return BaselineInterpreter(heldout_primitives(heldout))
    if spec.startswith("llm:"):
        url, model = parse_spec(spec)
        return LLMInterpreter(url, model, max_rounds=rounds)
    raise MechscopeError(f"unknown interpreter {spec!r}; use 'baseline' or 'llm:URL#MODEL'")


def make_judge(spec: str):
    from mechscope.describe.judge import LLMJudge, RuleJudge
    from mechscope.describe.llm import parse_spec

    if spec == "rule":
        return RuleJudge()
    if spec.startswith("llm:"):
        return LLMJudge(*parse_spec(spec))
    raise MechscopeError(f"unknown judge {spec!r}; use 'rule' or 'llm:URL#MODEL'")


def _domains(text: str) -> tuple[str, ...]:
    names = tuple(d.strip() for d in text.split(",") if d.strip())
    bad = [d for d in names if d not in DOMAINS]
    if bad or not names:
        raise MechscopeError(f"unknown domain {', '.join(bad) or text!r}; choose from {', '.join(DOMAINS)}")
    return names


@describe_app.command("run")
def run_command(
    interpreter: str = typer.Option("baseline", "--interpreter", "-i", help="baseline or llm:URL#MODEL"),
    bench_dir: Path = typer.Option(None, "--bench", help="benchmark directory (default $MECHSCOPE_CACHE/describe)"),
    domains: str = typer.Option("numeric,strings,concepts", help="comma-separated domains to run"),
    limit: int = typer.Option(None, help="at most this many functions per domain"),
    heldout: float = typer.Option(0.0, help="baseline: fraction of string primitives held out of its search"),
    rounds: int = typer.Option(8, help="llm: experiment rounds before the final answer"),
    judge: str = typer.Option("rule", help="description judge: rule or llm:URL#MODEL"),
    records: Path = typer.Option(None, "--records", help="also write every answer and score to this JSON file"),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Interpret every benchmark function and print per-category scores."""
    from mechscope.describe.bench import Benchmark
    from mechscope.describe.runner import run_benchmark

    bench = Benchmark.load(bench_dir)
    interp = make_interpreter(interpreter, heldout, rounds)
    jdg = make_judge(judge)
    with progress(not json_out) as bar:
        job = bar.add_task(f"interpreting ({interpreter})", total=None)
        res = run_benchmark(
            bench,
            interp,
            _domains(domains),
            limit,
            jdg,
            progress=lambda done, total: bar.update(job, completed=done, total=total),
        )
    if records is not None:
        write_json(
            records,
            {
                "interpreter": interpreter,
                "heldout": heldout,
                "judge": judge,
                "bench": str(bench.root),
                "seed": bench.manifest["seed"],
                **res,
            },
            default=str,
        )
    if json_out:
        print_json(res["summary"])
        return
    table = Table(
        title=f"{interpreter} on {bench.root}" + (f" (held out {heldout:.0%} of primitives)" if heldout else "")
    )
    for col in ("category", "n", "score", "FIND protocol", "interval IoU", "descriptions", "noise type"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for row in res["summary"]:
        cells = [row[k] for k in ("score", "find_score", "interval_iou", "description", "noise")]
        table.add_row(row["category"], str(row["n"]), *("-" if v is None else f"{v:.3f}" for v in cells))
    out.print(table)
    err.print(
        "score: numeric = share with NMSE < 0.1 against the clean reference; strings = exact match on 10 "
        "held-out inputs (random functions: same output distribution); concepts = description unit tests. "
        "FIND protocol: the same code against one recorded call of the noisy, corrupted or random black box"
    )


@describe_app.command("unit")
def unit_command(
    unit: str = typer.Option(..., "--unit", help="SITE:INDEX, e.g. mlp.3:120 or resid.5:7"),
    model: str = typer.Option("smollm2-135m", "--model", "-m", help="model spec, as for every command"),
    top_k: int = typer.Option(12, help="top-activating inputs to show"),
    device: Device = None,
    dtype: Dtype = None,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Describe one unit of a model from the inputs that activate it most."""
    from mechscope.describe.unit import describe_unit

    m = load_spec(model, json_out, device, dtype)
    with status(f"probing {unit}", json_out):
        interp = describe_unit(m, unit, top_k=top_k)
    doc = {"description": interp.description, **interp.evidence}
    if json_out:
        print_json(doc)
        return
    out.print(f"[bold]{doc['unit']}[/] of {model}: {interp.description.split(';')[0]}")
    table = Table(title="top-activating inputs")
    table.add_column("word")
    table.add_column("act", justify="right")
    table.add_column("text")
    table.add_column("act", justify="right")
    for (w, a), (t, b) in zip(doc["top_inputs"], doc["top_texts"]):
        table.add_row(w, f"{a:.3f}", t, f"{b:.3f}")
    out.print(table)


def _unit_agent(spec: str, kind: str, loaded=None):
    """`tokens`, `llm:URL#MODEL` (a chat endpoint) or `lm[:MODEL]` (in process; plain `lm` is the --model itself)."""
    from mechscope.describe import simulate as sim
    from mechscope.describe.llm import parse_spec

    if spec == "tokens":
        return sim.TokenExplainer() if kind == "explainer" else sim.TokenSimulator()
    if spec.startswith("llm:"):
        url, name = parse_spec(spec)
        return sim.LLMExplainer(url, name) if kind == "explainer" else sim.LLMSimulator(url, name)
    if spec == "lm" or spec.startswith("lm:"):
        from mechscope.describe.simulate_lm import LMExplainer, LMSimulator
        from mechscope.models import load

        lm = loaded if spec == "lm" or (loaded is not None and spec[3:] == loaded.spec) else load(spec[3:])
        return LMExplainer(lm) if kind == "explainer" else LMSimulator(lm)
    raise MechscopeError(f"unknown {kind} {spec!r}; use 'tokens', 'llm:URL#MODEL' or 'lm:MODEL' (in process)")


@describe_app.command("units")
def units_command(
    model: str = typer.Option("smollm2-135m", "--model", "-m", help="model spec, as for every command"),
    units: str = typer.Option(None, "--units", help="comma-separated SITE:INDEX units (default: a seeded sample)"),
    mlp: int = typer.Option(20, "--mlp", help="MLP neurons to sample when --units is not given"),
    resid: int = typer.Option(10, "--resid", help="residual dimensions to sample when --units is not given"),
    steering: list[Path] = typer.Option(None, "--steering", help="steering file whose vectors are scored too"),
    explainer: str = typer.Option("tokens", help="tokens (offline), llm:URL#MODEL or lm[:MODEL] (in process)"),
    simulator: str = typer.Option("tokens", help="tokens (offline), llm:URL#MODEL or lm[:MODEL] (in process)"),
    seed: int = typer.Option(0, help="seed for the unit sample and the corpus split"),
    records: Path = typer.Option(None, "--records", help="also write every unit's description and scores here"),
    device: Device = None,
    dtype: Dtype = None,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Score descriptions of units (explainer/simulator protocol) against random descriptions."""
    from mechscope.describe.unit_scores import METRICS, sample_units, score_units, steering_units

    for spec, kind in ((explainer, "explainer"), (simulator, "simulator")):  # bad specs fail before the load
        if not (spec in ("tokens", "lm") or spec.startswith(("llm:", "lm:"))):
            _unit_agent(spec, kind)
    m = load_spec(model, json_out, device, dtype)
    expl, simu = _unit_agent(explainer, "explainer", m), _unit_agent(simulator, "simulator", m)
    chosen: list = [u.strip() for u in units.split(",") if u.strip()] if units else sample_units(m, mlp, resid, seed)
    for path in steering or []:
        chosen += steering_units(str(path))
    if not chosen:
        raise MechscopeError("no units to score; pass --units mlp.3:120,resid.5:7 or --mlp/--resid counts above 0")
    with progress(not json_out) as bar:
        job = bar.add_task(f"explaining and simulating {len(chosen)} units", total=None)
        res = score_units(m, chosen, expl, simu, seed=seed, progress=lambda d, t: bar.update(job, completed=d, total=t))
    if records is not None:
        write_json(records, {"model": model, "explainer": explainer, "simulator": simulator, "seed": seed, **res},
                   default=str)
    if json_out:
        print_json(res)
        return
    table = Table(
        title=f"descriptions of {len(chosen)} units of {model} ({explainer} explainer, {simulator} simulator)"
    )
    for col in ("units", "metric", "explained mean", "median", "random mean", "median "):
        table.add_column(col, justify="left" if col in ("units", "metric") else "right")
    for kind, metrics in res["summary"].items():
        for metric in METRICS:
            e, r = metrics[metric]["explained"], metrics[metric]["random"]
            cells = [e.get("mean"), e.get("median"), r.get("mean"), r.get("median")]
            table.add_row(f"{kind} ({e['n']})", metric, *("-" if v is None else f"{v:.3f}" for v in cells))
    out.print(table)
    err.print("correlation: simulated vs true activations on held-out texts; detection: AUROC, activating vs "
              "low texts; fuzzing: balanced accuracy on true vs random highlights; random: another unit's description")


@describe_app.command("serve")
def serve_command(
    model: str = typer.Option("smollm2-135m", "--model", "-m", help="model spec to serve"),
    port: int = typer.Option(8080, help="port on 127.0.0.1"),
    max_tokens: int = typer.Option(256, help="cap on generated tokens per reply"),
    device: Device = None,
    dtype: Dtype = None,
) -> None:
    """Serve a model as an OpenAI-compatible chat endpoint on 127.0.0.1 (for llm: interpreters)."""
    from mechscope.describe.serve import serve

    m = load_spec(model, False, device, dtype)
    err.print(f"serving {model} at http://127.0.0.1:{port}/v1 (Ctrl-C stops)")
    serve(m, port=port, max_tokens=max_tokens)
