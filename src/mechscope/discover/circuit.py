"""Choosing a circuit from edge scores, pruning it, and the circuit file.

A circuit is a set of edges kept clean; every other edge is patched (ablated).
`EdgeMask` convention: 0 on circuit edges, 1 elsewhere.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from mechscope.errors import file_error, parse_json, read_input_text
from mechscope.graph import EdgeMask, Graph
from mechscope.atomic import write_bytes
from mechscope.graph.structure import head_source_index, mlp_source_index

Kept = dict[str, torch.Tensor]  # group -> bool [n_receivers, n_sources]
CIRCUIT_SCHEMA = "mechscope.circuit/1"


def top_edges(scores: dict[str, torch.Tensor], n: int, signed: bool = False) -> Kept:
    """The `n` edges with the largest ``|score|``, or with `signed` the most negative
    scores (the edges whose patching lowers the metric most: MIB's CPR selection)."""
    names = list(scores)
    flat = torch.cat([(-scores[k] if signed else scores[k].abs()).flatten() for k in names])
    n = max(0, min(n, flat.numel()))
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    if n:
        keep[torch.topk(flat, n, sorted=False).indices] = True
    out, start = {}, 0
    for k in names:
        size = scores[k].numel()
        out[k] = keep[start : start + size].view(scores[k].shape)
        start += size
    return out


def threshold_edges(scores: dict[str, torch.Tensor], tau: float) -> Kept:
    """Edges with ``|score| >= tau``."""
    return {k: v.abs() >= tau for k, v in scores.items()}


def receiver_nodes(graph: Graph) -> dict[str, list[list[int]]]:
    """For each group, each receiver's node indices (a kv receiver feeds a group of heads)."""
    a = graph.adapter
    per_kv = a.n_heads // a.n_kv_heads
    out = {}
    for g in graph.groups:
        if g.kind == "q":
            out[g.name] = [[head_source_index(a, g.layer, h)] for h in range(a.n_heads)]
        elif g.kind in ("k", "v"):
            out[g.name] = [[head_source_index(a, g.layer, kv * per_kv + j) for j in range(per_kv)]
                           for kv in range(a.n_kv_heads)]
        elif g.kind == "mlp":
            out[g.name] = [[mlp_source_index(a, g.layer)]]
        else:
            out[g.name] = [[len(graph.nodes) - 1]]
    return out


def prune(graph: Graph, kept: Kept) -> Kept:
    """Drop edges not on a path from the embedding to the logits.

    A node is reached if a kept edge from a reached node enters one of its
    inputs (embed is reached); it is useful if a kept edge from it enters a
    useful node (logits is useful). An edge stays if its source is reached and
    its receiver feeds a useful node.
    """
    n_nodes = len(graph.nodes)
    recv_nodes = receiver_nodes(graph)
    reached = torch.zeros(n_nodes, dtype=torch.bool)
    reached[0] = True
    live = {}
    for g in graph.groups:  # topological order
        k = kept[g.name] & reached[: g.n_sources]
        live[g.name] = k
        for row in k.any(1).nonzero()[:, 0].tolist():
            reached[recv_nodes[g.name][row]] = True
    useful = torch.zeros(n_nodes, dtype=torch.bool)
    useful[-1] = True
    out = {}
    for g in reversed(graph.groups):
        rows = torch.tensor([bool(useful[nodes].any()) for nodes in recv_nodes[g.name]])
        k = live[g.name] & rows[:, None]
        out[g.name] = k
        useful[: g.n_sources] |= k.any(0)
    return {g.name: out[g.name] for g in graph.groups}


def greedy_edges(graph: Graph, scores: dict[str, torch.Tensor], n: int) -> Kept:
    """Grow from the logits: repeatedly add the best-``|score|`` edge into a node already in the circuit."""
    recv_nodes = receiver_nodes(graph)
    into: dict[int, list[tuple[str, int]]] = {}
    for g in graph.groups:
        for row, nodes in enumerate(recv_nodes[g.name]):
            for node in nodes:
                into.setdefault(node, []).append((g.name, row))
    kept = {k: torch.zeros(v.shape, dtype=torch.bool) for k, v in scores.items()}
    heap: list[tuple[float, str, int, int]] = []
    opened: set[int] = set()

    def open_node(node: int) -> None:
        if node in opened:
            return
        opened.add(node)
        for group, row in into.get(node, []):
            s = scores[group][row]
            for col in range(s.shape[0]):
                heapq.heappush(heap, (-abs(float(s[col])), group, row, col))

    open_node(len(graph.nodes) - 1)
    count = 0
    while heap and count < n:
        _, group, row, col = heapq.heappop(heap)
        if kept[group][row, col]:
            continue
        kept[group][row, col] = True
        count += 1
        open_node(col)
    return kept


def kept_count(kept: Kept) -> int:
    return int(sum(int(v.sum()) for v in kept.values()))


def circuit_mask(kept: Kept) -> EdgeMask:
    """The mask that keeps `kept` clean and patches everything else."""
    return EdgeMask({k: (~v).float() for k, v in kept.items()})


@dataclass(frozen=True)
class Circuit:
    """A discovered circuit, its provenance and its evaluation: the whole state, saved as JSON."""

    model_spec: str
    model_fingerprint: str
    task: str
    task_hash: str
    method: str
    params: dict
    edges: dict[str, float]  # "a0.h1->a3.h5.q" -> score
    edges_total: int
    ablation: str = "resample"
    task_source: str = ""  # "builtin:ioi" or the task file's path
    task_size: int = 0
    faithfulness: float | None = None
    spread: dict = field(default_factory=dict)
    curve: list = field(default_factory=list)
    areas: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    schema: str = CIRCUIT_SCHEMA

    @classmethod
    def from_kept(cls, graph: Graph, kept: Kept, scores: dict[str, torch.Tensor], **fields) -> "Circuit":
        edges = {}
        for name, k in kept.items():
            for row, col in k.nonzero().tolist():
                edges[graph.edge_at(name, row, col).name] = float(scores[name][row, col])
        return cls(model_spec=graph.model.spec, model_fingerprint=graph.model.fingerprint,
                   edges=edges, edges_total=graph.n_edges, **fields)

    def kept(self, graph: Graph) -> Kept:
        out = {g.name: torch.zeros(g.shape, dtype=torch.bool) for g in graph.groups}
        for name in self.edges:
            e = graph.edge(name)
            out[e.group][e.row, e.col] = True
        return out

    def mask(self, graph: Graph) -> EdgeMask:
        return circuit_mask(self.kept(graph))

    def without(self, edge: str) -> "Circuit":
        return replace(self, edges={k: v for k, v in self.edges.items() if k != edge})

    def top_nodes(self, n: int = 10) -> list[tuple[str, float]]:
        """Nodes by the summed ``|score|`` of their circuit edges (in and out)."""
        weight: dict[str, float] = {}
        for name, s in self.edges.items():
            src, dest = name.split("->")
            for node in (src, _dest_node(dest)):
                weight[node] = weight.get(node, 0.0) + abs(s)
        return sorted(weight.items(), key=lambda kv: -kv[1])[:n]

    def to_dict(self) -> dict:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        write_bytes(path, json.dumps(self.to_dict(), indent=1).encode())

    @classmethod
    def load(cls, path: str | Path) -> "Circuit":
        """Read a circuit file written by `save` (or ``mechscope discover --out``); one-line errors otherwise."""
        fix = "write one with `mechscope discover --out FILE`"
        doc = parse_json(read_input_text(path, "circuit file"), path, "circuit file", fix)
        if not isinstance(doc, dict):
            raise file_error(path, f"holds a JSON {type(doc).__name__}, not a circuit object", fix)
        if doc.get("schema") != CIRCUIT_SCHEMA:
            raise file_error(path, f"has schema {doc.get('schema')!r:.40}, not {CIRCUIT_SCHEMA!r}: not a circuit "
                             "file of this mechscope", fix)
        return cls(**_checked_fields(doc, path, fix))


def _checked_fields(doc: dict, path, fix: str) -> dict:
    """The fields of a circuit document, each of the type `Circuit` declares, or a one-line error."""
    types = {"model_spec": str, "model_fingerprint": str, "task": str, "task_hash": str, "method": str,
             "params": dict, "edges": dict, "edges_total": int, "ablation": str, "task_source": str,
             "task_size": int, "faithfulness": (int, float, type(None)), "spread": dict, "curve": list,
             "areas": dict, "seconds": dict, "schema": str}
    unknown = sorted(set(doc) - set(types))
    if unknown:
        raise file_error(path, f"has unknown fields {unknown[:3]}", fix)
    for key, kind in types.items():
        if key not in doc:
            if key in {"model_spec", "model_fingerprint", "task", "task_hash", "method", "params", "edges",
                       "edges_total"}:
                raise file_error(path, f"has no {key!r}", fix)
            continue
        value = doc[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise file_error(path, f"field {key!r} is {type(value).__name__}, not {getattr(kind, '__name__', 'a number')}",
                             fix)
    bad = next((k for k, v in doc["edges"].items() if not isinstance(v, (int, float)) or isinstance(v, bool)), None)
    if bad is not None:
        raise file_error(path, f"edge {bad!r:.40} has score {doc['edges'][bad]!r:.20}, not a number", fix)
    return doc


def _dest_node(dest: str) -> str:
    if dest in ("logits",) or dest.startswith("m"):
        return dest
    layer, unit, _ = dest.split(".")
    return f"{layer}.{unit}"
