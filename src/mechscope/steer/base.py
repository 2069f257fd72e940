"""The steering estimator contract: constructor stores parameters, `fit` learns, `apply` hooks.

A method is fitted on two sets of sentences, source (what the model does now)
and target (what it should do), at a list of sites. What it learns ends in
``_``: one dict of tensors per site in `state_`, plus what it saw
(`model_fingerprint_`, `d_model_`, `data_hash_`). `apply` is a context manager
that steers the model inside the ``with`` block and always removes its hooks.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ClassVar

import torch

from mechscope.errors import MechscopeError
from mechscope.models.placement import execution_device
from mechscope.steer.activations import POOLINGS, fit_pass
from mechscope.steer.hooks import HookState, steering_hooks
from mechscope.steer.sites import Site, resolve_sites


def data_hash(source: list[str], target: list[str]) -> str:
    """A short hash of the fitting sentences, recorded in the steering file.

    >>> data_hash(["a"], ["b"]) != data_hash(["b"], ["a"])
    True
    """
    return hashlib.sha256(json.dumps([list(source), list(target)]).encode()).hexdigest()[:16]


def train_steps(steps: int, step: Callable[[int], float],
                on_step: Callable[[int, float], None] | None = None) -> list[float]:
    """Run ``step(i) -> loss`` `steps` times and return the losses; the training loop of trained methods.

    Ctrl-C ends training early and keeps what was learned (before the first step it propagates).
    `on_step(i, loss)` reports progress.

    >>> train_steps(3, lambda i: 1.0 / (i + 1))
    [1.0, 0.5, 0.3333333333333333]
    """
    history: list[float] = []
    try:
        for i in range(steps):
            history.append(float(step(i)))
            if on_step is not None:
                on_step(i, history[-1])
    except KeyboardInterrupt:
        if not history:
            raise
    return history


class SteeringMethod:
    """Base class of every steering method (see `mechscope.steer.METHODS`).

    Subclasses set `name`, `strength_range`, `default_strengths`, list their
    parameters in ``__init__`` and implement `_fit_site` and `_transform`.
    """

    name: ClassVar[str] = ""
    strength_range: ClassVar[tuple[float, float | None]] = (0.0, 1.0)
    default_strengths: ClassVar[tuple[float, ...]] = (0.0, 0.25, 0.5, 0.75, 1.0)
    default_strength: ClassVar[float] = 1.0
    causal: ClassVar[bool] = False  # fit each site with the earlier sites applied (to the source rows)
    additive: ClassVar[bool] = False  # the transform adds one vector per site (exportable to llama.cpp)

    sites: str
    layers: str | int | list[int] | None
    pooling: str

    def get_params(self) -> dict:
        """The constructor's arguments, as given (the provenance written to every manifest)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        fitted = f", fitted on {self.model_fingerprint_} at {len(self.state_)} sites" if self.is_fitted else ""
        return f"{type(self).__name__}({args}{fitted})"

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "state_")

    def fit_report(self) -> dict | None:
        """What the fit found beyond its tensors (e.g. the units LinEAS selected), for the manifest; or None."""
        return None

    # -- fitting ---------------------------------------------------------------------------------------
    def _check_data(self, source: list[str], target: list[str]) -> None:
        if not source or not target:
            raise MechscopeError(
                f"{self.name} needs source and target sentences; got {len(source)} source and {len(target)} "
                "target; pass non-empty files (txt one sentence a line, JSONL or CSV)")

    def fit(self, model, source: list[str], target: list[str]) -> SteeringMethod:
        """Fit on `source` and `target` sentences with `model` (a `mechscope.models.Model`); returns self.

        >>> from mechscope.models import load
        >>> from mechscope.steer.vectors import DiffMean
        >>> m = load("random:llama-tiny")
        >>> DiffMean(layers="1").fit(m, ["a cat"], ["a wedding"]).state_["model.layers.1"]["vector"].shape
        torch.Size([64])
        """
        source, target = list(source), list(target)
        self._check_data(source, target)
        if self.pooling not in POOLINGS:
            raise MechscopeError(f"pooling {self.pooling!r} of {self.name} is not one of {', '.join(POOLINGS)}")
        sites = self._resolve(model)
        state: dict[str, dict[str, torch.Tensor]] = {}

        def fit_site(site: Site, src: torch.Tensor, tgt: torch.Tensor):
            state[site.key] = {k: v.detach().float().contiguous() for k, v in self._fit_site(src, tgt).items()}
            if not self.causal:
                return None
            tensors = state[site.key]
            return lambda h: self._transform(tensors, h, 1.0)

        fit_pass(model, sites, source, target, self.pooling, fit_site)
        self.sites_ = [s.key for s in sites]
        self.state_ = state
        self._record_fit(model, source, target)
        return self

    def _record_fit(self, model, source: list[str], target: list[str]) -> None:
        """Remember what the fit saw: the model, its shapes and the sentences (every file's provenance)."""
        self.model_fingerprint_ = model.fingerprint
        self.model_spec_ = model.spec
        self.model_dtype_ = str(model.dtype).removeprefix("torch.")
        self.family_ = model.adapter.family
        self.d_model_ = model.adapter.d_model
        self.n_layers_ = model.adapter.n_layers
        self.data_hash_ = data_hash(source, target)
        self.n_source_, self.n_target_ = len(source), len(target)

    def _resolve(self, model) -> list[Site]:
        return resolve_sites(model, self.sites, self.layers)

    def _fit_site(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Pooled activations ``[n_source, d]`` and ``[n_target, d]`` -> this site's tensors."""
        raise NotImplementedError

    def _transform(self, tensors: dict[str, torch.Tensor], hidden: torch.Tensor, strength: float) -> torch.Tensor:
        """Hidden states ``[batch, seq, d]`` -> steered hidden states of the same shape."""
        raise NotImplementedError

    # -- applying --------------------------------------------------------------------------------------
    def check_model(self, model, strict: bool = True) -> None:
        """Refuse a model this was not fitted on (`strict`), or one whose shapes differ (always)."""
        if not self.is_fitted:
            raise MechscopeError(f"{type(self).__name__} is not fitted; call .fit(model, source, target) first")
        a = model.adapter
        if (a.family, a.d_model, a.n_layers) != (self.family_, self.d_model_, self.n_layers_):
            raise MechscopeError(
                f"{self.name} was fitted on {self.model_spec_} ({self.family_}, d_model {self.d_model_}, "
                f"{self.n_layers_} layers), got {model.spec} ({a.family}, d_model {a.d_model}, {a.n_layers} layers); "
                "refit it on this model")
        if strict and model.fingerprint != self.model_fingerprint_:
            raise MechscopeError(
                f"{self.name} was fitted on model {self.model_fingerprint_} ({self.model_spec_}), got "
                f"{model.fingerprint} ({model.spec}); refit it on this model, or pass strict=False to apply it to "
                "another version of the same architecture")

    def check_strength(self, strength: float) -> float:
        lo, hi = self.strength_range
        if not (strength >= lo and (hi is None or strength <= hi)):
            rng = f"[{lo:g}, {hi:g}]" if hi is not None else f">= {lo:g}"
            raise MechscopeError(f"strength of {self.name} must be in {rng}; got {strength:g}")
        return float(strength)

    @contextmanager
    def apply(self, model, strength: float | None = None, positions: str = "all", strict: bool = True,
              prompt_length: int | None = None) -> Iterator[HookState]:
        """Steer `model` inside a ``with`` block; hooks come off on exit, also on errors.

        `positions` is "all", "prompt" or "generated". `strength` defaults to
        the method's default.

        >>> from mechscope.models import load
        >>> from mechscope.steer.vectors import DiffMean
        >>> m = load("random:llama-tiny")
        >>> dm = DiffMean(layers="0").fit(m, ["a cat"], ["a wedding"])
        >>> ids = m.tokenizer(["a dog"], return_tensors="pt").input_ids
        >>> with dm.apply(m, strength=4.0):
        ...     steered = m.hf(ids).logits
        >>> bool((steered - m.hf(ids).logits).abs().max() > 0)
        True
        """
        self.check_model(model, strict=strict)
        s = self.check_strength(self.default_strength if strength is None else strength)
        transforms = {}
        for key in self.sites_:
            site = Site.from_key(key)
            # on the device of the site's layer (with a device map, not always the input's)
            device = execution_device(model.hf.get_submodule(site.path))
            tensors = {k: v.to(device) for k, v in self.state_[key].items()}
            transforms[site] = lambda h, t=tensors: self._transform(t, h, s).to(h.dtype)
        with steering_hooks(model, transforms, positions=positions, prompt_length=prompt_length) as state:
            yield state
