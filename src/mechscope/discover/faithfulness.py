"""Faithfulness of circuits: one number, its spread over examples, and curves.

Faithfulness = (m(circuit) - m(corrupted)) / (m(clean) - m(corrupted)), with m
the mean task metric (the definition of EAP-IG and MIB). The curve is taken at
MIB's circuit sizes (fractions of all edges, counted before pruning); its area
is MIB's CPR and the area of |1 - faithfulness| its CMD, both by trapezoids over
the linear edge fraction from 0.001 to 1, as MIB's `evaluate_area_under_curve`
integrates (the point at 0 is shown, not integrated). MIB takes CPR from the
curve of signed selection and CMD from the curve of |score| selection: `mib_areas`.
"""

from __future__ import annotations

import torch

from mechscope.discover.circuit import Kept, circuit_mask, greedy_edges, kept_count, prune_to_paths, threshold_edges, top_edges
from mechscope.discover.runner import PatchedRunner
from mechscope.errors import MechscopeError
from mechscope.graph import Graph

MIB_FRACTIONS = (0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
MIB_START = 0.001  # MIB's first circuit size: its areas run from here to 1
SELECTIONS = ("top", "signed", "greedy")
AUTO_TARGET = 0.8


def faithfulness(runner: PatchedRunner, kept: Kept) -> dict:
    """Mean faithfulness of a circuit and its per-example median and interquartile range.

    Per-example faithfulness divides by each example's own clean-corrupt gap;
    examples whose gap is below 1% of the mean gap are left out of the spread.
    `spread["values"]` holds those per-example faithfulness values (in example order).
    """
    values = runner.metric(circuit_mask(kept))
    gap = runner.clean.mean() - runner.corrupt.mean()
    if abs(float(gap)) < 1e-8:
        raise MechscopeError("the clean and corrupted runs score the same on this task; faithfulness is undefined")
    f = float((values.mean() - runner.corrupt.mean()) / gap)
    per_gap = runner.clean - runner.corrupt
    ok = per_gap.abs() >= 0.01 * abs(float(gap))
    per = ((values - runner.corrupt) / per_gap)[ok]
    if len(per):
        q = torch.quantile(per, torch.tensor([0.25, 0.5, 0.75]))
        spread = {"median": float(q[1]), "iqr": float(q[2] - q[0]), "q1": float(q[0]), "q3": float(q[2]),
                  "n": int(ok.sum()), "values": [round(float(v), 6) for v in per]}
    else:
        spread = {"median": None, "iqr": None, "q1": None, "q3": None, "n": 0, "values": []}
    return {"faithfulness": f, "metric": float(values.mean()), "clean": float(runner.clean.mean()),
            "corrupt": float(runner.corrupt.mean()), "spread": spread}


def select(graph: Graph, scores: dict[str, torch.Tensor], *, edges: int | None = None,
           threshold: float | None = None, selection: str = "top") -> Kept:
    """Choose a circuit, then prune it to paths from embed to logits.

    `selection`: "top" (largest |score|), "signed" (most negative score: edges
    whose patching hurts the behaviour most) or "greedy" (grow from the logits
    by |score|); or all edges with ``|score| >= threshold``.
    """
    if (edges is None) == (threshold is None):
        raise MechscopeError("choose a circuit by exactly one of --edges N or --threshold TAU")
    if edges is not None and edges < 0:
        raise MechscopeError(f"a circuit has a positive number of edges, got edges={edges}; give e.g. --edges 700")
    if threshold is not None and not threshold >= 0:
        raise MechscopeError(f"the threshold bounds |score| from below, got {threshold}; give a number >= 0, "
                             "e.g. --threshold 0.01")
    if threshold is not None:
        return prune_to_paths(graph, threshold_edges(scores, threshold))
    if selection in ("top", "signed"):
        return prune_to_paths(graph, top_edges(scores, edges, signed=selection == "signed"))
    if selection == "greedy":
        return prune_to_paths(graph, greedy_edges(graph, scores, edges))
    raise MechscopeError(f"unknown selection {selection!r}; use one of {', '.join(SELECTIONS)}")


def faithfulness_curve(graph: Graph, scores: dict[str, torch.Tensor], runner: PatchedRunner, *,
                       fractions=MIB_FRACTIONS, selection: str = "top", progress=None) -> list[dict]:
    """Faithfulness at each edge fraction: ``[{"fraction", "edges", "edges_after_pruning", "faithfulness", ...}]``."""
    points = []
    for frac in fractions:
        n = int(round(frac * graph.n_edges))
        kept = select(graph, scores, edges=n, selection=selection)
        res = faithfulness(runner, kept)
        points.append({"fraction": frac, "edges": n, "edges_after_pruning": kept_count(kept),
                       "faithfulness": res["faithfulness"], "median": res["spread"]["median"],
                       "iqr": res["spread"]["iqr"]})
        if progress:
            progress(1)
    return points


def curve_areas(curve: list[dict]) -> dict:
    """Area under faithfulness (CPR) and under |1 - faithfulness| (CMD) of one curve, over the edge
    fraction from MIB's first size (0.001) to 1, by trapezoids (MIB's rule; points below 0.001 are left out).

    >>> curve_areas([{"fraction": 0.0, "faithfulness": 0.0}, {"fraction": 0.001, "faithfulness": 1.0},
    ...              {"fraction": 1.0, "faithfulness": 1.0}])
    {'cpr': 0.999, 'cmd': 0.0}
    """
    pts = [p for p in curve if p["fraction"] >= MIB_START - 1e-12]
    xs = torch.tensor([p["fraction"] for p in pts], dtype=torch.float64)
    fs = torch.tensor([p["faithfulness"] for p in pts], dtype=torch.float64)
    if len(xs) < 2:
        return {"cpr": None, "cmd": None}
    return {"cpr": round(float(torch.trapezoid(fs, xs)), 12), "cmd": round(float(torch.trapezoid((1 - fs).abs(), xs)), 12)}


def mib_areas(signed_curve: list[dict], abs_curve: list[dict]) -> dict:
    """MIB's two scores: CPR from the curve of signed selection, CMD from the curve of |score| selection.

    (MIB's `print_results.py` reads CPR from its ``abs-False`` run and CMD from its ``abs-True`` run.)
    """
    return {"cpr": curve_areas(signed_curve)["cpr"], "cmd": curve_areas(abs_curve)["cmd"]}


def choose_size(curve: list[dict], target: float = AUTO_TARGET) -> dict:
    """The circuit size picked from a faithfulness curve: the smallest point reaching `target`,
    else the most faithful one. Returns the point plus ``{"rule": "smallest >= 0.8" | "best"}``.

    >>> pts = [{"fraction": 0.01, "edges": 7, "faithfulness": 0.5}, {"fraction": 0.02, "edges": 14, "faithfulness": 0.85},
    ...        {"fraction": 0.05, "edges": 35, "faithfulness": 0.9}]
    >>> choose_size(pts)["edges"], choose_size(pts, target=0.95)["rule"]
    (14, 'best (none reaches 0.95)')
    """
    useful = [p for p in curve if p["edges"] > 0]
    if not useful:
        raise MechscopeError("the faithfulness curve has no non-empty circuit to choose from")
    reached = [p for p in useful if p["faithfulness"] >= target]
    if reached:
        return {**min(reached, key=lambda p: p["edges"]), "rule": f"smallest >= {target:g}"}
    return {**max(useful, key=lambda p: p["faithfulness"]), "rule": f"best (none reaches {target:g})"}


def smallest_faithful(graph: Graph, scores: dict[str, torch.Tensor], runner: PatchedRunner, target: float = 0.8,
                      selection: str = "top", max_edges: int | None = None) -> dict | None:
    """Smallest top-n circuit (after pruning) reaching `target` faithfulness, by bisection on n.

    Faithfulness is not monotone in n, so this finds a smallest n on the
    bisection path; the curve shows the rest.
    """
    hi = max_edges or graph.n_edges
    res_hi = faithfulness(runner, select(graph, scores, edges=hi, selection=selection))
    if res_hi["faithfulness"] < target:
        return None
    lo = 0
    best = (hi, res_hi)
    while hi - lo > max(1, hi // 50):
        mid = (lo + hi) // 2
        res = faithfulness(runner, select(graph, scores, edges=mid, selection=selection))
        if res["faithfulness"] >= target:
            hi, best = mid, (mid, res)
        else:
            lo = mid
    kept = select(graph, scores, edges=best[0], selection=selection)
    return {"edges": best[0], "edges_after_pruning": kept_count(kept), **best[1]}
