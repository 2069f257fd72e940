"""The computational graph and the edge-patching engine (layer 2 of mechscope)."""

from mechscope.graph.engine import run, source_outputs
from mechscope.graph.mask import EdgeMask
from mechscope.graph.structure import Edge, Graph, Group, Node

__all__ = ["Edge", "EdgeMask", "Graph", "Group", "Node", "run", "source_outputs"]
