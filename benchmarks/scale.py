"""Edge patching at the scale of real models, on this CPU: edges, seconds and peak memory.

Random models with the shapes of Qwen2.5-0.5B, Llama-3.2-1B, Gemma-2-2B and
Llama-3.1-8B's layers (SmolLM2 tokenizer, so a 49,152-token vocabulary), each timed
side by side in one run: a plain HF forward, a patched forward (5% of the edges
patched from the corrupted prompts, the pass that records them included) and EAP
(forward + backward giving every edge's score) over 16 IOI prompts.

Models that would not fit the memory limit with all their layers run with fewer
(`--layers`); the edge count of the full model is printed beside the one measured.
Each measurement runs in its own subprocess; its peak memory is measured twice: the kernel's RSS
high-water mark (VmHWM, reset after loading the model and prompts) above the RSS then, and, in a second call,
the most bytes of tensors held at once (`mechscope.graph.memory.peak_allocated`, torch's allocation profile). The patched and EAP
rows also show `mechscope.graph.memory`'s estimate for the batch, the number `--max-memory` plans with.

With ``--chunked`` a fourth row runs EAP under a memory budget that holds one prompt with a third of the
sources: batches of one prompt, each scored a chunk of sources at a time (the plan is printed); it prints the
budget, the estimate of the chunk planned and the measured peaks side by side, and the largest difference of
its scores from EAP in one pass per prompt, relative to the largest score.

    python benchmarks/scale.py                      # all four shapes (about 15 minutes on 2 cores)
    python benchmarks/scale.py --only qwen2.5-0.5b --prompts 8
    python benchmarks/scale.py --only qwen2.5-0.5b --prompts 4 --chunked
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

# name -> (family, shape overrides, layers of the real model, layers run here by default)
SHAPES = {
    "qwen2.5-0.5b": ("qwen2", {}, 24, 24),
    "llama-3.2-1b": ("llama", dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                                   num_attention_heads=32, num_key_value_heads=8, head_dim=64), 16, 16),
    "gemma-2-2b": ("gemma2", {}, 26, 8),
    "llama-3.1-8b-layers": ("llama", dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                                          num_attention_heads=32, num_key_value_heads=8, head_dim=128), 32, 2),
}
STAGES = ["plain", "patched", "eap"]


def _config(name: str, layers: int | None, vocab: int):
    from mechscope.models.families import random_config

    family, overrides, _, default_layers = SHAPES[name]
    kwargs = dict(overrides, num_hidden_layers=layers or default_layers)
    if family == "gemma2":
        kwargs["layer_types"] = ["sliding_attention" if i % 2 == 0 else "full_attention"
                                 for i in range(kwargs["num_hidden_layers"])]
    return random_config(family, "small", vocab_size=vocab, **kwargs)


def _edges_of(config) -> int:
    from mechscope.models import adapter_for

    a = adapter_for(config)
    total = 0
    for layer in range(a.n_layers):
        upstream = 1 + layer * (a.n_heads + 1)
        total += upstream * (a.n_heads + 2 * a.n_kv_heads)
        total += upstream if a.parallel else upstream + a.n_heads
    return total + 1 + a.n_layers * (a.n_heads + 1)


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/self/status")


def _reset_peak() -> None:
    """Reset the kernel's high-water mark of this process's RSS (VmHWM) to its current RSS."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _measure(name: str, stage: str, layers: int | None, n_prompts: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    import gc

    from mechscope.discover.attribution import eap, gradient_plan
    from mechscope.graph import EdgeMask, Graph, run, source_outputs
    from mechscope.graph.memory import bytes_per_example, peak_allocated
    from mechscope.models import wrap
    from mechscope.models.loading import smollm2_tokenizer
    from mechscope.tasks import load_task
    from mechscope.tasks.patching import task_plan

    tok = smollm2_tokenizer()
    config = _config(name, layers, len(tok))
    torch.manual_seed(0)
    hf = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    model = wrap(hf, tok, spec=f"random:{name}", device="cpu", fingerprint="-")
    graph = Graph.from_model(model)
    enc = load_task("ioi", n=n_prompts).encode(tok)
    seq = int(enc.positions.max()) + 1
    plan = budget = estimate = None
    if stage == "patched":
        estimate = task_plan(graph, enc, n_prompts, "1TiB", grad=False).per_example * n_prompts
    elif stage == "eap":
        estimate = gradient_plan(graph, enc, "eap", batch_size=n_prompts, max_memory="1TiB").per_example * n_prompts
    elif stage == "eap-chunked":  # a budget for one prompt with a third of the sources (batch 1: one position)
        budget = bytes_per_example(graph, seq, grad=True, sources=max(1, graph.n_sources // 3), positions=1)
        plan = gradient_plan(graph, enc, "eap", batch_size=n_prompts, max_memory=budget)
        estimate = bytes_per_example(graph, seq, grad=True, sources=plan.source_chunk, positions=1)

    def work():
        if stage == "plain":
            with torch.no_grad():
                hf(input_ids=enc.clean_ids, attention_mask=enc.attention_mask, use_cache=False)
        elif stage == "patched":
            patch = source_outputs(graph, enc.corrupt_ids, enc.attention_mask)
            run(graph, enc.clean_ids, enc.attention_mask, patch=patch, mask=EdgeMask.random(graph, 0.05, seed=0),
                positions=enc.positions)
        elif stage == "eap":
            eap(graph, enc, batch_size=n_prompts, max_memory="1TiB")
        else:
            return eap(graph, enc, batch_size=n_prompts, max_memory=budget)

    gc.collect()
    _reset_peak()
    base = _status_kib("VmRSS")
    t0 = time.perf_counter()
    chunked = work()
    seconds = time.perf_counter() - t0
    peak = _status_kib("VmHWM")
    # the tensors' peak from a second call under torch's allocation profile (its event log, held in memory,
    # would add to the RSS of the first)
    _, tensors = peak_allocated(work)
    difference = None
    if stage == "eap-chunked":  # the same scores from one pass per prompt (outside the peak measured above)
        whole = eap(graph, enc, batch_size=1, max_memory="1TiB")
        difference = max(float((chunked[k] - whole[k]).abs().max()) for k in whole)
        difference /= max(float(t.abs().max()) for t in whole.values())
    params = sum(p.numel() for p in hf.parameters())
    def mib(b):
        return None if b is None else b / 2**20

    return {"model": name, "stage": stage, "layers": graph.adapter.n_layers, "params": params,
            "edges": graph.n_edges, "edges_full": _edges_of(_config(name, SHAPES[name][2], len(tok))),
            "seconds": seconds, "peak_mib": (peak - base) / 1024, "tensor_peak_mib": tensors / 2**20,
            "load_mib": base / 1024, "seq": seq, "estimate_mib": mib(estimate), "budget_mib": mib(budget),
            "plan": plan.note if plan else None, "max_relative_difference": difference}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--only", choices=list(SHAPES), action="append")
    parser.add_argument("--layers", type=int, default=None, help="layers of every model (default: per model)")
    parser.add_argument("--chunked", action="store_true", help="also EAP under a budget for one prompt with a third of the sources")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(_measure(args.model, args.stage, args.layers, args.prompts)))
        return
    rows = []
    for name in args.only or list(SHAPES):
        for stage in STAGES + (["eap-chunked"] if args.chunked else []):
            cmd = [sys.executable, __file__, "--model", name, "--stage", stage, "--prompts", str(args.prompts)]
            if args.layers:
                cmd += ["--layers", str(args.layers)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{name} {stage}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                continue
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"{name:22s} {stage:11s} layers {r['layers']:>2}/{SHAPES[name][2]:<2} params {r['params'] / 1e6:7.0f}M "
                  f"edges {r['edges']:>9,} (full {r['edges_full']:>9,})  {r['seconds']:7.2f} s  "
                  f"peak RSS +{r['peak_mib']:8.0f} MiB, tensors +{r['tensor_peak_mib']:8.0f} MiB "
                  f"(load {r['load_mib']:6.0f} MiB)"
                  + (f"  budget {r['budget_mib']:.0f} MiB" if r["budget_mib"] else "")
                  + (f"  estimate {r['estimate_mib']:.0f} MiB" if r["estimate_mib"] else "")
                  + (f"  ({r['plan']}; max |chunked - one pass| / max |score| {r['max_relative_difference']:.1e})"
                     if r.get("plan") else ""), flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
