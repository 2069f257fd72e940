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

When one example does not fit, gradients taken where every mask column holds one
value (EAP at the clean run, EAP-IG over inputs) are taken for a chunk of the
sources at a time (`run(..., sources=...)`): the buffers then hold the chunk's rows
only, the clean forward and backward run once per chunk, and each edge's score is
the same as in one pass (a score reads one source's difference and one receiver's
gradient). A patched forward, or a gradient at a mask that differs within a column,
reads every source in one pass: those need the whole buffer (the error says so).

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
from mechscope.graph.engine import takes_source_chunks
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


def bytes_per_example(graph: Graph, seq: int, grad: bool, buffers: int | None = None,
                      sources: int | None = None) -> int:
    """Estimated peak bytes that one example of `seq` tokens adds to a patched run.

    `buffers`: how many ``[n_sources, seq, d_model]`` buffers the caller holds (default
    2 without gradients, 3 with; EAP-IG over inputs holds 5); `sources`: their rows
    when a chunk of the sources is held (default all).
    """
    a = graph.adapter
    elt = torch.tensor([], dtype=next(graph.model.hf.parameters()).dtype).element_size()
    if buffers is None:
        buffers = 3 if grad else 2
    d_mlp = max(a.mlp_width(graph.model.hf, 0), a.d_model)
    sources = buffers * (graph.n_sources if sources is None else sources) * seq * a.d_model
    # each layer: receivers' inputs and their normed copies (kept for backward), plus the
    # model's own activations (q/k/v/o, MLP hidden, attention scores in float32)
    receivers = (a.n_heads + 2 * a.n_kv_heads + 1) * seq * a.d_model * (2 if grad else 1)
    model = seq * (6 * a.d_model + 3 * d_mlp) + a.n_heads * seq * seq * 2
    per_layer = (receivers + model) * (a.n_layers if grad else 2)
    logits = graph.model.hf.config.vocab_size * 4
    return int(1.25 * (elt * (sources + per_layer) + logits))


def human_bytes(n: int) -> str:
    """``1.50 GiB``, ``12.0 MiB``, ``700.0 KiB``.

    >>> human_bytes(3 * 2**29), human_bytes(12 * 2**20), human_bytes(700 * 2**10)
    ('1.50 GiB', '12.0 MiB', '700.0 KiB')
    """
    if n >= 2**30:
        return f"{n / 2**30:.2f} GiB"
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


@dataclass(frozen=True)
class BatchPlan:
    """What `plan_batch` chose, and why (`note` is one line for the CLI).

    >>> BatchPlan(1, 4, 2**20, 3 * 2**20, source_chunk=4, n_sources=10).note
    'memory budget 1.0 MiB, about 3.0 MiB per example: batch 4 split to 1, 10 sources in 3 chunks of up to 4'
    """

    batch_size: int
    requested: int
    budget: int
    per_example: int
    source_chunk: int | None = None  # sources held per pass when one example needs chunks (None: all in one)
    n_sources: int | None = None
    pinned: tuple[int, ...] = ()  # sources in every chunk (read by the forward pass itself)

    @property
    def note(self) -> str:
        verb = "kept" if self.batch_size == self.requested else f"split to {self.batch_size}"
        text = (f"memory budget {human_bytes(self.budget)}, about {human_bytes(self.per_example)} per example: "
                f"batch {self.requested} {verb}")
        if self.source_chunk is not None:
            text += f", {self.n_sources} sources in {len(self.chunks())} chunks of up to {self.source_chunk}"
        return text

    def chunks(self) -> list[list[int]]:
        """Sorted source indices of each pass, at most `source_chunk` of them: the `pinned` sources in every
        pass, the others once each (one pass of every source without chunking).

        >>> BatchPlan(1, 4, 100, 200, source_chunk=4, n_sources=10, pinned=(0,)).chunks()
        [[0, 1, 2, 3], [0, 4, 5, 6], [0, 7, 8, 9]]
        >>> BatchPlan(1, 4, 100, 200, source_chunk=4, n_sources=10).chunks()
        [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
        """
        n = self.n_sources or 0
        if self.source_chunk is None:
            return [list(range(n))]
        others = [j for j in range(n) if j not in self.pinned]
        step = self.source_chunk - len(self.pinned)
        return [sorted([*self.pinned, *others[i:i + step]]) for i in range(0, len(others), step)]


def plan_batch(
    graph: Graph,
    seq: int,
    requested: int,
    budget: int | str | None = None,
    grad: bool = True,
    buffers: int | None = None,
    chunkable: bool = False,
    pinned: tuple[int, ...] = (),
) -> BatchPlan:
    """The largest batch size up to `requested` whose patched run fits `budget` bytes.

    `budget` None: `default_budget` of the model's device. With `chunkable` (a gradient
    at one value per mask column, on a family that `takes_source_chunks`) an example that
    does not fit gets batch 1 and the largest chunk of sources that fits; `pinned`
    sources (those the forward pass reads, e.g. the embedding EAP-IG interpolates) are
    in every chunk and count towards its size. A budget that cannot hold one example
    (or one source of it besides the pinned) is a one-line error naming the sizes.

    >>> from mechscope.models import load
    >>> graph = Graph.from_model(load("random:llama-tiny"))
    >>> one = bytes_per_example(graph, 16, grad=True, sources=5)
    >>> plan = plan_batch(graph, 16, 8, one, chunkable=True, pinned=(0,))
    >>> plan.batch_size, plan.source_chunk, plan.chunks()[1][:3]
    (1, 5, [0, 5, 6])
    """
    if budget is None:
        budget = default_budget(graph.model.device)
    budget = parse_bytes(budget)
    per = bytes_per_example(graph, seq, grad, buffers)
    size = min(requested, budget // per)  # the weights are already loaded: the free count excludes them
    n = graph.n_sources
    if size >= 1:
        return BatchPlan(int(size), int(requested), int(budget), int(per), n_sources=n)
    if chunkable and takes_source_chunks(graph):
        least = len(pinned) + 1  # the pinned sources and one other
        one = bytes_per_example(graph, seq, grad, buffers, sources=least)
        if one <= budget:
            lo, hi = least, n  # the largest chunk that fits: bytes grow with the chunk
            while lo < hi:
                mid = (lo + hi + 1) // 2
                fits = bytes_per_example(graph, seq, grad, buffers, sources=mid) <= budget
                lo, hi = (mid, hi) if fits else (lo, mid - 1)
            return BatchPlan(1, int(requested), int(budget), int(per), source_chunk=int(lo), n_sources=n,
                             pinned=tuple(pinned))
        per, why = one, " even with one source per pass"
    elif chunkable:
        why = f" ({graph.adapter.family} has norms after attention or MLP: its scores read every source at once)"
    else:
        why = " (a patched forward reads every source in one pass)"
    raise MechscopeError(
        f"one example of {seq} tokens needs about {human_bytes(per)} for a patched run of "
        f"{graph.n_edges:,} edges{why}, more than the memory budget of {human_bytes(budget)}; raise --max-memory "
        f"to at least {human_bytes(per)}, "
        "spread the model over devices (--device map:auto), use shorter prompts or --dtype bfloat16"
    )
