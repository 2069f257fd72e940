"""Model versions: what an operation makes from a base, and applying it again.

A `Version` records its base, the operation and its parameters, the
fingerprints of the base and of the result, and the weights it changes, each
in its storage format (`EncodedWeight`). A checkpoint version (any ``hf:``
directory registered as a version of a base) changes everything and stores
only where it lives.

>>> from mechscope.models import load
>>> base = load("random:llama-tiny")
>>> v = make_version(base, "q8", "quantize", {"type": "q8_0"})
>>> model = apply_version(load("random:llama-tiny"), v)
>>> model.fingerprint == v.fingerprint != base.fingerprint
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from mechscope.compare.encoding import EncodedWeight
from mechscope.errors import MechscopeError
from mechscope.models import Model
from mechscope.models.loading import fingerprint_state

OPERATIONS = ("quantize", "prune", "low-rank", "checkpoint")


@dataclass(frozen=True, eq=False)
class Version:
    """A named version of a base model; `tensors` are the changed weights (empty for a checkpoint)."""

    name: str
    base: str  # a model spec ("smollm2-135m") or another version's name
    operation: str
    params: dict
    base_fingerprint: str
    fingerprint: str
    tensors: dict[str, EncodedWeight] = field(default_factory=dict)
    checkpoint: str | None = None  # "hf:<dir>" of a checkpoint version

    @property
    def stored_bytes(self) -> int:
        """Bytes of the changed weights in their formats."""
        return sum(e.nbytes for e in self.tensors.values())

    def manifest(self) -> dict:
        """Everything but the tensors, as JSON-able data."""
        return {"name": self.name, "base": self.base, "operation": self.operation, "params": self.params,
                "base_fingerprint": self.base_fingerprint, "fingerprint": self.fingerprint,
                "checkpoint": self.checkpoint, "tensors": {k: e.header() for k, e in self.tensors.items()}}

    def __repr__(self) -> str:
        return (f"Version({self.name!r}, base={self.base!r}, {self.operation} {self.params}, "
                f"tensors={len(self.tensors)}, fingerprint={self.fingerprint})")


def operation_label(operation: str, params: dict) -> str:
    """A short human label: ``q4_0``, ``wanda 50%``, ``magnitude 2:4``, ``low-rank 0.5``.

    >>> operation_label("prune", {"method": "wanda", "sparsity": 0.5, "n_m": None})
    'wanda 50%'
    """
    if operation == "quantize":
        return str(params.get("type"))
    if operation == "prune":
        n_m = params.get("n_m")
        amount = f"{n_m[0]}:{n_m[1]}" if n_m else f"{100 * float(params.get('sparsity', 0)):g}%"
        return f"{params.get('method')} {amount}"
    if operation == "low-rank":
        return f"low-rank {params.get('fraction')}"
    return operation


def parse_prune(text: str) -> dict:
    """``magnitude:0.5``, ``wanda:0.5``, ``2:4``, ``wanda:2:4`` -> pruning parameters.

    >>> parse_prune("2:4")
    {'method': 'magnitude', 'sparsity': 0.5, 'n_m': [2, 4]}
    >>> parse_prune("wanda:0.5")
    {'method': 'wanda', 'sparsity': 0.5, 'n_m': None}
    """
    parts = [p.strip() for p in text.split(":")]
    method = "magnitude"
    if parts and parts[0] in ("magnitude", "wanda"):
        method, parts = parts[0], parts[1:]
    try:
        if len(parts) == 2:
            n, m = int(parts[0]), int(parts[1])
            if not 0 < n <= m:
                raise ValueError
            return {"method": method, "sparsity": 1 - n / m, "n_m": [n, m]}
        if len(parts) == 1:
            return {"method": method, "sparsity": float(parts[0]), "n_m": None}
    except ValueError:
        pass
    raise MechscopeError(f"--prune {text!r} is not understood; use METHOD:SPARSITY or [METHOD:]N:M with METHOD "
                         "magnitude or wanda, e.g. magnitude:0.5, wanda:0.5, 2:4")


def make_version(model: Model, name: str, operation: str, params: dict, base: str | None = None) -> Version:
    """Apply `operation` to a copy of the weights of `model` (unchanged) and return the version.

    - quantize: ``{"type": "q8_0"|"q4_0"|"int8"|"int4"|..., "modules": "*", "group_size": 32}``
    - prune: ``{"method": "magnitude"|"wanda", "sparsity": 0.5, "n_m": [2, 4] or None, "modules": "*",
      "calibration": "generated", "calibration_n": 32, "calibration_length": 64, "seed": 0}``
    - low-rank: ``{"fraction": 0.5, "modules": "*"}``

    Missing parameters take these defaults; the returned version records them all.
    """
    from mechscope.compare.lowrank import low_rank
    from mechscope.compare.pruning import calibration_tokens, prune_weights
    from mechscope.compare.quantization import quantize

    if operation == "quantize":
        params = {"modules": "*", "group_size": 32, **params}
        tensors = quantize(model, params["type"], params["modules"], params["group_size"])
    elif operation == "prune":
        params = {"method": "magnitude", "sparsity": 0.5, "n_m": None, "modules": "*", **params}
        calibration = None
        if params["method"] == "wanda":
            params = {"calibration": "generated", "calibration_n": 32, "calibration_length": 64, "seed": 0, **params}
            calibration = calibration_tokens(model, params["calibration"], params["calibration_n"],
                                             params["calibration_length"], params["seed"])
        n_m = tuple(params["n_m"]) if params["n_m"] else None
        tensors = prune_weights(model, params["method"], params["sparsity"], n_m=n_m, modules=params["modules"],
                        calibration=calibration)
    elif operation == "low-rank":
        params = {"modules": "*", **params}
        tensors = low_rank(model, float(params["fraction"]), params["modules"])
    else:
        raise MechscopeError(f"unknown operation {operation!r}; use quantize, prune or low-rank "
                             "(register a fine-tuned checkpoint with `mechscope version make --from hf:DIR`)")
    return Version(name=name, base=base or model.spec, operation=operation, params=params,
                   base_fingerprint=model.fingerprint, fingerprint=_fingerprint_after(model, tensors), tensors=tensors)


def apply_version(model: Model, version: Version) -> Model:
    """Write the version's weights into `model` (in place: `model` becomes the version) and return it.

    Raises if `model` is not the version's base or the result is not the recorded version.
    """
    if model.fingerprint != version.base_fingerprint:
        raise MechscopeError(
            f"version {version.name!r} was made from model {version.base_fingerprint} ({version.base}), but the "
            f"base loads as {model.fingerprint} ({model.spec}); remake the version on this base"
        )
    write_weights(model, version.tensors)
    fp = fingerprint_state(model.hf)
    if fp != version.fingerprint:
        raise MechscopeError(f"version {version.name!r} loads as {fp}, recorded as {version.fingerprint}: its "
                             "weights file is damaged; remake the version")
    return Model(spec=f"version:{version.name}", hf=model.hf, tokenizer=model.tokenizer, adapter=model.adapter,
                 fingerprint=fp)


def write_weights(model: Model, tensors: dict[str, EncodedWeight]) -> None:
    """Copy decoded weights into the parameters of `model` (in place)."""
    params = dict(model.hf.named_parameters(remove_duplicate=False))
    with torch.no_grad():
        for name, enc in tensors.items():
            if name not in params:
                raise MechscopeError(f"version weight {name!r} is not a parameter of {model.spec}; "
                                     "was the version made for another architecture?")
            p = params[name]
            if tuple(p.shape) != tuple(enc.shape):
                raise MechscopeError(f"version weight {name!r} has shape {tuple(enc.shape)}, the model's "
                                     f"{tuple(p.shape)}; was the version made for another model?")
            p.copy_(enc.decode().to(p.dtype))


def parameter_layout(model: Model) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Every parameter's name -> (shape, dtype): what decides which kernels a dense forward pass calls.

    >>> from mechscope.models import load
    >>> parameter_layout(load("random:llama-tiny"))["model.embed_tokens.weight"][1]
    torch.float32
    """
    return {name: (tuple(p.shape), p.dtype) for name, p in model.hf.named_parameters()}


def parameter_bytes(model: Model) -> dict[str, int]:
    """Bytes of every distinct parameter (tied weights counted once).

    >>> from mechscope.models import load
    >>> sum(parameter_bytes(load("random:llama-tiny")).values()) > 0
    True
    """
    return {name: p.numel() * p.element_size() for name, p in model.hf.named_parameters()}


def size_bytes(base_bytes: dict[str, int], tensors: dict[str, EncodedWeight]) -> int:
    """The size of a version: the base's parameters, with each changed one counted in its format.

    >>> size_bytes({"a": 400, "b": 40}, {})
    440
    """
    return sum(n for name, n in base_bytes.items() if name not in tensors) + sum(e.nbytes for e in tensors.values())


def _fingerprint_after(model: Model, tensors: dict[str, EncodedWeight]) -> str:
    """Fingerprint of `model` with `tensors` written in, leaving `model` as it was."""
    params = dict(model.hf.named_parameters(remove_duplicate=False))
    saved = {name: params[name].detach().clone() for name in tensors}
    try:
        write_weights(model, tensors)
        return fingerprint_state(model.hf)
    finally:
        with torch.no_grad():
            for name, value in saved.items():
                params[name].copy_(value)
