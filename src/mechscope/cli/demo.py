"""`mechscope demo`: the main job on the embedded model, step by step."""

from __future__ import annotations

import time
from pathlib import Path

from mechscope.cli.output import err, out, print_json, progress


def run_demo(model_spec: str, json_out: bool, out_dir: Path = Path("mechscope-demo")) -> dict:
    """Load the model, verify the engine, measure IOI, summarise the graph, find the IOI circuit,
    make a Q4_0 and a 50%-pruned version and show what they changed, steer toward a concept; everything
    is recorded in the experiment store."""
    from mechscope.discover.draw import draw_circuit
    from mechscope.graph import Graph
    from mechscope.graph.verify import verify
    from mechscope.runs import RunSpec, execute
    from mechscope.runs.models import cached_model
    from mechscope.tasks import evaluate, load_task

    doc: dict = {"model": model_spec}
    t0 = time.perf_counter()
    with progress(enabled=True) as bar:
        steps = bar.add_task("demo", total=9)
        bar.update(steps, description=f"loading {model_spec}")
        model = cached_model(model_spec)  # the model the demo's runs use
        doc["fingerprint"] = model.fingerprint
        bar.advance(steps)

        bar.update(steps, description="verifying edge patching")
        doc["verify"] = verify(model)
        bar.advance(steps)

        bar.update(steps, description="running the IOI task")
        task = load_task("ioi")
        doc["ioi"] = {"size": len(task.examples), **evaluate(model, task)}
        bar.advance(steps)

        bar.update(steps, description="building the graph")
        graph = Graph.from_model(model)
        doc["graph"] = {"family": model.adapter.family, **graph.counts()}
        bar.advance(steps)

        bar.update(steps, description="finding the IOI circuit (eap-ig, 1% of edges, signed selection)")
        run = RunSpec("discover", "eap-ig", model_spec, "ioi",
                      params={"edges": max(1, graph.n_edges // 100), "selection": "signed"})
        circuit, _ = execute(run, name="demo-ioi-circuit").value
        circuit.save(out_dir / "ioi-circuit.json")
        pictures = draw_circuit(circuit.edges, model.adapter.n_layers, model.adapter.n_heads,
                                out_dir / "ioi-circuit", title=f"IOI circuit of {model_spec} (eap-ig)",
                                n_kv_heads=model.adapter.n_kv_heads, max_edges=150)
        doc["circuit"] = {"edges_kept": len(circuit.edges), "edges_total": graph.n_edges,
                          "faithfulness": circuit.evaluation.faithfulness, "spread": circuit.evaluation.spread,
                          "top_nodes": circuit.top_nodes(8), "file": str(out_dir / "ioi-circuit.json"),
                          "pictures": [str(p) for p in pictures], "seconds": circuit.evaluation.seconds["total"]}
        bar.advance(steps)

        bar.update(steps, description="making a Q4_0 and a 50%-pruned version (recorded in the store)")
        versions = make_demo_versions(model)
        bar.advance(steps)

        bar.update(steps, description="comparing the versions with the model on IOI")
        doc["versions"] = compare_demo_versions(model, task, circuit, versions)
        bar.advance(steps)

        bar.update(steps, description="steering toward a shipped concept")
        from mechscope.cli.steer import run_steering_demo

        doc["steering"] = run_steering_demo(model, out_dir)
        bar.advance(steps)

        bar.update(steps, description="mapping a shipped prompt set against its reference set")
        doc["data"] = run_data_demo(out_dir)
        bar.advance(steps)
    doc["seconds"] = round(time.perf_counter() - t0, 1)
    from mechscope.store.db import home

    doc["store"] = str(home().resolve())

    if json_out:
        print_json(doc)
        return doc
    from mechscope.cli.main import print_graph_summary, print_verify

    out.rule(f"mechscope demo on {model_spec} ({model.fingerprint})")
    print_verify(doc["verify"])
    ioi = doc["ioi"]
    out.print(
        f"\n[bold]IOI[/] ({ioi['size']} prompts, e.g. {task.examples[0].clean!r} -> {task.examples[0].answers[0]!r}): "
        f"accuracy {ioi['accuracy']:.2f}, top-1 {ioi['top1_accuracy']:.2f}, "
        f"{ioi['metric']} clean {ioi['clean_metric']:.2f} vs corrupted {ioi['corrupt_metric']:.2f} "
        f"(gap {ioi['clean_metric'] - ioi['corrupt_metric']:.2f})\n"
    )
    print_graph_summary({"model": model_spec, "fingerprint": model.fingerprint, **doc["graph"]})
    c = doc["circuit"]
    out.print(
        f"\n[bold]IOI circuit[/] (eap-ig on the train split, signed selection, "
        f"{c['edges_kept']:,} of {c['edges_total']:,} edges): "
        f"faithfulness on the test split [bold]{c['faithfulness']:.3f}[/] "
        f"(per-example median {c['spread']['median']:.3f}, IQR {c['spread']['iqr']:.3f})"
    )
    out.print("top nodes: " + ", ".join(f"{n} ({w:.2f})" for n, w in c["top_nodes"]))
    out.print(f"circuit: {c['file']}; picture: {' '.join(c['pictures'])}")
    print_demo_versions(doc["versions"], c)
    from mechscope.cli.steer import print_steering_demo

    print_steering_demo(doc["steering"])
    print_data_demo(doc["data"])
    err.print(f"done in {doc['seconds']} s")
    return doc


DEMO_VERSIONS = (("demo-q4_0", "quantize", {"type": "q4_0"}),
                 ("demo-magnitude50", "prune", {"method": "magnitude", "sparsity": 0.5}))


def make_demo_versions(model) -> list:
    """The demo's Q4_0 and 50%-pruned versions of `model`: made and recorded once, reused after."""
    from mechscope.compare import make_version
    from mechscope.store import Store, load_version, save_version

    store, versions = Store(), []
    for name, operation, params in DEMO_VERSIONS:
        entry = store.find("version", name)
        if entry is not None and entry.metrics.get("base_fingerprint") == model.fingerprint:
            versions.append(load_version(store, name))
            continue
        version = make_version(model, name, operation, params, base=model.spec)
        save_version(store, version, replace=True, base_model=model)
        versions.append(version)
    return versions


def compare_demo_versions(model, task, circuit, versions) -> dict:
    """Behaviour, layer drift and the IOI circuit's faithfulness on each version (one loaded at a time),
    recorded in the store as the comparison ``demo-compare``."""
    import copy

    from mechscope.compare import Baseline, CircuitSettings, Settings, apply_version, compare
    from mechscope.models import Model
    from mechscope.store import Store, save_comparison

    settings = Settings(circuits=CircuitSettings(which="base"), latency_repeats=3)
    baseline = Baseline(model, [task], settings, find=lambda graph, t: circuit)

    def fresh_versions():
        for version in versions:
            fresh = Model(model.spec, copy.deepcopy(model.hf), model.tokenizer, model.adapter, model.fingerprint)
            yield version, apply_version(fresh, version)

    result = compare(baseline, fresh_versions())
    save_comparison(Store(), result, name="demo-compare")
    rows = []
    for row in result["versions"]:
        row = {k: v for k, v in row.items() if k != "params"}
        row["top_flips"] = row["top_flips"][:3]
        rows.append(row)
    return {"base": result["base"], "versions": rows}


def print_demo_versions(doc: dict, circuit: dict) -> None:
    from rich.table import Table

    table = Table(title="what compression changed (IOI; `mechscope compare` for more)")
    for col in ("version", "size", "latency", "accuracy", "top-1 agree", "KL", "flips -/+", "diverges at layer",
                "IOI circuit faithfulness"):
        table.add_column(col, justify="left" if col == "version" else "right")
    base = doc["base"]
    table.add_row("base", f"{base['size_bytes'] / 1e6:.0f} MB", f"{base['latency_ms']:.0f} ms",
                  f"{base['tasks']['ioi']['accuracy']:.2f}", "1.00", "0", "-", "-", f"{circuit['faithfulness']:.2f}")
    for r in doc["versions"]:
        faith = r["circuit_faithfulness_of_base"]
        table.add_row(f"{r['name']} ({r['label']})", f"{r['size_bytes'] / 1e6:.0f} MB ({r['size_ratio']:.2f}x)",
                      f"{r['latency_ms']:.0f} ms", f"{r['accuracy']:.2f}", f"{r['top1_agreement']:.2f}",
                      f"{r['kl']:.3f}", f"{r['flips_to_wrong']}/{r['flips_to_right']}",
                      "none" if r["first_diverging_layer"] is None else str(r["first_diverging_layer"]),
                      "-" if faith is None else f"{faith:.2f}")
    out.print(table)
    for r in doc["versions"]:
        flipped = [f for f in r["top_flips"] if f["flipped"]]
        if flipped:
            f = flipped[0]
            out.print(f"{r['name']}: {f['prompt']!r} -> {f['answer']!r} flipped "
                      f"({f['base_top']!r} -> {f['top']!r}, metric {f['base_metric']:.2f} -> {f['metric']:.2f})")
    out.print("versions are in the store: `mechscope version list`; compare more with "
              f"`mechscope compare {base['name']} demo-q4_0 demo-magnitude50 --task ioi --task greater-than`")


def run_data_demo(out_dir: Path) -> dict:
    """`mechscope demo`'s data step: map the shipped everyday prompts (MiniLM, UMAP, HDBSCAN) against a broader
    reference set, find empty regions and the reference rows no prompt covers; the map is written to `out_dir`."""
    from mechscope.data import map_prompts

    m = map_prompts("everyday.jsonl", reference="everyday_reference.jsonl", n_regions=3)
    doc = m.to_dict()
    doc["files"] = m.write(out_dir / "everyday.map")
    return doc


def print_data_demo(doc: dict) -> None:
    cov = doc["coverage"]
    out.print(f"\n[bold]Data[/]: {doc['n']} shipped prompts in {len(doc['clusters'])} clusters ("
              + ", ".join(f"{c['label']!r} {c['size']}" for c in doc["clusters"][:5])
              + (", ..." if len(doc["clusters"]) > 5 else "") + f"); {len(doc['empty_regions'])} empty regions; "
              f"{cov:.0%} of the {doc['n_reference']} reference rows covered "
              f"({len(doc['uncovered'])} uncovered, threshold {doc['coverage_threshold']:.2f} = the set's own "
              f"{doc['coverage_quantile']:.2f} nearest-neighbour distance quantile). Fill the gaps: `mechscope data augment everyday.jsonl "
              "--method llm --reference everyday_reference.jsonl --n 30 --out new.jsonl`")
