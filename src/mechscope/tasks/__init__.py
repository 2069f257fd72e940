"""Tasks (layer 3): a behaviour as clean prompts, corrupted prompts, answers, wrong answers and a metric.

Built-ins (`BUILTIN_TASKS`) are generated with a seed; files come in the formats
people already have (AutoCircuit JSON, EAP-IG CSV, JSONL). A `Task` holds text;
`Task.encode` gives the token tensors for one tokenizer.

>>> from mechscope.tasks import load_task
>>> task = load_task("ioi", n=20)
>>> len(task.split("train")), len(task.split("test"))
(10, 10)
"""

from mechscope.tasks.base import EncodedTask, Example, Task, evaluate, metric_values
from mechscope.tasks.builtin import BUILTIN_TASKS
from mechscope.tasks.files import load_task, save_task

# The public surface (docs/public-api.md); the rest is one module deeper (tasks.base, tasks.files, ...).
__all__ = ["BUILTIN_TASKS", "EncodedTask", "Example", "Task", "evaluate", "load_task", "metric_values", "save_task"]
