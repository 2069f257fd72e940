"""kill -9 and Ctrl-C at random moments of mechscope's long commands: the harness of benchmarks/reliability.py
(50+ trials) and tests/test_crash.py (a few).

The moment of the signal is drawn in CPU seconds of the command's own process, read from /proc while it runs,
not in wall seconds: on a loaded machine the wall time of one command varies several-fold from run to run, the
CPU time it needs hardly at all, so a moment drawn below a measured run's CPU time lands while the command is
still running (`calibrate` measures it; each trial reports whether the kill landed or the command had already
exited). Where /proc is missing, wall seconds stand in (scaled by the calibration run's wall/CPU ratio).

After each trial the command's outputs must be whole or absent (`outputs_whole`) and the store must have no
broken entry (`store_verdict`: `store check`, then `store check --repair`, which must leave it clean).
`phase` says what the kill interrupted, from what it left: nothing yet, a write (temporaries or an entry folder
without its row), or the end of a run whose outputs were already in place.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PY = sys.executable
PROMPTS = 40  # lines of the shipped everyday set that `data map` maps (UMAP's compilation is most of its time)


@dataclass(frozen=True)
class Variant:
    """One way of running a command: its argument list (``{w}`` = working folder, ``{k}`` = trial number) and the
    outputs it writes, relative to the working folder (store entries are checked by `store_verdict`)."""

    command: str
    label: str
    args: tuple[str, ...]
    outputs: tuple[str, ...] = ()


VARIANTS = [
    Variant("discover", "random:gpt2-tiny", ("discover", "-m", "random:gpt2-tiny", "-t", "ioi", "--n", "8", "--edges",
                                             "20", "--out", "{w}/circuit.json", "--name", "c-{k}"), ("circuit.json",)),
    Variant("discover", "smollm2-135m", ("discover", "-m", "smollm2-135m", "-t", "ioi", "--n", "4", "--edges", "20",
                                         "--out", "{w}/circuit.json", "--name", "c-{k}"), ("circuit.json",)),
    Variant("steer fit", "random:llama-tiny", ("steer", "fit", "-m", "random:llama-tiny", "--method", "diffmean",
                                               "--concept", "wedding", "--layers", "1", "--out", "{w}/s.safetensors",
                                               "--name", "s-{k}"), ("s.safetensors",)),
    Variant("steer fit", "smollm2-135m", ("steer", "fit", "-m", "smollm2-135m", "--method", "diffmean", "--concept",
                                          "wedding", "--layers", "10", "--out", "{w}/s.safetensors", "--name", "s-{k}"),
            ("s.safetensors",)),
    Variant("version make", "int8 of random:llama-tiny", ("version", "make", "--base", "random:llama-tiny",
                                                          "--quantize", "int8", "--name", "v-{k}")),
    Variant("version make", "magnitude:0.5 of random:llama-tiny", ("version", "make", "--base", "random:llama-tiny",
                                                                   "--prune", "magnitude:0.5", "--name", "v-{k}")),
    Variant("compare", "random:llama-tiny vs v-base", ("compare", "random:llama-tiny", "v-base", "--task", "ioi",
                                                       "--n", "8", "--circuits", "none", "--no-latency", "--out",
                                                       "{w}/comparison.json"), ("comparison.json",)),
    Variant("data map", f"{PROMPTS} prompts, words", ("data", "map", "prompts.jsonl", "--embed", "words", "--out",
                                                      "{w}/prompts.map"), ("prompts.map",)),
    Variant("store rm", "v-base", ("store", "rm", "v-base")),
]
COMMANDS = list(dict.fromkeys(v.command for v in VARIANTS))


def variant(command: str, label: str | None = None) -> Variant:
    """The first variant of `command` (or the one with `label`)."""
    return next(v for v in VARIANTS if v.command == command and (label is None or v.label == label))


def env(home: Path) -> dict:
    return {**os.environ, "MECHSCOPE_HOME": str(home), "OMP_NUM_THREADS": "1"}


def make_template(folder: Path) -> Path:
    """A store with one version, `v-base` (what `compare` and `store rm` act on); trials start from copies of it."""
    home = folder / "template"
    res = subprocess.run([PY, "-m", "mechscope", "version", "make", "--base", "random:llama-tiny", "--quantize",
                          "int8", "--name", "v-base"], capture_output=True, text=True, env=env(home), cwd=folder,
                         timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    return home


def prepare(trial: Path, template: Path | None) -> tuple[Path, Path]:
    """A trial's store (a copy of `template`, or empty) and working folder (holding the prompts `data map` reads)."""
    home, work = trial / "home", trial / "work"
    work.mkdir(parents=True)
    if template is not None:
        shutil.copytree(template, home)
    from mechscope.data.prompts import shipped_set

    lines = shipped_set("everyday.jsonl").read_text(encoding="utf-8").splitlines()[:PROMPTS]
    (work / "prompts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return home, work


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a running process (all its threads), or None when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_signalled(v: Variant, home: Path, work: Path, at_cpu: float | None, k: int = 0,
                  sig: int = signal.SIGKILL, wall_per_cpu: float = 3.0, launcher: tuple[str, ...] = ()) -> dict:
    """Run `v` and send `sig` once it has used `at_cpu` CPU seconds (None: never); wait for it to end.
    `launcher` replaces ``python -m mechscope`` (``_writekill.py MODE NTH``: a kill inside a write).

    Returns the command, the moment asked for, the CPU and wall seconds at the signal (or at exit), whether the
    signal was sent while it ran (`signalled`), the exit status, stdout and stderr."""
    args = [a.replace("{w}", str(work)).replace("{k}", str(k)) for a in v.args]
    # as from a terminal: a shell starts background children with Ctrl-C ignored, a terminal does not
    command = [PY, *(launcher or ("-m", "mechscope")), *args]
    proc = subprocess.Popen(command, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env(home), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    t0, used, signalled = time.perf_counter(), 0.0, False
    while proc.poll() is None:
        now = cpu_seconds(proc.pid)
        used = now if now is not None else used
        late = (now if now is not None else (time.perf_counter() - t0) / wall_per_cpu)
        if at_cpu is not None and late >= at_cpu:
            proc.send_signal(sig)
            signalled = True
            break
        time.sleep(0.01)
    wall = time.perf_counter() - t0
    out, err = proc.communicate(timeout=900)
    return {"command": v.command, "variant": v.label, "at_cpu": None if at_cpu is None else round(at_cpu, 2),
            "cpu": round(used, 2), "wall": round(wall, 2), "signalled": signalled, "returncode": proc.returncode,
            "landed": signalled and proc.returncode in (-sig, 130 if sig == signal.SIGINT else -sig),
            "stdout": out, "stderr": err}


def calibrate(folder: Path, template: Path) -> dict[str, dict]:
    """One run of each variant to the end: its CPU and wall seconds (every command must succeed)."""
    took = {}
    for i, v in enumerate(VARIANTS):
        home, work = prepare(folder / f"calibrate{i}", template)
        res = run_signalled(v, home, work, None, k=9000 + i)
        assert res["returncode"] == 0, (v, res["stderr"][-2000:])
        assert outputs_whole(v, work) == [] and store_verdict(home)["clean_before_repair"], v
        took[f"{v.command} / {v.label}"] = {"cpu": res["cpu"], "wall": res["wall"]}
    return took


def outputs_whole(v: Variant, work: Path) -> list[str]:
    """Problems with the command's outputs: each must be absent or whole (parse completely)."""
    problems = []
    for rel in v.outputs:
        p = work / rel
        if not p.exists():
            continue
        try:
            if p.suffix == ".json":
                json.loads(p.read_text())
            elif p.suffix == ".safetensors":
                from safetensors.torch import load_file

                load_file(str(p))
            elif p.is_dir():  # a data map folder
                summary = json.loads((p / "map.json").read_text())
                import pyarrow.parquet as pq

                for f in summary["files"].values():
                    pq.read_table(p / Path(f).name)
        except Exception as exc:  # noqa: BLE001 - any failure to read means half-written
            problems.append(f"{rel}: {type(exc).__name__}: {exc}")
    return problems


def temporaries(work: Path) -> list[str]:
    """Temporaries (``.tmp-*``) an interrupted write left beside the outputs."""
    from mechscope.atomic import is_leftover

    return sorted(p.name for p in work.iterdir() if is_leftover(p))


def store_verdict(home: Path) -> dict:
    """`store check`, then `store check --repair --grace 0`: broken entries, leftovers, clean after repair."""
    from mechscope.store import Store
    from mechscope.store.check import check_store

    if not home.exists():
        return {"problems": [], "leftovers": 0, "entries": set(), "clean_before_repair": True,
                "clean_after_repair": True}
    store = Store(home)
    before = check_store(store)
    after = check_store(store, repair=True, grace=0)
    return {"problems": before["problems"], "leftovers": len(before["leftovers"]) + len(before["orphans"]),
            "entries": {(e.kind, e.name) for e in store.entries()}, "clean_before_repair": before["clean"],
            "clean_after_repair": after["clean"]}


def phase(v: Variant, work: Path, temps: list[str], verdict: dict, entries_before: set) -> str:
    """What a landed kill interrupted, from what it left: 'before writing', 'writing' or 'after writing'."""
    if temps or verdict["leftovers"]:
        return "writing"
    if any((work / rel).exists() for rel in v.outputs) or verdict["entries"] != entries_before:
        return "after writing"
    return "before writing"


def trial(v: Variant, folder: Path, template: Path | None, at_cpu: float | None, k: int,
          sig: int = signal.SIGKILL, wall_per_cpu: float = 3.0) -> dict:
    """One signalled run of `v` in a fresh store and working folder, and what it left."""
    from mechscope.store import Store

    home, work = prepare(folder, template)
    entries_before = {(e.kind, e.name) for e in Store(home).entries()} if template is not None else set()
    res = run_signalled(v, home, work, at_cpu, k=k, sig=sig, wall_per_cpu=wall_per_cpu)
    temps = temporaries(work)
    problems = outputs_whole(v, work)
    verdict = store_verdict(home)
    res.update(outputs_ok=not problems, output_problems=problems, temporaries=temps,
               store_problems=verdict["problems"], leftovers=verdict["leftovers"],
               clean_before_repair=verdict["clean_before_repair"], clean_after_repair=verdict["clean_after_repair"],
               phase=phase(v, work, temps, verdict, entries_before) if res["landed"] else "exited first")
    return res


def kill_trials(landed: int, folder: Path, seed: int = 0, max_trials: int | None = None, log=print) -> dict:
    """kill -9 trials until `landed` of them killed a running command (at most `max_trials`, default 2x), spread
    evenly over the commands; the moment is uniform over the command's measured CPU time for half of the trials
    and over its last 30% (where it writes) for the other half."""
    import random

    rng = random.Random(seed)
    template = make_template(folder)
    took = calibrate(folder, template)
    cpu = {key: [t["cpu"]] for key, t in took.items()}
    ratio = statistics.median(t["wall"] / max(t["cpu"], 0.01) for t in took.values())
    per_command = {c: 0 for c in COMMANDS}
    turn = {c: 0 for c in COMMANDS}
    results = []
    max_trials = 2 * landed if max_trials is None else max_trials
    t_start = time.perf_counter()
    for k in range(max_trials):
        if sum(per_command.values()) >= landed:
            break
        command = min(COMMANDS, key=lambda c: (per_command[c], COMMANDS.index(c)))
        options = [v for v in VARIANTS if v.command == command]
        v = options[turn[command] % len(options)]
        turn[command] += 1
        key = f"{v.command} / {v.label}"
        full = statistics.median(cpu[key])
        u = rng.uniform(0.02, 1.0) if k % 2 == 0 else rng.uniform(0.7, 1.0)
        res = trial(v, folder / f"t{k}", template, u * full, k, wall_per_cpu=ratio)
        res["fraction"] = round(u, 3)
        if res["landed"]:
            per_command[command] += 1
        elif res["returncode"] == 0:
            cpu[key].append(res["cpu"])  # it finished first: one more measurement of how long it takes
        res.pop("stdout")
        res["stderr"] = res["stderr"][-400:]
        results.append(res)
        log(f"  kill -9 {k + 1:>3} {v.command:<12} {v.label[:26]:<26} at {res['at_cpu']:5.2f}/{full:5.2f} CPU-s "
            f"({res['wall']:5.1f} s wall): {'landed, ' + res['phase'] if res['landed'] else 'exited first'}; "
            f"outputs {'whole/absent' if res['outputs_ok'] else res['output_problems']}, store problems "
            f"{len(res['store_problems'])}, leftovers {res['leftovers']}, temporaries {len(res['temporaries'])}, "
            f"clean after repair {res['clean_after_repair']}")
    return {"calibration": took, "trials": results, "seconds": round(time.perf_counter() - t_start, 1)}


def ctrl_c_trials(folder: Path, seed: int = 1, took: dict | None = None, log=print) -> list[dict]:
    """Ctrl-C once in every variant at a random moment in the middle of its measured CPU time (20-90%), plus one
    `store rm` interrupted while the command line is still starting (0.1-0.5 CPU-s)."""
    import random

    rng = random.Random(seed)
    template = make_template(folder)
    took = took or calibrate(folder, template)
    out = []
    plan = [(v, rng.uniform(0.2, 0.9) * took[f"{v.command} / {v.label}"]["cpu"]) for v in VARIANTS]
    plan.append((variant("store rm"), rng.uniform(0.1, 0.5)))
    for k, (v, at) in enumerate(plan):
        res = trial(v, folder / f"c{k}", template, at, k, sig=signal.SIGINT)
        res.update(ctrl_c_verdict(res))
        res.pop("stdout")
        res["stderr"] = res["stderr"][-400:]
        out.append(res)
        log(f"  Ctrl-C {k + 1:>2} {v.command:<12} {v.label[:26]:<26} at {at:5.2f} CPU-s: exit {res['returncode']}, "
            f"{'ok' if res['ok'] else 'NOT OK: ' + res['why']}")
    return out


def ctrl_c_verdict(res: dict) -> dict:
    """Ctrl-C done right: exit status 130, the last stderr line 'interrupted: nothing was written', no traceback,
    outputs absent or whole, no temporaries anywhere and a store `store check` finds clean without repair (a
    command that finished before the interrupt took effect must have exited 0 with everything in place)."""
    lines = [ln for ln in res["stderr"].splitlines() if ln.strip()]
    why = []
    if res["returncode"] == 130:
        if lines[-1:] != ["interrupted: nothing was written"]:
            why.append(f"last line {lines[-1:]}")
        if "Traceback" in res["stderr"]:
            why.append("a traceback")
    elif res["returncode"] != 0:
        why.append(f"exit status {res['returncode']}")
    if not res["outputs_ok"]:
        why.append(f"outputs {res['output_problems']}")
    if res["temporaries"] or res["leftovers"] or not res["clean_before_repair"]:
        why.append(f"left temporaries {res['temporaries']} / {res['leftovers']} leftovers / "
                   f"store problems {res['store_problems']}")
    return {"interrupted": res["returncode"] == 130, "ok": not why, "why": "; ".join(why)}


WRITEKILL = str(Path(__file__).with_name("_writekill.py"))


def write_kill_trial(v: Variant, folder: Path, template: Path | None, mode: str, nth: int, k: int = 0) -> dict:
    """Run `v` with its `nth` atomic write killed from inside (`_writekill.py`: ``rename`` = temporary complete,
    killed before its rename; ``half`` = temporary half-written), then check what it left as `trial` does, and
    run the same command again, unrigged: it must succeed with its outputs whole and a store `store check` finds
    clean. `landed` is false when the command made fewer than `nth` writes (it then exited 0; no rerun)."""
    from mechscope.store import Store

    home, work = prepare(folder, template)
    entries_before = {(e.kind, e.name) for e in Store(home).entries()} if template is not None else set()
    res = run_signalled(v, home, work, None, k=k, launcher=(WRITEKILL, mode, str(nth)))
    res["landed"] = res["returncode"] == -signal.SIGKILL
    temps = temporaries(work)
    problems = outputs_whole(v, work)
    verdict = store_verdict(home)
    res.update(mode=mode, nth=nth, outputs_present=[r for r in v.outputs if (work / r).exists()],
               outputs_ok=not problems, output_problems=problems, temporaries=temps,
               store_problems=verdict["problems"], leftovers=verdict["leftovers"],
               clean_before_repair=verdict["clean_before_repair"], clean_after_repair=verdict["clean_after_repair"],
               phase=phase(v, work, temps, verdict, entries_before) if res["landed"] else "exited first")
    if not res["landed"]:  # it finished: running it again would meet its own entry (a name taken, v-base gone)
        return {**res, "rerun_ok": None, "rerun_stderr": ""}
    again = run_signalled(v, home, work, None, k=k)
    after = store_verdict(home)
    res.update(rerun_ok=again["returncode"] == 0 and outputs_whole(v, work) == [] and after["clean_before_repair"],
               rerun_stderr=again["stderr"][-400:])
    return res


def write_kill_trials(folder: Path, modes: tuple[str, ...] = ("rename", "half"), writes: int = 3,
                      log=print) -> list[dict]:
    """Every variant killed inside each of its first `writes` atomic writes, in each mode (`write_kill_trial`);
    a variant that makes fewer writes exits 0 for the higher numbers (not counted as landed)."""
    template = make_template(folder)
    out = []
    for i, v in enumerate(VARIANTS):
        for mode in modes:
            for nth in range(1, writes + 1):
                k = len(out)
                res = write_kill_trial(v, folder / f"w{k}", template, mode, nth, k)
                res.pop("stdout")
                res["stderr"] = res["stderr"][-400:]
                out.append(res)
                what = (f"landed, {res['phase']}" if res["landed"]
                        else f"no such write (exit {res['returncode']})")
                log(f"  write-kill {k + 1:>3} {v.command:<12} {v.label[:26]:<26} {mode:<6} write {nth}: {what}"
                    f"; outputs {'whole/absent' if res['outputs_ok'] else res['output_problems']}, store problems "
                    f"{len(res['store_problems'])}, leftovers {res['leftovers']}, temporaries "
                    f"{len(res['temporaries'])}, clean after repair {res['clean_after_repair']}, "
                    f"rerun {'-' if res['rerun_ok'] is None else 'ok' if res['rerun_ok'] else 'FAILED'}")
                if not res["landed"]:
                    break
    return out
