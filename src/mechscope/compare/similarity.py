"""How similar two models' activations are, layer by layer.

Both models run the same prompts; the residual stream after each decoder
layer is taken at every real token (padding left out), giving one
``[tokens, d_model]`` matrix per layer and model. Two numbers per layer:

- linear CKA (Kornblith et al. 2019): ``||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)``
  on column-centred X and Y; 1 when Y is X up to rotation and scale, blind to
  how large the drift is;
- relative error ``||Y - X||_F / ||X||_F``: how large the drift is.

The first diverging layer is the first whose CKA falls below
`cka_threshold` (default 0.99) or whose relative error exceeds
`error_threshold` (default 0.1).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

CKA_THRESHOLD = 0.99
ERROR_THRESHOLD = 0.1


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA of ``x [n, d1]`` and ``y [n, d2]`` (rows are the same examples), computed in float64.

    >>> x = torch.randn(50, 8)
    >>> round(linear_cka(x, x), 6), round(linear_cka(x, 3 * x @ torch.linalg.qr(torch.randn(8, 8))[0]), 6)
    (1.0, 1.0)
    """
    x = x.double() - x.double().mean(0)
    y = y.double() - y.double().mean(0)
    xx, yy = torch.linalg.matrix_norm(x.T @ x), torch.linalg.matrix_norm(y.T @ y)
    if float(xx) == 0.0 or float(yy) == 0.0:
        return 1.0 if float(xx) == float(yy) else 0.0
    return float(torch.linalg.matrix_norm(y.T @ x) ** 2 / (xx * yy))


def relative_error(x: torch.Tensor, y: torch.Tensor) -> float:
    """``||y - x||_F / ||x||_F`` (0 when both are zero).

    >>> relative_error(torch.full((2, 2), 2.0), torch.full((2, 2), 2.5))
    0.25
    """
    x, y = x.double(), y.double()
    denom = float(torch.linalg.norm(x))
    diff = float(torch.linalg.norm(y - x))
    if denom == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return diff / denom


def layer_similarity(base: torch.Tensor, other: torch.Tensor) -> list[dict]:
    """Per layer ``{"layer", "cka", "relative_error"}`` from residual streams ``[layers, tokens, d_model]``.

    >>> r = torch.randn(3, 20, 4)
    >>> [d["cka"] for d in layer_similarity(r, r)]
    [1.0, 1.0, 1.0]
    """
    if base.shape != other.shape:
        raise ValueError(f"residual streams differ in shape: {tuple(base.shape)} vs {tuple(other.shape)}")
    return [{"layer": i, "cka": round(linear_cka(base[i], other[i]), 9),
             "relative_error": relative_error(base[i], other[i])} for i in range(base.shape[0])]


def first_divergence(similarity: list[dict], cka_threshold: float = CKA_THRESHOLD,
                     error_threshold: float = ERROR_THRESHOLD) -> int | None:
    """The first layer whose CKA is below `cka_threshold` or whose relative error is above `error_threshold`.

    >>> first_divergence([{"layer": 0, "cka": 1.0, "relative_error": 0.01},
    ...                   {"layer": 1, "cka": 0.999, "relative_error": 0.2}])
    1
    """
    for d in similarity:
        if d["cka"] < cka_threshold or d["relative_error"] > error_threshold:
            return d["layer"]
    return None


@contextlib.contextmanager
def capture_residuals(model, attention_mask: torch.Tensor) -> Iterator[list[torch.Tensor]]:
    """While active, each forward of `model` on a batch with this `attention_mask` appends its residual
    streams after every decoder layer at the real tokens, ``[layers, tokens, d_model]`` float32 on the CPU.

    >>> from mechscope.models import load
    >>> m = load("random:llama-tiny")
    >>> ids, mask = torch.tensor([[1, 2, 3], [4, 5, 0]]), torch.tensor([[1, 1, 1], [1, 1, 0]])
    >>> with capture_residuals(m, mask) as streams:
    ...     _ = m.hf(input_ids=ids, attention_mask=mask)
    >>> streams[0].shape
    torch.Size([2, 5, 64])
    """
    layers = model.hf.get_submodule(model.adapter.layers)
    captured: list[torch.Tensor | None] = [None] * len(layers)
    streams: list[torch.Tensor] = []
    keep = attention_mask.bool()

    def hook_for(i: int):
        def hook(module, args, output):
            h = output[0] if isinstance(output, tuple) else output
            captured[i] = h.detach()[keep.to(h.device)].float().cpu()
            if i == len(layers) - 1:
                streams.append(torch.stack(captured))
        return hook

    handles = [layer.register_forward_hook(hook_for(i)) for i, layer in enumerate(layers)]
    try:
        yield streams
    finally:
        for h in handles:
            h.remove()
