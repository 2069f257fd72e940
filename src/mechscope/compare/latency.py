"""Measured latency, in the runtime a version would be deployed with where PyTorch has one here.

- int8 / int4: torchao's quantized weights and kernels;
- low-rank: each matrix as two smaller linear layers (its factors);
- everything else (GGUF types, pruned, checkpoints, the base): float32
  PyTorch. GGUF files are run by llama.cpp, which is not measured here, and
  unstructured or 2:4 sparsity has no CPU kernel in PyTorch, so a pruned
  version runs dense.

The runtime copy is made only for timing and thrown away; the analysis uses the
float32 model.
"""

from __future__ import annotations

import copy
import statistics
import time

import torch
from torch import nn

from mechscope.compare.version import Version
from mechscope.models import Model
from mechscope.tasks import EncodedTask
from mechscope.tasks.base import next_token_logits

FLOAT = "torch float32"


def runtime_for(model: Model, version: Version | None) -> tuple[Model, str]:
    """The model as the version's runtime holds it (a converted copy), and that runtime's name.

    >>> from mechscope.models import load
    >>> runtime_for(load("random:llama-tiny"), None)[1]
    'torch float32'
    """
    if version is None or not version.tensors:
        return model, FLOAT
    if version.operation == "quantize" and version.params.get("type") in ("int8", "int4"):
        from mechscope.compare.quantization import torchao_modules

        clone = _clone(model)
        qtype = version.params["type"]
        if torchao_modules(clone, list(version.tensors), qtype, version.params.get("group_size", 32)):
            return clone, f"torchao {qtype} weight-only"
        return model, FLOAT
    if version.operation == "low-rank":
        clone = _clone(model)
        if _factor_linears(clone, version):
            return clone, "torch float32, factored"
        return model, FLOAT
    return model, FLOAT


def latency_ms(model: Model, enc: EncodedTask, batch_size: int = 16, repeats: int = 5) -> float:
    """Median wall time (ms) of one forward pass on the first `batch_size` prompts of `enc`, after a warm-up.

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> m = load("random:llama-tiny")
    >>> latency_ms(m, load_task("ioi", n=2).encode(m.tokenizer), repeats=2) > 0
    True
    """
    b = enc.select(slice(0, batch_size)).to(model.device)
    times = []
    with torch.no_grad():
        for i in range(repeats + 1):
            t0 = time.perf_counter()
            next_token_logits(model.hf, b.clean_ids, b.attention_mask, b.positions)
            if i:
                times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def _clone(model: Model) -> Model:
    return Model(spec=model.spec, hf=copy.deepcopy(model.hf), tokenizer=model.tokenizer, adapter=model.adapter,
                 fingerprint=model.fingerprint)


def _factor_linears(model: Model, version: Version) -> int:
    """Replace each low-rank nn.Linear by ``Linear(in, r) -> Linear(r, out)`` holding its factors."""
    count = 0
    for name, enc in version.tensors.items():
        if enc.format != "lowrank" or enc.transposed:
            continue
        path = name.removesuffix(".weight")
        parent_path, _, child = path.rpartition(".")
        old = model.hf.get_submodule(path)
        if not isinstance(old, nn.Linear):
            continue
        left, right = enc.parts["left"], enc.parts["right"]
        first = nn.Linear(right.shape[1], right.shape[0], bias=False)
        second = nn.Linear(left.shape[1], left.shape[0], bias=old.bias is not None)
        with torch.no_grad():
            first.weight.copy_(right)
            second.weight.copy_(left)
            if old.bias is not None:
                second.bias.copy_(old.bias)
        setattr(model.hf.get_submodule(parent_path), child, nn.Sequential(first, second))
        count += 1
    return count
