"""Checks that need a CUDA GPU; each skips cleanly without one (benchmarks/gpu_check.py runs more)."""

from __future__ import annotations

import pytest
import torch

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("family", ["gemma2", "qwen3", "olmo2", "phi3", "llama", "gpt2"])
def test_verify_on_cuda(family, dtype):
    from mechscope.graph.verify import verify

    report = verify(f"random:{family}-tiny", dtype=dtype, device="cuda")
    assert report["device"].startswith("cuda") and report["passed"], str(report)


@needs_cuda
def test_eap_on_cuda_with_a_cpu_encoded_task_equals_cpu():
    from mechscope.discover.attribution import eap
    from mechscope.graph import Graph
    from mechscope.models import load
    from mechscope.tasks import load_task

    scores = {}
    for device in ("cpu", "cuda"):
        model = load("random:gemma2-tiny", device=device)
        enc = load_task("ioi", n=8).encode(model.tokenizer)  # on the CPU: the engine moves each batch
        scores[device] = eap(Graph.from_model(model), enc)
    for name, t in scores["cpu"].items():
        assert torch.allclose(scores["cuda"][name].cpu(), t, rtol=1e-3, atol=1e-6), name


def test_cuda_device_without_a_gpu_is_one_line():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from mechscope.errors import MechscopeError
    from mechscope.models import load

    with pytest.raises(MechscopeError, match=r"^device 'cuda' asked for, but torch sees no CUDA GPU; use --device cpu$"):
        load("random:gpt2-tiny", device="cuda")
