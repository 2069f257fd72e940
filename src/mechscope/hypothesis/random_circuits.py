"""Random circuits as the hypothesis tests draw them: unions of uniformly random embed->logits paths.

This is the reference distribution of sufficiency, partial necessity and
minimality (the paper's ``sample_circuit``). Edges are keys ``(group, row, col)``
of the graph's receiver groups.

>>> import random
>>> import mechscope as ms
>>> graph = ms.Graph.from_model(ms.load("random:gpt2-tiny"))
>>> edges = RandomPaths(graph, random.Random(0)).path()
>>> edges[-1][0]  # every path ends at the logits
'logits'
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence

from mechscope.discover.circuit import Kept, receiver_nodes
from mechscope.graph import Graph

_EdgeKey = tuple[str, int, int]  # (group, row, col)

__all__ = ["RandomPaths", "graph_edges", "grow_within"]  # _EdgeKey and _edge_set are internal to hypothesis


class RandomPaths:
    """Uniformly random embed->logits paths: from a node, a uniformly random outgoing edge (circuitry's `_sample_path`).

    An edge into a key/value receiver shared by a group of heads (grouped-query
    attention) continues from one of those heads, chosen uniformly.
    """

    def __init__(self, graph: Graph, rng: random.Random):
        self.rng = rng
        recv = receiver_nodes(graph)
        items = [(g.n_sources, g.name, row, tuple(recv[g.name][row]))
                 for g in graph.groups for row in range(g.shape[0])]
        items.sort(key=lambda it: it[0])
        self.n_sources = [it[0] for it in items]
        self.receivers = [(name, row, nodes) for _, name, row, nodes in items]
        self.logits = len(graph.nodes) - 1
        self.n_edges = graph.n_edges

    def path(self) -> list[_EdgeKey]:
        node, edges = 0, []
        while node != self.logits:
            start = bisect.bisect_right(self.n_sources, node)  # receivers downstream of `node`
            name, row, nodes = self.receivers[self.rng.randrange(start, len(self.receivers))]
            edges.append((name, row, node))
            node = self.rng.choice(nodes)
        return edges

    def grow(self, base: frozenset[_EdgeKey], target: int, all_edges: Sequence[_EdgeKey]) -> frozenset[_EdgeKey]:
        """`base` plus whole random paths until it has at least `target` edges.

        Paths rarely reach some edges; after ``100 * target + 1000`` paths the rest
        is topped up with uniformly random edges so that very large targets end.
        """
        out = set(base)
        target = min(target, self.n_edges)
        tries = 0
        while len(out) < target and tries < 100 * target + 1000:
            out.update(self.path())
            tries += 1
        if len(out) < target:
            rest = [e for e in all_edges if e not in out]
            out.update(self.rng.sample(rest, target - len(out)))
        return frozenset(out)


def graph_edges(graph: Graph) -> list[_EdgeKey]:
    return [(g.name, r, c) for g in graph.groups for r in range(g.shape[0]) for c in range(g.shape[1])]


def _edge_set(kept: Kept) -> frozenset[_EdgeKey]:
    return frozenset((name, r, c) for name, t in kept.items() for r, c in t.nonzero().tolist())


def grow_within(paths: RandomPaths, size: int, pool: Sequence[_EdgeKey], avoid: frozenset[_EdgeKey],
                 all_edges: Sequence[_EdgeKey]) -> frozenset[_EdgeKey]:
    """A random path circuit of at least `size` edges; with `avoid`, path edges in it are skipped (circuitry's
    complement sampling keeps whole paths off the circuit; skipping its edges keeps sampling cheap)."""
    if not avoid:
        return paths.grow(frozenset(), size, all_edges)
    out: set[_EdgeKey] = set()
    tries = 0
    while len(out) < size and tries < 100 * size + 1000:
        out.update(e for e in paths.path() if e not in avoid)
        tries += 1
    if len(out) < size:
        out.update(paths.rng.sample([e for e in pool if e not in out], size - len(out)))
    return frozenset(out)
