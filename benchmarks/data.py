"""Seconds to map 1,000 and 10,000 prompts, and prompts kept per minute by each augmentation method.

    python benchmarks/data.py [--sizes 1000,10000] [--augment] [--threads 2] [--json out.json]

Prompts for the timing are made from templates (topic x question form x detail: about 12,000 distinct
sentences), written for this benchmark. Each size is mapped twice: first with embeddings computed
(MiniLM, then cached), then again with them cached; both times are reported per stage (embedding,
projection, clustering, empty regions). `--augment` times each method on the shipped everyday set with
SmolLM2-135M (llm aimed at the uncovered reference rows, interpolate between two prompts, concept
"wedding") and reports kept prompts per minute.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import tempfile
import time
from pathlib import Path

TOPICS = {
    "cooking": ["bake bread", "roast a chicken", "cook rice", "make soup", "fry eggs", "grill fish", "make pasta",
                "bake a cake", "make curry", "steam vegetables"],
    "travel": ["book a flight", "pack a suitcase", "renew a passport", "find a hotel", "rent a car",
               "plan a road trip", "catch a night train", "get a visa", "exchange money", "avoid jet lag"],
    "money": ["save for a house", "pay off a credit card", "start investing", "file my taxes", "make a budget",
              "open a pension", "pay off student loans", "improve my credit score", "buy shares", "cut my bills"],
    "health": ["sleep better", "start running", "lift weights", "eat more protein", "lower my blood pressure",
               "stretch after exercise", "lose weight", "drink more water", "reduce stress", "fix my posture"],
    "code": ["reverse a list in Python", "undo a git commit", "write a SQL join", "centre a div with CSS",
             "read a CSV file", "fix a memory leak", "write a unit test", "call a REST API", "sort a dictionary",
             "set up a virtual environment"],
    "home": ["fix a leaking tap", "unclog a sink", "patch a hole in a wall", "bleed a radiator", "paint a room",
             "change a light switch", "hang a shelf", "insulate a loft", "remove mould", "fix a squeaky door"],
}
FORMS = ["How do I {a}?", "What is the best way to {a}?", "Can you explain how to {a}?", "Is it hard to {a}?",
         "What should I know before I {a}?", "Give me three tips to {a}.", "What mistakes do people make when "
         "they {a}?", "How long does it take to {a}?", "Why is it so hard to {a}?", "What do I need to {a}?"]
DETAILS = ["", " on a budget", " as a beginner", " quickly", " at the weekend", " without special tools",
           " for a family of four", " in winter", " for the first time", " safely", " with little time",
           " in a small flat", " step by step", " properly", " like a professional", " with my kids", " at night",
           " without making a mess", " in under an hour", " when I am tired"]


def synthetic_prompts(n: int, seed: int = 0) -> list[str]:
    """`n` distinct template prompts (topic action x question form x detail), shuffled by `seed`."""
    actions = [a for acts in TOPICS.values() for a in acts]
    texts = []
    for a, f, d in itertools.product(actions, FORMS, DETAILS):
        text = f.format(a=a + d) if f.endswith("?") or f.endswith(".") else f.format(a=a) + d
        texts.append(text)
    random.Random(seed).shuffle(texts)
    if n > len(texts):
        raise SystemExit(f"at most {len(texts)} distinct synthetic prompts")
    return texts[:n]


def time_map(n: int, folder: Path) -> dict:
    from mechscope.data import map_prompts, read_prompts
    from mechscope.data.embed import get_embedder
    from mechscope.data.embed import cache_path

    path = folder / f"synthetic-{n}.txt"
    path.write_text("\n".join(synthetic_prompts(n)) + "\n", encoding="utf-8")
    cached = cache_path(read_prompts(path), get_embedder("minilm").space)
    cached.unlink(missing_ok=True)  # the first run embeds: cold
    runs = {}
    for label in ("cold", "cached"):
        t0 = time.perf_counter()
        m = map_prompts(read_prompts(path))
        runs[label] = {"total": round(time.perf_counter() - t0, 2), **m.seconds,
                       "clusters": len(m.clusters) - any(c.id < 0 for c in m.clusters),
                       "regions": len(m.empty_regions)}
        print(f"map {n:>6} prompts, {label:6}: {runs[label]}", flush=True)
    cached.unlink(missing_ok=True)
    return runs


def time_augment() -> dict:
    import mechscope
    from mechscope.data import augment, read_prompts

    model = mechscope.load("smollm2-135m")
    prompts = read_prompts("everyday.jsonl")
    jobs = {
        "llm": dict(method="llm", reference="everyday_reference.jsonl", n=20),
        "interpolate": dict(method="interpolate", between=(0, 24), n=5),
        "concept": dict(method="concept", concept="wedding", n=10),
    }
    out = {}
    for name, kwargs in jobs.items():
        t0 = time.perf_counter()
        a = augment(prompts, generator=model, max_candidates=64, seed=0, **kwargs)
        seconds = time.perf_counter() - t0
        out[name] = {"kept": a.kept, "generated": a.generated, "seconds": round(seconds, 1),
                     "kept_per_minute": round(60 * a.kept / seconds, 2),
                     "generated_per_minute": round(60 * a.generated / seconds, 2)}
        print(f"augment {name:12}: {out[name]}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--augment", action="store_true", help="also time the augmentation methods")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    doc = {"threads": args.threads, "map": {}}
    with tempfile.TemporaryDirectory(prefix="mechscope-bench-data-") as tmp:
        for n in (int(s) for s in args.sizes.split(",") if s):
            doc["map"][n] = time_map(n, Path(tmp))
    if args.augment:
        doc["augment"] = time_augment()
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
