"""Errors that users see.

Every error mechscope raises for bad input is a `MechscopeError` whose message is
one line: the thing, the rule, the value got, and the fix. The CLI prints it
without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class MechscopeError(ValueError):
    """Bad input or an unmet precondition, explained in one line (a dependency's message quoted in it may hold
    newlines: they become spaces).

    >>> str(MechscopeError("x.parquet is not Parquet (bad page" + chr(10) + "header" + chr(10) + "); pass a Parquet file"))
    'x.parquet is not Parquet (bad page header ); pass a Parquet file'
    """

    def __init__(self, *args):
        if args and isinstance(args[0], str):
            args = (args[0].replace("\r\n", " ").replace("\n", " ").replace("\r", " "), *args[1:])
        super().__init__(*args)


def closest(name: str, choices: Iterable[str], n: int = 3) -> str:
    """Return "; did you mean 'a', 'b'?" for the choices closest to `name`, or "".

    >>> closest("a3.h55.q", ["a3.h5.q", "a3.h4.q", "m3"])
    "; did you mean 'a3.h5.q', 'a3.h4.q'?"
    """
    matches = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.6)
    if not matches:
        return ""
    return "; did you mean " + ", ".join(repr(m) for m in matches) + "?"


MAX_INPUT_BYTES = 256 * 2**20  # a task, circuit, prompt or spec file larger than this is not one


def file_error(path, problem: str, fix: str) -> MechscopeError:
    """The one-line error for a file mechscope cannot use: ``<path>: <problem>; <fix>``.

    >>> str(file_error("t.json", "not valid JSON at line 3", "fix that line"))
    't.json: not valid JSON at line 3; fix that line'
    """
    return MechscopeError(f"{path}: {problem}; {fix}")


def read_input_bytes(path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a file a user gave (`what` names it: "task file", "circuit file"), or a one-line error
    for a missing, unreadable, folder-not-file or oversized path.

    >>> read_input_bytes("/no/such/file.json", "task file")
    Traceback (most recent call last):
    mechscope.errors.MechscopeError: /no/such/file.json: no such task file; check the path
    """
    from pathlib import Path

    p = Path(path)
    try:
        if p.is_dir():
            raise file_error(p, f"is a folder, not a {what}", f"give the path of the {what} inside it")
        size = p.stat().st_size
        if size > max_bytes:
            raise file_error(p, f"is {size / 2**20:.0f} MiB, more than a {what} can be ({max_bytes // 2**20} MiB)",
                             f"give the right {what} or split it")
        return p.read_bytes()
    except FileNotFoundError:
        raise file_error(p, f"no such {what}", "check the path") from None
    except PermissionError:
        raise file_error(p, f"cannot read this {what} (permission denied)", "check its permissions") from None
    except OSError as exc:
        raise file_error(p, f"cannot read this {what} ({exc.strerror or exc})", "check the path") from None


def decode_text(data: bytes, path, what: str) -> str:
    """UTF-8 text (a leading BOM dropped) or a one-line error naming the first bad byte and the fix.

    >>> decode_text(b"\\xef\\xbb\\xbfhi", "a.txt", "prompt set")
    'hi'
    >>> decode_text(b"\\x89PNG\\r\\n", "a.txt", "prompt set")
    Traceback (most recent call last):
    mechscope.errors.MechscopeError: a.txt: not UTF-8 text (byte 0x89 at offset 0: a binary file?); a prompt set is a text file: save it as UTF-8
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        kind = "a binary file?" if b"\0" in data[:4096] or exc.start < 16 else "another encoding?"
        raise file_error(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}: {kind})",
                         f"a {what} is a text file: save it as UTF-8") from None
    if "\0" in text:
        raise file_error(path, f"holds a NUL character at offset {text.index(chr(0))}: a binary file?",
                         f"a {what} is a text file: give the right file")
    return text


def read_input_text(path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """`read_input_bytes` then `decode_text`: the text of a file a user gave, or a one-line error."""
    return decode_text(read_input_bytes(path, what, max_bytes), path, what)


def parse_json(text: str, path, what: str, fix: str = "fix it there"):
    """`json.loads(text)`, or a one-line error naming the line and column (or the nesting depth) and `fix`.

    >>> parse_json('{"a": 1,}', "c.json", "circuit file")
    Traceback (most recent call last):
    mechscope.errors.MechscopeError: c.json: not valid JSON at line 1 column 9 (Expecting property name enclosed in double quotes); fix it there
    """
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise file_error(path, f"not valid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})", fix) from None
    except RecursionError:
        raise file_error(path, "nested too deeply to be JSON a " + what + " holds", f"give the right {what}") from None
