"""Faithfulness curves of discovered circuits, per task, method and selection.

Scores edges on each task's train split, then prints faithfulness on the test
split at MIB's edge fractions, CPR and CMD, and the first size reaching the
target (0.8 by default).

    python benchmarks/faithfulness.py --tasks ioi,greater-than --methods eap-ig --selections top,signed
    python benchmarks/faithfulness.py --tasks path/to/autocircuit.json --n 120
    python benchmarks/faithfulness.py --tasks ioi,ioi-mib --n 48 --bos   # MIB's convention: BOS first
    python benchmarks/faithfulness.py --tasks code-retrieval-d1-before-assert   # any name of builtin_mib.MIB_TASKS

With both top and signed selections it also prints MIB's pair: CPR of the signed
curve and CMD of the |score| curve (`discover.mib_areas`), in one summary row per
task and method with the smallest size reaching the target on each curve (edges
asked, edges kept after pruning, percent of the graph's edges) and the seconds
spent scoring and measuring. ``--bos`` puts the tokenizer's BOS token before every
prompt, as EAP-IG's `tokenize_plus` does (TransformerLens ``prepend_bos=True``).
``--param method.name=value`` changes one parameter of one method from its default
(e.g. ``--param edge-pruning.steps=10``); a row records the parameters it changed.
``--out FILE`` rewrites FILE with the rows so far after every method, so a long run
that is stopped keeps what it finished. The last line printed is the JSON list of rows.

    python benchmarks/faithfulness.py --tasks ioi --n 48 --batch-size 24 \
        --methods eap-ig,edge-pruning,eap-ig-bootstrap,marginal-gain --out out/ioi.json
"""

from __future__ import annotations

import argparse
import json
import os
import time

import mechscope as ms
from mechscope import discover as D
from mechscope.discover.attribution import eap, eap_ig
from mechscope.discover.faithfulness import curve_areas, mib_areas
from mechscope.tasks.builtin_mib import MIB_TASKS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--tasks", default="ioi,induction,greater-than,gendered-pronoun")
    ap.add_argument("--methods", default="eap-ig", help="comma list of eap, eap-ig, eap-ig-edges, or any discover method")
    ap.add_argument("--selections", default="top,signed")
    ap.add_argument("--n", type=int, default=100, help="examples per built-in task")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=25)
    ap.add_argument("--target", type=float, default=0.8)
    ap.add_argument("--bos", action="store_true", help="prepend the BOS token to every prompt (MIB's convention)")
    ap.add_argument("--param", action="append", default=[], metavar="METHOD.NAME=VALUE",
                    help="a non-default parameter of one method, e.g. edge-pruning.steps=10 (repeatable)")
    ap.add_argument("--out", help="write the rows so far to this JSON file after every method")
    ap.add_argument("--json", action="store_true", help="(kept for old commands: the last line is always the JSON rows)")
    args = ap.parse_args()
    params = parse_params(args.param)

    model = ms.load(args.model)
    graph = ms.Graph.from_model(model)
    rows = []
    for task_name in args.tasks.split(","):
        # MIB's unsolved forms (mechscope.tasks.builtin_mib.MIB_TASKS) are not built-ins; take them by name here
        task = MIB_TASKS[task_name](n=args.n) if task_name in MIB_TASKS else ms.load_task(task_name, n=args.n)
        train = task.split("train").encode(model.tokenizer)
        test = task.split("test").encode(model.tokenizer)
        if args.bos:
            train, test = with_bos(train, model.tokenizer), with_bos(test, model.tokenizer)
        runner = D.PatchedRunner(graph, test, batch_size=args.batch_size)
        for method in args.methods.split(","):
            extra = params.get(method, {})
            t0 = time.perf_counter()
            if method == "eap":
                scores = eap(graph, train, batch_size=args.batch_size, **extra)
            elif method in ("eap-ig", "eap-ig-edges"):
                scores = eap_ig(graph, train, **{"steps": args.steps, **extra}, batch_size=args.batch_size,
                                interpolate="edges" if method == "eap-ig-edges" else "inputs")
            elif method in D.METHODS:  # the shared-task winners and the rest, with their defaults
                scores = D.METHODS[method](graph, train, batch_size=args.batch_size, **extra)
            else:
                raise SystemExit(f"error: unknown method {method}; use eap, eap-ig, eap-ig-edges or one of {', '.join(D.METHODS)}")
            seconds = time.perf_counter() - t0
            curves = {}
            t1 = time.perf_counter()
            for selection in args.selections.split(","):
                curve = D.faithfulness_curve(graph, scores, runner, selection=selection)
                first = next((p for p in curve if p["faithfulness"] >= args.target), None)
                row = {"task": task.name, "method": method, "selection": selection, "scoring_seconds": round(seconds, 1),
                       "curve": [(p["edges"], p["edges_after_pruning"], round(p["faithfulness"], 3)) for p in curve],
                       **curve_areas(curve),
                       "first_at_target": first and {"edges": first["edges"], "kept": first["edges_after_pruning"],
                                                     "faithfulness": round(first["faithfulness"], 3)}}
                rows.append(row)
                curves[selection] = curve
                print(f"{task.name:18s} {method:13s} {selection:7s} scoring {seconds:6.1f} s  "
                      f"CPR {row['cpr']:.3f} CMD {row['cmd']:.3f}  first >= {args.target}: {row['first_at_target']}")
                print("    edges asked/kept -> faithfulness: " +
                      ", ".join(f"{a}/{k}: {f}" for a, k, f in row["curve"]), flush=True)
            curve_seconds = time.perf_counter() - t1
            if "signed" in curves and "top" in curves:
                mib = mib_areas(curves["signed"], curves["top"])
                summary = {"task": task.name, "method": method, "params": extra, "bos": args.bos,
                           "n_train": len(train), "n_test": len(test), "n_edges": graph.n_edges, "mib": mib,
                           "at_target": {sel: at_target(curves[sel], args.target, graph.n_edges) for sel in ("signed", "top")},
                           "target": args.target, "scoring_seconds": round(seconds, 1),
                           "curve_seconds": round(curve_seconds, 1)}
                rows.append(summary)
                print(f"{task.name:18s} {method:13s} MIB: CPR (signed) {mib['cpr']:.3f}, CMD (|score|) {mib['cmd']:.3f}")
                print("| " + " | ".join(summary_cells(summary)) + " |", flush=True)
            if args.out:
                write_rows(args.out, rows)
    print(json.dumps(rows))


def parse_params(items: list[str]) -> dict[str, dict]:
    """``["edge-pruning.steps=10"]`` -> ``{"edge-pruning": {"steps": 10}}`` (values as JSON, else strings)."""
    out: dict[str, dict] = {}
    for item in items:
        key, sep, value = item.partition("=")
        method, dot, name = key.partition(".")
        if not (sep and dot and method and name):
            raise SystemExit(f"error: --param {item!r} is not METHOD.NAME=VALUE; e.g. --param edge-pruning.steps=10")
        try:
            out.setdefault(method, {})[name] = json.loads(value)
        except json.JSONDecodeError:
            out.setdefault(method, {})[name] = value
    return out


def at_target(curve: list[dict], target: float, n_edges: int) -> dict | None:
    """The first point of `curve` reaching `target`: edges asked, kept after pruning, % of all edges."""
    p = next((p for p in curve if p["faithfulness"] >= target), None)
    return p and {"edges": p["edges"], "kept": p["edges_after_pruning"], "percent": round(100 * p["fraction"], 3),
                  "faithfulness": round(p["faithfulness"], 3)}


def summary_cells(row: dict) -> list[str]:
    """One markdown table row: task, method, CPR, CMD, first >= target (signed, |score|), seconds."""
    def first(sel):
        p = row["at_target"][sel]
        return "not reached" if p is None else f"{p['edges']} ({p['percent']:g} %), {p['kept']} kept, f {p['faithfulness']}"
    return [row["task"], row["method"] + (f" {row['params']}" if row["params"] else ""), f"{row['mib']['cpr']:.3f}",
            f"{row['mib']['cmd']:.3f}", first("signed"), first("top"), f"{row['scoring_seconds']:.0f}",
            f"{row['curve_seconds']:.0f}"]


def write_rows(path: str, rows: list[dict]) -> None:
    """`rows` as JSON at `path`, written to a temp file and renamed."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(rows, f)
    os.replace(tmp, path)



def with_bos(enc, tokenizer):
    """`enc` with the tokenizer's BOS token before every prompt."""
    if tokenizer.bos_token_id is None:
        raise SystemExit("error: this tokenizer has no BOS token; run without --bos")
    return enc.with_bos(tokenizer.bos_token_id)

if __name__ == "__main__":
    main()
