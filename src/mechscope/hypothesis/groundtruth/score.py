"""How well a discovery method recovers a known circuit: ROC AUC, node ROC AUC, precision at k.

Edge methods (``eap``, ``eap-ig``, ``exact``) rank edges by ``|score|``.
``acdc`` gives a circuit per threshold, not a ranking, so (as in the ACDC
paper) its ROC curve is traced by running it at a sweep of thresholds, one
(false positive rate, true positive rate) point per run. ``node`` scores every
edge by its source node's patching effect, so its edge ranking is coarse by
design; its node ranking is what it measures.

Node-level: a head or MLP is positive if a true edge leaves it or enters one
of its inputs; a method's node score is the largest ``|score|`` of an edge
touching it (``node``: its own patching effect).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from scipy.stats import rankdata

from mechscope.discover import METHODS
from mechscope.discover.attribution import node_scores
from mechscope.discover.circuit import receiver_nodes
from mechscope.errors import MechscopeError, closest
from mechscope.graph import Graph
from mechscope.hypothesis.groundtruth.base import GroundTruth

ACDC_TAUS = tuple(float(t) for t in np.logspace(-4, 0.5, 8))


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of `scores` for binary `labels` (ties count half), by ranks.

    >>> roc_auc(np.array([0.9, 0.8, 0.1, 0.3]), np.array([1, 1, 0, 0]))
    1.0
    >>> roc_auc(np.array([1.0, 1.0]), np.array([1, 0]))
    0.5
    """
    labels = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise MechscopeError("ROC AUC needs at least one true and one false edge; check the true circuit")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _points_auc(points: list[tuple[float, float]]) -> float:
    """Trapezoid area under (fpr, tpr) points, with (0, 0) and (1, 1) added."""
    pts = sorted({(0.0, 0.0), (1.0, 1.0), *points})
    xs, ys = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    return float(np.trapezoid(ys, xs))


def _flat(graph: Graph, scores: dict[str, torch.Tensor]) -> np.ndarray:
    return torch.cat([scores[g.name].flatten() for g in graph.groups]).double().numpy()


def _labels(graph: Graph, edges: list[str]) -> np.ndarray:
    true = {g.name: torch.zeros(g.shape, dtype=torch.bool) for g in graph.groups}
    for name in edges:
        e = graph.edge(name)
        true[e.group][e.row, e.col] = True
    return _flat(graph, true).astype(bool)


def _node_labels_and_scores(graph: Graph, labels: np.ndarray, edge_scores: np.ndarray) -> tuple:
    """Positive flags and scores of heads and MLPs (embed and logits are in every circuit: left out)."""
    n_nodes = len(graph.nodes)
    pos, score = np.zeros(n_nodes, bool), np.zeros(n_nodes)
    recv = receiver_nodes(graph)  # a key-value receiver feeds every head of its group
    flat = iter(zip(labels, np.abs(edge_scores)))
    for g in graph.groups:
        for row in range(len(g.receivers)):
            for col in range(g.n_sources):
                lab, s = next(flat)
                for node in (col, *recv[g.name][row]):
                    pos[node] |= bool(lab)
                    score[node] = max(score[node], s)
    keep = [n.index for n in graph.nodes if n.kind in ("head", "mlp")]
    return [graph.nodes[i].name for i in keep], pos[keep], score[keep]


def _acdc_auc(graph: Graph, enc, labels: np.ndarray, ablation: str, metric: str) -> tuple[float, np.ndarray]:
    """ROC AUC of ACDC over a threshold sweep, and the edge scores of the middle threshold's run."""
    points, middle = [], None
    for i, tau in enumerate(ACDC_TAUS):
        scores = _flat(graph, METHODS["acdc"](graph, enc, tau=tau, metric=metric, ablation=ablation))
        kept = scores >= tau
        points.append((float((kept & ~labels).sum() / (~labels).sum()), float((kept & labels).sum() / labels.sum())))
        if i == len(ACDC_TAUS) // 2:
            middle = scores
    return _points_auc(points), middle


def score_method(truth: GroundTruth, method: str, *, ablation: str = "resample", batch_size: int = 64,
                 **params) -> dict:
    """Score one discovery method against `truth`'s circuit under `ablation`.

    Returns ``{"model", "method", "ablation", "roc_auc", "node_roc_auc", "precision_at_k", "seconds",
    "n_edges", "n_true"}``.
    """
    if method not in METHODS:
        raise MechscopeError(f"unknown method {method!r}{closest(method, METHODS)}; use one of {', '.join(METHODS)}")
    if ablation not in truth.true_edges:
        raise MechscopeError(f"{truth.name} has no true circuit under {ablation} ablation; "
                             f"use one of {', '.join(truth.true_edges)}")
    graph = Graph.from_model(truth.model)
    enc = truth.task.encode(truth.model.tokenizer)
    labels = _labels(graph, truth.true_edges[ablation])
    t0 = time.perf_counter()
    if method == "acdc":
        auc, scores = _acdc_auc(graph, enc, labels, ablation, params.get("metric", "kl"))
    else:
        scores = _flat(graph, METHODS[method](graph, enc, ablation=ablation, batch_size=batch_size, **params))
        auc = roc_auc(np.abs(scores), labels)
    seconds = time.perf_counter() - t0
    names, node_pos, node_score = _node_labels_and_scores(graph, labels, scores)
    if method == "node":
        per = node_scores(graph, enc, ablation=ablation, batch_size=batch_size)
        node_score = np.abs(np.array([per[n] for n in names]))
    k = int(labels.sum())
    top = np.argsort(-np.abs(scores), kind="stable")[:k]
    return {"model": truth.name, "method": method, "ablation": ablation, "roc_auc": round(auc, 4),
            "node_roc_auc": round(roc_auc(node_score, node_pos), 4) if 0 < node_pos.sum() < len(node_pos) else None,
            "precision_at_k": round(float(labels[top].mean()), 4), "seconds": round(seconds, 2),
            "n_edges": int(len(labels)), "n_true": k}
