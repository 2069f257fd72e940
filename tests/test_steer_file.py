"""Steering files: save and reload generate the same text; another model is refused; GGUF export."""

import numpy as np
import pytest
import torch

from mechscope.errors import MechscopeError
from mechscope.models import load
from mechscope.steer import SteeringFile, generate, load_concept
from mechscope.steer.act import LinearAcT
from mechscope.steer.file import export_control_vector
from mechscope.steer.vectors import DiffMean


@pytest.fixture(scope="module")
def model():
    return load("random:llama-tiny")


@pytest.fixture(scope="module")
def concept():
    return load_concept("wedding")


def test_saved_and_reloaded_file_gives_identical_generations(model, concept, tmp_path):
    act = LinearAcT(sites="norm").fit(model, concept.source[:12], concept.target[:12])
    path = tmp_path / "wedding.safetensors"
    SteeringFile.from_method(act, concept="wedding").save(path)
    loaded = SteeringFile.load(path)
    assert loaded.manifest["method"] == "linear-act" and loaded.manifest["concept"] == "wedding"
    assert loaded.manifest["model"]["fingerprint"] == model.fingerprint
    assert loaded.manifest["data"]["n_source"] == 12 and len(loaded.manifest["data"]["hash"]) == 16
    for key, state in act.state_.items():
        for name, t in state.items():
            assert torch.equal(loaded.method.state_[key][name], t)
    kw = dict(strength=0.8, max_new_tokens=8, seed=11)
    assert generate(model, concept.prompts[:4], steering=act, **kw) == \
        generate(model, concept.prompts[:4], steering=loaded, **kw)
    assert not list(tmp_path.glob(".*"))  # no temp file left behind


def test_a_file_for_another_model_is_refused(model, concept, tmp_path):
    dm = DiffMean(layers="1").fit(model, concept.source[:4], concept.target[:4])
    path = tmp_path / "dm.safetensors"
    SteeringFile.from_method(dm).save(path)
    sf = SteeringFile.load(path)
    other = load("random:llama-tiny:1")  # same architecture, other weights
    with pytest.raises(MechscopeError, match=f"fitted on model {model.fingerprint}.*got {other.fingerprint}"):
        with sf.apply(other):
            pass
    with sf.apply(other, strict=False):  # another version of the same architecture: allowed when asked
        pass
    with pytest.raises(MechscopeError, match="refit it on this model"):
        with sf.apply(load("random:gpt2-tiny"), strict=False):
            pass


def test_bad_files_are_one_line_errors(tmp_path):
    with pytest.raises(MechscopeError, match="does not exist"):
        SteeringFile.load(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(MechscopeError, match="not a safetensors file"):
        SteeringFile.load(junk)
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(MechscopeError, match="no mechscope manifest"):
        SteeringFile.load(tmp_path / "plain.safetensors")


def test_control_vector_export_reads_back_in_gguf_and_repeng(model, concept, tmp_path):
    import gguf

    dm = DiffMean(layers="1").fit(model, concept.source[:6], concept.target[:6])
    sf = SteeringFile.from_method(dm)
    path = tmp_path / "wedding.gguf"
    export_control_vector(sf, path, strength=3.0)
    reader = gguf.GGUFReader(path)
    tensors = {t.name: np.array(t.data) for t in reader.tensors}
    assert list(tensors) == ["direction.1"]
    assert np.allclose(tensors["direction.1"], 3.0 * dm.state_["model.layers.1"]["vector"].numpy())
    arch = reader.get_field("general.architecture")
    assert bytes(arch.parts[-1]).decode() == "controlvector"
    with pytest.raises(MechscopeError, match="block outputs only"):
        export_control_vector(SteeringFile.from_method(DiffMean(sites="mlp", layers="1").fit(
            model, concept.source[:4], concept.target[:4])), tmp_path / "x.gguf")
    with pytest.raises(MechscopeError, match="not one vector per layer"):
        export_control_vector(SteeringFile.from_method(LinearAcT(layers="1").fit(
            model, concept.source[:4], concept.target[:4])), tmp_path / "y.gguf")
