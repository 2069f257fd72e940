"""Evaluate many edge masks on one task split, reusing the patch values.

Exact patching, ACDC and faithfulness curves run the same prompts under
hundreds of masks; the corrupted (or mean, or zero) source outputs and the
clean and corrupted metrics are computed once here and reused.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mechscope.graph import EdgeMask, Graph, run
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
        self.clean = torch.cat([metric_values(b.clean_logits, b.enc, clean_logits=b.clean_logits) for b in self.batches])
        self.corrupt = self.metric(EdgeMask.ones(graph))

    def logits(self, mask: EdgeMask) -> list[torch.Tensor]:
        with torch.no_grad():
            return [
                run(self.graph, b.enc.clean_ids, b.enc.attention_mask, patch=b.patch, mask=mask, positions=b.enc.positions)
                for b in self.batches
            ]

    def metric(self, mask: EdgeMask) -> torch.Tensor:
        return torch.cat([
            metric_values(lg, b.enc, clean_logits=b.clean_logits) for lg, b in zip(self.logits(mask), self.batches)
        ])

    def kl(self, mask: EdgeMask) -> torch.Tensor:
        out = []
        for lg, b in zip(self.logits(mask), self.batches):
            p = torch.log_softmax(b.clean_logits, -1)
            q = torch.log_softmax(lg, -1)
            out.append((p.exp() * (p - q)).sum(-1))
        return torch.cat(out)
