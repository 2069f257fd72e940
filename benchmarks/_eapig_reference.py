"""Hanna et al.'s EAP-IG (the `eap` package, MIB's reference) on a model saved by mechscope: run in `.venv-eapig`.

Not for the main venv: `benchmarks/reference_eapig.py` calls it as

    .venv-eapig/bin/python benchmarks/_eapig_reference.py MODEL_DIR DATA.npz OUT.json [--steps 5] [--circuit MIB.json]

- MODEL_DIR: a Hugging Face GPT-2 (``save_pretrained``) written by the main venv.
- DATA.npz: ``clean``, ``corrupt`` ``[n, seq]`` token ids (no padding), ``answers``,
  ``wrong`` ``[n, 1]``, ``ref_logits`` ``[n, vocab]`` (mechscope's clean logits at the
  last position, to check that both sides run the same model).
- ``--circuit``: a MIB graph file (mechscope's scores, exported by `mechscope.discover.mib`),
  evaluated by EAP-IG's own `evaluate_graph` at MIB's sizes, so both evaluators see the same
  edge ranking.

What runs is the package's own code: `attribute(..., "EAP-IG-inputs", ig_steps)` with
MIB's logit-difference loss (``loss = -(logit[answer] - logit[wrong])`` at the last
token, averaged), then for each of MIB's percentages `Graph.apply_topn(n, absolute,
prune=True)` and `evaluate_graph`, faithfulness ``(m(circuit) - m(empty)) / (m(clean)
- m(empty))`` as in MIB's `evaluate_area_under_curve`. Two adaptations, neither
touching the method: the prompts are passed as token ids (its `tokenize_plus` is
replaced by one that stacks them, so BOS is whatever mechscope's prompts have), and
its score buffers, hard-coded to ``device='cuda'``, are made on the CPU.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

PERCENTAGES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


class _CpuTorch:
    """The torch module, except that ``zeros(..., device='cuda')`` is made on the CPU."""

    def __init__(self, torch):
        self._torch = torch

    def __getattr__(self, name):
        return getattr(self._torch, name)

    def zeros(self, *args, **kwargs):
        if str(kwargs.get("device", "")).startswith("cuda"):
            kwargs["device"] = "cpu"
        return self._torch.zeros(*args, **kwargs)


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--circuit", default=None)
    args = ap.parse_args()

    warnings.filterwarnings("ignore")
    import numpy as np
    import torch
    import transformer_lens as tl
    from transformer_lens.pretrained.weight_conversions import convert_gpt2_weights
    from transformers import GPT2LMHeadModel
    from transformers.utils import logging as hf_logging

    import eap.attribute
    import eap.evaluate
    import eap.utils
    from eap.attribute import attribute
    from eap.evaluate import evaluate_baseline, evaluate_graph
    from eap.graph import Graph

    hf_logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    for module in (eap.attribute, eap.evaluate, eap.utils):
        module.torch = _CpuTorch(torch)

    def tokenize_ids(model, inputs, max_length=None):
        tokens = torch.stack(list(inputs))
        mask = torch.ones_like(tokens)
        return tokens, mask, mask.sum(1), tokens.shape[1]

    for module in (eap.attribute, eap.evaluate, eap.utils):
        module.tokenize_plus = tokenize_ids

    data = np.load(args.data)
    clean, corrupt = torch.from_numpy(data["clean"]).long(), torch.from_numpy(data["corrupt"]).long()
    labels = torch.cat([torch.from_numpy(data["answers"]).long(), torch.from_numpy(data["wrong"]).long()], 1)
    ref_logits = torch.from_numpy(data["ref_logits"]).float()

    hf = GPT2LMHeadModel.from_pretrained(args.model_dir, torch_dtype=torch.float32).eval()
    c = hf.config
    cfg = tl.HookedTransformerConfig(
        n_layers=c.n_layer, d_model=c.n_embd, n_heads=c.n_head, d_head=c.n_embd // c.n_head,
        d_mlp=c.n_inner or 4 * c.n_embd, d_vocab=c.vocab_size, n_ctx=c.n_positions,
        act_fn="gelu_new", normalization_type="LN", eps=c.layer_norm_epsilon,
        positional_embedding_type="standard", default_prepend_bos=False, device="cpu", dtype=torch.float32,
    )
    model = tl.HookedTransformer(cfg)
    model.load_and_process_state_dict(
        convert_gpt2_weights(hf, cfg), fold_ln=False, center_writing_weights=False, center_unembed=False,
        fold_value_biases=False, refactor_factored_attn_matrices=False,
    )
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        tl_logits = model(clean)[:, -1]
    check = {"tl_vs_mechscope_max_abs": float((tl_logits - ref_logits).abs().max()),
             "logit_scale": float(ref_logits.abs().max())}
    del hf
    model.cfg.use_split_qkv_input = True
    model.cfg.use_attn_result = True
    model.cfg.use_hook_mlp_in = True

    def metric(logits, clean_logits, input_lengths, label, mean=True, loss=False):
        rows = torch.arange(logits.shape[0])
        last = logits[rows, input_lengths - 1]
        good_bad = last.gather(-1, torch.as_tensor(label).view(logits.shape[0], 2))
        res = good_bad[:, 0] - good_bad[:, 1]
        res = -res if loss else res
        return res.mean() if mean else res

    batch = [(clean[i], corrupt[i], labels[i]) for i in range(len(clean))]

    def collate(xs):
        a, b, lab = zip(*xs)
        return list(a), list(b), torch.stack(lab)

    loader = torch.utils.data.DataLoader(batch, batch_size=len(batch), collate_fn=collate)

    graph = Graph.from_model(model)
    t0 = time.perf_counter()
    attribute(model, graph, loader, lambda *a: metric(*a, mean=True, loss=True), "EAP-IG-inputs", "patching",
              ig_steps=args.steps, quiet=True)
    seconds = time.perf_counter() - t0
    scores = {name: float(e.score) for name, e in graph.edges.items()}

    def curve(g, absolute: bool) -> list[float]:
        eval_metric = lambda *a: metric(*a, mean=False, loss=False)  # noqa: E731
        base = evaluate_baseline(model, loader, eval_metric, quiet=True).mean().item()
        g.apply_topn(0, True)
        empty = evaluate_graph(model, g, loader, eval_metric, quiet=True).mean().item()
        out = []
        for pct in PERCENTAGES:
            g.apply_topn(int(pct * len(g.edges)), absolute, prune=True)
            value = evaluate_graph(model, g, loader, eval_metric, quiet=True).mean().item()
            out.append({"fraction": pct, "edges": int(pct * len(g.edges)), "edges_after_pruning": int(g.in_graph.sum()),
                        "faithfulness": (value - empty) / (base - empty)})
        return out

    t0 = time.perf_counter()
    result = {"n_edges": len(graph.edges), "n_prompts": len(clean), "seq": clean.shape[1], "steps": args.steps,
              "check": check, "seconds": {"eap_ig": seconds}, "scores": scores,
              "curves": {"signed": curve(graph, False), "abs": curve(graph, True)}}
    if args.circuit:
        ms_graph = Graph.from_json(args.circuit)
        result["mechscope_circuit_curves"] = {"signed": curve(ms_graph, False), "abs": curve(ms_graph, True)}
    result["seconds"]["curves"] = time.perf_counter() - t0
    with open(args.out, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    sys.exit(main())
