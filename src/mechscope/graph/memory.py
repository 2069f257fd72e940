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
asked for. The budget is for what a pass adds above the loaded model (weights are not
counted): `bytes_per_example` estimates it per example from its terms, and
`peak_allocated` measures it (tests/test_memory.py holds the estimate above the measured
peak on every family; benchmarks/scale.py prints both at real models' shapes). Scores are means over examples, so any batch size gives the same scores
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
>>> plan = plan_batch(graph, seq=16, requested=32, budget=parse_bytes("8MiB"), grad=True)
>>> plan.batch_size < 32, plan.batch_size >= 1
(True, True)
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch

from mechscope.errors import MechscopeError
from mechscope.graph._forward import BLOCK
from mechscope.graph.engine import takes_source_chunks
from mechscope.graph.structure import Graph

_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6, "mib": 2**20,
          "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12, "tib": 2**40}
DEFAULT_SHARE = 0.5  # of the device's free memory
T = TypeVar("T")


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


MARGIN = 1.15  # over the terms below: what they leave out (small temporaries, the allocator's rounding)
NORM_VJP = 10  # [q/k/v heads, seq, d_model] float32 tensors alive in one layer's backward (measured, see below)


def bytes_per_example(graph: Graph, seq: int, grad: bool, buffers: int | None = None,
                      sources: int | None = None, positions: int | None = None) -> int:
    """Estimated peak bytes that one example of `seq` tokens adds to a patched run, above the loaded model.

    `buffers`: how many ``[n_sources, seq, d_model]`` buffers the caller holds (default: the patch values and
    ``patch - current``, and with gradients on a post-norm family also the engine's correction); `sources`: their
    rows when a chunk of the sources is held (default all); `positions`: the logit positions a batch keeps
    (default `seq`, the most there can be).

    The terms (``elt``: the model dtype's bytes; norms, softmax and metrics compute in float32):

    - buffers: ``buffers x sources x seq x d_model`` at ``elt``;
    - the model's own activations, per layer and token ``(2 d_model + 4 n_heads d_head + 4 d_mlp) elt +
      (4 d_model + 3 n_heads seq) 4`` (the residual stream, the norms' float32 copies, q and the repeated k and v,
      the attention weights, the MLP's hidden units): over every layer with gradients (kept for the backward),
      two layers without;
    - receivers: on pre-norm families with gradients, one layer's backward through its norm for every q/k/v
      receiver at once, about ``NORM_VJP`` float32 tensors of ``[n_heads + 2 n_kv_heads, seq, d_model]``, and the
      gradients at every receiver input of a block of 4 layers (`mechscope.graph._grad`); on post-norm families each layer's receiver inputs and normed copies, kept for
      the backward; without gradients a block of 4 layers' receiver inputs (`mechscope.graph._forward.BLOCK`)
      and one layer's normed copies;
    - logits: with gradients, ``positions x vocab`` at ``elt`` and two float32 copies (the gradient, a soft-cap's
      saved values) at the start of the backward; without, the logits and their float32 copy; and two float32
      rows of ``vocab`` for the metric. The largest of these phases counts, not their sum;
    - the mask, its gradient and the plan's ``[receivers, sources]`` float32 tables (counted per example).

    Measured on CPU with torch's allocator profile (tests/test_memory.py; benchmarks/scale.py prints estimate
    and measured peak side by side).

    >>> from mechscope.models import load
    >>> graph = Graph.from_model(load("random:llama-tiny"))
    >>> bytes_per_example(graph, 16, grad=True) > bytes_per_example(graph, 16, grad=True, sources=2)
    True
    """
    a = graph.adapter
    hf = graph.model.hf
    elt = torch.tensor([], dtype=next(hf.parameters()).dtype).element_size()
    f32 = 4
    fast = takes_source_chunks(graph)
    if buffers is None:
        buffers = 2 + (1 if grad and not fast else 0)
    d, s = a.d_model, seq
    d_mlp = max(a.mlp_width(hf, i) for i in range(a.n_layers))
    heads = a.n_heads + 2 * a.n_kv_heads  # q/k/v receivers of a layer
    rows = graph.n_sources if sources is None else sources
    buf = elt * buffers * rows * s * d
    act = s * (elt * (2 * d + 4 * a.n_heads * a.d_head + 4 * d_mlp) + f32 * (4 * d + 3 * a.n_heads * s))
    vocab = hf.config.vocab_size if hasattr(hf.config, "vocab_size") else hf.get_output_embeddings().out_features
    kept = s if positions is None else max(1, min(positions, s))
    metric_rows = 2 * f32 * vocab  # the logits at each example's position, in float32, and their gradient
    tables = 4 * f32 * sum(g.shape[0] for g in graph.groups) * graph.n_sources
    L = a.n_layers
    if grad:
        # the start of the backward: every layer's saved activations, the logits' backward (soft-cap included)
        head = L * act + kept * vocab * (elt + 2 * f32)
        if fast:  # then each layer's receivers, the last layer's first, its own activations freed
            # (and the gradients at the receiver inputs of a block of BLOCK layers, taken in one product)
            layer = (L - 1) * act + f32 * (NORM_VJP * heads + min(BLOCK, L) * (heads + 1)) * s * d
        else:  # post-norms: each layer's receiver inputs and their normed copies are kept for the backward
            layer, head = 0, head + L * elt * 2 * (heads + 1) * s * d
    else:
        head = kept * vocab * (elt + f32)
        layer = min(2, L) * act + elt * (min(BLOCK, L) + 1) * (heads + 1) * s * d
    return int(MARGIN * (buf + max(head, layer) + metric_rows + tables))


def peak_allocated(fn: Callable[[], T]) -> tuple[T, int]:
    """``fn()`` and the most bytes of CPU tensors it held at once, above what was held before the call (torch's
    profiler of allocations: every allocation and free, in order). What tests/test_memory.py and
    benchmarks/scale.py hold `bytes_per_example` to; CPU tensors only.

    >>> _, peak = peak_allocated(lambda: torch.ones(1024).sum())
    >>> peak >= 4096
    True
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = fn()
    events = sorted((e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())
    held = peak = 0
    for e in events:
        held += e.nbytes()
        peak = max(peak, held)
    return out, peak


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
    positions: int | None = None,
) -> BatchPlan:
    """The largest batch size up to `requested` whose patched run fits `budget` bytes.

    `budget` None: `default_budget` of the model's device. With `chunkable` (a gradient
    at one value per mask column, on a family that `takes_source_chunks`) an example that
    does not fit gets batch 1 and the largest chunk of sources that fits; `pinned`
    sources (those the forward pass reads, e.g. the embedding EAP-IG interpolates) are
    in every chunk and count towards its size; `positions`: the logit positions a batch keeps
    (`bytes_per_example`). A budget that cannot hold one example
    (or one source of it besides the pinned) is a one-line error naming the sizes.

    >>> from mechscope.models import load
    >>> graph = Graph.from_model(load("random:llama-tiny"))
    >>> one = bytes_per_example(graph, 16, grad=True, sources=5, positions=1)
    >>> plan = plan_batch(graph, 16, 8, one, chunkable=True, pinned=(0,))
    >>> plan.batch_size, plan.source_chunk, plan.chunks()[1][:3]
    (1, 5, [0, 5, 6])
    """
    if budget is None:
        budget = default_budget(graph.model.device)
    budget = parse_bytes(budget)
    kept = seq if positions is None else positions

    def per_at(batch: int) -> int:  # a batch of `batch` examples keeps at most `batch` logit positions
        return bytes_per_example(graph, seq, grad, buffers, positions=min(kept, batch))

    per = per_at(requested)
    size = min(requested, budget // per)  # the weights are already loaded: the free count excludes them
    if size < min(requested, kept):  # a smaller batch keeps fewer positions: the largest that fits
        size = max((b for b in range(1, min(requested, kept) + 1) if b * per_at(b) <= budget), default=0)
        per = per_at(max(size, 1))
    n = graph.n_sources
    if size >= 1:
        return BatchPlan(int(size), int(requested), int(budget), int(per), n_sources=n)
    if chunkable and takes_source_chunks(graph):
        least = len(pinned) + 1  # the pinned sources and one other
        # a chunked pass holds one example: one logit position
        one = bytes_per_example(graph, seq, grad, buffers, sources=least, positions=1)
        if one <= budget:
            lo, hi = least, n  # the largest chunk that fits: bytes grow with the chunk
            while lo < hi:
                mid = (lo + hi + 1) // 2
                fits = bytes_per_example(graph, seq, grad, buffers, sources=mid, positions=1) <= budget
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
