"""ACDC: greedy reverse-topological pruning (Conmy et al. 2023).

Start with every edge in the circuit. Visit receivers from the logits back to
the first layer; for each, try removing (patching) each incoming edge, latest
source first. Keep it removed if the loss rises by less than `tau`:
``loss(without edge) - loss(current) < tau``. The loss is the KL divergence
from the full model's next-token distribution (``metric="kl"``, ACDC's default)
or the negated task metric (``metric="task"``). One forward pass per edge, so
ACDC is for small graphs; on SmolLM2 use eap-ig.
"""

from __future__ import annotations

import torch

from mechscope.discover.runner import PatchedRunner
from mechscope.errors import MechscopeError
from mechscope.graph import EdgeMask, Graph
from mechscope.tasks import EncodedTask
from mechscope.tasks.patching import Progress

ACDC_METRICS = ("kl", "task")


def acdc_order(graph: Graph) -> list[tuple[str, int, int]]:
    """(group, row, col) of every edge in the order ACDC visits them."""
    order = []
    for g in reversed(graph.groups):
        for row in range(len(g.receivers)):
            order.extend((g.name, row, col) for col in reversed(range(g.n_sources)))
    return order


def acdc(graph: Graph, enc: EncodedTask, *, tau: float = 0.01, metric: str = "kl", ablation: str = "resample",
         batch_size: int = 16, progress: Progress = None) -> dict[str, torch.Tensor]:
    """Run ACDC; each edge's score is the loss rise measured when it was tried.

    Edges with score >= tau are the circuit (select it with ``threshold=tau``).

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:gpt2-tiny"); graph = Graph.from_model(model)
    >>> scores = acdc(graph, load_task("ioi", n=2).encode(model.tokenizer), tau=0.05)
    >>> scores["logits"].shape
    torch.Size([1, 11])
    """
    if metric not in ACDC_METRICS:
        raise MechscopeError(f"unknown ACDC metric {metric!r}; use one of {', '.join(ACDC_METRICS)}")
    runner = PatchedRunner(graph, enc, ablation, batch_size)

    def loss(mask: EdgeMask) -> float:
        return float(runner.kl(mask).mean()) if metric == "kl" else -float(runner.metric(mask).mean())

    mask = EdgeMask.zeros(graph)
    scores = {g.name: torch.zeros(g.shape) for g in graph.groups}
    current = loss(mask)
    for group, row, col in acdc_order(graph):
        t = mask.tensors[group]
        t[row, col] = 1.0
        new = loss(mask)
        rise = new - current
        scores[group][row, col] = rise
        if rise < tau:
            current = new  # the edge stays removed
        else:
            t[row, col] = 0.0
        if progress:
            progress(1)
    return scores
