"""`mechscope compare BASE VERSION... --task T`: what compression or fine-tuning changed."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from mechscope.cli.options import Device, Dtype
from mechscope.cli.output import _clean, err, out, print_json, progress


def compare_command(
    base: str = typer.Argument(..., help="base model spec or version name"),
    versions: list[str] = typer.Argument(..., help="version names (or model specs such as hf:<dir>)"),
    tasks: list[str] = typer.Option(["ioi"], "--task", "-t", help="built-in task or task file; repeat for more"),
    n: int = typer.Option(None, "--n", help="examples per built-in task (default 100)"),
    circuits: str = typer.Option("all", "--circuits", help="all (base's and each version's own), base or none"),
    circuit_edges: int = typer.Option(None, "--circuit-edges", help="circuit size in edges (default 1% of edges)"),
    circuit_method: str = typer.Option(None, "--circuit-method", help="discovery method for circuits (default "
                                       "the compare record's)"),
    selection: str = typer.Option("signed", "--selection", help="circuit selection: signed, top or greedy"),
    steps: int = typer.Option(5, "--steps", help="eap-ig integration steps"),
    batch_size: int = typer.Option(16, "--batch-size"),
    no_latency: bool = typer.Option(False, "--no-latency", help="skip the latency measurement"),
    latency_all: bool = typer.Option(False, "--latency-all", help="also time versions that run the base's float32 "
                                     "kernels on the same shapes (default: they report the base's latency)"),
    steer: Path = typer.Option(None, "--steer", help="a steering file: its effect and damage on the base and "
                               "on each version, at the file's strength"),
    steer_prompts: str = typer.Option(None, "--steer-prompts", help="prompts to steer (default: the file's concept)"),
    steer_neutral: str = typer.Option(None, "--steer-neutral", help="neutral text for damage (default: the "
                                      "file's concept)"),
    out_path: Path = typer.Option(None, "--out", "-o", help="write the JSON document here too"),
    record: bool = typer.Option(True, "--record/--no-record", help="record the comparison in the store"),
    device: Device = None,
    dtype: Dtype = None,
    json_out: bool = typer.Option(False, "--json", help="print one JSON document on stdout and nothing else"),
) -> None:
    """Compare versions with their base: size, latency, behaviour, activations per layer, weights and circuits."""
    from mechscope.cli.runs import rich_report
    from mechscope.runs import RunSpec, execute
    from mechscope.runs.execute import compute
    from mechscope.runs.registry import default_method

    params = {"versions": list(versions), "tasks": list(tasks), "circuits": circuits, "circuit_edges": circuit_edges,
              "selection": selection, "steps": steps, "batch_size": batch_size,
              "latency": not no_latency, "latency_all": latency_all, "steer": str(steer) if steer is not None else None,
              "steer_prompts": steer_prompts, "steer_neutral": steer_neutral, "cache_circuits": record}
    if circuit_method is not None:
        params["circuit_method"] = circuit_method
    spec = RunSpec("compare", default_method("compare"), base, None, n, params, device=device, dtype=dtype)
    spec.normalized()
    with progress(not json_out) as bar:
        report = rich_report(bar, bar.add_task(f"loading {base}", total=None))
        if record:
            run = execute(spec, report=report)
            result, name = run.value, run.row["name"]
        else:
            result, name = compute(spec, report), None
    result = {k: v for k, v in result.items() if k != "examples"}
    if name is not None:
        result["record"] = name
    if out_path is not None:
        from mechscope.atomic import write_bytes

        write_bytes(out_path, json.dumps(_clean(result), indent=2).encode())
    if json_out:
        print_json(result)
        return
    print_comparison(result)
    if out_path is not None:
        err.print(f"wrote {out_path}")


def print_comparison(doc: dict) -> None:
    """The comparison as tables: behaviour, mechanism, layer similarity; then flips and weights per version."""
    b = doc["base"]
    table = Table(title=f"behaviour: versions of {b['name']} ({_mb(b['size_bytes'])}, latency {_ms(b['latency_ms'])})")
    for col in ("version", "operation", "size", "latency", "task", "metric (base)", "accuracy (base)", "top-1 agree",
                "KL", "flips -/+"):
        table.add_column(col, justify="left" if col in ("version", "operation", "task") else "right")
    for r in doc["versions"]:
        table.add_row(r["name"], r["label"], f"{_mb(r['size_bytes'])} ({r['size_ratio']:.2f}x)", _ms(r["latency_ms"]),
                      r["task"], f"{r['task_metric']:.2f} ({r['base_task_metric']:.2f})",
                      f"{r['accuracy']:.2f} ({r['base_accuracy']:.2f})", f"{r['top1_agreement']:.2f}",
                      f"{r['kl']:.4f}", f"{r['flips_to_wrong']}/{r['flips_to_right']}")
    out.print(table)
    table = Table(title="mechanism: the base's circuit on each version, each version's own circuit")
    for col in ("version", "task", "diverges at layer", "base circuit faithfulness (on base)",
                "own circuit faithfulness", "circuit Jaccard", "heads entered", "heads left"):
        table.add_column(col, justify="left" if col in ("version", "task", "heads entered", "heads left") else "right")
    for r in doc["versions"]:
        bt = b["tasks"][r["task"]]
        table.add_row(r["name"], r["task"], _layer(r["first_diverging_layer"]),
                      _f(r["circuit_faithfulness_of_base"], bt.get("circuit_faithfulness")),
                      _f(r["circuit_faithfulness_own"]), _f(r["circuit_jaccard"]), _heads(r["heads_entered"]),
                      _heads(r["heads_left"]))
    out.print(table)
    _print_layers(doc)
    if "steering" in b:
        _print_steering(doc)
    for r in doc["versions"]:
        w = r["weights"]
        lines = [f"weights: {w['changed_tensors']} tensors changed, relative change {w['relative_change']:.3f}, "
                 f"sparsity {w['sparsity']:.3f}; latency "
                 + (f"the base's ({r['runtime']}: same kernels and shapes; --latency-all times it)"
                    if r.get("latency_from") == "base" else f"measured with {r['runtime'] or '-'}")]
        if r.get("circuit_note"):
            lines.append(f"[yellow]circuit:[/] {r['circuit_note']}")
        flips = [f for f in r["top_flips"] if f["flipped"]][:3] or r["top_flips"][:1]
        for f in flips:
            lines.append(f"{'flipped' if f['flipped'] else 'changed most'}: {f['prompt']!r} -> {f['answer']!r}: "
                         f"metric {f['base_metric']:.2f} -> {f['metric']:.2f}"
                         + (f", top token {f['base_top']!r} -> {f['top']!r}" if "top" in f else ""))
        out.print(f"[bold]{r['name']}[/] on {r['task']}:\n  " + "\n  ".join(lines))
    if doc.get("record"):
        out.print(f"recorded as {doc['record']} (`mechscope store list`)")


def _print_steering(doc: dict) -> None:
    s = doc["base"]["steering"]
    table = Table(title=f"steering {s['file']} ({s['method']}, strength {s['strength']:g}) on each version")
    for col in ("model", "effect (unsteered)", "neutral perplexity rise", "KL", "top-1 agree"):
        table.add_column(col, justify="left" if col == "model" else "right")
    seen = set()
    for name, st in [(doc["base"]["name"] + " (base)", s)] + [(r["name"], r["steering"]) for r in doc["versions"]]:
        if name in seen:
            continue
        seen.add(name)
        table.add_row(name, f"{_f(st['effect'])} ({_f(st['unsteered_effect'])})", _f(st["delta_ppl"]), _f(st["kl"]),
                      _f(st["top1_agreement"]))
    out.print(table)


def _layer(x) -> str:
    return "none" if x is None else str(x)


def _heads(heads) -> str:
    if heads is None:
        return "-"
    return ", ".join(heads[:6]) + (f" +{len(heads) - 6}" if len(heads) > 6 else "") if heads else "none"


def _print_layers(doc: dict) -> None:
    rows = doc["versions"]
    if not rows:
        return
    table = Table(title="residual stream per layer: linear CKA / relative error against the base")
    table.add_column("layer", justify="right")
    for r in rows:
        table.add_column(f"{r['name']}\n{r['task']}", justify="right")
    for i in range(len(rows[0]["layer_similarity"])):
        cells = []
        for r in rows:
            d = r["layer_similarity"][i]
            mark = "[red]" if r["first_diverging_layer"] is not None and i >= r["first_diverging_layer"] else ""
            cells.append(f"{mark}{d['cka']:.4f} / {d['relative_error']:.3f}")
        table.add_row(str(i), *cells)
    out.print(table)


def _mb(n) -> str:
    return "-" if n is None else f"{n / 1e6:.1f} MB"


def _ms(x) -> str:
    return "-" if x is None else f"{x:.0f} ms"


def _f(x, base=None) -> str:
    if x is None:
        return "-"
    return f"{x:.2f}" + (f" ({base:.2f})" if base is not None else "")
