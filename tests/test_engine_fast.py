"""The engine's fast paths (folds into the residual stream, sparse taps, gradients off the model's own
backward) against the naive reference and against the engine's general path."""

from __future__ import annotations

import functools

import pytest
import torch

from mechscope.graph import EdgeMask, Graph, run, source_outputs
from mechscope.graph.reference import reference_patched_logits
from mechscope.graph.verify import TOLERANCE, random_prompts
from mechscope.models import load

TINY = ["random:llama-tiny", "random:gpt2-tiny", "random:neox-tiny", "random:qwen2-tiny"]


@functools.lru_cache(maxsize=None)
def graph_of(spec: str, dtype=torch.float32) -> Graph:
    return Graph.from_model(load(spec, dtype=dtype))


def _circuit(graph: Graph, keep: float, seed: int) -> EdgeMask:
    """Every edge patched except a random fraction `keep` (the mask of a faithfulness point)."""
    gen = torch.Generator().manual_seed(seed)
    return EdgeMask({g.name: (torch.rand(g.shape, generator=gen) >= keep).float() for g in graph.groups})


@pytest.mark.parametrize("spec", TINY)
def test_folded_masks_equal_the_reference(spec):
    graph = graph_of(spec)
    clean, corrupt = random_prompts(graph, 2, 7, seed=3)
    patch = source_outputs(graph, corrupt)
    node = [e for e in graph.edges() if e.src == "a1.h1"]
    mixed = _circuit(graph, 0.1, seed=1)
    for t in mixed.tensors.values():  # a fractional column shared by all receivers, and one fractional edge
        t[:, 0] = 0.3
    mixed.tensors["logits"][0, 2] = 0.7
    cases = {"node": EdgeMask.from_edges(graph, node), "circuit": _circuit(graph, 0.05, seed=2), "mixed": mixed}
    for name, mask in cases.items():
        edges = {e.name: float(mask.tensors[e.group][e.row, e.col]) for e in graph.edges()
                 if mask.tensors[e.group][e.row, e.col] != 0}
        expected = reference_patched_logits(graph, clean, corrupt, edges)
        got = run(graph, clean, patch=patch, mask=mask)
        assert (got - expected).abs().max() <= TOLERANCE, name
        assert (expected - graph.model.hf(input_ids=clean).logits).abs().max() > 1e-3, f"{name} should change the logits"


@pytest.mark.parametrize("spec", TINY)
def test_recording_only_what_a_mask_reads(spec):
    graph = graph_of(spec)
    _, corrupt = random_prompts(graph, 2, 6, seed=4)
    mask = EdgeMask.from_edges(graph, ["a0.h1->logits", "m0->a1.h0.q"])
    full = source_outputs(graph, corrupt)
    some = source_outputs(graph, corrupt, only=mask)
    read = [graph.node("a0.h1").index, graph.node("m0").index]
    assert torch.equal(some[read], full[read])
    others = [i for i in range(graph.n_sources) if i not in read]
    assert float(some[others].abs().max()) == 0.0 and float(full[others].abs().max()) > 0


def _mask_grads(graph, clean, patch, mask: EdgeMask, differentiable: bool, score_diff=None):
    m = EdgeMask({k: t.clone().requires_grad_(True) for k, t in mask.tensors.items()})
    out = run(graph, clean, patch=patch, mask=m, differentiable=differentiable, score_diff=score_diff)
    (out[:, -1, :].sin().sum()).backward()
    return out.detach(), m.grads()


@pytest.mark.parametrize("spec", TINY)
def test_gradients_off_the_model_backward_equal_the_general_path(spec):
    # differentiable=True takes the general path (per-receiver recomputation, custom autograd)
    graph = graph_of(spec, torch.float64)
    clean, corrupt = random_prompts(graph, 2, 6, seed=5)
    patch = source_outputs(graph, corrupt)
    embed = EdgeMask.zeros(graph)
    for t in embed.tensors.values():
        t[:, 0] = 0.6
    cases = {"zero": (EdgeMask.zeros(graph), None), "full": (EdgeMask.full(graph, 0.4), None),
             "embed+score_diff": (embed, torch.randn_like(patch))}
    for name, (mask, sd) in cases.items():
        out_fast, fast = _mask_grads(graph, clean, patch, mask, False, sd)
        out_gen, general = _mask_grads(graph, clean, patch, mask, True, sd)
        assert (out_fast - out_gen).abs().max() <= TOLERANCE, name
        scale = max(float(g.abs().max()) for g in general.values())
        assert scale > 0
        for k in general:
            assert (fast[k] - general[k]).abs().max() <= 1e-6 * scale, f"{spec} {name} {k}"
