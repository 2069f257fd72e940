"""Crashes, a few trials of each (benchmarks/reliability.py runs 50+): a command killed with kill -9 at a random
moment leaves its outputs whole or absent and a store without broken entries (clean after `store check
--repair`); Ctrl-C exits 130 with one line and nothing half-written."""

from __future__ import annotations

import importlib.util
import random
import signal
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("reliability", Path(__file__).parents[1] / "benchmarks" /
                                              "reliability.py")
reliability = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reliability)


SLOW = pytest.mark.slow  # one Python start and model load each: two trials in CI, the rest with `make test-slow`


@pytest.mark.parametrize("name, seed", [("discover", 1), ("store rm", 4), pytest.param("steer fit", 2, marks=SLOW),
                                        pytest.param("version make", 3, marks=SLOW),
                                        pytest.param("data map", 5, marks=SLOW)])
def test_kill_9_leaves_outputs_whole_or_absent_and_the_store_sound(tmp_path, name, seed):
    home, work = tmp_path / "home", tmp_path / "work"
    reliability.prepare(home, work) if name in ("compare", "store rm") else work.mkdir()
    res = reliability.run_killed(name, home, work, delay=random.Random(seed).uniform(2.0, 9.0), k=seed)
    assert res["killed"] or res["returncode"] == 0, res["stderr"][-1000:]
    assert reliability.outputs_whole(name, work) == []
    verdict = reliability.store_verdict(home)
    assert verdict["problems"] == [] and verdict["clean_after_repair"]


@pytest.mark.parametrize("name", ["discover", "steer fit", "version make"])
def test_ctrl_c_exits_130_with_one_line_and_nothing_half_written(tmp_path, name):
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    res = reliability.run_killed(name, home, work, delay=6.0, sig=signal.SIGINT)
    if not res["killed"] or (res["returncode"] == 0 and res["stdout"].strip()):
        pytest.skip(f"{name} finished before the interrupt took effect: nothing to interrupt")
    lines = [line for line in res["stderr"].splitlines() if line.strip()]
    assert res["returncode"] == 130, (res["returncode"], res["stderr"][-1500:])  # not death by SIGINT (-2)
    assert lines and lines[-1] == "interrupted: nothing was written", res["stderr"][-1500:]
    assert "Traceback" not in res["stderr"]
    assert reliability.outputs_whole(name, work) == [] and reliability.store_verdict(home)["problems"] == []
