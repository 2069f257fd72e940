"""In-process LM simulator and explainer: the cached, batched pass equals a naive full forward pass per
text, the expected activation reads the digit probabilities, and scores match the one-text-at-a-time path."""

import numpy as np
import pytest
import torch

from mechscope.describe.simulate import score_description, split_records
from mechscope.describe.simulate_lm import LMExplainer, LMSimulator
from mechscope.models import load
from tests.test_describe_units import _cat_unit

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny():
    return load("random:llama-tiny")


def _naive(sim: LMSimulator, description: str, tokens: tuple[str, ...]) -> np.ndarray:
    """Expected digit at every tab from one uncached forward pass over prompt + text."""
    prompt = sim.prompt_ids(description)
    ids, where = sim.text_ids(tokens)
    with torch.no_grad():
        logits = sim.model.hf(torch.tensor([prompt + ids])).logits[0, [len(prompt) + w for w in where]]
    p = torch.softmax(logits[:, sim._digits].float(), dim=-1).numpy()
    return p @ np.arange(10) * 10 / 9


def test_batched_cached_simulation_equals_a_naive_forward_pass_per_text(tiny):
    sim = LMSimulator(tiny, batch_size=2)
    texts = [("The", " cat", " sat"), (" a",), (), ("x", " dog", " ran", " far", "\n", " away")]
    description = "fires on the tokens ' cat', ' dog'"
    got = sim.simulate_many(description, texts)
    assert got[2] == [] and [len(g) for g in got] == [3, 1, 0, 6]
    for toks, pred in zip(texts, got):
        if toks:
            assert np.allclose(pred, _naive(sim, description, toks), atol=1e-4)
    assert np.allclose(sim.simulate(description, texts[3]), got[3], atol=1e-4)
    # the text's lines: every token then a tab (read there), then a newline; the newline token is escaped
    ids, where = sim.text_ids(("a", "\n"))
    assert [ids[w] for w in where] == sim._tab * 2 and tiny.tokenizer.decode(ids) == "a\t\n\\n\t\n"


def test_expected_activation_reads_the_digit_probabilities(tiny):
    sim = LMSimulator(tiny)
    logits = torch.full((3, tiny.tokenizer.vocab_size + 10), -1e4)
    logits[0, sim._digits[9]] = 0.0  # all mass on 9 -> 10
    logits[1, sim._digits[0]] = 0.0  # all mass on 0 -> 0
    logits[2, sim._digits[0]] = logits[2, sim._digits[9]] = 0.0  # half and half -> 5
    logits[:, 0] = 50.0  # a non-digit token's mass is ignored (renormalised over digits)
    assert sim._expected(logits) == pytest.approx([10.0, 0.0, 5.0])


class _OneByOne:
    """The LM simulator without simulate_many: score_description's per-text path."""

    def __init__(self, sim):
        self.sim = sim

    def simulate(self, description, tokens):
        return self.sim.simulate(description, tokens)


def test_scores_through_the_batched_path_equal_the_per_text_path(tiny):
    split = split_records(_cat_unit(60), seed=0)
    sim = LMSimulator(tiny, batch_size=4)
    batched = score_description("fires on the tokens 'cat'", split, sim)
    single = score_description("fires on the tokens 'cat'", split, _OneByOne(sim))
    assert batched == pytest.approx(single, abs=1e-6)


def test_lm_explainer_writes_a_fires_on_description(tiny):
    split = split_records(_cat_unit(60), seed=0)
    text = LMExplainer(tiny, max_tokens=5).explain(split.top, split.others)
    assert text.startswith("fires on ") and "\n" not in text
