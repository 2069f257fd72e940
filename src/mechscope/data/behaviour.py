"""Behaviour on the map: run the model on every prompt and score what it does.

A scorer is a name or a function ``list[str] -> list[float]``:

- ``lexicon``, ``vader``, ``toxicity``: the steering scorers (`mechscope.steer.scoring`) applied to the
  model's answers (greedy, `max_new_tokens`, through the chat template when the tokenizer has one);
- ``task``: for a prompt set read from a task file, the task's metric per example (no generation);
- ``module:function``: a user function, imported by name, applied to the answers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mechscope.errors import MechscopeError

SCORERS = ("lexicon", "vader", "toxicity", "task")


@dataclass(frozen=True)
class Behaviour:
    """Per-prompt scores ``[n]`` and answers (empty for ``task``), with the scorer and model that made them."""

    scorer: str
    model: str
    scores: np.ndarray
    answers: list[str]
    max_new_tokens: int


def resolve_scorer(score: str | Callable, lexicon: list[str] | None = None) -> tuple[str, Callable | None]:
    """(name, function) for a scorer name, ``module:function`` or a callable (None for ``task``).

    >>> name, f = resolve_scorer("lexicon", ["cat*"])
    >>> name, f(["my cats", "a dog"])
    ('lexicon', [1.0, 0.0])
    """
    from mechscope.steer.scoring import lexicon_scores, toxicity_scores, vader_scores

    if callable(score):
        return getattr(score, "__name__", "function"), score
    if score == "task":
        return "task", None
    if score == "lexicon":
        if not lexicon:
            raise MechscopeError("scorer 'lexicon' needs words; pass --lexicon 'word1,word2*' (a * matches any "
                                 "ending)")
        return "lexicon", lambda texts: lexicon_scores(texts, lexicon)
    if score == "vader":
        return "vader", vader_scores
    if score == "toxicity":
        return "toxicity", toxicity_scores
    module, sep, name = score.partition(":")
    if sep and module and name:
        try:
            fn = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise MechscopeError(f"scorer {score!r} cannot be imported ({exc}); give module:function of a "
                                 "function list[str] -> list[float] on the Python path") from None
        return score, fn
    raise MechscopeError(f"unknown scorer {score!r}; use {', '.join(SCORERS)} or module:function")


def chat_prompts(model, prompts: list[str]) -> list[str]:
    """Each prompt as a user turn of the model's chat template (unchanged when it has none)."""
    tok = model.tokenizer
    if not getattr(tok, "chat_template", None):
        return list(prompts)
    return [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
            for p in prompts]


def score_prompts(model, prompts, score: str | Callable = "vader", lexicon: list[str] | None = None,
                  max_new_tokens: int = 20, batch_size: int = 32, progress=None) -> Behaviour:
    """Run `model` on every prompt of a `PromptSet` and score it (see the module's list of scorers).

    >>> from mechscope.models import load
    >>> from mechscope.data.prompts import PromptSet
    >>> b = score_prompts(load("random:llama-tiny"), PromptSet.from_texts(["Hi", "Hello"]), "toxicity",
    ...                   max_new_tokens=3)
    >>> b.scores.shape, len(b.answers)
    ((2,), 2)
    """
    from mechscope.steer.generate import generate

    name, fn = resolve_scorer(score, lexicon)
    if name == "task":
        return Behaviour("task", model.spec, _task_metric(model, prompts), [], 0)
    texts = chat_prompts(model, prompts.texts)
    answers: list[str] = []
    for start in range(0, len(texts), batch_size):
        answers += generate(model, texts[start:start + batch_size], max_new_tokens=max_new_tokens, temperature=0.0,
                            batch_size=batch_size)
        if progress:
            progress("running the model", min(start + batch_size, len(texts)), len(texts))
    values = np.asarray(fn(answers), dtype=float)
    if values.shape != (len(answers),):
        raise MechscopeError(f"scorer {name!r} returned {values.shape[0] if values.ndim else 'no'} scores for "
                             f"{len(answers)} answers; it must return one float per text")
    return Behaviour(name, model.spec, values, [a.strip() for a in answers], max_new_tokens)


def _task_metric(model, prompts) -> np.ndarray:
    import torch

    from mechscope.tasks import metric_values
    from mechscope.tasks.base import next_token_logits

    task = prompts.task
    if task is None or prompts.n_empty:
        raise MechscopeError("scorer 'task' needs a prompt set read from a task file (every clean prompt "
                             "non-empty); use lexicon, vader, toxicity or module:function here")
    enc = task.encode(model.tokenizer, device=model.device)
    values = []
    with torch.no_grad():
        for b in enc.batches(32):
            logits = next_token_logits(model.hf, b.clean_ids, b.attention_mask, b.positions)
            values.append(metric_values(logits, b, clean_logits=logits))
    return torch.cat(values).float().cpu().numpy().astype(float)
