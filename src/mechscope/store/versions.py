"""Model versions in the store: save, load, resolve a name to a model, register a checkpoint.

A version's folder holds ``manifest.json`` (base, operation, parameters,
fingerprints, one header per changed tensor) and ``weights.safetensors``
(the parts of each changed tensor in its storage format, keys
``"<parameter>::<part>"``). A name given where a model is expected is looked
up among versions first, then read as a model spec.

>>> import tempfile
>>> from mechscope.compare import make_version
>>> from mechscope.models import load
>>> store = Store(tempfile.mkdtemp())
>>> _ = save_version(store, make_version(load("random:llama-tiny"), "tiny-q8", "quantize", {"type": "q8_0"}))
>>> load_model(store, "tiny-q8").spec
'version:tiny-q8'
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from mechscope.compare.encoding import EncodedWeight
from mechscope.compare.version import Version, apply_version, operation_label, parameter_bytes, size_bytes
from mechscope.errors import MechscopeError
from mechscope.models import Model, load, wrap
from mechscope.models.loading import resolve_dtype
from mechscope.store.db import Entry, Store

WEIGHTS_FORMAT = "mechscope.version/1"


def save_version(store: Store, version: Version, *, replace: bool = False, base_model: Model | None = None,
                 base_bytes: dict[str, int] | None = None, provenance: dict | None = None) -> Entry:
    """Record a version: its manifest and changed weights; metrics hold its size and what it changed.

    Its size is measured against the base's parameters: `base_model`'s, or `base_bytes` (`parameter_bytes` of the
    base, as a run computed elsewhere sends it). `provenance` (the run layer's spec and hash) is added to the
    entry's params."""
    from safetensors.torch import save_file

    def write_weights(path: Path) -> None:
        tensors = {f"{name}::{part}": t.contiguous() for name, enc in version.tensors.items()
                   for part, t in enc.parts.items()}
        save_file(tensors, str(path), metadata={"format": WEIGHTS_FORMAT})

    metrics = {"changed_tensors": len(version.tensors), "stored_bytes": version.stored_bytes,
               "base_fingerprint": version.base_fingerprint,
               "label": operation_label(version.operation, version.params)}
    if base_model is not None:
        base_bytes = parameter_bytes(base_model)
    if base_bytes is not None:
        metrics["base_size_bytes"] = size_bytes(base_bytes, {})
        metrics["size_bytes"] = (version.params.get("checkpoint_bytes") if version.checkpoint
                                 else size_bytes(base_bytes, version.tensors))
    files = {"manifest.json": json.dumps(version.manifest(), indent=1).encode()}
    if version.tensors:
        files["weights.safetensors"] = write_weights
    return store.add("version", version.name, files, base=version.base, operation=version.operation,
                     params={**version.params, **(provenance or {})}, model_fingerprint=version.fingerprint,
                     metrics=metrics, replace=replace)


def load_version(store: Store, name: str) -> Version:
    """The recorded version, its tensors read back in their storage formats."""
    from safetensors.torch import load_file

    entry = store.get("version", name)
    folder = store.path(entry)
    manifest = json.loads((folder / "manifest.json").read_text())
    tensors = {}
    if manifest["tensors"]:
        raw = load_file(str(folder / "weights.safetensors"))
        for tname, header in manifest["tensors"].items():
            parts = {part: raw[f"{tname}::{part}"] for part in header["parts"]}
            tensors[tname] = EncodedWeight.from_header(header, parts)
    return Version(name=manifest["name"], base=manifest["base"], operation=manifest["operation"],
                   params=manifest["params"], base_fingerprint=manifest["base_fingerprint"],
                   fingerprint=manifest["fingerprint"], tensors=tensors, checkpoint=manifest.get("checkpoint"))


def is_version(store: Store, name: str) -> bool:
    return store.find("version", name) is not None


def load_model(store: Store, name: str, device: str | None = None, dtype: str | None = None) -> Model:
    """A version by name (its base chain loaded and applied), or else a model spec, on `device` in `dtype`.

    Checkpoint versions are checked against the fingerprint recorded when they were registered. A version is
    rebuilt in float32 (the weights its fingerprint was recorded for) and then cast to `dtype` if another is
    asked for; the cast model's fingerprint is its own.
    """
    if not is_version(store, name):
        return load(name, device=device, dtype=dtype)
    if isinstance(device, str) and device.startswith("map:"):
        raise MechscopeError(f"version {name!r} is written into its base's weights in memory, which a device map "
                             "may offload; load versions on one device (--device cuda or cpu)")
    model = _load_version_float32(store, name, device)
    if dtype is None or resolve_dtype(dtype, model.device) == torch.float32:
        return model
    return wrap(model.hf, model.tokenizer, spec=model.spec, device=device, dtype=dtype)


def _load_version_float32(store: Store, name: str, device: str | None) -> Model:
    version = load_version(store, name)
    if version.checkpoint:
        model = load(version.checkpoint, device=device, dtype="float32")
        if model.fingerprint != version.fingerprint:
            raise MechscopeError(f"checkpoint {version.checkpoint} of version {name!r} changed since it was "
                                 f"registered ({version.fingerprint} -> {model.fingerprint}); register it again "
                                 f"with `mechscope version make --base {version.base} --from {version.checkpoint} "
                                 f"--name {name} --replace`")
        return Model(spec=f"version:{name}", hf=model.hf, tokenizer=model.tokenizer, adapter=model.adapter,
                     fingerprint=model.fingerprint)
    base = _load_version_float32(store, version.base, device) if is_version(store, version.base) \
        else load(version.base, device=device, dtype="float32")
    return apply_version(base, version)


def checkpoint_version(base: Model, name: str, spec: str, base_name: str | None = None) -> tuple[Version, Model]:
    """A version that is a whole checkpoint (``hf:<dir>``) of the base's architecture, and the loaded checkpoint."""
    if not spec.startswith("hf:"):
        raise MechscopeError(f"--from takes a Hugging Face checkpoint, hf:<dir>; got {spec!r}")
    model = load(spec)
    a, b = base.adapter, model.adapter
    keys = ("family", "n_layers", "n_heads", "n_kv_heads", "d_model", "d_head")
    if any(getattr(a, k) != getattr(b, k) for k in keys):
        shape = lambda x: ", ".join(f"{k}={getattr(x, k)}" for k in keys)  # noqa: E731
        raise MechscopeError(f"checkpoint {spec} ({shape(b)}) does not have the architecture of its base "
                             f"{base.spec} ({shape(a)}); a version must share the base's graph to compare circuits")
    source = Path(spec[3:]).expanduser()
    files = [p for p in source.glob("*") if p.suffix in (".safetensors", ".bin", ".pt")] if source.is_dir() else []
    on_disk = sum(p.stat().st_size for p in files) or size_bytes(parameter_bytes(model), {})
    version = Version(name=name, base=base_name or base.spec, operation="checkpoint",
                      params={"checkpoint": spec, "checkpoint_bytes": on_disk}, base_fingerprint=base.fingerprint,
                      fingerprint=model.fingerprint, checkpoint=spec)
    return version, model


def lineage(store: Store, name: str) -> list[str]:
    """The chain from the root model spec to `name`: ``["smollm2-135m", "pruned", "pruned-q4"]``."""
    chain = [name]
    seen = {name}
    while True:
        entry = store.find("version", chain[0])
        if entry is None or entry.base is None:
            return chain
        if entry.base in seen:
            raise MechscopeError(f"version {name!r} has a cycle in its bases: {' <- '.join(chain)}")
        seen.add(entry.base)
        chain.insert(0, entry.base)


def dependents(store: Store, name: str) -> list[str]:
    """Versions made directly from `name`."""
    return [e.name for e in store.entries("version") if e.base == name]
