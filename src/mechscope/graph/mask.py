"""EdgeMask: how much each edge is patched.

One tensor per receiver group, shaped ``[n_receivers, n_sources]`` (see
`mechscope.graph.structure`). Entry 0 keeps the edge clean, 1 patches it fully
(the receiver reads the patch value of the source instead of its current
output), fractions interpolate. Masks are plain data: they save to safetensors
with a manifest and load back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from mechscope.errors import MechscopeError
from mechscope.graph.structure import Edge, Graph

MASK_FORMAT = "mechscope.edgemask/1"


@dataclass(frozen=True, eq=False)
class EdgeMask:
    """Per-group patch coefficients; the tensors are the only mutable state.

    >>> from mechscope.models import load
    >>> graph = Graph.from_model(load("random:gpt2-tiny"))
    >>> mask = EdgeMask.from_edges(graph, ["embed->a1.h2.q", "a0.h1->logits"])
    >>> mask.n_patched()
    2
    """

    tensors: dict[str, torch.Tensor]  # group name -> [n_receivers, n_sources]

    # construction ---------------------------------------------------------
    @classmethod
    def full(cls, graph: Graph, value: float, requires_grad: bool = False) -> "EdgeMask":
        device = graph.model.device
        return cls(
            {
                g.name: torch.full(g.shape, float(value), device=device, requires_grad=requires_grad)
                for g in graph.groups
            }
        )

    @classmethod
    def zeros(cls, graph: Graph, requires_grad: bool = False) -> "EdgeMask":
        """Nothing patched: the clean run. With `requires_grad`, for edge attribution."""
        return cls.full(graph, 0.0, requires_grad)

    @classmethod
    def ones(cls, graph: Graph) -> "EdgeMask":
        """Every edge patched: the patched (e.g. corrupted) run."""
        return cls.full(graph, 1.0)

    @classmethod
    def from_edges(cls, graph: Graph, edges: Iterable[str | Edge], value: float = 1.0, base: float = 0.0) -> "EdgeMask":
        """`base` everywhere, `value` on the named edges (unknown names raise)."""
        mask = cls.full(graph, base)
        for e in edges:
            edge = e if isinstance(e, Edge) else graph.edge(e)
            mask.tensors[edge.group][edge.row, edge.col] = value
        return mask

    @classmethod
    def random(cls, graph: Graph, p: float, seed: int = 0) -> "EdgeMask":
        """Each edge patched with probability `p` (seeded)."""
        gen = torch.Generator().manual_seed(seed)
        return cls({g.name: (torch.rand(g.shape, generator=gen) < p).float().to(graph.model.device) for g in graph.groups})

    # queries --------------------------------------------------------------
    def n_patched(self) -> int:
        return int(sum((t != 0).sum().item() for t in self.tensors.values()))

    def patched_edges(self, graph: Graph) -> list[Edge]:
        """The edges whose coefficient is not 0."""
        out = []
        for name, t in self.tensors.items():
            for row, col in (t != 0).nonzero().tolist():
                out.append(graph.edge_at(name, row, col))
        return out

    def is_zero(self) -> bool:
        return all(not t.requires_grad and not bool((t != 0).any()) for t in self.tensors.values())

    def grads(self) -> dict[str, torch.Tensor]:
        """After a backward pass: d metric / d coefficient, per group."""
        return {k: (t.grad if t.grad is not None else torch.zeros_like(t)) for k, t in self.tensors.items()}

    def check(self, graph: Graph) -> None:
        """Raise if a group is missing, unknown or has the wrong shape."""
        for g in graph.groups:
            t = self.tensors.get(g.name)
            if t is None:
                raise MechscopeError(f"edge mask has no tensor for group {g.name!r}; build it with EdgeMask.zeros(graph)")
            if tuple(t.shape) != g.shape:
                raise MechscopeError(
                    f"edge mask group {g.name!r} has shape {tuple(t.shape)}, expected {g.shape} "
                    "(receivers, sources); was it built for another model?"
                )
        extra = set(self.tensors) - {g.name for g in graph.groups}
        if extra:
            raise MechscopeError(f"edge mask has unknown groups {sorted(extra)[:3]}; was it built for another model?")

    # storage --------------------------------------------------------------
    def save(self, path: str | Path, graph: Graph) -> None:
        """Write safetensors with a manifest in the metadata (temp file, then rename)."""
        from mechscope.atomic import write_safetensors

        meta = {
            "format": MASK_FORMAT,
            "model_spec": graph.model.spec,
            "model_fingerprint": graph.model.fingerprint,
            "axes": json.dumps({k: "receiver source" for k in self.tensors}),
        }
        write_safetensors(path, {k: v.detach().float().cpu().contiguous() for k, v in self.tensors.items()}, meta)

    @classmethod
    def load(cls, path: str | Path, graph: Graph) -> "EdgeMask":
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != MASK_FORMAT:
                raise MechscopeError(f"{path} is not a mechscope edge mask (format {meta.get('format')!r})")
            if meta.get("model_fingerprint") != graph.model.fingerprint:
                raise MechscopeError(
                    f"edge mask {path} was made for model {meta.get('model_fingerprint')} "
                    f"({meta.get('model_spec')}), got {graph.model.fingerprint} ({graph.model.spec}); "
                    "rebuild it on this model"
                )
            tensors = {k: f.get_tensor(k).to(graph.model.device) for k in f.keys()}
        mask = cls(tensors)
        mask.check(graph)
        return mask

    def __repr__(self) -> str:
        total = sum(t.numel() for t in self.tensors.values())
        return f"EdgeMask(groups={len(self.tensors)}, edges={total}, patched={self.n_patched()})"
