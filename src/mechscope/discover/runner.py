"""Evaluate many edge masks on one task split, reusing the patch values.

Exact patching, ACDC and faithfulness curves run the same prompts under
hundreds of masks; the corrupted (or mean, or zero) source outputs and the
clean and corrupted metrics are computed once here and reused.
"""

from __future__ import annotations

import contextlib
import hashlib
from contextvars import ContextVar
from dataclasses import dataclass

import torch

from mechscope.graph import EdgeMask, Graph, run
from mechscope.graph._forward import first_source
from mechscope.graph.engine import Upstream, run_many, upstream
from mechscope.tasks import EncodedTask, metric_values
from mechscope.tasks.patching import check_ablation, mean_source_outputs, patch_for


@dataclass
class _Batch:
    enc: EncodedTask
    patch: torch.Tensor  # [n_sources, B|1, S|1, D]
    clean_logits: torch.Tensor  # [B, vocab] at the answer positions


class PatchedRunner:
    """Runs `graph` on `enc` under any edge mask; per-example metric values.

    - `clean` and `corrupt`: ``[n_examples]`` metric with nothing / everything patched.
    - `metric(mask)`: ``[n_examples]`` task metric with `mask` applied.
    - `kl(mask)`: ``[n_examples]`` KL(clean || patched) of the next-token distribution.

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:gpt2-tiny"); graph = Graph.from_model(model)
    >>> runner = PatchedRunner(graph, load_task("ioi", n=4).encode(model.tokenizer))
    >>> bool(torch.allclose(runner.metric(EdgeMask.ones(graph)), runner.corrupt, atol=1e-4))
    True
    """

    def __init__(self, graph: Graph, enc: EncodedTask, ablation: str = "resample", batch_size: int = 16):
        self.graph, self.enc, self.ablation = graph, enc, check_ablation(ablation)
        mean = mean_source_outputs(graph, enc, batch_size) if ablation == "mean" else None
        self.batches: list[_Batch] = []
        with torch.no_grad():
            for b in enc.batches(batch_size):
                clean = run(graph, b.clean_ids, b.attention_mask, positions=b.positions)
                self.batches.append(_Batch(b, patch_for(graph, b, ablation, mean), clean))
        self._memo: dict[str, torch.Tensor] = {}
        self.clean = torch.cat([metric_values(b.clean_logits, b.enc, clean_logits=b.clean_logits) for b in self.batches])
        self.corrupt = self._computed(EdgeMask.ones(graph))

    def logits(self, mask: EdgeMask) -> list[torch.Tensor]:
        with torch.no_grad():
            return [
                run(self.graph, b.enc.clean_ids, b.enc.attention_mask, patch=b.patch, mask=mask, positions=b.enc.positions)
                for b in self.batches
            ]

    def metric(self, mask: EdgeMask) -> torch.Tensor:
        """``[n_examples]`` task metric under `mask`.

        Two masks need no forward pass: nothing patched is the clean run and everything patched the
        corrupted one (both computed at construction), and the last few masks' values are kept, so a
        faithfulness curve and the circuit chosen from it never run one mask twice.
        """
        state = _mask_state(mask)
        if state == "zeros":
            return self.clean
        if state == "ones":
            return self.corrupt
        key = _mask_digest(mask)
        if key not in self._memo:
            if len(self._memo) >= _MEMO:
                self._memo.pop(next(iter(self._memo)))
            self._memo[key] = self._computed(mask)
        return self._memo[key]

    def _computed(self, mask: EdgeMask) -> torch.Tensor:
        return torch.cat([
            metric_values(lg, b.enc, clean_logits=b.clean_logits) for lg, b in zip(self.logits(mask), self.batches)
        ])

    def kl(self, mask: EdgeMask) -> torch.Tensor:
        if _mask_state(mask) == "zeros":  # the clean run itself
            return torch.zeros_like(self.clean)
        out = []
        for lg, b in zip(self.logits(mask), self.batches):
            p = torch.log_softmax(b.clean_logits, -1)
            q = torch.log_softmax(lg, -1)
            out.append((p.exp() * (p - q)).sum(-1))
        return torch.cat(out)


    # many masks in one pass ------------------------------------------------
    def upstream(self, base: EdgeMask, layer: int) -> list[Upstream | None]:
        """Per batch, `base`'s patched pass up to the input of `layer`, for `many` to start there."""
        return [upstream(self.graph, b.enc.clean_ids, b.enc.attention_mask, patch=b.patch, base=base, layer=layer)
                for b in self.batches]

    def tiles(self, layer: int, most: int) -> int:
        """How many masks `many` runs at once from `layer` on: at most `most`, within `MANY_MEMORY`
        (the difference buffer of the sources from `layer` on, and the logits, per copy of the prompts)."""
        b = max(len(x.enc) for x in self.batches)
        s = max(x.enc.clean_ids.shape[1] for x in self.batches)
        d, vocab = self.graph.adapter.d_model, self.batches[0].clean_logits.shape[-1]
        rows = self.graph.n_sources - first_source(self.graph.adapter, layer) + 8  # + the layer's own activations
        per_copy = 4 * b * (rows * s * d + 3 * vocab)
        return max(1, min(most, MANY_MEMORY // per_copy))

    def many(self, masks: list[EdgeMask], *, base: EdgeMask | None = None, start: list[Upstream | None] | None = None,
             kind: str = "metric") -> torch.Tensor:
        """``[K, n_examples]``: the task metric (``kind="metric"``) or the KL from the clean run (``"kl"``)
        under each of K masks, all K in one forward pass per batch (`mechscope.graph.engine.run_many`).

        Equal to `metric` / `kl` of each mask up to float rounding. `start` (from `upstream` of `base`)
        skips the layers below its layer: every mask must equal `base` there.

        >>> from mechscope.models import load
        >>> from mechscope.tasks import load_task
        >>> model = load("random:gpt2-tiny"); graph = Graph.from_model(model)
        >>> runner = PatchedRunner(graph, load_task("ioi", n=4).encode(model.tokenizer))
        >>> masks = [EdgeMask.from_edges(graph, [e]) for e in ["a0.h1->logits", "a1.h2->logits"]]
        >>> values = runner.many(masks, base=EdgeMask.zeros(graph), start=runner.upstream(EdgeMask.zeros(graph), 2))
        >>> bool(torch.allclose(values[1], runner.metric(masks[1]), atol=1e-5))
        True
        """
        out = []
        with torch.no_grad():
            for i, b in enumerate(self.batches):
                lg = run_many(self.graph, b.enc.clean_ids, b.enc.attention_mask, patch=b.patch, masks=masks,
                              base=base, positions=b.enc.positions, start=None if start is None else start[i])
                if kind == "kl":
                    p = torch.log_softmax(b.clean_logits, -1)
                    q = torch.log_softmax(lg, -1)
                    out.append((p.exp() * (p - q)).sum(-1))
                else:
                    out.append(torch.stack([metric_values(x, b.enc, clean_logits=b.clean_logits) for x in lg]))
        return torch.cat(out, 1)


_MEMO = 4  # masks whose metric values a runner keeps
MANY_MEMORY = 512 * 2**20  # bytes `PatchedRunner.many` plans one batched pass for


def _mask_state(mask: EdgeMask) -> str | None:
    """"zeros" (nothing patched), "ones" (everything) or None."""
    with torch.no_grad():
        if all(not bool(t.any()) for t in mask.tensors.values()):
            return "zeros"
        if all(bool((t == 1).all()) for t in mask.tensors.values()):
            return "ones"
    return None


def _mask_digest(mask: EdgeMask) -> str:
    h = hashlib.sha1()
    for name in sorted(mask.tensors):
        t = mask.tensors[name].detach().to("cpu", torch.float32).contiguous()
        h.update(name.encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


_SHARED: ContextVar[dict | None] = ContextVar("mechscope_shared_runners", default=None)


@contextlib.contextmanager
def shared_runners():
    """Within this block, the runners that circuit evaluation builds (`split_runner`) are built once per
    graph, prompts, ablation and batch size, and kept to the block's end: finding a circuit and then
    evaluating one on the same model and split runs the clean and corrupted passes once (and a circuit
    evaluated twice, once). The numbers are those of fresh runners.

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> graph = Graph.from_model(load("random:gpt2-tiny")); task = load_task("ioi", n=4)
    >>> with shared_runners():
    ...     split_runner(graph, task, "resample", 16) is split_runner(graph, task, "resample", 16)
    True
    >>> split_runner(graph, task, "resample", 16) is split_runner(graph, task, "resample", 16)
    False
    """
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def split_runner(graph: Graph, part, ablation: str, batch_size: int, bos_token_id: int | None = None, *,
                 make=None) -> PatchedRunner:
    """A runner on task `part` (a `Task`, e.g. its test split), BOS first if `bos_token_id`, built by
    `make` (default `PatchedRunner`); shared within `shared_runners`."""
    def build() -> PatchedRunner:
        enc = part.encode(graph.model.tokenizer)
        return (make or PatchedRunner)(graph, enc if bos_token_id is None else enc.with_bos(bos_token_id), ablation,
                                       batch_size)

    cache = _SHARED.get()
    if cache is None:
        return build()
    key = (id(graph), part.hash(), bos_token_id, ablation, batch_size)
    if key not in cache:
        cache[key] = (graph, build())  # the graph is held too, so that its id stays its own
    return cache[key][1]
