"""Edge scores: EAP, EAP-IG, exact edge patching and node patching.

Every method takes ``(graph, enc, **params)`` and returns `Scores`: one tensor
``[n_receivers, n_sources]`` per receiver group, shaped like an `EdgeMask`.
A score estimates ``metric(edge patched) - metric(clean)``: negative scores are
edges whose patching hurts the behaviour. Circuits are chosen by ``|score|``.
"""

from __future__ import annotations

import torch

from mechscope.discover.runner import PatchedRunner
from mechscope.errors import MechscopeError
from mechscope.graph import EdgeMask, Graph, run, source_outputs
from mechscope.tasks import EncodedTask, metric_values
from mechscope.tasks.patching import (
    Progress, check_ablation, edge_gradients, mean_source_outputs, patch_for, task_plan,
)
from mechscope.graph.engine import takes_source_chunks
from mechscope.graph.memory import BatchPlan
from mechscope.models.placement import input_device

Scores = dict[str, torch.Tensor]
EXACT_MAX_EDGES = 20_000
EMBED = 0  # the embedding's source index: the column EAP-IG over inputs interpolates


def gradient_plan(graph: Graph, enc: EncodedTask, method: str = "eap", *, batch_size: int = 16,
                  max_memory: int | str | None = None, interpolate: str = "inputs") -> BatchPlan:
    """How `eap` or `eap_ig` fits `max_memory` on this task: the batch size and, when one example does not
    fit, the chunks of sources scored in turn (its `note` is the line the CLI prints).

    EAP holds two ``[n_sources, ...]`` buffers per example (patch and the engine's difference; on post-norm
    families also its gradient correction, three); EAP-IG over inputs three (patch, the fixed clean-to-corrupt
    difference and the engine's; four on post-norm families), with the embedding, whose edges it interpolates,
    in every chunk. EAP-IG over edges takes EAP's gradient at a mask that differs within a column: no chunks.
    The rest of an example's memory is `mechscope.graph.memory.bytes_per_example`'s.

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:llama-tiny"); graph = Graph.from_model(model)
    >>> enc = load_task("ioi", n=4).encode(model.tokenizer)
    >>> gradient_plan(graph, enc, "eap-ig", max_memory="8MiB").note
    'memory budget 8.0 MiB, about 2.1 MiB per example: batch 16 split to 2'
    >>> plan = gradient_plan(graph, enc, "eap-ig", max_memory="1.35MiB")
    >>> plan.note
    'memory budget 1.3 MiB, about 1.4 MiB per example: batch 16 split to 1, 11 sources in 4 chunks of up to 4'
    >>> plan.chunks()
    [[0, 1, 2, 3], [0, 4, 5, 6], [0, 7, 8, 9], [0, 10]]
    """
    if method == "eap-ig" and interpolate == "inputs":
        return task_plan(graph, enc, batch_size, max_memory, grad=True, buffers=ig_buffers(graph), chunkable=True,
                         pinned=(EMBED,))
    return task_plan(graph, enc, batch_size, max_memory, grad=True, chunkable=method == "eap")


def ig_buffers(graph: Graph) -> int:
    """``[n_sources, ...]`` buffers EAP-IG over inputs holds per example: the patch, the fixed difference and the
    engine's difference, and on post-norm families the engine's gradient correction.

    >>> from mechscope.models import load
    >>> ig_buffers(Graph.from_model(load("random:llama-tiny"))), ig_buffers(Graph.from_model(load("random:gemma2-tiny")))
    (3, 4)
    """
    from mechscope.graph.engine import takes_source_chunks

    return 3 if takes_source_chunks(graph) else 4


def eap(graph: Graph, enc: EncodedTask, *, ablation: str = "resample", batch_size: int = 16,
        progress: Progress = None, max_memory: int | str | None = None) -> Scores:
    """Edge attribution patching (Syed et al. 2023): ``(patch - clean upstream output) . d metric / d receiver input``.

    That is the gradient of the metric with respect to each edge's mask at the
    clean run, which the engine computes for all edges in one backward pass.

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:gpt2-tiny"); graph = Graph.from_model(model)
    >>> scores = eap(graph, load_task("ioi", n=4).encode(model.tokenizer))
    >>> sorted(scores)[:3], scores["logits"].shape
    (['a0.k', 'a0.q', 'a0.v'], torch.Size([1, 11]))
    """
    return edge_gradients(graph, enc, ablation=ablation, batch_size=batch_size, progress=progress,
                          max_memory=max_memory)


def eap_ig(graph: Graph, enc: EncodedTask, *, steps: int = 5, ablation: str = "resample", batch_size: int = 16,
           interpolate: str = "inputs", rule: str = "right", progress: Progress = None,
           max_memory: int | str | None = None) -> Scores:
    """EAP with integrated gradients over inputs (Hanna et al. 2024).

    The input embedding is interpolated from corrupted to clean,
    ``x_k = corrupt + k/steps (clean - corrupt)`` for k = 1..steps (in the engine:
    every edge out of ``embed`` patched with coefficient ``1 - k/steps``); the
    gradient at each receiver input is averaged over the steps and multiplied by
    the fixed difference ``patch - clean`` of each upstream output.

    `rule` places the steps: "right" is k = 1..steps (the last step is the clean
    input, so one step is EAP); "left" is k = 0..steps-1, Hanna et al.'s code
    (``eap.attribute.get_scores_eap_ig``; the first step is the corrupted input).

    With ``interpolate="edges"`` the interpolation is over every edge's mask at
    once instead (AutoCircuit's integrated mask gradient, MIB's EAP-IG on
    activations): the gradient of the metric at mask ``k/steps`` on every edge,
    k = 0..steps-1, averaged.

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:gpt2-tiny"); graph = Graph.from_model(model)
    >>> eap_ig(graph, load_task("ioi", n=4).encode(model.tokenizer), steps=2)["m1"].shape
    torch.Size([1, 10])
    """
    if steps < 1:
        raise MechscopeError(f"eap-ig needs steps >= 1, got {steps}; the default is 5")
    if interpolate not in ("inputs", "edges"):
        raise MechscopeError(f"eap-ig interpolates 'inputs' or 'edges', got {interpolate!r}")
    if rule not in ("right", "left"):
        raise MechscopeError(f"eap-ig's step rule is 'right' (k = 1..steps) or 'left' (k = 0..steps-1), got {rule!r}")
    ks = range(1, steps + 1) if rule == "right" else range(steps)
    check_ablation(ablation)
    plan = gradient_plan(graph, enc, "eap-ig", batch_size=batch_size, max_memory=max_memory, interpolate=interpolate)
    batch_size = plan.batch_size
    if interpolate == "edges":
        total = {g.name: torch.zeros(g.shape) for g in graph.groups}
        for k in range(steps):
            grads = edge_gradients(graph, enc, mask=EdgeMask.full(graph, k / steps), ablation=ablation,
                                   batch_size=batch_size, progress=progress and (lambda done: progress(done / steps)),
                                   max_memory=max_memory)
            for name, t in grads.items():
                total[name] += t.cpu() / steps
        return total
    mean = mean_source_outputs(graph, enc, batch_size) if ablation == "mean" else None
    total = {g.name: torch.zeros(g.shape) for g in graph.groups}
    n = len(enc)
    # one pass of every source, or (an example too large for the budget) a chunk at a time; the embedding,
    # whose edges interpolate the input, is in every chunk and its scores are taken from the first
    chunks = plan.chunks() if plan.source_chunk is not None else [None]
    # rule "right" ends at the clean input: on pre-norm families that step's own pass gives the fixed differences
    reuse_clean = rule == "right" and takes_source_chunks(graph)
    for batch in enc.batches(batch_size):
        clean_logits = None
        if batch.metric == "kl":
            with torch.no_grad():
                clean_logits = run(graph, batch.clean_ids, batch.attention_mask, positions=batch.positions)
        for i, sources in enumerate(chunks):
            with torch.no_grad():
                patch = patch_for(graph, batch, ablation, mean, sources=sources)
            order, score_diff = list(ks), None
            if reuse_clean:  # the clean step first: its differences, patch - clean, are every later step's
                order = [steps, *order[:-1]]
                score_diff = torch.empty(patch.shape[0], *batch.clean_ids.shape, patch.shape[-1],
                                         dtype=next(graph.model.hf.parameters()).dtype,
                                         device=input_device(graph.model.hf))
            else:
                with torch.no_grad():
                    score_diff = patch - source_outputs(graph, batch.clean_ids, batch.attention_mask, sources=sources)
            for j, k in enumerate(order):
                m = EdgeMask.zeros(graph)
                for t in m.tensors.values():
                    t[:, EMBED] = 1.0 - k / steps  # interpolate the embedding input
                    t.requires_grad_(True)
                first = reuse_clean and j == 0
                logits = run(graph, batch.clean_ids, batch.attention_mask, patch=patch, mask=m,
                             positions=batch.positions, score_diff=None if first else score_diff, sources=sources,
                             diff_out=score_diff if first else None)
                (metric_values(logits, batch, clean_logits=clean_logits).sum() / (n * steps)).backward()
                for name, t in m.tensors.items():
                    g = t.grad.float().cpu()
                    if i > 0:
                        g[:, EMBED] = 0  # the embedding's columns: counted in the first chunk
                    total[name] += g
        if progress:
            progress(len(batch))
    return total


def exact(graph: Graph, enc: EncodedTask, *, ablation: str = "resample", batch_size: int = 16,
          edges: list[str] | None = None, progress: Progress = None, variants: int = 16) -> Scores:
    """Patch each edge alone and measure ``mean metric(patched) - mean metric(clean)``.

    The reference for attribution methods: one patched run per edge, so for
    small graphs or a list of `edges` to spot-check (others score 0). The edges
    into one receiver run together, up to `variants` in one batched forward pass
    that starts at the receiver's layer from the clean run up to there
    (`PatchedRunner.many`); ``variants=1`` runs one edge a pass.

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:gpt2-tiny"); graph = Graph.from_model(model)
    >>> s = exact(graph, load_task("ioi", n=2).encode(model.tokenizer), edges=["a1.h0->logits"])
    >>> float(s["logits"][0, 6]) != 0.0
    True
    """
    chosen = [graph.edge(e) for e in edges] if edges is not None else graph.edges()
    if edges is None and len(chosen) > EXACT_MAX_EDGES:
        raise MechscopeError(
            f"exact patching of all {len(chosen):,} edges means {len(chosen):,} forward passes; "
            f"use eap-ig, or pass edges=[...] to spot-check (limit {EXACT_MAX_EDGES:,})"
        )
    if variants < 1:
        raise MechscopeError(f"variants is the number of edges per forward pass, at least 1; got {variants}")
    runner = PatchedRunner(graph, enc, ablation, batch_size)
    base = runner.clean.mean()
    scores = {g.name: torch.zeros(g.shape) for g in graph.groups}
    clean = EdgeMask.zeros(graph)
    receivers: dict[tuple[str, int], list] = {}
    for edge in chosen:
        receivers.setdefault((edge.group, edge.row), []).append(edge)
    for (group, _), into in receivers.items():
        layer = graph.group(group).layer
        width = runner.tiles(layer, variants)
        start = runner.upstream(clean, layer)
        for i in range(0, len(into), width):
            masks = []
            for edge in into[i : i + width]:
                t = torch.zeros_like(clean.tensors[group])
                t[edge.row, edge.col] = 1.0
                masks.append(EdgeMask({**clean.tensors, group: t}))
            values = runner.many(masks, base=clean, start=start)
            for edge, v in zip(into[i : i + width], values):
                scores[edge.group][edge.row, edge.col] = (v.mean() - base).item()
                if progress:
                    progress(1)
    return scores


def node_scores(graph: Graph, enc: EncodedTask, *, ablation: str = "resample", batch_size: int = 16,
                progress: Progress = None) -> dict[str, float]:
    """Activation patching of nodes: patch all outgoing edges of a head or MLP at once.

    Returns ``{node: mean metric(patched) - mean metric(clean)}``.
    """
    runner = PatchedRunner(graph, enc, ablation, batch_size)
    base = runner.clean.mean()
    out = {}
    for node in graph.nodes[:-1]:
        mask = EdgeMask.zeros(graph)
        for g in graph.groups:
            if node.index < g.n_sources:
                mask.tensors[g.name][:, node.index] = 1.0
        out[node.name] = (runner.metric(mask).mean() - base).item()
        if progress:
            progress(1)
    return out


def node(graph: Graph, enc: EncodedTask, *, ablation: str = "resample", batch_size: int = 16,
         progress: Progress = None) -> Scores:
    """Node patching as edge scores: every edge gets the score of its source node.

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:gpt2-tiny"); graph = Graph.from_model(model)
    >>> s = node(graph, load_task("ioi", n=2).encode(model.tokenizer))
    >>> bool((s["logits"][0, 1] == s["m1"][0, 1]).item())
    True
    """
    per_node = node_scores(graph, enc, ablation=ablation, batch_size=batch_size, progress=progress)
    values = torch.tensor([per_node[n.name] for n in graph.nodes[:-1]])
    return {g.name: values[: g.n_sources].expand(g.shape).clone() for g in graph.groups}
