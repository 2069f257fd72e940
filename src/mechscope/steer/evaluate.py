"""Effect and damage of steering, over a sweep of strengths, with a relative damage budget.

Effect: a scorer's mean over generations from neutral prompts (by default the
share of generations that contain a concept-lexicon word). Damage, measured
against the unsteered model: perplexity on held-out neutral text and its
relative rise, KL(unsteered || steered) and top-1 agreement on that text,
distinct-2 of the generations, and their perplexity under the unsteered model.
The chosen strength is the strongest whose neutral perplexity rises by at most
`max_ppl_rise` (a fraction: 0.25 is +25%).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from mechscope.errors import MechscopeError
from mechscope.steer.generate import generate
from mechscope.steer.scoring import Scorer, distinct_n, make_scorers

N_EXAMPLES = 3


@dataclass
class _Scored:
    logp: torch.Tensor  # [tokens, vocab] log-probabilities at every scored position
    targets: torch.Tensor  # [tokens] the token each position predicts
    counts: list[int]  # scored tokens of each text that was scored, in order


@torch.no_grad()
def score_texts(model, texts: list[str], contexts: list[str] | None = None, batch_size: int = 16,
                keep_logp: bool = True, score_first: bool = True) -> _Scored:
    """Log-probabilities of the tokens of `texts`, each after its context (if any).

    Context and text are tokenised apart and joined, so the text's tokens are
    the same with and without a context. The text's first token is scored only
    with a context and `score_first`.
    """
    tok = model.tokenizer
    rows, spans = [], []
    for i, text in enumerate(texts):
        ctx = tok(contexts[i], add_special_tokens=False).input_ids if contexts else []
        ids = tok(text, add_special_tokens=False).input_ids
        first = len(ctx) if ctx and score_first else len(ctx) + 1
        if first >= len(ctx) + len(ids):
            continue
        rows.append(ctx + ids)
        spans.append((first, len(ctx) + len(ids)))  # scored token columns [start, end)
    if not rows:
        raise MechscopeError("no text long enough to score; give sentences of at least two tokens")
    logps, targets = [], []
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    for b in range(0, len(rows), batch_size):
        batch, bspans = rows[b:b + batch_size], spans[b:b + batch_size]
        width = max(len(r) for r in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, r in enumerate(batch):
            ids[i, :len(r)] = torch.tensor(r)
            mask[i, :len(r)] = 1
        ids, mask = ids.to(model.device), mask.to(model.device)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = model.hf(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False).logits.float()
        lp = torch.log_softmax(logits, -1)
        for i, (start, end) in enumerate(bspans):
            cols = torch.arange(start, end, device=ids.device)
            logps.append(lp[i, cols - 1] if keep_logp else lp[i, cols - 1].gather(-1, ids[i, cols, None]))
            targets.append(ids[i, cols])
    return _Scored(torch.cat(logps), torch.cat(targets), [len(t) for t in targets])


def _nll(s: _Scored) -> float:
    lp = s.logp if s.logp.shape[-1] == 1 else s.logp.gather(-1, s.targets[:, None])
    return float(-lp.mean())


def _damage(base: _Scored, steered: _Scored) -> dict:
    p = base.logp.exp()
    kl = float((p * (base.logp - steered.logp)).sum(-1).mean())
    top1 = float((base.logp.argmax(-1) == steered.logp.argmax(-1)).float().mean())
    return {"kl": max(kl, 0.0), "top1_agreement": top1}


def _effects(texts: list[str], scorers: dict[str, Scorer]) -> dict[str, float]:
    return {name: sum(vals) / len(vals) if (vals := fn(texts)) else 0.0 for name, fn in scorers.items()}


def _gen_ppl(model, prompts: list[str], texts: list[str], prefix: str) -> float | None:
    pairs = [(prefix + p, t) for p, t in zip(prompts, texts) if t.strip()]
    if not pairs:
        return None
    scored = score_texts(model, [t for _, t in pairs], [c for c, _ in pairs], keep_logp=False)
    return math.exp(_nll(scored))


def _resolve_scorer(scorer: str | Scorer, lexicon: list[str] | None) -> tuple[str, dict[str, Scorer]]:
    scorers = make_scorers(lexicon)
    if callable(scorer):
        return "custom", {"custom": scorer, **scorers}
    if scorer not in scorers:
        hint = "; pass a lexicon (--lexicon FILE) to score by it" if scorer == "lexicon" else ""
        raise MechscopeError(f"scorer {scorer!r} is not one of {', '.join(scorers)}{hint}")
    return scorer, scorers


def choose_strength(sweep: list[dict], max_ppl_rise: float) -> float | None:
    """The strongest strength whose relative perplexity rise is at most `max_ppl_rise`.

    >>> choose_strength([{"strength": 0, "delta_ppl": 0.0}, {"strength": 1, "delta_ppl": 0.2},
    ...                  {"strength": 2, "delta_ppl": 0.4}], 0.25)
    1
    """
    ok = [r["strength"] for r in sweep if r["delta_ppl"] is not None and r["delta_ppl"] <= max_ppl_rise]
    return max(ok) if ok else None


def _row(model, prompts, neutral_base, neutral, steering, strength, scorer_name, scorers, gen_kw, prefix="",
         positions="all", strict=True) -> dict:
    t0 = time.perf_counter()
    texts = generate(model, prompts, steering=steering, strength=strength, prefix=prefix, positions=positions,
                     strict=strict, **gen_kw)
    t_gen = time.perf_counter() - t0
    ctx = steering.apply(model, strength, strict=strict) if steering is not None else nullcontext()
    with ctx:
        scored = score_texts(model, neutral, [prefix] * len(neutral) if prefix else None, score_first=False)
    base_ppl = math.exp(_nll(neutral_base))
    ppl = math.exp(_nll(scored))
    effects = _effects(texts, scorers)
    return {"strength": strength, "effect": effects[scorer_name], "effects": effects, "ppl": ppl,
            "delta_ppl": ppl / base_ppl - 1, "gen_ppl": _gen_ppl(model, prompts, texts, prefix),
            **_damage(neutral_base, scored), "distinct2": distinct_n(texts, 2),
            "generation_seconds": round(t_gen, 2), "examples": texts[:N_EXAMPLES], "texts": texts}


def _damage_row(model, neutral_base: _Scored, neutral: list[str], steering, strength: float, strict: bool) -> dict:
    with steering.apply(model, strength, strict=strict):
        scored = score_texts(model, neutral)
    ppl = math.exp(_nll(scored))
    return {"strength": strength, "effect": None, "effects": {}, "ppl": ppl,
            "delta_ppl": ppl / math.exp(_nll(neutral_base)) - 1, "gen_ppl": None, **_damage(neutral_base, scored),
            "distinct2": None, "generation_seconds": None, "examples": [], "texts": []}


def evaluate_steering(model, steering, prompts: list[str], neutral: list[str],
                      strengths: list[float] | None = None, scorer: str | Scorer = "lexicon",
                      lexicon: list[str] | None = None, max_ppl_rise: float = 0.25, max_new_tokens: int = 30,
                      seed: int = 0, temperature: float = 0.8, top_p: float = 0.95, positions: str = "all",
                      strict: bool = True, keep_texts: bool = False, generate_for: str = "all",
                      on_step: Callable[[str], None] | None = None) -> dict:
    """Sweep strengths; report effect and damage per strength and the chosen strength, as a plain dict.

    `steering` is a `SteeringFile` or a fitted `SteeringMethod`. `strict=False`
    applies it to another version of the same architecture (`mechscope
    compare --steer`). Keys: ``base_ppl``, ``unsteered`` (a row), ``sweep``
    (rows with ``strength, effect, effects, ppl, delta_ppl, gen_ppl, kl,
    top1_agreement, distinct2, examples``) and ``chosen_strength`` (None if no
    strength keeps within the budget). With ``generate_for="chosen"`` the
    damage on neutral text is measured at every strength first and text is
    generated only at the chosen one (other rows get ``effect`` None): much
    faster for fine grids.

    >>> from mechscope.models import load
    >>> from mechscope.steer import load_concept
    >>> from mechscope.steer.vectors import DiffMean
    >>> m, c = load("random:llama-tiny"), load_concept("wedding")
    >>> dm = DiffMean(layers="1").fit(m, c.source[:4], c.target[:4])
    >>> r = evaluate_steering(m, dm, c.prompts[:2], c.neutral[:2], [0, 1], lexicon=c.lexicon, max_new_tokens=3)
    >>> [row["strength"] for row in r["sweep"]], r["sweep"][0]["delta_ppl"]
    ([0, 1], 0.0)
    """
    method = getattr(steering, "method", steering)
    method.check_model(model, strict=strict)
    strengths = list(method.default_strengths if strengths is None else strengths)
    for s in strengths:
        method.check_strength(s)
    if not prompts or not neutral:
        raise MechscopeError(f"evaluation needs prompts and neutral text; got {len(prompts)} prompts and "
                             f"{len(neutral)} neutral sentences")
    scorer_name, scorers = _resolve_scorer(scorer, lexicon)
    gen_kw = {"max_new_tokens": max_new_tokens, "seed": seed, "temperature": temperature, "top_p": top_p}
    step = on_step or (lambda _msg: None)
    neutral_base = score_texts(model, neutral)
    base_ppl = math.exp(_nll(neutral_base))
    step("unsteered")
    unsteered = _row(model, prompts, neutral_base, neutral, None, 0.0, scorer_name, scorers, gen_kw)
    if generate_for not in ("all", "chosen"):
        raise MechscopeError(f"generate_for must be 'all' or 'chosen'; got {generate_for!r}")
    sweep = []
    for s in strengths:
        if s == 0:
            row = dict(unsteered, strength=s)
        elif generate_for == "chosen":
            row = _damage_row(model, neutral_base, neutral, steering, s, strict)
        else:
            row = _row(model, prompts, neutral_base, neutral, steering, s, scorer_name, scorers, gen_kw,
                       positions=positions, strict=strict)
        sweep.append(row)
        step(f"strength {s:g}")
    chosen = choose_strength(sweep, max_ppl_rise)
    if generate_for == "chosen" and chosen not in (None, 0):
        i = next(i for i, r in enumerate(sweep) if r["strength"] == chosen)
        sweep[i] = _row(model, prompts, neutral_base, neutral, steering, chosen, scorer_name, scorers, gen_kw,
                        positions=positions, strict=strict)
    doc = {"method": method.name, "model": model.spec, "fingerprint": model.fingerprint,
           "fitted_on": method.model_fingerprint_, "scorer": scorer_name, "positions": positions,
           "n_prompts": len(prompts), "n_neutral": len(neutral), "max_new_tokens": max_new_tokens, "seed": seed,
           "max_ppl_rise": max_ppl_rise, "base_ppl": base_ppl, "unsteered": unsteered, "sweep": sweep,
           "chosen_strength": chosen,
           "chosen": next((r for r in sweep if r["strength"] == chosen), None)}
    return doc if keep_texts else _drop_texts(doc)


def evaluate_prompting(model, instruction: str, prompts: list[str], neutral: list[str],
                       scorer: str | Scorer = "lexicon", lexicon: list[str] | None = None, max_new_tokens: int = 30,
                       seed: int = 0, temperature: float = 0.8, top_p: float = 0.95,
                       keep_texts: bool = False, steering=None, strength: float | None = None) -> dict:
    """The prompting baseline: the instruction before every prompt, no intervention, measured the same way.

    Damage compares the neutral text after the instruction with the neutral
    text alone (same tokens scored). With `steering` (and its `strength`) it is
    prompting plus steering: the instruction and the intervention together.

    >>> from mechscope.models import load
    >>> from mechscope.steer import load_concept
    >>> m, c = load("random:llama-tiny"), load_concept("wedding")
    >>> r = evaluate_prompting(m, c.instruction, c.prompts[:2], c.neutral[:2], lexicon=c.lexicon, max_new_tokens=3)
    >>> sorted(k for k in r if k in ("effect", "delta_ppl", "kl"))
    ['delta_ppl', 'effect', 'kl']
    """
    scorer_name, scorers = _resolve_scorer(scorer, lexicon)
    gen_kw = {"max_new_tokens": max_new_tokens, "seed": seed, "temperature": temperature, "top_p": top_p}
    neutral_base = score_texts(model, neutral)
    prefix = instruction.strip() + "\n\n"
    row = _row(model, prompts, neutral_base, neutral, steering, strength, scorer_name, scorers, gen_kw, prefix=prefix)
    name = "prompting" if steering is None else f"prompting+{getattr(steering, 'method', steering).name}"
    row.update(method=name, instruction=instruction, base_ppl=math.exp(_nll(neutral_base)))
    if not keep_texts:
        row.pop("texts")
    return row


def _drop_texts(doc: dict) -> dict:
    doc["unsteered"].pop("texts", None)
    for r in doc["sweep"]:
        r.pop("texts", None)
    return doc
