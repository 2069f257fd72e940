"""Steering, model versions, comparison targets, `describe unit` and model-residual maps on every family.

One tiny random model per family; each check would fail if a method still assumed
one family's module names (the knowledge they read lives in the family's adapter).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from mechscope.errors import MechscopeError
from mechscope.models import FAMILIES, load

SPECS = [f"random:{f.spec_name}-tiny" for f in FAMILIES.values()]
SENTENCES = ["The sea was calm today.", "A wedding in the spring.", "Numbers add up quickly.",
             "She walked to the market.", "Waves crashed on the shore.", "The cake had three layers."]


@functools.lru_cache(maxsize=None)
def model_of(spec: str):
    return load(spec)


@pytest.mark.parametrize("spec", SPECS)
def test_steering_fits_and_acts_at_every_site_kind(spec):
    from mechscope.steer.vectors import DiffMean
    from mechscope.steer.sites import SITE_KINDS, resolve_sites

    model = model_of(spec)
    ids = model.tokenizer(SENTENCES[:2], return_tensors="pt", padding=True)
    with torch.no_grad():
        base = model.hf(**ids).logits
    for kind in SITE_KINDS:
        try:
            sites = resolve_sites(model, kind, "1")
        except MechscopeError as exc:  # OLMo-2 has no pre-norms
            assert model.adapter.attn_norm is None and "has no normalisation" in str(exc), (kind, str(exc))
            continue
        steering = DiffMean(sites=kind, layers="1").fit(model, SENTENCES[:3], SENTENCES[3:])
        with steering.apply(model, strength=8.0), torch.no_grad():
            steered = model.hf(**ids).logits
        assert (steered - base).abs().max() > 1e-4, f"{spec}: steering at {kind} ({sites[0].path}) does nothing"


@pytest.mark.parametrize("spec", SPECS)
def test_describe_unit_reads_the_mlp_hidden_units(spec):
    from mechscope.describe.unit import parse_unit, unit_activations

    model = model_of(spec)
    a = model.adapter
    width = a.mlp_width(model.hf, 1)
    unit = parse_unit(f"mlp.1:{width - 1}", model)
    with pytest.raises(MechscopeError, match="outside"):
        parse_unit(f"mlp.1:{width}", model)
    got = unit_activations(model, unit, SENTENCES[:3])
    # by hand: the input of the down projection, unit width-1, max over each text's tokens
    seen = []
    down = a.layer(model.hf, 1).get_submodule(a.down_proj)
    handle = down.register_forward_pre_hook(lambda m, args: seen.append(args[0][..., width - 1]))
    try:
        for text in SENTENCES[:3]:
            with torch.no_grad():
                model.hf(**model.tokenizer(text, return_tensors="pt"))
    finally:
        handle.remove()
    assert np.allclose(got, [float(s.max()) for s in seen], atol=1e-5)


@pytest.mark.parametrize("spec", SPECS)
def test_versions_and_comparison_targets(spec):
    from mechscope.compare.targets import targets
    from mechscope.compare.version import apply_version, make_version

    model = load(spec)  # a fresh copy: apply_version writes into it
    found = targets(model)
    assert found and {t.layer for t in found} == set(range(model.adapter.n_layers))
    version = make_version(model, "q", "quantize", {"type": "int8"})
    ids = torch.tensor([[300, 301, 302, 303]])
    with torch.no_grad():
        before = model.hf(input_ids=ids).logits
        apply_version(model, version)
        after = model.hf(input_ids=ids).logits
    assert 0 < float((after - before).abs().max()) < 0.5 * float(before.abs().max())


@pytest.mark.parametrize("spec", SPECS)
def test_model_residual_map_embeds_on_every_family(spec):
    from mechscope.data.embed import get_embedder

    model = model_of(spec)
    embedder = get_embedder(f"model:{spec}@1", model=model)
    x = embedder.embed(SENTENCES)
    assert x.shape == (len(SENTENCES), model.adapter.d_model) and np.isfinite(x).all()
    assert np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-4)
