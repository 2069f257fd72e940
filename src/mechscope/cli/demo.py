"""`mechscope demo`: the main job on the embedded model, step by step."""

from __future__ import annotations

import time
from pathlib import Path

from mechscope.cli.output import err, out, print_json, progress


def run_demo(model_spec: str, json_out: bool, out_dir: Path = Path("mechscope-demo")) -> dict:
    """Load the model, verify the engine, measure IOI, summarise the graph, find the IOI circuit."""
    from mechscope.discover import find_circuit
    from mechscope.discover.draw import draw_circuit
    from mechscope.graph import Graph
    from mechscope.graph.verify import verify
    from mechscope.models import load
    from mechscope.tasks import evaluate, load_task

    doc: dict = {"model": model_spec}
    t0 = time.perf_counter()
    with progress(enabled=True) as bar:
        steps = bar.add_task("demo", total=5)
        bar.update(steps, description=f"loading {model_spec}")
        model = load(model_spec)
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
        circuit = find_circuit(graph, task, "eap-ig", edges=max(1, graph.n_edges // 100), selection="signed",
                               curve=False)
        circuit.save(out_dir / "ioi-circuit.json")
        pictures = draw_circuit(circuit.edges, model.adapter.n_layers, model.adapter.n_heads,
                                out_dir / "ioi-circuit", title=f"IOI circuit of {model_spec} (eap-ig)",
                                n_kv_heads=model.adapter.n_kv_heads, max_edges=150)
        doc["circuit"] = {"edges_kept": len(circuit.edges), "edges_total": graph.n_edges,
                          "faithfulness": circuit.faithfulness, "spread": circuit.spread,
                          "top_nodes": circuit.top_nodes(8), "file": str(out_dir / "ioi-circuit.json"),
                          "pictures": [str(p) for p in pictures], "seconds": circuit.seconds["total"]}
        bar.advance(steps)
    doc["seconds"] = round(time.perf_counter() - t0, 1)

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
        f"\n[bold]IOI circuit[/] (eap-ig on the train split, signed selection, {c['edges_kept']:,} of {c['edges_total']:,} edges): "
        f"faithfulness on the test split [bold]{c['faithfulness']:.3f}[/] "
        f"(per-example median {c['spread']['median']:.3f}, IQR {c['spread']['iqr']:.3f})"
    )
    out.print("top nodes: " + ", ".join(f"{n} ({w:.2f})" for n, w in c["top_nodes"]))
    out.print(f"circuit: {c['file']}; picture: {' '.join(c['pictures'])}")
    err.print(f"done in {doc['seconds']} s")
    return doc
