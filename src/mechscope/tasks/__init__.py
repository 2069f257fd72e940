"""Tasks (layer 3): behaviours as clean/corrupt prompts, answers and a metric."""

from mechscope.tasks.base import METRICS, EncodedTask, Example, Task, evaluate, metric_values

__all__ = ["METRICS", "EncodedTask", "Example", "Task", "evaluate", "metric_values"]
