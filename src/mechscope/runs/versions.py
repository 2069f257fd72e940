"""Version runs: making a model version (quantized, pruned, low-rank, or a fine-tuned checkpoint) as a run.

A spec's ``model`` is the base (a model spec or a version of the store) and its method the operation:
``quantize``, ``prune``, ``low-rank`` (`mechscope.compare.version.make_version`) or ``checkpoint`` (a whole
``hf:<dir>`` of the base's architecture). Its parameters name the new version (``name``) and the operation's
settings. A version is made from the base's float32 weights. `record` saves it in the store (its manifest and
changed weights) with the run's spec and hash in the entry's params.

Each record's ``option`` is the `mechscope version make` option that chooses it (its value is the record's
``value`` parameter), so the command names no operation.

>>> from mechscope.runs import get_method
>>> get_method("version", "prune").validate({"name": "half", "sparsity": 0.5}).method
'magnitude'
>>> get_method("version", "quantize").validate({"name": "bad/name", "type": "q8_0"})
Traceback (most recent call last):
...
mechscope.runs.registry.ParameterError: parameter 'name' of version method quantize is 'bad/name', which is not allowed; use letters, digits, '.', '_' and '-' (at most 100), not a model spec, e.g. smollm2-q4
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from mechscope.errors import MechscopeError
from mechscope.runs.registry import Method, ParameterError, Params, Report, register, run_spec

STORE_KIND = "version"


class VersionParams(Params):
    name: str = Field(..., description="name of the new version")
    replace: bool = Field(False, description="overwrite a version of the same name")

    @field_validator("name")
    @classmethod
    def _store_name(cls, value: str) -> str:
        from mechscope.store.db import check_name

        try:
            check_name(value)
        except MechscopeError as exc:
            raise ParameterError("name", f"is {value!r}, which is {str(exc).split(' is ', 1)[-1]}") from None
        return value


class QuantizeParams(VersionParams):
    type: str = Field(..., description="q8_0, q4_0 (GGUF; also q4_1, q5_0, q5_1), int8 or int4 (torchao)")
    modules: str = Field("*", description="comma-separated patterns of module paths to change")
    group_size: int = Field(32, ge=1, description="int4: inputs per scale")


class PruneParams(VersionParams):
    # the names make_version records in the version's params (method is the pruning criterion, not a run method)
    method: Literal["magnitude", "wanda"] = Field("magnitude", description="magnitude or wanda (weight times input "
                                                  "norm, on calibration text)")
    sparsity: float = Field(0.5, description="fraction of each matrix's weights set to 0")
    n_m: list[int] | None = Field(None, description="N:M structured sparsity, e.g. [2, 4] (sets sparsity 1 - N/M)")
    modules: str = Field("*", description="comma-separated patterns of module paths to change")
    calibration: str = Field("generated", description="wanda: 'generated' (sampled from the base) or a task")


class LowRankParams(VersionParams):
    fraction: float = Field(..., description="keep this fraction of each matrix's rank (truncated SVD)")
    modules: str = Field("*", description="comma-separated patterns of module paths to change")


class CheckpointParams(VersionParams):
    checkpoint: str = Field(..., description="a fine-tuned checkpoint of the base's architecture, hf:<dir>")


# each operation's make_version parameters (exactly those `mechscope version make` always recorded)
def _quantize(p) -> tuple[str, dict]:
    return "quantize", {"type": p.type.lower(), "modules": p.modules, "group_size": p.group_size}


def _prune(p) -> tuple[str, dict]:
    params = {"method": p.method, "sparsity": p.sparsity, "n_m": p.n_m, "modules": p.modules}
    if p.method == "wanda":
        params["calibration"] = p.calibration
    return "prune", params


def _low_rank(p) -> tuple[str, dict]:
    return "low-rank", {"fraction": p.fraction, "modules": p.modules}


def _maker(operation):
    """The run of one method: load the base in float32, make the version (`operation(params)` gives make_version's
    operation and parameters; None: register the checkpoint); the outcome is the version and the bytes of its
    base's parameters (what its recorded size is measured against)."""

    def run(spec, p, report) -> dict:
        from mechscope.compare import make_version
        from mechscope.compare.version import operation_label, parameter_bytes
        from mechscope.store import Store, load_model
        from mechscope.store.versions import checkpoint_version

        if spec.dtype not in (None, "float32"):
            raise MechscopeError(f"a version is made from the base's float32 weights; got dtype {spec.dtype!r} "
                                 "(load the version in another dtype where it is used)")
        store = Store()
        if not p.replace and store.find("version", p.name) is not None:
            raise ParameterError("name", f"is {p.name!r}, which a version already has; pick another name or "
                                 "replace it", f"version method {spec.method}")
        report(0, 2, f"loading {spec.model}")
        model = load_model(store, spec.model, spec.device, "float32")
        if operation is None:
            report(1, 2, f"loading {p.checkpoint}")
            version, _ = checkpoint_version(model, p.name, p.checkpoint, base_name=spec.model)
        else:
            op, params = operation(p)
            report(1, 2, f"making {p.name}: {operation_label(op, params)} of {spec.model}")
            version = make_version(model, p.name, op, params, base=spec.model)
        report(2, 2, f"recording {p.name}")
        return {"version": version, "base_bytes": parameter_bytes(model)}

    return run


def _two(model, task, params) -> int:
    return 2


# option: the `mechscope version make` option choosing the method; value: the parameter that option's value sets
# (None: the command parses it into several, as --prune's METHOD:SPARSITY or N:M)
for _name, _operation, _params, _option, _value, _summary in (
    ("quantize", _quantize, QuantizeParams, "--quantize", "type",
     "quantize weights: GGUF block formats or torchao int8/int4"),
    ("prune", _prune, PruneParams, "--prune", None, "prune weights by magnitude or Wanda, unstructured or N:M"),
    ("low-rank", _low_rank, LowRankParams, "--low-rank", "fraction", "truncate each matrix's rank (SVD)"),
    ("checkpoint", None, CheckpointParams, "--from", "checkpoint",
     "register a fine-tuned checkpoint hf:<dir> as a version"),
):
    register(Method("version", _name, _maker(_operation), _params, _two, _summary,
                    {"option": _option, "value": _value}))


def compute(spec, report: Report | None = None) -> dict:
    """Make the version of `spec`; returns ``{"version": Version, "base_bytes": {parameter: bytes}}``."""
    return run_spec(spec, report)


def record(store, spec, digest: str, outcome: dict, name: str | None = None) -> dict:
    """Save the version in `store` with the run's provenance; returns ``{"kind", "name", "id"}``."""
    from mechscope.store import save_version

    version = outcome["version"]
    if name is not None and name != version.name:
        raise MechscopeError(f"a version run records the version under its own name {version.name!r}; got {name!r}")
    entry = save_version(store, version, replace=spec.method_record().validate(spec.params).replace,
                         base_bytes=outcome["base_bytes"],
                         provenance={"run": spec.normalized().to_dict(), "run_hash": digest})
    return {"kind": "version", "name": entry.name, "id": entry.id}
