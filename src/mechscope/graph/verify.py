"""Check the patching engine on a model: against Hugging Face and the naive reference.

Three numbers, each a maximum absolute logit difference on seeded random prompts:

- ``max_abs_err_unpatched``: `run` with an all-zero mask vs the plain HF forward;
  both the short-circuit (no grad: a plain forward) and the hooked path (a zero
  mask that requires grad goes through every hook) are measured, the larger is
  reported.
- ``max_abs_err_all_patched``: every edge patched from the corrupt prompts vs the
  plain HF forward on the corrupt prompts.
- ``max_abs_err_edge_patch``: one random single edge (one that changes the logits
  by more than 1e-3) and one random set of about 5% of the edges, `run` vs
  `mechscope.graph.reference.reference_patched_logits`.

`passed` is True when all three are within `tolerance`: 1e-4 in float32 (and
float64). In bfloat16 or float16 every reference is Hugging Face's own run in
that dtype, and the tolerance is relative to the size of the logits:
``REL_TOLERANCE[dtype] * max |clean logits|``, 16 units in the last place of the
largest logit (bfloat16 keeps 8 bits of mantissa, so summing the residual stream in
another order moves a logit by a few units of 2^-8 of the residual's magnitude;
measured on the tiny models: 1 to 6 units).
The report says which rule and value it used (``tolerance``, ``tolerance_rule``).

>>> from mechscope.graph.verify import verify
>>> report = verify("random:gpt2-tiny", n_prompts=2, seq_len=6)
>>> report["passed"], report["edges"]
(True, 110)
"""

from __future__ import annotations

import time

import torch

from mechscope.graph.engine import run, source_outputs
from mechscope.graph.mask import EdgeMask
from mechscope.graph.reference import reference_patched_logits
from mechscope.graph.structure import Edge, Graph
from mechscope.models import Model, load

TOLERANCE = 1e-4
# 16 units in the last place of the largest logit (bfloat16: 8 bits of mantissa, float16: 11)
REL_TOLERANCE = {torch.bfloat16: 16 * 2.0**-8, torch.float16: 16 * 2.0**-11}
MIN_EFFECT = 1e-3
_TOKEN_RANGE = (100, 10000)  # ordinary tokens, clear of special and byte tokens


def _as_graph(model_or_graph, dtype: torch.dtype | None = None, device: str | None = None) -> Graph:
    if isinstance(model_or_graph, Graph):
        return model_or_graph
    if isinstance(model_or_graph, Model):
        return Graph.from_model(model_or_graph)
    if isinstance(model_or_graph, str):
        return Graph.from_model(load(model_or_graph, device=device, dtype=dtype or torch.float32))
    raise TypeError(f"verify expects a Graph, a Model or a model spec, got {type(model_or_graph).__name__}")


def random_prompts(graph: Graph, n_prompts: int, seq_len: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded clean and corrupt token ids, each ``[n_prompts, seq_len]``."""
    vocab = graph.model.hf.config.vocab_size
    low, high = _TOKEN_RANGE[0], min(_TOKEN_RANGE[1], vocab)
    gen = torch.Generator().manual_seed(seed)
    clean = torch.randint(low, high, (n_prompts, seq_len), generator=gen)
    corrupt = torch.randint(low, high, (n_prompts, seq_len), generator=gen)
    device = graph.model.device
    return clean.to(device), corrupt.to(device)


def _max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach().float() - b.detach().float()).abs().max().item())


def _worst(*errors: float) -> float:
    """The largest error; NaN if any is NaN (Python's max would hide it)."""
    return float("nan") if any(e != e for e in errors) else max(errors)


def _pick_single_edge(graph: Graph, clean, corrupt, clean_logits, gen: torch.Generator) -> tuple[Edge, float]:
    """A random edge into the later half of the model whose patch moves the logits by > MIN_EFFECT."""
    later = graph.adapter.n_layers // 2
    candidates = [e for e in graph.edges() if graph.group(e.group).layer >= later]
    order = torch.randperm(len(candidates), generator=gen).tolist()
    best: tuple[Edge, float] | None = None
    for i in order[:32]:
        edge = candidates[i]
        effect = _max_err(reference_patched_logits(graph, clean, corrupt, {edge.name: 1.0}), clean_logits)
        if best is None or not effect <= best[1]:
            best = (edge, effect)
        if effect > MIN_EFFECT:
            break
    assert best is not None
    return best


def verify(
    model_or_graph,
    seed: int = 0,
    n_prompts: int = 4,
    seq_len: int = 12,
    dtype: torch.dtype | None = None,
    device: str | None = None,
) -> dict:
    """Run the three checks on a model (a `Graph`, a `Model` or a spec) and return a report.

    `dtype` and `device` apply when a spec is given (default float32, CUDA if present).

    Keys: ``model``, ``fingerprint``, ``nodes``, ``edges``, ``max_abs_err_unpatched``,
    ``max_abs_err_all_patched``, ``max_abs_err_edge_patch``, ``tolerance``,
    ``passed``, ``seconds``, and what was checked: ``single_edge``,
    ``single_edge_effect``, ``n_multi_edges``, ``n_prompts``, ``seq_len``, ``seed``.
    """
    start = time.perf_counter()
    graph = _as_graph(model_or_graph, dtype, device)
    hf = graph.model.hf
    model_dtype = next(hf.parameters()).dtype
    clean, corrupt = random_prompts(graph, n_prompts, seq_len, seed)
    gen = torch.Generator().manual_seed(seed + 1)

    with torch.no_grad():
        clean_logits = hf(input_ids=clean, use_cache=False).logits
        corrupt_logits = hf(input_ids=corrupt, use_cache=False).logits
        patch = source_outputs(graph, corrupt)

        # 1. unpatched: the short-circuit and the hooked path
        err_plain = _max_err(run(graph, clean, mask=EdgeMask.zeros(graph)), clean_logits)
    with torch.enable_grad():
        hooked = run(graph, clean, patch=patch, mask=EdgeMask.zeros(graph, requires_grad=True))
    err_hooked = _max_err(hooked, clean_logits)
    err_unpatched = _worst(err_plain, err_hooked)

    with torch.no_grad():
        # 2. everything patched = the corrupt run
        err_all = _max_err(run(graph, clean, patch=patch, mask=EdgeMask.ones(graph)), corrupt_logits)

        # 3. a single edge and ~5% of the edges, engine vs reference
        edge, effect = _pick_single_edge(graph, clean, corrupt, clean_logits, gen)
        ref = reference_patched_logits(graph, clean, corrupt, {edge.name: 1.0})
        err_single = _max_err(run(graph, clean, patch=patch, mask=EdgeMask.from_edges(graph, [edge])), ref)

        all_edges = graph.edges()
        k = max(2, round(0.05 * len(all_edges)))
        chosen = [all_edges[i] for i in torch.randperm(len(all_edges), generator=gen)[:k].tolist()]
        ref = reference_patched_logits(graph, clean, corrupt, {e.name: 1.0 for e in chosen})
        err_multi = _max_err(run(graph, clean, patch=patch, mask=EdgeMask.from_edges(graph, chosen)), ref)
    err_edge = _worst(err_single, err_multi)

    errors = (err_unpatched, err_all, err_edge)
    if model_dtype in REL_TOLERANCE:
        rel = REL_TOLERANCE[model_dtype]
        scale = float(clean_logits.detach().float().abs().max())
        tolerance = rel * scale
        rule = f"{rel:g} x max|clean logits| ({scale:.4g}), against HF's own {str(model_dtype)[6:]} run"
    else:
        tolerance, rule = TOLERANCE, f"absolute, {str(model_dtype)[6:]}"

    return {
        "model": graph.model.spec,
        "fingerprint": graph.model.fingerprint,
        "nodes": len(graph.nodes),
        "edges": graph.n_edges,
        "max_abs_err_unpatched": err_unpatched,
        "max_abs_err_all_patched": err_all,
        "max_abs_err_edge_patch": err_edge,
        "dtype": str(model_dtype)[6:],
        "device": str(graph.model.device),
        "tolerance": tolerance,
        "tolerance_rule": rule,
        "passed": all(e <= tolerance for e in errors),
        "seconds": round(time.perf_counter() - start, 3),
        "single_edge": edge.name,
        "single_edge_effect": effect,
        "n_multi_edges": k,
        "n_prompts": n_prompts,
        "seq_len": seq_len,
        "seed": seed,
    }
