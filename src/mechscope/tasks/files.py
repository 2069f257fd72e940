"""Task files in the formats people already have, chosen by extension.

- ``.json``, AutoCircuit: ``{"prompts": [{"clean": str, "corrupt": str,
  "answers": [str], "wrong_answers": [str]}, ...]}``. ``wrong_answers`` may be
  missing (AutoCircuit's greater-than files have none); other keys are ignored;
  an optional top-level ``"metric"`` is read and written.
- ``.csv``, EAP-IG: a header row with ``clean`` and ``corrupted`` (or ``corrupt``),
  the answer in ``label`` (or ``answer``/``answers``) and optionally the wrong
  answer in ``wrong`` (or ``wrong_answers``, ``corrupted_label``, ``incorrect``).
  A cell is one answer, taken verbatim (keep its leading space: " Mary"), or a
  JSON list of answers (``["4", "5"]``). An optional ``metric`` column is read
  and written. Other columns (a pandas index, ``corrupted_hard``) are ignored.
  EAP-IG files that hold only token ids (``correct_idx``) are refused: ids belong
  to one tokenizer, mechscope tasks hold text.
- ``.jsonl``: one object per line with ``clean``, ``corrupt`` (or ``corrupted``),
  ``answers`` (a list or one string; ``answer`` also accepted), optional
  ``wrong_answers`` and ``metric``.

The metric is the one given to `load_task`, else the file's, else
``logit_diff`` when every example has wrong answers and ``logprob`` otherwise.

>>> load_task("ioi", n=3).name
'ioi'
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import replace
from pathlib import Path

from mechscope.atomic import write_text
from mechscope.errors import MechscopeError, closest, read_input_text
from mechscope.tasks.base import Example, Task, check_metric
from mechscope.tasks.builtin import BUILTIN_TASKS

FORMATS = {".json": "AutoCircuit JSON", ".csv": "EAP-IG CSV", ".jsonl": "JSONL"}
_FORMATS_HINT = "give a built-in name or a .json (AutoCircuit), .csv (EAP-IG) or .jsonl task file"
_CORRUPT_KEYS = ("corrupt", "corrupted")
_ANSWER_COLUMNS = ("label", "answer", "answers")
_WRONG_COLUMNS = ("wrong", "wrong_answers", "corrupted_label", "incorrect")


def load_task(name_or_path: str | os.PathLike, n: int | None = None, seed: int = 0,
              metric: str | None = None) -> Task:
    """A built-in task by name, or a task file by path (format from its extension).

    `n` limits a file to its first n examples (a built-in generates n); `seed`
    fixes the built-in's examples and the train/test split; `metric` overrides
    the task's metric.

    >>> sorted(BUILTIN_TASKS)
    ['gendered-pronoun', 'greater-than', 'induction', 'ioi', 'ioi-mib']
    >>> load_task("greater-than", n=10, seed=1).metric
    'prob_diff'
    """
    name = str(name_or_path)
    if name in BUILTIN_TASKS:
        task = BUILTIN_TASKS[name](n=n, seed=seed)
        return task if metric is None else replace(task, metric=check_metric(metric))
    path = Path(name)
    if not path.is_file():
        if path.suffix.lower() in FORMATS or os.sep in name or "/" in name:
            raise MechscopeError(f"task file {name!r} not found; check the path")
        raise MechscopeError(
            f"unknown task {name!r}{closest(name, BUILTIN_TASKS)}; built-ins are "
            f"{', '.join(BUILTIN_TASKS)}, or give a .json (AutoCircuit), .csv (EAP-IG) or .jsonl task file"
        )
    task = read_task_file(path, seed=seed, metric=metric)
    if n is not None:
        if not 1 <= n <= len(task):
            raise MechscopeError(
                f"task file {name!r} has {len(task)} examples, asked for n={n}; use 1 <= n <= {len(task)} or omit n"
            )
        task = replace(task, examples=task.examples[:n])
    return task


def read_task_file(path: str | os.PathLike, seed: int = 0, metric: str | None = None) -> Task:
    """Read an AutoCircuit .json, EAP-IG .csv or .jsonl task file; the task is named after the file."""
    path = Path(path)
    kind = path.suffix.lower()
    if kind not in FORMATS:
        raise MechscopeError(
            f"task file {str(path)!r} has unknown extension {path.suffix!r}; use .json (AutoCircuit), "
            ".csv (EAP-IG) or .jsonl"
        )
    text = read_input_text(path, "task file")  # a BOM is dropped: spreadsheet exports often start with one
    if not text.strip():
        raise MechscopeError(f"task file {str(path)!r} is empty; it needs at least one example ({FORMATS[kind]})")
    reader = {".json": _read_json, ".csv": _read_csv, ".jsonl": _read_jsonl}[kind]
    examples, file_metric = reader(text, str(path))
    if not examples:
        raise MechscopeError(f"task file {str(path)!r} has no examples; add at least one ({FORMATS[kind]})")
    if file_metric is not None and not isinstance(file_metric, str):
        raise MechscopeError(f"task file {str(path)!r}: \"metric\" must be a string, got {file_metric!r:.40}; use "
                             "one of logit_diff, prob_diff, logprob, kl")
    if metric is None:
        has_wrong = all(ex.wrong_answers for ex in examples)
        metric = file_metric if file_metric else ("logit_diff" if has_wrong else "logprob")
    try:
        return Task(path.stem, tuple(examples), check_metric(metric), source=str(path), seed=seed)
    except MechscopeError as exc:  # a task-level problem (e.g. no wrong answers for logit_diff) names the file
        raise MechscopeError(f"{path}: {exc}") from None


def save_task(task: Task, path: str | os.PathLike) -> Path:
    """Write `task` in the format of `path`'s extension (temp file, then rename); returns the path.

    >>> import tempfile, os
    >>> p = save_task(load_task("ioi", n=2), os.path.join(tempfile.mkdtemp(), "ioi.jsonl"))
    >>> load_task(p).hash() == load_task("ioi", n=2).hash()
    True
    """
    path = Path(path)
    kind = path.suffix.lower()
    if kind not in FORMATS:
        raise MechscopeError(
            f"cannot save task to {str(path)!r}: unknown extension {path.suffix!r}; use .json, .csv or .jsonl"
        )
    if kind == ".json":
        text = json.dumps({"metric": task.metric, "prompts": [ex.to_dict() for ex in task.examples]},
                          ensure_ascii=False, indent=1) + "\n"
    elif kind == ".jsonl":
        text = "".join(json.dumps({**ex.to_dict(), "metric": task.metric}, ensure_ascii=False) + "\n"
                       for ex in task.examples)
    else:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["clean", "corrupted", "label", "wrong", "metric"])
        for ex in task.examples:
            writer.writerow([ex.clean, ex.corrupt, _cell(ex.answers), _cell(ex.wrong_answers), task.metric])
        text = buf.getvalue()
    write_text(path, text)
    return path


def _cell(answers: tuple[str, ...]) -> str:
    # one answer stays plain text (what EAP-IG files hold); several become a JSON list
    if len(answers) == 1 and not answers[0].startswith("["):
        return answers[0]
    return json.dumps(list(answers), ensure_ascii=False) if answers else ""


def _answers(value, where: str, key: str, required: bool) -> tuple[str, ...]:
    """A string or list of strings -> tuple; raise naming `where` otherwise."""
    if value is None or value == "" or value == []:
        if required:
            raise MechscopeError(f"{where}: {key!r} is missing or empty; give the answer text, e.g. \" Mary\"")
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise MechscopeError(f"{where}: {key!r} must be a string or a list of strings, got {value!r}; e.g. [\" Mary\"]")


def _example(obj, where: str) -> Example:
    """An Example from one JSON object (AutoCircuit prompt or JSONL line)."""
    if not isinstance(obj, dict):
        raise MechscopeError(f"{where}: expected an object with clean, corrupt and answers, got {obj!r:.60}; "
                             'write e.g. {"clean": "...", "corrupt": "...", "answers": [" Mary"]}')
    corrupt_key = next((k for k in _CORRUPT_KEYS if k in obj), None)
    answer_key = "answers" if "answers" in obj else "answer"
    for key, present in (("clean", "clean" in obj), ("corrupt", corrupt_key), ("answers", answer_key in obj)):
        if not present:
            raise MechscopeError(f"{where}: missing key {key!r}; each example needs clean, corrupt and answers")
    for key in ("clean", corrupt_key):
        if not isinstance(obj[key], str):
            raise MechscopeError(f"{where}: {key!r} must be a string, got {obj[key]!r:.60}; write the prompt as "
                                 "one string")
    return Example(obj["clean"], obj[corrupt_key], _answers(obj[answer_key], where, answer_key, True),
                   _answers(obj.get("wrong_answers"), where, "wrong_answers", False))


def _json_error(path: str, exc: json.JSONDecodeError, line: int | None = None) -> MechscopeError:
    where = f"line {line if line is not None else exc.lineno}" + ("" if line is not None else f" column {exc.colno}")
    return MechscopeError(f"task file {path!r} is not valid JSON at {where}: {exc.msg}; fix that line")


def _read_json(text: str, path: str) -> tuple[list[Example], str | None]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _json_error(path, exc) from None
    except RecursionError:
        raise MechscopeError(f"task file {path!r} is nested too deeply to be a task; give the right file") from None
    prompts = data.get("prompts") if isinstance(data, dict) else data
    if not isinstance(prompts, list):
        raise MechscopeError(
            f"task file {path!r}: expected {{\"prompts\": [...]}} (AutoCircuit format), got top-level keys "
            f"{sorted(data) if isinstance(data, dict) else type(data).__name__}; put the examples under \"prompts\""
        )
    metric = data.get("metric") if isinstance(data, dict) else None
    return [_example(p, f"task file {path!r} prompt {i}") for i, p in enumerate(prompts)], metric


def _read_jsonl(text: str, path: str) -> tuple[list[Example], str | None]:
    examples, metrics = [], set()
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines: JSON may hold a raw U+2028
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _json_error(path, exc, line=number) from None
        except RecursionError:
            raise MechscopeError(f"task file {path!r} line {number} is nested too deeply to be an example; "
                                 "fix that line") from None
        examples.append(_example(obj, f"task file {path!r} line {number}"))
        if isinstance(obj, dict) and obj.get("metric"):
            if not isinstance(obj["metric"], str):
                raise MechscopeError(f"task file {path!r} line {number}: \"metric\" must be a string, got "
                                     f"{obj['metric']!r:.40}; use one of logit_diff, prob_diff, logprob, kl")
            metrics.add(obj["metric"])
    return examples, _one_metric(metrics, path)


def _one_metric(metrics: set[str], path: str) -> str | None:
    if len(metrics) > 1:
        raise MechscopeError(f"task file {path!r} mixes metrics {sorted(metrics)}; use one metric for the whole file")
    return next(iter(metrics), None)


def _csv_cell(value: str) -> str | list:
    # a JSON list holds several answers; anything else is one answer, verbatim
    if value.startswith("[") and value.endswith("]"):
        try:
            parsed = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return value
        if isinstance(parsed, list):
            return parsed
    return value


def _read_csv(text: str, path: str) -> tuple[list[Example], str | None]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise MechscopeError(f"task file {path!r} line 1: malformed CSV header ({exc}); fix the header row") from None
    corrupt = next((c for c in _CORRUPT_KEYS if c in header), None)
    answer = next((c for c in _ANSWER_COLUMNS if c in header), None)
    wrong = next((c for c in _WRONG_COLUMNS if c in header), None)
    if "clean" not in header or corrupt is None or answer is None:
        hint = (" (its correct_idx/incorrect_idx are token ids for one tokenizer; add a 'label' column with "
                "the answer text)") if "correct_idx" in header else ""
        raise MechscopeError(
            f"task file {path!r} line 1: header {header} needs columns clean, corrupted and label{hint}; "
            "fix the header row"
        )
    examples, metrics = [], set()
    try:
        for row in reader:
            where = f"task file {path!r} line {reader.line_num}"
            if None in row:
                raise MechscopeError(f"{where}: more fields than the header's {len(header)}; quote cells with commas")
            if any(row.get(c) is None for c in ("clean", corrupt, answer)):
                raise MechscopeError(f"{where}: fewer fields than the header's {len(header)}; fill every column")
            wrong_answers = _answers(_csv_cell(row[wrong] or ""), where, wrong, False) if wrong else ()
            examples.append(Example(row["clean"], row[corrupt], _answers(_csv_cell(row[answer]), where, answer, True),
                                    wrong_answers))
            if row.get("metric"):
                metrics.add(row["metric"])
    except csv.Error as exc:
        raise MechscopeError(f"task file {path!r} line {reader.line_num}: malformed CSV ({exc}); fix that row") from None
    return examples, _one_metric(metrics, path)
