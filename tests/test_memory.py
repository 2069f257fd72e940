"""The memory budget: batches split to fit it, and the scores do not change."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from mechscope.discover.attribution import eap, eap_ig
from mechscope.errors import MechscopeError
from mechscope.graph import Graph
from mechscope.graph.memory import bytes_per_example, parse_bytes, plan_batch
from mechscope.models import load
from mechscope.tasks import load_task


@pytest.fixture(scope="module")
def setup():
    model = load("random:gemma2-tiny")
    graph = Graph.from_model(model)
    enc = load_task("ioi", n=12).encode(model.tokenizer)
    seq = int(enc.positions.max()) + 1
    return graph, enc, seq


@pytest.mark.parametrize("method", ["eap", "eap-ig"])
def test_split_batches_give_the_same_scores(setup, method):
    graph, enc, seq = setup
    per = bytes_per_example(graph, seq, grad=True, buffers=5 if method == "eap-ig" else 3)
    budget = int(2.5 * per)  # room for two examples: 12 examples in six batches
    assert plan_batch(graph, seq, 12, budget, buffers=5 if method == "eap-ig" else 3).batch_size == 2
    fn = eap if method == "eap" else (lambda g, e, **kw: eap_ig(g, e, steps=3, **kw))
    whole = fn(graph, enc, batch_size=12, max_memory="64GiB")
    split = fn(graph, enc, batch_size=12, max_memory=budget)
    for name in whole:
        assert torch.allclose(split[name], whole[name], rtol=1e-5, atol=1e-7), name
    assert max(float(t.abs().max()) for t in whole.values()) > 1e-3


def test_a_budget_below_one_example_is_one_line(setup):
    graph, _, seq = setup
    with pytest.raises(MechscopeError, match=r"^one example of \d+ tokens needs about .* raise --max-memory"):
        plan_batch(graph, seq, 4, "1KiB")


def test_parse_bytes():
    assert parse_bytes("8GiB") == 8 * 2**30 and parse_bytes("1.5k") == 1536
    with pytest.raises(MechscopeError, match="memory size 'lots' is not understood"):
        parse_bytes("lots")


def test_discover_cli_says_what_it_chose():
    import json

    args = [sys.executable, "-m", "mechscope", "discover", "--model", "random:gpt2-tiny", "--method", "eap",
            "--edges", "10", "--n", "8", "--no-record", "--no-curve"]
    ok = subprocess.run(args + ["--max-memory", "3MiB", "--json"], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    plan = json.loads(ok.stdout)["params"]["batch_plan"]
    assert plan.startswith("memory budget 3.0 MiB") and "batch 16 split to" in plan, plan
    bad = subprocess.run(args + ["--max-memory", "1KB"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: one example of"), bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
