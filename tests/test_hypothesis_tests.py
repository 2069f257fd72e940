"""Hypothesis tests of circuits (Shi et al. 2024): exact p-values, calibration, and verdicts on tiny models."""

import json
import math

import numpy as np
import pytest
import torch
import typer
from scipy.stats import binom, binomtest
from typer.testing import CliRunner

import mechscope as ms
from mechscope import hypothesis as H
from mechscope.hypothesis import statistics
from mechscope.cli import hypothesis as cli_h
from mechscope.discover import Circuit, PatchedRunner


# ---- equivalence -------------------------------------------------------------------
def _direct_equivalence_p(wins: int, m: int, eps: float) -> float:
    """The paper's p-value written with scipy's binomtest: both tails of |K/m - 1/2| >= |wins/m - 1/2|."""
    t = abs(2 * wins - m)
    if t == 0:
        return 1.0
    hi, lo = math.ceil((m + t) / 2), math.floor((m - t) / 2)
    upper = binomtest(hi, m, 0.5 + eps, alternative="greater").pvalue
    lower = binomtest(lo, m, 0.5 + eps, alternative="less").pvalue
    return min(1.0, upper + lower)


@pytest.mark.parametrize("n, n_wins, n_ties, eps", [(40, 20, 0, 0.1), (40, 31, 0, 0.1), (50, 12, 7, 0.1),
                                                   (25, 3, 0, 0.05), (100, 70, 10, 0.2), (31, 16, 0, 0.0)])
def test_equivalence_matches_scipy_binomtest(n, n_wins, n_ties, eps):
    rng = np.random.default_rng(n + n_wins)
    model = rng.normal(size=n)
    delta = np.concatenate([rng.uniform(0.1, 1, n_wins), -rng.uniform(0.1, 1, n - n_wins - n_ties), np.zeros(n_ties)])
    circuit = model + rng.permutation(delta)
    res = H.equivalence(torch.tensor(circuit), torch.tensor(model), epsilon=eps)
    m = n - n_ties
    assert (res.n, res.n_ties, res.wins) == (n, n_ties, n_wins)
    assert res.statistic == pytest.approx(n_wins / m)
    assert res.p_value == pytest.approx(_direct_equivalence_p(n_wins, m, eps), rel=1e-9, abs=1e-15)
    assert res.passed == (res.p_value > 0.05)


def test_equivalence_is_the_paper_fraction_not_circuitrys_mean_difference():
    # the circuit wins on 20 of 40 examples but by tiny margins and loses by large ones: a mean difference
    # far from 0 (circuitry would plug -2.45 into |x - 1/2|), yet the paper's fraction is exactly 1/2
    model = torch.zeros(40)
    circuit = torch.tensor([0.1, -5.0] * 20)
    res = H.equivalence(circuit, model)
    assert res.statistic == 0.5 and res.p_value == 1.0 and res.passed


def test_equivalence_verdicts_and_bad_input():
    model = torch.linspace(-1, 1, 60)
    assert not H.equivalence(model - 0.5, model).passed  # loses everywhere
    assert H.equivalence(model, model).passed  # identical: all ties
    with pytest.raises(ms.MechscopeError, match="epsilon"):
        H.equivalence(model, model, epsilon=0.5)
    with pytest.raises(ms.MechscopeError, match="60 examples and model_scores 59"):
        H.equivalence(model, model[:-1])


# ---- independence ------------------------------------------------------------------
def test_hsic_matches_the_trace_formula():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(25, generator=g, dtype=torch.float64), torch.randn(25, generator=g, dtype=torch.float64)

    def gram(v):
        d = (v[:, None] - v[None, :]).abs()
        # median pairwise distance; numpy's median averages the two middle values (torch's takes the lower)
        sigma = torch.tensor(np.median(d[torch.triu_indices(len(v), len(v), 1).unbind()].numpy()))
        return torch.exp(-d**2 / (2 * sigma**2))

    n = len(x)
    h = torch.eye(n, dtype=torch.float64) - 1.0 / n
    expect = torch.trace(gram(x) @ h @ gram(y) @ h) / n**2
    assert statistics.hsic(x, y) == pytest.approx(float(expect), rel=1e-10)


def test_independence_false_positive_rate_is_alpha():
    # independent scores: p-values are uniform, so a 0.05-level test rejects about 5% of 200 draws
    n_seeds, alpha = 200, 0.05
    p = []
    for seed in range(n_seeds):
        rng = np.random.default_rng(1000 + seed)
        p.append(H.independence(rng.normal(size=30), rng.exponential(size=30), n_permutations=199, seed=seed).p_value)
    p = np.array(p)
    rejections = int((p <= alpha).sum())
    lo, hi = binom.ppf(0.0005, n_seeds, alpha), binom.isf(0.0005, n_seeds, alpha)
    assert lo <= rejections <= hi, rejections
    assert abs(p.mean() - 0.5) < 0.08 and abs((p <= 0.5).mean() - 0.5) < 0.15


def test_independence_detects_dependence_without_correlation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    res = H.independence(x**2 + 0.05 * rng.normal(size=60), x, n_permutations=199)
    assert abs(np.corrcoef(x**2, x)[0, 1]) < 0.3  # a linear test would miss it
    assert res.p_value == pytest.approx(1 / 200) and not res.passed
    assert H.independence(np.ones(10), x[:10]).p_value == 1.0  # a constant is independent of everything


def test_holm_matches_its_definition():
    p = [0.01, 0.04, 0.03, 0.2, 0.001]
    adj = statistics.holm(p)
    order = np.argsort(p)
    for rank, i in enumerate(order):
        expect = max(min(1.0, (len(p) - r) * p[order[r]]) for r in range(rank + 1))
        assert adj[i] == pytest.approx(expect)


# ---- on a tiny model -----------------------------------------------------------------
@pytest.fixture(scope="module")
def gpt2():
    model = ms.load("random:gpt2-tiny")
    return ms.Graph.from_model(model), ms.load_task("ioi", n=16)


def _kept(graph, names):
    kept = {g.name: torch.zeros(g.shape, dtype=torch.bool) for g in graph.groups}
    for name in names:
        e = graph.edge(name)
        kept[e.group][e.row, e.col] = True
    return kept


def _all(graph, value):
    return {g.name: torch.full(g.shape, value, dtype=torch.bool) for g in graph.groups}


def test_full_circuit_passes_equivalence_and_sufficiency_and_empty_fails(gpt2):
    graph, task = gpt2
    enc = task.encode(graph.model.tokenizer)
    full = H.test_circuit(graph, _all(graph, True), enc, ("equivalence", "sufficiency", "necessity"), n_random=10)
    assert full["equivalence"].passed and full["equivalence"].n_ties == 16 and full["equivalence"].p_value == 1.0
    assert full["sufficiency"].passed and full["sufficiency"].circuit_loss == 0.0 and "vacuous" in full["sufficiency"].note
    assert full["necessity"].passed  # knocking out every edge changes the scores
    # kl: s = -KL(clean || circuit) <= 0 = s_M, so the empty circuit (the corrupted run) loses on every example
    kl = ms.load_task("ioi", n=16, metric="kl").encode(graph.model.tokenizer)
    empty = H.test_circuit(graph, _all(graph, False), kl, ("equivalence", "sufficiency", "necessity"), n_random=10)
    eq = empty["equivalence"]
    assert (eq.statistic, eq.wins, eq.n_ties, eq.passed) == (0.0, 0, 0, False)
    assert eq.p_value == pytest.approx(0.4**16 + 0.6**16)  # both tails, K=0 and K=16, of Binomial(16, 0.6)
    assert not empty["sufficiency"].passed and not empty["necessity"].passed


def test_minimality_flags_an_edge_that_does_nothing_and_keeps_edges_that_matter(gpt2):
    graph, task = gpt2
    runner = PatchedRunner(graph, task.encode(graph.model.tokenizer), ablation="zero", batch_size=32)
    core = ["embed->logits", "embed->m0", "m0->logits"]
    # a1.h2 sends nothing on (none of its outgoing edges is in the circuit): its query edge does nothing
    res = H.minimality(runner, _kept(graph, [*core, "embed->a1.h2.q"]), n_random=20, seed=0)
    assert res.not_needed == ("embed->a1.h2.q",) and not res.passed and res.correction == "holm"
    assert res.edge_effects["embed->a1.h2.q"] < 1e-12 < min(res.edge_effects[e] for e in core)
    assert res.p_values["embed->a1.h2.q"] < 1e-3  # it beats (almost) no random edge: P(Bin(20, .9) <= k), k small
    assert all(res.adjusted_p_values[e] > 0.5 for e in core)  # the edges that matter are kept
    sample = H.minimality(runner, _kept(graph, core), n_random=3, max_edges=2, seed=3)
    assert sample.sampled and len(sample.edges_tested) == 2 and set(sample.edges_tested) <= set(core)


def test_a_found_circuit_beats_random_circuits_of_its_size(gpt2):
    graph, task = gpt2
    enc = task.encode(graph.model.tokenizer)
    kept = _kept(graph, ["embed->logits", "embed->m0", "m0->logits"])  # the direct path and the MLP: the bulk
    runner = PatchedRunner(graph, enc, ablation="zero", batch_size=32)
    res = H.sufficiency(runner, kept, n_random=20)
    assert res.statistic == 1.0 and res.p_value == pytest.approx(1 / 21) and res.passed
    assert res.random_size_mean >= res.circuit_size == 3
    # the paper's variant: binomial test against q* = 0.9; the same seed draws the same random circuits
    paper = H.sufficiency(runner, kept, n_random=10, quantile=0.9)
    assert paper.random_losses == res.random_losses[:10]
    k = round(paper.statistic * 10)
    assert paper.p_value == pytest.approx(binomtest(k, 10, 0.9, alternative="greater").pvalue)


def test_bad_input_is_one_line(gpt2):
    graph, task = gpt2
    enc = task.encode(graph.model.tokenizer)
    with pytest.raises(ms.MechscopeError, match="did you mean 'independence'"):
        H.test_circuit(graph, _all(graph, True), enc, ("independance",))
    llama = ms.Graph.from_model(ms.load("random:llama-tiny"))
    with pytest.raises(ms.MechscopeError, match="another model"):
        H.test_circuit(graph, _all(llama, True), enc, ("equivalence",))


# ---- command line --------------------------------------------------------------------
def _app():
    app = typer.Typer()
    app.command("test-circuit")(cli_h.test_circuit_command)
    app.command("other")(lambda: None)  # two commands, so the name is part of the call as in `mechscope`
    return app


def test_cli_json_and_errors(gpt2, tmp_path):
    graph, task = gpt2
    mask = ms.EdgeMask.from_edges(graph, ["embed->logits", "embed->m0", "m0->logits"], value=0.0, base=1.0)
    circuit = Circuit.from_mask(graph, mask, {g.name: torch.ones(g.shape) for g in graph.groups}, task="ioi",
                                task_hash=task.hash(), method="manual", params={}, task_source="builtin:ioi", task_size=16)
    path = tmp_path / "c.json"
    circuit.save(path)
    run = CliRunner().invoke(_app(), ["test-circuit", str(path), "--json", "--n-random", "5", "--n-permutations", "99",
                                      "--tests", "equivalence,independence,minimality"])
    assert run.exit_code == 0, run.output
    doc = json.loads(run.stdout)
    assert set(doc) == {"equivalence", "independence", "minimality", "circuit"}
    for name in ("equivalence", "independence", "minimality"):
        assert {"statistic", "p_value", "passed"} <= set(doc[name]) and doc[name]["test"] == name
    assert doc["circuit"]["n"] == 8 and doc["circuit"]["edges"] == 3
    nec = CliRunner().invoke(_app(), ["test-circuit", str(path), "--json", "--n-random", "5", "--tests", "necessity",
                                      "--complement"])
    assert nec.exit_code == 0, nec.output
    doc = json.loads(nec.stdout)
    assert doc["circuit"]["complement"] is True
    # the CLI's verdict is the library's, with random circuits drawn outside the circuit
    enc = task.split("test").encode(graph.model.tokenizer)
    direct = H.necessity(PatchedRunner(graph, enc), circuit, n_random=5, complement=True)
    assert doc["necessity"]["random_losses"] == pytest.approx(list(direct.random_losses))
    # the circuit, its mask and the hand-built edge set are one circuit to every test
    for same in (circuit.to_mask(graph), _kept(graph, ["embed->logits", "embed->m0", "m0->logits"])):
        again = H.necessity(PatchedRunner(graph, enc), same, n_random=5, complement=True)
        assert again.random_losses == direct.random_losses and again.circuit_loss == direct.circuit_loss
    bad = CliRunner().invoke(_app(), ["test-circuit", str(path), "--tests", "equivalence,minimalty"])
    assert isinstance(bad.exception, ms.MechscopeError) and "did you mean 'minimality'" in str(bad.exception)
    other = CliRunner().invoke(_app(), ["test-circuit", str(path), "--model", "random:gpt2-tiny:1", "--tests", "equivalence"])
    assert isinstance(other.exception, ms.MechscopeError) and "rediscover" in str(other.exception)
