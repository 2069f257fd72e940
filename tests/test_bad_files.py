"""The committed corpus of hand-made bad files (tests/bad_files/), each given to the command that reads it
through the real entry point: exit status 2, exactly one line on stderr, starting `error:`, naming the file,
the problem and the fix (after a ';'), nothing on stdout and nothing written."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mechscope.__main__ import main

CORPUS = Path(__file__).parent / "bad_files"

# file -> (command line, with {} for the file's path; words the error line must hold)
CASES = {
    "task-binary.json": ("task show {} -m random:gpt2-tiny", "not UTF-8 text"),
    "task-latin1.csv": ("task show {} -m random:gpt2-tiny", "not UTF-8 text (byte 0xe9"),
    "task-truncated.json": ("task show {} -m random:gpt2-tiny", "is not valid JSON at line 1"),
    "task-wrong-type.jsonl": ("task show {} -m random:gpt2-tiny", "'clean' must be a string"),
    "task-metric-list.jsonl": ("task show {} -m random:gpt2-tiny", '"metric" must be a string'),
    "task-nested.json": ("task show {} -m random:gpt2-tiny", "nested too deeply"),
    "task-no-header.csv": ("task show {} -m random:gpt2-tiny", "needs columns clean, corrupted and label"),
    "task-token-ids.csv": ("task show {} -m random:gpt2-tiny", "token ids for one tokenizer"),
    "task-nul.jsonl": ("task show {} -m random:gpt2-tiny", "NUL character"),
    "task-empty.jsonl": ("task show {} -m random:gpt2-tiny", "is empty"),
    "circuit-binary.json": ("evaluate {}", "not UTF-8 text"),
    "circuit-list.json": ("evaluate {}", "holds a JSON list, not a circuit object"),
    "circuit-foreign.json": ("evaluate {}", "has schema 'other/2'"),
    "circuit-bad-edge.json": ("evaluate {}", "has score 'big', not a number"),
    "steering-text.safetensors": ("steer export {} --out x.gguf", "is not a safetensors file"),
    "steering-no-manifest.safetensors": ("steer export {} --out x.gguf", "has no mechscope manifest"),
    "steering-bad-manifest.safetensors": ("steer export {} --out x.gguf", "its manifest is damaged"),
    "prompts-binary.txt": ("steer generate {s} --prompts {}", "not UTF-8"),
    "prompts-no-text.jsonl": ("data map {} --embed words", "no text column 'text'"),
    "prompts-not-parquet.parquet": ("data map {} --embed words", "is not a Parquet file"),
    "model-no-config": ("graph hf:{}", "has no config.json"),
    "model-binary-config": ("graph hf:{}", "config.json cannot be read"),
    "bench-bad-manifest": ("describe run --bench {}", "not valid JSON at line 1"),
    "sweep-wrong-type.yaml": ("sweep --spec {}", "seeds holds 'zero', not a whole number"),
    "sweep-truncated.json": ("sweep --spec {}", "does not parse (Unterminated string"),
}


def test_every_corpus_file_has_a_case():
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(CASES)


@pytest.fixture(scope="module")
def steering_file(tmp_path_factory) -> Path:
    """A good steering file, for the commands whose bad file is another argument."""
    from mechscope.models import load
    from mechscope.steer import SteeringFile, load_concept
    from mechscope.steer.vectors import DiffMean

    concept = load_concept("wedding")
    method = DiffMean(layers="1").fit(load("random:llama-tiny"), concept.source[:4], concept.target[:4])
    path = tmp_path_factory.mktemp("good") / "s.safetensors"
    SteeringFile.from_method(method, concept="wedding").save(path)
    return path


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_file_is_one_line_naming_file_problem_and_fix(name, tmp_path, monkeypatch, capsys, steering_file):
    command, words = CASES[name]
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("MECHSCOPE_HOME", str(home))
    path = CORPUS / name
    monkeypatch.setattr(sys, "argv", ["mechscope", *command.replace("{s}", str(steering_file)).format(path).split()])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert exit_info.value.code == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    line = lines[0]
    assert name in line and words in line and ";" in line.split(name, 1)[1], line
    assert captured.out == "" and list(work.iterdir()) == [] and not home.exists()
