"""Scored descriptions of SmolLM2's units: the explainer/simulator protocol against random descriptions.

    .venv/bin/python benchmarks/describe_units.py [--mlp 40] [--resid 20] [--steering FILE ...] [--seed 0]
    .venv/bin/python benchmarks/describe_units.py --mlp 40 --resid 20 --smollm2 --llm-units 6

Offline (token explainer and simulator) on every sampled unit; with --smollm2 the
embedded SmolLM2-135M-Instruct, served in-process, also explains a subset
(scored by the token simulator, and by itself as the simulator).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path

import torch

from mechscope.describe.simulate import LLMExplainer, LLMSimulator
from mechscope.describe.unit_scores import METRICS, sample_units, score_units, scoring_corpus, steering_units
from mechscope.models import load


def _table(res: dict, title: str) -> None:
    print(f"\n{title}\n\n| units | metric | explained mean | median | p10-p90 | random mean | median | p10-p90 |")
    print("|---|---|---|---|---|---|---|---|")
    for kind, metrics in res["summary"].items():
        for m in METRICS:
            e, r = metrics[m]["explained"], metrics[m]["random"]
            if not e.get("n"):
                continue
            print(
                f"| {kind} ({e['n']}) | {m} | {e['mean']:.3f} | {e['median']:.3f} | {e['p10']:.2f} to {e['p90']:.2f} "
                f"| {r['mean']:.3f} | {r['median']:.3f} | {r['p10']:.2f} to {r['p90']:.2f} |"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mlp", type=int, default=40)
    ap.add_argument("--resid", type=int, default=20)
    ap.add_argument("--steering", nargs="*", default=[])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smollm2", action="store_true", help="also use the embedded model as explainer and simulator")
    ap.add_argument("--llm-units", type=int, default=6, help="units the embedded model explains")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    model = load("smollm2-135m")
    units: list = sample_units(model, args.mlp, args.resid, args.seed)
    for path in args.steering:
        units += steering_units(path)
    texts = scoring_corpus(args.seed)
    t0 = time.perf_counter()
    res = score_units(model, units, texts=texts, seed=args.seed)
    print(f"{len(units)} units of smollm2-135m on {len(texts)} texts, offline: {time.perf_counter() - t0:.0f} s")
    _table(res, "token explainer, token simulator")
    out = {"offline": res}
    if args.smollm2:
        from mechscope.describe.serve import make_server

        server = make_server(model, port=0, max_tokens=200)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        sub = units[: args.llm_units // 2] + units[args.mlp : args.mlp + args.llm_units - args.llm_units // 2]
        for name, sim in (("token simulator", None), ("SmolLM2 simulator", LLMSimulator(url, "smollm2"))):
            t0 = time.perf_counter()
            r = score_units(model, sub, LLMExplainer(url, "smollm2"), sim, texts=texts, seed=args.seed)
            print(f"\nSmolLM2 explainer, {name}: {len(sub)} units, {time.perf_counter() - t0:.0f} s")
            for row in r["units"]:
                print(f"  {row['unit']}: {row['description'][:100]!r} correlation {row['scores']['correlation']:.3f}")
            _table(r, f"SmolLM2-135M explainer, {name}")
            out[f"smollm2-{name}"] = r
        server.shutdown()
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
