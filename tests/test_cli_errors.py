"""What a new user's mistakes get from the real entry point: one `error:` line on stderr, exit status 2,
no traceback, nothing on stderr after the line and nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BINARY = bytes(range(256)) * 4  # not UTF-8 from its 129th byte on, and holds NULs


def run(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"MECHSCOPE_WARNINGS", "PYTHONWARNINGS"}}
    return subprocess.run([sys.executable, "-m", "mechscope", *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd, env={**env, "MECHSCOPE_HOME": str(home)})


def one_error_line(res: subprocess.CompletedProcess) -> str:
    """The error line, after checking it is the only thing on stderr (nothing before or after it) and on stdout."""
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert res.stdout == ""
    return lines[0]


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def place(tmp_path):
    """A working folder and an empty store; the test checks neither gains a file."""
    (tmp_path / "work").mkdir()
    return tmp_path / "work", tmp_path / "home"


@pytest.mark.parametrize("args, words", [
    (["nosuchcmd"], "no such command 'nosuchcmd'; `mechscope --help` lists the commands"),
    (["discovr"], "did you mean 'discover'?"),
    (["discover", "--bogus-flag"], "no such option --bogus-flag; `mechscope discover --help` lists the options"),
    (["discover", "--edgse", "5"], "did you mean '--edges'"),
    (["discover", "--edges", "-5"], "--edges must be greater than or equal to 1; got -5"),
    (["discover", "--edges", "five"], "invalid value for '--edges'"),
    (["discover", "--threshold", "-1"], "--threshold must be greater than or equal to 0"),
    (["discover", "--edges", "5", "--steps", "0"], "--steps must be greater than or equal to 1; got 0"),
    (["store", "nosuch"], "`mechscope store --help` lists the commands"),
])
def test_usage_mistakes_are_one_line(place, args, words):
    work, home = place
    line = one_error_line(run(*args, cwd=work, home=home))
    assert words in line
    assert files_under(work) == [] and not home.exists()


@pytest.mark.parametrize("suffix", [".json", ".csv", ".jsonl"])
def test_a_binary_task_file_is_one_line(place, suffix):
    work, home = place
    task = work / f"task{suffix}"
    task.write_bytes(BINARY)
    line = one_error_line(run("discover", "--model", "random:gpt2-tiny", "--task", str(task), "--edges", "5",
                              cwd=work, home=home))
    assert line.startswith(f"error: {task}: not UTF-8 text") and "save it as UTF-8" in line
    assert files_under(work) == [task.name] and not home.exists()


def test_a_binary_or_foreign_circuit_file_is_one_line(place):
    work, home = place
    circuit = work / "circuit.json"
    circuit.write_bytes(BINARY)
    assert one_error_line(run("evaluate", str(circuit), cwd=work, home=home)).startswith(
        f"error: {circuit}: not UTF-8 text")
    circuit.write_text('{"schema": "mechscope.circuit/1", "edges": 3}')
    assert "has no 'model_spec'" in one_error_line(run("evaluate", str(circuit), cwd=work, home=home))
    circuit.write_text("[" * 100_000)
    assert "nested too deeply" in one_error_line(run("evaluate", str(circuit), cwd=work, home=home))


def test_a_broken_hf_folder_is_one_line_and_nothing_follows_it(place):
    # a real model saved and then damaged: weights cut short, then a binary config
    from mechscope.models import load

    work, home = place
    folder = work / "tiny"
    model = load("random:llama-tiny")
    model.hf.save_pretrained(folder)
    model.tokenizer.save_pretrained(folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    line = one_error_line(run("graph", f"hf:{folder}", cwd=work, home=home))
    assert line.startswith(f"error: model 'hf:{folder}' cannot be loaded (") and "model.safetensors" in line
    (folder / "config.json").write_bytes(BINARY)
    assert "config.json cannot be read" in one_error_line(run("graph", f"hf:{folder}", cwd=work, home=home))
    assert "has no config.json" in one_error_line(run("graph", f"hf:{work}", cwd=work, home=home))


def test_a_successful_json_command_prints_no_dependency_warning(place):
    work, home = place
    res = run("graph", "random:gpt2-tiny", "--json", cwd=work, home=home)
    assert res.returncode == 0 and res.stderr == ""


def test_dependency_warnings_are_silenced_but_mechscopes_own_are_not(monkeypatch):
    import warnings

    from mechscope.cli.failures import quiet_dependencies

    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if k != "MECHSCOPE_WARNINGS"})

    with warnings.catch_warnings(record=True) as seen:
        warnings.resetwarnings()
        quiet_dependencies()
        warnings.warn_explicit("noise", FutureWarning, "x.py", 1, module="torchao.quantization")
        warnings.warn_explicit("kept", UserWarning, "y.py", 1, module="mechscope.steer")
    assert [str(w.message) for w in seen] == ["kept"]
