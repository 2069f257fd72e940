"""Running a peer's implementation in its own venv on mechscope's model and prompts.

A peer (AutoCircuit, Hanna et al.'s EAP-IG) needs other versions of transformers or
TransformerLens than mechscope, so it runs as a separate process: the main venv writes the
model (``save_pretrained``) and the prompts to a folder, the peer's helper script reads them,
and writes its scores as JSON. One home for that hand-over, used by `discovery.py`
(AutoCircuit) and `reference_eapig.py` (EAP-IG).

The prompts file ``data.npz`` holds ``clean``, ``corrupt`` ``[n, seq]`` token ids,
``answers``, ``wrong`` ``[n, 1]`` and ``ref_logits`` ``[n, vocab]``: mechscope's clean logits
at the last position, so the helper can check that both sides run the same model.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path


def correlations(a: list[float], b: list[float]) -> dict:
    """Spearman and Pearson correlation of two equally long score lists."""
    from scipy import stats

    return {"spearman": float(stats.spearmanr(a, b).statistic), "pearson": float(stats.pearsonr(a, b).statistic)}


def write_inputs(model, enc, folder: Path) -> None:
    """The model as a Hugging Face folder ``folder/model`` and the prompts as ``folder/data.npz``."""
    import numpy as np
    import torch

    from mechscope.graph import Graph, run

    model.hf.save_pretrained(folder / "model", safe_serialization=True)
    with torch.no_grad():
        ref = run(Graph.from_model(model), enc.clean_ids, enc.attention_mask, positions=enc.positions)
    np.savez(folder / "data.npz", clean=enc.clean_ids.cpu().numpy(), corrupt=enc.corrupt_ids.cpu().numpy(),
             answers=enc.answer_ids.cpu().numpy(), wrong=enc.wrong_ids.cpu().numpy(),
             ref_logits=ref.float().cpu().numpy())


def run_peer(python: Path, helper: Path, model, enc, args: list[str],
             prepare: Callable[[Path], list[str]] | None = None) -> dict:
    """Run `helper MODEL_DIR DATA.npz OUT.json *args` with the peer's `python`; its JSON output.

    `prepare(folder)` may write more inputs into the hand-over folder and return more arguments.
    """
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_inputs(model, enc, tmp)
        extra = prepare(tmp) if prepare else []
        cmd = [str(python), str(helper), str(tmp / "model"), str(tmp / "data.npz"), str(tmp / "out.json"),
               *args, *extra]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"{helper.name} failed:\n{res.stderr[-3000:]}")
        return json.loads((tmp / "out.json").read_text())
