"""Circuit discovery: score edges on the train split, choose a circuit, measure it on the test split.

>>> import mechscope as ms
>>> from mechscope import discover
>>> model = ms.load("random:gpt2-tiny"); graph = ms.Graph.from_model(model)
>>> circuit = discover.find_circuit(graph, ms.load_task("ioi", n=8), method="eap", edges=20, curve=False)
>>> circuit.method, len(circuit.edges) <= 20, 0 <= circuit.evaluation.seconds["total"]
('eap', True, True)
"""

from __future__ import annotations

import time

from mechscope.discover.acdc import acdc
from mechscope.discover.attribution import Scores, eap, eap_ig, exact, node
from mechscope.discover.circuit import Circuit, Evaluation, prune_to_paths
from mechscope.discover.faithfulness import choose_size, curve_areas, faithfulness, faithfulness_curve, select
from mechscope.discover.runner import PatchedRunner, split_runner
from mechscope.discover.winners import bootstrap_signs, edge_pruning, marginal_gain
from mechscope.errors import MechscopeError, closest
from mechscope.graph import Graph
from mechscope.tasks import Task

METHODS = {"eap": eap, "eap-ig": eap_ig, "exact": exact, "acdc": acdc, "node": node,
           # MIB shared-task winners (discover/winners.py)
           "edge-pruning": edge_pruning, "eap-ig-bootstrap": bootstrap_signs, "marginal-gain": marginal_gain}

# The public surface (docs/public-api.md). Each method (attribution.eap, acdc.acdc, winners.edge_pruning, ...)
# is reached by name through score_edges / find_circuit (METHODS), or from its module; the selection, curve and
# MIB-format helpers live in discover.faithfulness, discover.circuit and discover.mib.
__all__ = [
    "Circuit", "Evaluation", "PatchedRunner", "circuit_from_scores", "evaluate_circuit", "faithfulness_curve",
    "find_circuit", "score_edges",
]


def encode(graph: Graph, task: Task, bos: bool = False):
    """`task` tokenized for the graph's model; with `bos`, the BOS token first (MIB's convention)."""
    enc = task.encode(graph.model.tokenizer)
    bos_id = _bos_id(graph, bos)
    return enc if bos_id is None else enc.with_bos(bos_id)


def _bos_id(graph: Graph, bos: bool) -> int | None:
    if not bos:
        return None
    if graph.model.tokenizer.bos_token_id is None:
        raise MechscopeError("this tokenizer has no BOS token; run without bos (--bos)")
    return graph.model.tokenizer.bos_token_id


def score_edges(graph: Graph, task: Task, method: str, *, bos: bool = False, **params) -> Scores:
    """Run one discovery method on a task (all of it: split it first) and return its edge scores."""
    if method not in METHODS:
        raise MechscopeError(f"unknown method {method!r}; use one of {', '.join(METHODS)}{closest(method, METHODS)}")
    return METHODS[method](graph, encode(graph, task, bos), **params)


def find_circuit(
    graph: Graph,
    task: Task,
    method: str = "eap-ig",
    *,
    edges: int | None = None,
    threshold: float | None = None,
    selection: str = "top",
    ablation: str = "resample",
    batch_size: int = 16,
    curve: bool = True,
    bos: bool = False,
    progress=None,
    **params,
) -> Circuit:
    """Score on the train split, choose the circuit, evaluate it and its curve on the test split.

    `bos` puts the tokenizer's BOS token before every prompt, as MIB does (docs/faithfulness.md).
    """
    t0 = time.perf_counter()
    scores = score_edges(graph, task.split("train"), method, bos=bos, ablation=ablation, batch_size=batch_size,
                         progress=progress, **params)
    return circuit_from_scores(graph, task, scores, method, edges=edges, threshold=threshold, selection=selection,
                               ablation=ablation, batch_size=batch_size, curve=curve, bos=bos,
                               scoring_seconds=time.perf_counter() - t0, **params)


def circuit_from_scores(
    graph: Graph,
    task: Task,
    scores: Scores,
    method: str,
    *,
    edges: int | None = None,
    threshold: float | None = None,
    selection: str = "top",
    ablation: str = "resample",
    batch_size: int = 16,
    curve: bool = True,
    bos: bool = False,
    scoring_seconds: float = 0.0,
    **params,
) -> Circuit:
    """Choose the circuit from edge scores found on `task`'s train split; evaluate it and its curve on the test split.

    With neither `edges` nor `threshold` the size is chosen from the curve on the
    test split: the smallest of MIB's sizes reaching faithfulness 0.8, else the
    most faithful one (`choose_size`); ``params["size"]`` says which and why.

    >>> import mechscope as ms
    >>> model = ms.load("random:gpt2-tiny"); graph = ms.Graph.from_model(model); task = ms.load_task("ioi", n=8)
    >>> scores = score_edges(graph, task.split("train"), "eap")
    >>> len(circuit_from_scores(graph, task, scores, "eap", edges=10, curve=False).edges) <= 10
    True
    """
    t1 = time.perf_counter()
    runner = split_runner(graph, task.split("test"), ablation, batch_size, _bos_id(graph, bos), make=PatchedRunner)
    auto = method != "acdc" and edges is None and threshold is None
    points = faithfulness_curve(graph, scores, runner, selection=selection) if (curve or auto) and method != "acdc" else []
    size = None
    if method == "acdc":
        # ACDC's circuit is the edges it kept: loss rise >= tau (a negative rise was removed)
        tau = params.get("tau", 0.01)
        kept = prune_to_paths(graph, {k: v >= tau for k, v in scores.items()})
    else:
        if auto:
            size = choose_size(points)
            edges = size["edges"]
            size = {"rule": size["rule"], "edges": edges, "fraction": size["fraction"],
                    "faithfulness": size["faithfulness"]}
        kept = select(graph, scores, edges=edges, threshold=threshold, selection=selection)
    res = faithfulness(runner, kept)
    t_eval = time.perf_counter() - t1
    evaluation = Evaluation(
        faithfulness=res["faithfulness"], spread=res["spread"], curve=points, areas=curve_areas(points) if points else {},
        seconds={"scoring": round(scoring_seconds, 2), "evaluation": round(t_eval, 2),
                 "total": round(scoring_seconds + t_eval, 2)})
    return Circuit._from_kept(
        graph, kept, scores, task=task.name, task_hash=task.hash(), method=method,
        task_source=task.source, task_size=len(task),
        params={"edges": edges, "threshold": threshold, "selection": selection, "batch_size": batch_size,
                **({"size": size} if size else {}), **({"bos": True} if bos else {}), **params},
        ablation=ablation, evaluation=evaluation,
    )


def evaluate_circuit(graph: Graph, circuit: Circuit, task: Task, *, split: str = "test", batch_size: int = 16) -> dict:
    """Re-evaluate a saved circuit on a task split (possibly another task or model version)."""
    part = task.split(split) if split != "all" else task
    runner = split_runner(graph, part, circuit.ablation, batch_size, _bos_id(graph, circuit.params.get("bos", False)),
                          make=PatchedRunner)
    res = faithfulness(runner, circuit._kept(graph))
    return {"task": task.name, "task_hash": task.hash(), "split": split, "edges_kept": len(circuit.edges),
            "edges_total": graph.n_edges, "same_model": circuit.model_fingerprint == graph.model.fingerprint, **res}

