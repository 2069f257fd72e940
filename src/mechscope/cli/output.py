"""Terminal output shared by every command.

Humans get rich tables and progress bars on stderr; with ``--json`` stdout gets
exactly one JSON document and nothing else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

err = Console(stderr=True)
out = Console()


def _clean(value):
    """Make numbers JSON-safe (NaN/inf become null) and tensors plain."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "tolist"):
        return _clean(value.tolist())
    return value


def print_json(doc) -> None:
    print(json.dumps(_clean(doc), indent=2))


@contextmanager
def progress(enabled: bool = True) -> Iterator[Progress]:
    """A rich progress display on stderr (hidden when not a terminal-worthy run)."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not enabled,
    )
    with bar:
        yield bar


def track(items: Iterable, description: str, total: int | None = None, enabled: bool = True):
    with progress(enabled) as bar:
        task = bar.add_task(description, total=total if total is not None else len(items))  # type: ignore[arg-type]
        for item in items:
            yield item
            bar.advance(task)


def status(message: str, quiet: bool = False):
    """A spinner on stderr while something runs (none when `quiet`)."""
    return nullcontext() if quiet else err.status(message, spinner="dots")
