"""Time one ACDC threshold and exact patching of every edge on a GPT-2-small-shaped graph (32,491 edges).

    python benchmarks/acdc.py [--model random:gpt2-small] [--prompts 16] [--threads 2] [--part] [--heads 0] [--json]

Each stage runs in its own subprocess (its peak memory is its max RSS above the loaded model and prompts):

- ``plain``: one Hugging Face forward of the prompts (the unit).
- ``try_before``: one ACDC try as it ran before batching, a patched forward of the whole model
  (``PatchedRunner.kl``), timed at single-edge masks spread over every layer; seconds per edge, times the
  graph's edges = one threshold.
- ``acdc_after``: ``discover.acdc`` (batched tries from the receiver's layer on, no try into a receiver
  that no logit reads any more), one full threshold, timed: every receiver. ``tries_run`` is how many
  tries ran (the rest of the edges went untried, their node cut off from the logits).
  With ``--part``, a stratified part of the receivers instead: the logits and one head per layer (its
  query, key or value in turn; with ``--heads``, every MLP and those heads of every q/k/v group). Every
  other edge then stays in the circuit, so every node reaches the logits and every edge of the part is
  tried: per layer, its seconds per edge tried times the layer's edges, summed, is what a threshold
  costs when every try runs (a circuit through every node; said so in the output: an extrapolation;
  an MLP's edges cost what its layer's q/k/v edges do, as both recompute that layer and those after it).
- ``exact_before`` / ``exact_after``: the same for exact patching (``PatchedRunner.metric`` per
  single-edge mask before; ``discover.attribution.exact(edges=...)`` after, on the same part).

Seconds are wall seconds; ``cpu_seconds`` (the process's CPU time) is printed beside them because the
development machine is shared. The last line is a JSON list of rows ``{stage, seconds, peak_mb_above_base, ...}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

STAGES = ("plain", "try_before", "acdc_after", "exact_before", "exact_after")


def _setup(args):
    import torch

    import mechscope as ms

    torch.set_num_threads(args.threads)
    model = ms.load(args.model)
    graph = ms.Graph.from_model(model)
    enc = ms.load_task("ioi", n=args.prompts).encode(model.tokenizer)
    return torch, graph, enc


def _part(graph, heads: list[int] | None) -> list[str]:
    """The receivers timed: the logits, and one head (0) per layer, its query, key or value in turn (layer
    0 q, layer 1 k, ...); with `heads`, every MLP and heads `heads` (or kv groups) of each q/k/v group."""
    out = []
    for g in graph.groups:
        if g.kind == "logits":
            out.extend(g.receivers)
        elif heads is None:
            if g.kind == "qkv"[g.layer % 3]:
                out.append(g.receivers[0])
        elif g.kind == "mlp":
            out.extend(g.receivers)
        else:
            out.extend(r for i, r in enumerate(g.receivers) if i in heads)
    return out


def _spread(graph, per_layer: int = 2):
    """Single edges spread over the graph: `per_layer` per layer (q/k/v/MLP alternately) and the logits."""
    from mechscope.graph import EdgeMask

    edges = graph.edges()
    by_layer: dict[int, list] = {}
    for e in edges:
        by_layer.setdefault(graph.group(e.group).layer, []).append(e)
    chosen = []
    for layer, es in sorted(by_layer.items()):
        step = max(1, len(es) // per_layer)
        chosen.extend(es[step // 2 :: step][:per_layer])
    return [EdgeMask.from_edges(graph, [e]) for e in chosen]


def _timed_progress(graph, tried: list[str]):
    """A progress callback that books the time since its last call to the group of the edge just done."""
    names = {g.name: g for g in graph.groups}
    state = {"t": time.perf_counter(), "i": 0, "start": time.perf_counter()}
    spent: dict[str, float] = {name: 0.0 for name in names}
    count: dict[str, int] = {name: 0 for name in names}

    def progress(done):
        now = time.perf_counter()
        for _ in range(int(done)):
            group = tried[state["i"]]
            spent[group] += now - state["t"]
            count[group] += 1
            state["i"] += 1
            state["t"] = now
            if state["i"] % 2000 == 0:  # a long run says how far it is
                print(f"  {state['i']} of {len(tried)} edges, {now - state['start']:.0f} s", file=sys.stderr,
                      flush=True)

    return progress, spent, count


def _extrapolate(graph, spent, count) -> dict:
    """Seconds of the whole graph: per layer (the logits apart), seconds per edge tried times the layer's edges."""
    layers: dict[int, list] = {}
    for g in graph.groups:
        entry = layers.setdefault(g.layer, [0.0, 0, 0])
        entry[0] += spent[g.name]
        entry[1] += count[g.name]
        entry[2] += g.size
    total = sum(t / n * size for t, n, size in layers.values() if n)
    per_layer = {layer: round(t / n, 4) for layer, (t, n, _) in sorted(layers.items()) if n}
    return {"seconds_full_estimate": round(total, 1), "edges_scored": sum(n for _, n, _ in layers.values()),
            "seconds_per_edge": round(total / graph.n_edges, 4), "seconds_per_edge_by_layer": per_layer}


def run_stage(args) -> dict:
    torch, graph, enc = _setup(args)
    from mechscope import discover as D
    from mechscope.discover.acdc import acdc_order
    from mechscope.discover.attribution import exact
    from mechscope.graph import EdgeMask

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    extra: dict = {}
    c0, t0 = time.process_time(), time.perf_counter()
    if args.stage == "plain":
        with torch.no_grad():
            graph.model.hf(enc.clean_ids, attention_mask=enc.attention_mask)
        c0, t0 = time.process_time(), time.perf_counter()  # the first call warmed up
        with torch.no_grad():
            graph.model.hf(enc.clean_ids, attention_mask=enc.attention_mask)
    elif args.stage in ("try_before", "exact_before"):
        runner = D.PatchedRunner(graph, enc)
        masks = _spread(graph)
        c0, t0 = time.process_time(), time.perf_counter()
        for m in masks:
            runner.kl(m) if args.stage == "try_before" else runner.metric(m)
        per = (time.perf_counter() - t0) / len(masks)
        extra = {"tries": len(masks), "seconds_per_edge": round(per, 4),
                 "seconds_full_estimate": round(per * graph.n_edges, 1)}
    elif args.stage == "acdc_after":
        receivers = _part(graph, args.heads) if args.part else None
        only = None if receivers is None else set(receivers)
        tried = [gname for gname, row, col in acdc_order(graph)
                 if only is None or graph.group(gname).receivers[row] in only]
        runner = D.PatchedRunner(graph, enc)
        tau = args.tau if args.tau is not None else args.tau_scale * float(runner.kl(EdgeMask.ones(graph)).mean())
        del runner
        progress, spent, count = _timed_progress(graph, tried)
        runs, many = [], D.PatchedRunner.many

        def counting(self, tries, **kwargs):  # the tries that ran (receivers no logit reads are not tried)
            runs.append(len(tries))
            return many(self, tries, **kwargs)

        D.PatchedRunner.many = counting
        c0, t0 = time.process_time(), time.perf_counter()
        scores = D.acdc(graph, enc, tau=tau, receivers=receivers, progress=progress)
        kept = sum(int(((t >= tau) & torch.isfinite(t)).sum()) for t in scores.values())
        extra = {"tau": tau, "kept_of_tried": [kept, len(tried)], "tries_run": sum(runs), "passes": len(runs),
                 **_extrapolate(graph, spent, count)}
    elif args.stage == "exact_after":
        receivers = set(_part(graph, args.heads))
        # logits first, as ACDC goes: the runner's set-up (clean and corrupted runs) is booked to the logits,
        # which are timed in full, not to a layer whose time per edge is multiplied up
        edges = [e for e in reversed(graph.edges()) if e.dest in receivers]
        tried = [e.group for e in edges]
        progress, spent, count = _timed_progress(graph, tried)
        c0, t0 = time.process_time(), time.perf_counter()
        exact(graph, enc, edges=[e.name for e in edges], progress=progress)
        extra = _extrapolate(graph, spent, count)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"stage": args.stage, "seconds": round(seconds, 2), "cpu_seconds": round(time.process_time() - c0, 2),
            "peak_mb_above_base": round(max(0.0, peak - base)), "batch": list(enc.clean_ids.shape),
            "threads": args.threads, **extra}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="random:gpt2-small")
    p.add_argument("--prompts", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--heads", type=int, nargs="+", default=None, help="time every MLP and these heads of each "
                   "q/k/v group (default: one head per layer, its q, k or v in turn)")
    p.add_argument("--tau", type=float, default=None, help="ACDC's threshold (default: tau-scale x KL of the "
                   "corrupted run, so that a random model keeps some edges)")
    p.add_argument("--tau-scale", type=float, default=0.02)
    p.add_argument("--part", action="store_true", help="ACDC on a stratified part of the receivers, every other "
                   "edge kept: the cost of a threshold where every try runs, extrapolated")
    p.add_argument("--full", action="store_true", help=argparse.SUPPRESS)  # the default since 7 Dec 2026
    p.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    p.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.stage:
        print(json.dumps(run_stage(args)))
        return 0
    rows = []
    for stage in args.stages:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--stage", stage, "--model", args.model,
               "--prompts", str(args.prompts), "--threads", str(args.threads),
               *(["--heads", *map(str, args.heads)] if args.heads else []),
               "--tau-scale", str(args.tau_scale), *(["--tau", str(args.tau)] if args.tau is not None else []),
               *(["--part"] if args.part else [])]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            print(res.stderr[-2000:], file=sys.stderr)
            return 1
        row = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{stage:13s} {row['seconds']:9.2f} s  cpu {row['cpu_seconds']:9.2f} s  "
              f"peak {row['peak_mb_above_base']:6d} MB  "
              + "  ".join(f"{k}={v}" for k, v in row.items() if k not in
                          ("stage", "seconds", "cpu_seconds", "peak_mb_above_base", "threads")), flush=True)
    by = {r["stage"]: r for r in rows}
    for before, after in (("try_before", "acdc_after"), ("exact_before", "exact_after")):
        if before in by and after in by:
            b, a = by[before]["seconds_full_estimate"], by[after]["seconds_full_estimate"]
            what = "ACDC, one threshold" if after == "acdc_after" else "exact patching, every edge"
            how = "timed in full" if not args.part and after == "acdc_after" else (
                f"extrapolated from {by[after]['edges_scored']:,} of {32491 if 'gpt2-small' in args.model else '?'} "
                "edges, per layer")
            print(f"{what}: before {b / 3600:.2f} h ({by[before]['seconds_per_edge']} s/edge), after "
                  f"{a / 3600:.2f} h ({by[after]['seconds_per_edge']} s/edge), {b / a:.1f}x; after {how}")
    print(json.dumps(rows) if args.json else json.dumps([{k: r[k] for k in ("stage", "seconds", "peak_mb_above_base")}
                                                        for r in rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
