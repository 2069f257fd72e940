"""The store: versions load back to the same logits; writes are atomic; list, export and remove."""

import copy
import json
import os
import time
import zipfile

import pytest
import torch

import mechscope as ms
from mechscope.compare import apply_version, make_version
from mechscope.store import Store, load_model, load_version, save_version
from mechscope.store.records import export
from mechscope.store.versions import checkpoint_version, dependents, lineage

IDS = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]])


@pytest.fixture(scope="module")
def tiny():
    return ms.load("random:llama-tiny")


def fresh(model):
    """A copy of a loaded model (cheaper than loading it again)."""
    return ms.Model(model.spec, copy.deepcopy(model.hf), model.tokenizer, model.adapter, model.fingerprint)


def _logits(model):
    with torch.no_grad():
        return model.hf(input_ids=IDS).logits


@pytest.mark.parametrize("operation, params", [
    ("quantize", {"type": "q4_0"}),
    ("quantize", {"type": "int4"}),
    ("prune", {"method": "magnitude", "n_m": [2, 4], "sparsity": 0.5}),
    ("low-rank", {"fraction": 0.5}),
])
def test_saved_and_loaded_version_gives_the_same_logits(tmp_path, tiny, operation, params):
    store = Store(tmp_path)
    version = make_version(tiny, "v", operation, params)
    in_memory = apply_version(fresh(tiny), version)
    save_version(store, version, base_model=tiny)
    loaded = load_model(store, "v")
    assert loaded.fingerprint == in_memory.fingerprint == version.fingerprint
    assert torch.equal(_logits(loaded), _logits(in_memory))
    assert not torch.equal(_logits(loaded), _logits(tiny))
    back = load_version(store, "v")
    assert back.params == version.params and set(back.tensors) == set(version.tensors)


def test_a_version_of_a_version_loads_through_its_chain(tmp_path, tiny):
    store = Store(tmp_path)
    pruned = make_version(tiny, "pruned", "prune", {"method": "magnitude", "sparsity": 0.5})
    save_version(store, pruned)
    quantized = make_version(load_model(store, "pruned"), "pruned-q8", "quantize", {"type": "q8_0"}, base="pruned")
    save_version(store, quantized)
    assert lineage(store, "pruned-q8") == ["random:llama-tiny", "pruned", "pruned-q8"]
    assert dependents(store, "pruned") == ["pruned-q8"]
    assert load_model(store, "pruned-q8").fingerprint == quantized.fingerprint
    # a base whose weights changed since is refused with a one-line error
    other = make_version(ms.load("random:llama-tiny:1"), "other", "quantize", {"type": "q8_0"},
                         base="random:llama-tiny")
    save_version(store, other)
    with pytest.raises(ms.MechscopeError, match="was made from model"):
        load_model(store, "other")


def test_a_killed_write_leaves_no_entry(tmp_path):
    store = Store(tmp_path)

    def dies(path):
        path.write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.add("circuit", "c", {"a.json": b"{}", "b.bin": dies})
    assert store.entries() == []
    assert [p.name for p in (tmp_path / "artifacts").iterdir()] == []
    # killed after the files were renamed into place but before the row was committed: the folder is not an
    # entry, and once stale the next write removes it
    orphan = tmp_path / "artifacts" / "circuit" / "deadbeef"
    orphan.mkdir(parents=True)
    (orphan / "a.json").write_text("{}")
    old = time.time() - 2 * 3600
    os.utime(orphan, (old, old))
    store.add("circuit", "d", {"a.json": b"{}"})
    assert [e.name for e in store.entries()] == ["d"] and not orphan.exists()


def test_a_failed_commit_removes_the_files(tmp_path, monkeypatch):
    import mechscope.store.db as db

    store = Store(tmp_path)
    store.add("circuit", "first", {"a.json": b"{}"})
    monkeypatch.setattr(db, "_row", lambda e: (e.id,))  # wrong column count: the INSERT fails
    with pytest.raises(Exception):
        store.add("circuit", "second", {"a.json": b"{}"})
    monkeypatch.undo()
    assert [e.name for e in store.entries()] == ["first"]
    assert len(list((tmp_path / "artifacts" / "circuit").iterdir())) == 1


def test_names_export_and_remove(tmp_path, tiny):
    store = Store(tmp_path)
    version = make_version(tiny, "tiny-q8", "quantize", {"type": "q8_0"})
    entry = save_version(store, version)
    assert entry.mechscope_version == ms.__version__ and entry.created and entry.params["type"] == "q8_0"
    with pytest.raises(ms.MechscopeError, match="already exists"):
        save_version(store, version)
    with pytest.raises(ms.MechscopeError, match="not allowed"):
        store.add("version", "bad name!", {})
    with pytest.raises(ms.MechscopeError, match="did you mean 'tiny-q8'"):
        load_version(store, "tiny-q9")
    export(store, None, tmp_path / "all.zip")
    with zipfile.ZipFile(tmp_path / "all.zip") as z:
        names = set(z.namelist())
        assert {f"version/tiny-q8/{f}" for f in ("entry.json", "manifest.json", "weights.safetensors")} <= names
        assert json.loads(z.read("version/tiny-q8/entry.json"))["base"] == "random:llama-tiny"
    folder = store.path(entry)
    store.remove("version", "tiny-q8")
    assert store.entries() == [] and not folder.exists()


def test_checkpoint_must_share_the_base_architecture(tmp_path, tiny):
    ms.load("random:gpt2-tiny").hf.save_pretrained(tmp_path / "gpt2")
    with pytest.raises(ms.MechscopeError, match="does not have the architecture"):
        checkpoint_version(tiny, "x", f"hf:{tmp_path / 'gpt2'}")
