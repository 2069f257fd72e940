"""Learned steering (LinEAS, the low-rank intervention): the loss, the proximal step, joint training through the
model, selection, and steering files that reload to the same outputs."""

import numpy as np
import ot
import pytest
import torch

from mechscope.errors import MechscopeError
from mechscope.models import load
from mechscope.steer import SteeringFile, load_concept
from mechscope.steer.lineas import LinEAS
from mechscope.steer.lowrank import LowRankSteer
from mechscope.steer.activations import encode, pool
from mechscope.steer.lineas import _pooled_sites, prox_sparse_group, wasserstein_1d
from mechscope.steer.sites import resolve_sites


@pytest.fixture(scope="module")
def model():
    return load("random:llama-tiny")


@pytest.fixture(scope="module")
def concept():
    return load_concept("wedding")


def _logits(model, texts):
    enc = encode(model, texts)
    with torch.no_grad():
        return model.hf(**enc.model_inputs()).logits


def test_wasserstein_1d_equals_pot_per_unit():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(32, 5, generator=g, dtype=torch.float64)
    b = torch.randn(32, 5, generator=g, dtype=torch.float64) * 3 + 1
    ours = wasserstein_1d(a, b)
    for u in range(5):
        ref = ot.wasserstein_1d(a[:, u].numpy(), b[:, u].numpy(), p=2)  # W_2^2 with uniform weights
        assert ours[u].item() == pytest.approx(float(ref), rel=1e-9)
    with pytest.raises(MechscopeError, match="one shape"):
        wasserstein_1d(a[:3], b)


def test_prox_is_soft_threshold_then_group_shrink():
    x = torch.tensor([3.0, -0.2, -2.0, 0.5])
    st = torch.tensor([2.5, 0.0, -1.5, 0.0])
    assert torch.equal(prox_sparse_group(x, 0.5, 0.0), st)
    shrunk = prox_sparse_group(x, 0.5, 1.0)
    assert torch.allclose(shrunk, st * (1 - 1.0 / st.norm()))
    assert torch.equal(prox_sparse_group(x, 0.5, 100.0), torch.zeros(4))


def test_lineas_training_lowers_the_loss_and_matches_apply(model, concept):
    src, tgt = concept.source[:8], concept.target[:8]  # n_samples >= 8: every sentence is used
    lin = LinEAS(sites="block", steps=40, lr=0.05, l1=0.0, n_samples=8).fit(model, src, tgt)
    hist = lin.loss_history_
    assert hist[-1] < 0.5 * hist[0]
    # recompute the loss independently: steer through `apply` (the inference hooks), pool each block's
    # output, and take POT's 1-D W2 per unit against the unsteered target activations
    sites = resolve_sites(model, "block", "all")
    enc = encode(model, src)
    pooled, hooks = {}, []
    with torch.no_grad(), lin.apply(model, strength=1.0):
        try:  # registered after the steering hooks, so they see the steered outputs
            for s in sites:
                hooks.append(model.hf.get_submodule(s.path).register_forward_hook(
                    lambda _m, _a, out, k=s.key: pooled.__setitem__(
                        k, pool(out[0] if isinstance(out, tuple) else out, enc.attention_mask, "mean"))))
            model.hf(**enc.model_inputs())
        finally:
            for h in hooks:
                h.remove()
    target = _pooled_sites(model, sites, tgt, "mean")
    # each site's loss is in units of its target RMS (LinEAS.fit)
    loss = sum(np.mean([ot.wasserstein_1d(pooled[k][:, u].double().numpy(), target[k][:, u].double().numpy(), p=2)
                        for u in range(target[k].shape[1])]) / target[k].pow(2).mean().item() for k in target)
    assert loss == pytest.approx(hist[-1], rel=0.15)
    assert loss < 0.5 * hist[0]
    # the first step's loss is the unsteered distance
    unsteered = _pooled_sites(model, sites, src, "mean")
    assert hist[0] == pytest.approx(float(sum(wasserstein_1d(unsteered[k], target[k]).mean()
                                              / target[k].pow(2).mean() for k in target)), rel=1e-4)


def test_strong_l1_selects_nothing_and_group_drops_whole_sites(model, concept):
    none = LinEAS(sites="block", steps=5, lr=0.05, l1=1e4, n_samples=4).fit(model, concept.source, concept.target)
    assert none.selection()["n_units"] == 0
    ids = encode(model, ["a quiet morning"]).input_ids
    with torch.no_grad(), none.apply(model, strength=1.0):
        steered = model.hf(ids).logits
    assert torch.equal(steered, model.hf(ids).logits)  # nothing selected: the identity
    some = LinEAS(sites="block", steps=20, lr=0.05, l1=0.5, n_samples=8).fit(model, concept.source, concept.target)
    sel = some.selection()
    assert 0 < sel["n_units"] < sel["of_units"]
    for key, units in sel["sites"].items():
        t = some.state_[key]
        active = ((t["w"] != 0) | (t["b"] != 0)).nonzero().flatten().tolist()
        assert units == active


def test_lineas_file_round_trip_same_outputs_and_report(model, concept, tmp_path):
    lin = LinEAS(sites="attn-norm", steps=5, lr=0.05, n_samples=6).fit(model, concept.source, concept.target)
    path = tmp_path / "lineas.safetensors"
    SteeringFile.from_method(lin, concept="wedding").save(path)
    sf = SteeringFile.load(path)
    assert sf.manifest["fit_report"]["steps"] == 5
    assert sf.manifest["fit_report"]["n_units"] == lin.selection()["n_units"]
    ids = encode(model, ["the train was late", "she opened the door"]).input_ids
    with torch.no_grad():
        with lin.apply(model, strength=0.7):
            a = model.hf(ids).logits
        with sf.apply(model, strength=0.7):
            b = model.hf(ids).logits
    assert torch.equal(a, b)
    assert not torch.allclose(a, model.hf(ids).logits)
    with torch.no_grad(), sf.apply(model, strength=0.0):
        assert torch.equal(model.hf(ids).logits, _logits(model, ["the train was late", "she opened the door"]))


def test_lineas_bad_parameters_are_one_line_errors(model):
    with pytest.raises(MechscopeError, match="steps >= 1"):
        LinEAS(steps=0).fit(model, ["a"], ["b"])
    with pytest.raises(MechscopeError, match="pooling"):
        LinEAS(pooling="tokens").fit(model, ["a"], ["b"])


def test_lowrank_transform_is_u_times_vh_plus_c_and_round_trips(model, concept, tmp_path):
    lr = LowRankSteer(layers="1", rank=2, objective="lm", steps=3, data="sentences").fit(model, concept.source, concept.target)
    t = lr.state_["model.layers.1"]
    h = torch.randn(2, 3, 64)
    naive = h + 1.5 * torch.einsum("dr,bsr->bsd", t["U"], torch.einsum("rd,bsd->bsr", t["V"], h) + t["c"])
    assert torch.allclose(lr._transform(t, h, 1.5), naive, atol=1e-5)
    path = tmp_path / "lowrank.safetensors"
    SteeringFile.from_method(lr).save(path)
    sf = SteeringFile.load(path)
    ids = encode(model, ["the train was late"]).input_ids
    with torch.no_grad():
        with lr.apply(model, 2.0):
            a = model.hf(ids).logits
        with sf.apply(model, 2.0):
            b = model.hf(ids).logits
    assert torch.equal(a, b)
    assert sf.manifest["fit_report"]["objective"] == "lm"


def test_lowrank_lm_objective_raises_target_likelihood(model, concept):
    from mechscope.steer.lowrank import _mean_logprob

    lr = LowRankSteer(layers="1", objective="lm", steps=30, lr=0.05, batch_size=8, data="sentences").fit(
        model, concept.source, concept.target)
    sites = resolve_sites(model, "block", "1")
    zero = {k: {n: torch.zeros_like(v) for n, v in t.items()} for k, t in lr.state_.items()}
    with torch.no_grad():
        before = _mean_logprob(model, sites, zero, [("", t) for t in concept.target[:16]], 1.0).mean()
        after = _mean_logprob(model, sites, lr.state_, [("", t) for t in concept.target[:16]], 1.0).mean()
    assert after > before + 0.05


def test_lowrank_preference_objective_separates_target_from_source(model, concept):
    from mechscope.steer.lowrank import _mean_logprob

    lr = LowRankSteer(layers="1", steps=30, lr=0.05, batch_size=8, objective="preference", data="sentences").fit(model, concept.source, concept.target)
    sites = resolve_sites(model, "block", "1")
    src, tgt = concept.source[:16], concept.target[:16]
    src_, tgt_ = [("", t) for t in src], [("", t) for t in tgt]
    with torch.no_grad():
        gap = {s: (_mean_logprob(model, sites, lr.state_, tgt_, s) - _mean_logprob(model, sites, lr.state_, src_, s))
               .mean().item() for s in (-1.0, 0.0, 1.0)}
    assert gap[1.0] > gap[0.0] > gap[-1.0]
    with pytest.raises(MechscopeError, match="objective"):
        LowRankSteer(objective="dpo").fit(model, src, tgt)


def test_continuation_batch_scores_exactly_the_continuation_tokens(model):
    from mechscope.steer.lowrank import _mean_logprob
    from mechscope.steer.primed import continuation_batch

    prompts, conts = ["the train", "a cat sat on"], [" left at eight", " the mat"]
    ids, mask, pos, scored = continuation_batch(model, prompts, conts)
    sites = resolve_sites(model, "block", "1")
    zero = {s.key: {"U": torch.zeros(64, 1), "V": torch.zeros(1, 64), "c": torch.zeros(1)} for s in sites}
    with torch.no_grad():
        ours = _mean_logprob(model, sites, zero, list(zip(prompts, conts)), 1.0)
    tok = model.tokenizer
    for i, (p, c) in enumerate(zip(prompts, conts)):  # naive: one unpadded row at a time
        head, tail = tok(p).input_ids, tok(c, add_special_tokens=False).input_ids
        row = torch.tensor([head + tail])
        with torch.no_grad():
            lp = torch.log_softmax(model.hf(row).logits[0].float(), -1)
        ref = torch.stack([lp[len(head) + j - 1, t] for j, t in enumerate(tail)]).mean()
        assert ours[i].item() == pytest.approx(ref.item(), abs=1e-4)
        assert int(scored[i].sum()) == len(tail)


def test_primed_lowrank_trains_on_the_models_own_primed_continuations(model, concept):
    from mechscope.steer.primed import primed_pairs, prompt_heads

    prompts, primed, plain = primed_pairs(model, concept.source[:6], concept.target, n_shots=3, new_tokens=4)
    assert prompts == prompt_heads(concept.source[:6])[:len(prompts)] and len(primed) == len(plain) == len(prompts)
    assert all(len(p.split()) == 3 for p in prompts)
    lr = LowRankSteer(layers="1", data="primed", objective="lm", steps=2, n_shots=3).fit(
        model, concept.source[:6], concept.target)
    assert len(lr.loss_history_) == 2 and lr.fit_report()["data"] == "primed"
    with pytest.raises(MechscopeError, match="data"):
        LowRankSteer(data="chat").fit(model, ["a b c d"], ["e f g h"])
    with pytest.raises(MechscopeError, match="more than 3 words"):
        primed_pairs(model, ["too short"], ["x"])


def test_primed_keep_retains_the_continuations_the_examples_made_most_likely(model, concept):
    from mechscope.steer.primed import _mean_logprob, primed_pairs, prompt_heads

    src, kw = concept.source[:6], dict(n_shots=3, new_tokens=4, samples=2)
    every = primed_pairs(model, src, concept.target, **kw)
    kept = primed_pairs(model, src, concept.target, keep=0.5, **kw)
    heads = prompt_heads(src)
    assert every[0] == [h for h in heads for _ in range(2)]  # two samples per head, every row kept
    assert len(kept[0]) == -(-len(every[0]) // 2)
    gen = torch.Generator().manual_seed(0)  # the same example draws as primed_pairs'
    contexts = ["".join(concept.target[i] + "\n" for i in torch.randperm(len(concept.target), generator=gen)[:3])
                for _ in every[0]]
    gain = (_mean_logprob(model, [c + p for c, p in zip(contexts, every[0])], every[1])
            - _mean_logprob(model, every[0], every[1]))
    rows = list(zip(*every))
    chosen = [i for i, r in enumerate(rows) if r in set(zip(*kept))]
    assert [rows[i] for i in chosen] == list(zip(*kept))  # a subset, in order, plain aligned with its prompt
    dropped = [i for i in range(len(rows)) if i not in chosen]
    assert min(gain[chosen]) >= max(gain[dropped])
    with pytest.raises(MechscopeError, match="keep in"):
        primed_pairs(model, src, concept.target, keep=0.0)


def test_fitted_state_is_float32_cpu(model, concept):
    lin = LinEAS(sites="block", layers="0", steps=1, n_samples=2).fit(model, concept.source, concept.target)
    for t in lin.state_.values():
        for v in t.values():
            assert v.dtype == torch.float32 and v.device.type == "cpu"
    assert np.isfinite(lin.loss_history_[0])


def test_composition_equals_nested_application_and_scales_both(model, concept):
    from mechscope.steer.compose import Composition
    from mechscope.steer.vectors import DiffMean

    up = DiffMean(layers="1").fit(model, concept.source[:8], concept.target[:8])
    ocean = load_concept("ocean")
    down = LinEAS(sites="block", steps=2, n_samples=4).fit(model, ocean.target, ocean.source)
    pair = Composition([up, down], [2.0, 0.5])
    ids = encode(model, ["the train was late"]).input_ids
    with torch.no_grad():
        with pair.apply(model, 1.5):
            both = model.hf(ids).logits
        with up.apply(model, 3.0), down.apply(model, 0.75):
            nested = model.hf(ids).logits
        with pair.apply(model, 0.0):
            zero = model.hf(ids).logits
    assert torch.equal(both, nested)
    assert torch.equal(zero, _logits(model, ["the train was late"]))
    assert len(model.hf.model.layers[1]._forward_hooks) == 0
    with pytest.raises(MechscopeError, match="at least two"):
        Composition([up])


def test_prompting_plus_steering_at_zero_is_prompting(model, concept):
    from mechscope.steer.evaluate import evaluate_prompting
    from mechscope.steer.vectors import DiffMean

    dm = DiffMean(layers="1").fit(model, concept.source[:8], concept.target[:8])
    kw = dict(lexicon=concept.lexicon, max_new_tokens=4, keep_texts=True)
    alone = evaluate_prompting(model, concept.instruction, concept.prompts[:3], concept.neutral[:3], **kw)
    zero = evaluate_prompting(model, concept.instruction, concept.prompts[:3], concept.neutral[:3], steering=dm,
                              strength=0.0, **kw)
    strong = evaluate_prompting(model, concept.instruction, concept.prompts[:3], concept.neutral[:3], steering=dm,
                                strength=8.0, **kw)
    assert zero["texts"] == alone["texts"] and zero["ppl"] == pytest.approx(alone["ppl"], rel=1e-6)
    assert zero["method"] == "prompting+diffmean" and strong["ppl"] != pytest.approx(alone["ppl"], rel=1e-3)


def test_lineas_support_moves_only_values_inside_the_source_range(model, concept):
    lin = LinEAS(sites="block", layers="1", steps=3, n_samples=4, support=True).fit(model, concept.source,
                                                                                   concept.target)
    t = lin.state_["model.layers.1"]
    assert set(t) == {"w", "b", "lo", "hi"}
    h = torch.stack([t["lo"] - 1, (t["lo"] + t["hi"]) / 2, t["hi"] + 1])[None]  # [1, 3, d]
    out = lin._transform(t, h, 1.0)
    assert torch.equal(out[0, 0], h[0, 0]) and torch.equal(out[0, 2], h[0, 2])
    assert torch.allclose(out[0, 1], h[0, 1] + t["w"] * h[0, 1] + t["b"])
