"""`mechscope demo` end to end on a tiny model: every step runs and its results land in the store."""

import json
import os
import subprocess
import sys

import pytest

from mechscope.store import Store


@pytest.mark.slow
def test_demo_records_circuit_versions_comparison_and_steering(tmp_path):
    home = tmp_path / "store"
    res = subprocess.run([sys.executable, "-m", "mechscope", "demo", "--model", "random:llama-tiny",
                          "--json"], capture_output=True, text=True, timeout=1200, cwd=tmp_path,
                         env={**os.environ, "MECHSCOPE_HOME": str(home)})
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["verify"]["passed"]
    kinds = {(e.kind, e.name) for e in Store(home).entries()}
    assert {("circuit", "demo-ioi-circuit"), ("version", "demo-q4_0"), ("version", "demo-magnitude50"),
            ("comparison", "demo-compare"), ("steering", "demo-ocean-lowrank")} <= kinds
    assert [r["strength"] for r in doc["steering"]["sweep"]] == [0.0, 0.5, 1.0]
    assert len(doc["versions"]["versions"]) == 2
    assert doc["data"]["n"] == 168 and 0 < doc["data"]["coverage"] < 1
