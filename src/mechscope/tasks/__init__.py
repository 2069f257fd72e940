"""Tasks (layer 3): a behaviour as clean prompts, corrupted prompts, answers, wrong answers and a metric.

Built-ins (`BUILTIN_TASKS`) are generated with a seed; files come in the formats
people already have (AutoCircuit JSON, EAP-IG CSV, JSONL). A `Task` holds text;
`Task.encode` gives the token tensors for one tokenizer.

>>> from mechscope.tasks import load_task
>>> task = load_task("ioi", n=20)
>>> len(task.split("train")), len(task.split("test"))
(10, 10)
"""

from mechscope.tasks.base import (
    METRICS, EncodedTask, Example, Task, check_metric, correct, evaluate, metric_values, next_token_logits,
)
from mechscope.tasks.builtin import BUILTIN_TASKS
from mechscope.tasks.files import FORMATS, load_task, read_task_file, save_task

__all__ = [
    "BUILTIN_TASKS", "EncodedTask", "Example", "FORMATS", "METRICS", "Task", "check_metric", "correct",
    "evaluate", "load_task", "metric_values", "next_token_logits", "read_task_file", "save_task",
]
