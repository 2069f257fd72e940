"""Time mechscope's discovery methods and cross-check its EAP against AutoCircuit's.

For each random GPT-2 (default: ``random:gpt2-tiny`` and ``random:gpt2-small``),
on IOI prompts of one token length (so that AutoCircuit needs no padding):

- mechscope: time of ``eap``, ``eap-ig`` (5 steps) and, where the graph is small
  enough, ``exact`` (one forward pass per edge).
- AutoCircuit (``auto-circuit`` on TransformerLens), in its own venv
  ``.venv-autocircuit`` (see benchmarks/README.md): the SAME weights, converted
  with TransformerLens's GPT-2 conversion and no layer-norm folding, the same
  prompts, resample ablation and logit-difference metric. Its EAP scores are
  matched to mechscope's by edge name; printed: edge counts, Spearman and
  Pearson correlation over all edges, the largest score difference, and the
  time ratio AutoCircuit / mechscope.

AutoCircuit minimises ``loss = -mean logit diff``, so its score is
``-(d metric / d mask)``: the opposite sign of mechscope's, whose scores
estimate ``metric(edge patched) - metric(clean)``. Both multiply the gradient
by ``patch - clean`` (mask 1 = the edge reads the corrupt value). Correlations
are printed for mechscope against ``-AutoCircuit``.

Each side times best-of-``--repeats`` after a warm-up, in-process, with the same
number of threads (``--threads``, default 1). The model wrapping that AutoCircuit
does once per model (``patchable_model``) is reported apart, not in its EAP time.

    python benchmarks/discovery.py [--model random:gpt2-tiny] [--prompts 16] [--repeats 3] [--smollm2]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

from _peers import correlations, run_peer

ROOT = Path(__file__).resolve().parent.parent
AC_PYTHON = ROOT / ".venv-autocircuit" / "bin" / "python"
AC_HELPER = Path(__file__).resolve().parent / "_autocircuit_eap.py"
IG_STEPS = 5
EXACT_LIMIT = 2_000  # edges; exact patching does one forward pass per edge
AC_INSTALL = """\
  python3 -m venv .venv-autocircuit
  .venv-autocircuit/bin/pip install torch==2.13.0
  .venv-autocircuit/bin/pip install auto-circuit==1.0.1 transformer-lens==2.18.0 attrs 'pyarrow<20' 'datasets<4'"""


def _best(f, repeats: int):
    """(result of the warm-up call, best time of `repeats` further calls)."""
    t0 = time.perf_counter()
    out = f()
    times = [time.perf_counter() - t0] if repeats < 1 else []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return out, min(times)


def equal_length_ioi(tokenizer, n: int, pool: int | None = None):
    """`n` IOI examples whose prompts all have the most common token length: an EncodedTask with no padding."""
    import torch

    from mechscope.tasks import load_task

    enc = load_task("ioi", n=pool or 4 * n).encode(tokenizer)
    lengths = (enc.positions + 1).tolist()
    length, count = collections.Counter(lengths).most_common(1)[0]
    if count < n:
        return equal_length_ioi(tokenizer, n, pool=2 * (pool or 4 * n))
    index = torch.tensor([i for i, k in enumerate(lengths) if k == length][:n])
    part = enc.select(index)
    assert bool(part.attention_mask.all()), "equal-length prompts should have no padding"
    return part


def flat_scores(graph, scores) -> dict[str, float]:
    """{edge name: score} over every edge of the graph."""
    return {e.name: float(scores[e.group][e.row, e.col]) for e in graph.edges()}


def ac_to_mechscope(name: str) -> str:
    """AutoCircuit edge name -> mechscope edge name: 'A0.1->A1.2.Q' -> 'a0.h1->a1.h2.q'."""
    src, dest = name.split("->")

    def node(x: str) -> str:
        if x == "Resid Start":
            return "embed"
        if x == "Resid End":
            return "logits"
        if x.startswith("MLP "):
            return f"m{x[4:]}"
        parts = x[1:].split(".")  # A{layer}.{head}[.Q|K|V]
        out = f"a{parts[0]}.h{parts[1]}"
        return out + (f".{parts[2].lower()}" if len(parts) > 2 else "")

    return f"{node(src)}->{node(dest)}"


def run_autocircuit(model, enc, repeats: int, threads: int, reference: bool = False, ig_samples: int = 0) -> dict | None:
    """AutoCircuit's EAP on the same weights and prompts, in `.venv-autocircuit`; None if that venv is missing."""
    if not AC_PYTHON.exists():
        return None
    args = ["--repeats", str(repeats), "--threads", str(threads), "--ig-samples", str(ig_samples)]
    return run_peer(AC_PYTHON, AC_HELPER, model, enc, args + (["--reference"] if reference else []))


def compare(ms: dict[str, float], ac: dict[str, float], scale: float = 1.0) -> dict:
    """Match AutoCircuit scores to mechscope's by name; correlations of mechscope vs -AutoCircuit / `scale`."""
    mapped = {ac_to_mechscope(k): v / scale for k, v in ac.items()}
    common = sorted(set(ms) & set(mapped))
    a = [ms[k] for k in common]
    b = [-mapped[k] for k in common]  # AutoCircuit scores d(-metric)/d mask
    diff = max(abs(x - y) for x, y in zip(a, b))
    scale = max(abs(x) for x in a)
    return {"n_mechscope": len(ms), "n_autocircuit": len(ac), "n_common": len(common),
            "only_mechscope": sorted(set(ms) - set(mapped))[:5], "only_autocircuit": sorted(set(mapped) - set(ms))[:5],
            **correlations(a, b), "max_abs_diff": diff, "max_abs_score": scale,
            "sign": "mechscope = -autocircuit" if correlations(a, b)["pearson"] > 0 else "mechscope = +autocircuit"}


def bench_model(spec: str, n_prompts: int, repeats: int, threads: int, autocircuit: bool = True,
                reference: bool | None = None, ig: bool | None = None, exact_limit: int = EXACT_LIMIT,
                log=print) -> dict:
    """Time mechscope's methods on one model; cross-check EAP against AutoCircuit."""
    import torch

    from mechscope.discover import attribution
    from mechscope.graph import Graph
    from mechscope.models import load

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = load(spec, device="cpu")
    graph = Graph.from_model(model)
    enc = equal_length_ioi(model.tokenizer, n_prompts)
    row: dict = {"model": spec, "n_edges": graph.n_edges, "prompts": len(enc), "seq": enc.clean_ids.shape[1],
                 "threads": torch.get_num_threads(), "seconds": {}}
    bs = len(enc)
    eap, row["seconds"]["eap"] = _best(lambda: attribution.eap(graph, enc, batch_size=bs), repeats)
    log(f"  {spec}: mechscope eap {row['seconds']['eap']:.4f} s")
    _, row["seconds"]["eap-ig"] = _best(lambda: attribution.eap_ig(graph, enc, steps=5, batch_size=bs), repeats)
    log(f"  {spec}: mechscope eap-ig(5) {row['seconds']['eap-ig']:.4f} s")
    ms = flat_scores(graph, eap)
    if ig is None:
        ig = graph.n_edges <= exact_limit
    if ig:
        t0 = time.perf_counter()
        ig_edges = attribution.eap_ig(graph, enc, steps=IG_STEPS, batch_size=bs, interpolate="edges")
        row["seconds"]["eap-ig-edges"] = time.perf_counter() - t0
        log(f"  {spec}: mechscope eap-ig(5, edges) {row['seconds']['eap-ig-edges']:.4f} s")
    if graph.n_edges <= exact_limit:
        t0 = time.perf_counter()
        ex = attribution.exact(graph, enc, batch_size=bs)
        row["seconds"]["exact"] = time.perf_counter() - t0
        ex_flat = flat_scores(graph, ex)
        keys = sorted(ms)
        row["eap_vs_exact"] = correlations([ms[k] for k in keys], [ex_flat[k] for k in keys])
        log(f"  {spec}: mechscope exact {row['seconds']['exact']:.4f} s")
    if autocircuit:
        if reference is None:
            reference = graph.n_edges <= exact_limit
        ac = run_autocircuit(model, enc, repeats, threads, reference=reference, ig_samples=IG_STEPS if ig else 0)
        if ac is None:
            row["autocircuit"] = None
        else:
            row["autocircuit"] = {k: v for k, v in ac.items() if not k.endswith("scores")}
            row["autocircuit"]["compare"] = compare(ms, ac["scores"])
            if "ig_scores" in ac:
                # AutoCircuit sums the gradients at masks k/S, k = 0..S; the k = S term is 0 (every edge
                # patched: patch - current = 0), so its sum is S times mechscope's mean over k = 0..S-1
                row["autocircuit"]["compare_ig"] = compare(flat_scores(graph, ig_edges), ac["ig_scores"], IG_STEPS)
                row["seconds"]["autocircuit_ig"] = ac["ig_seconds"]
            if "reference_scores" in ac:
                row["autocircuit"]["compare_reference"] = compare(ms, ac["reference_scores"])
            row["seconds"]["autocircuit_eap"] = ac["eap_seconds"]
            log(f"  {spec}: AutoCircuit eap {ac['eap_seconds']:.4f} s")
    return row


def bench_smollm2(n_prompts: int, threads: int, log=print) -> dict:
    """eap and eap-ig on SmolLM2-135M, IOI with `n_prompts` (padded, batches of 25), one timed run each."""
    import torch

    from mechscope.discover import attribution
    from mechscope.graph import Graph
    from mechscope.models import load
    from mechscope.tasks import load_task

    torch.set_num_threads(threads)
    model = load("smollm2-135m", device="cpu")
    graph = Graph.from_model(model)
    enc = load_task("ioi", n=n_prompts).encode(model.tokenizer)
    row = {"model": "smollm2-135m", "n_edges": graph.n_edges, "prompts": len(enc), "seq": enc.clean_ids.shape[1],
           "threads": torch.get_num_threads(), "seconds": {}, "timing": "one run each, batches of 25"}
    for name, f in (("eap", lambda: attribution.eap(graph, enc, batch_size=25)),
                    ("eap-ig", lambda: attribution.eap_ig(graph, enc, steps=5, batch_size=25))):
        t0 = time.perf_counter()
        f()
        row["seconds"][name] = time.perf_counter() - t0
        log(f"  smollm2-135m: {name} {row['seconds'][name]:.2f} s")
    return row


def report(rows: list[dict]) -> None:
    for r in rows:
        s = r["seconds"]
        print(f"\n{r['model']}: {r['n_edges']:,} edges, IOI {r['prompts']} prompts x {r['seq']} tokens, "
              f"{r['threads']} thread(s), {r.get('timing', 'best of repeats after a warm-up (exact: one run)')}")
        print(f"  {'method':22s} {'seconds':>9s}")
        for k in ("eap", "eap-ig", "eap-ig-edges", "exact"):
            if k in s:
                print(f"  {'mechscope ' + k:22s} {s[k]:9.4f}")
        if "eap_vs_exact" in r:
            c = r["eap_vs_exact"]
            print(f"  mechscope eap vs exact: spearman {c['spearman']:.4f}, pearson {c['pearson']:.4f}")
        ac = r.get("autocircuit", "skipped")
        if ac is None:
            print(f"  AutoCircuit: skipped, no {AC_PYTHON.relative_to(ROOT)}; create it with\n{AC_INSTALL}")
            continue
        if ac == "skipped":
            continue
        c = ac["compare"]
        print(f"  {'AutoCircuit eap':22s} {ac['eap_seconds']:9.4f}   (+ {ac['wrap_seconds']:.3f} s patchable_model, once)")
        print(f"  time AutoCircuit / mechscope, eap: {ac['eap_seconds'] / s['eap']:.2f}")
        ck = ac["check"]
        print(f"  same model: max |TL - HF| logit {ck['tl_vs_hf_max_abs']:.2e}, "
              f"max |TL - mechscope| {ck['tl_vs_mechscope_max_abs']:.2e} (logits up to {ck['logit_scale']:.2f})")
        print(f"  edges: mechscope {c['n_mechscope']:,}, AutoCircuit {c['n_autocircuit']:,}, matched {c['n_common']:,}"
              + (f"; unmatched {c['only_mechscope']} {c['only_autocircuit']}" if c["only_mechscope"] or c["only_autocircuit"] else ""))
        print(f"  EAP scores, mechscope vs -AutoCircuit: spearman {c['spearman']:.6f}, pearson {c['pearson']:.6f}, "
              f"max |diff| {c['max_abs_diff']:.2e} (max |score| {c['max_abs_score']:.2e}); sign: {c['sign']}")
        if "compare_ig" in ac:
            c = ac["compare_ig"]
            print(f"  integrated mask gradients ({IG_STEPS} steps; one run: AutoCircuit {ac['ig_seconds']:.3f} s, "
                  f"mechscope eap-ig edges {s['eap-ig-edges']:.3f} s), mechscope vs -AutoCircuit/{IG_STEPS}: "
                  f"spearman {c['spearman']:.6f}, pearson {c['pearson']:.6f}, max |diff| {c['max_abs_diff']:.2e}")
        if "compare_reference" in ac:
            c = ac["compare_reference"]
            print(f"  vs AutoCircuit's reference EAP ({ac['reference_seconds']:.3f} s): spearman {c['spearman']:.6f}, "
                  f"pearson {c['pearson']:.6f}, max |diff| {c['max_abs_diff']:.2e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", help="random GPT-2 spec (repeatable); default tiny and small")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-autocircuit", action="store_true", help="skip the AutoCircuit cross-check")
    ap.add_argument("--smollm2", action="store_true", help="also time eap and eap-ig on SmolLM2-135M, IOI")
    ap.add_argument("--smollm2-prompts", type=int, default=100)
    ap.add_argument("--json", action="store_true", help="print the rows as JSON at the end")
    args = ap.parse_args()
    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    if not args.no_autocircuit and not AC_PYTHON.exists():
        log(f"AutoCircuit venv {AC_PYTHON.parent.parent} not found: skipping the cross-check. Create it with\n{AC_INSTALL}")
    rows = [bench_model(spec, args.prompts, args.repeats, args.threads, autocircuit=not args.no_autocircuit, log=log)
            for spec in (args.model or ["random:gpt2-tiny", "random:gpt2-small"])]
    if args.smollm2:
        rows.append(bench_smollm2(args.smollm2_prompts, args.threads, log=log))
    report(rows)
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
