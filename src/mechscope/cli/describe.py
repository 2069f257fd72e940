"""`mechscope describe build|run|unit|serve`: the FIND-style description benchmark."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mechscope.atomic import write_json
from mechscope.cli.options import Device, Dtype, load_spec
from mechscope.cli.output import err, out, print_json, progress
from mechscope.cli.runs import rich_report

describe_app = typer.Typer(
    help="Describe what functions and model units compute; score it on a FIND-style benchmark.", no_args_is_help=True
)
JSON_HELP = "print one JSON document on stdout and nothing else"


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
    params = {"size": size, "out": str(out_dir) if out_dir else None, "unit_tests": unit_tests, "strings": strings}
    doc = _describe("build", None, params, seed, json_out)
    if json_out:
        print_json(doc)
        return
    root = Path(doc["path"])
    table = Table(title=f"describe benchmark at {root} (seed {seed})")
    table.add_column("category")
    table.add_column("functions", justify="right")
    for cat, n in sorted(doc["categories"].items()):
        table.add_row(cat, str(n))
    out.print(table)
    out.print(f"run a function as a script: python {root / 'numeric' / 'f0000.py'} 1 2 3")


def _list(text: str) -> list[str]:
    return [d.strip() for d in text.split(",") if d.strip()]


def _describe(command: str, model: str | None, params: dict, seed: int, quiet: bool, device: str | None = None,
              dtype: str | None = None) -> dict:
    """Execute the description run of the method the registry offers through `command`, with a progress bar; its
    document."""
    from mechscope.runs import RunSpec, execute
    from mechscope.runs.registry import method_for

    method = method_for("describe", "command", command)

    given = {k: v for k, v in params.items() if v is not None}
    spec = RunSpec("describe", method, *([model] if model else []), params=given, seed=seed, device=device,
                   dtype=dtype)
    spec.normalized()  # bad parameters are refused before any work
    with progress(not quiet) as bar:
        job = bar.add_task(spec.label(), total=None)
        row = execute(spec, report=rich_report(bar, job)).row
    return {k: v for k, v in row.items() if k not in ("kind", "run", "run_hash")}


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
    params = {"interpreter": interpreter, "bench": str(bench_dir) if bench_dir else None, "domains": _list(domains),
              "limit": limit, "heldout": heldout, "rounds": rounds, "judge": judge}
    res = _describe("run", None, params, 0, json_out)
    bench = Path(res["bench"])
    if records is not None:
        write_json(records, {"interpreter": interpreter, "heldout": heldout, "judge": judge, **res}, default=str)
    if json_out:
        print_json(res["summary"])
        return
    table = Table(
        title=f"{interpreter} on {bench}" + (f" (held out {heldout:.0%} of primitives)" if heldout else "")
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
    doc = _describe("unit", model, {"unit": unit, "top_k": top_k}, 0, json_out, device, dtype)
    if json_out:
        print_json(doc)
        return
    out.print(f"[bold]{doc['unit']}[/] of {model}: {doc['description'].split(';')[0]}")
    table = Table(title="top-activating inputs")
    table.add_column("word")
    table.add_column("act", justify="right")
    table.add_column("text")
    table.add_column("act", justify="right")
    for (w, a), (t, b) in zip(doc["top_inputs"], doc["top_texts"]):
        table.add_row(w, f"{a:.3f}", t, f"{b:.3f}")
    out.print(table)


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
    params = {"units": _list(units) if units else None, "mlp": mlp, "resid": resid,
              "steering": [str(p) for p in steering] if steering else None, "explainer": explainer,
              "simulator": simulator}
    res = _describe("units", model, params, seed, json_out, device, dtype)
    if records is not None:
        write_json(records, {"model": model, "explainer": explainer, "simulator": simulator, "seed": seed, **res},
                   default=str)
    if json_out:
        print_json(res)
        return
    table = Table(
        title=f"descriptions of {len(res['units'])} units of {model} ({explainer} explainer, {simulator} simulator)"
    )
    for col in ("units", "metric", "explained mean", "median", "random mean", "median "):
        table.add_column(col, justify="left" if col in ("units", "metric") else "right")
    for kind, metrics in res["summary"].items():
        for metric in metrics:
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
