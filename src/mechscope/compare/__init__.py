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

from mechscope.compare.behaviour import Observation, behaviour_summary, example_differences, observe
from mechscope.compare.comparison import Baseline, Settings, compare, compare_version, steps_per_version
from mechscope.compare.encoding import Encoded
from mechscope.compare.lowrank import low_rank, truncated_svd
from mechscope.compare.mechanism import CircuitSettings, circuit_heads, jaccard
from mechscope.compare.pruning import calibration_tokens, prune
from mechscope.compare.quantization import quant_types, quantize
from mechscope.compare.similarity import first_divergence, layer_similarity, linear_cka, relative_error
from mechscope.compare.targets import Target, targets
from mechscope.compare.version import (
    OPERATIONS,
    Version,
    apply_version,
    make_version,
    operation_label,
    parse_prune,
    size_bytes,
)
from mechscope.compare.weights import weight_changes

__all__ = [
    "Baseline", "CircuitSettings", "Encoded", "OPERATIONS", "Observation", "Settings", "Target", "Version",
    "apply_version", "behaviour_summary", "calibration_tokens", "circuit_heads", "compare", "compare_version",
    "example_differences", "first_divergence", "jaccard", "layer_similarity", "linear_cka", "low_rank",
    "make_version", "observe", "operation_label", "parse_prune", "prune", "quant_types", "quantize",
    "relative_error", "size_bytes", "steps_per_version", "targets", "truncated_svd", "weight_changes",
]
