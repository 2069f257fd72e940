"""Crashes, a few trials of each (benchmarks/reliability.py runs 50+ through the same harness,
benchmarks/_crashes.py): a command killed with kill -9 while it runs leaves its outputs whole or absent and a
store without broken entries (clean after `store check --repair`); Ctrl-C exits 130 with one line, no
traceback, no temporaries and a clean store.

The signal is sent once the command has used a given number of CPU seconds (read from /proc), so it lands
mid-run however loaded the machine is: the moments below are about half of what each command needs."""

from __future__ import annotations

import importlib.util
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("_crashes", Path(__file__).parents[1] / "benchmarks" / "_crashes.py")
crashes = sys.modules.setdefault("_crashes", importlib.util.module_from_spec(spec))  # dataclasses look it up
spec.loader.exec_module(crashes)

SLOW = pytest.mark.slow  # one Python start and model load each: a few in CI, the rest with `make test-slow`
# CPU seconds each command needs to finish here (about), and the moments tried lie between 25% and 90% of it
CPU = {"discover": 7.0, "steer fit": 7.0, "version make": 7.0, "compare": 7.5, "data map": 20.0, "store rm": 2.2}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crash-template")
    return crashes.make_template(folder)


@pytest.mark.parametrize("name, seed", [("discover", 1), ("store rm", 4), pytest.param("steer fit", 2, marks=SLOW),
                                        pytest.param("version make", 3, marks=SLOW),
                                        pytest.param("compare", 6, marks=SLOW),
                                        pytest.param("data map", 5, marks=SLOW)])
def test_kill_9_leaves_outputs_whole_or_absent_and_the_store_sound(tmp_path, template, name, seed):
    at = random.Random(seed).uniform(0.25, 0.9) * CPU[name]
    res = crashes.trial(crashes.variant(name), tmp_path, template, at, seed)
    assert res["landed"] or res["returncode"] == 0, res["stderr"][-1000:]
    assert res["outputs_ok"], res["output_problems"]
    assert res["store_problems"] == [] and res["clean_after_repair"]


@pytest.mark.parametrize("name", ["discover", "compare", "store rm", pytest.param("steer fit", marks=SLOW),
                                  pytest.param("version make", marks=SLOW), pytest.param("data map", marks=SLOW)])
def test_ctrl_c_exits_130_with_one_line_and_nothing_half_written(tmp_path, template, name):
    res = crashes.trial(crashes.variant(name), tmp_path, template, 0.5 * CPU[name], 0, sig=signal.SIGINT)
    if not res["landed"]:
        pytest.skip(f"{name} finished before the interrupt took effect: nothing to interrupt")
    verdict = crashes.ctrl_c_verdict(res)
    assert res["returncode"] == 130, (res["returncode"], res["stderr"][-1500:])  # not death by SIGINT (-2)
    assert verdict["ok"], verdict["why"]


def test_ctrl_c_while_the_command_line_starts(tmp_path, template):
    """Ctrl-C during the first imports (before the command's own code runs) is the same one line and 130."""
    res = crashes.trial(crashes.variant("store rm"), tmp_path, template, 0.3, 0, sig=signal.SIGINT)
    assert res["landed"], res["stderr"][-500:]
    verdict = crashes.ctrl_c_verdict(res)
    assert res["returncode"] == 130 and verdict["ok"], (res["returncode"], verdict["why"], res["stderr"][-1500:])


@pytest.mark.parametrize("mode", ["rename", "half"])
def test_kill_9_inside_a_write_leaves_no_half_output_and_a_rerun_succeeds(tmp_path, template, mode):
    """The process dies inside its first atomic write (benchmarks/_writekill.py rigs mechscope.atomic): the
    temporary is complete but not renamed, or half-written. The final path must be absent, the temporary the
    only trace, the store clean, and the same command run again must succeed."""
    res = crashes.write_kill_trial(crashes.variant("steer fit"), tmp_path, template, mode, 1)
    assert res["landed"] and res["phase"] == "writing", (res["returncode"], res["stderr"][-1000:])
    assert res["outputs_present"] == []  # the first write is the steering file: killed before it is in place
    assert res["temporaries"] and res["outputs_ok"], (res["temporaries"], res["output_problems"])
    assert res["store_problems"] == [] and res["clean_after_repair"]
    assert res["rerun_ok"], res["rerun_stderr"]


_INTERRUPTED_IMPORT = """
import os, runpy, signal, sys, time

class Interrupted:  # an extension's import cut by Ctrl-C comes out as an ImportError, not KeyboardInterrupt
    def find_spec(self, name, path, target=None):
        if name == {module!r}:
            sys.meta_path.remove(self)
            try:
                if {interrupt}:
                    os.kill(os.getpid(), signal.SIGINT)
                    time.sleep(5)
            except KeyboardInterrupt:
                pass
            raise ImportError("cannot load module more than once per process")
        return None

sys.meta_path.insert(0, Interrupted())
sys.argv = ["mechscope", "store", "rm", "v-none"]
runpy.run_module("mechscope", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("module", ["rich", "torch"])  # imported by the command line / by the command
@pytest.mark.parametrize("interrupt", [True, False])
def test_ctrl_c_that_an_import_turns_into_another_error_is_still_one_line(tmp_path, module, interrupt):
    """Ctrl-C inside an extension module's import can surface as another exception (numpy, imported by torch:
    'cannot load module more than once per process'); the command still says the one line and exits 130. The
    same error without a Ctrl-C is a real one and keeps its traceback."""
    # Ctrl-C live in the child as in a terminal (an in-process command earlier in the suite leaves it ignored)
    res = subprocess.run([sys.executable, "-c", _INTERRUPTED_IMPORT.format(module=module, interrupt=interrupt)],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    if interrupt:
        assert (res.returncode, res.stderr) == (130, "interrupted: nothing was written\n")
    else:
        assert res.returncode == 1 and "ImportError: cannot load module more than once" in res.stderr
