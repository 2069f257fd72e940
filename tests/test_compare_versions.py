"""Making versions: quantization against references, exact pruning sparsity, low rank, encodings, CKA."""

import numpy as np
import pytest
import torch

import mechscope as ms
from mechscope.compare import encoding, make_version
from mechscope.compare.lowrank import low_rank
from mechscope.compare.pruning import prune_weights
from mechscope.compare.quantization import quantize
from mechscope.compare.similarity import linear_cka, relative_error
from mechscope.compare.pruning import calibration_tokens
from mechscope.compare.quantization import _linear, runtime_gap, torchao_config, torchao_encode


@pytest.fixture(scope="module")
def tiny():
    return ms.load("random:llama-tiny")


def _f16(x):
    return np.float32(np.float16(x))


def ggml_q8_0_reference(x: np.ndarray) -> np.ndarray:
    """quantize_row_q8_0_ref then dequantize_row_q8_0 of ggml, written out: blocks of 32, d = amax / 127."""
    out = np.empty_like(x)
    for i in range(0, x.size, 32):
        b = x[i : i + 32]
        d = np.abs(b).max() / 127
        q = np.round(b / d) if d else np.zeros_like(b)  # ggml's roundf; a tie is measure-zero for random floats
        out[i : i + 32] = q * _f16(d)
    return out


def ggml_q4_0_reference(x: np.ndarray) -> np.ndarray:
    """quantize_row_q4_0_ref then dequantize_row_q4_0 of ggml: d = (signed max by magnitude) / -8."""
    out = np.empty_like(x)
    for i in range(0, x.size, 32):
        b = x[i : i + 32]
        m = b[np.abs(b).argmax()]
        d = m / -8
        inv = 1 / d if d else 0.0
        q = np.minimum(15, np.trunc(b * inv + 8.5))
        out[i : i + 32] = (q - 8) * _f16(d)
    return out


@pytest.mark.parametrize("qtype, reference", [("q8_0", ggml_q8_0_reference), ("q4_0", ggml_q4_0_reference)])
def test_gguf_round_trip_matches_the_gguf_package_and_the_ggml_formulas(tiny, qtype, reference):
    import gguf
    from gguf import quants

    name = "model.layers.1.mlp.down_proj.weight"
    enc = quantize(tiny, qtype, modules="*.1.mlp.down_proj")[name]
    w = tiny.hf.get_parameter(name).detach().numpy()
    kind = gguf.GGMLQuantizationType[qtype.upper()]
    # bit for bit what the gguf package writes and reads back, through mechscope's storage
    assert np.array_equal(enc.parts["blocks"].numpy(), quants.quantize(w, kind))
    ours = enc.decode().numpy()
    assert np.array_equal(ours, quants.dequantize(quants.quantize(w, kind), kind))
    # and within one quantization step of ggml's reference formulas (the gguf package's own test tolerance)
    ref = np.stack([reference(row) for row in w])
    step = np.repeat(np.abs(w.reshape(-1, 32)).max(1) / (127 if qtype == "q8_0" else 8), 32).reshape(w.shape)
    assert np.all(np.abs(ours - ref) <= step * 1.001 + 1e-7)
    assert np.mean(ours == ref) > 0.99
    # the round-trip error: half a step (Q4_0: a full step on the side opposite its signed maximum, where
    # code 16 is clipped to 15), plus the fp16 rounding of the scale times the largest code
    bound = 0.5 + 127 * 2**-11 if qtype == "q8_0" else 1.0 + 8 * 2**-11
    assert np.all(np.abs(ours - w) <= step * bound + 1e-7)


def test_gguf_handles_transposed_gpt2_weights():
    model = ms.load("random:gpt2-tiny")
    name = "transformer.h.0.mlp.c_fc.weight"  # Conv1D, stored [in, out]
    enc = quantize(model, "q8_0", modules="*.0.mlp.c_fc")[name]
    w = model.hf.get_parameter(name).detach()
    assert enc.decode().shape == w.shape and enc.transposed
    assert float((enc.decode() - w).abs().max()) <= float(w.abs().max()) / 127


@pytest.mark.parametrize("qtype", ["int8", "int4"])
def test_torchao_codes_decode_to_torchao_dequantize(qtype):
    from torchao.quantization import quantize_

    w = torch.randn(24, 64, generator=torch.Generator().manual_seed(1))
    enc = torchao_encode(w, qtype)
    holder = _linear(w)
    quantize_(holder, torchao_config(qtype))
    assert torch.equal(enc.decode(), holder[0].weight.dequantize())
    assert enc.nbytes == 24 * 64 * (1 if qtype == "int8" else 0.5) + 4 * 24 * (1 if qtype == "int8" else 2)
    assert runtime_gap(w, qtype) < 1e-3  # torchao's kernels compute x @ decoded.T up to rounding


@pytest.mark.parametrize("sparsity", [0.5, 0.3])
def test_magnitude_pruning_reaches_the_sparsity_exactly(tiny, sparsity):
    for name, enc in prune_weights(tiny, "magnitude", sparsity).items():
        w, p = tiny.hf.get_parameter(name).detach(), enc.decode()
        zeros = p == 0
        assert int(zeros.sum()) == round(sparsity * w.numel())
        assert torch.equal(p[~zeros], w[~zeros])  # kept weights untouched
        assert float(w[zeros].abs().max()) <= float(w[~zeros].abs().min())  # the smallest went


def test_wanda_prunes_each_row_by_weight_times_input_norm(tiny):
    ids, mask = calibration_tokens(tiny, n=4, length=12)
    encs = prune_weights(tiny, "wanda", 0.5, calibration=(ids, mask))
    from mechscope.compare.pruning import input_norms
    from mechscope.compare.targets import targets

    norms = input_norms(tiny, targets(tiny), ids, mask)
    for name, enc in encs.items():
        w, p = tiny.hf.get_parameter(name).detach(), enc.decode()
        assert torch.equal((p == 0).sum(1), torch.full((w.shape[0],), w.shape[1] // 2))
        score = w.abs() * norms[name.removesuffix(".weight")]
        dropped = torch.where(p == 0, score, torch.full_like(score, -1)).amax(1)
        kept = torch.where(p != 0, score, torch.full_like(score, float("inf"))).amin(1)
        assert bool((dropped <= kept).all())
    # the norms are the activations': a naive pass over the first layer's q_proj input agrees
    captured = []
    h = tiny.hf.model.layers[0].self_attn.q_proj.register_forward_pre_hook(lambda m, a: captured.append(a[0]))
    with torch.no_grad():
        tiny.hf(input_ids=ids, attention_mask=mask)
    h.remove()
    naive = captured[0].reshape(-1, captured[0].shape[-1]).norm(dim=0)
    assert torch.allclose(norms["model.layers.0.self_attn.q_proj"], naive, rtol=1e-4)


@pytest.mark.parametrize("method", ["magnitude", "wanda"])
def test_two_four_pattern(tiny, method):
    calibration = calibration_tokens(tiny, n=2, length=8) if method == "wanda" else None
    for name, enc in prune_weights(tiny, method, n_m=(2, 4), calibration=calibration).items():
        p = enc.decode()
        groups = (p.t() if enc.transposed else p).reshape(-1, 4)
        assert torch.equal((groups == 0).sum(1), torch.full((groups.shape[0],), 2))


def test_low_rank_is_the_best_approximation(tiny):
    name = "model.layers.0.mlp.up_proj.weight"
    enc = low_rank(tiny, 0.25, modules="*.0.mlp.up_proj")[name]
    w = tiny.hf.get_parameter(name).detach().double()
    s = torch.linalg.svdvals(w)
    r = enc.meta["rank"]
    assert r == 16 and torch.linalg.matrix_rank(enc.decode().double(), rtol=1e-5) == r
    assert float(torch.linalg.norm(enc.decode().double() - w)) == pytest.approx(float(s[r:].norm()), rel=1e-4)


def test_encodings_round_trip():
    w = torch.randn(6, 8)
    w[w.abs() < 0.5] = 0
    assert torch.equal(encoding.sparse(w).decode(), w)
    assert torch.equal(encoding.dense(w.t().contiguous(), shape=(6, 8), transposed=True).decode(), w)  # Conv1D
    q = torch.randint(-8, 8, (4, 8), dtype=torch.int8)
    enc = encoding.affine(q, torch.ones(4, 2), None, bits=4)
    assert torch.equal(enc.decode(), q.float()) and enc.parts["codes"].numel() == 16


def test_version_of_unknown_operation_is_one_line(tiny):
    with pytest.raises(ms.MechscopeError, match="unknown operation"):
        make_version(tiny, "x", "distil", {})
    with pytest.raises(ms.MechscopeError, match="unknown quantization"):
        quantize(tiny, "q3_k")
    with pytest.raises(ms.MechscopeError, match="matches no linear module"):
        quantize(tiny, "q8_0", modules="*.attention.*")


def test_cka_of_a_layer_with_itself_is_one_and_matches_the_kernel_formula():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(40, 6, generator=g), torch.randn(40, 9, generator=g)
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)
    assert relative_error(x, x) == 0.0

    def naive(a, b):  # Kornblith et al.: HSIC of linear kernels with the centring matrix H
        a, b = a.double(), b.double()
        n = a.shape[0]
        h = torch.eye(n, dtype=torch.float64) - 1.0 / n
        k, l_ = h @ a @ a.T @ h, h @ b @ b.T @ h
        return float((k * l_).sum() / ((k * k).sum().sqrt() * (l_ * l_).sum().sqrt()))

    assert linear_cka(x, y) == pytest.approx(naive(x, y), rel=1e-9)
    assert linear_cka(x, y + 0.5 * x[:, :1]) == pytest.approx(naive(x, y + 0.5 * x[:, :1]), rel=1e-9)
    rotation = torch.linalg.qr(torch.randn(6, 6, generator=g))[0]
    assert linear_cka(x, 2.5 * x @ rotation + 3.0) == pytest.approx(1.0, abs=1e-9)
