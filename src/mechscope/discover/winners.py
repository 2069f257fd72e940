"""What won MIB's shared task, as discovery methods: edge pruning, bootstrapped signs, marginal gain.

Each returns `Scores` in mechscope's convention (negative = patching the edge
hurts the behaviour), so every selection and the faithfulness curve apply:

- `edge_pruning` (Bhaskar et al. 2024): a continuous keep-probability per edge,
  ``keep = sigmoid(logit)``, learned by gradient descent on the train split so
  that the circuit's metric stays at the clean one while the expected circuit
  size is penalised; warm-started from EAP-IG scores. Score: ``-keep``.
- `bootstrap_signs`: EAP-IG per example, then edges whose mean's sign is not
  reproduced in at least `agreement` of `resamples` bootstrap resamples of the
  examples are set to 0 (noise, not circuit).
- `marginal_gain`: grow the circuit in rounds; each round re-takes the gradient
  at the current circuit (every other edge patched) and adds the edges whose
  restoration is predicted to raise the metric most. Score: minus the order of
  addition scaled into (0, 1], so the top n by signed score is the first n added.
"""

from __future__ import annotations

import torch

from mechscope.discover.attribution import Scores, eap_ig
from mechscope.discover.circuit import circuit_mask, top_edges
from mechscope.errors import MechscopeError
from mechscope.graph import EdgeMask, Graph, run
from mechscope.tasks import EncodedTask, metric_values
from mechscope.tasks.patching import Progress, check_ablation, edge_gradients, mean_source_outputs, patch_for


def _flat(scores: Scores) -> torch.Tensor:
    return torch.cat([v.flatten() for v in scores.values()])


def _unflat(graph: Graph, flat: torch.Tensor) -> Scores:
    out, start = {}, 0
    for g in graph.groups:
        out[g.name] = flat[start : start + g.size].view(g.shape).clone()
        start += g.size
    return out


def edge_pruning(graph: Graph, enc: EncodedTask, *, steps: int = 40, lr: float = 0.1, sparsity: float = 1.0,
                 warm_start: str = "eap-ig", warm_fraction: float = 0.05, ig_steps: int = 5, ablation: str = "resample",
                 batch_size: int = 16, progress: Progress = None) -> Scores:
    """Learn a keep-probability per edge; return ``-keep`` as scores.

    Loss per step (one batch): ``((m(circuit) - m(clean)) / gap)^2 + sparsity * mean(keep)``,
    m the task metric, gap the mean clean-corrupt gap of the batch: the first term is
    ``(1 - faithfulness)^2`` example by example, the second the expected fraction of
    edges kept. Edges start at ``keep = sigmoid(+2)`` for the top `warm_fraction` by
    EAP-IG's signed score and ``sigmoid(-2)`` for the rest (``warm_start="eap-ig"``), or
    all at 0.5 (``"none"``). Adam on the logits, `lr`, `steps` passes over the batches.

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:gpt2-tiny"); graph = Graph.from_model(model)
    >>> s = edge_pruning(graph, load_task("ioi", n=4).encode(model.tokenizer), steps=2)
    >>> bool((s["logits"] < 0).all())
    True
    """
    if steps < 1 or lr <= 0 or sparsity < 0 or not 0 < warm_fraction <= 1:
        raise MechscopeError("edge pruning needs steps >= 1, lr > 0, sparsity >= 0 and 0 < warm_fraction <= 1")
    if warm_start not in ("eap-ig", "none"):
        raise MechscopeError(f"edge pruning warm-starts from 'eap-ig' or 'none', got {warm_start!r}")
    check_ablation(ablation)
    if warm_start == "eap-ig":
        init = eap_ig(graph, enc, steps=ig_steps, ablation=ablation, batch_size=batch_size)
        top = top_edges(init, max(1, int(warm_fraction * graph.n_edges)), signed=True)
        logits = {k: torch.where(top[k], 2.0, -2.0) for k in init}
    else:
        logits = {g.name: torch.zeros(g.shape) for g in graph.groups}
    params = [t.requires_grad_(True) for t in logits.values()]
    opt = torch.optim.Adam(params, lr=lr)
    mean = mean_source_outputs(graph, enc, batch_size) if ablation == "mean" else None
    batches = []
    with torch.no_grad():
        for b in enc.batches(batch_size):
            clean_logits = run(graph, b.clean_ids, b.attention_mask, positions=b.positions)
            patch = patch_for(graph, b, ablation, mean)
            corrupt = metric_values(run(graph, b.clean_ids, b.attention_mask, patch=patch, mask=EdgeMask.ones(graph),
                                        positions=b.positions), b, clean_logits=clean_logits)
            clean = metric_values(clean_logits, b, clean_logits=clean_logits)
            gap = (clean - corrupt).mean().abs().clamp(min=1e-6)
            batches.append((b, patch, clean_logits, clean, gap))
    n_edges = graph.n_edges
    for _ in range(steps):
        for b, patch, clean_logits, clean, gap in batches:
            keep = {k: torch.sigmoid(v) for k, v in logits.items()}
            mask = EdgeMask({k: 1.0 - v for k, v in keep.items()})
            out = run(graph, b.clean_ids, b.attention_mask, patch=patch, mask=mask, positions=b.positions)
            m = metric_values(out, b, clean_logits=clean_logits)
            size = sum(v.sum() for v in keep.values()) / n_edges
            loss = (((m - clean) / gap) ** 2).mean() + sparsity * size
            opt.zero_grad()
            loss.backward()
            opt.step()
        if progress:
            progress(1)
    with torch.no_grad():
        return {k: -torch.sigmoid(v).detach() for k, v in logits.items()}


def per_example_eap_ig(graph: Graph, enc: EncodedTask, *, steps: int = 5, ablation: str = "resample") -> torch.Tensor:
    """EAP-IG scores of every example alone: ``[n_examples, n_edges]`` (groups flattened in graph order)."""
    rows = []
    for i in range(len(enc)):
        rows.append(_flat(eap_ig(graph, enc.select(slice(i, i + 1)), steps=steps, ablation=ablation, batch_size=1)))
    return torch.stack(rows)


def bootstrap_signs(graph: Graph, enc: EncodedTask, *, steps: int = 5, resamples: int = 200, agreement: float = 0.9,
                    seed: int = 0, ablation: str = "resample", batch_size: int = 16, progress: Progress = None) -> Scores:
    """EAP-IG with the edges whose sign is not stable under resampling the examples ranked last.

    An edge is *stable* where at least `agreement` of `resamples` bootstrap means
    (examples drawn with replacement) have the sign of its mean score over the
    examples; a stable edge keeps its mean. An unstable edge keeps its mean's sign
    and its order among the unstable ones but is shrunk below the smallest stable
    magnitude (`rank_after`): a selection by |score|
    takes every stable edge before any unstable one, a signed selection the stable
    edges of its sign before the unstable ones, and a circuit larger than the stable
    set grows by EAP-IG's order instead of reaching into a tie at 0 (which a top-n
    would break in graph order).

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:gpt2-tiny"); graph = Graph.from_model(model)
    >>> s = bootstrap_signs(graph, load_task("ioi", n=4).encode(model.tokenizer), steps=2, resamples=20)
    >>> s["logits"].shape
    torch.Size([1, 11])
    """
    if resamples < 1 or not 0.5 <= agreement <= 1:
        raise MechscopeError("bootstrap needs resamples >= 1 and 0.5 <= agreement <= 1")
    per = per_example_eap_ig(graph, enc, steps=steps, ablation=ablation)  # [n, E]
    mean = per.mean(0)
    gen = torch.Generator().manual_seed(seed)
    n = per.shape[0]
    same = torch.zeros_like(mean)
    for _ in range(resamples):
        idx = torch.randint(0, n, (n,), generator=gen)
        same += (torch.sign(per[idx].mean(0)) == torch.sign(mean)).float()
    stable = same / resamples >= agreement
    if progress:
        progress(len(enc))
    return _unflat(graph, rank_after(mean, stable))


def _toward_gap(gain: torch.Tensor, candidates: torch.Tensor, need: int) -> torch.Tensor:
    """Priorities ``[n]`` for taking `need` of the `candidates` so that their summed `gain` closes the gap
    (the sum of every candidate's gain) without passing it: greedily, edges of the gap's sign from the largest
    down, each taken if it still fits in what is left of the gap; then the smallest |gain|. Non-candidates -inf.

    >>> _toward_gap(torch.tensor([3.0, 1.0, -0.5, 0.1, 0.0]), torch.tensor([True] * 4 + [False]), 2).tolist()
    [0.0, -3.0, -2.0, -1.0, -inf]
    >>> p = _toward_gap(torch.tensor([3.0, 1.0, -4.0, 0.1, 0.2]), torch.ones(5, dtype=torch.bool), 2)  # gap 0.3
    >>> torch.topk(p, 2).indices.tolist()
    [4, 3]
    """
    idx = candidates.nonzero()[:, 0]
    g = gain[idx]
    gap = float(g.sum())
    sign = 1.0 if gap >= 0 else -1.0
    order = torch.argsort(-sign * g, stable=True).tolist()
    left, take = abs(gap), []
    for j, v in zip(order, (sign * g[order]).tolist()):
        if v <= 0 or len(take) == need:
            break
        if v <= left:
            take.append(j)
            left -= v
    taken = set(take)
    rest = [j for j in torch.argsort(g.abs(), stable=True).tolist() if j not in taken]
    prio = torch.full_like(gain, -float("inf"))
    ranked = torch.tensor(take + rest, dtype=torch.long)
    prio[idx[ranked]] = -torch.arange(ranked.numel(), dtype=gain.dtype) + 0.0  # + 0.0: no -0.0
    return prio


def rank_after(scores: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
    """`scores` ``[n]`` with the entries outside `first` ``[n]`` (bool) moved, signs and |score| order kept, below
    every non-zero magnitude inside it: ordered by |score|, `first` comes first; ordered by signed score, the
    entries of `first` of one sign come before the others of that sign.

    The moved magnitudes are ``0.5 * floor * rank / count`` (rank of |score| among the moved, from 1), not a
    rescaling, so that small scores do not underflow into a tie at 0 in float32.

    >>> rank_after(torch.tensor([-2.0, -0.5, 1.0, -4.0]), torch.tensor([True, False, True, False])).tolist()
    [-2.0, -0.25, 1.0, -0.5]
    """
    rest = (~first).nonzero()[:, 0]
    if not bool(first.any()) or rest.numel() == 0:
        return scores.clone()
    inside = scores[first].abs()
    floor = float(inside[inside > 0].min()) if bool((inside > 0).any()) else 1.0
    rank = torch.empty(rest.numel(), dtype=scores.dtype)
    rank[torch.argsort(scores[rest].abs(), stable=True)] = torch.arange(1, rest.numel() + 1, dtype=scores.dtype)
    out = scores.clone()
    out[rest] = torch.sign(scores[rest]) * (0.5 * floor * rank / rest.numel())
    return out


def marginal_gain(graph: Graph, enc: EncodedTask, *, fractions=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5),
                  steps: int = 5, aim: str = "rise", ablation: str = "resample", batch_size: int = 16,
                  progress: Progress = None) -> Scores:
    """Grow a circuit by predicted marginal gain, re-measured at each size; scores give the order of addition.

    Round 0 takes the top ``fractions[0]`` edges by EAP-IG's signed score. Each later
    round attributes the gap between the current circuit (its edges clean, before
    pruning, every other edge patched: mask M) and the full model to the patched
    edges by integrated gradients along ``alpha * M``, alpha from 1 to 0 (`steps`
    midpoints), and adds the patched edges with the largest predicted gain
    until the circuit has ``fractions[r]`` of the edges (at least one edge a round). Edges never
    added are ranked after, by EAP-IG. Score of the i-th edge added: ``-(1 - i / n_edges)``.

    `aim` says what "best" is. ``"rise"`` (the shared task's rule): the largest predicted
    gains, so the circuit's metric rises as fast as it can, past the full model's if it
    can (MIB's CPR rewards that). ``"one"``: faithfulness 1 (MIB's CMD). The gains of
    the patched edges add up to the gap ``metric(full) - metric(circuit)``; the round
    takes the edges of the gap's sign, largest first, while their sum stays within the
    gap, and fills the rest of its size with the edges of smallest predicted |gain|
    (restoring them is predicted to change nothing).

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:gpt2-tiny"); graph = Graph.from_model(model)
    >>> s = marginal_gain(graph, load_task("ioi", n=4).encode(model.tokenizer), fractions=(0.1, 0.3), steps=2)
    >>> int((torch.cat([v.flatten() for v in s.values()]) < -0.705).sum())  # the first 30% of 110 edges
    33
    """
    fractions = sorted(fractions)
    if not fractions or fractions[0] <= 0 or fractions[-1] > 1:
        raise MechscopeError("marginal gain needs circuit fractions in (0, 1], e.g. 0.001,0.01,0.1")
    if aim not in ("rise", "one"):
        raise MechscopeError(f"marginal gain's aim {aim!r} is not one of rise, one")
    base = _flat(eap_ig(graph, enc, steps=steps, ablation=ablation, batch_size=batch_size))
    n_edges = base.numel()
    order: list[int] = []
    in_circuit = torch.zeros(n_edges, dtype=torch.bool)

    def add(candidates: torch.Tensor, gain: torch.Tensor, target: int) -> None:
        need = target - len(order)
        if need <= 0:
            return
        g = torch.where(candidates, gain, torch.full_like(gain, -float("inf")))
        picked = torch.topk(g, min(need, int(candidates.sum())), sorted=True).indices
        order.extend(picked.tolist())
        in_circuit[picked] = True

    add(torch.ones(n_edges, dtype=torch.bool), -base, max(1, int(fractions[0] * n_edges)))
    for frac in fractions[1:]:
        # the gain of restoring each patched edge given the edges chosen so far (clean, before
        # pruning): integrated gradients on the way from the current circuit (mask M) to the
        # full model (mask 0), gain_e = -M_e * mean_k grad_e((k + 1/2) / steps * M); the gains
        # add up to metric(full) - metric(circuit), so the edges of a path share credit even
        # before the path is complete
        current = circuit_mask(_unflat(graph, in_circuit))
        gain = torch.zeros(n_edges)
        for k in range(steps):
            alpha = (k + 0.5) / steps
            point = EdgeMask({name: t * alpha for name, t in current.tensors.items()})
            gain -= _flat(edge_gradients(graph, enc, mask=point, ablation=ablation, batch_size=batch_size)) / steps
        target = max(len(order) + 1, int(frac * n_edges))
        if aim == "one":
            gain = _toward_gap(gain, ~in_circuit, target - len(order))
        add(~in_circuit, gain, target)
        if progress:
            progress(1)
    rest = (~in_circuit).nonzero()[:, 0]
    order.extend(rest[torch.argsort(base[rest])].tolist())
    score = torch.empty(n_edges)
    score[torch.tensor(order)] = -(1.0 - torch.arange(n_edges, dtype=torch.float32) / n_edges)
    return _unflat(graph, score)
