"""LinEAS (Rodriguez et al., NeurIPS 2025): affine maps at every layer, trained jointly, end to end.

Each site gets a per-unit affine map ``z' = z + strength * (w * z + b)`` (``w`` and ``b`` are
``[units]``, zero at the start, so an unused unit is the identity). All maps are trained together:
the source sentences run through the model *with* every map applied, so a map at layer 3 changes
what layer 10 sees, and the loss is the sum over sites of the one-dimensional (per-unit) squared
Wasserstein distance between the pooled steered source activations and the pooled target
activations computed without steering. The 1-D Wasserstein distance between two equal-size
samples is the mean squared difference of their sorted values, so the loss is differentiable
almost everywhere and needs no pairing of source and target sentences.

Each site's shift is learned in units of the RMS of its target activations, and its loss divided by
that RMS squared, so one learning rate and one penalty serve every site and model.

Sparsity: after each gradient step a proximal step applies soft-thresholding (an L1 penalty,
`l1`, which zeroes single units) and a group shrinkage per site (a group-lasso penalty, `group`,
which zeroes whole layers) to ``w`` and ``b``. The units and sites left non-zero are the ones the
method selected (`selection`). Layer-wise AcT fits each site on its own; LinEAS accounts for what
every map does downstream.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

from mechscope.errors import MechscopeError
from mechscope.steer.activations import encode, pool, run_to_last_site
from mechscope.steer.base import SteeringMethod, train_steps
from mechscope.steer.sites import Site


def wasserstein_1d(steered: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-unit squared 1-D Wasserstein distance between two equal-size samples ``[n, units]``: ``[units]``.

    Between two empirical measures of n points each the optimal coupling on a line pairs the sorted
    values, so it is the mean over ranks of (sorted steered - sorted target)^2.

    >>> a = torch.tensor([[0.0], [2.0]]); b = torch.tensor([[3.0], [1.0]])
    >>> wasserstein_1d(a, b).tolist()
    [1.0]
    """
    if steered.shape != target.shape:
        raise MechscopeError(f"wasserstein_1d needs samples of one shape; got {tuple(steered.shape)} and "
                             f"{tuple(target.shape)}")
    return ((steered.sort(0).values - target.sort(0).values) ** 2).mean(0)


def prox_sparse_group(param: torch.Tensor, l1: float, group: float) -> torch.Tensor:
    """Proximal operator of ``l1 * |x|_1 + group * |x|_2``: soft-threshold, then shrink the whole vector.

    >>> prox_sparse_group(torch.tensor([3.0, 0.5, -2.0]), 1.0, 0.0).tolist()
    [2.0, 0.0, -1.0]
    >>> prox_sparse_group(torch.tensor([3.0, 4.0]), 0.0, 10.0).tolist()
    [0.0, 0.0]
    """
    x = param.sign() * (param.abs() - l1).clamp(min=0)
    if group > 0:
        norm = x.norm()
        x = x * (1 - group / norm).clamp(min=0) if norm > 0 else x
    return x


class LinEAS(SteeringMethod):
    """LinEAS: per-unit affine maps at every site, trained jointly through the model (module docstring).

    Fitted on ``n_samples`` source and as many target sentences (32 as published, drawn with `seed`;
    fewer if either set is smaller),
    pooled by `pooling`. `steps` Adam steps at learning rate `lr`, each followed by the
    proximal step of the `l1` (units) and `group` (sites) penalties, both scaled by the learning
    rate: Adam's steps are about `lr` long whatever the gradient's size, so a unit stays non-zero
    only while its steps keep beating ``l1 * lr`` (l1 0.5: its gradient's sign must hold about three
    steps in four). Strength scales the learned displacement: 0 is the model, 1 the fitted map. With
    ``support=True`` (not in the paper; AcT's rule) a value moves only inside the range of the pooled
    source activations seen in fitting, in training and in use.

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> lin = LinEAS(sites="block", steps=3, n_samples=2).fit(m, ["a cat", "the dog"], ["a wedding", "the bride"])
    >>> sorted(lin.state_["model.layers.0"]), len(lin.loss_history_)
    (['b', 'w'], 3)
    """

    name = "lineas"
    strength_range = (0.0, None)
    default_strengths = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
    default_strength = 1.0

    def __init__(self, sites: str = "attn-norm", layers: str | int | list[int] | None = "all",
                 pooling: str = "mean", steps: int = 40, lr: float = 0.02, l1: float = 0.5,
                 group: float = 0.0, n_samples: int = 32, seed: int = 0, support: bool = False):
        self.sites = sites
        self.layers = layers
        self.pooling = pooling
        self.steps = steps
        self.lr = lr
        self.l1 = l1
        self.group = group
        self.n_samples = n_samples
        self.seed = seed
        self.support = support

    def _transform(self, t: dict[str, torch.Tensor], hidden: torch.Tensor, strength: float) -> torch.Tensor:
        delta = t["w"] * hidden + t["b"]
        if "lo" in t:  # support=True: only values inside the source range seen in fitting move (as in AcT)
            delta = delta * ((hidden >= t["lo"]) & (hidden <= t["hi"])).to(hidden.dtype)
        return hidden + strength * delta

    def fit(self, model, source: list[str], target: list[str],
            on_step: Callable[[int, float], None] | None = None) -> LinEAS:
        """Train the maps on `source` and `target` sentences; returns self.

        `on_step(step, loss)` is called after every step (progress); Ctrl-C stops training and
        keeps the maps learned so far.
        """
        source, target = list(source), list(target)
        self._check_data(source, target)
        if self.pooling not in ("mean", "last"):
            raise MechscopeError(f"pooling {self.pooling!r} of lineas is not one of mean, last")
        if self.steps < 1 or self.lr <= 0 or self.l1 < 0 or self.group < 0 or self.n_samples < 2:
            raise MechscopeError(
                f"lineas needs steps >= 1, lr > 0, l1 >= 0, group >= 0 and n_samples >= 2; got steps {self.steps}, "
                f"lr {self.lr:g}, l1 {self.l1:g}, group {self.group:g}, n_samples {self.n_samples}")
        gen = torch.Generator().manual_seed(self.seed)
        n = min(self.n_samples, len(source), len(target))  # equal sizes: the 1-D plan is the sorted pairing
        src = _draw(source, n, gen)
        tgt = _draw(target, n, gen)
        sites = self._resolve(model)
        t0 = time.perf_counter()
        targets = _pooled_sites(model, sites, tgt, self.pooling)
        d = {s.key: targets[s.key].shape[-1] for s in sites}
        # each site's scale: the RMS of its target activations. Shifts are learned in that unit and each
        # site's loss is divided by its square, so one learning rate and one penalty fit every site and model.
        scale = {k: v.pow(2).mean().sqrt().clamp_min(1e-6) for k, v in targets.items()}
        bounds = None
        if self.support:
            pooled_src = _pooled_sites(model, sites, src, self.pooling)
            bounds = {k: (v.min(0).values, v.max(0).values) for k, v in pooled_src.items()}
        params = {s.key: {"w": torch.zeros(d[s.key], device=model.device, requires_grad=True),
                          "b": torch.zeros(d[s.key], device=model.device, requires_grad=True)} for s in sites}
        flat = [p for site in params.values() for p in site.values()]
        opt = torch.optim.Adam(flat, lr=self.lr)
        enc = encode(model, src, padding_side="right")

        def step(_i: int) -> float:
            opt.zero_grad()
            steered = _steered_pass(model, sites, params, scale, enc, self.pooling, bounds)
            loss = sum(wasserstein_1d(steered[k], targets[k]).mean() / scale[k] ** 2 for k in steered)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for site in params.values():
                    for p in site.values():
                        p.copy_(prox_sparse_group(p, self.lr * self.l1, self.lr * self.group))
            return float(loss.detach())

        history = train_steps(self.steps, step, on_step)
        self.sites_ = [s.key for s in sites]
        self.state_ = {k: {"w": v["w"].detach().float().cpu().contiguous(),
                           "b": (v["b"] * scale[k]).detach().float().cpu().contiguous()} for k, v in params.items()}
        if bounds is not None:
            for k, (lo, hi) in bounds.items():
                self.state_[k].update(lo=lo.float().cpu().contiguous(), hi=hi.float().cpu().contiguous())
        self.loss_history_ = history
        self.fit_seconds_ = time.perf_counter() - t0
        self._record_fit(model, src, tgt)
        return self

    def fit_report(self) -> dict | None:
        return lineas_summary(self) if hasattr(self, "loss_history_") else None

    def selection(self) -> dict:
        """The sites and units the sparsity penalties left active: ``{"sites": {key: [unit, ...]}, ...}``.

        A unit is selected when its ``w`` or ``b`` is non-zero. Also counts them.
        """
        if not self.is_fitted:
            raise MechscopeError("LinEAS is not fitted; call .fit(model, source, target) first")
        chosen = {}
        for key in self.sites_:
            t = self.state_[key]
            units = torch.nonzero((t["w"] != 0) | (t["b"] != 0)).flatten().tolist()
            if units:
                chosen[key] = units
        total = sum(self.state_[k]["w"].numel() for k in self.sites_)
        n = sum(len(u) for u in chosen.values())
        return {"sites": chosen, "n_sites": len(chosen), "n_units": n, "of_units": total,
                "fraction": n / total if total else 0.0}


def _draw(texts: list[str], n: int, gen: torch.Generator) -> list[str]:
    if len(texts) <= n:
        return list(texts)
    idx = torch.randperm(len(texts), generator=gen)[:n].sort().values.tolist()
    return [texts[i] for i in idx]


@torch.no_grad()
def _pooled_sites(model, sites: list[Site], texts: list[str], pooling: str) -> dict[str, torch.Tensor]:
    """Pooled unsteered activations ``{site: [n, units]}`` of `texts`."""
    enc = encode(model, texts, padding_side="right")
    out: dict[str, torch.Tensor] = {}

    def grab(site: Site, h: torch.Tensor):
        out[site.key] = pool(h.float(), enc.attention_mask, pooling)
        return None

    run_to_last_site(model, sites, enc.model_inputs(), grab)
    return out


def _steered_pass(model, sites: list[Site], params: dict, scale: dict, enc, pooling: str,
                  bounds: dict | None = None) -> dict[str, torch.Tensor]:
    """One forward pass with every map applied; pooled steered activations ``{site: [n, units]}`` (with grad).

    A site's shift is ``b * scale`` (see `LinEAS.fit`); with `bounds` only values inside them move."""
    out: dict[str, torch.Tensor] = {}

    def steer(site: Site, h: torch.Tensor):
        t = params[site.key]
        delta = t["w"] * h.float() + t["b"] * scale[site.key]
        if bounds is not None:
            lo, hi = bounds[site.key]
            delta = delta * ((h >= lo) & (h <= hi)).to(delta.dtype)
        new = h + delta.to(h.dtype)
        out[site.key] = pool(new.float(), enc.attention_mask, pooling)
        return new

    with torch.enable_grad():
        run_to_last_site(model, sites, enc.model_inputs(), steer)
    return out


def lineas_summary(method: LinEAS) -> dict:
    """What a LinEAS fit reports: the selection counts per layer, final loss, steps and time (for a manifest).

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> s = lineas_summary(LinEAS(sites="block", steps=2).fit(m, ["a cat"], ["a wedding"]))
    >>> sorted(s)
    ['final_loss', 'fit_seconds', 'initial_loss', 'n_sites', 'n_units', 'of_units', 'steps', 'units_per_site']
    """
    sel = method.selection()
    hist = method.loss_history_
    return {"n_sites": sel["n_sites"], "n_units": sel["n_units"], "of_units": sel["of_units"],
            "units_per_site": {k: len(v) for k, v in sel["sites"].items()},
            "initial_loss": hist[0] if hist else math.nan, "final_loss": hist[-1] if hist else math.nan,
            "steps": len(hist), "fit_seconds": round(method.fit_seconds_, 2)}
