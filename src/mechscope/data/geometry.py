"""Geometry of a prompt set in its embedding space: nearest neighbours, coverage of a reference set,
and holes (the largest empty balls among the points).

All inputs are unit rows ``[n, d]``; distances are Euclidean, ``sqrt(2 - 2 cos)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

NEAR_COPY_COSINE = 0.95
DEFAULT_QUANTILE = 0.75


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distances ``[n, m]`` between unit rows `a` ``[n, d]`` and `b` ``[m, d]``.

    >>> [round(float(v), 3) for v in distances(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 0.0]]))[0]]
    [1.414, 0.0]
    """
    cos = torch.as_tensor(a, dtype=torch.float32) @ torch.as_tensor(b, dtype=torch.float32).T
    return (2 - 2 * cos).clamp_min(0).sqrt().numpy()


def nearest(a: np.ndarray, b: np.ndarray, k: int = 1, exclude_self: bool = False, chunk: int = 2048
            ) -> tuple[np.ndarray, np.ndarray]:
    """The `k` nearest rows of `b` for each row of `a`: (distances ``[n, k]``, indices ``[n, k]``), nearest first.

    With `exclude_self` (a is b) a row is not its own neighbour, nor are exact copies of it (distance 0).

    >>> x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    >>> nearest(x, x, 1, exclude_self=True)[1].ravel().tolist()
    [1, 0, 1]
    """
    bt = torch.as_tensor(b, dtype=torch.float32)
    k = min(k, len(b) - (1 if exclude_self else 0))
    dists, idxs = [], []
    for start in range(0, len(a), chunk):
        at = torch.as_tensor(a[start:start + chunk], dtype=torch.float32)
        d = (2 - 2 * (at @ bt.T)).clamp_min(0).sqrt()
        if exclude_self:  # itself and its exact copies (float32 rounding puts a copy at up to ~5e-4)
            d[d < 1e-3] = float("inf")
        v, i = d.topk(k, dim=1, largest=False)
        dists.append(v)
        idxs.append(i)
    return torch.cat(dists).numpy(), torch.cat(idxs).numpy()


@dataclass(frozen=True)
class Coverage:
    """Which reference rows no prompt covers.

    A reference row is covered when its nearest prompt is within `threshold`, the `quantile` of the
    distances from each prompt to its nearest other prompt (exact copies left out): with the default 0.75,
    a row is covered when it is at least as close to the set as three quarters of the set's own prompts
    are to their nearest neighbour.

    - uncovered: 0-based indices of the uncovered reference rows;
    - nearest_prompt, distance: per reference row, its nearest prompt and the distance to it.
    """

    threshold: float
    quantile: float
    n_reference: int
    uncovered: list[int]
    nearest_prompt: list[int] = field(repr=False)
    distance: list[float] = field(repr=False)
    reference: str = ""

    @property
    def coverage(self) -> float:
        return 1 - len(self.uncovered) / self.n_reference if self.n_reference else 1.0

    def to_dict(self) -> dict:
        return {**asdict(self), "coverage": self.coverage}


def coverage_threshold(emb: np.ndarray, quantile: float = DEFAULT_QUANTILE, nn_distance: np.ndarray | None = None
                       ) -> float:
    """The `quantile` of each prompt's distance to its nearest other prompt (exact copies left out).

    >>> x = np.eye(3)
    >>> round(coverage_threshold(x, 0.5), 3)
    1.414
    """
    d = nearest(emb, emb, 1, exclude_self=True)[0][:, 0] if nn_distance is None else np.asarray(nn_distance)
    finite = d[np.isfinite(d)]
    return float(np.quantile(finite, quantile)) if len(finite) else 0.0


def coverage(emb: np.ndarray, ref: np.ndarray, quantile: float = DEFAULT_QUANTILE, threshold: float | None = None,
             reference: str = "", nn_distance: np.ndarray | None = None) -> Coverage:
    """Coverage of reference rows `ref` ``[m, d]`` by prompts `emb` ``[n, d]`` (see `Coverage`).

    >>> x = np.array([[1.0, 0.0, 0.0], [0.9, 0.43589, 0.0], [0.8, 0.6, 0.0]])
    >>> ref = np.array([[0.95, 0.31225, 0.0], [0.0, 0.0, 1.0]])
    >>> coverage(x, ref).uncovered
    [1]
    """
    th = coverage_threshold(emb, quantile, nn_distance) if threshold is None else float(threshold)
    d, i = nearest(ref, emb, 1)
    uncovered = [int(j) for j in np.flatnonzero(d[:, 0] > th)]
    return Coverage(th, quantile, len(ref), uncovered, i[:, 0].tolist(), d[:, 0].round(5).tolist(), reference)


@dataclass(frozen=True)
class EmptyRegion:
    """A hole: a ball in embedding space with no prompt inside.

    - center: its centre ``[d]`` (a unit vector inside the local hull of the prompts around it);
    - radius: the distance from the centre to the nearest prompt;
    - relative_radius: radius / the median distance from a prompt to its nearest neighbour;
    - center_neighbors: the bordering prompts (row ids within 5% of the radius, nearest first, at most 8).
    """

    id: int
    radius: float
    relative_radius: float
    center_neighbors: list[int]
    center: list[float] = field(repr=False)

    def to_dict(self, center: bool = False) -> dict:
        d = asdict(self)
        if not center:
            d.pop("center")
        return d


def empty_regions(emb: np.ndarray, n_regions: int = 10, seed: int = 0, n_candidates: int = 256,
                  steps: int = 80, refresh: int = 20, pool: int = 128, nn_distance: np.ndarray | None = None
                  ) -> list[EmptyRegion]:
    """The largest empty balls among the points `emb` ``[n, d]`` (unit rows), largest first.

    Each candidate centre is a convex combination of anchors around a random prompt (its 12 nearest
    neighbours and, to span holes wider than a neighbourhood, its 16th, 24th, ..., 256th), normalised back
    to the unit sphere: holes inside the data, not beyond its edge. It moves by gradient ascent on a smooth
    minimum of its distances to the `pool` prompts nearest to it (refreshed every `refresh` steps); its
    radius is then its exact distance to the nearest prompt. Balls whose centre lies inside a larger ball
    already found are dropped. `nn_distance` ``[n]`` (each prompt's distance to its nearest other prompt)
    is computed when not given.

    >>> rng = np.random.default_rng(0)
    >>> ring = np.stack([np.cos(a := rng.uniform(0, 6.283, 60)), np.sin(a), 0.3 + 0 * a], 1)
    >>> regions = empty_regions(ring / np.linalg.norm(ring, axis=1, keepdims=True), n_regions=1)
    >>> regions[0].relative_radius > 3  # the hole in the middle of the ring
    True
    """
    x = torch.as_tensor(emb, dtype=torch.float32)
    n = len(x)
    if n < 3:
        return []
    ranks = [r for r in list(range(12)) + [15, 23, 31, 47, 63, 95, 127, 191, 255] if r < n - 1]
    nn_d = nearest(emb, emb, 1, exclude_self=True)[0][:, 0] if nn_distance is None else np.asarray(nn_distance)
    spacing = float(np.median(nn_d[np.isfinite(nn_d)]))
    if not spacing > 0:
        return []
    gen = torch.Generator().manual_seed(seed)
    seeds = torch.randperm(n, generator=gen)[:n_candidates]
    seed_nn = torch.as_tensor(nearest(emb[seeds.numpy()], emb, ranks[-1] + 1, exclude_self=True)[1])
    anchors = torch.cat([seeds[:, None], seed_nn[:, ranks]], 1)  # [C, k]
    a_pts = x[anchors]  # [C, k, d]
    # the centre is c = A^T w / |A^T w| (w = softmax(theta)), so every distance needs only Gram matrices:
    # p.c = (P A^T w) / sqrt(w^T A A^T w); the ascent runs on [C, P, k] numbers, not on d-dim vectors
    gram_aa = torch.einsum("cjd,ckd->cjk", a_pts, a_pts)  # [C, k, k]
    theta = (0.5 * torch.randn(anchors.shape, generator=gen)).requires_grad_(True)
    # Adam (lr 0.2, betas 0.9, 0.999) written out: on 10,000 points the ascent takes 2.2 s this way against
    # 3.1-4.4 s with torch.optim.Adam(maximize=True) and backward(), for the same radii
    m1, m2 = torch.zeros_like(theta), torch.zeros_like(theta)  # Adam's moments
    tau = 0.05 * spacing
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the ascent is many small ops: threads cost more than they give
    try:
        for step in range(steps):
            if step % refresh == 0:  # the prompts a centre can meet: the nearest to where it is now
                with torch.no_grad():
                    near = nearest(_centres(theta, a_pts).numpy(), emb, min(pool, n))[1]
                    gram_pa = torch.einsum("cpd,ckd->cpk", x[torch.as_tensor(near)], a_pts)  # [C, P, k]
            w = torch.softmax(theta, dim=1)
            norm = ((w[:, :, None] * gram_aa).sum(1) * w).sum(1).clamp_min(1e-12).sqrt()
            cos = torch.bmm(gram_pa, w[:, :, None])[..., 0] / norm[:, None]
            d = (2 - 2 * cos).clamp_min(1e-9).sqrt()
            soft_min = -tau * torch.logsumexp(-d / tau, dim=1)
            (grad,) = torch.autograd.grad(soft_min.sum(), theta)
            with torch.no_grad():  # Adam, ascending
                m1.mul_(0.9).add_(grad, alpha=0.1)
                m2.mul_(0.999).addcmul_(grad, grad, value=0.001)
                step_size = 0.2 * (1 - 0.999 ** (step + 1)) ** 0.5 / (1 - 0.9 ** (step + 1))
                theta.add_(step_size * m1 / (m2.sqrt() + 1e-8))
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        centres = _centres(theta, a_pts).numpy()
    d_all = distances(centres, emb)  # exact, against every prompt
    radius = d_all.min(1)
    kept: list[int] = []
    for c in np.argsort(-radius):
        if len(kept) >= n_regions:
            break
        if all(np.linalg.norm(centres[c] - centres[k]) >= radius[k] for k in kept):
            kept.append(int(c))
    regions = []
    for rid, c in enumerate(kept):
        order = np.argsort(d_all[c])
        border = [int(j) for j in order[:8] if d_all[c, j] <= radius[c] * 1.05]
        regions.append(EmptyRegion(rid, round(float(radius[c]), 5), round(float(radius[c]) / spacing, 4), border,
                                   centres[c].round(6).tolist()))
    return regions


def _centres(theta: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Unit vectors ``[C, d]``: the softmax(theta)-weighted mean of each row of anchors ``[C, k, d]``."""
    c = torch.einsum("ck,ckd->cd", torch.softmax(theta, dim=1), anchors)
    return c / c.norm(dim=-1, keepdim=True).clamp_min(1e-9)


def near_copies(new: np.ndarray, existing: np.ndarray, cosine: float = NEAR_COPY_COSINE) -> np.ndarray:
    """For each new row ``[n, d]``, its highest cosine to any existing row ``[m, d]`` (``[n]``; -1 if none).

    >>> near_copies(np.array([[1.0, 0.0]]), np.array([[0.6, 0.8], [1.0, 0.0]])).tolist()
    [1.0]
    """
    if len(existing) == 0 or len(new) == 0:
        return np.full(len(new), -1.0)
    return (torch.as_tensor(new, dtype=torch.float32) @ torch.as_tensor(existing, dtype=torch.float32).T
            ).max(1).values.numpy().astype(float)
