"""What the web app's circuit views need computed from recorded circuits, behind the run layer so the app computes
nothing itself: the circuit at every size of the size slider, and what two circuits share.

At each slider size the circuit is exactly what `mechscope.discover.faithfulness.select` keeps from the recorded
edge scores (top-n by the circuit's selection, pruned to paths from the embedding to the logits), which is how
the faithfulness curve was measured; two circuits are compared by their edges' Jaccard index and the attention
heads that write into one but not the other (`mechscope.compare.mechanism`).

>>> import mechscope as ms
>>> from mechscope.discover import score_edges
>>> g = ms.Graph.from_model(ms.load("random:gpt2-tiny")); s = score_edges(g, ms.load_task("ioi", n=8), "eap")
>>> spans, after = size_spans(g, s, [1, 5, 20], "top")
>>> len(after), after == sorted(after), all(a <= 20 for a in after)
(3, True, True)
"""

from __future__ import annotations


def size_spans(graph, scores: dict, sizes: list[int], selection: str = "top") -> tuple[dict, list[int]]:
    """The circuit at each of `sizes` (edges before pruning) chosen from `scores` (group -> ``[dest, src]`` score
    tensor) by `selection`: ``(spans, after)``, where ``spans[(group, row, col)]`` lists the ``[first, end)``
    positions of `sizes` at which that edge is in the circuit (end None: to the last) and ``after[i]`` is the
    circuit's number of edges at ``sizes[i]`` after pruning."""
    import torch

    from mechscope.discover.faithfulness import select

    spans: dict[tuple[str, int, int], list[list]] = {}
    previous = {k: torch.zeros_like(v, dtype=torch.bool) for k, v in scores.items()}
    after = []
    for pos, n in enumerate(sizes):
        kept = select(graph, scores, edges=n, selection=selection)
        after.append(int(sum(int(k.sum()) for k in kept.values())))
        for group, k in kept.items():
            for row, col in (k & ~previous[group]).nonzero().tolist():
                spans.setdefault((group, row, col), []).append([pos, None])
            for row, col in (previous[group] & ~k).nonzero().tolist():
                spans[(group, row, col)][-1][1] = pos
        previous = kept
    return spans, after


def circuit_overlap(a, b) -> dict:
    """What circuits `a` and `b` share: edges in both, only in `a`, only in `b`, their Jaccard index, and the
    attention heads writing into one but not the other.

    >>> from mechscope.discover import Circuit
    >>> def c(edges):
    ...     return Circuit(model_spec="m", model_fingerprint="f", task="t", task_hash="h", method="hand", params={},
    ...                    edges=dict.fromkeys(edges, 1.0), edges_total=9)
    >>> o = circuit_overlap(c(["a0.h1->logits", "m0->logits"]), c(["m0->logits"]))
    >>> o["both"], o["only_a"], o["jaccard"], o["heads_only_a"]
    (1, 1, 0.5, ['a0.h1'])
    """
    from mechscope.compare.mechanism import circuit_heads, jaccard

    ea, eb = set(a.edges), set(b.edges)
    ha, hb = circuit_heads(a), circuit_heads(b)
    return {"both": len(ea & eb), "only_a": len(ea - eb), "only_b": len(eb - ea), "jaccard": jaccard(ea, eb),
            "heads_only_a": sorted(ha - hb), "heads_only_b": sorted(hb - ha)}
