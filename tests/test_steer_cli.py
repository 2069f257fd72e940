"""`mechscope steer fit|generate|eval|export`: JSON documents, files, one-line errors.

Most calls run the real entry point in-process (`mechscope.__main__.main`), so
the suite does not pay for a Python start per command; one runs as a process.
"""

import json
import subprocess
import sys

import pytest


def test_fit_generate_eval_export_print_json_and_write_files(cli, tmp_path, error_line):
    path = tmp_path / "wedding.safetensors"
    code, out, err = cli("steer", "fit", "--model", "random:llama-tiny", "--method", "diffmean", "--concept",
                               "wedding", "--layers", "1", "--out", str(path), "--json")
    assert code == 0, err
    from mechscope.store import Store

    entry = Store().find("steering", "wedding")  # recorded in the test run's store (conftest.py)
    assert entry is not None and entry.operation == "diffmean" and (Store().path(entry) / "manifest.json").exists()
    doc = json.loads(out)
    assert doc["method"] == "diffmean" and doc["sites"] == ["model.layers.1"] and path.exists()

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"text": "I think that"}\n"Yesterday I"\n')
    code, out, err = cli("steer", "generate", str(path), "--prompts", str(prompts), "--max-new-tokens", "3",
                               "--strength", "4", "--compare", "--json")
    assert code == 0, err
    items = json.loads(out)
    assert [it["prompt"] for it in items] == ["I think that", "Yesterday I"]
    assert all(set(it) == {"prompt", "text", "unsteered"} for it in items)

    code, out, err = cli("steer", "eval", str(path), "--prompts", str(prompts), "--strengths", "0,2,4",
                               "--max-new-tokens", "3", "--max-ppl-rise", "10", "--record", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert {"base_ppl", "sweep", "chosen_strength", "prompting"} <= set(doc)
    assert [r["strength"] for r in doc["sweep"]] == [0, 2, 4]
    for r in doc["sweep"]:
        assert {"strength", "effect", "ppl", "delta_ppl", "gen_ppl", "kl", "top1_agreement"} <= set(r)
    assert doc["sweep"][0]["delta_ppl"] == 0 and doc["sweep"][0]["kl"] == 0
    assert doc["chosen_strength"] == 4  # a budget of +1000% admits every strength
    from mechscope.steer import SteeringFile

    recorded = SteeringFile.load(path).manifest
    assert recorded["default_strength"] == 4 and recorded["evaluation"]["chosen_strength"] == 4

    code, out, err = cli("steer", "eval", str(path), "--prompts", str(prompts), "--strengths", "0,1",
                               "--max-new-tokens", "2", "--effect-at", "chosen")
    assert code == 0 and "chosen strength" in out, err

    gguf_path = tmp_path / "wedding.gguf"
    code, out, err = cli("steer", "export", str(path), "--out", str(gguf_path))
    assert code == 0 and gguf_path.stat().st_size > 0, err

    code, out, err = cli("steer", "generate", str(path), "--model", "random:llama-tiny:1",
                               "--max-new-tokens", "2")
    assert code == 2 and "refit it on this model" in error_line(err) and out == ""


@pytest.mark.parametrize("args, words", [
    (("fit", "--model", "random:llama-tiny", "--method", "diffmeen", "--concept", "wedding", "--out", "x.st"),
     "did you mean 'diffmean'"),
    (("fit", "--model", "random:llama-tiny", "--concept", "weddings", "--out", "x.st"), "unknown concept"),
    (("eval", "missing.safetensors"), "does not exist"),
    (("eval", "missing.safetensors", "--max-ppl-rise", "-1"), "fraction >= 0"),
])
def test_bad_input_is_one_line_and_exit_2(cli, args, words, error_line):
    code, out, err = cli("steer", *args)
    assert code == 2 and words in error_line(err) and out == ""


def test_the_installed_entry_point_exits_2_on_bad_input(error_line):
    res = subprocess.run([sys.executable, "-m", "mechscope", "steer", "generate", "nope.safetensors"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 2 and "does not exist" in error_line(res.stderr) and res.stdout == ""
