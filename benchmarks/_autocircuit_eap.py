"""AutoCircuit's EAP on a GPT-2 saved by mechscope: run in the AutoCircuit venv.

Not for the main venv: `benchmarks/discovery.py` calls it as

    .venv-autocircuit/bin/python benchmarks/_autocircuit_eap.py MODEL_DIR DATA.npz OUT.json

- MODEL_DIR: a Hugging Face GPT-2 (``save_pretrained``) written by the main venv.
- DATA.npz: ``clean``, ``corrupt`` ``[n, seq]`` (equal lengths, no padding),
  ``answers``, ``wrong`` ``[n, 1]``, and ``ref_logits`` ``[n, vocab]``: mechscope's
  clean logits at the last position, to check that both sides run the same model.

The HookedTransformer gets the HF weights through TransformerLens's own GPT-2
conversion, with no layer-norm folding, no centring and no value-bias folding, so
node outputs are those of the HF model. EAP is AutoCircuit's fast path
(`mask_gradient_prune_scores` with ``grad_function="logit"``,
``answer_function="avg_diff"``, ``mask_val=0``: its docs say it equals their
reference `edge_attribution_patching_prune_scores`), resample ablation from the
corrupt prompts, factorized graph with separate q/k/v inputs, logits at the last
token. Writes ``{edge name: score}`` plus timings as JSON.
"""

from __future__ import annotations

import json
import sys
import time
import warnings


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ig-samples", type=int, default=0,
                    help="also run AutoCircuit's integrated mask gradient with this many samples (one timed run)")
    ap.add_argument("--reference", action="store_true",
                    help="also run AutoCircuit's slow reference EAP (one Python step per edge)")
    args = ap.parse_args()

    warnings.filterwarnings("ignore")
    import numpy as np
    import torch
    import transformer_lens as tl
    from transformer_lens.pretrained.weight_conversions import convert_gpt2_weights
    from transformers import GPT2LMHeadModel
    from transformers.utils import logging as hf_logging

    from auto_circuit.data import PromptDataLoader, PromptDataset
    from auto_circuit.prune_algos.edge_attribution_patching import edge_attribution_patching_prune_scores
    from auto_circuit.prune_algos.mask_gradient import mask_gradient_prune_scores
    from auto_circuit.types import AblationType
    from auto_circuit.utils.graph_utils import patchable_model

    hf_logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    data = np.load(args.data)
    clean, corrupt = torch.from_numpy(data["clean"]).long(), torch.from_numpy(data["corrupt"]).long()
    answers, wrong = torch.from_numpy(data["answers"]).long(), torch.from_numpy(data["wrong"]).long()
    ref_logits = torch.from_numpy(data["ref_logits"]).float()
    n = clean.shape[0]

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
        hf_logits = hf(clean).logits[:, -1]
        tl_logits = model(clean)[:, -1]
    check = {
        "tl_vs_hf_max_abs": float((tl_logits - hf_logits).abs().max()),
        "tl_vs_mechscope_max_abs": float((tl_logits - ref_logits).abs().max()),
        "logit_scale": float(hf_logits.abs().max()),
    }
    del hf

    # what AutoCircuit's edge patching needs (as in auto_circuit.experiment_utils.load_tl_model)
    model.cfg.use_attn_result = True
    model.cfg.use_attn_in = True
    model.cfg.use_split_qkv_input = True
    model.cfg.use_hook_mlp_in = True

    dataset = PromptDataset(clean, corrupt, list(answers), list(wrong))
    loader = PromptDataLoader(dataset, seq_len=None, diverge_idx=0, batch_size=n, shuffle=False)

    t0 = time.perf_counter()
    pm = patchable_model(model, factorized=True, slice_output="last_seq", separate_qkv=True, device=torch.device("cpu"))
    t_wrap = time.perf_counter() - t0

    def fast():
        return mask_gradient_prune_scores(
            pm, loader, None, grad_function="logit", answer_function="avg_diff", mask_val=0.0,
            ablation_type=AblationType.RESAMPLE, clean_corrupt="corrupt",
        )

    def collect(scores):
        return {f"{e.src.name}->{e.dest.name}": float(scores[e.dest.module_name][e.patch_idx]) for e in pm.edges}

    t0 = time.perf_counter()
    scores = collect(fast())  # warm-up, and the scores
    times = [time.perf_counter() - t0] if args.repeats < 1 else []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        fast()
        times.append(time.perf_counter() - t0)
    out = {
        "n_edges": len(pm.edges), "n_prompts": n, "seq": clean.shape[1], "threads": torch.get_num_threads(),
        "check": check, "wrap_seconds": t_wrap, "eap_seconds": min(times), "eap_times": times, "scores": scores,
        "versions": {"torch": torch.__version__, "transformer_lens": _version("transformer-lens"),
                     "auto_circuit": _version("auto-circuit")},
    }
    if args.ig_samples:
        # masks at k / samples for k = 0..samples (both ends), gradients summed
        t0 = time.perf_counter()
        ig = mask_gradient_prune_scores(
            pm, loader, None, grad_function="logit", answer_function="avg_diff",
            integrated_grad_samples=args.ig_samples, ablation_type=AblationType.RESAMPLE, clean_corrupt="corrupt",
        )
        out["ig_seconds"] = time.perf_counter() - t0
        out["ig_scores"] = collect(ig)
    if args.reference:
        t0 = time.perf_counter()
        ref = edge_attribution_patching_prune_scores(pm, loader, None)
        out["reference_seconds"] = time.perf_counter() - t0
        out["reference_scores"] = collect(ref)
    with open(args.out, "w") as fh:
        json.dump(out, fh)


def _version(dist: str) -> str:
    from importlib.metadata import version

    try:
        return version(dist)
    except Exception:  # noqa: BLE001
        return "?"


if __name__ == "__main__":
    sys.exit(main())
