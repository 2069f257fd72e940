"""MIB's circuit-track submission formats: edge importances and binary circuits, out and back in.

MIB (Mueller et al. 2025) reads EAP-IG's graph files: a JSON object with

- ``cfg``: ``{"n_layers", "n_heads", "parallel_attn_mlp", "d_model"}``;
- ``nodes``: ``{"input" | "a3.h5" | "m3" | "logits": {"in_graph": bool}}``;
- ``edges``: ``{"a0.h1->a3.h5<q>" | "input->m0" | "m11->logits": {"score": float, "in_graph": bool}}``.

A submission is one folder per task and model (``ioi_gpt2``) holding either
one importance file (``importances.json``) or nine binary circuits, one at
most each of 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50 % of the edges.

Conventions, mechscope to MIB:

- names: ``embed`` is ``input``; receivers ``a3.h5.q`` are ``a3.h5<q>``.
- sign: MIB's scores are attributions of a loss (minus the logit difference),
  so an edge whose patching hurts the behaviour scores positive there and
  negative in mechscope (whose score estimates ``metric(patched) - metric(clean)``):
  the score is negated both ways.
- grouped-query attention: MIB ungroups key/value heads (one k and one v input
  per query head). A mechscope edge into ``a3.kv1.k`` is the same edge into the k
  input of every query head of group 1, so it is written once per head, each
  with the group's score divided by the group size (the sum is the group's
  attribution). Read back, a group's score is the sum over its heads, and a
  group edge is in a binary circuit when any of its heads' edges is.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from mechscope.atomic import write_bytes
from mechscope.discover.circuit import Kept, kept_count, prune_to_paths, top_edges
from mechscope.errors import MechscopeError
from mechscope.graph import Graph

MIB_CIRCUIT_PERCENTS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50)


def _mib_node(name: str) -> str:
    return "input" if name == "embed" else name


def _mib_edges(graph: Graph):
    """Yield ``(mib edge name, group, row, col, share)`` for every MIB edge; share = 1 / heads per receiver."""
    a = graph.adapter
    per_kv = a.n_heads // a.n_kv_heads
    for g in graph.groups:
        for row, dest in enumerate(g.receivers):
            if g.kind in ("q", "k", "v"):
                heads = [row] if g.kind == "q" else [row * per_kv + j for j in range(per_kv)]
                targets = [f"a{g.layer}.h{h}<{g.kind}>" for h in heads]
            else:
                targets = [dest]
            for col in range(g.n_sources):
                src = _mib_node(graph.nodes[col].name)
                for t in targets:
                    yield f"{src}->{t}", g.name, row, col, 1.0 / len(targets)


def to_mib(graph: Graph, scores: dict[str, torch.Tensor], kept: Kept | None = None) -> dict:
    """MIB's graph document for `scores` (mechscope's sign) and, optionally, a circuit `kept`.

    Without `kept`, every edge is marked in the graph (an importance file: MIB chooses the sizes).

    >>> from mechscope.models import load
    >>> graph = Graph.from_model(load("random:gpt2-tiny"))
    >>> scores = {g.name: torch.zeros(g.shape) for g in graph.groups}
    >>> doc = to_mib(graph, scores)
    >>> doc["cfg"], len(doc["edges"]), sorted(doc["edges"])[0]
    ({'n_layers': 2, 'n_heads': 4, 'parallel_attn_mlp': False, 'd_model': 64}, 110, 'a0.h0->a1.h0<k>')
    """
    a = graph.adapter
    edges, nodes_in = {}, set()
    for name, group, row, col, share in _mib_edges(graph):
        in_graph = True if kept is None else bool(kept[group][row, col])
        edges[name] = {"score": -float(scores[group][row, col]) * share, "in_graph": in_graph}
        if in_graph:
            src, dest = name.split("->")
            nodes_in.update((src, dest.split("<")[0]))
    nodes = {_mib_node(n.name): {"in_graph": _mib_node(n.name) in nodes_in or kept is None} for n in graph.nodes}
    return {"cfg": {"n_layers": a.n_layers, "n_heads": a.n_heads, "parallel_attn_mlp": bool(a.parallel),
                    "d_model": a.d_model}, "nodes": nodes, "edges": edges}


def from_mib(graph: Graph, doc: dict, source: str = "MIB graph") -> tuple[dict[str, torch.Tensor], Kept]:
    """Scores (mechscope's sign) and the circuit (``in_graph`` edges) of a MIB graph document.

    >>> from mechscope.models import load
    >>> graph = Graph.from_model(load("random:gpt2-tiny"))
    >>> scores = {g.name: torch.randn(g.shape) for g in graph.groups}
    >>> back, kept = from_mib(graph, to_mib(graph, scores))
    >>> all(torch.allclose(back[k], scores[k]) for k in scores), sum(int(v.sum()) for v in kept.values())
    (True, 110)
    """
    if not isinstance(doc, dict) or not {"cfg", "edges"} <= set(doc):
        raise MechscopeError(f"{source} is not a MIB graph file: it needs 'cfg' and 'edges' keys")
    a, cfg = graph.adapter, doc["cfg"]
    want = {"n_layers": a.n_layers, "n_heads": a.n_heads, "d_model": a.d_model}
    got = {k: cfg.get(k) for k in want}
    if got != want:
        raise MechscopeError(f"{source} is for a model with {got}, but this model has {want}; "
                             "import it with the model it was made for")
    scores = {g.name: torch.zeros(g.shape) for g in graph.groups}
    kept = {g.name: torch.zeros(g.shape, dtype=torch.bool) for g in graph.groups}
    edges = doc["edges"]
    missing = []
    for name, group, row, col, _share in _mib_edges(graph):
        info = edges.get(name)
        if info is None:
            missing.append(name)
            continue
        scores[group][row, col] -= float(info.get("score", 0.0))
        if info.get("in_graph", False):
            kept[group][row, col] = True
    if missing:
        raise MechscopeError(f"{source} lacks {len(missing)} edges of this model's graph (e.g. {missing[0]!r}); "
                             "it was made for another architecture")
    return scores, kept


def save_mib(doc: dict, path: str | Path) -> Path:
    """Write a MIB graph document as JSON (atomically)."""
    return write_bytes(Path(path), json.dumps(doc).encode())


def load_mib(graph: Graph, path: str | Path) -> tuple[dict[str, torch.Tensor], Kept]:
    """Read a MIB graph JSON file: ``(scores, kept)``; see `from_mib`."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MechscopeError(f"cannot read MIB graph file {path}: {exc}") from exc
    return from_mib(graph, doc, source=str(path))


def export_submission(graph: Graph, scores: dict[str, torch.Tensor], folder: str | Path, *, task: str, model: str,
                      circuits: bool = False, selection: str = "signed") -> list[Path]:
    """Write MIB's submission folder ``folder/{task}_{model}/``: ``importances.json``, or with
    `circuits` the nine binary circuits ``{pct}.json`` (top edges by `selection`, pruned, each at
    most pct % of MIB's edge count). Returns the files written.
    """
    if selection not in ("signed", "top"):
        raise MechscopeError(f"MIB circuits are chosen by 'signed' or 'top' scores, got {selection!r}")
    out = Path(folder) / f"{task}_{model}"
    if not circuits:
        return [save_mib(to_mib(graph, scores), out / "importances.json")]
    n_mib = sum(1 for _ in _mib_edges(graph))
    files = []
    for pct in MIB_CIRCUIT_PERCENTS:
        budget = int(pct / 100 * graph.n_edges)
        kept = prune_to_paths(graph, top_edges(scores, budget, signed=selection == "signed"))
        doc = to_mib(graph, scores, kept)
        n_in = sum(1 for e in doc["edges"].values() if e["in_graph"])
        if n_in > pct / 100 * n_mib + 1e-9:  # grouped k/v edges count once per head in MIB
            kept = _shrink_to(graph, scores, kept, pct / 100 * n_mib, selection)
            doc = to_mib(graph, scores, kept)
        files.append(save_mib(doc, out / f"{pct:g}.json"))
    return files


def _shrink_to(graph: Graph, scores, kept: Kept, limit: float, selection: str) -> Kept:
    """Fewer top edges until the circuit, counted in MIB's ungrouped edges, fits `limit`."""
    n = kept_count(kept)
    while n > 0:
        n = int(n * 0.95)
        kept = prune_to_paths(graph, top_edges(scores, n, signed=selection == "signed"))
        if sum(1 for e in to_mib(graph, scores, kept)["edges"].values() if e["in_graph"]) <= limit:
            return kept
    return kept
