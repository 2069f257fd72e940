"""Weight quantization as people deploy it, through maintained libraries.

- GGUF block types (``q8_0``, ``q4_0``, and the other types the `gguf` package
  can write: ``q4_1``, ``q5_0``, ``q5_1``): ``gguf.quants.quantize`` and
  ``dequantize``, byte for byte what llama.cpp files hold.
- ``int8``: torchao's int8 weight-only quantization (symmetric, one scale per
  output row).
- ``int4``: torchao's int4 weight-only quantization (symmetric, one scale per
  group of 32 inputs; `group_size` changes it).

mechscope analyses a quantized version through its dequantized float32
weights: weight-only quantization computes ``x @ dequantize(W)``, so the
behaviour is the same up to float rounding (`runtime_gap` measures it for the
torchao formats). Sizes count the quantized bytes.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import torch
from torch import nn

from mechscope.compare.encoding import EncodedWeight, affine, gguf_blocks, writable_gguf_types
from mechscope.compare.targets import Target, targets
from mechscope.errors import MechscopeError
from mechscope.models import Model

TORCHAO_TYPES = ("int8", "int4")


def quant_types() -> list[str]:
    """Every accepted `--quantize` value.

    >>> quant_types()[:2]
    ['int8', 'int4']
    """
    return list(TORCHAO_TYPES) + writable_gguf_types()


def quantize(model: Model, qtype: str, modules: str = "*", group_size: int = 32) -> dict[str, EncodedWeight]:
    """Quantize the target matrices of `model` (unchanged) to `qtype`; returns their encodings.

    >>> from mechscope.models import load
    >>> enc = quantize(load("random:llama-tiny"), "q4_0", modules="*.0.mlp.up_proj")
    >>> [(k, e.meta["qtype"], e.nbytes) for k, e in enc.items()]  # 128 rows x 2 blocks x 18 bytes
    [('model.layers.0.mlp.up_proj.weight', 'Q4_0', 4608)]
    """
    qtype = qtype.lower()
    if qtype not in quant_types():
        raise MechscopeError(f"unknown quantization {qtype!r}; use one of {', '.join(quant_types())}")
    chosen = targets(model, modules)
    if qtype in TORCHAO_TYPES:
        return {t.name: _torchao_target(t.matrix(model), qtype, group_size, t) for t in chosen}
    return {t.name: gguf_blocks(t.matrix(model), qtype, tuple(t.parameter(model).shape), t.transposed) for t in chosen}


def torchao_config(qtype: str, group_size: int = 32):
    """The torchao config for ``int8`` or ``int4`` weight-only quantization.

    >>> type(torchao_config("int8")).__name__
    'Int8WeightOnlyConfig'
    """
    _quiet_torchao()
    from torchao.quantization import Int8WeightOnlyConfig, IntxWeightOnlyConfig
    from torchao.quantization.granularity import PerGroup

    if qtype == "int8":
        return Int8WeightOnlyConfig()
    if qtype == "int4":
        return IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerGroup(group_size))
    raise MechscopeError(f"torchao quantization {qtype!r} is not supported; use int8 or int4")


def torchao_encode(matrix: torch.Tensor, qtype: str, group_size: int = 32) -> EncodedWeight:
    """Quantize one ``[out, in]`` matrix with torchao and keep its codes and scales.

    >>> enc = torchao_encode(torch.randn(8, 64), "int4")
    >>> enc.meta["bits"], enc.meta["group_size"], enc.nbytes  # 8 x 64 half-bytes + 8 x 2 float scales
    (4, 32, 320)
    """
    quantize_ = _torchao_quantize()
    if qtype == "int4" and matrix.shape[1] % group_size:
        raise MechscopeError(f"int4 uses groups of {group_size} inputs, but a matrix has {matrix.shape[1]} inputs; "
                             "pick a --group-size that divides it or leave the module out with --modules")
    holder = _linear(matrix)
    quantize_(holder, torchao_config(qtype, group_size))
    w = holder[0].weight
    return affine(w.qdata, w.scale.view(matrix.shape[0], -1), getattr(w, "zero_point", None),
                  bits=8 if qtype == "int8" else 4)


def _torchao_target(matrix: torch.Tensor, qtype: str, group_size: int, target: Target) -> EncodedWeight:
    enc = torchao_encode(matrix, qtype, group_size)
    shape = (matrix.shape[1], matrix.shape[0]) if target.transposed else tuple(matrix.shape)
    return replace(enc, shape=shape, transposed=target.transposed)


def torchao_modules(model: Model, names, qtype: str, group_size: int = 32) -> int:
    """Swap the named weights of `model` (in place) for torchao's quantized tensors, to time the real runtime.

    Returns how many modules were converted (GPT-2's Conv1D modules stay float).
    """
    quantize_ = _torchao_quantize()
    config = torchao_config(qtype, group_size)
    count = 0
    for path in sorted({name.removesuffix(".weight") for name in names}):
        module = model.hf.get_submodule(path)
        if isinstance(module, nn.Linear):
            holder = nn.Sequential(module)
            quantize_(holder, config)
            count += 1
    return count


def runtime_gap(matrix: torch.Tensor, qtype: str, group_size: int = 32, seed: int = 0) -> float:
    """Max |difference| between torchao's quantized linear and ``x @ decoded.T`` on random inputs.

    How far the float32 analysis of a torchao version is from running it with
    torchao's own kernels: rounding only.

    >>> runtime_gap(torch.randn(16, 64), "int8") < 1e-3
    True
    """
    quantize_ = _torchao_quantize()
    decoded = torchao_encode(matrix, qtype, group_size).decode()
    x = torch.randn(4, matrix.shape[1], generator=torch.Generator().manual_seed(seed))
    holder = _linear(matrix)
    with torch.no_grad():
        quantize_(holder, torchao_config(qtype, group_size))
        return float((holder(x) - x @ decoded.T).abs().max())


def _linear(matrix: torch.Tensor) -> nn.Sequential:
    linear = nn.Linear(matrix.shape[1], matrix.shape[0], bias=False)
    with torch.no_grad():
        linear.weight.copy_(matrix.float())
    return nn.Sequential(linear)


def _torchao_quantize():
    """torchao's `quantize_`, imported quietly."""
    _quiet_torchao()
    from torchao.quantization import quantize_

    return quantize_


def _quiet_torchao() -> None:
    # torchao logs a failed load of each CUDA-only kernel library on a CPU machine, none of which is used
    # here, and torch a deprecation note on one of its enums: keep both off the user's terminal.
    for name in ("torchao", "torch.utils._pytree"):
        logging.getLogger(name).setLevel(logging.ERROR)
