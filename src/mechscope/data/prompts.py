"""Prompt sets: one text per row, read from txt, JSONL, CSV, Parquet or a task file.

- ``.txt``: one prompt a line.
- ``.jsonl``: one object a line with the text under ``text`` (or ``--text-column``), or one JSON string a line.
- ``.csv``: a header row with a ``text`` column (or ``--text-column``).
- ``.parquet``: a ``text`` column (or ``--text-column``); a map written by `mechscope data map` also carries
  its embeddings, which are reused when the embedding space matches.
- task files (AutoCircuit ``.json``; JSONL or CSV with ``clean`` and ``corrupt(ed)`` columns and no text
  column): their clean prompts, with the answers as metadata.

Other columns are kept as metadata. Rows are numbered 0, 1, ... in the order read; empty rows are skipped
and counted, exact duplicates are kept and reported.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mechscope.errors import MechscopeError

SUFFIXES = (".txt", ".jsonl", ".csv", ".parquet", ".json")
SHIPPED = ("everyday.jsonl", "everyday_reference.jsonl")
_HINT = "one prompt a line (.txt), JSONL or CSV with a 'text' column, Parquet, or a task file"


@dataclass(frozen=True, eq=False)
class PromptSet:
    """The prompts of one file and what reading it found.

    - texts: the prompts, row ``i`` is ``texts[i]``;
    - metadata: column name -> one JSON-serialisable value per row;
    - n_empty: rows skipped because their text was empty;
    - duplicates: groups of row indices with identical text (each group sorted, first row first);
    - file_hash: sha256 of the file's bytes plus the text column (the embedding cache key);
    - task: the `mechscope.tasks.Task` when the file is a task file, else None;
    - embeddings, embed_space: embeddings stored in a map Parquet file ``[n, d]`` and their space, else None.

    >>> s = PromptSet.from_texts(["a cat", "a dog", "a cat"])
    >>> len(s), s.duplicates
    (3, [[0, 2]])
    """

    texts: list[str]
    source: str = ""
    metadata: dict[str, list] = field(default_factory=dict)
    n_empty: int = 0
    duplicates: list[list[int]] = field(default_factory=list)
    file_hash: str = ""
    task: object = None
    embeddings: object = None
    embed_space: dict | None = None

    @classmethod
    def from_texts(cls, texts: list[str], source: str = "", metadata: dict[str, list] | None = None,
                   **extra) -> PromptSet:
        """A prompt set from texts in memory; empty texts are skipped (with their metadata) and counted."""
        metadata = metadata or {}
        keep = [i for i, t in enumerate(texts) if isinstance(t, str) and t.strip()]
        kept = [texts[i].strip() for i in keep]
        meta = {k: [v[i] for i in keep] for k, v in metadata.items()}
        digest = extra.pop("file_hash", None) or hashlib.sha256("\n".join(kept).encode()).hexdigest()[:20]
        return cls(kept, source, meta, len(texts) - len(keep), duplicate_groups(kept), digest, **extra)

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        return (f"PromptSet({self.source or '<memory>'!r}, n={len(self)}, empty={self.n_empty}, "
                f"duplicate_groups={len(self.duplicates)}, columns={list(self.metadata)})")

    def summary(self) -> dict:
        """What reading found, as plain JSON: source, n, n_empty, duplicates, metadata columns."""
        return {"source": self.source, "n": len(self), "n_empty": self.n_empty, "duplicates": self.duplicates,
                "columns": list(self.metadata), "from_task": self.task is not None}


def duplicate_groups(texts: list[str]) -> list[list[int]]:
    """Groups of indices whose texts are identical after trimming and lower-casing.

    >>> duplicate_groups(["Hi", "yo", "hi ", "yo", "x"])
    [[0, 2], [1, 3]]
    """
    seen: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        seen.setdefault(normalise(t), []).append(i)
    return [g for g in seen.values() if len(g) > 1]


def normalise(text: str) -> str:
    """The form two texts are compared in for exact duplicates: trimmed, lower-cased, single spaces.

    >>> normalise("  How  do I  ")
    'how do i'
    """
    return " ".join(text.lower().split())


def shipped_set(name: str) -> Path:
    """The path of a prompt set shipped with mechscope (``everyday.jsonl``, ``everyday_reference.jsonl``).

    >>> shipped_set("everyday.jsonl").name
    'everyday.jsonl'
    """
    path = Path(str(resources.files("mechscope.data") / "sets" / name))
    if not path.is_file():
        raise MechscopeError(f"no shipped prompt set {name!r}; shipped are {', '.join(SHIPPED)}")
    return path


def read_prompts(path: str | Path, text_column: str | None = None) -> PromptSet:
    """Read a prompt set (format from the extension); bare shipped names such as ``everyday.jsonl`` also work.

    >>> s = read_prompts("everyday.jsonl")
    >>> len(s), s.metadata["topic"][0], s.n_empty
    (168, 'cooking', 0)
    """
    p = Path(path)
    if not p.exists() and str(path) in SHIPPED:
        p = shipped_set(str(path))
    if not p.is_file():
        raise MechscopeError(f"prompt set {str(path)!r} does not exist; pass {_HINT}")
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise MechscopeError(f"prompt set {str(p)!r} has extension {p.suffix!r}; use .txt, .jsonl, .csv, "
                             ".parquet or a .json task file")
    raw = p.read_bytes()
    if not raw.strip():
        raise MechscopeError(f"prompt set {str(p)!r} is empty; write {_HINT}")
    digest = hashlib.sha256(raw + b"\0" + (text_column or "").encode()).hexdigest()[:20]
    if suffix == ".parquet":
        return _read_parquet(p, text_column, digest)
    text = _decode(raw, p)
    if suffix == ".json" or (suffix in (".jsonl", ".csv") and _looks_like_task(text, suffix, text_column)):
        return _read_task(p, digest)
    if suffix == ".txt":
        if text_column:
            raise MechscopeError(f"{str(p)!r} is a text file (one prompt a line); --text-column applies to "
                                 "JSONL, CSV and Parquet files only")
        texts, meta = text.splitlines(), {}
    elif suffix == ".jsonl":
        texts, meta = _jsonl_rows(text, p, text_column or "text")
    else:
        texts, meta = _csv_rows(text, p, text_column or "text")
    return _finish(texts, meta, p, digest)


def _finish(texts: list, meta: dict[str, list], p: Path, digest: str, **extra) -> PromptSet:
    prompts = PromptSet.from_texts([t if isinstance(t, str) else "" if t is None else str(t) for t in texts],
                                   str(p), meta, file_hash=digest, **extra)
    if not prompts.texts:
        raise MechscopeError(f"prompt set {str(p)!r} has {prompts.n_empty} rows and every text is empty; "
                             "fill the text column")
    return prompts


def _decode(raw: bytes, p: Path) -> str:
    try:
        return raw.decode("utf-8-sig")  # -sig: spreadsheet exports often start with a BOM
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise MechscopeError(
            f"prompt set {str(p)!r} is not UTF-8 (byte 0x{raw[exc.start]:02x} on line {line}); re-save it as "
            f"UTF-8, e.g. iconv -f latin1 -t utf-8 {p.name} > fixed{p.suffix}") from None


def _scalar(value):
    return value if value is None or isinstance(value, (str, int, float, bool)) else json.dumps(value)


def _missing_column(p: Path, column: str, columns: list[str]) -> MechscopeError:
    return MechscopeError(f"prompt set {str(p)!r} has no text column {column!r} (columns: "
                          f"{', '.join(map(str, columns)) or 'none'}); pass --text-column NAME")


def _jsonl_rows(text: str, p: Path, column: str) -> tuple[list, dict[str, list]]:
    rows = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise MechscopeError(f"{str(p)!r} line {number} is not JSON ({exc.msg}); write one object or string "
                                 "a line") from None
        except RecursionError:
            raise MechscopeError(f"{str(p)!r} line {number} is nested too deeply; write one object or string "
                                 "a line") from None
    if all(isinstance(r, str) for r in rows):
        return rows, {}
    objects = [r for r in rows if isinstance(r, dict)]
    if len(objects) != len(rows):
        raise MechscopeError(f"{str(p)!r} mixes objects and other values; write one object a line, each with "
                             f"a {column!r} field")
    columns = list(dict.fromkeys(k for r in objects for k in r))
    if column not in columns:
        raise _missing_column(p, column, columns)
    meta = {k: [_scalar(r.get(k)) for r in objects] for k in columns if k != column}
    return [r.get(column) for r in objects], meta


def _csv_rows(text: str, p: Path, column: str) -> tuple[list, dict[str, list]]:
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [h for h in (reader.fieldnames or [])]
        if column not in header:
            raise _missing_column(p, column, header)
        rows = list(reader)
    except csv.Error as exc:
        raise MechscopeError(f"{str(p)!r}: malformed CSV ({exc}); quote cells that hold commas") from None
    meta = {k: [r.get(k) for r in rows] for k in header if k != column and k}
    return [r.get(column) for r in rows], meta


def _read_parquet(p: Path, column: str | None, digest: str) -> PromptSet:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(p)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise MechscopeError(f"{str(p)!r} is not a Parquet file ({exc}); pass {_HINT}") from None
    column = column or "text"
    if column not in table.column_names:
        raise _missing_column(p, column, table.column_names)
    meta_json = (table.schema.metadata or {}).get(b"mechscope")
    space = json.loads(meta_json).get("embed") if meta_json else None
    skip = {column, "embedding"}
    meta = {k: [_scalar(v) for v in table.column(k).to_pylist()] for k in table.column_names if k not in skip}
    texts = table.column(column).to_pylist()
    extra = {}
    if space and "embedding" in table.column_names:
        emb = np.asarray(table.column("embedding").to_pylist(), dtype=np.float32)
        keep = [i for i, t in enumerate(texts) if isinstance(t, str) and t.strip()]
        extra = {"embeddings": emb[keep], "embed_space": space}
    return _finish(texts, meta, p, digest, **extra)


def _looks_like_task(text: str, suffix: str, text_column: str | None) -> bool:
    """A JSONL or CSV file is a task file when it has clean and corrupt(ed) columns and no text column."""
    if text_column:
        return False
    if suffix == ".csv":
        try:
            header = next(csv.reader(io.StringIO(text)), [])
        except csv.Error:
            return False  # the CSV reader says what is wrong
    else:
        first = next((line for line in text.split("\n") if line.strip()), "")
        try:
            obj = json.loads(first)
        except (json.JSONDecodeError, RecursionError):
            return False
        header = list(obj) if isinstance(obj, dict) else []
    return "text" not in header and "clean" in header and ("corrupt" in header or "corrupted" in header)


def _read_task(p: Path, digest: str) -> PromptSet:
    from mechscope.tasks.files import read_task_file

    task = read_task_file(p)
    examples = task.examples
    meta = {"corrupt": [ex.corrupt for ex in examples], "answers": [json.dumps(list(ex.answers)) for ex in examples]}
    return _finish([ex.clean for ex in examples], meta, p, digest, task=task)
