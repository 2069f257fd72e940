"""A task run through the edge-patching engine, in batches.

`graph.engine.run` patches one batch; these functions run a whole task with
bounded memory: per batch they record the patch values (the corrupted prompts'
source outputs, or the task's mean, or zeros), run, and reduce to the task
metric. Memory is that of one batch whatever the task size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mechscope.errors import MechscopeError
from mechscope.graph import EdgeMask, Graph, run, source_outputs
from mechscope.graph.memory import BatchPlan, plan_batch
from mechscope.tasks.base import EncodedTask, metric_values

ABLATIONS = ("resample", "mean", "zero")
Progress = Callable[[int], None] | None


def check_ablation(ablation: str) -> str:
    if ablation not in ABLATIONS:
        raise MechscopeError(f"unknown ablation {ablation!r}; use one of {', '.join(ABLATIONS)}")
    return ablation


def mean_source_outputs(graph: Graph, enc: EncodedTask, batch_size: int = 16) -> torch.Tensor:
    """Mean of every node's output over the clean prompts' real tokens: ``[n_sources, 1, 1, d_model]``.

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:gpt2-tiny")
    >>> enc = load_task("ioi", n=4).encode(model.tokenizer)
    >>> mean_source_outputs(Graph.from_model(model), enc).shape
    torch.Size([11, 1, 1, 64])
    """
    total, count = None, 0
    for batch in enc.batches(batch_size):
        outs = source_outputs(graph, batch.clean_ids, batch.attention_mask)  # [n, B, S, D]
        w = batch.attention_mask.to(outs.dtype)[None, :, :, None]
        part = (outs * w).sum(dim=(1, 2))
        total = part if total is None else total + part
        count += int(batch.attention_mask.sum())
    return (total / count)[:, None, None, :]


def task_plan(graph: Graph, enc: EncodedTask, batch_size: int, max_memory: int | str | None, *, grad: bool,
              buffers: int | None = None, chunkable: bool = False, pinned: tuple[int, ...] = ()) -> BatchPlan:
    """`mechscope.graph.memory.plan_batch` for this task's longest prompt: `batch_size`, or fewer examples
    per batch if a batch would not fit `max_memory`, and with `chunkable` the chunks of sources when one
    example does not fit.

    `max_memory`: bytes or a size such as ``"8GiB"``; None: half the device's free
    memory (`mechscope.graph.memory`). The estimate counts the task's distinct logit positions
    (`logit_positions`).

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:gpt2-tiny")
    >>> enc = load_task("ioi", n=4).encode(model.tokenizer)
    >>> task_plan(Graph.from_model(model), enc, 16, "20GiB", grad=True).batch_size
    16
    """
    seq = int(enc.positions.max()) + 1 if len(enc) else 1
    return plan_batch(graph, seq, batch_size, max_memory, grad=grad, buffers=buffers, chunkable=chunkable,
                      pinned=pinned, positions=logit_positions(enc))


def logit_positions(enc: EncodedTask) -> int:
    """The most logit positions a batch of `enc` keeps (its distinct answer positions, at least 1): the logits a
    pass holds are ``[batch, positions, vocab]``.

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> enc = load_task("ioi", n=4).encode(load("random:gpt2-tiny").tokenizer)
    >>> 1 <= logit_positions(enc) <= 4
    True
    """
    return max(1, int(torch.unique(enc.positions).numel())) if len(enc) else 1


def patch_for(graph: Graph, batch: EncodedTask, ablation: str, mean: torch.Tensor | None = None,
              sources: list[int] | None = None) -> torch.Tensor:
    """Patch values for one batch: ``[n_sources, B|1, S|1, d_model]`` (only the rows of `sources`, if given)."""
    check_ablation(ablation)
    if ablation == "resample":
        return source_outputs(graph, batch.corrupt_ids, batch.attention_mask, sources=sources)
    if ablation == "mean":
        if mean is None:
            raise MechscopeError("mean ablation needs the task mean: pass mean=mean_source_outputs(graph, enc)")
        return mean if sources is None else mean[torch.tensor(sources, device=mean.device)]
    n = graph.n_sources if sources is None else len(sources)
    return torch.zeros(n, 1, 1, graph.adapter.d_model, device=batch.clean_ids.device)


def patched_metric(
    graph: Graph,
    enc: EncodedTask,
    mask: EdgeMask,
    *,
    ablation: str = "resample",
    batch_size: int = 16,
    mean: torch.Tensor | None = None,
    progress: Progress = None,
    max_memory: int | str | None = None,
) -> torch.Tensor:
    """The task metric per example with the edges in `mask` patched: ``[n_examples]``.

    Batches hold at most `batch_size` examples, fewer if they would not fit
    `max_memory` (see `task_plan`).

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:gpt2-tiny"); graph = Graph.from_model(model)
    >>> enc = load_task("ioi", n=4).encode(model.tokenizer)
    >>> patched_metric(graph, enc, EdgeMask.zeros(graph)).shape
    torch.Size([4])
    """
    batch_size = task_plan(graph, enc, batch_size, max_memory, grad=False).batch_size
    if ablation == "mean" and mean is None:
        mean = mean_source_outputs(graph, enc, batch_size)
    values = []
    with torch.no_grad():
        for batch in enc.batches(batch_size):
            clean = None
            if enc.metric == "kl":
                clean = run(graph, batch.clean_ids, batch.attention_mask, positions=batch.positions)
            logits = run(graph, batch.clean_ids, batch.attention_mask, positions=batch.positions,
                         patch=patch_for(graph, batch, ablation, mean), mask=mask)
            values.append(metric_values(logits, batch, clean_logits=clean))
            if progress:
                progress(len(batch))
    return torch.cat(values)


def edge_gradients(
    graph: Graph,
    enc: EncodedTask,
    *,
    mask: EdgeMask | None = None,
    ablation: str = "resample",
    batch_size: int = 16,
    mean: torch.Tensor | None = None,
    progress: Progress = None,
    max_memory: int | str | None = None,
) -> dict[str, torch.Tensor]:
    """Gradient of the mean task metric with respect to every edge coefficient.

    Evaluated at `mask` (default: all zeros, the clean run, which is what EAP
    needs). Returns one ``[n_receivers, n_sources]`` tensor per receiver group.
    Batches are split to fit `max_memory` (see `task_plan`); at the clean run
    an example that does not fit is scored a chunk of sources at a time. The
    result is a sum over examples, the same for any split up to float rounding.

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:gpt2-tiny"); graph = Graph.from_model(model)
    >>> enc = load_task("ioi", n=4).encode(model.tokenizer)
    >>> grads = edge_gradients(graph, enc)
    >>> grads["logits"].shape
    torch.Size([1, 11])
    """
    plan = task_plan(graph, enc, batch_size, max_memory, grad=True, chunkable=mask is None)
    batch_size = plan.batch_size
    if ablation == "mean" and mean is None:
        mean = mean_source_outputs(graph, enc, batch_size)
    base = mask if mask is not None else EdgeMask.zeros(graph)
    total = {k: torch.zeros_like(t, dtype=torch.float32) for k, t in base.tensors.items()}
    n = len(enc)
    chunks = plan.chunks() if plan.source_chunk is not None else [None]
    for batch in enc.batches(batch_size):
        clean = None
        if enc.metric == "kl":
            with torch.no_grad():
                clean = run(graph, batch.clean_ids, batch.attention_mask, positions=batch.positions)
        for sources in chunks:  # one pass of every source, or a chunk of them at a time
            m = EdgeMask({k: t.detach().clone().requires_grad_(True) for k, t in base.tensors.items()})
            with torch.no_grad():
                patch = patch_for(graph, batch, ablation, mean, sources=sources)
            logits = run(graph, batch.clean_ids, batch.attention_mask, positions=batch.positions, patch=patch, mask=m,
                         sources=sources)
            # sum over the batch / n: the gradients of all batches add up to that of the mean
            (metric_values(logits, batch, clean_logits=clean).sum() / n).backward()
            for k, t in m.tensors.items():
                total[k] += t.grad.float()  # a chunk's pass leaves the other sources' columns at zero
            del patch, logits, m
        if progress:
            progress(len(batch))
    return total
