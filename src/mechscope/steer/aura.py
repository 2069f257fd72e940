"""AurA (Suau et al. 2024): dampen the units that detect the source concept, in proportion to their AUROC."""

from __future__ import annotations

import torch

from mechscope.steer.base import SteeringMethod


def auroc(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Per-unit area under the ROC curve for telling `positive` ``[n, units]`` from `negative` ``[m, units]``.

    Computed as the Mann-Whitney statistic with average ranks for ties.

    >>> auroc(torch.tensor([[2.0], [3.0]]), torch.tensor([[1.0], [2.0]])).tolist()
    [0.875]
    """
    n, m = positive.shape[0], negative.shape[0]
    values = torch.cat([positive, negative]).double()
    order = values.argsort(0)
    ranks = torch.empty_like(values)
    ranks.scatter_(0, order, torch.arange(1, n + m + 1, dtype=values.dtype)[:, None].expand_as(values).contiguous())
    # average ranks over ties: mean rank of each group of equal values, per unit
    sorted_vals = values.gather(0, order)
    for u in torch.nonzero((sorted_vals[1:] == sorted_vals[:-1]).any(0)).flatten().tolist():
        _, inverse = torch.unique(values[:, u], return_inverse=True)
        total = torch.zeros(int(inverse.max()) + 1, dtype=values.dtype).index_add_(0, inverse, ranks[:, u])
        count = torch.zeros_like(total).index_add_(0, inverse, torch.ones_like(ranks[:, u]))
        ranks[:, u] = (total / count)[inverse]
    u_stat = ranks[:n].sum(0) - n * (n + 1) / 2
    return (u_stat / (n * m)).float()


class AurA(SteeringMethod):
    """AurA: units whose AUROC for source-vs-target exceeds 0.5 are scaled by ``1 - strength * (1 - alpha)``.

    ``alpha = 1 - Gini = 2 * (1 - AUROC)``: a perfect detector of the source is
    silenced at strength 1, a useless one untouched. Fitted on the MLP's hidden
    units by default. Use it to remove the source concept (e.g. source = toxic
    sentences).

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> aura = AurA().fit(m, ["a cat", "a dog"], ["a wedding", "the bride"])
    >>> aura.state_["model.layers.0.mlp.down_proj:in"]["alpha"].shape
    torch.Size([128])
    """

    name = "aura"

    def __init__(self, sites: str = "neurons", layers: str | int | list[int] | None = "all", pooling: str = "mean"):
        self.sites = sites
        self.layers = layers
        self.pooling = pooling

    def _fit_site(self, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        a = auroc(source, target)
        alpha = torch.where(a > 0.5, 2 * (1 - a), torch.ones_like(a))
        return {"alpha": alpha, "auroc": a}

    def _transform(self, t: dict[str, torch.Tensor], hidden: torch.Tensor, strength: float) -> torch.Tensor:
        return hidden * (1 - strength * (1 - t["alpha"]))
