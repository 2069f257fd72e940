"""Scan steering configurations at a fixed damage budget: bisect each one's strength, then generate once.

For each configuration (a method and its parameters), the strength whose neutral-text perplexity rise is
closest under the budget is found by bisection (damage only: cheap), then text is generated from the
concept's 40 neutral prompts at that strength and the lexicon rate reported. Much cheaper than a full sweep.

    .venv/bin/python benchmarks/steering_scan.py positive \\
        '[{"method": "diffmean", "layers": "8", "hi": 6}, {"method": "linear-act", "layers": "6-12", "hi": 1}]'
        [--max-ppl-rise 0.25] [--seeds 0,1,2]

`hi` is the largest strength tried (the method's upper bound for the AcT methods: 1).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

from mechscope.models import load
from mechscope.steer import generate, load_concept, make_method
from mechscope.steer.evaluate import _nll, score_texts
from mechscope.steer.scoring import lexicon_scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("concept")
    ap.add_argument("configs", help="JSON list of {method, hi, ...params}")
    ap.add_argument("--max-ppl-rise", type=float, default=0.25)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", default="0", help="sampling seeds to generate with (the rate is their mean)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model, c = load(args.model), load_concept(args.concept)
    base = math.exp(_nll(score_texts(model, c.neutral)))
    print(f"base perplexity {base:.1f}", flush=True)

    def rise(method, strength: float) -> float:
        with method.apply(model, strength):
            return math.exp(_nll(score_texts(model, c.neutral))) / base - 1

    for cfg in json.loads(args.configs):
        t0 = time.perf_counter()
        cfg = dict(cfg)
        name, hi = cfg.pop("method"), cfg.pop("hi", 8.0)
        method = make_method(name, **cfg).fit(model, c.source, c.target)
        lo, strength = 0.0, hi
        if rise(method, hi) > args.max_ppl_rise:
            for _ in range(7):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if rise(method, mid) <= args.max_ppl_rise else (lo, mid)
            strength = lo
        rates = []
        for seed in (int(x) for x in args.seeds.split(",")):
            texts = generate(model, c.prompts, steering=method, strength=strength, max_new_tokens=30, seed=seed)
            rates.append(sum(lexicon_scores(texts, c.lexicon)) / len(texts))
        print(json.dumps({"method": name, **cfg, "strength": round(strength, 3),
                          "delta_ppl": round(rise(method, strength), 3), "lexicon_rate": sum(rates) / len(rates),
                          "rates_per_seed": rates, "seconds": round(time.perf_counter() - t0)}), flush=True)


if __name__ == "__main__":
    main()
