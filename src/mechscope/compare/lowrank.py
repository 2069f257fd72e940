"""Low-rank versions: truncated SVD of chosen weight matrices (``torch.linalg.svd``).

`fraction` is the share of each matrix's full rank kept: a ``[576, 1536]``
matrix at 0.5 keeps rank 288 and is stored as two factors,
``left = U_r diag(S_r)`` ``[576, 288]`` and ``right = V_r^T`` ``[288, 1536]``
(by Eckart-Young the closest rank-288 matrix in Frobenius norm). Factors save
memory only below ``fraction = out * in / (min(out, in) * (out + in))``.
"""

from __future__ import annotations

import torch

from mechscope.compare.encoding import EncodedWeight, lowrank
from mechscope.compare.targets import targets
from mechscope.errors import MechscopeError
from mechscope.models import Model


def low_rank(model: Model, fraction: float, modules: str = "*") -> dict[str, EncodedWeight]:
    """Truncate every target matrix of `model` (left unchanged) to `fraction` of its rank.

    >>> from mechscope.models import load
    >>> enc = low_rank(load("random:llama-tiny"), 0.25, modules="*.0.mlp.up_proj")
    >>> enc["model.layers.0.mlp.up_proj.weight"].meta["rank"]  # a quarter of min(128, 64)
    16
    """
    if not 0.0 < fraction <= 1.0:
        raise MechscopeError(f"--low-rank keeps a fraction of each matrix's rank, in (0, 1]; got {fraction}; e.g. 0.5")
    out = {}
    for t in targets(model, modules):
        left, right = truncated_svd(t.matrix(model), fraction)
        out[t.name] = lowrank(left, right, tuple(t.parameter(model).shape), t.transposed)
    return out


def truncated_svd(matrix: torch.Tensor, fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Factors ``(U_r diag(S_r), V_r^T)`` with ``r = max(1, round(fraction * min(shape)))``.

    >>> a = torch.outer(torch.arange(3.0), torch.ones(4))  # rank 1
    >>> left, right = truncated_svd(a, 0.34)
    >>> left.shape, right.shape, bool(torch.allclose(left @ right, a, atol=1e-5))
    (torch.Size([3, 1]), torch.Size([1, 4]), True)
    """
    r = max(1, round(fraction * min(matrix.shape)))
    u, s, vh = torch.linalg.svd(matrix.detach().double(), full_matrices=False)
    return (u[:, :r] * s[:r]).float(), vh[:r].float()
