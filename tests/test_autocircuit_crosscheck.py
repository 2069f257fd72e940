"""mechscope's EAP against AutoCircuit's on the same random GPT-2 and IOI prompts.

Needs the separate venv `.venv-autocircuit` (see benchmarks/README.md); skipped
without it. Slow (two processes load the model): run with `make test-slow`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AC_PYTHON = ROOT / ".venv-autocircuit" / "bin" / "python"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not AC_PYTHON.exists(), reason="no .venv-autocircuit; see benchmarks/README.md"),
]


def test_eap_matches_autocircuit_on_gpt2_tiny(benchmark_module):
    bench = benchmark_module("discovery")
    row = bench.bench_model("random:gpt2-tiny", n_prompts=8, repeats=0, threads=1, reference=True, ig=True,
                            exact_limit=0, log=lambda msg: None)
    ac = row["autocircuit"]
    assert ac is not None
    # both sides run the same model
    assert ac["check"]["tl_vs_mechscope_max_abs"] < 1e-4
    # AutoCircuit's fast mask-gradient EAP, its reference EAP, and its integrated mask gradient
    # against eap_ig(interpolate="edges") (scaled by the step count)
    for key in ("compare", "compare_reference", "compare_ig"):
        c = ac[key]
        assert c["n_mechscope"] == c["n_autocircuit"] == c["n_common"] == 110
        # AutoCircuit minimises -logit_diff: its scores are the negatives of mechscope's
        assert c["sign"] == "mechscope = -autocircuit"
        assert c["spearman"] > 0.999 and c["pearson"] > 0.999
        assert c["max_abs_diff"] <= 1e-4 * max(c["max_abs_score"], 1e-6) + 1e-7


def test_edge_names_map_to_mechscope(benchmark_module):
    bench = benchmark_module("discovery")
    assert bench.ac_to_mechscope("Resid Start->A1.2.Q") == "embed->a1.h2.q"
    assert bench.ac_to_mechscope("A0.1->MLP 1") == "a0.h1->m1"
    assert bench.ac_to_mechscope("MLP 1->Resid End") == "m1->logits"
    assert bench.ac_to_mechscope("A0.3->A1.0.V") == "a0.h3->a1.h0.v"
