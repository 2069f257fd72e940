"""`mechscope compare BASE VERSION... --task T`: what compression or fine-tuning changed."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from mechscope.cli.output import _clean, err, out, print_json, progress
from mechscope.errors import MechscopeError


def compare_command(
    base: str = typer.Argument(..., help="base model spec or version name"),
    versions: list[str] = typer.Argument(..., help="version names (or model specs such as hf:<dir>)"),
    tasks: list[str] = typer.Option(["ioi"], "--task", "-t", help="built-in task or task file; repeat for more"),
    n: int = typer.Option(None, "--n", help="examples per built-in task (default 100)"),
    circuits: str = typer.Option("all", "--circuits", help="all (base's and each version's own), base or none"),
    circuit_edges: int = typer.Option(None, "--circuit-edges", help="circuit size in edges (default 1% of edges)"),
    circuit_method: str = typer.Option("eap-ig", "--circuit-method", help="discovery method for circuits"),
    selection: str = typer.Option("signed", "--selection", help="circuit selection: signed, top or greedy"),
    steps: int = typer.Option(5, "--steps", help="eap-ig integration steps"),
    batch_size: int = typer.Option(16, "--batch-size"),
    no_latency: bool = typer.Option(False, "--no-latency", help="skip the latency measurement"),
    steer: Path = typer.Option(None, "--steer", help="a steering file: its effect and damage on the base and "
                               "on each version, at the file's strength"),
    steer_prompts: str = typer.Option(None, "--steer-prompts", help="prompts to steer (default: the file's concept)"),
    steer_neutral: str = typer.Option(None, "--steer-neutral", help="neutral text for damage (default: the "
                                      "file's concept)"),
    out_path: Path = typer.Option(None, "--out", "-o", help="write the JSON document here too"),
    record: bool = typer.Option(True, "--record/--no-record", help="record the comparison in the store"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON document on stdout and nothing else"),
) -> None:
    """Compare versions with their base: size, latency, behaviour, activations per layer, weights and circuits."""
    from mechscope.compare import Baseline, CircuitSettings, Settings, compare, steps_per_version
    from mechscope.store import Store, cached_finder, is_version, load_model, load_version, save_comparison
    from mechscope.tasks import load_task

    store = Store()
    task_list = [load_task(t, n=n) for t in dict.fromkeys(tasks)]
    if base in versions:
        raise MechscopeError(f"{base!r} is the base; list only the versions to compare with it")
    for v in versions:  # fail on a misspelt name before any model loads
        if not is_version(store, v) and ":" not in v:
            store.get("version", v)
    circuit_settings = CircuitSettings(which=circuits, method=circuit_method, edges=circuit_edges,
                                       selection=selection, steps=steps, batch_size=batch_size)
    settings = Settings(batch_size=batch_size, circuits=circuit_settings, latency=not no_latency)
    find = cached_finder(store, circuit_settings) if record else circuit_settings.finder()
    probes = {"steering": steering_probe(steer, steer_prompts, steer_neutral)} if steer is not None else {}
    per_version = steps_per_version(settings, len(task_list), len(probes)) + 1
    base_steps = len(task_list) * (2 if circuits != "none" else 1) + (1 if settings.latency else 0) + 1 + len(probes)
    with progress(not json_out) as bar:
        job = bar.add_task(f"loading {base}", total=base_steps + per_version * len(versions))

        def step(description: str) -> None:
            bar.update(job, description=description, advance=1)

        base_model = load_model(store, base)
        baseline = Baseline(base_model, task_list, settings, name=base, find=find, step=step, probes=probes)
        del base_model

        def loaded():
            for v in versions:
                step(f"loading {v}")
                yield (load_version(store, v) if is_version(store, v) else None), load_model(store, v)

        result = compare(baseline, loaded(), step=step)
    examples = result.pop("examples")
    if record:
        entry = save_comparison(store, {**result, "examples": examples})
        result["record"] = entry.name
    if out_path is not None:
        from mechscope.atomic import write_bytes

        write_bytes(out_path, json.dumps(_clean(result), indent=2).encode())
    if json_out:
        print_json(result)
        return
    print_comparison(result)
    if out_path is not None:
        err.print(f"wrote {out_path}")


def steering_probe(path: Path, prompts: str | None = None, neutral: str | None = None, n_prompts: int = 8,
                   n_neutral: int = 16, max_new_tokens: int = 20):
    """A probe (model -> dict) measuring a steering file at its default strength: the concept's effect on
    generations from the prompts, and the damage on neutral text (perplexity rise, KL, top-1 agreement)."""
    from mechscope.steer import SteeringFile, evaluate_steering, load_concept, read_sentences

    sf = SteeringFile.load(path)
    concept = load_concept(sf.manifest["concept"]) if sf.manifest.get("concept") else None
    if concept is None and (prompts is None or neutral is None):
        raise MechscopeError(f"steering file {path} names no concept; pass --steer-prompts and --steer-neutral")
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
                 f"sparsity {w['sparsity']:.3f}; latency measured with {r['runtime'] or '-'}"]
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
