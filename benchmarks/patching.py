"""Time and peak memory of edge patching on SmolLM2 with IOI prompts.

patched uses a random mask (each edge patched with probability 0.5, the dense
worst case); patched_circuit a 1% circuit (every edge patched but 1%), the mask
of a faithfulness point. The last stage, edge_grad_100, computes edge gradients over 100 IOI prompts in
batches of 25 (whole-task time, not comparable to the 32-prompt rows).

Side by side, in one run: a plain Hugging Face forward pass; mechscope's patched
forward with a random edge mask (with the corrupted run's source outputs cached,
and including the pass that records them); mechscope's forward+backward for the
gradient of a metric with respect to every edge; and one head's output patched
at node level, by nnsight and by mechscope (all outgoing edges of that head).

Each measurement runs in its own subprocess so that its peak memory (max RSS
above the process's RSS after loading the model and data) is its own.

    python benchmarks/patching.py [--prompts 32] [--repeats 3] [--model smollm2-135m] [--interleaved]

With --interleaved every stage runs in one process, round robin, repeats times
(best time kept): on a shared, loaded machine the ratios then compare stages
under the same load (peak memory is not separable there and is reported as null).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

STAGES = ["plain", "patched", "patched_circuit", "patched+record", "edge_grad", "node_mechscope", "node_nnsight",
          "edge_grad_100"]


def _setup(model_spec: str, n_prompts: int):
    import torch

    from mechscope.graph import EdgeMask, Graph, source_outputs
    from mechscope.models import load
    from mechscope.tasks import load_task

    torch.manual_seed(0)
    model = load(model_spec)
    graph = Graph.from_model(model)
    enc = load_task("ioi", n=n_prompts).encode(model.tokenizer)
    with torch.no_grad():
        patch = source_outputs(graph, enc.corrupt_ids, enc.attention_mask)
    mask = EdgeMask.random(graph, 0.5, seed=0)
    return torch, model, graph, enc, patch, mask


def _stage_fn(stage: str, torch, model, graph, enc, patch, mask, layer: int, head: int):
    from mechscope.graph import EdgeMask, run, source_outputs

    ids, attn, pos = enc.clean_ids, enc.attention_mask, enc.positions
    if stage == "plain":
        def f():
            with torch.no_grad():
                return model.hf(input_ids=ids, attention_mask=attn, use_cache=False).logits
    elif stage == "patched":
        def f():
            return run(graph, ids, attn, patch=patch, mask=mask)
    elif stage == "patched_circuit":  # a 1% circuit: every edge patched but a random 1% (a faithfulness point)
        gen = torch.Generator().manual_seed(1)
        circuit = EdgeMask({k: (torch.rand(t.shape, generator=gen) >= 0.01).float().to(t.device)
                            for k, t in mask.tensors.items()})

        def f():
            return run(graph, ids, attn, patch=patch, mask=circuit)
    elif stage == "patched+record":
        def f():
            p = source_outputs(graph, enc.corrupt_ids, attn)
            return run(graph, ids, attn, patch=p, mask=mask)
    elif stage == "edge_grad":
        def f():
            m = EdgeMask.zeros(graph, requires_grad=True)
            logits = run(graph, ids, attn, patch=patch, mask=m, positions=pos)
            ans = logits.gather(1, enc.answer_ids[:, :1]) - logits.gather(1, enc.wrong_ids[:, :1])
            ans.mean().backward()
            return m.grads()
    elif stage == "node_mechscope":
        node = f"a{layer}.h{head}"
        edges = [e for e in graph.edges() if e.src == node]
        node_mask = EdgeMask.from_edges(graph, edges)

        def f():  # records only the one source the patch reads
            p = source_outputs(graph, enc.corrupt_ids, attn, only=node_mask)
            return run(graph, ids, attn, patch=p, mask=node_mask)
    elif stage == "node_nnsight":
        from nnsight import NNsight

        nn_model = NNsight(model.hf)
        d = model.adapter.d_head
        o_proj = nn_model.model.layers[layer].self_attn.o_proj

        def f():
            with nn_model.trace(input_ids=enc.corrupt_ids, attention_mask=attn):
                z = o_proj.input.save()
            with nn_model.trace(input_ids=ids, attention_mask=attn):
                o_proj.input[:, :, head * d : (head + 1) * d] = z[:, :, head * d : (head + 1) * d]
                logits = nn_model.output.logits.save()
            return logits
    elif stage == "edge_grad_100":
        from mechscope.tasks import load_task
        from mechscope.tasks.patching import edge_gradients

        enc100 = load_task("ioi", n=100).encode(model.tokenizer)

        def f():  # 100 prompts in batches of 25: memory is one batch's
            return edge_gradients(graph, enc100, batch_size=25)
    else:
        raise SystemExit(f"unknown stage {stage}")
    return f


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20


def child(stage: str, model_spec: str, n_prompts: int, repeats: int) -> dict:
    torch, model, graph, enc, patch, mask = _setup(model_spec, n_prompts)
    layer, head = model.adapter.n_layers // 2, 1
    f = _stage_fn(stage, torch, model, graph, enc, patch, mask, layer, head)
    base = _rss_mb()
    f()  # warm-up; its peak counts too
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"stage": stage, "seconds": min(times), "peak_mb_above_base": max(0.0, peak - base),
            "batch": list(enc.clean_ids.shape), "threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--interleaved", action="store_true", help="all stages in one process, round robin")
    ap.add_argument("--stages", default=",".join(STAGES[:-1]), help="with --interleaved: comma-separated stages")
    args = ap.parse_args()
    if args.interleaved:
        rows = interleaved(args.stages.split(","), args.model, args.prompts, args.repeats)
        report(rows, args)
        return
    if args.stage:
        if args.stage == "edge_grad_100":
            args.repeats = 1
        print(json.dumps(child(args.stage, args.model, args.prompts, args.repeats)))
        return
    rows = []
    for stage in STAGES:
        res = subprocess.run(
            [sys.executable, __file__, "--stage", stage, "--model", args.model,
             "--prompts", str(args.prompts), "--repeats", str(args.repeats)],
            capture_output=True, text=True,
        )
        if res.returncode != 0:
            print(f"{stage}: failed\n{res.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(f"  {stage:16s} {rows[-1]['seconds']:.3f} s", file=sys.stderr)
    report(rows, args)


def interleaved(stages: list[str], model_spec: str, n_prompts: int, repeats: int) -> list[dict]:
    """Best wall time of each stage, the stages run round robin in this process."""
    torch, model, graph, enc, patch, mask = _setup(model_spec, n_prompts)
    layer, head = model.adapter.n_layers // 2, 1
    fs = {s: _stage_fn(s, torch, model, graph, enc, patch, mask, layer, head) for s in stages}
    for f in fs.values():
        f()  # warm-up
    best = {s: float("inf") for s in stages}
    for _ in range(repeats):
        for s, f in fs.items():
            t0 = time.perf_counter()
            f()
            best[s] = min(best[s], time.perf_counter() - t0)
    return [{"stage": s, "seconds": best[s], "peak_mb_above_base": None, "batch": list(enc.clean_ids.shape),
             "threads": torch.get_num_threads()} for s in stages]


def report(rows: list[dict], args) -> None:
    by = {r["stage"]: r for r in rows}
    plain = by["plain"]["seconds"]
    print(f"\n{args.model}, IOI, batch {by['plain']['batch']} (prompts x tokens), {by['plain']['threads']} threads, best of {args.repeats}")
    print(f"{'stage':18s} {'seconds':>8s} {'x plain':>8s} {'peak MB':>8s}")
    for r in rows:
        peak = r["peak_mb_above_base"]
        print(f"{r['stage']:18s} {r['seconds']:8.3f} {r['seconds'] / plain:8.2f} {'-' if peak is None else f'{peak:8.0f}':>8s}")
    if "node_nnsight" in by and "node_mechscope" in by:
        ratio = by["node_nnsight"]["seconds"] / by["node_mechscope"]["seconds"]
        print(f"node-level patch: nnsight / mechscope time = {ratio:.2f}")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
