"""describe on the command line: build and run print one JSON document; bad input exits 2."""

import json
import subprocess
import sys

import pytest


def mechscope(*args):
    return subprocess.run(
        [sys.executable, "-m", "mechscope", *args], capture_output=True, text=True, timeout=600
    )


def test_build_then_run_baseline_json(tmp_path):
    res = mechscope("describe", "build", "--seed", "3", "--size", "3", "--out", str(tmp_path / "b"), "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert sum(doc["categories"].values()) == 12 and (tmp_path / "b" / "strings" / "f0005.py").exists()
    res = mechscope(
        "describe",
        "run",
        "--bench",
        str(tmp_path / "b"),
        "--domains",
        "strings,concepts",
        "--records",
        str(tmp_path / "rec.json"),
        "--json",
    )
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert sum(r["n"] for r in rows) == 9
    assert all(set(r) >= {"category", "n", "score", "find_score", "interval_iou"} for r in rows)
    assert len(json.loads((tmp_path / "rec.json").read_text())["records"]) == 9


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    res = mechscope("describe", "run", "--bench", str(tmp_path / "missing"))
    assert res.returncode == 2 and "describe build" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = mechscope("describe", "run", "--interpreter", "gpt", "--bench", str(tmp_path / "missing"))
    assert res.returncode == 2


def test_bad_units_are_one_line_errors():
    from mechscope.describe.unit import parse_unit
    from mechscope.errors import MechscopeError
    from mechscope.models import load

    model = load("random:llama-tiny")
    for bad, msg in [("mlp.9:1", "layer 9"), ("mlp.0:999", "index 999"), ("attn.0:1", "SITE:INDEX")]:
        with pytest.raises(MechscopeError, match=msg):
            parse_unit(bad, model)


@pytest.mark.slow  # a fresh process imports torch and transformers; describe_unit's doctest covers the logic
def test_unit_json_on_tiny_model():
    res = mechscope("describe", "unit", "--model", "random:llama-tiny", "--unit", "mlp.1:7", "--top-k", "4", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["unit"] == "mlp.1:7" and len(doc["top_inputs"]) == 4 and len(doc["top_texts"]) == 4


def test_units_and_build_bad_options_exit_2(tmp_path):
    res = mechscope("describe", "units", "--model", "random:llama-tiny", "--explainer", "gpt4")
    assert res.returncode == 2 and "unknown explainer 'gpt4'" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = mechscope("describe", "build", "--strings", "all", "--out", str(tmp_path / "b"))
    assert res.returncode == 2 and "--strings must be one of" in res.stderr and not (tmp_path / "b").exists()


@pytest.mark.slow  # loads a model in a fresh process
def test_units_json_on_tiny_model():
    res = mechscope("describe", "units", "--model", "random:llama-tiny", "--units", "mlp.0:1,resid.1:2", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [u["unit"] for u in doc["units"]] == ["mlp.0:1", "resid.1:2"]
    assert set(doc["summary"]["all"]["correlation"]) == {"explained", "random"}
    res = mechscope("describe", "units", "--model", "random:llama-tiny", "--units", "mlp.0:1,resid.1:2",
                    "--explainer", "lm", "--simulator", "lm:random:llama-tiny", "--json")  # in process
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert all(u["description"].startswith("fires on ") for u in doc["units"])
    assert doc["summary"]["all"]["detection"]["explained"]["n"] == 2
