"""Cross-checks against steering-vectors and repeng: the same vector at the same layer gives the same logits."""

import numpy as np
import pytest
import torch

from mechscope.models import load
from mechscope.steer import load_concept
from mechscope.steer.vectors import DiffMean
from mechscope.steer.activations import encode

TEXTS = ["The bride walked down the aisle", "We sorted the recycling"]


@pytest.fixture(scope="module")
def model():
    return load("random:llama-tiny")


@pytest.fixture(scope="module")
def concept():
    return load_concept("wedding")


def _logits(model):
    enc = encode(model, TEXTS)
    with torch.no_grad():
        return model.hf(**enc.model_inputs()).logits, enc.attention_mask.bool()


def test_additive_vector_matches_steering_vectors(model, concept):
    sv = pytest.importorskip("steering_vectors")
    dm = DiffMean(layers="1").fit(model, concept.source[:8], concept.target[:8])
    vector = dm.state_["model.layers.1"]["vector"]
    with dm.apply(model, strength=3.0):
        ours, mask = _logits(model)
    with sv.SteeringVector(layer_activations={1: vector}, layer_type="decoder_block").apply(model.hf, multiplier=3.0):
        theirs, _ = _logits(model)
    base, _ = _logits(model)
    assert (ours - base)[mask].abs().max() > 1e-2
    assert torch.allclose(ours[mask], theirs[mask], atol=1e-5)


def test_diffmean_last_token_fit_matches_steering_vectors_training(model, concept):
    sv = pytest.importorskip("steering_vectors")
    src, tgt = concept.source[:6], concept.target[:6]
    ours = DiffMean(layers="1", pooling="last").fit(model, src, tgt).state_["model.layers.1"]["vector"]
    trained = sv.train_steering_vector(model.hf, model.tokenizer, list(zip(tgt, src)), layers=[1],
                                       read_token_index=-1, show_progress=False)
    assert torch.allclose(ours, trained.layer_activations[1].float(), atol=1e-4)


def test_additive_vector_matches_repeng_control_model():
    if not hasattr(np, "float_"):  # repeng 0.4 still names np.float_, removed in NumPy 2
        np.float_ = np.float64
    repeng = pytest.importorskip("repeng")
    model = load("random:llama-tiny")  # repeng wraps layers in place: use a model of our own
    c = load_concept("ocean")
    dm = DiffMean(layers="1").fit(model, c.source[:8], c.target[:8])
    with dm.apply(model, strength=2.5):
        ours, mask = _logits(model)
    cm = repeng.ControlModel(model.hf, [1])
    try:
        cm.set_raw_control({1: 2.5 * dm.state_["model.layers.1"]["vector"]})
        enc = encode(model, TEXTS)
        with torch.no_grad():
            theirs = cm(**enc.model_inputs()).logits
    finally:
        cm.reset()
        cm.unwrap()
    assert torch.allclose(ours[mask], theirs[mask], atol=1e-5)
