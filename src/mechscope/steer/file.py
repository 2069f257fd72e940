"""Steering files: safetensors tensors plus a JSON manifest, and llama.cpp control-vector export.

Tensors are stored as ``"<site>/<name>"`` (e.g. ``"model.layers.10/vector"``);
the manifest is the safetensors metadata entry ``"mechscope"``. No pickle:
loading runs no code. A file is written to a temp file and renamed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mechscope.atomic import atomic_write
from mechscope.errors import MechscopeError
from mechscope.steer.base import SteeringMethod

FORMAT = "mechscope-steering/1"


@dataclass
class SteeringFile:
    """A fitted steering method with its manifest: what was fitted, on which model and data.

    >>> import tempfile, pathlib
    >>> from mechscope.models import load
    >>> from mechscope.steer.vectors import DiffMean
    >>> m = load("random:llama-tiny")
    >>> sf = SteeringFile.from_method(DiffMean(layers="1").fit(m, ["a cat"], ["a wedding"]))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "wedding.safetensors"
    >>> sf.save(path)
    >>> SteeringFile.load(path).manifest["method"]
    'diffmean'
    """

    method: SteeringMethod
    manifest: dict = field(default_factory=dict)

    @classmethod
    def from_method(cls, method: SteeringMethod, **extra) -> SteeringFile:
        """Wrap a fitted method; `extra` goes into the manifest (e.g. ``concept="wedding"``)."""
        import mechscope

        if not method.is_fitted:
            raise MechscopeError(f"{type(method).__name__} is not fitted; call .fit(model, source, target) first")
        manifest = {
            "format": FORMAT, "method": method.name, "params": method.get_params(),
            "mechscope_version": mechscope.__version__,
            "model": {"spec": method.model_spec_, "fingerprint": method.model_fingerprint_,
                      "dtype": getattr(method, "model_dtype_", "float32"),
                      "family": method.family_, "d_model": method.d_model_, "n_layers": method.n_layers_},
            "sites": method.sites_, "pooling": method.pooling,
            "default_strength": method.default_strength, "strength_range": list(method.strength_range),
            "data": {"hash": method.data_hash_, "n_source": method.n_source_, "n_target": method.n_target_},
            "evaluation": None, "fit_report": method.fit_report(),
        }
        manifest.update(extra)
        return cls(method, manifest)

    @property
    def default_strength(self) -> float:
        return float(self.manifest.get("default_strength", self.method.default_strength))

    def apply(self, model, strength: float | None = None, positions: str = "all", strict: bool = True,
              prompt_length: int | None = None):
        """Steer `model` inside a ``with`` block (see `SteeringMethod.apply`); strength defaults to the file's."""
        return self.method.apply(model, self.default_strength if strength is None else strength,
                                 positions=positions, strict=strict, prompt_length=prompt_length)

    def save(self, path: str | Path) -> None:
        """Write the tensors and the manifest to one safetensors file (atomically)."""
        from safetensors.torch import save_file

        tensors = {f"{site}/{name}": t.contiguous().cpu()
                   for site, state in self.method.state_.items() for name, t in state.items()}
        meta = {"mechscope": json.dumps(self.manifest, default=_jsonable)}
        atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))

    @classmethod
    def load(cls, path: str | Path) -> SteeringFile:
        """Read a steering file written by `save`; one-line errors for a missing or foreign file."""
        from safetensors import SafetensorError, safe_open

        path = Path(path)
        if not path.is_file():
            raise MechscopeError(f"steering file {str(path)!r} does not exist; write one with `mechscope steer fit`")
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except (SafetensorError, OSError) as exc:
            raise MechscopeError(f"{str(path)!r} is not a safetensors file ({exc}); pass a steering file") from exc
        if "mechscope" not in meta:
            raise MechscopeError(f"{str(path)!r} has no mechscope manifest; it was not written by `steer fit`")
        try:
            return cls._from_manifest(json.loads(meta["mechscope"]), tensors, path)
        except MechscopeError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise MechscopeError(f"{str(path)!r}: its manifest is damaged ({type(exc).__name__}: "
                                 f"{' '.join(str(exc).split())[:80]}); fit it again with `mechscope steer fit`") from None

    @classmethod
    def _from_manifest(cls, manifest, tensors: dict, path: Path) -> SteeringFile:
        from mechscope.steer import METHODS

        if not isinstance(manifest, dict):
            raise MechscopeError(f"{str(path)!r}: its manifest is a JSON {type(manifest).__name__}, not an object; "
                                 "fit it again with `mechscope steer fit`")
        name = manifest.get("method")
        if manifest.get("format") != FORMAT or not isinstance(name, str) or name not in METHODS:
            raise MechscopeError(f"{str(path)!r} is format {manifest.get('format')!r} with method {name!r}; "
                                 f"this mechscope reads {FORMAT} files with methods {', '.join(METHODS)}")
        method = METHODS[name](**manifest["params"])
        state: dict[str, dict[str, torch.Tensor]] = {site: {} for site in manifest["sites"]}
        for key, t in tensors.items():
            site, _, tname = key.rpartition("/")
            state[site][tname] = t
        model = manifest["model"]
        method.sites_, method.state_ = list(manifest["sites"]), state
        method.model_fingerprint_, method.model_spec_ = model["fingerprint"], model["spec"]
        method.model_dtype_ = model.get("dtype", "float32")
        method.family_, method.d_model_, method.n_layers_ = model["family"], model["d_model"], model["n_layers"]
        data = manifest["data"]
        method.data_hash_, method.n_source_, method.n_target_ = data["hash"], data["n_source"], data["n_target"]
        return cls(method, manifest)


def _jsonable(value):
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def export_control_vector(steering: SteeringFile, path: str | Path, strength: float | None = None) -> None:
    """Write an additive steering file as a llama.cpp control vector (GGUF).

    llama.cpp adds tensor ``direction.<i>`` to the output of layer ``i``
    (``--control-vector-scaled FILE SCALE``); the vectors are written already
    multiplied by `strength` (default: the file's), so scale 1 reproduces it.
    Only block-output vectors of layers 1 and up can be exported.

    >>> import tempfile, pathlib, gguf
    >>> from mechscope.models import load
    >>> from mechscope.steer.vectors import DiffMean
    >>> m = load("random:llama-tiny")
    >>> sf = SteeringFile.from_method(DiffMean(layers="1").fit(m, ["a cat"], ["a wedding"]))
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "wedding.gguf"
    >>> export_control_vector(sf, path)
    >>> [t.name for t in gguf.GGUFReader(path).tensors]
    ['direction.1']
    """
    import gguf

    method = steering.method
    if not method.additive:
        raise MechscopeError(f"{method.name} is not one vector per layer; export diffmean, actadd or pca-diff "
                             "steering to a control vector")
    s = steering.default_strength if strength is None else float(strength)
    from mechscope.steer.sites import Site

    from mechscope.models.families import family_named

    layers_path = family_named(method.family_).layers
    directions = {}
    for key in method.sites_:
        site = Site.from_key(key)
        prefix, _, index = site.path.rpartition(".")
        if site.on_input or prefix != layers_path or not index.isdigit():
            raise MechscopeError(f"site {key!r} is not a block output; llama.cpp control vectors act on block "
                                 "outputs only: fit with --sites block")
        if int(index) == 0:
            raise MechscopeError("llama.cpp control vectors cannot steer layer 0; fit at layer 1 or above")
        directions[int(index)] = (s * method.state_[key]["vector"]).float().numpy()
    arch = "controlvector"

    def write(tmp: Path) -> None:
        writer = gguf.GGUFWriter(str(tmp), arch)
        writer.add_string(f"{arch}.model_hint", method.family_)
        writer.add_uint32(f"{arch}.layer_count", len(directions))
        for layer, vector in sorted(directions.items()):
            writer.add_tensor(f"direction.{layer}", vector)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()

    atomic_write(path, write)
