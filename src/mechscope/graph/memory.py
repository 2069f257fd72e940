"""A memory budget for patched runs: how many examples fit in one batch.

A patched forward holds buffers of shape ``[n_sources, batch, seq, d_model]``: the
patch values and ``patch - current``; with gradients also the correction for the
current outputs, and for EAP-IG the clean outputs and their fixed differences.
Receivers add ``[n_receivers, batch, seq, d_model]`` per layer (their inputs, kept
for the backward pass), and the model's own activations come on top. For
Llama-3.1-8B (1,057 sources, 32 layers of 49 receivers) at 64 tokens that is about
1.3 GB per example per buffer in float32, so a batch of 32 cannot fit one GPU.

`plan_batch` turns a budget in bytes (``--max-memory``; default half of the free
memory of the model's device) into the largest batch that fits, never above the one
asked for. Scores are means over examples, so any batch size gives the same scores
up to float rounding (tests/test_memory.py checks 1e-6).

>>> from mechscope.models import load
>>> from mechscope.graph import Graph
>>> graph = Graph.from_model(load("random:gpt2-tiny"))
>>> plan = plan_batch(graph, seq=16, requested=32, budget=parse_bytes("1MiB"), grad=True)
>>> plan.batch_size < 32, plan.batch_size >= 1
(True, True)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import torch

from mechscope.errors import MechscopeError
from mechscope.graph.structure import Graph

_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6, "mib": 2**20,
          "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12, "tib": 2**40}
DEFAULT_SHARE = 0.5  # of the device's free memory


def parse_bytes(text: str | int | float) -> int:
    """``"8GiB"``, ``"512MB"``, ``"2g"`` or a number of bytes.

    >>> parse_bytes("1.5GiB"), parse_bytes("512MB"), parse_bytes(1024)
    (1610612736, 512000000, 1024)
    """
    if isinstance(text, (int, float)):
        return int(text)
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    if m is None or m.group(2).lower() not in _UNITS:
        raise MechscopeError(f"memory size {text!r} is not understood; use e.g. 8GiB, 512MB or 2g")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def free_memory(device: torch.device) -> int:
    """Free bytes on `device`: CUDA's own count, or the system's available memory for the CPU."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def default_budget(device: torch.device) -> int:
    """Half of the free memory of `device`."""
    return int(DEFAULT_SHARE * free_memory(device))


def bytes_per_example(graph: Graph, seq: int, grad: bool, buffers: int | None = None) -> int:
    """Estimated peak bytes that one example of `seq` tokens adds to a patched run.

    `buffers`: how many ``[n_sources, seq, d_model]`` buffers the caller holds (default
    2 without gradients, 3 with; EAP-IG over inputs holds 5).
    """
    a = graph.adapter
    elt = torch.tensor([], dtype=next(graph.model.hf.parameters()).dtype).element_size()
    if buffers is None:
        buffers = 3 if grad else 2
    d_mlp = max(a.mlp_width(graph.model.hf, 0), a.d_model)
    sources = buffers * graph.n_sources * seq * a.d_model
    # each layer: receivers' inputs and their normed copies (kept for backward), plus the
    # model's own activations (q/k/v/o, MLP hidden, attention scores in float32)
    receivers = (a.n_heads + 2 * a.n_kv_heads + 1) * seq * a.d_model * (2 if grad else 1)
    model = seq * (6 * a.d_model + 3 * d_mlp) + a.n_heads * seq * seq * 2
    per_layer = (receivers + model) * (a.n_layers if grad else 2)
    logits = graph.model.hf.config.vocab_size * 4
    return int(1.25 * (elt * (sources + per_layer) + logits))


def human_bytes(n: int) -> str:
    """``1.50 GiB``, ``12.0 MiB``.

    >>> human_bytes(3 * 2**29), human_bytes(12 * 2**20)
    ('1.50 GiB', '12.0 MiB')
    """
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


@dataclass(frozen=True)
class BatchPlan:
    """What `plan_batch` chose, and why (`note` is one line for the CLI)."""

    batch_size: int
    requested: int
    budget: int
    per_example: int

    @property
    def note(self) -> str:
        verb = "kept" if self.batch_size == self.requested else f"split to {self.batch_size}"
        return (f"memory budget {human_bytes(self.budget)}, about {human_bytes(self.per_example)} per example: "
                f"batch {self.requested} {verb}")


def plan_batch(
    graph: Graph,
    seq: int,
    requested: int,
    budget: int | str | None = None,
    grad: bool = True,
    buffers: int | None = None,
) -> BatchPlan:
    """The largest batch size up to `requested` whose patched run fits `budget` bytes.

    `budget` None: `default_budget` of the model's device. A budget that cannot hold
    even one example is a one-line error naming both sizes.
    """
    if budget is None:
        budget = default_budget(graph.model.device)
    budget = parse_bytes(budget)
    per = bytes_per_example(graph, seq, grad, buffers)
    size = min(requested, budget // per)  # the weights are already loaded: the free count excludes them
    if size < 1:
        raise MechscopeError(
            f"one example of {seq} tokens needs about {human_bytes(per)} for a patched run of "
            f"{graph.n_edges:,} edges, more than the memory budget of {human_bytes(budget)}; raise --max-memory, "
            "use shorter prompts or a smaller dtype (--dtype bfloat16)"
        )
    return BatchPlan(int(size), int(requested), int(budget), int(per))
