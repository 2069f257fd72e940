"""`mechscope demo`: the main job on the embedded model, step by step (computed by `mechscope.runs.demo`)."""

from __future__ import annotations

import time
from pathlib import Path

from mechscope.cli.output import err, out, print_json, progress


def run_demo(model_spec: str, json_out: bool, out_dir: Path = Path("mechscope-demo"), device: str | None = None,
             dtype: str | None = None) -> dict:
    """Run the demo (`mechscope.runs.demo.compute_demo`) on `device` in `dtype` behind a progress bar and print what
    it found; everything is recorded in the experiment store."""
    from mechscope.cli.runs import rich_report
    from mechscope.runs.demo import STEPS, compute_demo

    t0 = time.perf_counter()
    with progress(enabled=True) as bar:
        doc = compute_demo(model_spec, out_dir, rich_report(bar, bar.add_task("demo", total=STEPS)),
                           device=device, dtype=dtype)
    doc["seconds"] = round(time.perf_counter() - t0, 1)
    from mechscope.store.db import home

    doc["store"] = str(home().resolve())

    if json_out:
        print_json(doc)
        return doc
    from mechscope.cli.main import print_graph_summary, print_verify

    out.rule(f"mechscope demo on {model_spec} ({doc['fingerprint']}, {doc['device']}, {doc['dtype']})")
    print_verify(doc["verify"])
    ioi = doc["ioi"]
    out.print(
        f"\n[bold]IOI[/] ({ioi['size']} prompts, e.g. {ioi['example']['clean']!r} -> {ioi['example']['answer']!r}): "
        f"accuracy {ioi['accuracy']:.2f}, top-1 {ioi['top1_accuracy']:.2f}, "
        f"{ioi['metric']} clean {ioi['clean_metric']:.2f} vs corrupted {ioi['corrupt_metric']:.2f} "
        f"(gap {ioi['clean_metric'] - ioi['corrupt_metric']:.2f})\n"
    )
    print_graph_summary({"model": model_spec, "fingerprint": doc["fingerprint"], **doc["graph"]})
    c = doc["circuit"]
    out.print(
        f"\n[bold]IOI circuit[/] ({c['method']} on the train split, {c['selection']} selection, "
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


def print_data_demo(doc: dict) -> None:
    cov = doc["coverage"]
    out.print(f"\n[bold]Data[/]: {doc['n']} shipped prompts in {len(doc['clusters'])} clusters ("
              + ", ".join(f"{c['label']!r} {c['size']}" for c in doc["clusters"][:5])
              + (", ..." if len(doc["clusters"]) > 5 else "") + f"); {len(doc['empty_regions'])} empty regions; "
              f"{cov:.0%} of the {doc['n_reference']} reference rows covered "
              f"({len(doc['uncovered'])} uncovered, threshold {doc['coverage_threshold']:.2f} = the set's own "
              f"{doc['coverage_quantile']:.2f} nearest-neighbour distance quantile). Fill the gaps: `mechscope data augment everyday.jsonl "
              "--method llm --reference everyday_reference.jsonl --n 30 --out new.jsonl`")
