"""What a person with a GPU runs first: is mechscope exact and fast on this machine?

On the CPU and on each GPU device asked for, side by side:

1. `verify` on every family's tiny random model, float32 (tolerance 1e-4) and bfloat16
   (against HF's own bfloat16 run), and on SmolLM2-135M;
2. EAP-IG (5 steps) on SmolLM2 with 32 IOI prompts, CPU-encoded (the engine must move
   them), and the agreement of the GPU scores with the CPU ones;
3. a DiffMean steering fit on the ocean concept and 20 steered tokens for 4 prompts;
4. the command line on the GPU: `steer fit`, `compare` and `discover` with ``--device D --dtype bfloat16``
   (each must run in bfloat16: the model fingerprint it reports is the bfloat16 model's), and a bad
   ``--device cuda:99`` (one `error:` line, exit 2);
5. device maps (`device_map_check`): a model split over two devices, compared with the one-device run
   (forward logits, a patched run, EAP scores): with one GPU, the first half of the layers on the CPU and the
   rest on the GPU (each computes where it sits), and the GPU with layer 1 offloaded to the CPU; with two GPUs
   or more, half the layers on cuda:0 and half on cuda:1; and ``map:auto`` on SmolLM2;
6. the memory budget: EAP on SmolLM2 with a ``max_memory`` that splits the batch of 16 into batches of 2,
   against the unsplit scores.

Prints one line per check with CPU and GPU seconds, and a JSON document at the end.
Without CUDA it runs the CPU column of 1-3 only and says so.

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
    from mechscope.discover.attribution import eap_ig
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
    from mechscope.steer import generate, load_concept
    from mechscope.steer.vectors import DiffMean

    model = load("smollm2-135m", device=device, dtype="float32")
    concept = load_concept("ocean")
    fitted, fit_seconds = _timed(lambda: DiffMean(layers="10").fit(model, concept.source[:64], concept.target[:64]))
    prompts = ["Tell me about your day.", "What should I cook tonight?", "Describe a city.", "Write a short poem."]
    texts, gen_seconds = _timed(lambda: generate(model, prompts, steering=fitted, strength=4.0, max_new_tokens=20))
    return texts, fit_seconds, gen_seconds


def _cli(*args: str) -> tuple[int, str, str, float]:
    import subprocess
    import sys

    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "mechscope", *args], capture_output=True, text=True, timeout=600)
    return res.returncode, res.stdout, res.stderr, time.perf_counter() - t0


def _device_options(device: str) -> list[dict]:
    """Model-loading commands with --device/--dtype on the GPU: they run, and in bfloat16."""
    import tempfile

    from mechscope.models import load

    rows = []
    want = load("random:llama-tiny", dtype="bfloat16").fingerprint
    with tempfile.TemporaryDirectory() as tmp:
        opts = ("--device", device, "--dtype", "bfloat16", "--json")
        code, out, err, sec = _cli("steer", "fit", "-m", "random:llama-tiny", "--method", "diffmean", "--concept",
                                   "wedding", "--layers", "1", "-o", f"{tmp}/w.safetensors", "--no-record", *opts)
        fp = json.loads(out)["model"]["fingerprint"] if code == 0 else None
        rows.append({"check": "cli steer fit", "device": device, "ok": code == 0 and fp == want, "seconds": sec,
                     "error": err.strip()[-300:] if code else None})
        code, out, err, sec = _cli("compare", "random:llama-tiny", "random:llama-tiny:1", "--n", "8", "--circuits",
                                   "none", "--no-latency", "--no-record", *opts)
        fp = json.loads(out)["base"]["fingerprint"] if code == 0 else None
        rows.append({"check": "cli compare", "device": device, "ok": code == 0 and fp == want, "seconds": sec,
                     "error": err.strip()[-300:] if code else None})
        code, out, err, sec = _cli("discover", "-m", "random:llama-tiny", "--n", "8", "--method", "eap", "--edges",
                                   "20", "--no-record", *opts)
        rows.append({"check": "cli discover eap", "device": device, "ok": code == 0, "seconds": sec,
                     "error": err.strip()[-300:] if code else None})
    code, out, err, sec = _cli("graph", "random:llama-tiny", "--device", "cuda:99")
    lines = [x for x in err.splitlines() if x.strip()]
    rows.append({"check": "cli --device cuda:99", "device": device, "seconds": sec,
                 "ok": code == 2 and len(lines) == 1 and lines[0].startswith("error: invalid value for '--device'"),
                 "error": err.strip()})
    return rows


def _halves(model, first: str, second: str) -> dict:
    """A device map: the embedding and the first half of the layers on `first`, the rest on `second`."""
    from mechscope.models.placement import layered_device_map

    half = model.adapter.n_layers // 2
    return layered_device_map(model, lambda i: first if i < half else second, embed=first, rest=second, head=second)


def _compare_placements(spec: str, reference_device: str, device_map, label: str) -> dict:
    import torch

    from mechscope.discover.attribution import eap
    from mechscope.graph import EdgeMask, Graph, run, source_outputs
    from mechscope.models import load
    from mechscope.tasks import load_task

    ref = load(spec, device=reference_device, dtype="float32")
    if device_map == "halves-cpu-gpu":
        device_map = _halves(ref, "cpu", "cuda:0")
    elif device_map == "halves-2gpu":
        device_map = _halves(ref, "cuda:0", "cuda:1")
    elif device_map == "gpu-offload-layer1":
        device_map = {**_halves(ref, "cuda:0", "cuda:0"), f"{ref.adapter.layers}.1": "cpu"}
    sharded = load(spec, device_map=device_map, dtype="float32")
    enc = load_task("ioi", n=8).encode(ref.tokenizer)
    out = {"check": "device map", "model": spec, "map": label,
           "devices": sorted({str(d) for d in sharded.device_map.values()}), "fingerprint_equal":
           sharded.fingerprint == ref.fingerprint}
    errs, secs = {}, {}
    for name, fn in {
        "forward": lambda g: run(g, enc.clean_ids, enc.attention_mask, positions=enc.positions),
        "patched": lambda g: run(g, enc.clean_ids, enc.attention_mask, positions=enc.positions,
                                 patch=source_outputs(g, enc.corrupt_ids, enc.attention_mask),
                                 mask=EdgeMask({k: (torch.rand(t.shape, generator=torch.Generator().manual_seed(0))
                                                    < 0.3).float() for k, t in EdgeMask.zeros(g).tensors.items()})),
        "eap": lambda g: eap(g, enc),
    }.items():
        a, _ = _timed(lambda: fn(Graph.from_model(ref)))
        b, secs[name] = _timed(lambda: fn(Graph.from_model(sharded)))
        if isinstance(a, dict):
            errs[name] = max(float((a[k].cpu() - b[k].cpu()).abs().max()) for k in a)
        else:
            errs[name] = float((a.cpu() - b.cpu()).abs().max())
    out.update(errors=errs, seconds=secs, passed=out["fingerprint_equal"] and all(e <= 1e-4 for e in errs.values()))
    return out


def device_map_check() -> list[dict]:
    """Models split over devices against one device (see the module docstring, 5)."""
    import torch

    rows = []
    for spec in ("random:llama-tiny", "random:gemma2-tiny", "random:gpt2-tiny", "smollm2-135m"):
        rows.append(_compare_placements(spec, "cuda:0", "halves-cpu-gpu", "CPU + cuda:0"))
        rows.append(_compare_placements(spec, "cuda:0", "gpu-offload-layer1", "cuda:0, layer 1 offloaded to CPU"))
        if torch.cuda.device_count() > 1:
            rows.append(_compare_placements(spec, "cuda:0", "halves-2gpu", "cuda:0 + cuda:1"))
    rows.append(_compare_placements("smollm2-135m", "cuda:0", "auto", "map:auto"))
    return rows


def memory_check(device: str) -> dict:
    """EAP with the batch split by a memory budget equals the unsplit scores (see the module docstring, 6)."""
    from mechscope.discover.attribution import eap
    from mechscope.graph import Graph
    from mechscope.graph.memory import bytes_per_example, plan_batch
    from mechscope.models import load
    from mechscope.tasks import load_task

    model = load("smollm2-135m", device=device, dtype="float32")
    graph = Graph.from_model(model)
    enc = load_task("ioi", n=16).encode(model.tokenizer)
    seq = int(enc.positions.max()) + 1
    budget = 2 * bytes_per_example(graph, seq, grad=True) + 1
    plan = plan_batch(graph, seq, 16, budget, grad=True)
    whole, t_whole = _timed(lambda: eap(graph, enc, batch_size=16, max_memory="1TiB"))
    split, t_split = _timed(lambda: eap(graph, enc, batch_size=16, max_memory=budget))
    err = max(float((whole[k] - split[k]).abs().max()) for k in whole)
    scale = max(float(whole[k].abs().max()) for k in whole)
    return {"check": "memory budget", "device": device, "plan": plan.note, "batch": plan.batch_size,
            "max_abs_diff": err, "max_abs_score": scale, "passed": plan.batch_size == 2 and err <= 1e-5 * scale,
            "seconds_unsplit": t_whole, "seconds_split": t_split}


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
    if args.device:
        for r in _device_options(args.device):
            doc["rows"].append(r)
            print(f"{r['check']:24s} {args.device}: {'ok  ' if r['ok'] else 'FAIL'} {r['seconds']:6.2f} s"
                  + (f"  {r['error']}" if not r["ok"] and r["error"] else ""), flush=True)
        for r in device_map_check():
            doc["rows"].append(r)
            errs = " ".join(f"{k} {v:.1e}" for k, v in r["errors"].items())
            print(f"device map {r['model']:20s} {r['map']:34s} {'ok  ' if r['passed'] else 'FAIL'} {errs}  "
                  + " ".join(f"{k} {v:.2f}s" for k, v in r["seconds"].items()), flush=True)
        r = memory_check(args.device)
        doc["rows"].append(r)
        print(f"memory budget on {args.device}: {r['plan']}; max |split - unsplit| {r['max_abs_diff']:.1e} "
              f"(scores up to {r['max_abs_score']:.2g}) {'ok' if r['passed'] else 'FAIL'}; "
              f"{r['seconds_unsplit']:.2f} s unsplit, {r['seconds_split']:.2f} s split", flush=True)
    doc["all_passed"] = all(r.get("passed", r.get("ok", True)) for r in doc["rows"])
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
