"""Test-wide set-up: every test run writes its experiment store to a temporary folder, never to ./.mechscope."""

import os
import sys
import tempfile

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_store():
    old = os.environ.get("MECHSCOPE_HOME")
    with tempfile.TemporaryDirectory(prefix="mechscope-test-store-") as home:
        os.environ["MECHSCOPE_HOME"] = home
        yield home
    if old is None:
        os.environ.pop("MECHSCOPE_HOME", None)
    else:
        os.environ["MECHSCOPE_HOME"] = old


@pytest.fixture
def cli(capsys):
    """Run `mechscope ARGS...` in this process; returns (exit code, stdout, stderr)."""
    from mechscope.__main__ import main

    def run(*args: str) -> tuple[int, str, str]:
        argv = sys.argv
        sys.argv = ["mechscope", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code or 0
        finally:
            sys.argv = argv
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def error_line():
    """The one `error:` line of a command's stderr, failing the test if there is not exactly one or a traceback."""

    def one(stderr: str) -> str:
        lines = [line for line in stderr.strip().splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and "Traceback" not in stderr, stderr
        return lines[0]

    return one
