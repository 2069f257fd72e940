"""Models whose circuits are known edge by edge, to score discovery methods against.

- `handbuilt`: GPT-2 weights set by hand (induction, first-symbol copying).
- `planted`: small GPT-2 and Llama models trained so a task flows only through a chosen subgraph.
- `zoo`: the named set of both that `mechscope groundtruth build` makes and caches.
"""

from mechscope.hypothesis.groundtruth.base import GroundTruth, groundtruth_dir
from mechscope.hypothesis.groundtruth.tasks import TASKS, synthetic_task
from mechscope.hypothesis.groundtruth.verify import THRESHOLDS, kept_edges, verify_circuit, verify_truth

__all__ = ["GroundTruth", "TASKS", "THRESHOLDS", "groundtruth_dir", "kept_edges", "synthetic_task",
           "verify_circuit", "verify_truth"]
