"""Small MLP approximations of numeric functions (FIND's ``mlp_approx`` variant).

A 1-64-1 ReLU network, as in FIND, trained on CPU with a fixed seed on the
function's domain. Inputs are scaled by 1/100 and outputs standardised while
training; the weights are folded back so the network maps raw x to raw y and
can be written into a standalone script as plain numbers.
"""

from __future__ import annotations

import numpy as np
import torch

from mechscope.describe.numeric import evaluate


def train_mlp(
    expr: str, domain: list[float], seed: int, hidden: int = 64, steps: int = 1500, n_points: int = 1000
) -> dict:
    """Fit a 1-hidden-layer ReLU MLP to ``expr`` on ``domain``; return weights and fit error.

    >>> w = train_mlp("2.0*x + 1.0", [-100.0, 100.0], seed=0, steps=300)
    >>> bool(abs(mlp_eval(w, np.array([10.0]))[0] - 21.0) < 1.0)
    True
    """
    x = np.linspace(domain[0], domain[1], n_points)
    y = evaluate(expr, x)
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    mu, sd = float(y.mean()), float(y.std()) or 1.0
    g = torch.Generator().manual_seed(seed)
    w1 = torch.randn(hidden, 1, generator=g) * 1.0
    b1 = torch.rand(hidden, generator=g) * 2 - 1
    w2 = torch.randn(1, hidden, generator=g) / hidden**0.5
    b2 = torch.zeros(1)
    params = [t.requires_grad_() for t in (w1, b1, w2, b2)]
    xt = torch.tensor(x / 100.0, dtype=torch.float32)[:, None]
    yt = torch.tensor((y - mu) / sd, dtype=torch.float32)[:, None]
    opt = torch.optim.Adam(params, lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        opt.zero_grad()
        pred = torch.relu(xt @ w1.T + b1) @ w2.T + b2
        loss = torch.mean((pred - yt) ** 2)
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        # fold the input scale (1/100) and the output standardisation into the weights
        weights = {
            "w1": (w1[:, 0] / 100.0).double().tolist(),
            "b1": b1.double().tolist(),
            "w2": (w2[0] * sd).double().tolist(),
            "b2": float(b2[0]) * sd + mu,
            "train_mse": float(loss) * sd * sd,
        }
    return weights


def mlp_eval(weights: dict, x) -> np.ndarray:
    """Evaluate folded MLP weights on raw inputs."""
    x = np.asarray(x, dtype=float)
    h = np.maximum(np.multiply.outer(x, np.asarray(weights["w1"])) + np.asarray(weights["b1"]), 0.0)
    return h @ np.asarray(weights["w2"]) + weights["b2"]
