"""ACDC: greedy reverse-topological pruning (Conmy et al. 2023).

Start with every edge in the circuit. Visit receivers from the logits back to
the first layer; for each, try removing (patching) each incoming edge, latest
source first. Keep it removed if the loss rises by less than `tau`:
``loss(without edge) - loss(current) < tau``. The loss is the KL divergence
from the full model's next-token distribution (``metric="kl"``, ACDC's default)
or the negated task metric (``metric="task"``). One try per edge: the tries at one receiver run
batched, from the receiver's layer on, each later layer recomputing only its receivers that hold a
kept edge (`mechscope.graph.engine.run_many`); still, a try costs the layers from its receiver's on.

A receiver whose node no longer reaches the logits (no path of kept edges leads from it to them: every
edge out of it is decided before its inputs are visited) is not tried: removing its edges leaves every
logit as it is, so each scores 0, the rise a try would measure up to float rounding, and goes (when
``0 < tau``); the circuit is the one that trying them finds. Late in the pass that is most
receivers, so a threshold costs about the tries into the circuit's own nodes, not into every node: the
smaller the circuit (the larger tau), the faster (benchmarks/acdc.py times GPT-2 small and SmolLM2). For a
ranking of every edge, use eap-ig.
"""

from __future__ import annotations

import torch

from mechscope.discover.circuit import useful_receivers
from mechscope.discover.runner import PatchedRunner
from mechscope.errors import MechscopeError, closest
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
         batch_size: int = 16, progress: Progress = None, variants: int = 16,
         receivers: list[str] | None = None) -> dict[str, torch.Tensor]:
    """Run ACDC; each edge's score is the loss rise measured when it was tried (0, untried, for an edge
    into a receiver that no logit reads any more: see the module's docstring).

    Edges with score >= tau are the circuit (select it with ``threshold=tau``).

    The tries at one receiver run together: up to `variants` of them in one batched forward pass
    (`PatchedRunner.many`), try j with the receiver's edges 1..j removed (ACDC removes most edges,
    so they usually are); from the first edge kept, the rest are tried again. Each pass starts at
    the receiver's layer from the current circuit's pass up to there (`PatchedRunner.upstream`).
    The scores equal those of one pass per try (up to float rounding); ``variants=1`` runs one try a pass.

    `receivers` (names such as ``"a3.h5.q"``, ``"m2"``, ``"logits"``) tries only the edges into these, in
    ACDC's order; every other edge stays in the circuit (score inf). For spot checks and timing a part.

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:gpt2-tiny"); graph = Graph.from_model(model)
    >>> scores = acdc(graph, load_task("ioi", n=2).encode(model.tokenizer), tau=0.05)
    >>> scores["logits"].shape
    torch.Size([1, 11])
    """
    if metric not in ACDC_METRICS:
        raise MechscopeError(f"unknown ACDC metric {metric!r}; use one of {', '.join(ACDC_METRICS)}")
    if variants < 1:
        raise MechscopeError(f"variants is the number of tries per forward pass, at least 1; got {variants}")
    only = None
    if receivers is not None:
        only, known = set(receivers), {r for g in graph.groups for r in g.receivers}
        for name in receivers:
            if name not in known:
                raise MechscopeError(f"unknown receiver {name!r}; receivers look like 'a0.h1.q', 'm2', 'logits'"
                                     f"{closest(name, known)}")
    runner = PatchedRunner(graph, enc, ablation, batch_size)
    kind = "kl" if metric == "kl" else "metric"

    def losses(tries: list[EdgeMask], base: EdgeMask, start) -> list[float]:
        values = runner.many(tries, base=base, start=start, kind=kind)
        return [float(v.mean()) if kind == "kl" else -float(v.mean()) for v in values]

    mask = EdgeMask.zeros(graph)
    scores = {g.name: torch.zeros(g.shape) if only is None else torch.full(g.shape, torch.inf) for g in graph.groups}
    current = 0.0 if metric == "kl" else -float(runner.clean.mean())  # nothing removed: the clean run
    for g in reversed(graph.groups):
        width = runner.tiles(g.layer, variants)
        # every edge out of this group's nodes is decided (it enters a later group)
        useful = useful_receivers(graph, {k: v == 0 for k, v in mask.tensors.items()})[g.name]
        for row in range(len(g.receivers)):
            if only is not None and g.receivers[row] not in only:
                continue
            if not useful[row]:  # no logit reads this receiver: its edges' rises are 0, without a try
                scores[g.name][row] = 0.0
                if 0.0 < tau:
                    mask.tensors[g.name][row] = 1.0
                if progress:
                    progress(g.n_sources)
                continue
            cols = list(reversed(range(g.n_sources)))
            start = runner.upstream(mask, g.layer)
            t = mask.tensors[g.name]
            i = 0
            while i < len(cols):
                chunk = cols[i : i + width]
                tries, tried = [], t.clone()
                for col in chunk:  # try j: this receiver's edges of chunk[:j+1] removed
                    tried[row, col] = 1.0
                    tries.append(EdgeMask({**mask.tensors, g.name: tried.clone()}))
                for j, (col, new) in enumerate(zip(chunk, losses(tries, mask, start))):
                    rise = new - current
                    scores[g.name][row, col] = rise
                    if progress:
                        progress(1)
                    if rise < tau:
                        current = new  # the edge stays removed
                        t[row, col] = 1.0
                    else:
                        break  # kept: the later tries assumed it removed
                i += j + 1
    return scores
