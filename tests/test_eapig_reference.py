"""mechscope's EAP-IG and faithfulness curves against Hanna et al.'s `eap` package (MIB's reference code).

Needs the separate venv `.venv-eapig` (`make .venv-eapig/.installed`); skipped without it.
Slow (two processes load the model): run with `make test-slow`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REF_PYTHON = ROOT / ".venv-eapig" / "bin" / "python"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not REF_PYTHON.exists(), reason="no .venv-eapig; make .venv-eapig/.installed"),
]


def test_eap_ig_scores_and_curves_match_the_reference_on_gpt2_tiny(benchmark_module):
    row = benchmark_module("reference_eapig").run("random:gpt2-tiny", n_prompts=6, steps=5, log=lambda msg: None)
    assert row["check"]["tl_vs_mechscope_max_abs"] < 1e-4
    s = row["scores"]
    assert s["n_mechscope"] == s["n_reference"] == s["n_common"] == 110
    assert s["spearman"] > 0.9999 and s["pearson"] > 0.9999
    # the reference divides its (already averaged) scores by the prompt count once more
    assert s["scale"] == pytest.approx(row["prompts"], rel=1e-3)
    assert s["max_abs_diff"] <= 1e-3 * s["max_abs_score"]
    for sel in ("signed", "top"):
        for p in row["curves"][sel]["points"]:
            ms_kept, ref_kept, cross_kept = p["edges_after_pruning"]
            assert ms_kept == cross_kept  # the same edges after both prunings
            # the two evaluators on the same circuit agree; the two methods' circuits agree
            assert p["mechscope"] == pytest.approx(p["reference_on_mechscope_scores"], rel=1e-3, abs=1e-3)
            assert p["mechscope"] == pytest.approx(p["reference"], rel=1e-3, abs=1e-3)
