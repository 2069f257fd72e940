"""Steering speed on SmolLM2: time to fit, and generation overhead against an unsteered run.

Side by side, in one run, on the same model, data and prompts:

- fit: mechscope DiffMean (one layer, last-token pooling) against
  steering-vectors' ``train_steering_vector`` (same pairs, same layer, last
  token) and repeng's ``ControlVector.train`` (PCA of differences, same
  layer); mechscope Linear-AcT and Mean-AcT on every block output (causal
  estimation, one forward pass); LinEAS (every attention-input norm) and the
  low-rank intervention (one block), both trained through the model (timed once).
- generation: one generation loop (left-padded batch, KV cache, greedy), run
  unsteered, with mechscope's hooks (DiffMean at one layer, Linear-AcT at every
  block), with steering-vectors' hook and with repeng's wrapped layers holding
  the same vector. Ratios are against the unsteered run.

    python benchmarks/steering.py [--model smollm2-135m] [--concept wedding] [--layer 10] [--prompts 40]
        [--tokens 30] [--repeats 3] [--json]

With ``--quality`` it measures effect and damage instead of speed: for each
shipped concept, every method (Linear-AcT at blocks and at attention-input
norms, Mean-AcT, DiffMean, LinEAS, the low-rank intervention) is fitted with
its defaults, the neutral-text perplexity rise is measured on a fine grid of
strengths, the strongest within ``--max-ppl-rise`` is chosen and text is
generated there (40 neutral prompts); the prompting baseline, prompting plus
the best method, and the unsteered model are measured the same way, and every
row is scored on AxBench's three axes (offline judges, MiniLM embeddings).

    python benchmarks/steering.py --quality [--concepts wedding,ocean,positive] [--methods lineas,diffmean]
        [--prompts 40] [--out quality.json]

steering-vectors and repeng are optional (test extra); missing ones are skipped.
repeng 0.4 names ``np.float_``, removed in NumPy 2: the script aliases it first.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time


def _timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


QUALITY_METHODS = {
    "linear-act": ({"sites": "block"}, [i / 20 for i in range(21)]),
    "linear-act@attn-norm": ({"sites": "attn-norm"}, [i / 40 for i in range(21)]),
    "mean-act": ({"sites": "block"}, [i / 20 for i in range(21)]),
    "diffmean": ({}, [i / 8 for i in range(25)]),
    "lineas": ({}, [i / 16 for i in range(33)]),
    "lowrank": ({}, [i / 8 for i in range(25)]),
}


def quality(args) -> None:
    """Effect at the chosen strength (neutral perplexity rise within budget) per concept and method, AxBench's
    three axes at that strength, and the prompting and prompting-plus-best-method baselines."""
    import torch

    torch.set_num_threads(args.threads)
    from mechscope.data.embed import get_embedder
    from mechscope.models import load
    from mechscope.steer import evaluate_steering, load_concept, make_method
    from mechscope.steer.concepts import read_sentences
    from mechscope.steer.evaluate import evaluate_prompting
    from mechscope.steer.axes import add_axes, calibrate

    model = load(args.model)
    embed = get_embedder("minilm").embed
    methods = [m for m in QUALITY_METHODS if m in args.methods.split(",")]
    rows, docs = [], {}
    for name in args.concepts.split(","):
        c = load_concept(name)
        prompts = c.prompts[:args.prompts]
        kw = dict(lexicon=c.lexicon, max_new_tokens=args.tokens, seed=0)
        prompting = evaluate_prompting(model, c.instruction, prompts, c.neutral, keep_texts=True, **kw)
        docs[name] = {"prompting": prompting}
        judges = None
        best = None
        for label in methods:
            params, grid = QUALITY_METHODS[label]
            method = label.split("@")[0]
            t0 = time.perf_counter()
            steering = make_method(method, **params).fit(model, c.source, c.target)
            fit_s = time.perf_counter() - t0
            doc = evaluate_steering(model, steering, prompts, c.neutral, strengths=grid, generate_for="chosen",
                                    max_ppl_rise=args.max_ppl_rise, keep_texts=True, **kw)
            if judges is None:
                other = read_sentences("heldout.txt") + c.source
                judges = calibrate(model, embed, c.instruction, c.target, other, prompts,
                                   doc["unsteered"]["texts"], c.lexicon)
                add_axes(model, prompting, judges, prompts)
            add_axes(model, doc, judges, prompts)
            doc["fit_seconds"] = fit_s
            doc["fit_report"] = steering.fit_report()
            docs[name][label] = doc
            ch = doc["chosen"] or doc["unsteered"]
            rows.append(_quality_row(name, label, doc["chosen_strength"], ch, doc["unsteered"]))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "examples"}), flush=True)
            if doc["chosen"] and (best is None or ch["effect"] > best[2]["effect"]):
                best = (label, steering, ch)
        unsteered = docs[name][methods[0]]["unsteered"]
        rows.append(_quality_row(name, "prompting", None, prompting, unsteered))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "examples"}), flush=True)
        if best is not None:
            both = evaluate_prompting(model, c.instruction, prompts, c.neutral, keep_texts=True, steering=best[1],
                                      strength=best[2]["strength"], **kw)
            add_axes(model, both, judges, prompts)
            docs[name]["prompting+best"] = both
            rows.append(_quality_row(name, f"prompting+{best[0]}", best[2]["strength"], both, unsteered))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "examples"}), flush=True)
        rows.append(_quality_row(name, "unsteered", None, unsteered, unsteered))
        for d in docs[name].values():
            for r in [d, d.get("unsteered") or {}, *d.get("sweep", [])]:
                r.pop("texts", None)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"rows": rows, "docs": docs}, f, indent=1, default=str)
    print("\n| concept | method | strength | Δppl | KL | lexicon rate | x unsteered | concept | instr. | fluency "
          "| harmonic | VADER | gen ppl | distinct-2 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        s = "-" if r["strength"] is None else f"{r['strength']:g}"
        ax = r["axes"] or {}
        a = lambda k: "-" if k not in ax else f"{ax[k]:.2f}"  # noqa: E731
        print(f"| {r['concept']} | {r['method']} | {s} | {r['delta_ppl']:+.1%} | {r['kl']:.3f} | {r['lexicon']:.1%} "
              f"| {r['ratio']} | {a('concept')} | {a('instruction')} | {a('fluency')} | {a('harmonic')} "
              f"| {r['vader']:+.2f} | {r['gen_ppl']:.1f} | {r['distinct2']:.2f} |")


def _quality_row(concept, method, strength, r, unsteered) -> dict:
    lex, base = r["effects"]["lexicon"], unsteered["effects"]["lexicon"]
    return {"concept": concept, "method": method, "strength": strength, "delta_ppl": r["delta_ppl"], "kl": r["kl"],
            "top1": r["top1_agreement"], "lexicon": lex,
            "ratio": "-" if base == 0 and lex == 0 else ("inf" if base == 0 else f"{lex / base:.1f}"),
            "vader": r["effects"]["vader"], "toxicity": r["effects"]["toxicity"], "gen_ppl": r["gen_ppl"] or 0.0,
            "distinct2": r["distinct2"], "axes": r.get("axes"), "examples": r["examples"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--concept", default="wedding")
    ap.add_argument("--layer", type=int, default=10)
    ap.add_argument("--prompts", type=int, default=40)
    ap.add_argument("--tokens", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quality", action="store_true", help="effect and damage per concept and method, not speed")
    ap.add_argument("--concepts", default="wedding,ocean,positive")
    ap.add_argument("--methods", default=",".join(QUALITY_METHODS), help="--quality: methods to fit, of "
                    + ", ".join(QUALITY_METHODS))
    ap.add_argument("--max-ppl-rise", type=float, default=0.25)
    ap.add_argument("--out", default=None, help="write the --quality results as JSON here")
    args = ap.parse_args()
    if args.quality:
        quality(args)
        return

    import numpy as np
    import torch

    if not hasattr(np, "float_"):
        np.float_ = np.float64  # repeng 0.4 on NumPy 2
    torch.set_num_threads(args.threads)
    from mechscope.models import load
    from mechscope.steer import generate, load_concept
    from mechscope.steer.act import LinearAcT, MeanAcT
    from mechscope.steer.lineas import LinEAS
    from mechscope.steer.lowrank import LowRankSteer
    from mechscope.steer.vectors import DiffMean

    model = load(args.model)
    c = load_concept(args.concept)
    src, tgt = c.source, c.target
    prompts = (c.prompts * (args.prompts // len(c.prompts) + 1))[:args.prompts]
    L = args.layer
    fit, gen, checks = {}, {}, {}

    fit["mechscope diffmean (1 layer)"], dm = _timed(
        lambda: DiffMean(layers=str(L), pooling="last").fit(model, src, tgt), args.repeats)
    fit["mechscope linear-act (all blocks)"], act = _timed(
        lambda: LinearAcT(sites="block").fit(model, src, tgt), args.repeats)
    fit["mechscope mean-act (all blocks)"], _ = _timed(
        lambda: MeanAcT(sites="block").fit(model, src, tgt), args.repeats)
    # trained through the model: timed once (each fit is many forward and backward passes)
    fit[f"mechscope lineas (all attn-norms, {LinEAS().steps} steps)"], lin = _timed(
        lambda: LinEAS().fit(model, src, tgt), 1)
    fit[f"mechscope lowrank (layer 10, {LowRankSteer().steps} steps)"], low = _timed(
        lambda: LowRankSteer().fit(model, src, tgt), 1)
    vector = dm.state_[f"{model.adapter.layers}.{L}"]["vector"]
    sv = rp = None
    try:
        import steering_vectors as sv
    except ImportError:
        pass
    try:
        import repeng as rp
    except ImportError:
        pass
    if sv is not None:
        pairs = list(zip(tgt, src))
        fit["steering-vectors train_steering_vector"], trained = _timed(
            lambda: sv.train_steering_vector(model.hf, model.tokenizer, pairs, layers=[L], read_token_index=-1,
                                             show_progress=False, batch_size=16), args.repeats)
        checks["max |diffmean - steering-vectors|"] = float((trained.layer_activations[L] - vector).abs().max())
    if rp is not None:
        entries = [rp.DatasetEntry(positive=t, negative=s) for s, t in zip(src, tgt)]
        model.tokenizer.pad_token_id = model.tokenizer.pad_token_id or model.tokenizer.eos_token_id

        def repeng_fit():
            cm = rp.ControlModel(model.hf, [L])
            try:
                return rp.ControlVector.train(cm, model.tokenizer, entries, batch_size=16, method="pca_diff")
            finally:
                cm.unwrap()
        fit["repeng ControlVector.train (pca_diff)"], _ = _timed(repeng_fit, args.repeats)

    kw = dict(max_new_tokens=args.tokens, temperature=0.0)
    gen["unsteered"], base_texts = _timed(lambda: generate(model, prompts, **kw), args.repeats)
    gen["mechscope diffmean (1 layer)"], _ = _timed(
        lambda: generate(model, prompts, steering=dm, strength=4.0, **kw), args.repeats)
    gen["mechscope linear-act (all blocks)"], _ = _timed(
        lambda: generate(model, prompts, steering=act, strength=0.5, **kw), args.repeats)
    gen["mechscope lineas (all attn-norms)"], _ = _timed(
        lambda: generate(model, prompts, steering=lin, strength=1.0, **kw), args.repeats)
    gen["mechscope lowrank (1 layer)"], _ = _timed(
        lambda: generate(model, prompts, steering=low, strength=1.0, **kw), args.repeats)
    if sv is not None:
        steer_vec = sv.SteeringVector(layer_activations={L: vector}, layer_type="decoder_block")

        def with_sv():
            with steer_vec.apply(model.hf, multiplier=4.0):
                return generate(model, prompts, **kw)
        gen["steering-vectors (1 layer)"], sv_texts = _timed(with_sv, args.repeats)
        ours = generate(model, prompts, steering=dm, strength=4.0, **kw)
        checks["same greedy text as steering-vectors"] = sum(a == b for a, b in zip(ours, sv_texts)) / len(ours)
    if rp is not None:
        def with_repeng():
            cm = rp.ControlModel(model.hf, [L])
            try:
                cm.set_raw_control({L: 4.0 * vector})
                return generate(model, prompts, **kw)
            finally:
                cm.reset()
                cm.unwrap()
        gen["repeng ControlModel (1 layer)"], _ = _timed(with_repeng, args.repeats)

    doc = {"model": args.model, "concept": args.concept, "layer": L, "n_source": len(src), "n_target": len(tgt),
           "prompts": len(prompts), "new_tokens": args.tokens, "threads": args.threads, "repeats": args.repeats,
           "fit_seconds": fit, "generation_seconds": gen,
           "generation_overhead": {k: v / gen["unsteered"] - 1 for k, v in gen.items()}, "checks": checks,
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    print(f"{args.model}, concept {args.concept}: {len(src)}+{len(tgt)} sentences, {len(prompts)} prompts x "
          f"{args.tokens} tokens, {args.threads} threads, median of {args.repeats}")
    print("\nfit                                          seconds   vs mechscope diffmean")
    ref = fit["mechscope diffmean (1 layer)"]
    for k, v in fit.items():
        print(f"  {k:42s} {v:8.2f}   {v / ref:6.2f}x")
    print("\ngeneration                                   seconds   overhead vs unsteered")
    for k, v in gen.items():
        print(f"  {k:42s} {v:8.2f}   {v / gen['unsteered'] - 1:+7.1%}")
    for k, v in checks.items():
        print(f"check: {k} = {v:.3g}")
    print(f"peak resident memory of the whole run (model, peers and all fits): {doc['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
