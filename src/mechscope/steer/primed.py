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

Both are sampled (temperature 0.8, top-p 0.95) and stop at the end of their line. A steering edit
trained to make the primed continuation likely after the bare prompt (`objective="lm"`), or more
likely than the plain one (`objective="preference"`), learns to do what the in-context examples do.
"""

from __future__ import annotations

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
                 new_tokens: int = 24, seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    """``(prompts, primed, plain)``: one prompt per source-sentence head and its two continuations.

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> p, a, b = primed_pairs(m, ["the cat sat on the mat"], ["a wedding day"], new_tokens=3)
    >>> p, len(a), len(b)
    (['the cat sat'], 1, 1)
    """
    prompts = prompt_heads(source, prompt_words)
    if not prompts:
        raise MechscopeError(f"no source sentence has more than {prompt_words} words to make a prompt from; "
                             "give longer source sentences")
    gen = torch.Generator().manual_seed(seed)
    shots = min(n_shots, len(target))
    contexts = []
    for _ in prompts:
        idx = torch.randperm(len(target), generator=gen)[:shots].tolist()
        contexts.append("".join(target[i].strip() + "\n" for i in idx))
    primed = generate(model, [c + p for c, p in zip(contexts, prompts)], max_new_tokens=new_tokens, seed=seed,
                      stop_at_newline=True, batch_size=16)
    plain = generate(model, prompts, max_new_tokens=new_tokens, seed=seed, stop_at_newline=True, batch_size=16)
    keep = [i for i, (a, b) in enumerate(zip(primed, plain)) if a.strip() and b.strip()]
    if not keep:
        raise MechscopeError("the model wrote no text after any prompt; give longer source sentences")
    return ([prompts[i] for i in keep], [primed[i].rstrip("\n") for i in keep], [plain[i].rstrip("\n") for i in keep])


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
