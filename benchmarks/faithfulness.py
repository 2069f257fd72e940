"""Faithfulness curves of discovered circuits, per task, method and selection.

Scores edges on each task's train split, then prints faithfulness on the test
split at MIB's edge fractions, CPR and CMD, and the first size reaching the
target (0.8 by default).

    python benchmarks/faithfulness.py --tasks ioi,greater-than --methods eap-ig --selections top,signed
    python benchmarks/faithfulness.py --tasks path/to/autocircuit.json --n 120
"""

from __future__ import annotations

import argparse
import json
import time

import mechscope as ms
from mechscope import discover as D


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--tasks", default="ioi,induction,greater-than,gendered-pronoun")
    ap.add_argument("--methods", default="eap-ig", help="comma list of eap, eap-ig, eap-ig-edges")
    ap.add_argument("--selections", default="top,signed")
    ap.add_argument("--n", type=int, default=100, help="examples per built-in task")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=25)
    ap.add_argument("--target", type=float, default=0.8)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    model = ms.load(args.model)
    graph = ms.Graph.from_model(model)
    rows = []
    for task_name in args.tasks.split(","):
        task = ms.load_task(task_name, n=args.n)
        train = task.split("train").encode(model.tokenizer)
        test = task.split("test").encode(model.tokenizer)
        runner = D.PatchedRunner(graph, test, batch_size=args.batch_size)
        for method in args.methods.split(","):
            t0 = time.perf_counter()
            if method == "eap":
                scores = D.eap(graph, train, batch_size=args.batch_size)
            elif method in ("eap-ig", "eap-ig-edges"):
                scores = D.eap_ig(graph, train, steps=args.steps, batch_size=args.batch_size,
                                  interpolate="edges" if method == "eap-ig-edges" else "inputs")
            else:
                raise SystemExit(f"unknown method {method}")
            seconds = time.perf_counter() - t0
            for selection in args.selections.split(","):
                curve = D.faithfulness_curve(graph, scores, runner, selection=selection)
                first = next((p for p in curve if p["faithfulness"] >= args.target), None)
                row = {"task": task.name, "method": method, "selection": selection, "scoring_seconds": round(seconds, 1),
                       "curve": [(p["edges"], p["edges_after_pruning"], round(p["faithfulness"], 3)) for p in curve],
                       **D.curve_areas(curve),
                       "first_at_target": first and {"edges": first["edges"], "kept": first["edges_after_pruning"],
                                                     "faithfulness": round(first["faithfulness"], 3)}}
                rows.append(row)
                print(f"{task.name:18s} {method:13s} {selection:7s} scoring {seconds:6.1f} s  "
                      f"CPR {row['cpr']:.3f} CMD {row['cmd']:.3f}  first >= {args.target}: {row['first_at_target']}")
                print("    edges asked/kept -> faithfulness: " +
                      ", ".join(f"{a}/{k}: {f}" for a, k, f in row["curve"]), flush=True)
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
