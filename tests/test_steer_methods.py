"""Steering methods: the fits are the math they claim, strength 0 is a no-op, hooks always come off."""

import numpy as np
import pytest
import torch

from mechscope.errors import MechscopeError
from mechscope.models import load
from mechscope.steer import load_concept
from mechscope.steer.act import LinearAcT, MeanAcT
from mechscope.steer.aura import AurA
from mechscope.steer.vectors import DiffMean, DirectionalAblation, PCADiff
from mechscope.steer.activations import encode, pool
from mechscope.steer.aura import auroc
from mechscope.steer.transport import fit_linear_transport, quantile_coupling


@pytest.fixture(scope="module")
def model():
    return load("random:llama-tiny")


@pytest.fixture(scope="module")
def concept():
    return load_concept("wedding")


def _logits(model, texts, padding_side="right"):
    enc = encode(model, texts, padding_side=padding_side)
    with torch.no_grad():
        return model.hf(**enc.model_inputs()).logits, enc.attention_mask


def test_closed_form_fit_equals_least_squares_on_sorted_pairs():
    g = torch.Generator().manual_seed(0)
    src = torch.randn(60, 7, generator=g, dtype=torch.float64) * 2 + 1
    tgt = torch.randn(60, 7, generator=g, dtype=torch.float64) ** 3 - 0.5
    w, b = fit_linear_transport(src, tgt)
    for u in range(7):
        x, y = np.sort(src[:, u].numpy()), np.sort(tgt[:, u].numpy())
        (w_ls, b_ls), *_ = np.linalg.lstsq(np.stack([x, np.ones_like(x)], 1), y, rcond=None)
        assert w[u].item() == pytest.approx(w_ls, rel=1e-9, abs=1e-12)
        assert b[u].item() == pytest.approx(b_ls, rel=1e-9, abs=1e-12)


def test_unequal_sizes_use_the_optimal_1d_coupling():
    import ot

    g = torch.Generator().manual_seed(1)
    src = torch.randn(13, 3, generator=g, dtype=torch.float64)
    tgt = torch.randn(29, 3, generator=g, dtype=torch.float64)
    w, b = fit_linear_transport(src, tgt)
    for u in range(3):
        x, y = src[:, u].numpy(), tgt[:, u].numpy()
        plan = ot.emd(np.full(13, 1 / 13), np.full(29, 1 / 29), (x[:, None] - y[None]) ** 2)  # exact OT, any dimension
        i, j = np.nonzero(plan > 1e-12)
        sw = np.sqrt(plan[i, j])
        (w_ls, b_ls), *_ = np.linalg.lstsq(np.stack([x[i], np.ones_like(i, dtype=float)], 1) * sw[:, None],
                                           y[j] * sw, rcond=None)
        assert w[u].item() == pytest.approx(w_ls, rel=1e-8) and b[u].item() == pytest.approx(b_ls, rel=1e-8, abs=1e-10)
    i, j, mass = quantile_coupling(13, 29)
    assert mass.sum().item() == pytest.approx(1.0) and bool((i[1:] >= i[:-1]).all() and (j[1:] >= j[:-1]).all())


@pytest.mark.parametrize("cls, sites", [(LinearAcT, "block"), (LinearAcT, "norm"), (LinearAcT, "attn-norm"),
                                        (MeanAcT, "mlp"), (MeanAcT, "mlp-norm"),
                                        (DiffMean, "attn"), (AurA, "neurons"), (DirectionalAblation, "block")])
def test_strength_zero_gives_exactly_the_unsteered_logits(model, concept, cls, sites):
    method = cls(sites=sites, layers="all").fit(model, concept.source[:12], concept.target[:12])
    texts = ["We walked along the shore.", "The bride smiled"]
    base, _ = _logits(model, texts)
    with method.apply(model, strength=0.0):
        zero, _ = _logits(model, texts)
    with method.apply(model, strength=1.0):
        full, _ = _logits(model, texts)
    assert torch.equal(zero, base)
    assert (full - base).abs().max() > 1e-3


def test_linear_act_only_moves_values_inside_the_source_support(model, concept):
    act = LinearAcT(sites="block", layers="0").fit(model, concept.source[:10], concept.target[:10])
    t = act.state_["model.layers.0"]
    h = torch.stack([t["lo"] - 1.0, (t["lo"] + t["hi"]) / 2, t["hi"] + 1.0])[None]  # [1, 3, d]
    out = act._transform(t, h, 0.5)
    assert torch.equal(out[0, 0], h[0, 0]) and torch.equal(out[0, 2], h[0, 2])
    mid = h[0, 1]
    assert torch.allclose(out[0, 1], 0.5 * (t["w"] * mid + t["b"]) + 0.5 * mid)


def test_linear_act_is_estimated_causally_source_rows_steered(model, concept):
    src, tgt = concept.source[:10], concept.target[:10]
    act = LinearAcT(sites="block", layers="0,1").fit(model, src, tgt)
    layer0, layer1 = act.state_["model.layers.0"], act.state_["model.layers.1"]

    def pooled_layer1(texts, steer):
        enc = encode(model, texts)
        seen = {}
        hooks = [model.hf.model.layers[1].register_forward_hook(lambda m, a, o: seen.setdefault("h", o))]
        if steer:
            hooks.append(model.hf.model.layers[0].register_forward_hook(lambda m, a, o: act._transform(layer0, o, 1.0)))
        with torch.no_grad():
            model.hf(**enc.model_inputs())
        for h in hooks:
            h.remove()
        return pool(seen["h"], enc.attention_mask, "mean")

    w, b = fit_linear_transport(pooled_layer1(src, True), pooled_layer1(tgt, False))
    assert torch.allclose(layer1["w"], w, atol=1e-5) and torch.allclose(layer1["b"], b, atol=1e-5)


def test_mean_act_and_diffmean_are_the_pooled_mean_difference(model, concept):
    src, tgt = concept.source[:9], concept.target[:11]

    def mean_hidden(texts, layer, pooling):
        enc = encode(model, texts, padding_side="left")
        with torch.no_grad():
            hs = model.hf(**enc.model_inputs(), output_hidden_states=True).hidden_states[layer + 1]
        return pool(hs, enc.attention_mask, pooling).mean(0)

    for pooling in ("mean", "last"):
        expected = mean_hidden(tgt, 0, pooling) - mean_hidden(src, 0, pooling)
        dm = DiffMean(layers="0", pooling=pooling).fit(model, src, tgt)
        assert torch.allclose(dm.state_["model.layers.0"]["vector"], expected, atol=1e-5)
    mean_act = MeanAcT(sites="block", layers="0").fit(model, src, tgt)
    assert torch.allclose(mean_act.state_["model.layers.0"]["b"], expected * 0 + (mean_hidden(tgt, 0, "mean")
                          - mean_hidden(src, 0, "mean")), atol=1e-5)
    assert torch.equal(mean_act.state_["model.layers.0"]["w"], torch.ones(64))


def test_aura_auroc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    g = torch.Generator().manual_seed(3)
    pos = torch.randint(0, 4, (17, 5), generator=g).float()  # many ties
    neg = torch.randint(0, 3, (23, 5), generator=g).float()
    ours = auroc(pos, neg)
    for u in range(5):
        labels = np.r_[np.ones(17), np.zeros(23)]
        assert ours[u].item() == pytest.approx(roc_auc_score(labels, np.r_[pos[:, u], neg[:, u]]), abs=1e-6)


def test_pca_diff_direction_is_sklearns_first_component(model, concept):
    from sklearn.decomposition import PCA

    src, tgt = concept.source[:12], concept.target[:12]
    pca = PCADiff(layers="0").fit(model, src, tgt)
    vec = pca.state_["model.layers.0"]["vector"]

    def pooled(texts):
        enc = encode(model, texts)
        with torch.no_grad():
            hs = model.hf(**enc.model_inputs(), output_hidden_states=True).hidden_states[1]  # after layer 0
        return pool(hs, enc.attention_mask, "mean")

    s, t = pooled(src), pooled(tgt)
    comp = torch.tensor(PCA(n_components=1).fit((t - s).numpy()).components_[0], dtype=torch.float32)
    cos = torch.nn.functional.cosine_similarity(vec, comp, dim=0).abs()
    assert cos.item() == pytest.approx(1.0, abs=1e-4)
    assert ((t.mean(0) - s.mean(0)) @ vec).item() > 0  # points from source to target


def test_hooks_come_off_on_errors(model, concept):
    act = LinearAcT(sites="norm").fit(model, concept.source[:6], concept.target[:6])
    texts = ["The bride smiled"]
    base, _ = _logits(model, texts)
    hooks = lambda: [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in model.hf.modules()]  # noqa: E731
    before = hooks()
    with pytest.raises(RuntimeError, match="boom"):
        with act.apply(model, strength=1.0):
            assert hooks() != before
            raise RuntimeError("boom")
    assert hooks() == before
    after, _ = _logits(model, texts)
    assert torch.equal(after, base)


def test_bad_strength_and_unfitted_are_one_line_errors(model, concept):
    with pytest.raises(MechscopeError, match=r"must be in \[0, 1\]; got 1.5"):
        with LinearAcT(layers="0").fit(model, concept.source[:4], concept.target[:4]).apply(model, 1.5):
            pass
    with pytest.raises(MechscopeError, match="not fitted"):
        with DiffMean().apply(model):
            pass
    with pytest.raises(MechscopeError, match="matches no module"):
        DiffMean(sites=r"model\.nothing").fit(model, ["a"], ["b"])
    with pytest.raises(MechscopeError, match="out of range"):
        DiffMean(layers="7").fit(model, ["a"], ["b"])
