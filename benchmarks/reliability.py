"""Reliability, measured: bad input, kill -9, Ctrl-C, concurrent writers, the HTTP API under fuzzing, memory.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/reliability.py [--kills 54] [--fuzz 40] [--repeats 50]

Prints, in one run:
  * malformed inputs tried (generated mutations of every kind of file, in-process, plus the committed corpus
    through the command line) and how many gave the one-line error;
  * kill -9 trials (discover, steer fit, version make, compare, data map, store rm killed at a random moment)
    and how many left every output whole or absent and a store that `store check` found without broken
    entries (and clean after `store check --repair`);
  * Ctrl-C trials and how many exited 130 with nothing half-written;
  * eight concurrent writers and the entries lost;
  * API requests fuzzed (schemathesis) and 5xx answers;
  * resident memory growth over repeated discoveries, steering fits and comparisons in one process.

The harness functions (`run_killed`, `outputs_whole`) are shared with tests/test_crash.py, which runs a few trials.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

# name -> (command line, the outputs it writes relative to the working folder); {w} = working folder
COMMANDS = {
    "discover": (["discover", "-m", "random:gpt2-tiny", "-t", "ioi", "--n", "8", "--edges", "20", "--out",
                  "{w}/circuit.json", "--name", "c-{k}"], ["circuit.json"]),
    "steer fit": (["steer", "fit", "-m", "random:llama-tiny", "--method", "diffmean", "--concept", "wedding",
                   "--layers", "1", "--out", "{w}/s.safetensors", "--name", "s-{k}"], ["s.safetensors"]),
    "version make": (["version", "make", "--base", "random:llama-tiny", "--quantize", "int8", "--name", "v-{k}"], []),
    "compare": (["compare", "random:llama-tiny", "v-base", "--task", "ioi", "--n", "8", "--circuits", "none",
                 "--no-latency", "--out", "{w}/comparison.json"], ["comparison.json"]),
    "data map": (["data", "map", "everyday.jsonl", "--embed", "words", "--out", "{w}/everyday.map"],
                 ["everyday.map"]),
    "store rm": (["store", "rm", "v-base"], []),
}


def mechscope(args: list[str], home: Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "mechscope", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env={**os.environ, "MECHSCOPE_HOME": str(home), "OMP_NUM_THREADS": "1"})


def prepare(home: Path, work: Path) -> None:
    """A store with one version (what `compare` and `store rm` act on)."""
    work.mkdir(parents=True, exist_ok=True)
    res = mechscope(["version", "make", "--base", "random:llama-tiny", "--quantize", "int8", "--name", "v-base"],
                    home, work)
    assert res.returncode == 0, res.stderr


def command_line(name: str, work: Path, k: int) -> list[str]:
    return [a.replace("{w}", str(work)).replace("{k}", str(k)) for a in COMMANDS[name][0]]


def run_killed(name: str, home: Path, work: Path, delay: float, k: int = 0, sig: int = signal.SIGKILL) -> dict:
    """Start the command, send `sig` after `delay` seconds (if it is still running), wait for it."""
    # as from a terminal: a shell starts background children with Ctrl-C ignored, a terminal does not
    proc = subprocess.Popen([PY, "-m", "mechscope", *command_line(name, work, k)], cwd=work,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "MECHSCOPE_HOME": str(home), "OMP_NUM_THREADS": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        proc.wait(timeout=delay)
        killed = False
    except subprocess.TimeoutExpired:
        proc.send_signal(sig)
        killed = True
    out, err = proc.communicate(timeout=600)
    return {"command": name, "delay": round(delay, 2), "killed": killed, "returncode": proc.returncode,
            "stderr": err, "stdout": out}


def outputs_whole(name: str, work: Path) -> list[str]:
    """Problems with the command's outputs: each must be absent or whole (parses completely)."""
    problems = []
    for rel in COMMANDS[name][1]:
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
    problems += [f"temporary left in the working folder: {p.name}" for p in work.iterdir()
                 if p.name.startswith(".tmp-")]
    return problems


def store_verdict(home: Path) -> dict:
    """`store check`, then `store check --repair --grace 0`: broken entries after a kill, clean after repair."""
    from mechscope.store import Store
    from mechscope.store.check import check_store

    store = Store(home)
    before = check_store(store)
    after = check_store(store, repair=True, grace=0)
    return {"problems": before["problems"], "leftovers": len(before["leftovers"]) + len(before["orphans"]),
            "clean_after_repair": after["clean"]}


def durations(home: Path, work: Path) -> dict[str, float]:
    """One unkilled run of each command: how long it takes (kill moments are drawn below it)."""
    out = {}
    for k, name in enumerate(COMMANDS):
        if name == "store rm":
            out[name] = 8.0
            continue
        t0 = time.perf_counter()
        res = run_killed(name, home, work, delay=600, k=1000 + k)
        assert res["returncode"] == 0, res["stderr"][-2000:]
        out[name] = time.perf_counter() - t0
    return out


def kill_trials(n: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="mechscope-kill9-"))
    home, work = tmp / "home", tmp / "work"
    prepare(home, work)
    took = durations(home, work)
    names = list(COMMANDS)
    results = []
    for k in range(n):
        name = names[k % len(names)]
        trial = tmp / f"t{k}"
        t_home, t_work = trial / "home", trial / "work"
        prepare(t_home, t_work) if name in ("compare", "store rm") else t_work.mkdir(parents=True)
        # before 70% of the unkilled run: a lighter-loaded machine finishes sooner than when it was measured
        res = run_killed(name, t_home, t_work, delay=rng.uniform(0.3, 0.7 * took[name]), k=k)
        problems = outputs_whole(name, t_work)
        verdict = store_verdict(t_home)
        res.update(outputs_ok=not problems, output_problems=problems, store_problems=verdict["problems"],
                   leftovers=verdict["leftovers"], clean_after_repair=verdict["clean_after_repair"])
        res.pop("stderr")
        results.append(res)
        print(f"  kill -9 {k + 1:>3}/{n} {name:<13} at {res['delay']:6.2f}s killed={res['killed']!s:<5} "
              f"outputs {'ok' if res['outputs_ok'] else problems} store problems {len(verdict['problems'])} "
              f"leftovers {verdict['leftovers']}", flush=True)
    return {"durations": took, "trials": results}


def ctrl_c_trials(seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="mechscope-sigint-"))
    out = []
    for k, name in enumerate(["discover", "steer fit", "version make", "data map"]):
        home, work = tmp / f"h{k}", tmp / f"w{k}"
        work.mkdir(parents=True)
        res = run_killed(name, home, work, delay=rng.uniform(4.0, 8.0), k=k, sig=signal.SIGINT)
        lines = [ln for ln in res["stderr"].splitlines() if ln.strip()]
        # finished before the interrupt took effect (status 0, whole output), or exactly 130 with the one line
        ok = res["returncode"] == 0 or (res["returncode"] == 130
                                        and lines[-1:] == ["interrupted: nothing was written"])
        problems = outputs_whole(name, work)
        out.append({"command": name, "killed": res["killed"], "returncode": res["returncode"],
                    "ok": ok and not problems and not store_verdict(home)["problems"]})
    return out


def malformed_inputs(per_reader: int) -> dict:
    """Generated malformed files through every reader, in-process (see tests/test_reader_fuzz.py)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from hypothesis import HealthCheck, given, settings

    import test_reader_fuzz as fuzz

    from mechscope.errors import MechscopeError

    counts = {"tried": 0, "one_line": 0, "read": 0, "other": []}
    tmp = Path(tempfile.mkdtemp(prefix="mechscope-fuzz-"))

    def attempt(read, path):
        counts["tried"] += 1
        try:
            read(path)
            counts["read"] += 1
        except MechscopeError as exc:
            if "\n" not in str(exc) and (path.name in str(exc) or str(path.parent) in str(exc)):
                counts["one_line"] += 1
            else:
                counts["other"].append(f"{path.name}: not one line naming the file: {exc}")
        except Exception as exc:  # noqa: BLE001 - what the benchmark counts
            counts["other"].append(f"{path.name}: {type(exc).__name__}: {exc}"[:200])

    from mechscope.data import read_prompts
    from mechscope.discover import Circuit
    from mechscope.steer import SteeringFile
    from mechscope.tasks import load_task, read_task_file, save_task

    task = load_task("ioi", n=3)
    readers = [(f"task{s}", save_task(task, tmp / f"valid{s}").read_bytes(), read_task_file)
               for s in (".json", ".jsonl", ".csv")]
    readers.append(("circuit.json", json.dumps(fuzz.CIRCUIT).encode(), Circuit.load))
    readers += [(f"prompts{s}", v, read_prompts) for s, v in fuzz.PROMPTS.items()]
    readers.append(("s.safetensors", _steering_file(tmp / "good.safetensors").read_bytes(), SteeringFile.load))
    from mechscope.runs import read_sweep_file

    sweep = {"models": ["random:gpt2-tiny"], "tasks": ["ioi"], "methods": ["eap"], "params": {"edges": [10, 20]},
             "seeds": [0, 1], "n": 8}
    readers += [("sweep.json", json.dumps(sweep).encode(), read_sweep_file),
                ("sweep.yaml", "".join(f"{k}: {json.dumps(v)}\n" for k, v in sweep.items()).encode(),
                 read_sweep_file)]
    for name, valid, read in readers:
        path = tmp / name

        @settings(max_examples=per_reader, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(content=fuzz.mutations(valid))
        def one(content):
            path.write_bytes(content)
            attempt(read, path)

        one()
    return counts


def _steering_file(path: Path) -> Path:
    from mechscope.models import load
    from mechscope.steer import DiffMean, SteeringFile, load_concept

    c = load_concept("wedding")
    SteeringFile.from_method(DiffMean(layers="1").fit(load("random:llama-tiny"), c.source[:4], c.target[:4]),
                             concept="wedding").save(path)
    return path


def corpus_through_cli() -> dict:
    """The committed corpus (tests/bad_files) through `python -m mechscope`: exit 2 and one error line."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_bad_files import CASES, CORPUS

    tmp = Path(tempfile.mkdtemp(prefix="mechscope-corpus-"))
    good = _steering_file(tmp / "good.safetensors")
    ok, bad = 0, []
    for name, (command, words) in sorted(CASES.items()):
        work = tmp / name.replace(".", "_")
        work.mkdir()
        res = mechscope(command.replace("{s}", str(good)).format(CORPUS / name).split(), tmp / "home", work)
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        if res.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and name in lines[0] \
                and not list(work.iterdir()):
            ok += 1
        else:
            bad.append(f"{name}: exit {res.returncode}: {res.stderr[-300:]}")
    return {"tried": len(CASES), "one_line": ok, "bad": bad}


def concurrent_writers(writers: int = 8, each: int = 10) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from test_store_check import WRITER

    from mechscope.store import Store
    from mechscope.store.check import check_store

    root = Path(tempfile.mkdtemp(prefix="mechscope-writers-")) / "store"
    start = time.time() + 20
    procs = [subprocess.Popen([PY, "-c", WRITER, str(root), str(w), str(each), str(start)], stderr=subprocess.PIPE,
                              text=True) for w in range(writers)]
    failed = sum(p.wait(timeout=900) != 0 for p in procs)
    got = {e.name for e in Store(root).entries()}
    lost = writers * each - len(got & {f"w{w}-{i}" for w in range(writers) for i in range(each)})
    return {"writers": writers, "entries": writers * each, "lost": lost, "failed_writers": failed,
            "clean": check_store(Store(root))["clean"]}


def api_fuzz(examples: int) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from hypothesis import HealthCheck, given, settings

    from test_ui_fuzz import TOKEN, fuzz_operations

    tmp = Path(tempfile.mkdtemp(prefix="mechscope-api-"))
    _, operations = fuzz_operations(tmp)
    counts = {"operations": len(operations), "requests": 0, "5xx": 0, "not_one_message": 0}
    for _label, strategy in operations:
        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def one(case):
            res = case.call(base_url="http://127.0.0.1:8765", headers={"X-Mechscope-Token": TOKEN})
            counts["requests"] += 1
            counts["5xx"] += res.status_code >= 500
            if 400 <= res.status_code < 500:
                try:
                    body = res.json()
                    counts["not_one_message"] += set(body) != {"error"}
                except ValueError:
                    counts["not_one_message"] += 1

        one()
    return counts


def memory_growth(repeats: int) -> dict:
    """RSS after the first and after the last of `repeats` discoveries, steering fits and comparisons."""
    import gc

    import psutil

    from mechscope.compare import apply_version, behaviour_summary, make_version, observe
    from mechscope.discover import find_circuit
    from mechscope.graph import Graph
    from mechscope.models import load
    from mechscope.steer import DiffMean, load_concept
    from mechscope.tasks import load_task

    proc = psutil.Process()
    model = load("random:llama-tiny")
    graph, task, concept = Graph.from_model(model), load_task("ioi", n=16), load_concept("wedding")
    version = make_version(model, "v", "quantize", {"type": "int8", "modules": "*", "group_size": 32},
                           base="random:llama-tiny")
    other = apply_version(load("random:llama-tiny"), version)
    enc = task.encode(model.tokenizer)
    rss = []
    for _ in range(repeats):
        find_circuit(graph, task, "eap", edges=20, curve=False)
        DiffMean(layers="1").fit(model, concept.source[:8], concept.target[:8])
        behaviour_summary(task, observe(model, enc), observe(other, enc), model.tokenizer)
        gc.collect()
        rss.append(proc.memory_info().rss)
    return {"repeats": repeats, "rss_first_mb": round(rss[0] / 2**20, 1), "rss_last_mb": round(rss[-1] / 2**20, 1),
            "growth": round(rss[-1] / rss[0] - 1, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=54)
    ap.add_argument("--fuzz", type=int, default=40, help="generated files per reader")
    ap.add_argument("--api", type=int, default=40, help="requests per API operation")
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--only", default="inputs,api,writers,memory,sigint,kill",
                    help="comma-separated parts to run")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    report = {}
    if "inputs" in parts:
        report["malformed_generated"] = malformed_inputs(args.fuzz)
        report["malformed_corpus"] = corpus_through_cli()
        g, c = report["malformed_generated"], report["malformed_corpus"]
        print(f"malformed inputs: {g['tried']} generated (in-process): {g['one_line']} one-line errors, "
              f"{g['read']} read as valid, {len(g['other'])} other; corpus {c['tried']} via the CLI: "
              f"{c['one_line']} one-line errors, exit 2, nothing written", flush=True)
    if "api" in parts:
        a = report["api"] = api_fuzz(args.api)
        print(f"API fuzzing: {a['requests']} requests over {a['operations']} operations, {a['5xx']} 5xx, "
              f"{a['not_one_message']} errors without one message", flush=True)
    if "writers" in parts:
        w = report["writers"] = concurrent_writers()
        print(f"concurrent writers: {w['writers']} processes x {w['entries'] // w['writers']} entries, "
              f"{w['lost']} lost, store check clean: {w['clean']}", flush=True)
    if "memory" in parts:
        m = report["memory"] = memory_growth(args.repeats)
        print(f"memory: {m['repeats']} x (discovery + steering fit + comparison) in one process: RSS "
              f"{m['rss_first_mb']} MB after the first, {m['rss_last_mb']} MB after the last "
              f"({m['growth']:+.1%})", flush=True)
    if "sigint" in parts:
        s = report["sigint"] = ctrl_c_trials()
        print(f"Ctrl-C: {sum(t['ok'] for t in s)}/{len(s)} commands exited cleanly (130, one line, nothing "
              "half-written)", flush=True)
    if "kill" in parts:
        k = report["kill"] = kill_trials(args.kills)
        trials = k["trials"]
        killed = [t for t in trials if t["killed"]]
        print(f"kill -9: {len(trials)} trials ({len(killed)} killed before they finished): outputs whole or absent "
              f"in {sum(t['outputs_ok'] for t in trials)}, store without broken entries in "
              f"{sum(not t['store_problems'] for t in trials)}, clean after `store check --repair` in "
              f"{sum(t['clean_after_repair'] for t in trials)}; leftovers found in "
              f"{sum(t['leftovers'] > 0 for t in trials)}", flush=True)
    out = Path(tempfile.gettempdir()) / "mechscope-reliability.json"
    out.write_text(json.dumps(report, indent=1, default=str))
    print(f"details: {out}")


if __name__ == "__main__":
    main()
