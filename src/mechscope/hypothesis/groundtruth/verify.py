"""Checks that a ground-truth circuit is what it claims, per ablation type.

For each ablation, on the model's task:

- faithfulness of the true circuit alone (at least 0.95);
- faithfulness with only the true circuit knocked out (its edges patched, all
  others clean; at most 0.1: the task is gone);
- the highest faithfulness left after removing any one true edge (every true
  edge is needed). Under resample ablation the wrong answer is the corrupted
  prompt's answer, so an edge whose loss disables the mechanism (logit
  difference 0) rather than steering it to the corrupted answer leaves
  faithfulness 0.5 exactly: that is the floor there, hence 0.55.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from mechscope.discover.circuit import Kept
from mechscope.discover.faithfulness import faithfulness
from mechscope.discover.runner import PatchedRunner
from mechscope.graph import Graph

THRESHOLDS = {"faithfulness": 0.95, "knockout": 0.1, "removed": {"resample": 0.55, "zero": 0.5, "mean": 0.5}}


def kept_edges(graph: Graph, edges: Iterable[str], complement: bool = False) -> Kept:
    """The `Kept` of an edge list (or, with `complement`, of every other edge).

    >>> from mechscope.models import load
    >>> kept = kept_edges(Graph.from_model(load("random:gpt2-tiny")), ["embed->a1.h2.q"])
    >>> int(kept["a1.q"].sum())
    1
    """
    kept = {g.name: torch.full(g.shape, complement, dtype=torch.bool) for g in graph.groups}
    for name in edges:
        e = graph.edge(name)
        kept[e.group][e.row, e.col] = not complement
    return kept


def verify_circuit(graph: Graph, enc, edges: list[str], ablation: str = "resample") -> dict:
    """Faithfulness of `edges` as a circuit, of its knockout (only `edges` patched), and with each edge removed.

    Returns ``{"faithfulness", "knockout", "worst_removed", "worst_removed_edge", "removed": {edge: f},
    "removed_metric": {edge: mean metric}, "clean", "corrupt", "holds"}``, where `worst_removed` is the
    highest faithfulness left after removing one edge and `holds` applies `THRESHOLDS`.

    >>> from mechscope.hypothesis.groundtruth.handbuilt import handbuilt_first
    >>> gt = handbuilt_first(n=8, verify=False)
    >>> enc = gt.task.encode(gt.model.tokenizer)
    >>> verify_circuit(Graph.from_model(gt.model), enc, gt.true_edges["resample"])["holds"]
    True
    """
    runner = PatchedRunner(graph, enc, ablation)
    full = faithfulness(runner, kept_edges(graph, edges))
    knockout = faithfulness(runner, kept_edges(graph, edges, complement=True))["faithfulness"]
    without = {e: faithfulness(runner, kept_edges(graph, [x for x in edges if x != e])) for e in edges}
    removed = {e: r["faithfulness"] for e, r in without.items()}
    worst = max(removed, key=removed.get)
    holds = (full["faithfulness"] >= THRESHOLDS["faithfulness"] and knockout <= THRESHOLDS["knockout"]
             and removed[worst] <= THRESHOLDS["removed"][ablation])
    return {"faithfulness": full["faithfulness"], "knockout": knockout, "worst_removed": removed[worst],
            "worst_removed_edge": worst, "removed": removed,
            "removed_metric": {e: r["metric"] for e, r in without.items()},
            "clean": full["clean"], "corrupt": full["corrupt"], "holds": bool(holds)}


def verify_truth(truth) -> dict:
    """`verify_circuit` of a `GroundTruth` under every ablation its truth names."""
    graph = Graph.from_model(truth.model)
    enc = truth.task.encode(truth.model.tokenizer, device=truth.model.device)
    return {ab: verify_circuit(graph, enc, edges, ab) for ab, edges in truth.true_edges.items()}
