"""Generation with or without steering: left-padded batches, a KV cache, a seeded sampler."""

from __future__ import annotations

import inspect
from contextlib import nullcontext

import torch

from mechscope.steer.activations import encode


def cache_kwarg(hf) -> str:
    """The name a Hugging Face model's forward takes its KV cache under: `cache` (transformers 5.x) or
    `past_key_values` (4.x); its output carries the cache under the same name."""
    return "cache" if "cache" in inspect.signature(hf.forward).parameters else "past_key_values"


def sample_next(logits: torch.Tensor, generator: torch.Generator | None, temperature: float,
                top_p: float, top_k: int = 50) -> torch.Tensor:
    """Next token ids ``[batch]`` from logits ``[batch, vocab]``.

    Greedy if temperature is 0; else sampling at `temperature` from the `top_k`
    most likely tokens, cut to the smallest set whose mass reaches `top_p`
    (Hugging Face's order of the same filters; top_k=0 keeps the whole vocabulary).

    >>> sample_next(torch.tensor([[0.0, 3.0, 1.0]]), None, 0.0, 1.0).tolist()
    [1]
    """
    if temperature <= 0:
        return logits.argmax(-1)
    logits = logits.float() / temperature
    if 0 < top_k < logits.shape[-1]:
        values, order = logits.topk(top_k, -1)  # sorted, descending
    else:
        values, order = logits.sort(-1, descending=True)
    probs = torch.softmax(values, -1)
    if top_p < 1.0:
        drop = probs.cumsum(-1) - probs > top_p  # keep the smallest prefix whose mass reaches top_p
        probs = probs.masked_fill(drop, 0.0)
    pick = torch.multinomial(probs, 1, generator=generator)
    return order.gather(-1, pick).squeeze(-1)


def _newline_tokens(tokenizer, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Two bools per vocabulary id ``[vocab]``: does the token's text hold a line break, and any other text?"""
    key = (id(tokenizer), str(device))
    if key not in _NEWLINE_CACHE:
        texts = [tokenizer.convert_tokens_to_string([t]) if t is not None else ""
                 for t in tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))]
        _NEWLINE_CACHE[key] = (torch.tensor(["\n" in t for t in texts], dtype=torch.bool, device=device),
                               torch.tensor([bool(t.strip()) for t in texts], dtype=torch.bool, device=device))
    return _NEWLINE_CACHE[key]


_NEWLINE_CACHE: dict = {}


@torch.no_grad()
def generate(model, prompts: list[str], steering=None, strength: float | None = None, max_new_tokens: int = 30,
             seed: int = 0, temperature: float = 0.8, top_p: float = 0.95, top_k: int = 50, use_cache: bool = True,
             positions: str = "all", batch_size: int = 64, prefix: str = "", strict: bool = True,
             return_logits: bool = False, stop_at_newline: bool = False):
    """Continue each prompt; returns the continuations (prompt not included), one string per prompt.

    `steering` is a `SteeringFile`, a fitted `SteeringMethod` or None.
    `prefix` is put before every prompt (the prompting baseline). Prompts are
    left-padded with position ids that skip the padding. With
    ``return_logits=True`` also returns the next-token logits of every step,
    ``[batch, steps, vocab]`` per batch. With ``stop_at_newline=True`` a row stops at the first line
    break after some text (line breaks before any text do not count).

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> a = generate(m, ["Hello there"], max_new_tokens=4, seed=1)
    >>> a == generate(m, ["Hello there"], max_new_tokens=4, seed=1, use_cache=False)
    True
    """
    texts: list[str] = []
    all_logits = []
    generator = torch.Generator(device=model.device).manual_seed(seed)
    eos = model.tokenizer.eos_token_id
    newline, text = _newline_tokens(model.tokenizer, model.device) if stop_at_newline else (None, None)
    for start in range(0, len(prompts), batch_size):
        chunk = [prefix + p for p in prompts[start:start + batch_size]]
        enc = encode(model, chunk, padding_side="left")
        ids, mask, pos = enc.input_ids, enc.attention_mask, enc.position_ids
        prompt_length = ids.shape[1]
        ctx = (steering.apply(model, strength, positions=positions, strict=strict, prompt_length=prompt_length)
               if steering is not None else nullcontext())
        new_tokens, step_logits = [], []
        finished = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
        started = torch.zeros_like(finished)  # has the row produced any text yet?
        cache, cache_kw = None, cache_kwarg(model.hf)
        with ctx:
            cur_ids, cur_pos = ids, pos
            for _ in range(max_new_tokens):
                if use_cache:
                    out = model.hf(input_ids=cur_ids, attention_mask=mask, position_ids=cur_pos,
                                   use_cache=True, **{cache_kw: cache})
                    cache = out[cache_kw]
                else:
                    out = model.hf(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False)
                logits = out.logits[:, -1].float()
                if return_logits:
                    step_logits.append(logits)
                nxt = sample_next(logits, generator, temperature, top_p, top_k)
                if eos is not None:
                    nxt = torch.where(finished, torch.full_like(nxt, eos), nxt)
                    finished |= nxt == eos
                if newline is not None:
                    started |= text[nxt]
                    finished |= newline[nxt] & started  # the line break is kept; the row stops after it
                new_tokens.append(nxt)
                cur_ids = nxt[:, None]
                cur_pos = pos[:, -1:] + 1
                ids = torch.cat([ids, cur_ids], 1)
                pos = torch.cat([pos, cur_pos], 1)
                mask = torch.cat([mask, torch.ones_like(cur_ids, dtype=mask.dtype)], 1)
                if bool(finished.all()):
                    break
        tokens = torch.stack(new_tokens, 1)
        texts.extend(model.tokenizer.batch_decode(tokens, skip_special_tokens=True))
        if return_logits:
            all_logits.append(torch.stack(step_logits, 1))
    return (texts, all_logits) if return_logits else texts
