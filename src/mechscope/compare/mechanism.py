"""Did the mechanism survive? The base's circuit on a version, the version's own circuit, their overlap.

- ``circuit_faithfulness_of_base``: the base's circuit evaluated on the version
  (test split), against the version's own clean and corrupted runs.
- ``circuit_faithfulness_own``: the version's own circuit, found the same way.
- ``circuit_jaccard``: ``|E_base & E_version| / |E_base | E_version|`` over
  the two circuits' edges; ``heads_entered`` / ``heads_left``: attention heads
  that write into the version's circuit but not the base's, and the reverse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mechscope.discover import Circuit, evaluate_circuit, find_circuit
from mechscope.errors import MechscopeError
from mechscope.graph import Graph
from mechscope.tasks import Task

FindCircuit = Callable[[Graph, Task], Circuit]


@dataclass(frozen=True)
class CircuitSettings:
    """How circuits are found for a comparison; `edges` None means 1% of the graph's edges.

    `which`: ``all`` (the base's circuit, evaluated on each version, and each
    version's own), ``base`` (only the base's) or ``none``.
    """

    which: str = "all"
    method: str = "eap-ig"
    edges: int | None = None
    selection: str = "signed"
    steps: int = 5
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.which not in ("all", "base", "none"):
            raise MechscopeError(f"--circuits must be all, base or none, got {self.which!r}")

    def finder(self) -> FindCircuit:
        """A function (graph, task) -> circuit with these settings (no faithfulness curve).

        >>> from mechscope.models import load
        >>> from mechscope.tasks import load_task
        >>> graph = Graph(load("random:gpt2-tiny"))
        >>> len(CircuitSettings(method="eap", edges=5).finder()(graph, load_task("ioi", n=6)).edges) <= 5
        True
        """
        def find(graph: Graph, task: Task) -> Circuit:
            edges = self.edges if self.edges is not None else max(1, graph.n_edges // 100)
            params = {"steps": self.steps} if self.method == "eap-ig" else {}
            return find_circuit(graph, task, self.method, edges=edges, selection=self.selection,
                                batch_size=self.batch_size, curve=False, **params)
        return find

    def to_dict(self) -> dict:
        return {"which": self.which, "method": self.method, "edges": self.edges, "selection": self.selection,
                "steps": self.steps, "batch_size": self.batch_size}


def circuit_heads(circuit: Circuit) -> set[str]:
    """Attention heads that write into the circuit (sources of its edges).

    >>> c = Circuit("m", "fp", "t", "h", "eap", {}, {"a0.h1->a1.h0.q": 1.0, "a1.h0->logits": 2.0, "m0->logits": 1.0}, 9)
    >>> sorted(circuit_heads(c))
    ['a0.h1', 'a1.h0']
    """
    return {name.split("->")[0] for name in circuit.edges if name.split("->")[0].startswith("a")}


def jaccard(a: set, b: set) -> float:
    """``|a & b| / |a | b|``, 1 for two empty sets.

    >>> jaccard({1, 2}, {2, 3})
    0.3333333333333333
    """
    return len(a & b) / len(a | b) if a | b else 1.0


def mechanism_summary(graph: Graph, task: Task, base_circuit: Circuit | None, own: Circuit | None,
                      batch_size: int = 16, base_gap: float | None = None) -> dict:
    """Faithfulness of the base's circuit on this graph's model, and the overlap with its own circuit.

    `circuit_gap` is the model's clean minus corrupted metric on the test split, the denominator of
    faithfulness; where it is under a fifth of the base's (`base_gap`) the behaviour is mostly gone
    and faithfulness, a ratio to it, is unstable: `circuit_note` says so.
    """
    out: dict = {"circuit_faithfulness_of_base": None, "base_circuit_faithfulness": None,
                 "circuit_faithfulness_own": None, "circuit_jaccard": None, "heads_entered": None,
                 "heads_left": None, "circuit_edges": None, "circuit_gap": None, "circuit_note": None}
    if base_circuit is None:
        return out
    out["base_circuit_faithfulness"] = base_circuit.evaluation.faithfulness
    out["circuit_edges"] = len(base_circuit.edges)
    try:
        res = evaluate_circuit(graph, base_circuit, task, batch_size=batch_size)
        out["circuit_faithfulness_of_base"] = res["faithfulness"]
        out["circuit_gap"] = res["clean"] - res["corrupt"]
        if base_gap is not None and out["circuit_gap"] < 0.2 * base_gap:
            out["circuit_note"] = (f"clean minus corrupted {task.metric} is {out['circuit_gap']:.3g} on this model, "
                                   f"{base_gap:.3g} on the base: the behaviour is mostly gone and faithfulness, "
                                   "a ratio to it, is unstable")
    except MechscopeError as exc:  # the version scores clean and corrupted prompts the same: no behaviour left
        out["circuit_note"] = str(exc)
    if own is not None:
        out["circuit_faithfulness_own"] = own.evaluation.faithfulness
        out["circuit_jaccard"] = jaccard(set(base_circuit.edges), set(own.edges))
        base_heads, own_heads = circuit_heads(base_circuit), circuit_heads(own)
        out["heads_entered"] = sorted(own_heads - base_heads, key=_head_order)
        out["heads_left"] = sorted(base_heads - own_heads, key=_head_order)
    return out


def _head_order(name: str) -> tuple[int, int]:
    layer, head = name.split(".")
    return int(layer[1:]), int(head[1:])
