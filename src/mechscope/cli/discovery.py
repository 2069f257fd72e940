"""`mechscope discover` and `mechscope evaluate`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mechscope.cli.options import Device, Dtype
from mechscope.cli.output import out, print_json, progress, status
from mechscope.cli.runs import method_params, rich_report, with_method_options


def _default() -> str:
    from mechscope.runs.registry import default_method

    return default_method("discover")


def _discovery_methods() -> list[str]:
    from mechscope.runs import methods

    return [m.name for m in methods("discover")]


@with_method_options("discover")
def discover_command(
    model: str = typer.Option("smollm2-135m", "--model", "-m", help="model spec"),
    task: str = typer.Option("ioi", "--task", "-t", help="built-in task or task file"),
    method: str = typer.Option(None, "--method", help=f"one of {', '.join(_discovery_methods())} (default "
                               f"{_default()})", show_default=False),
    n: int = typer.Option(None, "--n", min=1, help="examples of a built-in task (default 100)"),
    seed: int = typer.Option(0, "--seed", help="seed of the task's examples and split"),
    device: Device = None,
    dtype: Dtype = None,
    out_path: Path = typer.Option(None, "--out", "-o", help="write the circuit JSON here (and a .svg/.png picture)"),
    name: str = typer.Option(None, "--name", help="its name in the experiment store (default: method, task, run hash)"),
    no_record: bool = typer.Option(False, "--no-record", help="do not record the circuit in the experiment store"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON document on stdout and nothing else"),
    method_values: dict = None,
) -> None:
    """Find the circuit of a behaviour: score edges on the train split, report faithfulness on the test split.

    The circuit and every edge's score are recorded in the experiment store ($MECHSCOPE_HOME)."""
    from mechscope.runs import RunSpec, execute
    from mechscope.runs.execute import compute

    method = method or _default()
    spec = RunSpec("discover", method, model, task, n, method_params("discover", method, method_values or {}), seed,
                   device, dtype)
    spec.normalized()
    with progress() as bar:
        job = bar.add_task(spec.label(), total=None)
        report = rich_report(bar, job)
        if no_record:
            circuit, _ = compute(spec, report)
            record = None
        else:
            result = execute(spec, report=report, name=name)
            circuit, _ = result.value
            record = {"kind": result.row["kind"], "name": result.row["name"], "hash": result.hash}
    pictures = []
    if out_path is not None:
        circuit.save(out_path)
        from mechscope.discover.draw import draw_circuit
        from mechscope.runs.models import cached_model

        adapter = cached_model(model, device=device, dtype=dtype).adapter
        pictures = [str(p) for p in draw_circuit(circuit.edges, adapter.n_layers, adapter.n_heads,
                                                 Path(out_path).with_suffix(""),
                                                 title=f"{method} circuit, {circuit.task}, {model}")]
    doc = {"method": method, "model": model, "task": circuit.task, "edges_total": circuit.edges_total,
           "edges_kept": len(circuit.edges), "faithfulness": circuit.evaluation.faithfulness, "spread": circuit.evaluation.spread,
           "curve": [{"edges": p["edges"], "faithfulness": p["faithfulness"]} for p in circuit.evaluation.curve],
           "areas": circuit.evaluation.areas, "size": circuit.params.get("size"), "top_nodes": circuit.top_nodes(8), "seconds": circuit.evaluation.seconds["total"],
           "params": circuit.params, "out": str(out_path) if out_path else None, "pictures": pictures,
           "record": record}
    if json_out:
        print_json(doc)
    else:
        print_circuit(doc)


def print_circuit(doc: dict) -> None:
    out.print(
        f"[bold]{doc['method']}[/] circuit of [bold]{doc['task']}[/] on {doc['model']}: "
        f"{doc['edges_kept']:,} of {doc['edges_total']:,} edges "
        f"({100 * doc['edges_kept'] / doc['edges_total']:.2f}%), faithfulness on the test split "
        f"[bold]{doc['faithfulness']:.3f}[/] (per example median {_fmt(doc['spread'].get('median'))}, "
        f"IQR {_fmt(doc['spread'].get('iqr'))}), {doc['seconds']:.0f} s"
    )
    if doc.get("size"):
        z = doc["size"]
        out.print(f"size chosen from the curve ({z['rule']}): {z['edges']:,} edges ({100 * z['fraction']:g}% of all)")
    if doc["curve"]:
        table = Table(title="faithfulness curve (test split)")
        table.add_column("edges", justify="right")
        table.add_column("faithfulness", justify="right")
        for p in doc["curve"]:
            table.add_row(f"{p['edges']:,}", f"{p['faithfulness']:.3f}")
        out.print(table)
        out.print(f"CPR {_fmt(doc['areas'].get('cpr'))}  CMD {_fmt(doc['areas'].get('cmd'))}")
    out.print("top nodes: " + ", ".join(f"{n} ({w:.2f})" for n, w in doc["top_nodes"]))
    if doc["out"]:
        out.print(f"wrote {doc['out']} " + " ".join(doc["pictures"]))
    if doc.get("record"):
        out.print(f"recorded in the store as circuit {doc['record']['name']!r} (`mechscope store list`)")


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def circuit_spec(kind: str, circuit_path: Path, model: str | None, task: str | None, n: int | None,
                 params: dict, seed: int = 0, device: str | None = None, dtype: str | None = None):
    """The run of `kind` (``evaluate``, ``hypothesis``) on the circuit file `circuit_path`: on `model` (default: the
    circuit's own) and `task` (default: the circuit's own); the file is read first, so a bad one is one line."""
    from mechscope.discover import Circuit
    from mechscope.runs import RunSpec
    from mechscope.runs.registry import default_method

    circuit = Circuit.load(circuit_path)
    spec = RunSpec(kind, default_method(kind), model or circuit.model_spec, task, n,
                   {"circuit": str(circuit_path), **params}, seed, device, dtype)
    spec.normalized()  # bad parameters are refused before any work
    return spec


def evaluate_command(
    circuit_path: Path = typer.Argument(..., help="circuit JSON written by `mechscope discover --out`"),
    task: str = typer.Option(None, "--task", "-t", help="task (default: the circuit's own)"),
    model: str = typer.Option(None, "--model", "-m", help="model spec (default: the circuit's own)"),
    split: str = typer.Option("test", "--split", help="train, test or all"),
    n: int = typer.Option(None, "--n", help="examples of a built-in task"),
    device: Device = None,
    dtype: Dtype = None,
    json_out: bool = typer.Option(False, "--json", help="print one JSON document on stdout and nothing else"),
) -> None:
    """Re-evaluate a saved circuit, possibly on another task file or model version."""
    from mechscope.runs import execute

    spec = circuit_spec("evaluate", circuit_path, model, task, n, {"split": split}, device=device, dtype=dtype)
    with status("evaluating", json_out) as spinner:
        doc = execute(spec, report=spinner and (lambda done, total, message: spinner.update(message))).value
    if json_out:
        print_json(doc)
        return
    out.print(f"{doc['edges_kept']:,} edges on {doc['task']} ({split} split, model {doc['model']}"
              f"{'' if doc['same_model'] else ', another version than the circuit was found on'}): "
              f"faithfulness [bold]{doc['faithfulness']:.3f}[/], median {_fmt(doc['spread']['median'])}, "
              f"IQR {_fmt(doc['spread']['iqr'])}")
