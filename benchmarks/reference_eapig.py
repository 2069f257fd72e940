"""mechscope's EAP-IG and faithfulness curves against the reference: Hanna et al.'s `eap` package (MIB's code).

On a random GPT-2 (default ``random:gpt2-small``, 32,491 edges, the graph of EAP-IG and
MIB) and IOI prompts of one token length:

- scores: mechscope's ``eap_ig`` (inputs interpolated, 5 steps, EAP-IG's step rule
  ``rule="left"``) against ``eap.attribute.attribute(..., "EAP-IG-inputs")`` on the same
  weights (TransformerLens's GPT-2 conversion, nothing folded) and token ids. Edges are
  matched by name (``mechscope.discover.mib``); the reference's scores are of a loss, so
  mechscope's are compared with their negatives. Printed: Spearman and Pearson over all
  edges, overlap of the top 1% and 5% by |score| and by signed score, largest difference.
- curves: faithfulness at MIB's sizes, signed and |score| selection, CPR and CMD: (a)
  mechscope's evaluator on mechscope's scores, (b) EAP-IG's `evaluate_graph` on the
  reference scores, (c) EAP-IG's evaluator on mechscope's scores exported as a MIB file,
  point by point.

The reference runs in its own venv (``.venv-eapig``; `make .venv-eapig/.installed` with
EAPIG_SRC pointing at a checkout of github.com/hannamw/EAP-IG), as the AutoCircuit
cross-check does.

    python benchmarks/reference_eapig.py [--model random:gpt2-small] [--prompts 16] [--steps 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _peers import correlations, run_peer
from discovery import equal_length_ioi

ROOT = Path(__file__).resolve().parent.parent
REF_PYTHON = ROOT / ".venv-eapig" / "bin" / "python"
REF_HELPER = Path(__file__).resolve().parent / "_eapig_reference.py"


def topk_overlap(a: dict[str, float], b: dict[str, float], frac: float, signed: bool) -> float:
    """|top-k of a ∩ top-k of b| / k, k = frac of the edges; by |score|, or by most negative with `signed`."""
    k = max(1, int(frac * len(a)))
    key = (lambda d: (lambda e: d[e])) if signed else (lambda d: (lambda e: -abs(d[e])))
    ta = set(sorted(a, key=key(a))[:k])
    tb = set(sorted(b, key=key(b))[:k])
    return len(ta & tb) / k


def mib_flat(graph, scores) -> dict[str, float]:
    """mechscope scores keyed by MIB edge name, in mechscope's sign (a grouped k/v score is split per head)."""
    from mechscope.discover.mib import to_mib

    return {k: -v["score"] for k, v in to_mib(graph, scores)["edges"].items()}


def run(spec: str, n_prompts: int, steps: int, threads: int = 1, log=print) -> dict:
    import torch

    from mechscope import discover as D
    from mechscope.discover.attribution import eap_ig
    from mechscope.discover.faithfulness import curve_areas
    from mechscope.discover.mib import save_mib, to_mib
    from mechscope.graph import Graph
    from mechscope.models import load

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = load(spec, device="cpu")
    graph = Graph.from_model(model)
    enc = equal_length_ioi(model.tokenizer, n_prompts)
    row: dict = {"model": spec, "n_edges": graph.n_edges, "prompts": len(enc), "seq": enc.clean_ids.shape[1],
                 "steps": steps, "seconds": {}}
    t0 = time.perf_counter()
    scores = eap_ig(graph, enc, steps=steps, batch_size=len(enc), rule="left")
    row["seconds"]["mechscope_eap_ig"] = time.perf_counter() - t0
    log(f"  mechscope eap-ig({steps}) {row['seconds']['mechscope_eap_ig']:.1f} s")
    runner = D.PatchedRunner(graph, enc, batch_size=len(enc))
    t0 = time.perf_counter()
    ms_curves = {sel: D.faithfulness_curve(graph, scores, runner, selection=sel) for sel in ("signed", "top")}
    row["seconds"]["mechscope_curves"] = time.perf_counter() - t0
    if not REF_PYTHON.exists():
        row["reference"] = None
        return row

    def mib_circuit(folder: Path) -> list[str]:
        save_mib(to_mib(graph, scores), folder / "mechscope.json")
        return ["--circuit", str(folder / "mechscope.json")]

    out = run_peer(REF_PYTHON, REF_HELPER, model, enc, ["--steps", str(steps), "--threads", str(threads)],
                   prepare=mib_circuit)
    mine = mib_flat(graph, scores)
    theirs = {k: -v for k, v in out["scores"].items()}  # the reference attributes a loss: flip to mechscope's sign
    common = sorted(set(mine) & set(theirs))
    a, b = [mine[k] for k in common], [theirs[k] for k in common]
    # the reference averages the metric over a batch and then divides the summed scores by the
    # number of examples again: its scores are mechscope's / n (a constant, no change of order)
    scale = sum(x * y for x, y in zip(a, b)) / max(sum(y * y for y in b), 1e-30)
    row["scores"] = {"n_mechscope": len(mine), "n_reference": len(theirs), "n_common": len(common),
                     **correlations(a, b), "scale": scale, "max_abs_diff": max(abs(x - scale * y) for x, y in zip(a, b)),
                     "max_abs_score": max(abs(x) for x in a),
                     **{f"top{int(f * 100)}%_{kind}": topk_overlap(mine, theirs, f, kind == "signed")
                        for f in (0.01, 0.05) for kind in ("abs", "signed")}}
    row["check"] = out["check"]
    row["seconds"]["reference_eap_ig"] = out["seconds"]["eap_ig"]
    row["curves"] = {}
    for sel, ref_sel in (("signed", "signed"), ("top", "abs")):
        pts = []
        for p, r, x in zip(ms_curves[sel][1:], out["curves"][ref_sel], out["mechscope_circuit_curves"][ref_sel]):
            pts.append({"fraction": p["fraction"], "mechscope": p["faithfulness"], "reference": r["faithfulness"],
                        "reference_on_mechscope_scores": x["faithfulness"],
                        "edges_after_pruning": (p["edges_after_pruning"], r["edges_after_pruning"],
                                                x["edges_after_pruning"])})
        row["curves"][sel] = {"points": pts,
                              "mechscope": curve_areas(ms_curves[sel]),
                              "reference": curve_areas(out["curves"][ref_sel]),
                              "reference_on_mechscope_scores": curve_areas(out["mechscope_circuit_curves"][ref_sel])}
    return row


def report(row: dict) -> None:
    print(f"{row['model']}: {row['n_edges']:,} edges, {row['prompts']} prompts of {row['seq']} tokens, "
          f"EAP-IG {row['steps']} steps")
    if row.get("reference") is None and "scores" not in row:
        print(f"  reference skipped: no {REF_PYTHON.relative_to(ROOT)} (make .venv-eapig/.installed)")
        return
    s = row["scores"]
    print(f"  same model: max |logit difference| TL vs mechscope {row['check']['tl_vs_mechscope_max_abs']:.2e}")
    print(f"  scores: {s['n_common']:,} edges matched; Spearman {s['spearman']:.5f}, Pearson {s['pearson']:.5f}; "
          f"mechscope = {s['scale']:.4f} x reference (its scores are divided by the prompt count once more); "
          f"max |diff| after scaling {s['max_abs_diff']:.2e} (max |score| {s['max_abs_score']:.2e})")
    print("  top-k overlap: " + ", ".join(f"{k} {v:.3f}" for k, v in s.items() if k.startswith("top")))
    print(f"  seconds: mechscope {row['seconds']['mechscope_eap_ig']:.1f}, reference {row['seconds']['reference_eap_ig']:.1f}")
    for sel, c in row["curves"].items():
        print(f"  {sel} selection: CPR/CMD mechscope {c['mechscope']['cpr']:.3f}/{c['mechscope']['cmd']:.3f}, "
              f"reference {c['reference']['cpr']:.3f}/{c['reference']['cmd']:.3f}, reference evaluator on "
              f"mechscope scores {c['reference_on_mechscope_scores']['cpr']:.3f}/{c['reference_on_mechscope_scores']['cmd']:.3f}")
        for p in c["points"]:
            print(f"    {100 * p['fraction']:5g}%  mechscope {p['mechscope']:7.3f}  reference {p['reference']:7.3f}  "
                  f"reference on mechscope scores {p['reference_on_mechscope_scores']:7.3f}  kept {p['edges_after_pruning']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="random:gpt2-small")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    row = run(args.model, args.prompts, args.steps, args.threads)
    print(json.dumps(row)) if args.json else report(row)


if __name__ == "__main__":
    main()
