"""Conditioned training data for learned steering, written by the model itself from the concept's sentences.

AxBench trains its representation methods on instruction-response pairs: a response that carries the
concept and one that does not, to the same instruction. mechscope has no instruction set or external
LLM, so it builds the pairs from the two sets of sentences a concept already has (nothing else, so a
concept the user brings works the same way):

- the prompts are the first `prompt_words` words of each source sentence ("The train leaves");
- the *primed* continuation is what the model writes after that prompt when a few target sentences
  (`n_shots`, drawn at random for each prompt) stand before it, one a line: in-context examples of
  the concept, the offline stand-in for an instruction;
- the *plain* continuation is what the model writes after the prompt alone.

Both are sampled (temperature 0.8, top-p 0.95) and stop at the end of their line. Not every primed
continuation carries the concept (the model often just finishes the sentence), so with `samples` > 1
several are drawn per prompt (each with its own examples) and with `keep` < 1 only the share whose
likelihood the examples raised most is kept: the *context gain*, the mean token log-probability of the
continuation after examples and prompt minus that after the prompt alone. It needs nothing but the
model and the sentences (no lexicon, no judge). A steering edit
trained to make the primed continuation likely after the bare prompt (`objective="lm"`), or more
likely than the plain one (`objective="preference"`), learns to do what the in-context examples do.
"""

from __future__ import annotations

import math

import torch

from mechscope.errors import MechscopeError
from mechscope.steer.generate import generate


def prompt_heads(sentences: list[str], prompt_words: int = 3) -> list[str]:
    """The first `prompt_words` words of each sentence that has more, without repeats, in order.

    >>> prompt_heads(["The train leaves at eight.", "The train leaves early.", "Hi."], 3)
    ['The train leaves']
    """
    seen: dict[str, None] = {}
    for s in sentences:
        words = s.split()
        if len(words) > prompt_words:
            seen.setdefault(" ".join(words[:prompt_words]), None)
    return list(seen)


def primed_pairs(model, source: list[str], target: list[str], n_shots: int = 8, prompt_words: int = 3,
                 new_tokens: int = 24, seed: int = 0, samples: int = 1,
                 keep: float = 1.0) -> tuple[list[str], list[str], list[str]]:
    """``(prompts, primed, plain)``: per source-sentence head, `samples` primed continuations and the plain one,
    the share `keep` of them with the largest context gain kept (in order; a prompt repeats once per sample kept).

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> p, a, b = primed_pairs(m, ["the cat sat on the mat"], ["a wedding day"], new_tokens=3)
    >>> p, len(a), len(b)
    (['the cat sat'], 1, 1)
    >>> p, a, b = primed_pairs(m, ["the cat sat on the mat", "a dog ran to the park"], ["a wedding day"],
    ...                        new_tokens=3, samples=2, keep=0.5)
    >>> len(p), len(a), len(b)
    (2, 2, 2)
    """
    if samples < 1 or not 0 < keep <= 1:
        raise MechscopeError(f"primed data needs samples >= 1 and keep in (0, 1]; got samples {samples}, keep {keep:g}")
    heads = prompt_heads(source, prompt_words)
    if not heads:
        raise MechscopeError(f"no source sentence has more than {prompt_words} words to make a prompt from; "
                             "give longer source sentences")
    gen = torch.Generator().manual_seed(seed)
    shots = min(n_shots, len(target))
    prompts = [h for h in heads for _ in range(samples)]
    contexts = []
    for _ in prompts:
        idx = torch.randperm(len(target), generator=gen)[:shots].tolist()
        contexts.append("".join(target[i].strip() + "\n" for i in idx))
    primed = generate(model, [c + p for c, p in zip(contexts, prompts)], max_new_tokens=new_tokens, seed=seed,
                      stop_at_newline=True, batch_size=16)
    plain_once = generate(model, heads, max_new_tokens=new_tokens, seed=seed, stop_at_newline=True, batch_size=16)
    plain = [b for b in plain_once for _ in range(samples)]
    keep_rows = [i for i, (a, b) in enumerate(zip(primed, plain)) if a.strip() and b.strip()]
    if not keep_rows:
        raise MechscopeError("the model wrote no text after any prompt; give longer source sentences")
    if keep < 1:
        rows = keep_rows
        gain = (_mean_logprob(model, [contexts[i] + prompts[i] for i in rows], [primed[i] for i in rows])
                - _mean_logprob(model, [prompts[i] for i in rows], [primed[i] for i in rows]))
        n = max(1, math.ceil(keep * len(rows)))
        best = set(gain.argsort(descending=True)[:n].tolist())
        keep_rows = [r for j, r in enumerate(rows) if j in best]
    return ([prompts[i] for i in keep_rows], [primed[i].rstrip("\n") for i in keep_rows],
            [plain[i].rstrip("\n") for i in keep_rows])


@torch.no_grad()
def _mean_logprob(model, prompts: list[str], continuations: list[str], batch_size: int = 16) -> torch.Tensor:
    """Mean token log-probability ``[n]`` of each continuation after its prompt, unsteered."""
    out = []
    for i in range(0, len(prompts), batch_size):
        ids, mask, pos, scored = continuation_batch(model, prompts[i:i + batch_size],
                                                    continuations[i:i + batch_size])
        logits = model.hf(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False).logits.float()
        out.append(mean_token_logprob(logits, ids, scored).cpu())
    return torch.cat(out)


def mean_token_logprob(logits: torch.Tensor, ids: torch.Tensor, scored: torch.Tensor) -> torch.Tensor:
    """Mean log-probability ``[batch]`` of the tokens marked in `scored` ``[batch, seq]`` (bool), each predicted
    from the position before it; `logits` ``[batch, seq, vocab]`` (float32), `ids` ``[batch, seq]``.

    >>> logits = torch.zeros(1, 3, 4)  # uniform over 4 tokens
    >>> float(mean_token_logprob(logits, torch.tensor([[0, 1, 2]]), torch.tensor([[False, True, True]])))
    -1.3862943649291992
    """
    lp = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    m = scored[:, 1:].to(lp.dtype)
    return (lp * m).sum(-1) / m.sum(-1).clamp(min=1)


def continuation_batch(model, prompts: list[str], continuations: list[str]):
    """Right-padded ``(input_ids, attention_mask, position_ids, scored)``, each ``[batch, seq]``.

    A row is the prompt's tokens (with the tokenizer's special tokens) then the continuation's;
    `scored` marks the columns whose token is a continuation token (predicted from the column before).

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> ids, mask, pos, scored = continuation_batch(m, ["a b"], [" c d"])
    >>> int(scored.sum()) == len(m.tokenizer(" c d", add_special_tokens=False).input_ids)
    True
    """
    tok = model.tokenizer
    rows, spans = [], []
    for p, c in zip(prompts, continuations):
        head = tok(p, add_special_tokens=True).input_ids
        tail = tok(c, add_special_tokens=False).input_ids
        rows.append(head + tail)
        spans.append((len(head), len(head) + len(tail)))
    width = max(len(r) for r in rows)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    scored = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (r, (a, b)) in enumerate(zip(rows, spans)):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
        scored[i, a:b] = True
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    dev = model.device
    return ids.to(dev), mask.to(dev), pos.to(dev), scored.to(dev)
