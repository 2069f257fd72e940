"""A learned low-rank intervention in the style of ReFT-r1 and RePS (Wu et al. 2025), trained through the model.

At one block output the hidden state ``h`` ``[batch, seq, d]`` becomes
``h + strength * U (V h + c)``, with ``U`` ``[d, rank]``, ``V`` ``[rank, d]`` and ``c`` ``[rank]``:
a rank-`rank` edit whose size depends on the input (through ``V``) plus a fixed steering
vector ``U c``. It is trained, unlike the fitted methods, by gradient descent on a language
modelling or preference objective over the concept's sentences (the model's weights stay frozen):

- ``objective="lm"`` (ReFT-r1's): the mean next-token negative log-likelihood of the target
  sentences with the edit applied at strength 1.
- ``objective="preference"`` (RePS's reference-free, bidirectional, length-normalised form): with
  the edit added (strength +1) a target sentence must become more likely than a source sentence,
  ``-log sigmoid(beta * (lp(target) - lp(source)))`` with ``lp`` the mean token log-probability,
  and with the edit subtracted (strength -1) the source more likely than the target. Source and
  target sentences are paired in order (paired data such as negative/positive pairs keeps its
  pairing; unpaired topics are paired arbitrarily).

The data (`data`): ``"primed"`` (the default) trains on (prompt, continuation) pairs the model writes
itself, the continuation primed by target sentences in context (`mechscope.steer.primed`; the
preference objective then prefers the primed continuation to the plain one after the same prompt; by
default four are drawn per prompt and the half whose likelihood the in-context examples raised most is
kept, `samples` and `keep`: 160 pairs from 80 source sentences, enough that the result no longer depends
on the fit's seed as it did with 80, docs/steering.md "Seeds");
``"sentences"`` on the sentences themselves, unconditioned.

Strength is a scalar: 0 is the model, 1 the trained edit, more extrapolates.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from mechscope.errors import MechscopeError
from mechscope.steer.activations import encode
from mechscope.steer.base import SteeringMethod, train_steps
from mechscope.steer.sites import Site, resolve_sites
from mechscope.steer.hooks import steering_hooks
from mechscope.steer.primed import continuation_batch, mean_token_logprob, primed_pairs

OBJECTIVES = ("lm", "preference")
DATA = ("sentences", "primed")


class LowRankSteer(SteeringMethod):
    """ReFT-r1 / RePS-style rank-`rank` intervention at one block output (see the module docstring).

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> lr = LowRankSteer(layers="1", steps=2).fit(m, ["a cat sat down", "the dog ran off"], ["a wedding day", "the bride"])
    >>> {k: tuple(v.shape) for k, v in lr.state_["model.layers.1"].items()}
    {'U': (64, 1), 'V': (1, 64), 'c': (1,)}
    """

    name = "lowrank"
    strength_range = (0.0, None)
    default_strengths = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
    default_strength = 1.0

    def __init__(self, sites: str = "block", layers: str | int | list[int] | None = None, pooling: str = "mean",
                 rank: int = 1, objective: str = "lm", steps: int = 40, lr: float = 0.02,
                 beta: float = 2.0, batch_size: int = 8, seed: int = 0, data: str = "primed", n_shots: int = 8,
                 samples: int = 4, keep: float = 0.5):
        self.sites = sites
        self.layers = layers
        self.pooling = pooling
        self.rank = rank
        self.objective = objective
        self.steps = steps
        self.lr = lr
        self.beta = beta
        self.batch_size = batch_size
        self.seed = seed
        self.data = data
        self.n_shots = n_shots
        self.samples = samples
        self.keep = keep

    def _resolve(self, model) -> list[Site]:
        layers = self.layers if self.layers is not None else str(round(model.adapter.n_layers / 3))
        return resolve_sites(model, self.sites, layers)

    def _transform(self, t: dict[str, torch.Tensor], hidden: torch.Tensor, strength: float) -> torch.Tensor:
        return hidden + strength * ((hidden.float() @ t["V"].T + t["c"]) @ t["U"].T).to(hidden.dtype)

    def fit(self, model, source: list[str], target: list[str],
            on_step: Callable[[int, float], None] | None = None) -> LowRankSteer:
        """Train the edit on `source` and `target` sentences; returns self. Ctrl-C keeps what was learned."""
        source, target = list(source), list(target)
        self._check_data(source, target)
        if self.objective not in OBJECTIVES:
            raise MechscopeError(f"objective {self.objective!r} of lowrank is not one of {', '.join(OBJECTIVES)}")
        if self.data not in DATA:
            raise MechscopeError(f"data {self.data!r} of lowrank is not one of {', '.join(DATA)}")
        if self.rank < 1 or self.steps < 1 or self.lr <= 0 or self.batch_size < 1:
            raise MechscopeError(f"lowrank needs rank, steps and batch_size >= 1 and lr > 0; got rank {self.rank}, "
                                 f"steps {self.steps}, batch_size {self.batch_size}, lr {self.lr:g}")
        sites = self._resolve(model)
        d = model.adapter.d_model
        gen = torch.Generator().manual_seed(self.seed)
        dev = model.device
        params = {s.key: {"U": (torch.randn(d, self.rank, generator=gen) / d ** 0.5).to(dev).requires_grad_(),
                          "V": torch.zeros(self.rank, d, device=dev, requires_grad=True),
                          "c": torch.zeros(self.rank, device=dev, requires_grad=True)} for s in sites}
        opt = torch.optim.Adam([p for v in params.values() for p in v.values()], lr=self.lr)
        t0 = time.perf_counter()
        if self.data == "primed":  # (prompt, continuation) pairs the model writes itself (steer/primed.py)
            prompts, primed, plain = primed_pairs(model, source, target, n_shots=self.n_shots, seed=self.seed,
                                                  samples=self.samples, keep=self.keep)
            good = [(p, c) for p, c in zip(prompts, primed)]
            bad = [(p, c) for p, c in zip(prompts, plain)]
            self.primed_examples_ = [p + c for p, c in good[:3]]
            self.primed_texts_ = {"prompts": prompts, "primed": primed, "plain": plain}
        else:  # the sentences themselves, unconditioned (an empty prompt)
            good = [("", t) for t in target]
            bad = [("", s_) for s_ in source]
        n = min(len(good), len(bad)) if self.objective == "preference" else len(good)

        def step(_i: int) -> float:
            idx = torch.randperm(n, generator=gen)[:self.batch_size].tolist()
            opt.zero_grad()
            if self.objective == "lm":
                loss = -_mean_logprob(model, sites, params, [good[i] for i in idx], 1.0).mean()
            else:
                pairs = [bad[i] for i in idx] + [good[i] for i in idx]
                lp = {s: _mean_logprob(model, sites, params, pairs, s) for s in (1.0, -1.0)}
                k = len(idx)
                up = lp[1.0][k:] - lp[1.0][:k]  # target over source, edit added
                down = lp[-1.0][:k] - lp[-1.0][k:]  # source over target, edit subtracted
                loss = -(torch.nn.functional.logsigmoid(self.beta * up).mean()
                         + torch.nn.functional.logsigmoid(self.beta * down).mean()) / 2
            loss.backward()
            opt.step()
            return float(loss.detach())

        history = train_steps(self.steps, step, on_step)
        self.sites_ = [s.key for s in sites]
        self.state_ = {k: {n_: p.detach().float().cpu().contiguous() for n_, p in v.items()}
                       for k, v in params.items()}
        self.loss_history_ = history
        self.fit_seconds_ = time.perf_counter() - t0
        self._record_fit(model, source, target)
        return self

    def fit_report(self) -> dict | None:
        if not hasattr(self, "loss_history_"):
            return None
        h = self.loss_history_
        return {"objective": self.objective, "data": self.data, "rank": self.rank, "steps": len(h),
                "initial_loss": h[0], "final_loss": h[-1], "fit_seconds": round(self.fit_seconds_, 2)}


def _mean_logprob(model, sites: list[Site], params: dict, pairs: list[tuple[str, str]],
                  strength: float) -> torch.Tensor:
    """Mean token log-probability ``[len(pairs)]`` of each ``(prompt, text)``'s text after its prompt, with the
    edit applied at every position. An empty prompt scores the text from its second token."""
    if all(not p for p, _ in pairs):
        enc = encode(model, [t for _, t in pairs], padding_side="right")
        ids, mask, pos = enc.input_ids, enc.attention_mask, enc.position_ids
        scored = mask.bool().clone()
        scored[:, 0] = False
    else:
        ids, mask, pos, scored = continuation_batch(model, [p for p, _ in pairs], [t for _, t in pairs])

    def edit(t):
        return lambda h: h + strength * ((h.float() @ t["V"].T + t["c"]) @ t["U"].T).to(h.dtype)
    transforms = {Site.from_key(k): edit(t) for k, t in params.items()}
    with torch.enable_grad(), steering_hooks(model, transforms):
        logits = model.hf(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False).logits.float()
    return mean_token_logprob(logits, ids, scored)
