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

import math
import random
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from scipy import stats

from mechscope.discover.circuit import Circuit, Kept, kept_count
from mechscope.discover.runner import PatchedRunner
from mechscope.errors import MechscopeError, closest
from mechscope.graph import EdgeMask, Graph
from mechscope.hypothesis.random_circuits import _EdgeKey, RandomPaths, _edge_set, graph_edges, grow_within
from mechscope.hypothesis.results import (
    EquivalenceResult,
    IndependenceResult,
    MinimalityResult,
    RandomCircuitResult,
    Result,
)
from mechscope.hypothesis.statistics import _check_alpha, equivalence, holm, hsic, independence

TESTS = ("equivalence", "independence", "minimality", "sufficiency", "necessity")
Progress = Callable[[int], None] | None
CircuitLike = Circuit | EdgeMask  # (inside mechscope also the internal Kept: group -> bool [n_receivers, n_sources])

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


# running circuits ---------------------------------------------------------------
def _mask(graph: Graph, edges: Iterable[_EdgeKey], circuit: bool) -> EdgeMask:
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

    def circuit(self, edges: Iterable[_EdgeKey]) -> torch.Tensor:
        return self._run(_mask(self.graph, edges, circuit=True))

    def knockout(self, edges: Iterable[_EdgeKey]) -> torch.Tensor:
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
def minimality(runner: PatchedRunner, circuit: CircuitLike, *, n_random: int = 100, quantile: float = 0.9,
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
    >>> only = ms.EdgeMask.from_edges(graph, ["embed->logits"], value=0.0, base=1.0)  # the circuit embed->logits
    >>> res = minimality(runner, only, n_random=10)
    >>> res.edges_tested, len(res.random_effects)
    (('embed->logits',), 10)
    """
    _check_alpha(alpha)
    if not 0.0 < quantile < 1.0:
        raise MechscopeError(f"quantile must be in (0, 1), got {quantile}; the paper uses 0.9")
    if n_random < 1:
        raise MechscopeError(f"n_random must be at least 1, got {n_random}; the paper uses 100")
    graph = runner.graph
    kept = _kept_of(graph, circuit)
    scorer, rng = _Scorer(runner, progress), random.Random(seed)
    circuit = _edge_set(kept)
    order = {e: i for i, e in enumerate(graph_edges(graph))}
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
    paths, all_edges = RandomPaths(graph, rng), graph_edges(graph)
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
def sufficiency(runner: PatchedRunner, circuit: CircuitLike, *, n_random: int = 100, quantile: float | None = None,
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
    >>> res = sufficiency(runner, ms.EdgeMask.zeros(graph), n_random=5)  # every edge clean: the model itself
    >>> res.passed, res.circuit_loss
    (True, 0.0)
    """
    return _versus_random(runner, circuit, "sufficiency", n_random, quantile, alpha, seed, progress, complement=False)


def necessity(runner: PatchedRunner, circuit: CircuitLike, *, n_random: int = 100, quantile: float | None = None,
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
    >>> empty = ms.EdgeMask.ones(graph)  # no edge kept
    >>> necessity(runner, empty, n_random=5).passed  # knocking out nothing changes nothing
    False
    """
    return _versus_random(runner, circuit, "necessity", n_random, quantile, alpha, seed, progress, complement)


_NULLS = {
    "sufficiency": "the circuit is no more faithful than a random circuit of its size; passes if rejected",
    "necessity": "knocking the circuit out hurts no more than knocking out a random circuit of its size; "
                 "passes if rejected",
}


def _versus_random(runner: PatchedRunner, circuit: CircuitLike, test: str, n_random: int, quantile: float | None,
                   alpha: float, seed: int, progress: Progress, complement: bool) -> RandomCircuitResult:
    _check_alpha(alpha)
    if n_random < 1:
        raise MechscopeError(f"n_random must be at least 1, got {n_random}; e.g. use 100")
    if quantile is not None and not 0.0 < quantile < 1.0:
        raise MechscopeError(f"quantile must be in (0, 1) or None, got {quantile}; the paper uses 0.9")
    graph = runner.graph
    kept = _kept_of(graph, circuit)
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
    paths, all_edges = RandomPaths(graph, rng), graph_edges(graph)
    pool = [e for e in all_edges if e not in circuit] if complement else all_edges
    losses, sizes = [], []
    for _ in range(n_random):
        # the circuit itself is not a random alternative to it: on small graphs path sampling
        # draws it often enough to cap the p-value (and ties count against the circuit)
        for _ in range(100):
            edges = grow_within(paths, size, pool, circuit if complement else frozenset(), all_edges)
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


# the entry point ----------------------------------------------------------------
def planned_runs(circuit: CircuitLike, tests: Sequence[str] = TESTS, *, n_random: int = 100,
                 max_edges: int | None = None) -> int:
    """How many patched forward passes `test_circuit` makes (for a progress bar's total).

    >>> import mechscope as ms
    >>> graph = ms.Graph.from_model(ms.load("random:gpt2-tiny"))
    >>> three = ms.EdgeMask.from_edges(graph, ["embed->logits", "a0.h0->logits", "m0->logits"], value=0.0, base=1.0)
    >>> planned_runs(three, ("equivalence", "minimality"), n_random=10)
    25
    """
    size = _size(circuit)
    tested = size if max_edges is None else min(size, max_edges)
    runs = {"equivalence": 1, "independence": 1, "minimality": 1 + tested + 2 * n_random,
            "sufficiency": 1 + n_random, "necessity": 1 + n_random}
    return sum(runs[t] for t in check_tests(tests))


def test_circuit(graph: Graph, circuit: CircuitLike, enc: EncodedTask, tests: Sequence[str] = TESTS, *,
                 ablation: str = "resample", alpha: float = 0.05, seed: int = 0, n_random: int = 100,
                 epsilon: float = 0.1, tie_tol: float = 0.0, n_permutations: int = 1000, quantile: float = 0.9,
                 max_edges: int | None = None, complement: bool = False, batch_size: int = 16,
                 progress: Progress = None) -> dict[str, Result]:
    """Run the chosen tests on one circuit over the examples of `enc`, sharing one `PatchedRunner`.

    `circuit` is a `Circuit` (or the `EdgeMask` that keeps its edges clean: 0 on them, 1 elsewhere);
    `ablation` how edges outside it are patched. Scores
    are the task metric per example (negated for ``kl``). `n_random` random
    circuits serve minimality, sufficiency and necessity; `quantile` is
    minimality's q*; sufficiency and necessity use Monte Carlo p-values (with
    `complement`, necessity draws its random circuits from the edges outside the
    circuit, so they cannot contain its edges: advisable for small circuits); `tie_tol`
    (score units, default 0: the paper) counts smaller circuit-model differences
    as ties in equivalence. Returns
    ``{test name: result}`` in the order of `tests`; each result has `statistic`,
    `p_value`, `passed`, `alpha` and `to_dict()`.

    >>> import mechscope as ms
    >>> model = ms.load("random:gpt2-tiny"); graph = ms.Graph.from_model(model)
    >>> enc = ms.load_task("ioi", n=8).encode(model.tokenizer)
    >>> full = ms.EdgeMask.zeros(graph)  # every edge clean: the model itself
    >>> res = test_circuit(graph, full, enc, ("equivalence", "sufficiency"), n_random=5)
    >>> {name: r.passed for name, r in res.items()}
    {'equivalence': True, 'sufficiency': True}
    """
    names = check_tests(tests)
    _check_alpha(alpha)
    kept = _kept_of(graph, circuit)
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
            out[name] = necessity(runner, kept, n_random=n_random, alpha=alpha, seed=seed, complement=complement,
                                  progress=progress)
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


def _kept_of(graph: Graph, circuit: CircuitLike | Kept) -> Kept:
    """The circuit's edges as the internal `Kept`, checked against `graph`."""
    if isinstance(circuit, Circuit):
        kept = circuit._kept(graph)  # an edge name of another model raises here
    elif isinstance(circuit, EdgeMask):
        kept = {k: (v == 0).cpu() for k, v in circuit.tensors.items()}
    else:
        kept = circuit
    _check_kept(graph, kept)
    return kept


def _size(circuit: CircuitLike | Kept) -> int:
    if isinstance(circuit, Circuit):
        return len(circuit.edges)
    if isinstance(circuit, EdgeMask):
        return int(sum(int((v == 0).sum()) for v in circuit.tensors.values()))
    return kept_count(circuit)


def _check_kept(graph: Graph, kept: Kept) -> None:
    for g in graph.groups:
        t = kept.get(g.name)
        if t is None or tuple(t.shape) != g.shape:
            got = "missing" if t is None else f"shape {tuple(t.shape)}"
            raise MechscopeError(
                f"circuit group {g.name!r} is {got}, expected shape {g.shape}; "
                "was the circuit made for another model?"
            )
    extra = set(kept) - {g.name for g in graph.groups}
    if extra:
        raise MechscopeError(f"circuit has unknown groups {sorted(extra)[:3]}; was it made for another model?")
