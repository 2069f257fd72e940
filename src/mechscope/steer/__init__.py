"""Steer a model at inference time and measure the effect and the damage (layer 4).

Methods are fit/apply objects (`METHODS` by name: `LinearAcT`, `MeanAcT`, `DiffMean`, `ActAdd`,
`PCADiff`, `AurA`, `DirectionalAblation`, ..., each in its own module); a fitted method saves to a
`SteeringFile` (safetensors plus a JSON manifest), and `evaluate_steering`
sweeps strengths and reports effect and damage as a plain dict.

>>> from mechscope.models import load
>>> from mechscope.steer import load_concept, make_method
>>> model = load("random:llama-tiny")
>>> concept = load_concept("wedding")
>>> steering = make_method("diffmean", layers="1").fit(model, concept.source[:8], concept.target[:8])
>>> with steering.apply(model, strength=4.0):
...     pass  # any forward pass or generation here is steered
"""

from __future__ import annotations

from mechscope.steer.act import LinearAcT, MeanAcT
from mechscope.steer.aura import AurA
from mechscope.steer.base import SteeringMethod
from mechscope.steer.concepts import Concept, load_concept
from mechscope.steer.evaluate import evaluate_steering
from mechscope.steer.file import SteeringFile
from mechscope.steer.generate import generate
from mechscope.steer.lineas import LinEAS
from mechscope.steer.lowrank import LowRankSteer
from mechscope.steer.vectors import ActAdd, DiffMean, DirectionalAblation, PCADiff

METHODS: dict[str, type[SteeringMethod]] = {
    cls.name: cls for cls in (LinearAcT, MeanAcT, LinEAS, LowRankSteer, DiffMean, ActAdd, PCADiff, AurA,
                              DirectionalAblation)
}


def make_method(name: str, **params) -> SteeringMethod:
    """A method by name with its parameters, or a one-line error naming the closest ones.

    >>> make_method("linear-act", sites="mlp").get_params()
    {'sites': 'mlp', 'layers': 'all', 'pooling': 'mean'}
    """
    from mechscope.errors import MechscopeError, closest

    if name not in METHODS:
        raise MechscopeError(
            f"unknown steering method {name!r}{closest(name, METHODS)}; use one of {', '.join(METHODS)}")
    return METHODS[name](**{k: v for k, v in params.items() if v is not None})


def parse_params(name: str, items: list[str]) -> dict:
    """``["steps=40", "lr=0.02"]`` -> the method's keyword arguments, typed by its constructor's defaults.

    >>> parse_params("lineas", ["steps=40", "lr=0.02", "layers=5-15"])
    {'steps': 40, 'lr': 0.02, 'layers': '5-15'}
    """
    import inspect

    from mechscope.errors import MechscopeError, closest

    if name not in METHODS:
        raise MechscopeError(
            f"unknown steering method {name!r}{closest(name, METHODS)}; use one of {', '.join(METHODS)}")
    sig = {k: p.default for k, p in inspect.signature(METHODS[name].__init__).parameters.items() if k != "self"}
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in sig:
            raise MechscopeError(f"parameter {item!r} of {name} is not KEY=VALUE with KEY one of {', '.join(sig)}"
                                 f"{closest(key, sig) if sep else ''}")
        default = sig[key]
        try:
            out[key] = (int(value) if isinstance(default, int) and not isinstance(default, bool)
                        else float(value) if isinstance(default, float) else value)
        except ValueError as exc:
            raise MechscopeError(
                f"parameter {key} of {name} must be a {type(default).__name__}; got {value!r}") from exc
    return out


# The public surface (docs/public-api.md). The method classes are reached through METHODS / make_method
# or their modules (steer.vectors.DiffMean, steer.act.LinearAcT, ...); parse_params serves the CLI.
__all__ = [
    "METHODS", "Concept", "SteeringFile", "SteeringMethod", "evaluate_steering", "generate", "load_concept",
    "make_method",
]
