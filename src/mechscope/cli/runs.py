"""The CLI's side of the run layer: options generated from the method registry, and errors named as flags.

`with_method_options("discover")` adds one option per parameter any discovery method takes (``--steps``,
``--tau``, ...), typed and with the record's help; the command receives the ones the user gave as
``method_values``. `flag_message` turns a `ParameterError` (which names a parameter) into the CLI's
spelling (``--edges``).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import typing
from collections.abc import Callable, Iterator

import typer

from mechscope.errors import MechscopeError


def _fields(kind: str, exclude: tuple[str, ...] = ()) -> dict[str, dict]:
    """Every parameter of `kind`'s methods: its described form (from the first record) and the methods taking it."""
    from mechscope.runs.registry import describe_field, methods

    out: dict[str, dict] = {}
    for m in methods(kind):
        for name in m.params.model_fields:
            if name in exclude:
                continue
            if name not in out:
                out[name] = {**describe_field(m.params, name), "methods": []}
            out[name]["methods"].append(m.name)
    return out


def flag(name: str) -> str:
    """A parameter's CLI flag: ``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


def _option(field: dict, n_methods: int) -> tuple[type, typer.models.OptionInfo]:
    help_text = field["help"]
    if field["choices"]:
        help_text += f" ({'|'.join(map(str, field['choices']))})"
    if field["default"] is not None and field["type"] != "bool":
        help_text += f" (default {field['default']})"
    if len(field["methods"]) < n_methods:
        help_text += f"; {', '.join(field['methods'])} only"
    if field["type"] == "bool":
        name = field["name"].replace("_", "-")
        return typing.Optional[bool], typer.Option(None, f"--{name}/--no-{name}", help=help_text, show_default=False)
    py = {"int": int, "float": float}.get(field["type"], str)
    return typing.Optional[py], typer.Option(None, flag(field["name"]), help=help_text, show_default=False)


def with_method_options(kind: str, exclude: tuple[str, ...] = ()) -> Callable:
    """Decorate a command taking ``method_values: dict``: it gains an option per registered parameter of `kind`."""
    from mechscope.runs.registry import methods

    fields = _fields(kind, exclude)
    n_methods = len(methods(kind))

    def decorate(fn: Callable) -> Callable:
        hints = typing.get_type_hints(fn, include_extras=True)  # keep Annotated options (cli/options.py)
        sig = inspect.signature(fn)
        base = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in sig.parameters.values()
                if p.name != "method_values"]
        taken = {p.name for p in base}
        generated = []
        for name, field in fields.items():
            if name in taken:
                raise MechscopeError(f"parameter {name!r} of {kind} methods clashes with an option of the command")
            annotation, default = _option(field, n_methods)
            generated.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                               annotation=annotation))

        @functools.wraps(fn)
        def command(**kwargs):
            values = {name: kwargs.pop(name) for name in fields if kwargs.get(name) is not None}
            for name in fields:
                kwargs.pop(name, None)
            return fn(**kwargs, method_values=values)

        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in base] + generated
        command.__signature__ = sig.replace(parameters=params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate


def method_params(kind: str, method: str, values: dict) -> dict:
    """The given option values that `method` takes; an option it does not take is refused, naming the flag."""
    from mechscope.runs.registry import get_method

    record = get_method(kind, method)
    for name in values:
        if name not in record.params.model_fields:
            takers = _fields(kind)[name]["methods"]
            raise MechscopeError(f"{flag(name)} is not an option of {kind} method {method} (it is for "
                                 f"{', '.join(takers)})")
    return dict(values)


def method_names(kind: str) -> list[str]:
    """The registered methods of `kind`, for a command's help and choices.

    >>> method_names("discover")[:2]
    ['eap', 'eap-ig']
    """
    from mechscope.runs.registry import methods

    return [m.name for m in methods(kind)]


def key_values(items: list[str]) -> dict[str, str]:
    """``["steps=40", "n-samples=4"]`` -> ``{"steps": "40", "n_samples": "4"}``: the run layer types and checks them.

    >>> key_values(["steps=40", "n-samples=4"])
    {'steps': '40', 'n_samples': '4'}
    """
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise MechscopeError(f"--param {item!r} is not KEY=VALUE; e.g. --param steps=40")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


@contextlib.contextmanager
def renamed_params(names: dict[str, str]) -> Iterator[None]:
    """A `ParameterError` about a parameter a command spells otherwise (a steering run's ``task`` is the
    command's ``--concept``) leaves this block naming the command's spelling."""
    from mechscope.runs.registry import ParameterError

    try:
        yield
    except ParameterError as exc:
        if exc.param not in names:
            raise
        raise ParameterError(names[exc.param], exc.problem, exc.where) from None


def flag_message(exc: MechscopeError) -> str:
    """`exc`'s message with a named parameter spelt as its flag.

    >>> from mechscope.runs.registry import ParameterError
    >>> flag_message(ParameterError("batch_size", "must be at least 1; got 0", "discover method eap"))
    '--batch-size must be at least 1; got 0 (discover method eap)'
    """
    from mechscope.runs.registry import ParameterError

    if isinstance(exc, ParameterError):
        return f"{flag(exc.param)} {exc.problem}" + (f" ({exc.where})" if exc.where else "")
    return str(exc)


def rich_report(bar, job) -> Callable[[float, float, str], None]:
    """The run layer's ``report(done, total, message)`` drawn on a rich progress bar's task `job`."""

    def report(done: float, total: float, message: str) -> None:
        bar.update(job, completed=done, total=total, description=message)

    return report


def compute_cells(specs: list, labels: list[str], executor: str = "inprocess", workers: int | None = None,
                  ray_address: str | None = None, quiet: bool = False, what: str = "runs") -> list:
    """The outcomes of `specs` computed on `executor`, in the order of `specs`, with one progress bar for all and
    one per cell (labelled by `labels`); a failed cell raises one line naming it, after every cell has ended."""
    from mechscope.cli.output import progress
    from mechscope.runs import make_executor

    outcomes: list = [None] * len(specs)
    if not specs:  # before the executor: nothing to start (a Ray executor would start a local Ray)
        return outcomes
    ex = make_executor(executor, workers=workers, address=ray_address)
    failed = []
    with progress(not quiet) as bar:
        overall = bar.add_task(f"{len(specs)} {what} on {ex.name}", total=len(specs))
        lines: dict[int, int] = {}

        def on_cell(i: int, done: float, total: float, message: str) -> None:
            if i not in lines:
                lines[i] = bar.add_task(labels[i], total=total)
            bar.update(lines[i], completed=done, total=total)

        try:
            for i, outcome, error in ex.compute(specs, on_cell):
                bar.advance(overall)
                if i in lines:
                    bar.remove_task(lines.pop(i))
                if error is not None:
                    failed.append(f"{labels[i]}: {error}")
                outcomes[i] = outcome
        finally:
            ex.close()
    if failed:
        raise MechscopeError(f"{len(failed)} of {len(specs)} {what} failed; {failed[0]}")
    return outcomes
