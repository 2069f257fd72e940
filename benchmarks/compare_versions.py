"""Compressed versions of SmolLM2 against the base: which keep the behaviour, which keep the circuit.

    python benchmarks/compare_versions.py [--model smollm2-135m] [--tasks ioi,greater-than] [--n 50]
        [--versions q8_0,q4_0,int8,magnitude:0.5,wanda:0.5,2:4] [--steps 5] [--out out/compare-versions.json]
    python benchmarks/compare_versions.py --merge part1.json part2.json ...   # runs over parts, one table
    python benchmarks/compare_versions.py --latency-only --out latency.json   # time the base and each version (made if missing)
    python benchmarks/compare_versions.py --merge part1.json ... --latency-table latency.json

Makes each version once (recorded in the store at $MECHSCOPE_HOME, default
./.mechscope, as bench-<operation>), then compares all of them with the base,
one loaded at a time: size, latency, task metric and accuracy, top-1
agreement, KL, answer flips, the first layer whose residual stream diverges,
the base's circuit on each version and each version's own circuit (eap-ig,
1% of edges, signed selection, found on the train split and measured on the
test split). Circuits are recorded in the store, so a rerun reuses them.
Prints a Markdown table, the peak resident memory, and writes the JSON after
every version.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

from mechscope.cli.output import _clean
from mechscope.compare import Baseline, CircuitSettings, Settings, compare_version, make_version
from mechscope.compare.version import parse_prune
from mechscope.store import Store, load_model, load_version, save_version
from mechscope.store.records import cached_finder
from mechscope.store.versions import is_version
from mechscope.tasks import load_task

T0 = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - T0:7.0f} s, peak {peak_mib():6.0f} MiB] {message}", flush=True)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def operation(spec: str) -> tuple[str, dict]:
    if spec in ("q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "int8", "int4"):
        return "quantize", {"type": spec}
    if spec.startswith("low-rank:"):
        return "low-rank", {"fraction": float(spec.split(":", 1)[1])}
    return "prune", parse_prune(spec)


def make_versions(store: Store, model_spec: str, specs: list[str]) -> tuple[list[str], dict]:
    names, seconds = [], {}
    base = None
    for spec in specs:
        name = "bench-" + spec.replace(":", "-")
        names.append(name)
        if is_version(store, name):
            continue
        base = base or load_model(store, model_spec)
        op, params = operation(spec)
        t0 = time.perf_counter()
        version = make_version(base, name, op, params, base=model_spec)
        seconds[name] = round(time.perf_counter() - t0, 1)
        save_version(store, version, base_model=base)
        log(f"made {name} in {seconds[name]} s")
    return names, seconds


def markdown(doc: dict, latency: dict | None = None) -> str:
    """One row per version and task; `latency` (name -> ms) replaces the latency measured in the runs."""
    latency = latency or {}
    head = ["version", "task", "size MB", "latency ms", "metric (base)", "accuracy (base)", "top-1 agree", "KL",
            "flips -/+", "diverges at layer", "base circuit faithfulness (on base)", "own circuit", "Jaccard"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    b = doc["base"]
    for r in sorted(doc["versions"], key=lambda r: (doc["tasks"].index(r["task"]), _order(doc, r["name"]))):
        bt = b["tasks"][r["task"]]
        lat = latency.get(r["name"], r["latency_ms"])
        lines.append("| " + " | ".join([
            f"{r['name']} ({r['label']})", r["task"], f"{r['size_bytes'] / 1e6:.0f} ({r['size_ratio']:.2f}x)",
            _n(lat, 0), f"{r['task_metric']:.2f} ({bt['task_metric']:.2f})",
            f"{r['accuracy']:.2f} ({bt['accuracy']:.2f})", _n(r["top1_agreement"]), _n(r["kl"], 3),
            f"{r['flips_to_wrong']}/{r['flips_to_right']}",
            "none" if r["first_diverging_layer"] is None else str(r["first_diverging_layer"]),
            f"{_n(r['circuit_faithfulness_of_base'])} ({_n(bt['circuit_faithfulness'])})",
            _n(r["circuit_faithfulness_own"]), _n(r["circuit_jaccard"])]) + " |")
    base_latency = _n(latency.get(b["name"], b["latency_ms"]), 0)
    lines.append(f"\nbase {b['name']}: {b['size_bytes'] / 1e6:.0f} MB, latency {base_latency} ms")
    return "\n".join(lines)


def _order(doc: dict, name: str) -> int:
    names = list(dict.fromkeys(r["name"] for r in doc["versions"]))
    return names.index(name)


def latency_table(args) -> None:
    """Median forward time over 16 prompts of the first task, each model in its runtime, one at a time."""
    from mechscope.compare.latency import latency_ms, runtime_for

    store = Store()
    names, _ = make_versions(store, args.model, [v for v in args.versions.split(",") if v])
    enc = None
    times = {}
    print("| model | runtime | latency ms |\n|---|---|---|")
    for name in [args.model] + names:
        model = load_model(store, name)
        version = load_version(store, name) if is_version(store, name) else None
        enc = enc or load_task(args.tasks.split(",")[0], n=16).encode(model.tokenizer)
        runtime_model, runtime = runtime_for(model, version)
        times[name] = latency_ms(runtime_model, enc, 16, repeats=args.repeats)
        print(f"| {name} | {runtime} | {times[name]:.0f} |", flush=True)
        del model, runtime_model
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(times, indent=1))


def _n(x, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--tasks", default="ioi,greater-than")
    p.add_argument("--n", type=int, default=50, help="examples per task (half to find circuits, half to test)")
    p.add_argument("--versions", default="q8_0,q4_0,int8,magnitude:0.5,wanda:0.5,2:4")
    p.add_argument("--circuits", default="all", help="all, base or none")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--out", default="out/compare-versions.json")
    p.add_argument("--merge", nargs="+", help="print the table of these JSON files (from runs over parts) and stop")
    p.add_argument("--latency-table", help="with --merge: a latency JSON ({name: ms}) from --latency-only")
    p.add_argument("--latency-only", action="store_true", help="only time the base and each version (made before)")
    p.add_argument("--no-latency", action="store_true", help="skip timing in the comparison (time with --latency-only)")
    p.add_argument("--repeats", type=int, default=5, help="timed forward passes per model with --latency-only")
    args = p.parse_args()
    if args.latency_only:
        return latency_table(args)
    if args.merge:
        docs = [json.loads(Path(f).read_text()) for f in args.merge]
        base = {**docs[0]["base"], "tasks": {t: v for d in docs for t, v in d["base"]["tasks"].items()}}
        merged = {**docs[0], "base": base, "tasks": list(dict.fromkeys(t for d in docs for t in d["tasks"])),
                  "versions": [r for d in docs for r in d["versions"]],
                  "peak_rss_mib": max(d.get("peak_rss_mib", 0) for d in docs)}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(merged, indent=1))
        print(markdown(merged, json.loads(Path(args.latency_table).read_text()) if args.latency_table else None))
        print(f"\npeak resident memory of the runs {merged['peak_rss_mib']} MiB; wrote {args.out}")
        return

    store = Store()
    log(f"store {store.root}")
    names, make_seconds = make_versions(store, args.model, [v for v in args.versions.split(",") if v])
    tasks = [load_task(t, n=args.n) for t in args.tasks.split(",")]
    circuits = CircuitSettings(which=args.circuits, steps=args.steps)
    settings = Settings(circuits=circuits, latency=not args.no_latency)
    base = load_model(store, args.model)
    baseline = Baseline(base, tasks, settings, name=args.model, find=cached_finder(store, circuits), step=log)
    del base
    doc = {"base": baseline.summary(), "tasks": [t.name for t in tasks], "settings": settings.to_dict(),
           "versions": [], "make_seconds": make_seconds}
    for name in names:
        version = load_version(store, name)
        model = load_model(store, name)
        rows = compare_version(baseline, model, version, step=log)
        del model
        for r in rows:
            r.pop("own_circuit")
            r.pop("weight_modules")
        doc["versions"] += rows
        doc["peak_rss_mib"] = round(peak_mib())
        doc["seconds"] = round(time.perf_counter() - T0)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(_clean(doc), indent=1))
        log(f"compared {name}")
    print(markdown(doc))
    print(f"\npeak resident memory {peak_mib():.0f} MiB; {time.perf_counter() - T0:.0f} s; wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
