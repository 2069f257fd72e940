"""How the command line ends when something goes wrong: one line on stderr, the right exit status.

* bad input (`MechscopeError`), a usage mistake (unknown command or option, a bad option value) or a file
  that cannot be read: ``error: ...`` on one line, exit status 2, no traceback, and nothing on stderr after
  it (a dependency that warns while the interpreter shuts down is not heard);
* Ctrl-C: ``interrupted: nothing was written``, exit status 130.

`quiet_dependencies` silences the warnings and log lines of libraries (transformers, torch, torchao,
numba, ...) that say nothing a mechscope user can act on; ``MECHSCOPE_WARNINGS=1`` keeps them.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

import typer

from mechscope.errors import MechscopeError, closest

try:  # typer >= 0.20 carries its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exceptions

DEPENDENCY_LOGGERS = ("transformers", "torch", "torchao", "accelerate", "huggingface_hub", "safetensors", "numba",
                      "pynndescent", "umap", "sentence_transformers", "datasets", "gguf", "urllib3", "httpx",
                      "matplotlib", "PIL", "jax")


def quiet_dependencies() -> None:
    """Hide warnings raised outside mechscope and dependency log lines below ERROR (here and in child
    processes), unless ``MECHSCOPE_WARNINGS`` is set.

    >>> quiet_dependencies()
    >>> import logging; logging.getLogger("transformers").level == logging.ERROR or bool(os.environ.get("MECHSCOPE_WARNINGS"))
    True
    """
    if os.environ.get("MECHSCOPE_WARNINGS"):
        return
    warnings.filterwarnings("ignore")
    warnings.filterwarnings("default", module=r"mechscope(\..*)?$")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    for name in DEPENDENCY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def usage_line(exc: Exception) -> str:
    """The one-line form of a click/typer usage error, ending with where to look for the right spelling.

    >>> from typer.testing import CliRunner
    >>> from mechscope.cli.main import app
    >>> try:
    ...     app(["discover", "--edgse", "5"], prog_name="mechscope", standalone_mode=False)
    ... except Exception as exc:
    ...     print(usage_line(exc))
    no such option --edgse; did you mean '--edges', '--seed'? `mechscope discover --help` lists the options
    """
    ctx = getattr(exc, "ctx", None)
    where = f"`{ctx.command_path} --help`" if ctx is not None else "`mechscope --help`"
    if isinstance(exc, click_exceptions.NoSuchOption):
        hint = closest(exc.option_name, exc.possibilities or [], n=2) if exc.possibilities else ""
        if ctx is not None and not hint:
            names = [o for p in ctx.command.params for o in getattr(p, "opts", []) if o.startswith("-")]
            hint = closest(exc.option_name, names, n=2)
        return f"no such option {exc.option_name}{hint}{';' if not hint else ''} {where} lists the options"
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    message = " ".join(message.split())
    if message.startswith("No such command"):
        name = message.split("'")[1] if "'" in message else ""
        commands = ctx.command.list_commands(ctx) if ctx is not None and hasattr(ctx.command, "list_commands") else []
        hint = closest(name, commands, n=2)
        return f"no such command {name!r}{hint}{';' if not hint else ''} {where} lists the commands"
    message = message[0].lower() + message[1:] if message else "bad usage"
    return f"{message.rstrip('.')}; {where} shows the usage"


def report(exc: BaseException) -> int:
    """Say what went wrong in one line (see the module docstring) and return the exit status; re-raise what is
    not bad input (a bug keeps its traceback)."""
    if isinstance(exc, SystemExit):
        raise exc
    if isinstance(exc, typer.Exit):
        return exc.exit_code
    if isinstance(exc, (KeyboardInterrupt, typer.Abort)):
        _say("interrupted", "33", ": nothing was written")
        return 130
    if isinstance(exc, click_exceptions.NoArgsIsHelpError):
        exc.show()
        return 2
    if isinstance(exc, MechscopeError):
        from mechscope.cli.runs import flag_message

        line = flag_message(exc)  # a run parameter's error names its flag
    elif isinstance(exc, click_exceptions.UsageError):
        line = usage_line(exc)
    elif isinstance(exc, click_exceptions.ClickException):
        line = " ".join(exc.format_message().split())
    elif isinstance(exc, UnicodeDecodeError):
        line = (f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}); give a text file saved as UTF-8")
    elif isinstance(exc, OSError) and exc.filename is not None:
        line = f"{exc.filename}: {exc.strerror or exc}; check the path and its permissions"
    else:
        raise exc
    _say("error:", "31", f" {' '.join(line.split())}")
    _silence_stderr()
    return 2


def _say(label: str, colour: str, text: str) -> None:
    """One line on stderr, written directly: a rich progress bar or spinner that the error interrupted may
    still hold the console, and would swallow a line printed through it."""
    stream = sys.__stderr__ if sys.stderr is None else sys.stderr
    while hasattr(stream, "rich_proxied_file"):  # rich's Live put a proxy there and was stopped half-way
        stream = stream.rich_proxied_file
    tty = hasattr(stream, "isatty") and stream.isatty() and not os.environ.get("NO_COLOR")
    head = f"\033[{colour}m{label}\033[0m" if tty else label
    stream.write(f"{head}{text}\n")
    stream.flush()


def _silence_stderr() -> None:
    """Nothing may follow the error line: what dependencies print while Python shuts down goes nowhere."""
    if sys.stderr is not sys.__stderr__:  # a test runner's capture: nothing to protect, and not ours to close
        return
    try:
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor behind stderr
        pass
