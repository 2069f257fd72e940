"""Model versions and their comparison: did compression change the behaviour or the mechanism?

Make a version (quantize, prune, low-rank) from a base, then compare versions
with the base on tasks: behaviour (task metric, accuracy, KL, top-1
agreement, answer flips), activations (linear CKA and relative error of the
residual stream per layer), weights (change and sparsity per module) and
mechanism (the base's circuit on the version, the version's own circuit and
their overlap), with size and latency. Versions are recorded by
`mechscope.store`.

>>> from mechscope.models import load
>>> from mechscope import compare
>>> base = load("random:llama-tiny")
>>> v = compare.make_version(base, "q4", "quantize", {"type": "q4_0"})
>>> v.operation, len(v.tensors), v.stored_bytes < sum(p.numel() * 4 for p in base.hf.parameters())
('quantize', 14, True)

`Baseline` and `compare_version` (see `mechscope.compare.comparison`) put versions beside the base.
"""

from mechscope.compare.comparison import Baseline, Settings, compare, compare_version
from mechscope.compare.mechanism import CircuitSettings
from mechscope.compare.version import Version, apply_version, make_version

# The public surface (docs/public-api.md); the operations themselves (compare.quantization.quantize,
# compare.pruning.prune_weights, compare.lowrank.low_rank) and the measures (compare.similarity, ...) are
# one module deeper.
__all__ = [
    "Baseline", "CircuitSettings", "Settings", "Version", "apply_version", "compare", "compare_version",
    "make_version",
]
