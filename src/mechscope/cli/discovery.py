"""`mechscope discover` and `mechscope evaluate`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mechscope.cli.output import out, print_json, progress, status


def discover_command(
    model: str = typer.Option("smollm2-135m", "--model", "-m", help="model spec"),
    task: str = typer.Option("ioi", "--task", "-t", help="built-in task or task file"),
    method: str = typer.Option("eap-ig", "--method", help="eap, eap-ig, exact, acdc or node"),
    edges: int = typer.Option(None, "--edges", help="keep the top N edges (default: the smallest of MIB's sizes reaching faithfulness 0.8, else the best)"),
    threshold: float = typer.Option(None, "--threshold", help="keep edges with |score| >= TAU (ACDC: its tau)"),
    selection: str = typer.Option("top", "--selection", help="top (|score|), signed (most negative score) or greedy (grow from the logits)"),
    ablation: str = typer.Option("resample", "--ablation", help="resample (corrupted prompts), mean or zero"),
    steps: int = typer.Option(5, "--steps", help="eap-ig integration steps"),
    acdc_metric: str = typer.Option("kl", "--acdc-metric", help="acdc loss: kl or task"),
    n: int = typer.Option(None, "--n", help="examples of a built-in task (default 100)"),
    batch_size: int = typer.Option(16, "--batch-size"),
    no_curve: bool = typer.Option(False, "--no-curve", help="skip the faithfulness curve"),
    bos: bool = typer.Option(False, "--bos", help="put the BOS token before every prompt, as MIB does (docs/faithfulness.md)"),
    out_path: Path = typer.Option(None, "--out", "-o", help="write the circuit JSON here (and a .svg/.png picture)"),
    name: str = typer.Option(None, "--name", help="its name in the experiment store (default: task, method, time)"),
    no_record: bool = typer.Option(False, "--no-record", help="do not record the circuit in the experiment store"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON document on stdout and nothing else"),
) -> None:
    """Find the circuit of a behaviour: score edges on the train split, report faithfulness on the test split.

    The circuit and every edge's score are recorded in the experiment store ($MECHSCOPE_HOME)."""
    import time

    from mechscope.discover import circuit_from_scores, score_edges
    from mechscope.graph import Graph
    from mechscope.models import load
    from mechscope.tasks import load_task

    params = {"steps": steps} if method == "eap-ig" else {}
    if method == "acdc":
        params = {"tau": threshold if threshold is not None else 0.01, "metric": acdc_metric}
        threshold = None
    t = load_task(task, n=n)
    with status(f"loading {model}", json_out):
        m = load(model)
    graph = Graph.from_model(m)
    n_train = len(t.split("train"))
    units = graph.n_edges if method in ("exact", "acdc") else n_train
    if method == "node":
        units = graph.n_sources
    if name is not None and not no_record:
        from mechscope.store import check_name

        check_name(name)
    t0 = time.perf_counter()
    with progress() as bar:
        job = bar.add_task(f"{method} on {t.name} (train split)", total=units)
        scores = score_edges(graph, t.split("train"), method, bos=bos, ablation=ablation, batch_size=batch_size,
                             progress=lambda k: bar.advance(job, k), **params)
    with status("evaluating the circuit on the test split", json_out):
        circuit = circuit_from_scores(graph, t, scores, method, edges=edges, threshold=threshold,
                                      selection=selection, ablation=ablation, batch_size=batch_size,
                                      curve=not no_curve, bos=bos, scoring_seconds=time.perf_counter() - t0, **params)
    record = None
    if not no_record:
        from mechscope.store import Store, record_circuit

        entry = record_circuit(Store(), circuit, scores, name=name)
        record = {"kind": entry.kind, "name": entry.name, "id": entry.id}
    pictures = []
    if out_path is not None:
        circuit.save(out_path)
        from mechscope.discover.draw import draw_circuit

        pictures = [str(p) for p in draw_circuit(circuit.edges, m.adapter.n_layers, m.adapter.n_heads,
                                                 Path(out_path).with_suffix(""),
                                                 title=f"{method} circuit, {t.name}, {model}")]
    doc = {"method": method, "model": model, "task": t.name, "edges_total": circuit.edges_total,
           "edges_kept": len(circuit.edges), "faithfulness": circuit.faithfulness, "spread": circuit.spread,
           "curve": [{"edges": p["edges"], "faithfulness": p["faithfulness"]} for p in circuit.curve],
           "areas": circuit.areas, "size": circuit.params.get("size"), "top_nodes": circuit.top_nodes(8), "seconds": circuit.seconds["total"],
           "out": str(out_path) if out_path else None, "pictures": pictures, "record": record}
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


def circuit_task(circuit, task: str | None, n: int | None):
    """`task` (a built-in name or file), or by default the circuit's own task rebuilt as it was found."""
    from mechscope.tasks import load_task

    if task is None:
        builtin = circuit.task_source.startswith("builtin:")
        task = circuit.task_source.removeprefix("builtin:") or circuit.task
        n = n if n is not None or not builtin else circuit.task_size
    return load_task(task, n=n)


def evaluate_command(
    circuit_path: Path = typer.Argument(..., help="circuit JSON written by `mechscope discover --out`"),
    task: str = typer.Option(None, "--task", "-t", help="task (default: the circuit's own)"),
    model: str = typer.Option(None, "--model", "-m", help="model spec (default: the circuit's own)"),
    split: str = typer.Option("test", "--split", help="train, test or all"),
    n: int = typer.Option(None, "--n", help="examples of a built-in task"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON document on stdout and nothing else"),
) -> None:
    """Re-evaluate a saved circuit, possibly on another task file or model version."""
    from mechscope.discover import Circuit, evaluate_circuit
    from mechscope.graph import Graph
    from mechscope.models import load

    circuit = Circuit.load(circuit_path)
    t = circuit_task(circuit, task, n)
    m = load(model or circuit.model_spec)
    with status("evaluating", json_out):
        res = evaluate_circuit(Graph.from_model(m), circuit, t, split=split)
    doc = {"circuit": str(circuit_path), "model": m.spec, **res}
    if json_out:
        print_json(doc)
        return
    out.print(f"{doc['edges_kept']:,} edges on {doc['task']} ({split} split, model {m.spec}"
              f"{'' if doc['same_model'] else ', another version than the circuit was found on'}): "
              f"faithfulness [bold]{doc['faithfulness']:.3f}[/], median {_fmt(doc['spread']['median'])}, "
              f"IQR {_fmt(doc['spread']['iqr'])}")
