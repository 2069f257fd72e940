"""The computational graph of a model: nodes, receivers and edges.

Nodes are the things that write to the residual stream: the token embedding
(``embed``), every attention head (``a3.h5``), every MLP (``m3``); plus
``logits``, which only reads. A *receiver* is one input that reads the residual
stream: a head's query (``a3.h5.q``), a key or value (``a3.h5.k``; with
grouped-query attention one per key-value head, ``a3.kv1.k``, because the heads
of a group share one key and value input), an MLP input (``m3``) or the logits
(``logits``). An edge joins a node to a receiver downstream of it and is named
``"a0.h1->a3.h5.q"``.

Receivers of one kind in one layer form a *group* (``a3.q``, ``a3.k``, ``a3.v``,
``m3``, ``logits``); a group's edges form a matrix ``[n_receivers, n_sources]``
over the nodes upstream of it, in node order. That matrix is the unit of an
`EdgeMask` and of attribution scores.

Edge count for GPT-2 small: 32,491, the convention of EAP-IG. For SmolLM2-135M
(30 layers, 9 query heads, 3 key-value heads): 70,651.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from mechscope.errors import MechscopeError, closest
from mechscope.models import Adapter, Model


@dataclass(frozen=True)
class Node:
    """A component that writes to the residual stream (or, for logits, reads it).

    `index` is its source index (position in `Graph.nodes`, logits last);
    `module_path` is the real Hugging Face module whose output carries it.
    """

    name: str
    kind: str  # "embed" | "head" | "mlp" | "logits"
    layer: int  # -1 for embed, n_layers for logits
    head: int | None
    index: int
    module_path: str


@dataclass(frozen=True)
class Group:
    """Receivers of one kind in one layer, and the nodes upstream of them.

    The group's mask and score tensors have shape ``[len(receivers), n_sources]``;
    column j is node j of the graph.
    """

    name: str  # "a3.q", "a3.k", "a3.v", "m3", "logits"
    kind: str  # "q" | "k" | "v" | "mlp" | "logits"
    layer: int
    receivers: tuple[str, ...]
    n_sources: int

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.receivers), self.n_sources)

    @property
    def size(self) -> int:
        return len(self.receivers) * self.n_sources


@dataclass(frozen=True)
class Edge:
    """One edge: `src` node to receiver `dest`, at ``[row, col]`` of group `group`."""

    src: str
    dest: str
    group: str
    row: int
    col: int

    @property
    def name(self) -> str:
        return f"{self.src}->{self.dest}"


class Graph:
    """Nodes, receiver groups and edges of one model.

    Built once per model and cached; the patching engine lives in
    `mechscope.graph.engine` and takes the graph as data.

    >>> from mechscope.models import load
    >>> graph = Graph.from_model(load("random:gpt2-tiny"))
    >>> graph.n_edges, graph.node("a1.h2").module_path
    (110, 'transformer.h.1.attn')
    """

    def __init__(self, model: Model):
        self.model = model
        self.adapter = model.adapter
        self.nodes: tuple[Node, ...] = _build_nodes(model.adapter)
        self.groups: tuple[Group, ...] = _build_groups(model.adapter)
        self._node_by_name = {n.name: n for n in self.nodes}
        self._group_by_name = {g.name: g for g in self.groups}
        self._receiver_to_group = {r: (g, i) for g in self.groups for i, r in enumerate(g.receivers)}

    @classmethod
    def from_model(cls, model: Model) -> "Graph":
        """The graph of `model` (cached on the model object)."""
        return _cached_graph(model)

    # sizes -------------------------------------------------------------
    @property
    def n_sources(self) -> int:
        """Nodes that write to the residual stream (all but logits)."""
        return len(self.nodes) - 1

    @property
    def n_edges(self) -> int:
        return sum(g.size for g in self.groups)

    def counts(self) -> dict:
        """Node and edge counts by type, for `mechscope graph`."""
        kinds = [n.kind for n in self.nodes]
        nodes = {k: kinds.count(k) for k in ("embed", "head", "mlp", "logits")}
        edges: dict[str, int] = {}
        for g in self.groups:
            edges[g.kind] = edges.get(g.kind, 0) + g.size
        return {"nodes": nodes, "edges": edges, "n_nodes": len(self.nodes), "n_edges": self.n_edges}

    # lookup ------------------------------------------------------------
    def node(self, name: str) -> Node:
        try:
            return self._node_by_name[name]
        except KeyError:
            raise MechscopeError(
                f"no node {name!r} in this {self.adapter.family} graph{closest(name, self._node_by_name)}"
            ) from None

    def group(self, name: str) -> Group:
        try:
            return self._group_by_name[name]
        except KeyError:
            raise MechscopeError(f"no receiver group {name!r}{closest(name, self._group_by_name)}") from None

    def edge(self, name: str) -> Edge:
        """Parse and check an edge name such as ``"a0.h1->a3.h5.q"``."""
        src, sep, dest = name.partition("->")
        if not sep:
            raise MechscopeError(f"edge {name!r} is not of the form 'SRC->DEST', e.g. 'a0.h1->a3.h5.q'")
        node = self.node(src.strip())
        dest = dest.strip()
        if dest not in self._receiver_to_group:
            raise MechscopeError(
                f"edge {name!r}: no receiver {dest!r}{closest(dest, self._receiver_to_group)}"
            )
        group, row = self._receiver_to_group[dest]
        if node.index >= group.n_sources:
            raise MechscopeError(
                f"edge {name!r} does not exist: {src} is not upstream of {dest}; "
                "an edge must go from an earlier component to a later one"
            )
        return Edge(src=node.name, dest=dest, group=group.name, row=row, col=node.index)

    def edges(self) -> list[Edge]:
        """Every edge, group by group (a list of `n_edges` entries)."""
        out = []
        for g in self.groups:
            for row, dest in enumerate(g.receivers):
                out.extend(Edge(self.nodes[c].name, dest, g.name, row, c) for c in range(g.n_sources))
        return out

    def edge_at(self, group: str, row: int, col: int) -> Edge:
        g = self.group(group)
        return Edge(self.nodes[col].name, g.receivers[row], g.name, row, col)

    def __repr__(self) -> str:
        return (
            f"Graph({self.model.spec!r}, nodes={len(self.nodes)}, edges={self.n_edges}, "
            f"groups={len(self.groups)})"
        )


@functools.lru_cache(maxsize=16)
def _cached_graph(model: Model) -> Graph:
    return Graph(model)


def head_source_index(adapter: Adapter, layer: int, head: int) -> int:
    return 1 + layer * (adapter.n_heads + 1) + head


def mlp_source_index(adapter: Adapter, layer: int) -> int:
    return 1 + layer * (adapter.n_heads + 1) + adapter.n_heads


def _build_nodes(a: Adapter) -> tuple[Node, ...]:
    nodes = [Node("embed", "embed", -1, None, 0, a.embed)]
    for layer in range(a.n_layers):
        attn_path = a.layer_path(layer, a.out_proj.rsplit(".", 1)[0])
        for h in range(a.n_heads):
            nodes.append(Node(f"a{layer}.h{h}", "head", layer, h, len(nodes), attn_path))
        nodes.append(Node(f"m{layer}", "mlp", layer, None, len(nodes), a.layer_path(layer, a.mlp)))
    nodes.append(Node("logits", "logits", a.n_layers, None, len(nodes), a.unembed))
    return tuple(nodes)


def kv_receiver_name(a: Adapter, layer: int, kv_head: int, kind: str) -> str:
    unit = f"h{kv_head}" if a.n_kv_heads == a.n_heads else f"kv{kv_head}"
    return f"a{layer}.{unit}.{kind}"


def _build_groups(a: Adapter) -> tuple[Group, ...]:
    groups = []
    for layer in range(a.n_layers):
        upstream = 1 + layer * (a.n_heads + 1)
        groups.append(Group(f"a{layer}.q", "q", layer, tuple(f"a{layer}.h{h}.q" for h in range(a.n_heads)), upstream))
        for kind in "kv":
            receivers = tuple(kv_receiver_name(a, layer, g, kind) for g in range(a.n_kv_heads))
            groups.append(Group(f"a{layer}.{kind}", kind, layer, receivers, upstream))
        mlp_upstream = upstream if a.parallel else upstream + a.n_heads
        groups.append(Group(f"m{layer}", "mlp", layer, (f"m{layer}",), mlp_upstream))
    groups.append(Group("logits", "logits", a.n_layers, ("logits",), 1 + a.n_layers * (a.n_heads + 1)))
    return tuple(groups)

