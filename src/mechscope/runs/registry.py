"""The method registry: every method of every kind, recorded once.

A `Method` record holds what a surface needs to offer a method and what the run layer needs to run it:
its kind (``discover``, ``steer``, ...), its name, the function that computes it, a pydantic model of its
parameters (defaults, constraints, help text) and an estimate of its work units. The CLI's options, the
web app's job forms and the front end's method lists are read from here; no surface names a method.

>>> from mechscope.runs import get_method
>>> m = get_method("discover", "eap-ig")
>>> m.validate({"steps": 3}).steps, m.validate({}).steps
(3, 5)
>>> m.validate({"steps": 0})
Traceback (most recent call last):
...
mechscope.runs.registry.ParameterError: parameter 'steps' of discover method eap-ig must be greater than or equal to 1; got 0
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from mechscope.errors import MechscopeError, closest

Report = Callable[[float, float, str], None]  # report(done, total, message): the one progress protocol


class Params(BaseModel):
    """Base of every method's parameter model: unknown parameters are refused, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=True)


class ParameterError(MechscopeError):
    """A parameter of a method is wrong; `param` names it so a surface can name its own spelling (a CLI flag).

    >>> str(ParameterError("edges", "must be at least 1; got -5", "discover method eap"))
    "parameter 'edges' of discover method eap must be at least 1; got -5"
    """

    def __init__(self, param: str, problem: str, where: str = ""):
        self.param, self.problem, self.where = param, problem, where
        super().__init__(f"parameter {param!r}{' of ' + where if where else ''} {problem}")


@dataclass(frozen=True)
class Method:
    """One method: `run(inputs, params, report)` computes it; `units(inputs, params)` estimates its work.

    `inputs` is what the method's kind prepares (for discovery: the graph and the task's train split).
    """

    kind: str
    name: str
    run: Callable[..., Any]
    params: type[Params]
    units: Callable[..., int]
    summary: str
    extra: dict = field(default_factory=dict)

    def validate(self, params: dict | None) -> Params:
        """`params` checked against this method's model, defaults filled in; a `ParameterError` names the culprit."""
        try:
            return self.params(**dict(params or {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(str(p) for p in first["loc"]) or "?"
            where = f"{self.kind} method {self.name}"
            if first["type"] == "extra_forbidden":
                known = list(self.params.model_fields)
                raise ParameterError(param, f"is not taken{closest(param, known)}; it takes "
                                     f"{', '.join(known) or 'no parameters'}", where) from None
            if first["type"] == "missing":
                help_text = self.params.model_fields[param].description if param in self.params.model_fields else ""
                raise ParameterError(param, f"is missing{'; give ' + help_text if help_text else ''}", where) \
                    from None
            inner = (first.get("ctx") or {}).get("error")
            if isinstance(inner, ParameterError):  # raised by a model validator: it names its own parameter
                raise ParameterError(inner.param, inner.problem, where) from None
            message = first["msg"][0].lower() + first["msg"][1:]
            message = message.removeprefix("value error, ").replace("input should be", "must be")
            raise ParameterError(param, f"{message}; got {first.get('input')!r}", where) from None

    def describe(self) -> dict:
        """This method as plain data for a form: name, kind, summary and each parameter's type, default and help."""
        return {"kind": self.kind, "name": self.name, "summary": self.summary, **self.extra,
                "params": [describe_field(self.params, n) for n in self.params.model_fields]}


def run_spec(spec, report: Report | None = None):
    """Run the method of `spec` on the spec itself, its parameters validated (the kinds whose methods take the whole
    spec: evaluate, hypothesis, describe, groundtruth, version, generate, steer-eval, steer-pair).

    >>> from mechscope.runs import RunSpec
    >>> run_spec(RunSpec("evaluate", "circuit-faithfulness", "random:gpt2-tiny"))
    Traceback (most recent call last):
    ...
    mechscope.runs.registry.ParameterError: parameter 'circuit' of evaluate method circuit-faithfulness is missing; give a circuit JSON file (written by `mechscope discover --out`)
    """
    method = spec.method_record()
    params = method.validate(spec.params)
    return method.run(spec, params, report or (lambda done, total, message: None))


def describe_field(model: type[Params], name: str) -> dict:
    """One parameter as plain data: ``{"name", "type", "optional", "required", "default", "help", "choices",
    "minimum", "maximum"}``."""
    info = model.model_fields[name]
    annotation = info.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    optional = type(None) in typing.get_args(annotation)
    base = args[0] if optional and len(args) == 1 else annotation
    choices = list(typing.get_args(base)) if typing.get_origin(base) is typing.Literal else None
    kind = ("choice" if choices else "bool" if base is bool else "int" if base is int
            else "float" if base is float else "str")
    required = info.is_required()  # a required parameter has no default (pydantic's marker is not data)
    doc = {"name": name, "type": kind, "optional": optional, "required": required,
           "default": None if required else info.default, "help": info.description or "", "choices": choices,
           "minimum": None, "maximum": None}
    for m in info.metadata:
        for attr, key in (("ge", "minimum"), ("gt", "minimum"), ("le", "maximum"), ("lt", "maximum")):
            if getattr(m, attr, None) is not None:
                doc[key] = getattr(m, attr)
    return doc


REGISTRY: dict[tuple[str, str], Method] = {}
# what a surface offers first (steering: Linear-AcT, the best measured on SmolLM2 within the damage budget)
DEFAULT_METHODS = {"discover": "eap-ig", "steer": "linear-act", "compare": "versions", "groundtruth": "build",
                   "evaluate": "circuit-faithfulness", "hypothesis": "circuit-tests", "version": "quantize",
                   "describe": "top-inputs", "map": "map", "augment": "llm"}

# steering files applied: generation, the strength sweep of a file, two files together (runs/steered.py)
DEFAULT_METHODS.update({"generate": "sampling", "steer-eval": "effect-damage", "steer-pair": "composition"})


def default_method(kind: str) -> str:
    """The method a surface preselects for `kind`.

    >>> default_method("discover")
    'eap-ig'
    """
    return DEFAULT_METHODS[kind]


def register(method: Method) -> Method:
    """Add a method to the registry (once: a second record under the same kind and name is refused)."""
    key = (method.kind, method.name)
    if key in REGISTRY and REGISTRY[key] is not method:
        raise MechscopeError(f"a {method.kind} method named {method.name!r} is already registered")
    REGISTRY[key] = method
    return method


# the module whose import registers each kind's built-in records (loaded when that kind is first asked for, so
# listing discovery methods does not import the steering code)
RECORD_MODULES = {"discover": "mechscope.runs.discovery", "steer": "mechscope.runs.steering",
                  "evaluate": "mechscope.runs.circuits", "hypothesis": "mechscope.runs.circuits",
                  "version": "mechscope.runs.versions",
                  "compare": "mechscope.runs.comparison", "groundtruth": "mechscope.runs.groundtruth",
                  "describe": "mechscope.runs.describing", "map": "mechscope.runs.prompts",
                  "augment": "mechscope.runs.prompts"}

RECORD_MODULES.update(dict.fromkeys(("generate", "steer-eval", "steer-pair"), "mechscope.runs.steered"))


def _load_records(kind: str | None = None) -> None:
    import importlib

    for k, module in RECORD_MODULES.items():
        if kind is None or k == kind:
            importlib.import_module(module)


def methods(kind: str | None = None) -> list[Method]:
    """Every registered method (of one kind), in registration order.

    >>> [m.name for m in methods("discover")][:3]
    ['eap', 'eap-ig', 'exact']
    """
    _load_records(kind)
    return [m for (k, _), m in REGISTRY.items() if kind is None or k == kind]


def method_for(kind: str, key: str, value: str) -> str | None:
    """The method of `kind` whose record's ``extra[key]`` is `value` (or holds it): how a surface finds the method
    behind one of its choices (a command, a target picked on a map) without naming it; None if no record says.

    >>> method_for("augment", "targets", "between"), method_for("describe", "command", "unit")
    ('interpolate', 'top-inputs')
    """
    for m in methods(kind):
        said = m.extra.get(key)
        if said == value or (isinstance(said, (tuple, list)) and value in said):
            return m.name
    return None


def kinds() -> list[str]:
    """The kinds that have methods, e.g. ``['discover', ...]``."""
    return list(dict.fromkeys(m.kind for m in methods()))


def get_method(kind: str, name: str) -> Method:
    """The method `name` of `kind`, or a one-line error listing the names there are."""
    _load_records(kind if kind in RECORD_MODULES else None)
    if (kind, name) not in REGISTRY:
        known = [m.name for m in methods(kind)]
        if not known:
            raise MechscopeError(f"unknown run kind {kind!r}{closest(kind, kinds())}; kinds are {', '.join(kinds())}")
        raise ParameterError("method", f"is {name!r}, which is unknown{closest(name, known)}; use one of "
                             f"{', '.join(known)}", kind)
    return REGISTRY[(kind, name)]


def catalog() -> dict:
    """Every kind's methods as plain data (what the web app's job forms are built from), and the built-in tasks.

    >>> [m["name"] for m in catalog()["kinds"]["discover"]][:2], "ioi" in catalog()["tasks"]
    (['eap', 'eap-ig'], True)
    """
    from mechscope.steer.concepts import CONCEPTS
    from mechscope.tasks import BUILTIN_TASKS

    return {"kinds": {k: [m.describe() for m in methods(k)] for k in kinds()}, "tasks": list(BUILTIN_TASKS),
            "concepts": list(CONCEPTS), "defaults": dict(DEFAULT_METHODS)}
