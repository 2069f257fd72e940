"""Models spread by a device map (accelerate's dispatch): the engine gives the unsharded model's numbers.

No second device exists on a CPU-only machine, so these tests shard over what one CPU has: layers kept on the
CPU, and layers and the unembedding offloaded to disk (their parameters sit on the ``meta`` device between
calls and an accelerate hook brings them in around each forward). That checks every place where the engine
reads weights outside a module's own forward (per-head projections, head outputs, post-norm shares, the
gradient paths) and where it decides the input device. Activations on two real devices (cuda:0 and cuda:1,
or the CPU and a GPU) are checked by benchmarks/gpu_check.py (`device_map_check`) where a GPU exists.
"""

from __future__ import annotations

import pytest
import torch

from mechscope.discover.attribution import eap, eap_ig
from mechscope.graph import Graph
from mechscope.graph.engine import run, source_outputs
from mechscope.graph.mask import EdgeMask
from mechscope.models import load
from mechscope.models.placement import layered_device_map
from mechscope.tasks import load_task


def offload_map(model) -> dict:
    """Every top-level module on the CPU, except layer 1 and the unembedding: on disk."""
    return layered_device_map(model, lambda i: "disk" if i == 1 else "cpu", embed="cpu", rest="cpu", head="disk")


def max_err(a, b) -> float:
    if isinstance(a, torch.Tensor):
        return (a - b).abs().max().item()
    return max((a[k] - b[k]).abs().max().item() for k in a)


@pytest.mark.parametrize("family", ["llama", "gemma2", "gpt2", "olmo2", "phi3"])
def test_offloaded_layers_give_the_unsharded_numbers(family):
    spec = f"random:{family}-tiny"
    whole = load(spec)
    sharded = load(spec, device_map=offload_map(whole))
    assert sharded.device_map is not None and whole.device_map is None
    assert any(p.device.type == "meta" for p in sharded.hf.parameters())  # really offloaded between calls
    assert sharded.fingerprint == whole.fingerprint and sharded.device == torch.device("cpu")
    g0, g1 = Graph.from_model(whole), Graph.from_model(sharded)
    enc = load_task("ioi", n=4).encode(whole.tokenizer)

    def patched(g, share):
        p = source_outputs(g, enc.corrupt_ids, enc.attention_mask)
        mask = EdgeMask({k: (torch.rand(t.shape, generator=torch.Generator().manual_seed(1)) < share).float()
                         for k, t in EdgeMask.zeros(g).tensors.items()})
        return run(g, enc.clean_ids, enc.attention_mask, patch=p, mask=mask, positions=enc.positions)

    checks = {
        "forward": lambda g: run(g, enc.clean_ids, enc.attention_mask),
        "record": lambda g: source_outputs(g, enc.corrupt_ids, enc.attention_mask),
        "patched": lambda g: patched(g, 0.3),
        "one-edge": lambda g: patched(g, 0.005),
        "eap": lambda g: eap(g, enc),
        "eap-ig": lambda g: eap_ig(g, enc, steps=2),
    }
    for name, f in checks.items():
        assert max_err(f(g0), f(g1)) <= 1e-6, (family, name)


def test_verify_passes_on_an_offloaded_model():
    from mechscope.graph.verify import verify

    whole = load("random:qwen3-tiny")
    report = verify(load("random:qwen3-tiny", device_map=offload_map(whole)))
    assert report["passed"], report


def test_a_saved_model_loads_through_a_device_map(tmp_path):
    whole = load("random:llama-tiny")
    whole.hf.save_pretrained(tmp_path / "m")
    whole.tokenizer.save_pretrained(tmp_path / "m")
    placed = {**offload_map(whole), "lm_head": "cpu"}  # tied to the embedding: transformers keeps it with it
    sharded = load(f"hf:{tmp_path / 'm'}", device_map=placed)
    assert sharded.hf.hf_device_map["model.layers.1"] == "disk"
    assert sharded.fingerprint == whole.fingerprint
    ids = torch.tensor([[1, 2, 3, 4]])
    unsharded = load(f"hf:{tmp_path / 'm'}")  # the same attention implementation as the sharded load
    assert max_err(run(Graph.from_model(sharded), ids), run(Graph.from_model(unsharded), ids)) <= 1e-6


def test_steering_on_an_offloaded_model_equals_the_whole_one():
    from mechscope.steer import generate
    from mechscope.steer.vectors import DiffMean

    whole = load("random:llama-tiny")
    sharded = load("random:llama-tiny", device_map=offload_map(whole))
    src, tgt = ["the cat sat", "a dog ran"], ["the wedding cake", "a bride smiled"]
    fits = [DiffMean(layers="1").fit(m, src, tgt) for m in (whole, sharded)]
    for k, t in fits[0].state_.items():
        assert max_err(t, fits[1].state_[k]) <= 1e-6
    texts = [generate(m, ["I think"], steering=f, strength=4.0, max_new_tokens=4, temperature=0)
             for m, f in zip((whole, sharded), fits)]
    assert texts[0] == texts[1]


def test_device_map_strings_as_the_cli_gives_them(tmp_path, cli):
    import json

    whole = load("random:gpt2-tiny")
    path = tmp_path / "map.json"
    path.write_text(json.dumps(offload_map(whole)))
    sharded = load("random:gpt2-tiny", device=f"map:{path}")
    assert sharded.device_map == offload_map(whole)
    auto = load("random:gpt2-tiny", device="map:auto")  # one CPU: accelerate keeps everything there
    assert set(map(str, auto.device_map.values())) == {"cpu"}
    code, out, err = cli("graph", "random:gpt2-tiny", "--device", f"map:{path}", "--json")
    assert code == 0 and json.loads(out)["n_edges"] == Graph.from_model(whole).n_edges, err


def test_gpu_check_compares_placements_on_this_machine(benchmark_module):
    """benchmarks/gpu_check.py's device-map comparison, run here with the CPU and disk as its two places."""
    gpu_check = benchmark_module("gpu_check")
    ref = load("random:gemma2-tiny")
    row = gpu_check._compare_placements("random:gemma2-tiny", "cpu", gpu_check._halves(ref, "cpu", "disk"), "cpu+disk")
    assert row["passed"] and row["devices"] == ["cpu", "disk"] and set(row["errors"]) == {"forward", "patched", "eap"}
    assert max(row["errors"].values()) <= 1e-6
