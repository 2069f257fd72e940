"""`mechscope test-circuit`: the hypothesis tests of Shi et al. (2024) on a saved circuit."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mechscope.cli.discovery import circuit_spec
from mechscope.cli.options import Device, Dtype
from mechscope.cli.output import out, print_json, progress
from mechscope.cli.runs import compute_cells, rich_report
from mechscope.errors import MechscopeError

TESTS_HELP = "comma-separated: equivalence, independence, minimality, sufficiency, necessity"


def test_circuit_command(
    circuit_path: Annotated[Path, typer.Argument(help="circuit JSON written by `mechscope discover --out`")],
    task: str = typer.Option(None, "--task", "-t", help="built-in task or task file (default: the circuit's own)"),
    model: str = typer.Option(None, "--model", "-m", help="model spec (default: the circuit's own)"),
    tests: str = typer.Option("equivalence,independence,minimality,sufficiency,necessity", "--tests",
                              help=TESTS_HELP),
    split: str = typer.Option("test", "--split", help="examples to test on: train, test or all"),
    n: int = typer.Option(None, "--n", help="examples of a built-in task (default: the circuit's task size)"),
    ablation: str = typer.Option(None, "--ablation", help="resample, mean or zero (default: the circuit's own)"),
    alpha: float = typer.Option(0.05, "--alpha", help="significance level of every test"),
    seed: int = typer.Option(0, "--seed", help="seed for random circuits and permutations"),
    n_random: int = typer.Option(100, "--n-random", help="random circuits for minimality, sufficiency, necessity"),
    epsilon: float = typer.Option(0.1, "--epsilon", help="equivalence tolerance around 1/2"),
    tie_tol: float = typer.Option(0.0, "--tie-tol", help="equivalence: score differences up to this count as ties"),
    n_permutations: int = typer.Option(1000, "--n-permutations", help="permutations of the independence test"),
    quantile: float = typer.Option(0.9, "--quantile", help="minimality's q*: share of random edges an edge must beat"),
    max_edges: int = typer.Option(None, "--max-edges", help="minimality: test a random sample of this many edges"),
    complement: bool = typer.Option(False, "--complement", help="necessity: draw random circuits from the edges "
                                    "outside the circuit (advisable for circuits of a few edges)"),
    batch_size: int = typer.Option(16, "--batch-size"),
    seeds: str = typer.Option(None, "--seeds", help="comma-separated seeds: one run per seed (instead of --seed), "
                              "computed on --executor; prints each seed's tests and how many seeds each passed"),
    executor: str = typer.Option("inprocess", "--executor", help="where the runs of --seeds are computed: "
                                 "inprocess, local (a process pool) or ray"),
    workers: int = typer.Option(None, "--workers", help="processes of the local pool or Ray (default: one per core)"),
    ray_address: str = typer.Option(None, "--ray-address", help="join the Ray cluster at ADDR"),
    device: Device = None,
    dtype: Dtype = None,
    json_out: bool = typer.Option(False, "--json", help="print one JSON document on stdout and nothing else"),
) -> None:
    """Test a circuit: equivalence, independence, minimality, sufficiency and partial necessity (Shi et al. 2024)."""
    from mechscope.runs import execute

    params = {"tests": [t.strip() for t in tests.split(",") if t.strip()], "split": split, "ablation": ablation,
              "alpha": alpha, "n_random": n_random, "epsilon": epsilon, "tie_tol": tie_tol,
              "n_permutations": n_permutations, "quantile": quantile, "max_edges": max_edges,
              "complement": complement, "batch_size": batch_size}
    if seeds is not None or executor != "inprocess" or ray_address:
        try:
            chosen = [seed] if seeds is None else list(dict.fromkeys(int(x) for x in seeds.split(",") if x.strip()))
        except ValueError:
            raise MechscopeError(f"--seeds takes whole numbers, e.g. --seeds 0,1,2; got {seeds!r}") from None
        if not chosen:
            raise MechscopeError("--seeds names no seed; e.g. --seeds 0,1,2")
        where = circuit_path if executor == "inprocess" else circuit_path.resolve()  # another process's cwd may differ
        spec = circuit_spec("hypothesis", where, model, task, n, params, chosen[0], device, dtype)
        docs = compute_cells([replace(spec, seed=s) for s in chosen], [f"seed {s}" for s in chosen], executor,
                             workers, ray_address, json_out, "test runs")
        names = spec.normalized().params["tests"]
        for doc in docs:
            doc["circuit"]["path"] = str(circuit_path)  # as given
        if json_out:
            print_json(docs if seeds is not None else docs[0])  # one run on another executor: the one document
            return
        if seeds is None:
            print_tests(docs[0], names)
            return
        for doc in docs:
            print_tests(doc, names)
        for name in names:
            passed = sum(bool(d[name]["passed"]) for d in docs)
            out.print(f"[bold]{name}[/]: passed for {passed} of {len(docs)} seeds ({', '.join(map(str, chosen))})")
        return
    spec = circuit_spec("hypothesis", circuit_path, model, task, n, params, seed, device, dtype)
    names = spec.normalized().params["tests"]
    with progress(not json_out) as bar:
        doc = execute(spec, report=rich_report(bar, bar.add_task(spec.label(), total=None))).value
    if json_out:
        print_json(doc)
    else:
        print_tests(doc, names)


test_circuit_command.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported into one


def print_tests(doc: dict, names: list[str]) -> None:
    c = doc["circuit"]
    table = Table(title=f"circuit {c['path']}: {c['edges']:,} of {c['edges_total']:,} edges, {c['task']} "
                        f"({c['split']} split, {c['n']} examples), {c['model']}, ablation {c['ablation']}")
    table.add_column("test")
    table.add_column("statistic", justify="right")
    table.add_column("p-value", justify="right")
    table.add_column("verdict")
    for name in names:
        r = doc[name]
        verdict = "[green]pass[/]" if r["passed"] else "[red]fail[/]"
        table.add_row(name, _num(r["statistic"]), _num(r["p_value"]), verdict)
    out.print(table)
    for name in names:
        r = doc[name]
        out.print(f"[bold]{name}[/]: H0 {r['null']}" + (f" ({r['note']})" if r.get("note") else ""))
    if "minimality" in doc and doc["minimality"]["not_needed"]:
        shown = doc["minimality"]["not_needed"]
        more = f" and {len(shown) - 10} more" if len(shown) > 10 else ""
        out.print(f"edges not needed (Holm, alpha {c['alpha']}): " + ", ".join(shown[:10]) + more)
    if "minimality" in doc and doc["minimality"]["sampled"]:
        mt = doc["minimality"]
        out.print(f"minimality tested a random sample of {len(mt['edges_tested'])} of {mt['circuit_edges']} edges")


def _num(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.3g}"
