"""The circuit type, its evaluation, choosing edges from scores, pruning them, and the circuit file.

A circuit is a set of edges kept clean; every other edge is patched (ablated). A `Circuit` is its
edges with their scores and provenance, fixed once made; it converts to and from an `EdgeMask`
(0 on circuit edges, 1 elsewhere). How faithful it is (`Evaluation`) is a separate object, stored
beside it in the circuit file (docs/circuit-format.md).

Inside `discover` and `hypothesis` a circuit also travels as ``Kept``: one bool tensor
``[n_receivers, n_sources]`` per receiver group. That form and its converters (`circuit_mask`,
`kept_count`, `Circuit._kept`) are internal; code outside uses `Circuit.to_mask` / `Circuit.from_mask`.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import torch

from mechscope.errors import file_error, parse_json, read_input_text
from mechscope.graph import EdgeMask, Graph
from mechscope.atomic import write_bytes
from mechscope.graph.structure import head_source_index, mlp_source_index

Kept = dict[str, torch.Tensor]  # internal: group -> bool [n_receivers, n_sources]
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


def prune_to_paths(graph: Graph, kept: Kept) -> Kept:
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
    useful = useful_receivers(graph, live)
    return {g.name: live[g.name] & useful[g.name][:, None] for g in graph.groups}


def useful_receivers(graph: Graph, kept: Kept) -> dict[str, torch.Tensor]:
    """group -> ``[n_receivers]`` bool: the receivers whose node is useful. The logits are useful, and so is
    every node that a kept edge joins to a useful receiver; a node that is not useful changes no logit,
    whatever its inputs.

    >>> from mechscope.models import load
    >>> graph = Graph.from_model(load("random:gpt2-tiny"))
    >>> kept = {g.name: torch.zeros(g.shape, dtype=torch.bool) for g in graph.groups}
    >>> kept["logits"][0, graph.node("a1.h0").index] = True
    >>> rows = useful_receivers(graph, kept)
    >>> rows["logits"].tolist(), rows["a1.q"].tolist(), rows["m1"].tolist()
    ([True], [True, False, False, False], [False])
    """
    recv_nodes = receiver_nodes(graph)
    useful = torch.zeros(len(graph.nodes), dtype=torch.bool)
    useful[-1] = True
    out = {}
    for g in reversed(graph.groups):  # every edge out of a receiver's node enters a later group
        rows = torch.tensor([bool(useful[nodes].any()) for nodes in recv_nodes[g.name]])
        useful[: g.n_sources] |= (kept[g.name] & rows[:, None]).any(0)
        out[g.name] = rows
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
    """Edges in an internal `Kept`."""
    return int(sum(int(v.sum()) for v in kept.values()))


def circuit_mask(kept: Kept) -> EdgeMask:
    """The mask that keeps `kept` clean and patches everything else (internal: `Circuit.to_mask` outside)."""
    return EdgeMask({k: (~v).float() for k, v in kept.items()})


class _Frozen(dict):
    """A dict that refuses changes: a circuit's edges and parameters are fixed once it is made."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("a Circuit is immutable; make a new one (Circuit.without, dataclasses.replace)")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self):  # pickles (executors send circuits between processes) and copies as a plain dict's items
        return type(self), (dict(self),)


@dataclass(frozen=True)
class Evaluation:
    """How faithful a circuit is on its task's test split, and what finding and measuring it cost.

    `faithfulness` is ``(m(circuit) - m(corrupted)) / (m(clean) - m(corrupted))`` (mean task metric m);
    `spread` its per-example median and quartiles; `curve` the faithfulness at MIB's edge fractions and
    `areas` its CPR and CMD; `seconds` the wall-clock time of scoring and evaluation.

    >>> Evaluation(0.9).faithfulness, Evaluation().curve
    (0.9, ())
    """

    faithfulness: float | None = None
    spread: dict = field(default_factory=dict)
    curve: tuple = ()
    areas: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "curve", tuple(self.curve))

    def to_dict(self) -> dict:
        return {"faithfulness": self.faithfulness, "spread": dict(self.spread),
                "curve": [dict(p) for p in self.curve], "areas": dict(self.areas), "seconds": dict(self.seconds)}


_EVALUATION_FIELDS = ("faithfulness", "spread", "curve", "areas", "seconds")


@dataclass(frozen=True)
class Circuit:
    """A circuit: its edges (``"a0.h1->a3.h5.q": score``) and where they came from; immutable.

    Its `evaluation` (an `Evaluation`, empty until measured) is a separate object held beside it;
    the two are saved together as one circuit file. `to_mask` / `from_mask` convert to and from the
    `EdgeMask` that patches every edge outside the circuit.

    >>> import mechscope as ms
    >>> graph = ms.Graph.from_model(ms.load("random:gpt2-tiny"))
    >>> mask = ms.EdgeMask.from_edges(graph, ["embed->logits"], value=0.0, base=1.0)  # only embed->logits clean
    >>> c = Circuit.from_mask(graph, mask, task="ioi", task_hash="h", method="hand", params={})
    >>> list(c.edges), c.to_mask(graph).n_patched() == graph.n_edges - 1, c.evaluation.faithfulness
    (['embed->logits'], True, None)
    """

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
    evaluation: Evaluation = field(default_factory=Evaluation)
    schema: str = CIRCUIT_SCHEMA

    def __post_init__(self):
        object.__setattr__(self, "edges", _Frozen(self.edges))
        object.__setattr__(self, "params", _Frozen(self.params))

    @classmethod
    def from_mask(cls, graph: Graph, mask: EdgeMask, scores: dict[str, torch.Tensor] | None = None,
                  **fields) -> "Circuit":
        """The circuit of the edges `mask` keeps clean (value 0), scored by `scores` (0.0 without);
        `fields` are the provenance (task, task_hash, method, params, ...)."""
        mask.check(graph)
        return cls._from_kept(graph, {k: (v == 0).cpu() for k, v in mask.tensors.items()}, scores, **fields)

    def to_mask(self, graph: Graph) -> EdgeMask:
        """The `EdgeMask` that keeps this circuit's edges clean and patches every other edge of `graph`."""
        return circuit_mask(self._kept(graph))

    @classmethod
    def _from_kept(cls, graph: Graph, kept: Kept, scores: dict[str, torch.Tensor] | None = None,
                   **fields) -> "Circuit":
        edges = {}
        for name, k in kept.items():
            for row, col in k.nonzero().tolist():
                edges[graph.edge_at(name, row, col).name] = float(scores[name][row, col]) if scores else 0.0
        return cls(model_spec=graph.model.spec, model_fingerprint=graph.model.fingerprint,
                   edges=edges, edges_total=graph.n_edges, **fields)

    def _kept(self, graph: Graph) -> Kept:
        out = {g.name: torch.zeros(g.shape, dtype=torch.bool) for g in graph.groups}
        for name in self.edges:
            e = graph.edge(name)
            out[e.group][e.row, e.col] = True
        return out

    def without(self, edge: str) -> "Circuit":
        """This circuit less one edge, not yet evaluated."""
        return replace(self, edges={k: v for k, v in self.edges.items() if k != edge}, evaluation=Evaluation())

    def evaluated(self, evaluation: Evaluation) -> "Circuit":
        """The same circuit with `evaluation` beside it."""
        return replace(self, evaluation=evaluation)

    def top_nodes(self, n: int = 10) -> list[tuple[str, float]]:
        """Nodes by the summed ``|score|`` of their circuit edges (in and out)."""
        weight: dict[str, float] = {}
        for name, s in self.edges.items():
            src, dest = name.split("->")
            for node in (src, _dest_node(dest)):
                weight[node] = weight.get(node, 0.0) + abs(s)
        return sorted(weight.items(), key=lambda kv: -kv[1])[:n]

    def to_dict(self) -> dict:
        """The circuit file's document: the circuit's fields and its evaluation's, side by side."""
        doc = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "evaluation":
                doc.update(value.to_dict())
            else:
                doc[f.name] = dict(value) if isinstance(value, dict) else value
        return doc

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
        doc = dict(_checked_fields(doc, path, fix))
        evaluation = Evaluation(**{k: doc.pop(k) for k in _EVALUATION_FIELDS if k in doc})
        return cls(**doc, evaluation=evaluation)


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
