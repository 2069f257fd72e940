"""Comparisons: an identical version shows no difference anywhere; a compressed one shows some."""

import pytest

import mechscope as ms
from mechscope import compare
from mechscope.store.versions import checkpoint_version

SETTINGS = compare.Settings(batch_size=8, circuits=compare.CircuitSettings(method="eap", edges=25, batch_size=8),
                            latency_repeats=1)


@pytest.fixture(scope="module")
def base_spec(tmp_path_factory):
    # the base as a checkpoint on disk, so that it and its copy load the same way (attention implementation too)
    path = tmp_path_factory.mktemp("base") / "gpt2-tiny"
    model = ms.load("random:gpt2-tiny")
    model.hf.save_pretrained(path)
    model.tokenizer.save_pretrained(path)
    return f"hf:{path}"


@pytest.fixture(scope="module")
def baseline(base_spec):
    return compare.Baseline(ms.load(base_spec), [ms.load_task("ioi", n=8)], SETTINGS)


def test_a_version_identical_to_its_base_shows_zero_difference_everywhere(baseline, base_spec):
    base = ms.load(base_spec)
    version, model = checkpoint_version(base, "same", base_spec)  # a "fine-tune" that changed nothing
    assert version.fingerprint == base.fingerprint
    result = compare.compare(baseline, [(version, model)])
    (row,) = result["versions"]
    assert row["kl"] == 0.0 and row["kl_max"] == 0.0 and row["top1_agreement"] == 1.0
    assert row["task_metric"] == row["base_task_metric"] and row["accuracy"] == row["base_accuracy"]
    assert row["flips"] == 0 and all(not f["flipped"] for f in row["top_flips"])
    assert all(d["cka"] == 1.0 and d["relative_error"] == 0.0 for d in row["layer_similarity"])
    assert row["first_diverging_layer"] is None
    assert row["weights"] == {"changed_tensors": 0, "relative_change": 0.0, "sparsity": 0.0, "base_sparsity": 0.0}
    assert result["weights"]["same"] == []
    assert row["circuit_faithfulness_of_base"] == row["base_circuit_faithfulness"] == row["circuit_faithfulness_own"]
    assert row["circuit_jaccard"] == 1.0 and row["heads_entered"] == [] and row["heads_left"] == []
    assert all(e["kl"] == 0.0 and e["metric"] == e["base_metric"] for e in result["examples"])


def test_a_quantized_version_differs_and_is_smaller(baseline, base_spec):
    base = ms.load(base_spec)
    version = compare.make_version(base, "q4", "quantize", {"type": "q4_0"})
    model = compare.apply_version(base, version)  # in place: base becomes the version
    (row,) = compare.compare_version(baseline, model, version)
    assert row["size_bytes"] < baseline.size_bytes and row["size_ratio"] < 1
    assert row["kl"] > 0 and row["weights"]["changed_tensors"] == 8
    assert all(d["relative_error"] > 0 and d["cka"] < 1 for d in row["layer_similarity"])
    assert 0 <= row["circuit_jaccard"] <= 1 and row["own_circuit"] is not None
    assert set(row) >= {"name", "operation", "size_bytes", "task_metric", "top1_agreement", "kl", "layer_similarity",
                        "circuit_faithfulness_of_base", "circuit_jaccard", "latency_ms", "accuracy", "flips",
                        "top_flips", "weights", "heads_entered", "heads_left", "first_diverging_layer"}


def test_latency_is_timed_again_only_where_the_kernels_differ(baseline, base_spec):
    """A dequantized version runs the base's float32 kernels on the base's shapes: it reports the base's
    latency unless latency_all asks to time it; a model of other shapes is timed."""
    import copy
    import dataclasses

    base = ms.load(base_spec)
    version = compare.make_version(base, "q8", "quantize", {"type": "q8_0"})
    model = compare.apply_version(base, version)
    (row,) = compare.compare_version(baseline, model, version)
    assert row["latency_from"] == "base" and row["latency_ms"] == baseline.latency_ms
    timing = copy.copy(baseline)
    timing.settings = dataclasses.replace(baseline.settings, latency_all=True)
    (row,) = compare.compare_version(timing, model, version)
    assert row["latency_from"] == "measured" and row["latency_ms"] != baseline.latency_ms
    other = ms.load("random:llama-tiny")  # other parameter shapes
    assert not compare.comparison.same_kernels(baseline, other, "torch float32")


def test_memory_holds_one_version_at_a_time(baseline):
    """compare() drops each model before loading the next: the loader sees at most one alive."""
    import copy
    import gc
    import weakref

    alive = []

    base = ms.load("random:gpt2-tiny")

    def versions():
        for scale in (0.5, 2.0):
            for ref in alive:
                gc.collect()
                assert ref() is None, "the previous version is still referenced"
            model = ms.Model(base.spec, copy.deepcopy(base.hf), base.tokenizer, base.adapter, base.fingerprint)
            model.hf.lm_head.weight.data.mul_(scale)  # tied to the embedding: every layer changes
            alive.append(weakref.ref(model.hf))
            yield None, model
            del model

    settings = compare.Settings(circuits=compare.CircuitSettings(which="none"), latency=False)
    small = compare.Baseline(base, [ms.load_task("ioi", n=4)], settings)
    assert len(compare.compare(small, versions())["versions"]) == 2
