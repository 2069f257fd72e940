"""Behaviour of a version against its base on one task, example by example.

One forward pass per batch of clean prompts gives both what the behaviour
comparison reads (next-token logits at the answer position, the task metric,
whether the answer wins) and the residual streams for the layer similarity.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mechscope.compare.similarity import capture_residuals
from mechscope.models import Model
from mechscope.tasks import EncodedTask, Task, metric_values
from mechscope.tasks.base import correct, next_token_logits


@dataclass(frozen=True, eq=False)
class Observation:
    """One model on one encoded task; every tensor float32 on the CPU.

    - logits: ``[n, vocab]`` next-token logits at each prompt's last token.
    - metric: ``[n]`` the task metric; correct: ``[n]`` bool, every answer beats every wrong answer.
    - residuals: ``[layers, tokens, d_model]`` residual stream after each layer at the real tokens.
    """

    logits: torch.Tensor
    metric: torch.Tensor
    correct: torch.Tensor
    residuals: torch.Tensor


def observe(model: Model, enc: EncodedTask, batch_size: int = 16, max_tokens: int | None = 4096) -> Observation:
    """Run `model` on the clean prompts of `enc` and keep what a comparison needs.

    `max_tokens` keeps the residual streams of the first that many real tokens.

    >>> from mechscope.models import load
    >>> from mechscope.tasks import load_task
    >>> model = load("random:llama-tiny")
    >>> obs = observe(model, load_task("ioi", n=4).encode(model.tokenizer))
    >>> obs.logits.shape[0], obs.residuals.shape[0]
    (4, 2)
    """
    logits, metric, right, streams = [], [], [], []
    with torch.no_grad():
        for b in enc.batches(batch_size):
            b = b.to(model.device)
            with capture_residuals(model, b.attention_mask) as captured:
                lg = next_token_logits(model.hf, b.clean_ids, b.attention_mask, b.positions).float()
            streams.append(captured[0])
            logits.append(lg.cpu())
            metric.append(metric_values(lg, b, clean_logits=lg).cpu())
            right.append(correct(lg, b)[0].cpu())
    residuals = torch.cat(streams, dim=1)
    if max_tokens is not None:
        residuals = residuals[:, :max_tokens].contiguous()
    return Observation(torch.cat(logits), torch.cat(metric), torch.cat(right), residuals)


def example_differences(base: Observation, other: Observation) -> dict[str, torch.Tensor]:
    """Per example: ``kl`` (KL(base || other), next token), ``top1_agree``, ``metric_change``, ``flip``.

    >>> obs = Observation(torch.tensor([[2.0, 0.0]]), torch.tensor([1.0]), torch.tensor([True]), torch.zeros(1, 1, 1))
    >>> {k: v.tolist() for k, v in example_differences(obs, obs).items()}
    {'kl': [0.0], 'top1_agree': [True], 'metric_change': [0.0], 'flip': [False]}
    """
    p = torch.log_softmax(base.logits.double(), -1)
    q = torch.log_softmax(other.logits.double(), -1)
    kl = (p.exp() * (p - q)).sum(-1).clamp(min=0.0).float()
    return {"kl": kl, "top1_agree": base.logits.argmax(-1) == other.logits.argmax(-1),
            "metric_change": other.metric - base.metric, "flip": base.correct != other.correct}


def behaviour_summary(task: Task, base: Observation, other: Observation, tokenizer=None, top: int = 5) -> dict:
    """Task metric, accuracy, agreement, KL and answer flips of `other` against `base`.

    `top_flips` lists the `top` examples that changed most: flipped answers first,
    then by the size of the metric change.
    """
    diff = example_differences(base, other)
    flips = diff["flip"]
    order = sorted(range(len(task)), key=lambda i: (not bool(flips[i]), -abs(float(diff["metric_change"][i]))))
    top_flips = []
    for i in order[:top]:
        ex = task.examples[i]
        entry = {"index": i, "prompt": ex.clean, "answer": ex.answers[0], "flipped": bool(flips[i]),
                 "base_metric": float(base.metric[i]), "metric": float(other.metric[i]),
                 "kl": float(diff["kl"][i])}
        if tokenizer is not None:
            entry["base_top"] = tokenizer.decode([int(base.logits[i].argmax())])
            entry["top"] = tokenizer.decode([int(other.logits[i].argmax())])
        top_flips.append(entry)
    return {
        "task_metric": float(other.metric.mean()),
        "base_task_metric": float(base.metric.mean()),
        "accuracy": float(other.correct.float().mean()),
        "base_accuracy": float(base.correct.float().mean()),
        "top1_agreement": float(diff["top1_agree"].float().mean()),
        "kl": float(diff["kl"].mean()),
        "kl_max": float(diff["kl"].max()),
        "flips": int(flips.sum()),
        "flips_to_wrong": int((flips & base.correct).sum()),
        "flips_to_right": int((flips & ~base.correct).sum()),
        "top_flips": top_flips,
    }


def example_rows(task: Task, base: Observation, other: Observation) -> list[dict]:
    """One row per example, for the comparison's per-example table."""
    diff = example_differences(base, other)
    return [{"example": i, "base_metric": float(base.metric[i]), "metric": float(other.metric[i]),
             "kl": float(diff["kl"][i]), "top1_agree": bool(diff["top1_agree"][i]),
             "base_correct": bool(base.correct[i]), "correct": bool(other.correct[i])} for i in range(len(task))]
