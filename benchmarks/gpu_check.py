"""What a person with a GPU runs first: is mechscope exact and fast on this machine?

On the CPU and on each GPU device asked for, side by side:

1. `verify` on every family's tiny random model, float32 (tolerance 1e-4) and bfloat16
   (against HF's own bfloat16 run), and on SmolLM2-135M;
2. EAP-IG (5 steps) on SmolLM2 with 32 IOI prompts, CPU-encoded (the engine must move
   them), and the agreement of the GPU scores with the CPU ones;
3. a DiffMean steering fit on the ocean concept and 20 steered tokens for 4 prompts.

Prints one line per check with CPU and GPU seconds, and a JSON document at the end.
Without CUDA it runs the CPU column only and says so.

    python benchmarks/gpu_check.py                 # cuda:0 if present
    python benchmarks/gpu_check.py --device cuda:1 --skip-cpu
"""

from __future__ import annotations

import argparse
import json
import time


def _timed(fn):
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def _verify_all(device: str) -> list[dict]:
    import torch

    from mechscope.graph.verify import verify
    from mechscope.models import FAMILIES

    rows = []
    specs = [f"random:{f.spec_name}-tiny" for f in FAMILIES.values()] + ["smollm2-135m"]
    for spec in specs:
        for dtype in (torch.float32, torch.bfloat16):
            report, seconds = _timed(lambda: verify(spec, dtype=dtype, device=device))
            rows.append({"check": "verify", "model": spec, "dtype": report["dtype"], "device": device,
                         "passed": report["passed"], "tolerance": report["tolerance"],
                         "errors": [report["max_abs_err_unpatched"], report["max_abs_err_all_patched"],
                                    report["max_abs_err_edge_patch"]], "seconds": seconds})
    return rows


def _eap_ig(device: str):
    from mechscope.discover import eap_ig
    from mechscope.graph import Graph
    from mechscope.models import load
    from mechscope.tasks import load_task

    model = load("smollm2-135m", device=device, dtype="float32")
    graph = Graph.from_model(model)
    enc = load_task("ioi", n=32).encode(model.tokenizer)  # on the CPU on purpose
    scores, seconds = _timed(lambda: eap_ig(graph, enc, steps=5, batch_size=16))
    return {k: v.cpu() for k, v in scores.items()}, seconds


def _steering(device: str) -> tuple[list[str], float, float]:
    from mechscope.models import load
    from mechscope.steer import DiffMean, generate, load_concept

    model = load("smollm2-135m", device=device, dtype="float32")
    concept = load_concept("ocean")
    fitted, fit_seconds = _timed(lambda: DiffMean(layers="10").fit(model, concept.source[:64], concept.target[:64]))
    prompts = ["Tell me about your day.", "What should I cook tonight?", "Describe a city.", "Write a short poem."]
    texts, gen_seconds = _timed(lambda: generate(model, prompts, steering=fitted, strength=4.0, max_new_tokens=20))
    return texts, fit_seconds, gen_seconds


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else None)
    parser.add_argument("--skip-cpu", action="store_true", help="only the GPU column")
    args = parser.parse_args()
    devices = ([] if args.skip_cpu else ["cpu"]) + ([args.device] if args.device else [])
    if not args.device:
        print("no CUDA device: CPU column only")
    else:
        print(f"GPU: {torch.cuda.get_device_name(torch.device(args.device))}, torch {torch.__version__}")
    doc: dict = {"devices": devices, "torch": torch.__version__, "rows": []}
    for device in devices:
        rows = _verify_all(device)
        doc["rows"] += rows
        for r in rows:
            errs = " ".join(f"{e:.1e}" for e in r["errors"])
            print(f"verify {r['model']:24s} {r['dtype']:9s} {device:7s} {'ok  ' if r['passed'] else 'FAIL'} "
                  f"errors {errs} (tol {r['tolerance']:.1e})  {r['seconds']:6.2f} s", flush=True)
    scores = {}
    for device in devices:
        scores[device], seconds = _eap_ig(device)
        doc["rows"].append({"check": "eap-ig smollm2 ioi 32 prompts", "device": device, "seconds": seconds})
        print(f"eap-ig SmolLM2 IOI x32, 5 steps on {device}: {seconds:.2f} s", flush=True)
    if len(devices) == 2:
        a = torch.cat([t.flatten() for t in scores[devices[0]].values()])
        b = torch.cat([t.flatten() for t in scores[devices[1]].values()])
        agreement = float(torch.corrcoef(torch.stack([a, b]))[0, 1])
        top_a = set(a.abs().topk(500).indices.tolist())
        top_b = set(b.abs().topk(500).indices.tolist())
        doc["eap_ig_cpu_gpu"] = {"pearson": agreement, "top500_overlap": len(top_a & top_b) / 500,
                                 "max_abs_diff": float((a - b).abs().max())}
        print(f"eap-ig CPU vs GPU: Pearson {agreement:.6f}, top-500 overlap {len(top_a & top_b) / 500:.3f}")
    for device in devices:
        texts, fit_s, gen_s = _steering(device)
        doc["rows"].append({"check": "steer diffmean ocean", "device": device, "fit_seconds": fit_s,
                            "generate_seconds": gen_s, "sample": texts[0]})
        print(f"steer DiffMean ocean on {device}: fit {fit_s:.2f} s, generate 4x20 tokens {gen_s:.2f} s: "
              f"{texts[0]!r}", flush=True)
    doc["all_verify_passed"] = all(r["passed"] for r in doc["rows"] if r["check"] == "verify")
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
