"""An in-process language model as explainer and simulator of units (no server, no download).

`LMSimulator` is Bills et al.'s "all at once" simulator: the model reads a
few-shot prompt, the description, and the held-out text one token per line
followed by a tab; its next-token probabilities over the digits 0-9 after each
tab give an expected activation for that token (scaled to 0-10). One forward
pass per text, the prompt and description computed once per description and
reused from the key-value cache for a batch of texts. `LMExplainer` shows the
model the top-activating texts with their hottest tokens marked and lets it
complete "fires on ..." greedily.

>>> from mechscope.models import load
>>> sim = LMSimulator(load("random:llama-tiny"))
>>> preds = sim.simulate_many("fires on the tokens ' cat'", [(" a", " cat"), (" dog",)])
>>> [len(p) for p in preds], all(0.0 <= v <= 10.0 for p in preds for v in p)
([2, 1], True)
"""

from __future__ import annotations

import copy
import inspect

import torch

from mechscope.describe.simulate import Record, _marked, baseline

_HEAD = (
    "A neuron in a language model reads a text one token per line. After each token, a tab and the neuron's "
    "activation on it, from 0 (silent) to 9 (strongest); most tokens are 0.\n\n"
)
_EXAMPLES = (
    ("fires on the tokens ' dog', ' cat' (words about animals)", [("My", 0), (" dog", 9), (" chased", 0),
                                                                  (" the", 0), (" cat", 8), (".", 0)]),
    ("fires on the first token of the text", [("Where", 9), (" is", 0), (" the", 0), (" station", 1), ("?", 0)]),
    ("fires on the tokens ' wedding', ' bride'", [("The", 0), (" bride", 9), (" wore", 1), (" white", 2),
                                                  (" at", 0), (" the", 0), (" wedding", 9)]),
)  # fmt: skip


def _line_token(token: str) -> str:
    return token.replace("\n", "\\n").replace("\t", "\\t")


class LMSimulator:
    """Expected activation 0-10 per token from a loaded model's digit probabilities after each token's tab."""

    name = "lm"

    def __init__(self, model, batch_size: int = 16):
        self.model, self.batch_size = model, batch_size
        tok = model.tokenizer
        self._digits = [tok.encode(str(d), add_special_tokens=False) for d in range(10)]
        if any(len(d) != 1 for d in self._digits):
            raise ValueError(f"{model.spec}: the digits 0-9 are not single tokens; this simulator needs them")
        self._digits = torch.tensor([d[0] for d in self._digits])
        self._tab, self._nl = self._enc("\t"), self._enc("\n")
        params = inspect.signature(model.hf.forward).parameters  # transformers 5 renames past_key_values
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    def _enc(self, text: str) -> list[int]:
        return self.model.tokenizer.encode(text, add_special_tokens=False)

    def prompt_ids(self, description: str) -> list[int]:
        """Instructions, the worked examples and ``Neuron: <description>``, as token ids."""
        ids = self._enc(_HEAD)
        for desc, rows in _EXAMPLES:
            ids += self._enc(f"Neuron: {desc}\n")
            for tok, act in rows:
                ids += self._enc(_line_token(tok)) + self._tab + self._enc(str(act)) + self._nl
            ids += self._nl
        return ids + self._enc(f"Neuron: {description.strip()}\n")

    def text_ids(self, tokens: tuple[str, ...]) -> tuple[list[int], list[int]]:
        """The text's lines (``token<TAB>`` then a newline, no number) and the positions of its tabs."""
        ids, where = [], []
        for t in tokens:
            ids += self._enc(_line_token(t)) + self._tab
            where.append(len(ids) - 1)
            ids += self._nl
        return ids, where

    def _expected(self, logits: torch.Tensor) -> list[float]:
        """Logits at tab positions, shape [n, vocab] -> expected digit on 0-10, shape [n]."""
        p = torch.softmax(logits[:, self._digits].float(), dim=-1)
        return (p @ torch.arange(10, dtype=torch.float32) * (10.0 / 9.0)).tolist()

    @torch.no_grad()
    def simulate_many(self, description: str, texts: list[tuple[str, ...]]) -> list[list[float]]:
        """Predictions for many texts under one description: the prompt once, then batches of texts."""
        hf, dev = self.model.hf, self.model.device
        prefix = torch.tensor([self.prompt_ids(description)], device=dev)
        cache = hf(prefix, use_cache=True).past_key_values
        out: list[list[float]] = [[] for _ in texts]
        todo = [i for i, t in enumerate(texts) if t]
        for s in range(0, len(todo), self.batch_size):
            chunk = todo[s : s + self.batch_size]
            enc = [self.text_ids(texts[i]) for i in chunk]
            width = max(len(ids) for ids, _ in enc)
            ids = torch.zeros(len(chunk), width, dtype=torch.long)
            mask = torch.zeros(len(chunk), prefix.shape[1] + width, dtype=torch.long)
            mask[:, : prefix.shape[1]] = 1
            for b, (row, _) in enumerate(enc):
                ids[b, : len(row)] = torch.tensor(row)
                mask[b, prefix.shape[1] : prefix.shape[1] + len(row)] = 1
            past = copy.deepcopy(cache)
            past.batch_repeat_interleave(len(chunk))
            logits = hf(ids.to(dev), attention_mask=mask.to(dev), use_cache=True, **{self._cache_kw: past}).logits
            for b, (i, (_, where)) in enumerate(zip(chunk, enc)):
                out[i] = self._expected(logits[b, where].cpu())
        return out

    def simulate(self, description: str, tokens: tuple[str, ...]) -> list[float]:
        """One text's predictions, shape [tokens]."""
        return self.simulate_many(description, [tokens])[0]


class LMExplainer:
    """A loaded chat model completes "fires on" after seeing the top texts with their hottest tokens marked."""

    name = "lm"

    def __init__(self, model, max_tokens: int = 40):
        self.model, self.max_tokens = model, max_tokens

    @torch.no_grad()
    def explain(self, top: list[Record], others: list[Record]) -> str:
        tok = self.model.tokenizer
        peak, base = max((r.max for r in top), default=0.0), baseline(top + others)
        lines = [
            "A neuron in a language model fires on some tokens. In each text, the tokens where it fires most "
            "are marked <<like this>>. Say in one short phrase which tokens or contexts make it fire.",
            "Example: 1. My <<dog>> chased the <<cat>>. 2. A <<horse>> ran.",
            "Answer: fires on the tokens 'dog', 'cat', 'horse' (words about animals)",
            "Now this neuron:",
        ]
        lines += [f"{i + 1}. {_marked(r, peak, base)}" for i, r in enumerate(top)]
        messages = [{"role": "user", "content": "\n".join(lines)}]
        start = "Answer: fires on"
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + start
        else:
            text = messages[0]["content"] + "\n" + start
        ids = torch.tensor([tok.encode(text, add_special_tokens=False)[-1800:]], device=self.model.device)
        gen = self.model.hf.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=self.max_tokens,
            do_sample=False,
            pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        )
        reply = tok.decode(gen[0, ids.shape[1] :], skip_special_tokens=True)
        first = reply.strip().splitlines()[0].strip() if reply.strip() else ""
        return "fires on " + first if first else "fires on no token in particular"
