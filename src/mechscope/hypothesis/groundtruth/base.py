"""A ground-truth model: a model, its task and its true circuit, saved as a folder.

Folder layout (``<cache>/groundtruth/<name>/``)::

    model/        Hugging Face weights and the word tokenizer (``load("hf:<dir>/model")``)
    task.jsonl    the examples, readable by ``mechscope.load_task``
    truth.json    name, kind, true edges per ablation, provenance, verification

The true circuit is fixed before any discovery method runs: by hand for the
hand-built models, by the planted edge set for the trained ones. A circuit
can differ between ablation types (a position-only edge carries nothing under
resample ablation and everything under zero ablation), so `true_edges` maps
each ablation for which the truth is known to its edge names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mechscope.atomic import atomic_folder
from mechscope.errors import MechscopeError
from mechscope.models import Model
from mechscope.models.loading import cache_dir
from mechscope.tasks import Task

TRUTH_SCHEMA = "mechscope.groundtruth/1"


@dataclass
class GroundTruth:
    """A model whose circuit for `task` is known edge by edge.

    - kind: "handbuilt" (weights set by hand) or "planted" (trained through a mask).
    - true_edges: ablation ("resample", "mean", "zero") -> edge names of the true circuit.
    - info: provenance (family, sizes, seed, training) and the verification figures.
    """

    name: str
    kind: str
    model: Model
    task: Task
    true_edges: dict[str, list[str]]
    info: dict = field(default_factory=dict)

    def save(self, folder: str | Path) -> Path:
        """Write the folder atomically (a temporary sibling renamed into place)."""
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Writing model shards" would land in the middle of our own bars
        folder = Path(folder)
        with atomic_folder(folder, replace=True) as tmp:
            self.model.hf.save_pretrained(tmp / "model")
            self.model.tokenizer.save_pretrained(tmp / "model")
            lines = [json.dumps(ex.to_dict()) for ex in self.task.examples]
            (tmp / "task.jsonl").write_text("\n".join(lines) + "\n")
            doc = {"schema": TRUTH_SCHEMA, "name": self.name, "kind": self.kind, "task": self.task.name,
                   "metric": self.task.metric, "fingerprint": self.model.fingerprint,
                   "true_edges": self.true_edges, "info": self.info}
            (tmp / "truth.json").write_text(json.dumps(doc, indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> "GroundTruth":
        """Load a saved ground-truth folder (its model, task and truth)."""
        from mechscope.models import load
        from mechscope.tasks import load_task

        folder = Path(folder)
        truth = folder / "truth.json"
        if not truth.exists():
            raise MechscopeError(f"{folder} is not a ground-truth folder (no truth.json); build it with "
                                 "`mechscope groundtruth build`")
        doc = json.loads(truth.read_text())
        if doc.get("schema") != TRUTH_SCHEMA:
            raise MechscopeError(f"{truth} has schema {doc.get('schema')!r}, expected {TRUTH_SCHEMA!r}; rebuild it")
        model = load(f"hf:{folder / 'model'}")
        task = load_task(str(folder / "task.jsonl"), metric=doc["metric"])
        task = Task(doc["task"], task.examples, metric=doc["metric"], source=str(folder / "task.jsonl"))
        return cls(doc["name"], doc["kind"], model, task, doc["true_edges"], doc.get("info", {}))


def groundtruth_dir() -> Path:
    """Where built ground-truth models are cached: ``$MECHSCOPE_CACHE/groundtruth``."""
    return cache_dir() / "groundtruth"
