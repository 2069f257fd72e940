"""Steering in generation: KV cache = no cache, left = right padding, positions prompt/generated."""

import pytest
import torch

from mechscope.models import load
from mechscope.steer import generate, load_concept
from mechscope.steer.act import LinearAcT
from mechscope.steer.vectors import DiffMean
from mechscope.steer.activations import encode

PROMPTS = ["The weather today", "My family and I went to the", "Yesterday"]


@pytest.fixture(scope="module")
def model():
    return load("random:qwen2-tiny")


@pytest.fixture(scope="module")
def steering(model):
    c = load_concept("wedding")
    return LinearAcT(sites="block").fit(model, c.source[:16], c.target[:16])


@pytest.fixture(scope="module")
def vector(model):
    c = load_concept("ocean")
    return DiffMean(layers="1").fit(model, c.source[:16], c.target[:16])


@pytest.mark.parametrize("positions", ["all", "prompt", "generated"])
def test_kv_cache_generation_equals_no_cache_generation_under_steering(model, vector, positions):
    kw = dict(steering=vector, strength=8.0, max_new_tokens=6, temperature=0.0, positions=positions,
              return_logits=True)
    cached, cl = generate(model, PROMPTS, use_cache=True, **kw)
    uncached, ul = generate(model, PROMPTS, use_cache=False, **kw)
    assert cached == uncached
    assert torch.allclose(cl[0], ul[0], atol=1e-4)
    plain, pl = generate(model, PROMPTS, max_new_tokens=6, temperature=0.0, return_logits=True)
    steps_changed = (cl[0] - pl[0]).abs().amax(dim=(0, 2)) > 1e-3  # [steps]
    if positions == "generated":  # the first token is predicted from the prompt alone: unsteered
        assert not steps_changed[0] and steps_changed[1:].all()
    else:
        assert steps_changed.all()


def test_left_and_right_padding_agree_under_steering(model, steering):
    texts = ["A short one", "This sentence is a good deal longer than the first one"]
    out = {}
    with steering.apply(model, strength=0.7):
        for side in ("left", "right"):
            enc = encode(model, texts, padding_side=side)
            with torch.no_grad():
                logits = model.hf(**enc.model_inputs()).logits
            out[side] = [logits[i][enc.attention_mask[i].bool()] for i in range(len(texts))]
        alone = []
        for t in texts:
            enc = encode(model, [t])
            with torch.no_grad():
                alone.append(model.hf(**enc.model_inputs()).logits[0])
    for i in range(len(texts)):
        assert torch.allclose(out["left"][i], out["right"][i], atol=1e-4)
        assert torch.allclose(out["left"][i], alone[i], atol=1e-4)


def test_batched_generation_equals_one_prompt_at_a_time(model, steering):
    batched = generate(model, PROMPTS, steering=steering, strength=1.0, max_new_tokens=5, temperature=0.0)
    single = [generate(model, [p], steering=steering, strength=1.0, max_new_tokens=5, temperature=0.0)[0]
              for p in PROMPTS]
    assert batched == single


def test_positions_generated_works_inside_hf_generate(model, vector):
    enc = encode(model, ["The weather today"], padding_side="left")
    kw = dict(input_ids=enc.input_ids, attention_mask=enc.attention_mask, max_new_tokens=4, do_sample=False,
              use_cache=True, pad_token_id=model.tokenizer.eos_token_id, output_scores=True,
              return_dict_in_generate=True)
    plain = model.hf.generate(**kw).scores
    with vector.apply(model, strength=8.0, positions="generated") as state:
        steered = model.hf.generate(**kw).scores
    assert state.prompt_length == enc.input_ids.shape[1]  # found from the first (uncached) call
    assert torch.equal(steered[0], plain[0])  # predicted from the prompt only: not steered
    assert all((a - b).abs().max() > 1e-3 for a, b in zip(steered[1:], plain[1:]))


def test_sampling_is_reproducible_for_a_seed(model, steering):
    a = generate(model, PROMPTS, steering=steering, strength=0.5, max_new_tokens=8, seed=3)
    b = generate(model, PROMPTS, steering=steering, strength=0.5, max_new_tokens=8, seed=3)
    c = generate(model, PROMPTS, steering=steering, strength=0.5, max_new_tokens=8, seed=4)
    assert a == b and a != c
