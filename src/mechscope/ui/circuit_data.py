"""What the circuit view draws: nodes, the edges at every circuit size, the curve and the spread.

The view's slider walks over circuit sizes; at each size the circuit is exactly what
`mechscope.discover.faithfulness.select` keeps from the recorded edge scores (top-n by the circuit's
selection, pruned to paths from the embedding to the logits), which is also how the
faithfulness curve was measured. The run layer computes the sizes once per circuit
(`mechscope.runs.views`); each edge carries the spans of slider positions where it is in the
circuit, so a page (or a notebook widget, with no server) only filters. Neither this module nor
the front-end computes anything of its own.

>>> import tempfile
>>> import mechscope as ms
>>> from mechscope.discover import circuit_from_scores, score_edges
>>> from mechscope.store import Store, record_circuit
>>> m = ms.load("random:gpt2-tiny"); g = ms.Graph.from_model(m); t = ms.load_task("ioi", n=8)
>>> s = score_edges(g, t.split("train"), "eap")
>>> c = circuit_from_scores(g, t, s, "eap", edges=10, curve=False)
>>> view = circuit_view_from(c, s, g)
>>> alive = {e["name"] for e in view["edges"] if alive_at(e, view["default_position"])}
>>> alive == set(c.edges)
True
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import torch

from mechscope.discover import Circuit
from mechscope.errors import MechscopeError
from mechscope.graph import Graph

EDGE_CAP = 1500  # edges sent to a page: the first to enter the circuit as it grows (a bigger SVG is unreadable)
DENSE_UP_TO = 300  # graphs with at most this many edges get a slider position for every size
LOG_POSITIONS = 120


def slider_sizes(edges_total: int, extra: list[int]) -> list[int]:
    """Circuit sizes (edges before pruning) for the slider: every size on small graphs, else log-spaced,
    always including `extra` (the curve's sizes and the circuit's own).

    >>> slider_sizes(5, [3])
    [1, 2, 3, 4, 5]
    >>> s = slider_sizes(70651, [706]); 706 in s, s[0], s[-1], len(s) < 200
    (True, 1, 70651, True)
    """
    if edges_total <= DENSE_UP_TO:
        sizes = set(range(1, edges_total + 1))
    else:
        step = math.log(edges_total) / (LOG_POSITIONS - 1)
        sizes = {max(1, min(edges_total, round(math.exp(i * step)))) for i in range(LOG_POSITIONS)}
    sizes |= {n for n in extra if 0 < n <= edges_total}
    return sorted(sizes)


def alive_at(edge: dict, position: int) -> bool:
    """Whether an edge of a circuit view is in the circuit at a slider position."""
    return any(a <= position and (b is None or position < b) for a, b in edge["spans"])


def layout(graph: Graph) -> dict:
    """The nodes to draw and the model's shape: heads per layer, MLPs, and with grouped-query attention
    one node per key-value group (its heads share one key and one value input)."""
    a = graph.adapter
    nodes = [{"name": n.name, "kind": n.kind, "layer": n.layer, "index": n.head} for n in graph.nodes]
    if a.n_kv_heads < a.n_heads:
        nodes += [{"name": f"a{layer}.kv{g}", "kind": "kv", "layer": layer, "index": g}
                  for layer in range(a.n_layers) for g in range(a.n_kv_heads)]
    return {"family": a.family, "n_layers": a.n_layers, "n_heads": a.n_heads, "n_kv_heads": a.n_kv_heads,
            "parallel": a.parallel, "nodes": nodes}


def circuit_view_from(circuit: Circuit, scores: dict[str, torch.Tensor] | None, graph: Graph | None,
                      note: str | None = None) -> dict:
    """The circuit view's data for one circuit, its edge scores (None if not recorded) and its model's graph
    (None if the model cannot be loaded: then only the numbers are shown)."""
    from mechscope.runs.views import size_spans

    selection = circuit.params.get("selection") or "top"
    own_n = circuit.params.get("edges")
    doc = {"circuit": _summary(circuit), "selection": selection, "note": note, "layout": None,
           "scores_recorded": scores is not None, "sizes": [], "after_pruning": [], "default_position": 0,
           "edges": [], "edges_sent": 0, "complete": True}
    if graph is None:
        return doc
    doc["layout"] = layout(graph)
    if scores is None or not _sized(circuit.method) or own_n is None:
        # no sizes to walk: the slider has one position, the circuit as recorded
        doc["sizes"], doc["after_pruning"] = [len(circuit.edges)], [len(circuit.edges)]
        doc["edges"] = [_edge(graph, name, score, [[0, None]]) for name, score in circuit.edges.items()]
        doc["edges_sent"] = len(doc["edges"])
        if scores is None:
            doc["note"] = note or ("no edge scores were recorded with this circuit (circuits found during a "
                                   "comparison have none), so its size cannot be changed; `mechscope discover` "
                                   "records them")
        return doc
    sizes = slider_sizes(graph.n_edges, [p["edges"] for p in circuit.evaluation.curve] + [own_n])
    spans, after = size_spans(graph, scores, sizes, selection)
    order = sorted(spans, key=lambda key: (spans[key][0][0], -abs(float(scores[key[0]][key[1], key[2]]))))
    doc["edges"] = [_edge(graph, graph.edge_at(*key).name, float(scores[key[0]][key[1], key[2]]), spans[key])
                    for key in order[:EDGE_CAP]]
    doc.update(sizes=sizes, after_pruning=after, default_position=sizes.index(own_n),
               edges_sent=len(doc["edges"]), complete=len(order) <= EDGE_CAP)
    return doc


def _edge(graph: Graph, name: str, score: float, spans: list, **extra) -> dict:
    """An edge as the page draws it: source node, destination node (``a3.h5``, ``a3.kv1``, ``m3``, ``logits``)
    and the receiver's kind (q, k, v, or "" for an MLP or the logits)."""
    e = graph.edge(name)
    kind = graph.group(e.group).kind
    node, kind = (e.dest.rsplit(".", 1)[0], kind) if kind in ("q", "k", "v") else (e.dest, "")
    return {"name": name, "src": e.src, "dest": node, "receiver": e.dest, "kind": kind, "score": score,
            "spans": spans, **extra}


def _summary(c: Circuit) -> dict:
    return {"model_spec": c.model_spec, "model_fingerprint": c.model_fingerprint, "task": c.task,
            "task_hash": c.task_hash, "task_source": c.task_source, "task_size": c.task_size, "method": c.method,
            "params": c.params, "ablation": c.ablation, "edges_kept": len(c.edges), "edges_total": c.edges_total,
            "faithfulness": c.evaluation.faithfulness, "spread": c.evaluation.spread, "curve": c.evaluation.curve, "areas": c.evaluation.areas,
            "seconds": c.evaluation.seconds, "top_nodes": c.top_nodes(8)}


# the store side ------------------------------------------------------------------------------------------
def circuit_view(store, name: str) -> dict:
    """The circuit view of a circuit in the store (`MechscopeError` if there is none of that name)."""
    entry = store.get("circuit", name)
    folder = store.path(entry)
    circuit = Circuit.load(folder / "circuit.json")
    scores = load_scores(folder / "scores.safetensors")
    graph, note = None, None
    try:
        graph = graph_for(str(store.root), circuit.model_spec)
    except (MechscopeError, OSError) as exc:
        note = f"the graph is not drawn: model {circuit.model_spec} cannot be loaded here ({exc})"
    # an entry's files never change (a replaced entry gets a new folder), so its view is computed once
    key = (str(folder), graph is not None)
    if key not in _VIEWS:
        if len(_VIEWS) >= 16:
            _VIEWS.clear()
        _VIEWS[key] = circuit_view_from(circuit, scores, graph, note)
    return {"name": name, "entry": entry.to_dict(), **_VIEWS[key]}


_VIEWS: dict[tuple[str, bool], dict] = {}


def load_scores(path: Path) -> dict[str, torch.Tensor] | None:
    """Every edge's score recorded with a circuit (``scores.safetensors``), or None if it has none."""
    if not path.exists():
        return None
    from safetensors.torch import load_file

    return load_file(str(path))


@lru_cache(maxsize=4)
def graph_for(store_root: str, spec: str) -> Graph:
    """The graph of a circuit's model: a model spec, or a version of the store (``version:NAME``)."""
    from mechscope.store import Store, load_model

    return Graph.from_model(load_model(Store(store_root), spec.removeprefix("version:")))


def circuit_diff(store, a: str, b: str) -> dict:
    """Two recorded circuits side by side: every edge of either, marked ``both``, ``a`` or ``b``, with both
    scores; their Jaccard index and the attention heads that write into one but not the other."""
    from mechscope.runs.views import circuit_overlap

    ca, cb = (Circuit.load(store.path(store.get("circuit", n)) / "circuit.json") for n in (a, b))
    graph = graph_for(str(store.root), ca.model_spec)
    ea, eb = set(ca.edges), set(cb.edges)
    edges = [_edge(graph, name, ca.edges.get(name, cb.edges.get(name)), [[0, None]],
                   score_a=ca.edges.get(name), score_b=cb.edges.get(name),
                   side="both" if name in ea and name in eb else ("a" if name in ea else "b"))
             for name in sorted(ea | eb)]
    return {"a": a, "b": b, "edges": edges, **circuit_overlap(ca, cb),
            "same_model": ca.model_fingerprint == cb.model_fingerprint, "same_task": ca.task_hash == cb.task_hash}


def _sized(method: str) -> bool:
    """Whether a method's circuits come in sizes along its scores (its registry record says; unknown: yes)."""
    from mechscope.runs.registry import REGISTRY, methods

    methods("discover")
    record = REGISTRY.get(("discover", method))
    return True if record is None else bool(record.extra.get("sized", True))
