"""`mechscope demo`: the main job on the embedded model, step by step."""

from __future__ import annotations

import time

from mechscope.cli.output import err, out, print_json, progress


def run_demo(model_spec: str, json_out: bool) -> dict:
    """Load the model, verify the engine, measure IOI, summarise the graph."""
    from mechscope.graph import Graph
    from mechscope.graph.verify import verify
    from mechscope.models import load
    from mechscope.tasks import evaluate, load_task

    doc: dict = {"model": model_spec}
    t0 = time.perf_counter()
    with progress(enabled=True) as bar:
        steps = bar.add_task("demo", total=4)
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
    err.print(f"done in {doc['seconds']} s")
    return doc
