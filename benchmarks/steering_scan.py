"""Scan steering configurations at a fixed damage budget: bisect each one's strength, then generate once.

For each configuration (a method and its parameters), the strength whose neutral-text perplexity rise is
closest under the budget is found by bisection (damage only: cheap), then text is generated from the
concept's 40 neutral prompts at that strength and the lexicon rate reported. Much cheaper than a full sweep.

    .venv/bin/python benchmarks/steering_scan.py positive \\
        '[{"method": "diffmean", "layers": "8", "hi": 6}, {"method": "linear-act", "layers": "6-12", "hi": 1}]'
        [--max-ppl-rise 0.25] [--seeds 0,1,2]
    .venv/bin/python benchmarks/steering_scan.py space CONFIGS --target benchmarks/data/space.txt \\
        --lexicon 'space*,planet*,star,stars,moon*,orbit*,rocket*,astronaut*,galax*,telescope*'

`hi` is the largest strength tried (the method's upper bound for the AcT methods: 1); `"prompting": false`
skips prompting plus that configuration; `"fractions": [0.25, 0.5]` also generates (seed 0, with the axes when
they are scored) at those fractions of the chosen strength, without fitting again. With ``--axes`` each
generation run is also scored on AxBench's three axes (offline judges, MiniLM; `mechscope.steer.axes`), and
with ``--prompting`` the prompting baseline, and prompting plus each configuration at its strength, are measured
the same way.
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
    ap.add_argument("--axes", action="store_true", help="score generations on AxBench's three axes (seed 0)")
    ap.add_argument("--prompting", action="store_true", help="also prompting, and prompting plus each config")
    ap.add_argument("--save", default=None, help="folder to save each fitted steering file in (CONCEPT-METHOD"
                    ".safetensors; with several configurations CONCEPT-METHOD-INDEX, counting from 0)")
    ap.add_argument("--texts", default=None, help="JSON file to write every generation (and the primed training "
                    "continuations) to, to count them again offline")
    ap.add_argument("--target", default=None, help="a user concept: target sentence file (CONCEPT is then its name)")
    ap.add_argument("--source", default="neutral.txt", help="with --target: source sentence file")
    ap.add_argument("--lexicon", default="", help="with --target: comma-separated lexicon (* matches any ending)")
    ap.add_argument("--instruction", default="", help="with --target: the prompting baseline's instruction")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = load(args.model)
    if args.target:  # a concept the user brings: the shipped prompts and held-out text, their own sentences
        import dataclasses

        from mechscope.steer.concepts import read_sentences

        c = dataclasses.replace(load_concept("ocean"), name=args.concept, source=read_sentences(args.source),
                                target=read_sentences(args.target), lexicon=args.lexicon.split(","),
                                instruction=args.instruction, description=args.concept, invite=[])
    else:
        c = load_concept(args.concept)
    base = math.exp(_nll(score_texts(model, c.neutral)))
    print(f"base perplexity {base:.1f}", flush=True)
    judges = None
    dump: dict = {}
    if args.axes or args.prompting:
        from mechscope.data.embed import get_embedder
        from mechscope.steer.concepts import read_sentences
        from mechscope.steer.axes import calibrate, score_axes

        unsteered = generate(model, c.prompts, max_new_tokens=30, seed=0)
        other = read_sentences("heldout.txt") + c.source
        judges = calibrate(model, get_embedder("minilm").embed, c.instruction, c.target, other, c.prompts, unsteered,
                           c.lexicon)
        axes = lambda texts, prefix="": {k: round(v, 3) for k, v in score_axes(  # noqa: E731
            model, judges, c.prompts, texts, prefix=prefix).items() if k != "per_text"}
        rate = sum(lexicon_scores(unsteered, c.lexicon)) / len(unsteered)
        print(json.dumps({"method": "unsteered", "lexicon_rate": rate,
                          "axes": axes(unsteered), "judges": judges.to_dict()}), flush=True)
    if args.prompting:
        from mechscope.steer.evaluate import evaluate_prompting

        prompting = evaluate_prompting(model, c.instruction, c.prompts, c.neutral, lexicon=c.lexicon, keep_texts=True)
        print(json.dumps({"method": "prompting", "delta_ppl": round(prompting["delta_ppl"], 3),
                          "lexicon_rate": prompting["effects"]["lexicon"],
                          "axes": axes(prompting["texts"], c.instruction.strip() + "\n\n")}), flush=True)

    def rise(method, strength: float) -> float:
        with method.apply(model, strength):
            return math.exp(_nll(score_texts(model, c.neutral))) / base - 1

    configs = json.loads(args.configs)
    for index, cfg in enumerate(configs):
        t0 = time.perf_counter()
        cfg = dict(cfg)
        name, hi = cfg.pop("method"), cfg.pop("hi", 8.0)
        with_prompting = cfg.pop("prompting", True)
        fractions = cfg.pop("fractions", [])
        method = make_method(name, **cfg).fit(model, c.source, c.target)
        lo, strength = 0.0, hi
        if rise(method, hi) > args.max_ppl_rise:
            for _ in range(7):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if rise(method, mid) <= args.max_ppl_rise else (lo, mid)
            strength = lo
        rates, extra = [], {}
        for seed in (int(x) for x in args.seeds.split(",")):
            texts = generate(model, c.prompts, steering=method, strength=strength, max_new_tokens=30, seed=seed)
            rates.append(sum(lexicon_scores(texts, c.lexicon)) / len(texts))
            dump.setdefault(f"{name} {json.dumps(cfg)}", {})[f"seed {seed}"] = texts
            if seed == 0 and judges is not None:
                extra["axes"] = axes(texts)
                extra["examples"] = texts[:3]
        if hasattr(method, "fit_report") and method.fit_report():
            extra["fit_report"] = {k: v for k, v in method.fit_report().items() if k != "units_per_site"}
            if "units_per_site" in method.fit_report():
                per_site = method.fit_report()["units_per_site"]
                extra["units_per_layer"] = {k.split(".")[2]: n for k, n in per_site.items()}
        if hasattr(method, "primed_texts_"):
            dump.setdefault(f"{name} {json.dumps(cfg)}", {})["primed"] = method.primed_texts_
        if args.texts:
            with open(args.texts, "w") as f:
                json.dump(dump, f, indent=1)
        if args.save:
            from mechscope.steer import SteeringFile

            SteeringFile.from_method(method, concept=c.name, lexicon=c.lexicon, instruction=c.instruction,
                                     scorer=c.scorer).save(
                f"{args.save}/{c.name}-{name}{f'-{index}' if len(configs) > 1 else ''}.safetensors")
        print(json.dumps({"method": name, **cfg, "strength": round(strength, 3),
                          "delta_ppl": round(rise(method, strength), 3), "lexicon_rate": sum(rates) / len(rates),
                          "rates_per_seed": rates, "seconds": round(time.perf_counter() - t0), **extra}), flush=True)
        for frac in fractions:  # weaker points of the same fit (e.g. to meet prompting's fluency), seed 0
            texts = generate(model, c.prompts, steering=method, strength=frac * strength, max_new_tokens=30, seed=0)
            print(json.dumps({"method": name, **cfg, "fraction": frac, "strength": round(frac * strength, 3),
                              "delta_ppl": round(rise(method, frac * strength), 3),
                              "lexicon_rate": sum(lexicon_scores(texts, c.lexicon)) / len(texts),
                              **({"axes": axes(texts)} if judges is not None else {})}), flush=True)
        if args.prompting and with_prompting and strength > 0:
            from mechscope.steer.evaluate import evaluate_prompting

            both = evaluate_prompting(model, c.instruction, c.prompts, c.neutral, lexicon=c.lexicon, keep_texts=True,
                                      steering=method, strength=strength)
            print(json.dumps({"method": f"prompting+{name}", "strength": round(strength, 3),
                              "delta_ppl": round(both["delta_ppl"], 3), "lexicon_rate": both["effects"]["lexicon"],
                              "axes": axes(both["texts"], c.instruction.strip() + "\n\n")}), flush=True)


if __name__ == "__main__":
    main()
