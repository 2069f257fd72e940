"""A run: what to compute, as plain data with a stable hash.

A `RunSpec` names a kind and a method of the registry, the model (any spec `mechscope.models.load` takes),
the task or data it works on, the method's parameters and a seed. Its hash is computed over the spec with
the parameters validated and their defaults filled in (so leaving a parameter out and giving its default
are the same run) and, for a task given as a file, over that file's bytes (so an edited file is a new run).

>>> spec = RunSpec(kind="discover", method="eap-ig", model="random:gpt2-tiny", task="ioi", n=8)
>>> spec.hash() == RunSpec.from_dict(spec.to_dict()).hash() == spec.with_params(steps=5).hash()
True
>>> spec.hash() == spec.with_params(steps=3).hash()
False
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from mechscope.errors import MechscopeError

SPEC_SCHEMA = "mechscope.run/1"


@dataclass(frozen=True)
class RunSpec:
    """One run: ``kind`` and ``method`` (a registry record), ``model``, ``task`` (with ``n`` examples of a built-in),
    ``params`` for the method, ``seed`` (the task's examples and split, and torch's generator), and the ``device``
    and ``dtype`` the model runs in (None: CUDA when present; float32 on CPU, the model's own on a GPU)."""

    kind: str
    method: str
    model: str = "smollm2-135m"
    task: str | None = None
    n: int | None = None
    params: dict = field(default_factory=dict)
    seed: int = 0
    device: str | None = None
    dtype: str | None = None

    def __post_init__(self):
        if not isinstance(self.params, dict):
            raise MechscopeError(f"a run's params must be a mapping of names to values; got {self.params!r}")
        if self.n is not None and (not isinstance(self.n, int) or isinstance(self.n, bool) or self.n < 1):
            raise MechscopeError(f"a run's n (examples of the task) must be a whole number >= 1; got {self.n!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise MechscopeError(f"a run's seed must be a whole number; got {self.seed!r}")

    def method_record(self):
        from mechscope.runs.registry import get_method

        return get_method(self.kind, self.method)

    def resolved_params(self) -> dict:
        """The parameters validated by the method's model, every default filled in."""
        return self.method_record().validate(self.params).model_dump(mode="json")

    def normalized(self) -> "RunSpec":
        """The same run with its parameters validated and completed (what is hashed and recorded)."""
        return replace(self, params=self.resolved_params())

    def with_params(self, **params) -> "RunSpec":
        return replace(self, params={**self.params, **params})

    def to_dict(self) -> dict:
        return {"schema": SPEC_SCHEMA, **asdict(self)}

    @classmethod
    def from_dict(cls, doc: dict) -> "RunSpec":
        """A spec from `to_dict`'s output (or a sweep file's cell); unknown keys are refused by name."""
        doc = {k: v for k, v in doc.items() if k != "schema"}
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(doc) - known)
        if unknown:
            raise MechscopeError(f"a run spec has no field {unknown[0]!r}; its fields are {', '.join(sorted(known))}")
        return cls(**doc)

    def hash(self) -> str:
        """A 16-hex-digit digest of the normalized spec (and of the bytes of the task file and of any file a
        file parameter names, such as a steering run's ``source``)."""
        doc = self.normalized().to_dict()
        if self.task is not None and Path(self.task).is_file():
            doc["task_file_sha256"] = hashlib.sha256(Path(self.task).read_bytes()).hexdigest()
        for name in self.method_record().extra.get("file_params", ()):  # e.g. a steering run's sentence files
            value = doc["params"].get(name)
            if isinstance(value, str) and Path(value).is_file():
                doc[f"{name}_file_sha256"] = hashlib.sha256(Path(value).read_bytes()).hexdigest()
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    def label(self) -> str:
        """A short readable description: ``eap-ig on ioi, random:gpt2-tiny, seed 0``."""
        on = f" on {self.task}" if self.task else ""
        return f"{self.method}{on}, {self.model}, seed {self.seed}"
