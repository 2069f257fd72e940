"""`mechscope methods [KIND]`: the method registry as a surface shows it (every method, its summary and
parameters), so no command's help has to name a method."""

from __future__ import annotations

import typer
from rich.table import Table

from mechscope.cli.output import out, print_json

JSON_HELP = "print one JSON document on stdout and nothing else"


def _param(p: dict) -> str:
    text = p["name"]
    if p["choices"]:
        text += f" ({'|'.join(map(str, p['choices']))})"
    if p["required"]:
        text += " (required)"
    elif p["default"] is not None:
        text += f"={p['default']}"
    return text


def _kinds() -> list[str]:
    from mechscope.runs.registry import RECORD_MODULES

    return list(RECORD_MODULES)


def methods_command(
    kind: str = typer.Argument(None, help=f"a run kind: {', '.join(_kinds())} (default: every kind)"),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """List the registered methods of one kind (or of every kind) with their parameters and defaults."""
    from mechscope.errors import MechscopeError, closest
    from mechscope.runs.registry import RECORD_MODULES, default_method, methods

    if kind is not None and kind not in RECORD_MODULES:
        raise MechscopeError(f"unknown run kind {kind!r}{closest(kind, RECORD_MODULES)}; kinds are "
                             f"{', '.join(RECORD_MODULES)}")
    records = [m.describe() for m in methods(kind)]
    if json_out:
        print_json(records)
        return
    table = Table(title=f"{kind or 'all'} methods of the registry (* = what a surface offers first)")
    for col in ("kind", "method", "summary", "parameters"):
        table.add_column(col)
    for m in records:
        star = "*" if default_method(m["kind"]) == m["name"] else ""
        table.add_row(m["kind"], m["name"] + star, m["summary"], ", ".join(_param(p) for p in m["params"]))
    out.print(table)
