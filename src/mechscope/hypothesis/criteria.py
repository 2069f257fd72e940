"""Hypothesis tests of a circuit: the idealized and flexible tests of Shi et al. (2024).

"Hypothesis testing the circuit hypothesis in LLMs" (NeurIPS 2024; code: the
``circuitry`` package) turns three properties of an ideal circuit C of a model M
into tests on a task's examples (x_i, y_i), i = 1..n, with a per-example score s
(higher is better: the task metric, negated for the ``kl`` metric):

- equivalence: C performs like M. H0: ``|P(s_C > s_M) - 1/2| <= epsilon``;
  statistic: the fraction of examples where the circuit beats the model; exact
  binomial p-value at the boundary ``1/2 + epsilon``. C passes unless H0 is rejected.
- independence: with C knocked out, what is left of M knows nothing of the task.
  H0: ``s(M without C)`` is independent of ``s_M``; HSIC permutation test. C passes
  unless H0 is rejected.
- minimality: every edge of C matters. Per edge e, H0_e: knocking e out of C changes
  the score at least as much as knocking a random edge out of a randomly inflated
  circuit does, in a fraction >= q* of draws; binomial test, Holm-corrected. C
  passes unless some H0_e is rejected (those edges are reported as not needed).
- sufficiency (flexible): C is more faithful to M than random circuits of its size.
- partial necessity (flexible): knocking C out hurts M more than knocking out random
  circuits of its size. Both reject "C is no better than a random circuit" with the
  Monte Carlo p-value ``(1 + #random at least as good) / (1 + n_random)``; C passes
  if that is rejected. The paper's binomial test against a quantile q* is
  ``quantile=q``.

Faithfulness loss (paper and circuitry): ``L(C) = mean_i (s_C,i - s_M,i)^2``; the
knock-out effect of C is the same loss with C knocked out; an edge's effect is
``delta(e, C) = mean_i (s_C,i - s_{C-e},i)^2``. Random circuits are unions of
uniformly random embed->logits paths grown to at least the circuit's size (the
paper's ``sample_circuit``); inflated circuits add paths until one edge is new.

Where this module differs from circuitry (each is noted where it is done):

- equivalence: circuitry puts the mean score *difference* into ``t = |x - 1/2|``;
  the paper's statistic, used here, is the *fraction* of examples with
  ``s_C > s_M``. Exact ties (``|s_C - s_M| <= tie_tol``) are dropped, as in a sign
  test; if every example ties the circuit reproduces the model and passes.
- independence: one median-heuristic bandwidth per variable (circuitry: one for
  both, from the X-to-Y distances); p-value ``(1 + #perm >= obs) / (1 + B)``
  (circuitry: ``#perm >= obs / B``, which can be 0).
- minimality: Holm's step-down correction over the tested edges (circuitry: none;
  the paper's figures: Bonferroni). Holm controls the family-wise error under any
  dependence and rejects at least what Bonferroni rejects.
- sufficiency and necessity: Monte Carlo p-value by default (circuitry: binomial
  test against q* = 0.9, available as ``quantile=0.9``). A random draw equal to
  the circuit itself is redrawn; ties count against the circuit. Where no other
  edge set of the circuit's size exists (no edges, or all of them) the test is
  vacuous: it passes iff the circuit reproduces the model exactly (sufficiency)
  or its knock-out changes the score (necessity).

>>> import torch
>>> model = torch.tensor([1.0, 2.0, 3.0, 4.0] * 10)
>>> equivalence(model + 0.1 * torch.tensor([1.0, -1.0] * 20), model).passed
True
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy import stats

from mechscope.discover.circuit import Kept, kept_count, receiver_nodes
from mechscope.discover.runner import PatchedRunner
from mechscope.errors import MechscopeError, closest
from mechscope.graph import EdgeMask, Graph
from mechscope.tasks import EncodedTask

TESTS = ("equivalence", "independence", "minimality", "sufficiency", "necessity")
Progress = Callable[[int], None] | None
EdgeKey = tuple[str, int, int]  # (group, row, col)

__all__ = [
    "TESTS",
    "EquivalenceResult",
    "IndependenceResult",
    "MinimalityResult",
    "RandomCircuitResult",
    "check_tests",
    "equivalence",
    "holm",
    "hsic",
    "independence",
    "minimality",
    "necessity",
    "planned_runs",
    "sufficiency",
    "test_circuit",
]


# results ------------------------------------------------------------------
class _AsDict:
    def to_dict(self) -> dict:
        """Plain JSON-ready data (tuples become lists)."""
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class EquivalenceResult(_AsDict):
    """Equivalence: H0 ``|P(s_C > s_M) - 1/2| <= epsilon``; `passed` iff not rejected (``p_value > alpha``).

    `statistic` is the fraction of untied examples where the circuit beats the model
    (`wins` of `n - n_ties`).
    """

    statistic: float
    p_value: float
    passed: bool
    alpha: float
    epsilon: float
    n: int
    n_ties: int
    wins: int
    test: str = "equivalence"
    null: str = "P(circuit beats model) is within 1/2 +- epsilon; the circuit passes unless this is rejected"


@dataclass(frozen=True)
class IndependenceResult(_AsDict):
    """Independence: H0 ``s(M without C)`` independent of ``s_M``; `passed` iff not rejected.

    `statistic` is the biased HSIC estimate ``trace(K H L H) / n^2`` with Gaussian
    kernels of median-heuristic `bandwidths` (knocked-out scores, model scores).
    """

    statistic: float
    p_value: float
    passed: bool
    alpha: float
    n: int
    n_permutations: int
    bandwidths: tuple[float, float]
    test: str = "independence"
    null: str = "scores with the circuit knocked out are independent of the model's; passes unless rejected"


@dataclass(frozen=True)
class MinimalityResult(_AsDict):
    """Minimality: per edge e, H0_e ``P(delta(e, C) > delta(e_r, C_r)) >= quantile``; Holm-corrected.

    `passed` iff no edge's H0 is rejected; `not_needed` lists the rejected edges.
    `statistic` is the smallest empirical quantile ``#{delta_e > delta_r} / n_random``
    over the tested edges; `p_value` the smallest Holm-adjusted p-value. With
    `sampled`, only `edges_tested` (a seeded random subset of `circuit_edges`) were tested.
    """

    statistic: float
    p_value: float
    passed: bool
    alpha: float
    quantile: float
    n: int
    n_random: int
    circuit_edges: int
    sampled: bool
    edges_tested: tuple[str, ...]
    edge_effects: dict[str, float]
    p_values: dict[str, float]
    adjusted_p_values: dict[str, float]
    not_needed: tuple[str, ...]
    random_effects: tuple[float, ...]
    correction: str = "holm"
    note: str = ""
    test: str = "minimality"
    null: str = ("each edge matters at least as much as a random added edge in a fraction >= quantile of draws; "
                 "passes unless rejected for some edge")


@dataclass(frozen=True)
class RandomCircuitResult(_AsDict):
    """Sufficiency or partial necessity: the circuit against `n_random` random circuits of its size.

    `circuit_loss` and `random_losses` are faithfulness losses ``mean_i (s_i - s_M,i)^2``
    of the circuit alone (sufficiency: smaller is better) or of the model with the
    circuit knocked out (necessity: larger is better). `statistic` is the fraction
    of random circuits the circuit strictly beats. H0: the circuit is no better
    than a random circuit (with `quantile` q: it beats one with probability <= q);
    `passed` iff H0 is rejected (``p_value <= alpha``).
    """

    statistic: float
    p_value: float
    passed: bool
    alpha: float
    n: int
    n_random: int
    circuit_size: int
    random_size_mean: float
    circuit_loss: float
    random_losses: tuple[float, ...]
    quantile: float | None
    note: str = ""
    test: str = "sufficiency"
    null: str = ""


Result = EquivalenceResult | IndependenceResult | MinimalityResult | RandomCircuitResult


# equivalence ----------------------------------------------------------------
def equivalence(circuit_scores: torch.Tensor | Sequence[float], model_scores: torch.Tensor | Sequence[float], *,
                epsilon: float = 0.1, alpha: float = 0.05, tie_tol: float = 0.0) -> EquivalenceResult:
    """The paper's equivalence test on per-example scores ``[n]`` (higher is better).

    H0: ``|P(s_C > s_M) - 1/2| <= epsilon`` (the circuit is as likely to beat the
    model as to lose to it, within `epsilon`). With k wins among m untied examples
    and ``t = |k/m - 1/2|``, the p-value is ``P(|K/m - 1/2| >= t)`` for
    ``K ~ Binomial(m, 1/2 + epsilon)``, the null's least favourable point. The
    circuit passes unless H0 is rejected: ``p_value > alpha``. Examples with
    ``|s_C - s_M| <= tie_tol`` are dropped (sign-test convention).

    >>> import torch
    >>> model = torch.arange(40.0)
    >>> res = equivalence(model - 1.0, model)  # the circuit loses on every example
    >>> res.statistic, res.passed
    (0.0, False)
    >>> equivalence(model, model).passed  # all ties: the circuit is the model
    True
    """
    c, m = _vector(circuit_scores, "circuit_scores"), _vector(model_scores, "model_scores")
    _same_length(c, m, "circuit_scores", "model_scores")
    if not 0.0 <= epsilon < 0.5:
        raise MechscopeError(f"epsilon must be in [0, 0.5), got {epsilon}; the paper uses 0.1")
    _check_alpha(alpha)
    d = c - m
    tied = np.abs(d) <= tie_tol
    n_eff = int((~tied).sum())
    wins = int((d > tie_tol).sum())
    if n_eff == 0:
        return EquivalenceResult(0.5, 1.0, True, alpha, epsilon, len(d), int(tied.sum()), 0)
    # |k/m - 1/2| >= |wins/m - 1/2|  <=>  |2k - m| >= |2 wins - m|, in integers
    ks = np.arange(n_eff + 1)
    region = np.abs(2 * ks - n_eff) >= abs(2 * wins - n_eff)
    p = 1.0 if region.all() else float(min(1.0, stats.binom.pmf(ks[region], n_eff, 0.5 + epsilon).sum()))
    return EquivalenceResult(wins / n_eff, p, p > alpha, alpha, epsilon, len(d), int(tied.sum()), wins)


# independence ---------------------------------------------------------------
def _gram(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Gaussian kernel matrix ``[n, n]`` with the median-heuristic bandwidth, and that bandwidth."""
    d = np.abs(x[:, None] - x[None, :])
    upper = d[np.triu_indices(len(x), 1)]
    nonzero = upper[upper > 0]
    if len(nonzero) == 0:  # constant: the kernel is all ones and HSIC is 0
        return np.ones_like(d), 0.0
    sigma = float(np.median(upper))
    if sigma == 0.0:  # most pairs tie: use the median of the distinct distances
        sigma = float(np.median(nonzero))
    return np.exp(-(d**2) / (2 * sigma**2)), sigma


def hsic(x: torch.Tensor | Sequence[float], y: torch.Tensor | Sequence[float]) -> float:
    """Biased HSIC estimate ``trace(K H L H) / n^2`` (Gretton et al. 2007), Gaussian kernels, median heuristic.

    >>> round(hsic([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]), 4) > 0
    True
    >>> hsic([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    0.0
    """
    a, b = _vector(x, "x"), _vector(y, "y")
    _same_length(a, b, "x", "y")
    k, sx = _gram(a)
    lm, sy = _gram(b)
    if sx == 0.0 or sy == 0.0:  # a constant is independent of everything
        return 0.0
    return float((_center(k) * lm).sum() / len(a) ** 2)


def _center(k: np.ndarray) -> np.ndarray:
    return k - k.mean(0, keepdims=True) - k.mean(1, keepdims=True) + k.mean()


def independence(knockout_scores: torch.Tensor | Sequence[float], model_scores: torch.Tensor | Sequence[float], *,
                 n_permutations: int = 1000, alpha: float = 0.05, seed: int = 0) -> IndependenceResult:
    """HSIC permutation test of H0: scores with the circuit knocked out are independent of the model's.

    The model scores are permuted `n_permutations` times (seeded); the p-value is
    ``(1 + #{HSIC_perm >= HSIC_obs}) / (1 + n_permutations)``. The circuit passes
    unless H0 is rejected: ``p_value > alpha``.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.randn(50, generator=g)
    >>> independence(x**2 + 0.01 * torch.randn(50, generator=g), x, n_permutations=199).p_value
    0.005
    """
    a, b = _vector(knockout_scores, "knockout_scores"), _vector(model_scores, "model_scores")
    _same_length(a, b, "knockout_scores", "model_scores")
    _check_alpha(alpha)
    if n_permutations < 1:
        raise MechscopeError(f"n_permutations must be at least 1, got {n_permutations}; e.g. use 1000")
    n = len(a)
    k, sx = _gram(a)
    lm, sy = _gram(b)
    if sx == 0.0 or sy == 0.0:  # a constant is independent of everything
        return IndependenceResult(0.0, 1.0, True, alpha, n, n_permutations, (sx, sy))
    kc = _center(k)
    observed = float((kc * lm).sum() / n**2)
    rng = np.random.default_rng(seed)
    perms = np.stack([rng.permutation(n) for _ in range(n_permutations)])
    chunk = max(1, 4_000_000 // max(1, n * n))
    null = []
    for start in range(0, n_permutations, chunk):
        p = perms[start : start + chunk]
        lp = lm[p[:, :, None], p[:, None, :]]  # [chunk, n, n]
        null.append((kc[None] * lp).sum((1, 2)) / n**2)
    null_stats = np.concatenate(null)
    # sums of the same numbers in another order can differ in the last bits: count near-ties as >=
    ge = int((null_stats >= observed - 1e-12 * max(1.0, abs(observed))).sum())
    p_value = (1 + ge) / (1 + n_permutations)
    return IndependenceResult(observed, p_value, p_value > alpha, alpha, n, n_permutations, (sx, sy))


# random circuits --------------------------------------------------------------
class _Paths:
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

    def path(self) -> list[EdgeKey]:
        node, edges = 0, []
        while node != self.logits:
            start = bisect.bisect_right(self.n_sources, node)  # receivers downstream of `node`
            name, row, nodes = self.receivers[self.rng.randrange(start, len(self.receivers))]
            edges.append((name, row, node))
            node = self.rng.choice(nodes)
        return edges

    def grow(self, base: frozenset[EdgeKey], target: int, all_edges: Sequence[EdgeKey]) -> frozenset[EdgeKey]:
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


def _all_edges(graph: Graph) -> list[EdgeKey]:
    return [(g.name, r, c) for g in graph.groups for r in range(g.shape[0]) for c in range(g.shape[1])]


def _edge_set(kept: Kept) -> frozenset[EdgeKey]:
    return frozenset((name, r, c) for name, t in kept.items() for r, c in t.nonzero().tolist())


def _mask(graph: Graph, edges: Iterable[EdgeKey], circuit: bool) -> EdgeMask:
    """`circuit`: patch every edge outside `edges`; else (knock-out) patch exactly `edges`."""
    idx: dict[str, tuple[list[int], list[int]]] = {g.name: ([], []) for g in graph.groups}
    for name, r, c in edges:
        idx[name][0].append(r)
        idx[name][1].append(c)
    out = {}
    for g in graph.groups:
        t = torch.full(g.shape, 1.0 if circuit else 0.0)
        rows, cols = idx[g.name]
        if rows:
            t[rows, cols] = 0.0 if circuit else 1.0
        out[g.name] = t.to(graph.model.device)
    return EdgeMask(out)


class _Scorer:
    """Per-example scores (higher is better) from a runner, counting forward runs for `progress`."""

    def __init__(self, runner: PatchedRunner, progress: Progress):
        self.runner, self.graph, self.progress = runner, runner.graph, progress
        self.sign = -1.0 if runner.enc.metric == "kl" else 1.0  # KL is a divergence: lower is better
        self.model = runner.clean.detach().double().cpu() * self.sign

    def circuit(self, edges: Iterable[EdgeKey]) -> torch.Tensor:
        return self._run(_mask(self.graph, edges, circuit=True))

    def knockout(self, edges: Iterable[EdgeKey]) -> torch.Tensor:
        return self._run(_mask(self.graph, edges, circuit=False))

    def _run(self, mask: EdgeMask) -> torch.Tensor:
        s = self.runner.metric(mask).detach().double().cpu() * self.sign
        self.tick(1)
        return s

    def tick(self, k: int) -> None:
        if self.progress and k:
            self.progress(k)


def _loss(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b) ** 2).mean())


# minimality -----------------------------------------------------------------
def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control under any dependence).

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out


def minimality(runner: PatchedRunner, kept: Kept, *, n_random: int = 100, quantile: float = 0.9,
               max_edges: int | None = None, alpha: float = 0.05, seed: int = 0,
               progress: Progress = None) -> MinimalityResult:
    """The paper's minimality test: is every edge of the circuit needed?

    For each tested edge e of C, ``delta(e, C) = mean_i (s_C,i - s_{C-e},i)^2``. The
    reference: `n_random` times, inflate C by random embed->logits paths until at
    least one edge is new, knock a uniformly random new edge e_r out of the
    inflated C_r and record ``delta(e_r, C_r)``. With k_e the number of draws where
    ``delta(e, C) > delta(e_r, C_r)``, H0_e: the edge beats a random added edge with
    probability >= `quantile`; p_e = ``P(Binomial(n_random, quantile) <= k_e)``.
    p-values are Holm-adjusted over the tested edges; an edge whose adjusted p-value
    is <= `alpha` is not needed, and the circuit passes iff there is none.
    `max_edges` tests a seeded random subset of the circuit's edges (reported as
    `sampled` and `edges_tested`). Costs ``1 + edges tested + 2 * n_random`` runs.

    >>> import mechscope as ms
    >>> from mechscope.discover import PatchedRunner
    >>> model = ms.load("random:gpt2-tiny"); graph = ms.Graph.from_model(model)
    >>> runner = PatchedRunner(graph, ms.load_task("ioi", n=8).encode(model.tokenizer))
    >>> kept = {g.name: torch.zeros(g.shape, dtype=torch.bool) for g in graph.groups}
    >>> kept["logits"][0, 0] = True  # the circuit embed->logits
    >>> res = minimality(runner, kept, n_random=10)
    >>> res.edges_tested, len(res.random_effects)
    (('embed->logits',), 10)
    """
    _check_alpha(alpha)
    if not 0.0 < quantile < 1.0:
        raise MechscopeError(f"quantile must be in (0, 1), got {quantile}; the paper uses 0.9")
    if n_random < 1:
        raise MechscopeError(f"n_random must be at least 1, got {n_random}; the paper uses 100")
    graph = runner.graph
    _check_kept(graph, kept)
    scorer, rng = _Scorer(runner, progress), random.Random(seed)
    circuit = _edge_set(kept)
    order = {e: i for i, e in enumerate(_all_edges(graph))}
    edges = sorted(circuit, key=order.__getitem__)
    sampled = max_edges is not None and max_edges < len(edges)
    if max_edges is not None and max_edges < 1:
        raise MechscopeError(f"max_edges must be at least 1, got {max_edges}; or leave it out to test every edge")
    if sampled:
        edges = sorted(rng.sample(edges, max_edges), key=order.__getitem__)  # type: ignore[arg-type]
    names = tuple(graph.edge_at(*e).name for e in edges)
    n = len(runner.clean)
    if not edges or len(circuit) >= graph.n_edges:
        note = "the circuit has no edges" if not edges else "the circuit holds every edge: no random edges to add"
        scorer.tick(1 + len(edges) + 2 * n_random)
        return MinimalityResult(math.nan, 1.0 if not edges else math.nan, not edges, alpha, quantile, n, 0,
                                len(circuit), sampled, names, {}, {}, {}, (), (), note=note)
    base = scorer.circuit(circuit)
    effects = [_loss(base, scorer.circuit(circuit - {e})) for e in edges]
    paths, all_edges = _Paths(graph, rng), _all_edges(graph)
    reference = []
    for _ in range(n_random):
        inflated = paths.grow(circuit, len(circuit) + 1, all_edges)
        new = sorted(inflated - circuit, key=order.__getitem__)
        drop = rng.choice(new)
        reference.append(_loss(scorer.circuit(inflated), scorer.circuit(inflated - {drop})))
    ref = np.array(reference)
    counts = [int((eff > ref).sum()) for eff in effects]
    raw = [float(stats.binom.cdf(k, n_random, quantile)) for k in counts]
    adjusted = holm(raw)
    not_needed = tuple(name for name, p in zip(names, adjusted) if p <= alpha)
    return MinimalityResult(
        statistic=min(counts) / n_random, p_value=min(adjusted), passed=not not_needed, alpha=alpha,
        quantile=quantile, n=n, n_random=n_random, circuit_edges=len(circuit), sampled=sampled, edges_tested=names,
        edge_effects=dict(zip(names, effects)), p_values=dict(zip(names, raw)),
        adjusted_p_values=dict(zip(names, adjusted)), not_needed=not_needed, random_effects=tuple(reference),
    )


# sufficiency and partial necessity ---------------------------------------------
def sufficiency(runner: PatchedRunner, kept: Kept, *, n_random: int = 100, quantile: float | None = None,
                alpha: float = 0.05, seed: int = 0, progress: Progress = None) -> RandomCircuitResult:
    """Flexible sufficiency test: is the circuit more faithful than random circuits of its size?

    Faithfulness loss ``L(C) = mean_i (s_C,i - s_M,i)^2`` (the circuit alone, every
    other edge patched). `n_random` random circuits are unions of random
    embed->logits paths with at least as many edges as C. H0: C is no more faithful
    than a random circuit; p-value ``(1 + #{L(random) <= L(C)}) / (1 + n_random)``.
    With `quantile` q, the paper's variant: H0 ``P(L(C) < L(random)) <= q``, p-value
    ``P(Binomial(n_random, q) >= #{L(random) > L(C)})``. The circuit passes iff H0
    is rejected (``p_value <= alpha``).

    >>> import mechscope as ms
    >>> from mechscope.discover import PatchedRunner
    >>> model = ms.load("random:gpt2-tiny"); graph = ms.Graph.from_model(model)
    >>> runner = PatchedRunner(graph, ms.load_task("ioi", n=8).encode(model.tokenizer))
    >>> full = {g.name: torch.ones(g.shape, dtype=torch.bool) for g in graph.groups}
    >>> res = sufficiency(runner, full, n_random=5)
    >>> res.passed, res.circuit_loss
    (True, 0.0)
    """
    return _versus_random(runner, kept, "sufficiency", n_random, quantile, alpha, seed, progress, complement=False)


def necessity(runner: PatchedRunner, kept: Kept, *, n_random: int = 100, quantile: float | None = None,
              alpha: float = 0.05, seed: int = 0, complement: bool = False,
              progress: Progress = None) -> RandomCircuitResult:
    """Flexible partial-necessity test: does knocking the circuit out hurt more than knocking out random circuits?

    Knock-out effect ``K(C) = mean_i (s_{M-C},i - s_M,i)^2`` (the circuit's edges
    patched, every other edge clean), against random path circuits of C's size
    drawn from the whole graph (with `complement`, from the edges outside C). H0:
    knocking C out hurts no more than knocking out a random circuit; p-value
    ``(1 + #{K(random) >= K(C)}) / (1 + n_random)``; `quantile` q gives the paper's
    binomial variant. The circuit passes iff H0 is rejected (``p_value <= alpha``).

    >>> import mechscope as ms
    >>> from mechscope.discover import PatchedRunner
    >>> model = ms.load("random:gpt2-tiny"); graph = ms.Graph.from_model(model)
    >>> runner = PatchedRunner(graph, ms.load_task("ioi", n=8).encode(model.tokenizer))
    >>> empty = {g.name: torch.zeros(g.shape, dtype=torch.bool) for g in graph.groups}
    >>> necessity(runner, empty, n_random=5).passed  # knocking out nothing changes nothing
    False
    """
    return _versus_random(runner, kept, "necessity", n_random, quantile, alpha, seed, progress, complement)


_NULLS = {
    "sufficiency": "the circuit is no more faithful than a random circuit of its size; passes if rejected",
    "necessity": "knocking the circuit out hurts no more than knocking out a random circuit of its size; "
                 "passes if rejected",
}


def _versus_random(runner: PatchedRunner, kept: Kept, test: str, n_random: int, quantile: float | None,
                   alpha: float, seed: int, progress: Progress, complement: bool) -> RandomCircuitResult:
    _check_alpha(alpha)
    if n_random < 1:
        raise MechscopeError(f"n_random must be at least 1, got {n_random}; e.g. use 100")
    if quantile is not None and not 0.0 < quantile < 1.0:
        raise MechscopeError(f"quantile must be in (0, 1) or None, got {quantile}; the paper uses 0.9")
    graph = runner.graph
    _check_kept(graph, kept)
    scorer, rng = _Scorer(runner, progress), random.Random(seed)
    circuit = _edge_set(kept)
    size, n = len(circuit), len(runner.clean)
    run = scorer.circuit if test == "sufficiency" else scorer.knockout
    own = _loss(run(circuit), scorer.model)
    common = {"alpha": alpha, "n": n, "circuit_size": size, "circuit_loss": own, "quantile": quantile, "test": test,
              "null": _NULLS[test]}
    outside = graph.n_edges - size
    if size == 0 or size >= graph.n_edges or (complement and outside < size):
        # no other edge set of this size to compare with: judge the circuit by its own effect
        scorer.tick(n_random)
        passed = own == 0.0 if test == "sufficiency" else own > 0.0
        why = "no other edge set has this size" if not complement else f"only {outside} edges lie outside it"
        rule = ("the circuit reproduces the model exactly" if test == "sufficiency"
                else "its knock-out changes the scores")
        note = f"vacuous: {why}; passes iff {rule}"
        return RandomCircuitResult(statistic=math.nan, p_value=math.nan, passed=passed, n_random=0,
                                   random_size_mean=math.nan, random_losses=(), note=note, **common)
    paths, all_edges = _Paths(graph, rng), _all_edges(graph)
    pool = [e for e in all_edges if e not in circuit] if complement else all_edges
    losses, sizes = [], []
    for _ in range(n_random):
        # the circuit itself is not a random alternative to it: on small graphs path sampling
        # draws it often enough to cap the p-value (and ties count against the circuit)
        for _ in range(100):
            edges = _grow_within(paths, size, pool, circuit if complement else frozenset(), all_edges)
            if edges != circuit:
                break
        sizes.append(len(edges))
        losses.append(_loss(run(edges), scorer.model))
    ref = np.array(losses)
    better = ref > own if test == "sufficiency" else ref < own  # random circuits the circuit strictly beats
    k = int(better.sum())
    if quantile is None:
        p = (1 + (n_random - k)) / (1 + n_random)
    else:
        p = float(stats.binom.sf(k - 1, n_random, quantile))
    return RandomCircuitResult(statistic=k / n_random, p_value=p, passed=p <= alpha, n_random=n_random,
                               random_size_mean=float(np.mean(sizes)), random_losses=tuple(losses), **common)


def _grow_within(paths: _Paths, size: int, pool: Sequence[EdgeKey], avoid: frozenset[EdgeKey],
                 all_edges: Sequence[EdgeKey]) -> frozenset[EdgeKey]:
    """A random path circuit of at least `size` edges; with `avoid`, path edges in it are skipped (circuitry's
    complement sampling keeps whole paths off the circuit; skipping its edges keeps sampling cheap)."""
    if not avoid:
        return paths.grow(frozenset(), size, all_edges)
    out: set[EdgeKey] = set()
    tries = 0
    while len(out) < size and tries < 100 * size + 1000:
        out.update(e for e in paths.path() if e not in avoid)
        tries += 1
    if len(out) < size:
        out.update(paths.rng.sample([e for e in pool if e not in out], size - len(out)))
    return frozenset(out)


# the entry point ----------------------------------------------------------------
def planned_runs(kept: Kept, tests: Sequence[str] = TESTS, *, n_random: int = 100,
                 max_edges: int | None = None) -> int:
    """How many patched forward passes `test_circuit` makes (for a progress bar's total).

    >>> import torch
    >>> planned_runs({"logits": torch.ones(1, 3, dtype=torch.bool)}, ("equivalence", "minimality"), n_random=10)
    25
    """
    size = kept_count(kept)
    tested = size if max_edges is None else min(size, max_edges)
    runs = {"equivalence": 1, "independence": 1, "minimality": 1 + tested + 2 * n_random,
            "sufficiency": 1 + n_random, "necessity": 1 + n_random}
    return sum(runs[t] for t in check_tests(tests))


def test_circuit(graph: Graph, kept: Kept, enc: EncodedTask, tests: Sequence[str] = TESTS, *,
                 ablation: str = "resample", alpha: float = 0.05, seed: int = 0, n_random: int = 100,
                 epsilon: float = 0.1, tie_tol: float = 0.0, n_permutations: int = 1000, quantile: float = 0.9,
                 max_edges: int | None = None, batch_size: int = 16,
                 progress: Progress = None) -> dict[str, Result]:
    """Run the chosen tests on one circuit over the examples of `enc`, sharing one `PatchedRunner`.

    `kept` is the circuit (``group -> bool [n_receivers, n_sources]``, e.g.
    ``Circuit.kept(graph)``); `ablation` how edges outside it are patched. Scores
    are the task metric per example (negated for ``kl``). `n_random` random
    circuits serve minimality, sufficiency and necessity; `quantile` is
    minimality's q*; sufficiency and necessity use Monte Carlo p-values; `tie_tol`
    (score units, default 0: the paper) counts smaller circuit-model differences
    as ties in equivalence. Returns
    ``{test name: result}`` in the order of `tests`; each result has `statistic`,
    `p_value`, `passed`, `alpha` and `to_dict()`.

    >>> import mechscope as ms
    >>> model = ms.load("random:gpt2-tiny"); graph = ms.Graph.from_model(model)
    >>> enc = ms.load_task("ioi", n=8).encode(model.tokenizer)
    >>> full = {g.name: torch.ones(g.shape, dtype=torch.bool) for g in graph.groups}
    >>> res = test_circuit(graph, full, enc, ("equivalence", "sufficiency"), n_random=5)
    >>> {name: r.passed for name, r in res.items()}
    {'equivalence': True, 'sufficiency': True}
    """
    names = check_tests(tests)
    _check_alpha(alpha)
    _check_kept(graph, kept)
    runner = PatchedRunner(graph, enc, ablation, batch_size)
    scorer = _Scorer(runner, progress)
    circuit = _edge_set(kept)
    out: dict[str, Result] = {}
    for name in names:
        if name == "equivalence":
            out[name] = equivalence(scorer.circuit(circuit), scorer.model, epsilon=epsilon, alpha=alpha,
                                    tie_tol=tie_tol)
        elif name == "independence":
            out[name] = independence(scorer.knockout(circuit), scorer.model, n_permutations=n_permutations,
                                     alpha=alpha, seed=seed)
        elif name == "minimality":
            out[name] = minimality(runner, kept, n_random=n_random, quantile=quantile, max_edges=max_edges,
                                   alpha=alpha, seed=seed, progress=progress)
        elif name == "sufficiency":
            out[name] = sufficiency(runner, kept, n_random=n_random, alpha=alpha, seed=seed, progress=progress)
        else:
            out[name] = necessity(runner, kept, n_random=n_random, alpha=alpha, seed=seed, progress=progress)
    return out


test_circuit.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported into one


# checks -------------------------------------------------------------------------
def check_tests(tests: Sequence[str]) -> list[str]:
    """The test names, checked and deduplicated in order; an unknown name raises a one-line error.

    >>> check_tests(["sufficiency", "equivalence", "sufficiency"])
    ['sufficiency', 'equivalence']
    """
    names = [tests] if isinstance(tests, str) else list(tests)
    if not names:
        raise MechscopeError(f"no tests chosen; pick some of {', '.join(TESTS)}")
    for t in names:
        if t not in TESTS:
            raise MechscopeError(f"unknown test {t!r}{closest(t, TESTS)}; tests are {', '.join(TESTS)}")
    return list(dict.fromkeys(names))


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise MechscopeError(f"alpha must be in (0, 1), got {alpha}; e.g. use 0.05")


def _check_kept(graph: Graph, kept: Kept) -> None:
    for g in graph.groups:
        t = kept.get(g.name)
        if t is None or tuple(t.shape) != g.shape:
            got = "missing" if t is None else f"shape {tuple(t.shape)}"
            raise MechscopeError(
                f"circuit group {g.name!r} is {got}, expected shape {g.shape}; "
                "was the circuit made for another model? build it with Circuit.kept(graph)"
            )
    extra = set(kept) - {g.name for g in graph.groups}
    if extra:
        raise MechscopeError(f"circuit has unknown groups {sorted(extra)[:3]}; was it made for another model?")


def _vector(x: torch.Tensor | Sequence[float], name: str) -> np.ndarray:
    a = x.detach().double().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise MechscopeError(f"{name} must be one score per example, shape [n], got shape {a.shape}")
    if not np.isfinite(a).all():
        raise MechscopeError(f"{name} has NaN or infinite scores; check the task metric")
    return a


def _same_length(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if len(a) != len(b):
        raise MechscopeError(f"{name_a} has {len(a)} examples and {name_b} {len(b)}; score the same examples")
    if len(a) == 0:
        raise MechscopeError(f"{name_a} is empty; score at least one example")

