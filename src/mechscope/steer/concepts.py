"""Concept data sets: source and target sentences, neutral prompts, held-out text and a lexicon.

Three ship with mechscope (`CONCEPTS`, CC0 1.0, under ``steer/data/``); users
bring their own sentences as txt (one a line), JSONL (a ``"text"`` field, or
plain strings) or CSV (a ``text`` column, else the first column).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mechscope.errors import MechscopeError, closest, read_input_text

CONCEPTS = ("wedding", "ocean", "positive")
_TEXT_KEYS = ("text", "sentence", "prompt")


def _data_dir():
    return resources.files("mechscope.steer") / "data"


@dataclass(frozen=True)
class Concept:
    """A concept to steer toward: `source` and `target` sentences plus what evaluation needs."""

    name: str
    source: list[str]
    target: list[str]
    prompts: list[str] = field(default_factory=list)
    neutral: list[str] = field(default_factory=list)
    lexicon: list[str] = field(default_factory=list)
    instruction: str = ""
    scorer: str = "lexicon"
    description: str = ""
    invite: list[str] = field(default_factory=list)  # prompts that invite the concept (the `reduce` evaluation)


def load_concept(name: str) -> Concept:
    """A shipped concept by name: wedding, ocean or positive.

    >>> c = load_concept("wedding")
    >>> len(c.source), len(c.target), len(c.prompts), len(c.neutral), c.lexicon[0]
    (80, 80, 40, 40, 'wedding*')
    """
    spec = json.loads((_data_dir() / "concepts.json").read_text())
    if name not in spec:
        raise MechscopeError(f"unknown concept {name!r}{closest(name, spec)}; shipped are {', '.join(spec)}, "
                             "or pass --source and --target files")
    s = spec[name]
    lines = lambda f: _lines((_data_dir() / f).read_text(encoding="utf-8"))  # noqa: E731
    invite = _data_dir() / f"invite_{name}.txt"
    return Concept(name=name, source=lines(s["source"]), target=lines(s["target"]), prompts=lines("prompts.txt"),
                   neutral=lines("heldout.txt"), lexicon=list(s["lexicon"]), instruction=s["instruction"],
                   scorer=s["scorer"], description=s["description"],
                   invite=lines(invite.name) if invite.is_file() else [])


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_sentences(path: str | Path) -> list[str]:
    """Sentences from a txt, JSONL or CSV file, or a shipped file name such as ``"wedding.txt"``.

    >>> read_sentences("prompts.txt")[:2]
    ['I think that', 'The best thing about']
    """
    p = Path(path)
    if not p.exists():
        shipped = _data_dir() / str(path)
        if shipped.is_file():
            return _lines(shipped.read_text(encoding="utf-8"))
        raise MechscopeError(f"sentence file {str(path)!r} does not exist; pass a txt (one sentence a line), "
                             f"JSONL or CSV file, or a shipped concept name ({', '.join(CONCEPTS)})")
    text = read_input_text(p, "sentence file")
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".json"):
        out = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise MechscopeError(f"{p}:{n} is not JSON ({exc.msg}); write one object or string a line") from None
            except RecursionError:
                raise MechscopeError(f"{p}:{n} is nested too deeply; write one object or string a line") from None
            if isinstance(item, dict):
                key = next((k for k in _TEXT_KEYS if k in item), None)
                if key is None:
                    raise MechscopeError(f"{p}:{n} has no text field; give each object one of {', '.join(_TEXT_KEYS)}")
                item = item[key]
            out.append(str(item).strip())
        sentences = [s for s in out if s]
    elif suffix == ".csv":
        try:
            rows = list(csv.reader(text.splitlines()))
        except csv.Error as exc:
            raise MechscopeError(f"{p}: malformed CSV ({exc}); quote cells that hold commas") from None
        if not rows:
            sentences = []
        else:
            header = [h.strip().lower() for h in rows[0]]
            col = next((header.index(k) for k in _TEXT_KEYS if k in header), None)
            body = rows[1:] if col is not None else rows
            sentences = [r[col or 0].strip() for r in body if r and r[col or 0].strip()]
    else:
        sentences = _lines(text)
    if not sentences:
        raise MechscopeError(f"{str(p)!r} holds no sentences; write one sentence a line (txt), JSONL or CSV")
    return sentences
