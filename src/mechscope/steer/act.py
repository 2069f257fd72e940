"""Activation Transport (AcT, Rodriguez et al. 2024): Linear-AcT and Mean-AcT."""

from __future__ import annotations

import torch

from mechscope.steer.base import SteeringMethod
from mechscope.steer.transport import fit_linear_transport, transport


class LinearAcT(SteeringMethod):
    """Linear-AcT: per unit, the affine map fitted on sorted source/target pairs (1-D optimal transport).

    Applied as ``z' = strength * (w z + b) + (1 - strength) * z`` where ``z``
    lies inside the source support ``[min, max]`` seen in fitting, unchanged
    elsewhere; strength is AcT's lambda in [0, 1]. Sites are fitted causally
    in forward order: each with the earlier maps applied to the source rows.

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> act = LinearAcT(sites="block").fit(m, ["a cat", "the dog"], ["a wedding", "the bride"])
    >>> sorted(act.state_["model.layers.0"])
    ['b', 'hi', 'lo', 'w']
    """

    name = "linear-act"
    causal = True

    def __init__(self, sites: str = "block", layers: str | int | list[int] | None = "all", pooling: str = "mean"):
        self.sites = sites
        self.layers = layers
        self.pooling = pooling

    def _fit_site(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        w, b = fit_linear_transport(source, target)
        return {"w": w, "b": b, "lo": source.min(0).values, "hi": source.max(0).values}

    def _transform(self, t: dict[str, torch.Tensor], hidden: torch.Tensor, strength: float) -> torch.Tensor:
        return transport(hidden, t["w"], t["b"], t["lo"], t["hi"], strength)


class MeanAcT(LinearAcT):
    """Mean-AcT: AcT with ``w = 1``: shift each unit by the target-minus-source mean, inside the source support.

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> float(MeanAcT(sites="block").fit(m, ["a cat"], ["a wedding"]).state_["model.layers.0"]["w"].unique())
    1.0
    """

    name = "mean-act"

    def _fit_site(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"w": torch.ones_like(source[0]), "b": target.mean(0) - source.mean(0),
                "lo": source.min(0).values, "hi": source.max(0).values}
