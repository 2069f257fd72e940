"""Steering by one vector per site: DiffMean (CAA), ActAdd, PCA-diff (repeng) and directional ablation."""

from __future__ import annotations

import torch

from mechscope.errors import MechscopeError
from mechscope.steer.base import SteeringMethod


class DiffMean(SteeringMethod):
    """Add ``strength * (mean(target) - mean(source))`` at each site (difference of means, a.k.a. CAA).

    Strength 1 moves the source mean onto the target mean; larger values
    extrapolate. Defaults to one block output a third of the way up the model.

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> DiffMean(layers="1").fit(m, ["a cat"], ["a wedding"]).sites_
    ['model.layers.1']
    """

    name = "diffmean"
    additive = True
    strength_range = (0.0, None)
    default_strengths = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
    default_strength = 1.0

    def __init__(self, sites: str = "block", layers: str | int | list[int] | None = None, pooling: str = "mean"):
        self.sites = sites
        self.layers = layers
        self.pooling = pooling

    def _resolve(self, model):
        from mechscope.steer.sites import resolve_sites

        layers = self.layers if self.layers is not None else str(round(model.adapter.n_layers / 3))
        return resolve_sites(model, self.sites, layers)

    def _fit_site(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"vector": target.mean(0) - source.mean(0)}

    def _transform(self, t: dict[str, torch.Tensor], hidden: torch.Tensor, strength: float) -> torch.Tensor:
        return hidden + strength * t["vector"]


class ActAdd(DiffMean):
    """ActAdd (Turner et al. 2023): the activation difference of one prompt pair, added at every position.

    Fitted on exactly one source and one target prompt (e.g. "Hate" and
    "Love"); the pooled difference is the vector. Original ActAdd adds the
    per-position difference to the first positions only.

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> ActAdd(layers="0").fit(m, ["I talk about cats"], ["I talk about weddings"]).n_source_
    1
    """

    name = "actadd"

    def __init__(self, sites: str = "block", layers: str | int | list[int] | None = None, pooling: str = "last"):
        super().__init__(sites, layers, pooling)

    def _check_data(self, source: list[str], target: list[str]) -> None:
        if len(source) != 1 or len(target) != 1:
            raise MechscopeError(
                f"actadd is fitted on one prompt pair; got {len(source)} source and {len(target)} target "
                "sentences; pass one of each, or use diffmean for many")


class PCADiff(DiffMean):
    """repeng's direction: the first principal component of the paired differences ``target_i - source_i``.

    Pairs are formed in order (the first ``min(n_source, n_target)`` of each).
    As in repeng the differences are centred before PCA and the sign is chosen
    so that target sentences project higher than source ones. The unit
    direction is scaled by the mean projected difference, so strength 1 moves
    the source mean onto the target mean along that direction.

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> pca = PCADiff(layers="1").fit(m, ["a cat", "a dog", "a hat"], ["a wedding", "the bride", "vows"])
    >>> pca.state_["model.layers.1"]["vector"].shape
    torch.Size([64])
    """

    name = "pca-diff"

    def _fit_site(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        n = min(len(source), len(target))
        diffs = (target[:n] - source[:n]).double()
        centred = diffs - diffs.mean(0)
        if n < 2 or not torch.any(centred.abs() > 0):
            direction = diffs.mean(0)
        else:
            direction = torch.linalg.svd(centred, full_matrices=False).Vh[0]
        direction = direction / direction.norm().clamp_min(1e-12)
        gap = (target.double().mean(0) - source.double().mean(0)) @ direction
        if gap < 0:
            direction, gap = -direction, -gap
        return {"vector": (direction * gap).float()}


class DirectionalAblation(SteeringMethod):
    """Remove the component along the unit source-to-target mean difference: ``z - strength (z . r) r``.

    Use it to turn a concept down: fit with target = sentences that carry it.
    Strength in [0, 1]; 1 projects the direction out completely.

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> abl = DirectionalAblation(layers="0").fit(m, ["a cat"], ["a wedding"])
    >>> round(float(abl.state_["model.layers.0"]["direction"].norm()), 4)
    1.0
    """

    name = "ablation"

    def __init__(self, sites: str = "block", layers: str | int | list[int] | None = "all", pooling: str = "mean"):
        self.sites = sites
        self.layers = layers
        self.pooling = pooling

    def _fit_site(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        diff = target.mean(0) - source.mean(0)
        return {"direction": diff / diff.norm().clamp_min(1e-12)}

    def _transform(self, t: dict[str, torch.Tensor], hidden: torch.Tensor, strength: float) -> torch.Tensor:
        r = t["direction"]
        return hidden - strength * (hidden @ r)[..., None] * r
