"""One-dimensional optimal transport per unit: the maps behind Linear-AcT and Mean-AcT.

For each unit (one feature of a module's output) the optimal transport between
the source and target samples on a line is the monotone one: sorted source
values go to sorted target values. With equal sample counts that pairs the
i-th smallest source value with the i-th smallest target value; with unequal
counts the coupling spreads each sorted sample over the overlapping quantiles,
which `ot.emd_1d` (POT) computes. Linear-AcT then fits ``y = w x + b`` by
(weighted) least squares on the coupled pairs.
"""

from __future__ import annotations

import numpy as np
import torch


def quantile_coupling(n_source: int, n_target: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The monotone coupling of ``n_source`` and ``n_target`` sorted samples with uniform weights.

    Returns ``(i, j, mass)``, each ``[pairs]``: sorted source sample ``i[k]``
    sends ``mass[k]`` to sorted target sample ``j[k]``; masses sum to 1. The
    coupling depends only on the ranks, so one call serves every unit.

    >>> i, j, mass = quantile_coupling(2, 3)
    >>> i.tolist(), j.tolist(), [round(x, 4) for x in mass.tolist()]
    ([0, 0, 1, 1], [0, 1, 1, 2], [0.3333, 0.1667, 0.1667, 0.3333])
    """
    if n_source == n_target:
        k = torch.arange(n_source)
        return k, k, torch.full((n_source,), 1.0 / n_source, dtype=torch.float64)
    import ot

    # any strictly increasing positions give the monotone coupling of the ranks
    coupling = ot.emd_1d(np.arange(n_source, dtype=np.float64), np.arange(n_target, dtype=np.float64),
                         metric="sqeuclidean", dense=False)
    coo = coupling.tocoo()
    keep = coo.data > 0
    return (torch.from_numpy(coo.row[keep].astype(np.int64)), torch.from_numpy(coo.col[keep].astype(np.int64)),
            torch.from_numpy(coo.data[keep]))


def fit_linear_transport(source: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-unit affine maps ``target ~ w * source + b`` fitted on sorted (optimally coupled) pairs.

    `source` is ``[n_source, units]``, `target` ``[n_target, units]``; returns
    ``w`` and ``b``, each ``[units]``. A unit that is constant in the source
    gets ``w = 1`` and the mean shift.

    >>> src = torch.tensor([[0.0], [1.0], [2.0]]); tgt = torch.tensor([[5.0], [1.0], [3.0]])
    >>> w, b = fit_linear_transport(src, tgt)
    >>> w.tolist(), b.tolist()
    ([2.0], [1.0])
    """
    x_sorted = source.double().sort(dim=0).values
    y_sorted = target.double().sort(dim=0).values
    i, j, mass = quantile_coupling(x_sorted.shape[0], y_sorted.shape[0])
    x, y, p = x_sorted[i], y_sorted[j], mass.to(x_sorted.device)[:, None]
    mx, my = (p * x).sum(0), (p * y).sum(0)
    var = (p * (x - mx) ** 2).sum(0)
    cov = (p * (x - mx) * (y - my)).sum(0)
    flat = var <= 1e-12 * (1 + mx.abs()) ** 2
    w = torch.where(flat, torch.ones_like(var), cov / torch.where(flat, torch.ones_like(var), var))
    b = my - w * mx
    return w.to(source.dtype), b.to(source.dtype)


def transport(hidden: torch.Tensor, w: torch.Tensor, b: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor,
              strength: float) -> torch.Tensor:
    """``z' = strength * (w z + b) + (1 - strength) * z`` where ``lo <= z <= hi``, else ``z``.

    `hidden` is ``[..., units]``; `w`, `b`, `lo`, `hi` are ``[units]``.

    >>> z = torch.tensor([[0.5, 5.0]]); one = torch.ones(2)
    >>> transport(z, 2 * one, one, 0 * one, one, 1.0).tolist()
    [[2.0, 5.0]]
    """
    inside = (hidden >= lo) & (hidden <= hi)
    delta = (w - 1) * hidden + b
    return hidden + strength * delta * inside.to(hidden.dtype)
