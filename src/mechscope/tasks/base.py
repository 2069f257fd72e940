"""Tasks: a behaviour as clean prompts, corrupted prompts, answers and a metric.

A `Task` holds strings only, so it is independent of any tokenizer; `Task.encode`
turns it into token tensors for one tokenizer (`EncodedTask`), checking there that
every answer is one token and that each clean prompt and its corrupted partner
have the same token length (patching swaps activations position by position).

>>> ex = Example("When Mary met John, John thanked", "When Anna met Jim, Tom thanked", " Mary", " John")
>>> Task("toy", (ex,))  # doctest: +ELLIPSIS
Task('toy', n=1, metric='logit_diff', hash=...)
"""

from __future__ import annotations

import hashlib
import inspect
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from mechscope.errors import MechscopeError, closest

METRICS = ("logit_diff", "prob_diff", "logprob", "kl")
SPLITS = ("train", "test", "all")


def check_metric(metric: str) -> str:
    """Return `metric` if it is one of `METRICS`, else raise a one-line error.

    >>> check_metric("prob_diff")
    'prob_diff'
    """
    if metric not in METRICS:
        raise MechscopeError(
            f"unknown metric {metric!r}{closest(metric, METRICS)}; metrics are {', '.join(METRICS)}"
        )
    return metric


@dataclass(frozen=True)
class Example:
    """One clean prompt, its corrupted partner, and the tokens that should (not) come next.

    Answers are the text of one token each, with the leading space the tokenizer
    puts on a word (" Mary", not "Mary"). Lists and single strings are turned into
    tuples so examples hash and compare by value.

    >>> Example("A B A", "C B A", " B", [" C"]).answers
    (' B',)
    """

    clean: str
    corrupt: str
    answers: tuple[str, ...]
    wrong_answers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("answers", "wrong_answers"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))

    def to_dict(self) -> dict:
        return {"clean": self.clean, "corrupt": self.corrupt,
                "answers": list(self.answers), "wrong_answers": list(self.wrong_answers)}


@dataclass(frozen=True, eq=False)
class Task:
    """A behaviour: examples, the metric that scores them, and a seeded train/test split.

    - metric: ``logit_diff`` (mean answer logit minus mean wrong-answer logit),
      ``prob_diff`` (summed answer probability minus summed wrong probability),
      ``logprob`` (mean answer log-probability) or ``kl`` (KL from the clean
      distribution; see `metric_values`).
    - part: which part of a split this is ("all", "train" or "test").

    >>> ex = [Example(f"x{i} y", f"z{i} y", " a", " b") for i in range(10)]
    >>> task = Task("toy", tuple(ex))
    >>> len(task.split("train")), len(task.split("test"))
    (5, 5)
    """

    name: str
    examples: tuple[Example, ...]
    metric: str = "logit_diff"
    source: str = ""
    seed: int = 0
    test_fraction: float = 0.5
    part: str = "all"

    def __post_init__(self) -> None:
        object.__setattr__(self, "examples", tuple(self.examples))
        check_metric(self.metric)
        if not self.examples:
            raise MechscopeError(f"task {self.name!r} has no examples; give it at least one Example")
        if not 0.0 <= self.test_fraction <= 1.0:
            raise MechscopeError(
                f"task {self.name!r}: test_fraction must be in [0, 1], got {self.test_fraction}; e.g. use 0.5"
            )
        for i, ex in enumerate(self.examples):
            if not ex.answers or not all(ex.answers) or not all(ex.wrong_answers):
                raise MechscopeError(
                    f"task {self.name!r} example {i}: answers {list(ex.answers)} and wrong answers "
                    f"{list(ex.wrong_answers)} must be non-empty strings, at least one answer; e.g. [' Mary']"
                )
            if self.metric in ("logit_diff", "prob_diff") and not ex.wrong_answers:
                raise MechscopeError(
                    f"task {self.name!r} example {i} has no wrong answers, but metric {self.metric!r} compares "
                    "answers with wrong answers; add wrong_answers or use metric 'logprob' or 'kl'"
                )

    def __len__(self) -> int:
        return len(self.examples)

    def __repr__(self) -> str:
        part = "" if self.part == "all" else f", part={self.part!r}"
        return f"Task({self.name!r}, n={len(self)}, metric={self.metric!r}{part}, hash={self.hash()})"

    def hash(self) -> str:
        """A short stable hash of the examples and the metric (not of name or source), for provenance.

        >>> Task("a", (Example("p", "q", " x", " y"),)).hash() == Task("b", (Example("p", "q", " x", " y"),)).hash()
        True
        """
        payload = json.dumps([self.metric, [ex.to_dict() for ex in self.examples]], ensure_ascii=False)
        return hashlib.blake2b(payload.encode(), digest_size=6).hexdigest()

    def split(self, which: str) -> Task:
        """The "train" or "test" part (disjoint, fixed by `seed`), or "all" (this task).

        A seeded shuffle picks ``round(n * test_fraction)`` test examples (at
        least one of each part when n >= 2); each part keeps the original order.

        >>> ex = tuple(Example(f"p{i}", f"q{i}", " x", " y") for i in range(4))
        >>> [e.clean for e in Task("toy", ex).split("test").examples]
        ['p0', 'p2']
        """
        if which not in SPLITS:
            raise MechscopeError(f"unknown split {which!r}{closest(which, SPLITS)}; use 'train', 'test' or 'all'")
        if which == "all" or which == self.part:
            return self
        if self.part != "all":
            raise MechscopeError(
                f"task {self.name!r} is already the {self.part!r} part; call split({which!r}) on the full task"
            )
        n = len(self.examples)
        n_test = round(n * self.test_fraction)
        if n >= 2 and 0.0 < self.test_fraction < 1.0:
            n_test = min(max(n_test, 1), n - 1)  # both parts non-empty: a method needs data to fit and to test
        order = list(range(n))
        random.Random(self.seed).shuffle(order)
        chosen = sorted(order[:n_test] if which == "test" else order[n_test:])
        if not chosen:
            raise MechscopeError(
                f"task {self.name!r}: the {which!r} part of {n} examples with test_fraction={self.test_fraction} "
                "is empty; use more examples or a test_fraction between 0 and 1"
            )
        return Task(self.name, tuple(self.examples[i] for i in chosen), self.metric, self.source,
                    self.seed, self.test_fraction, part=which)

    def encode(self, tokenizer, device: torch.device | str | None = None) -> EncodedTask:
        """Tokenize for one tokenizer: right-padded ids, last-token positions, answer ids.

        >>> from mechscope.models.loading import smollm2_tokenizer
        >>> enc = Task("toy", (Example("The cat sat on the", "The dog sat on the", " mat", " hat"),)).encode(
        ...     smollm2_tokenizer())
        >>> enc.clean_ids.shape == enc.corrupt_ids.shape, enc.positions.tolist()
        (True, [4])
        """
        clean = _tokenize([ex.clean for ex in self.examples], tokenizer)
        corrupt = _tokenize([ex.corrupt for ex in self.examples], tokenizer)
        for i, (c, k) in enumerate(zip(clean, corrupt)):
            if len(c) != len(k):
                raise MechscopeError(
                    f"task {self.name!r} example {i}: clean prompt is {len(c)} tokens but corrupt prompt is "
                    f"{len(k)} tokens for this tokenizer; clean and corrupt must have the same token length "
                    f"— reword the corrupt prompt {self.examples[i].corrupt!r} to {len(c)} tokens"
                )
            if not c:
                raise MechscopeError(f"task {self.name!r} example {i}: the clean prompt is empty; give it text")
        lengths = torch.tensor([len(c) for c in clean])
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        clean_ids, corrupt_ids = _pad_rows(clean, pad), _pad_rows(corrupt, pad)
        attention_mask = (torch.arange(clean_ids.shape[1])[None, :] < lengths[:, None]).long()
        ids = _AnswerIds(self.name, tokenizer)
        answer_ids = _pad_rows([[ids(a, i, ex.clean, "answer") for a in ex.answers]
                                for i, ex in enumerate(self.examples)])
        wrong_ids = _pad_rows([[ids(w, i, ex.clean, "wrong answer") for w in ex.wrong_answers]
                               for i, ex in enumerate(self.examples)])
        device = torch.device(device) if device is not None else torch.device("cpu")
        return EncodedTask(clean_ids.to(device), corrupt_ids.to(device), attention_mask.to(device),
                           (lengths - 1).to(device), answer_ids.to(device), wrong_ids.to(device),
                           self.metric, self.name, self.hash())

    def to_dict(self) -> dict:
        return {"name": self.name, "metric": self.metric, "source": self.source, "seed": self.seed,
                "test_fraction": self.test_fraction, "part": self.part,
                "examples": [ex.to_dict() for ex in self.examples]}

    @classmethod
    def from_dict(cls, d: dict) -> Task:
        """Inverse of `to_dict`.

        >>> t = Task("toy", (Example("p", "q", " x", " y"),), metric="prob_diff")
        >>> Task.from_dict(t.to_dict()).hash() == t.hash()
        True
        """
        examples = tuple(Example(e["clean"], e["corrupt"], e["answers"], e.get("wrong_answers", ()))
                         for e in d["examples"])
        return cls(**{**d, "examples": examples})


def _tokenize(texts: list[str], tokenizer) -> list[list[int]]:
    # add_special_tokens keeps the tokenizer's own habit: BOS for Llama-2-style tokenizers, none for SmolLM2
    return [list(ids) for ids in tokenizer(texts, add_special_tokens=True)["input_ids"]]


class _AnswerIds:
    """Answer text -> token id, cached; one token on its own or, failing that, after the prompt."""

    def __init__(self, task: str, tokenizer) -> None:
        self.task, self.tok, self.cache = task, tokenizer, {}

    def __call__(self, text: str, index: int, prompt: str, kind: str) -> int:
        if text not in self.cache:
            self.cache[text] = self.tok(text, add_special_tokens=False)["input_ids"]
        ids = self.cache[text]
        if len(ids) == 1:
            return ids[0]
        # sentencepiece tokenizers may add a lone "▁" to a text on its own; in context it is one token
        base = self.tok(prompt, add_special_tokens=False)["input_ids"]
        full = self.tok(prompt + text, add_special_tokens=False)["input_ids"]
        if len(full) == len(base) + 1 and full[: len(base)] == base:
            return full[-1]
        pieces = [self.tok.decode([t]) for t in ids]
        raise MechscopeError(
            f"task {self.task!r} example {index}: {kind} {text!r} is {len(ids)} tokens {pieces} for this "
            f"tokenizer; answers must be single tokens — pick a single-token {kind}"
        )


def _pad_rows(rows: list[list[int]], fill: int = -1) -> Tensor:
    width = max([1] + [len(r) for r in rows])  # at least one column, so reductions over it are defined
    out = torch.full((len(rows), width), fill, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out


@dataclass(frozen=True, eq=False)
class EncodedTask:
    """A task tokenized for one tokenizer; every tensor's first axis is the example.

    - clean_ids, corrupt_ids: ``[n, seq]`` token ids, right-padded with the pad token.
    - attention_mask: ``[n, seq]``, 1 on real tokens, 0 on padding (same for clean and corrupt).
    - positions: ``[n]``, index of each prompt's last real token (where the answer is read).
    - answer_ids: ``[n, max_answers]``, -1 padded; wrong_ids: ``[n, max_wrong]``, -1 padded
      (each at least one column wide).

    >>> from mechscope.models.loading import smollm2_tokenizer
    >>> ex = tuple(Example("The cat" + " big" * i + " sat on the", "The dog" + " big" * i + " sat on the",
    ...                    " mat", " hat") for i in range(5))
    >>> enc = Task("toy", ex).encode(smollm2_tokenizer())
    >>> enc.positions.tolist()
    [4, 5, 6, 7, 8]
    >>> [len(b) for b in enc.batches(2)]
    [2, 2, 1]
    """

    clean_ids: Tensor
    corrupt_ids: Tensor
    attention_mask: Tensor
    positions: Tensor
    answer_ids: Tensor
    wrong_ids: Tensor
    metric: str = "logit_diff"
    task_name: str = ""
    task_hash: str = ""

    def __len__(self) -> int:
        return self.clean_ids.shape[0]

    def __repr__(self) -> str:
        return (f"EncodedTask({self.task_name!r}, n={len(self)}, seq={self.clean_ids.shape[1]}, "
                f"metric={self.metric!r}, device={self.clean_ids.device})")

    def to(self, device: torch.device | str) -> EncodedTask:
        """A copy with every tensor on `device`."""
        return self._replace({k: getattr(self, k).to(device) for k in _TENSORS})

    def select(self, index: slice | Tensor) -> EncodedTask:
        """The examples at `index` (a slice or an index tensor), trimmed to their longest prompt."""
        part = {k: getattr(self, k)[index] for k in _TENSORS}
        seq = int(part["positions"].max()) + 1 if len(part["positions"]) else 0
        for k in ("clean_ids", "corrupt_ids", "attention_mask"):
            part[k] = part[k][:, :seq]  # right padding: columns past the longest prompt are all padding
        return self._replace(part)

    def with_bos(self, bos_id: int) -> EncodedTask:
        """Every prompt with token `bos_id` put first (positions shift by one): MIB's convention
        (EAP-IG tokenizes with TransformerLens's ``prepend_bos=True``).

        >>> from mechscope.models.loading import smollm2_tokenizer
        >>> tok = smollm2_tokenizer()
        >>> enc = Task("toy", (Example("The cat sat on the", "The dog sat on the", " mat", " hat"),)).encode(tok)
        >>> b = enc.with_bos(tok.bos_token_id)
        >>> b.clean_ids[0, 0].item() == tok.bos_token_id, b.positions.tolist(), b.clean_ids.shape[1] - enc.clean_ids.shape[1]
        (True, [5], 1)
        """
        col = torch.full((len(self), 1), int(bos_id), dtype=self.clean_ids.dtype, device=self.clean_ids.device)
        return EncodedTask(torch.cat([col, self.clean_ids], 1), torch.cat([col, self.corrupt_ids], 1),
                           torch.cat([torch.ones_like(col), self.attention_mask], 1), self.positions + 1,
                           self.answer_ids, self.wrong_ids, self.metric, self.task_name, self.task_hash)

    def batches(self, size: int) -> Iterator[EncodedTask]:
        """Consecutive batches of at most `size` examples, each trimmed to its longest prompt."""
        if size < 1:
            raise MechscopeError(f"batch size must be at least 1, got {size}; e.g. use 32")
        for start in range(0, len(self), size):
            yield self.select(slice(start, start + size))

    def _replace(self, tensors: dict[str, Tensor]) -> EncodedTask:
        return EncodedTask(**tensors, metric=self.metric, task_name=self.task_name, task_hash=self.task_hash)


_TENSORS = ("clean_ids", "corrupt_ids", "attention_mask", "positions", "answer_ids", "wrong_ids")


def _gather(values: Tensor, ids: Tensor) -> tuple[Tensor, Tensor]:
    """values [n, vocab], ids [n, k] (-1 padded) -> picked values [n, k], valid mask [n, k]."""
    valid = ids >= 0
    return values.gather(1, ids.clamp(min=0)), valid


def _mean(values: Tensor, valid: Tensor) -> Tensor:
    return (values * valid).sum(1) / valid.sum(1).clamp(min=1)


def metric_values(logits: Tensor, enc: EncodedTask, clean_logits: Tensor | None = None,
                  metric: str | None = None) -> Tensor:
    """The metric per example, ``[n]``, from next-token logits ``[n, vocab]`` at `enc.positions`.

    - logit_diff: mean logit of the answers minus mean logit of the wrong answers.
    - prob_diff: summed softmax probability of the answers minus that of the wrong answers.
    - logprob: mean log-softmax of the answers.
    - kl: KL(softmax(clean_logits) || softmax(logits)), in nats; needs `clean_logits` ``[n, vocab]``.

    Differentiable in `logits`; computed in float32.

    >>> enc = EncodedTask(*(torch.zeros(1, 1, dtype=torch.long),) * 3, torch.zeros(1, dtype=torch.long),
    ...                   torch.tensor([[0]]), torch.tensor([[1]]))
    >>> metric_values(torch.tensor([[2.0, 0.5, 0.0]]), enc).tolist()
    [1.5]
    """
    metric = check_metric(metric or enc.metric)
    if logits.dim() != 2 or logits.shape[0] != enc.answer_ids.shape[0]:
        raise MechscopeError(
            f"logits must be [n={enc.answer_ids.shape[0]}, vocab], got shape {tuple(logits.shape)}; "
            "pass the logits at enc.positions"
        )
    logits = logits.float()
    answer_ids, wrong_ids = enc.answer_ids.to(logits.device), enc.wrong_ids.to(logits.device)
    if metric == "kl":
        if clean_logits is None:
            raise MechscopeError("metric 'kl' needs clean_logits: pass the logits of the unpatched clean run")
        p_log = torch.log_softmax(clean_logits.float(), -1)
        return (p_log.exp() * (p_log - torch.log_softmax(logits, -1))).sum(-1)
    if metric in ("logit_diff", "prob_diff"):
        empty = (wrong_ids < 0).all(1)
        if bool(empty.any()):
            i = int(empty.nonzero()[0])
            raise MechscopeError(
                f"metric {metric!r} needs wrong answers, but example {i} has none; "
                "add wrong_answers or use metric 'logprob' or 'kl'"
            )
    if metric == "logit_diff":
        good, good_ok = _gather(logits, answer_ids)
        bad, bad_ok = _gather(logits, wrong_ids)
        return _mean(good, good_ok) - _mean(bad, bad_ok)
    if metric == "prob_diff":
        probs = torch.softmax(logits, -1)
        good, good_ok = _gather(probs, answer_ids)
        bad, bad_ok = _gather(probs, wrong_ids)
        return (good * good_ok).sum(1) - (bad * bad_ok).sum(1)
    good, good_ok = _gather(torch.log_softmax(logits, -1), answer_ids)
    return _mean(good, good_ok)


def correct(logits: Tensor, enc: EncodedTask) -> tuple[Tensor, Tensor]:
    """Per-example accuracy flags ``[n]`` (bool) from clean logits ``[n, vocab]``: (pairwise, top1).

    pairwise: every answer's logit beats every wrong answer's logit (an example
    without wrong answers falls back to top1). top1: the argmax over the
    vocabulary is one of the answers.
    """
    answer_ids, wrong_ids = enc.answer_ids.to(logits.device), enc.wrong_ids.to(logits.device)
    good, good_ok = _gather(logits, answer_ids)
    bad, bad_ok = _gather(logits, wrong_ids)
    pairwise = good.masked_fill(~good_ok, float("inf")).amin(1) > bad.masked_fill(~bad_ok, float("-inf")).amax(1)
    top1 = (logits.argmax(-1, keepdim=True) == answer_ids).any(1)
    return torch.where(bad_ok.any(1), pairwise, top1), top1


def next_token_logits(hf, ids: Tensor, attention_mask: Tensor, positions: Tensor) -> Tensor:
    """Logits ``[batch, vocab]`` of a plain forward of `hf` at `positions` ``[batch]``."""
    rows = torch.arange(len(positions), device=positions.device)
    if "logits_to_keep" in inspect.signature(hf.forward).parameters:
        # project only the positions we read onto the vocabulary: saves most of the lm_head work
        keep, inverse = torch.unique(positions, return_inverse=True)
        return hf(input_ids=ids, attention_mask=attention_mask, use_cache=False, logits_to_keep=keep).logits[rows, inverse]
    return hf(input_ids=ids, attention_mask=attention_mask, use_cache=False).logits[rows, positions]


def evaluate(model, task: Task, batch_size: int = 32) -> dict:
    """How well `model` does `task`: accuracy on clean prompts and the mean metric on clean and corrupt.

    Returns ``{"n", "accuracy", "top1_accuracy", "clean_metric", "corrupt_metric", "metric"}``.
    accuracy: fraction of examples where every answer token's logit beats every
    wrong-answer token's logit on the clean prompt (top1 where an example has no
    wrong answers); top1_accuracy: fraction where the argmax over the vocabulary
    is an answer. For ``kl`` the clean metric is 0 and the corrupt one KL(clean || corrupt).

    >>> from mechscope.models import load
    >>> ex = (Example("The cat sat on the", "The dog sat on the", " mat", " hat"),)
    >>> sorted(evaluate(load("random:llama-tiny"), Task("toy", ex)))
    ['accuracy', 'clean_metric', 'corrupt_metric', 'metric', 'n', 'top1_accuracy']
    """
    enc = task.encode(model.tokenizer, device=model.device)
    acc, top1, clean_m, corrupt_m = [], [], [], []
    with torch.no_grad():
        for b in enc.batches(batch_size):
            clean = next_token_logits(model.hf, b.clean_ids, b.attention_mask, b.positions)
            corrupt = next_token_logits(model.hf, b.corrupt_ids, b.attention_mask, b.positions)
            a, t = correct(clean.float(), b)
            acc.append(a)
            top1.append(t)
            clean_m.append(metric_values(clean, b, clean_logits=clean))
            corrupt_m.append(metric_values(corrupt, b, clean_logits=clean))
    return {
        "n": len(enc),
        "accuracy": torch.cat(acc).float().mean().item(),
        "top1_accuracy": torch.cat(top1).float().mean().item(),
        "clean_metric": torch.cat(clean_m).mean().item(),
        "corrupt_metric": torch.cat(corrupt_m).mean().item(),
        "metric": task.metric,
    }
