"""Reliability, measured: bad input, kill -9, Ctrl-C, concurrent writers, the HTTP API under fuzzing, memory.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/reliability.py [--kills 54] [--fuzz 40] [--repeats 50]

Prints, in one run:
  * malformed inputs tried (generated mutations of every kind of file, in-process, plus the committed corpus
    through the command line) and how many gave the one-line error;
  * kill -9 trials (discover, steer fit, version make, compare, data map, store rm killed at a random moment of
    their measured CPU time; `--kills` of them must land while the command runs), how many landed mid-run and in
    which phase, and how many left every output whole or absent and a store that `store check` found without
    broken entries (and clean after `store check --repair`);
  * Ctrl-C trials (every command, mid-run, and one while the command line starts) and how many exited 130 with
    the one line and nothing half-written;
  * eight concurrent writers and the entries lost;
  * API requests fuzzed (schemathesis) and 5xx answers;
  * resident memory growth over repeated discoveries, steering fits and comparisons in one process.

The kill -9 / Ctrl-C harness lives in benchmarks/_crashes.py, shared with tests/test_crash.py (a few trials).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

sys.path.insert(0, str(ROOT / "benchmarks"))
import _crashes  # noqa: E402 - the kill -9 / Ctrl-C harness, shared with tests/test_crash.py


def mechscope(args: list[str], home: Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "mechscope", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=_crashes.env(home))


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
    from mechscope.tasks import load_task, save_task
    from mechscope.tasks.files import read_task_file

    task = load_task("ioi", n=3)
    readers = [(f"task{s}", save_task(task, tmp / f"valid{s}").read_bytes(), read_task_file)
               for s in (".json", ".jsonl", ".csv")]
    readers.append(("circuit.json", json.dumps(fuzz.CIRCUIT).encode(), Circuit.load))
    readers += [(f"prompts{s}", v, read_prompts) for s, v in fuzz.PROMPTS.items()]
    readers.append(("s.safetensors", _steering_file(tmp / "good.safetensors").read_bytes(), SteeringFile.load))
    from mechscope.runs.sweep import read_sweep_file

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
    from mechscope.steer import SteeringFile, load_concept
    from mechscope.steer.vectors import DiffMean

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


def memory_growth(repeats: int, model_spec: str = "smollm2-135m", n: int = 8, log=None) -> dict:
    """Resident memory after the first and after the last of `repeats` rounds, in one process, of a discovery
    (EAP, 20 edges, `n` IOI prompts), a steering fit (DiffMean, 8+8 sentences, a third of the way up) and a
    comparison of the model with its int8 version (the `compare` pipeline: `Baseline` + `compare_version`, no
    circuits, no latency), all on `model_spec`."""
    import gc

    import psutil

    from mechscope.compare import Baseline, CircuitSettings, Settings, apply_version, compare_version, make_version
    from mechscope.discover import find_circuit
    from mechscope.graph import Graph
    from mechscope.models import load
    from mechscope.steer import load_concept
    from mechscope.steer.vectors import DiffMean
    from mechscope.tasks import load_task

    proc = psutil.Process()
    model = load(model_spec)
    graph, task, concept = Graph.from_model(model), load_task("ioi", n=n), load_concept("wedding")
    version = make_version(model, "v", "quantize", {"type": "int8", "modules": "*", "group_size": 32},
                           base=model_spec)
    other = apply_version(load(model_spec), version)
    layer = str(model.adapter.n_layers // 3)
    settings = Settings(circuits=CircuitSettings(which="none"), latency=False)
    rss, seconds = [], []
    for i in range(repeats):
        t0 = time.perf_counter()
        find_circuit(graph, task, "eap", edges=20, curve=False)
        DiffMean(layers=layer).fit(model, concept.source[:8], concept.target[:8])
        compare_version(Baseline(model, [task], settings), other, version)
        gc.collect()
        rss.append(proc.memory_info().rss)
        seconds.append(time.perf_counter() - t0)
        if log and (i < 3 or (i + 1) % 10 == 0):
            log(f"  memory round {i + 1:>3}/{repeats}: RSS {rss[-1] / 2**20:7.1f} MB ({seconds[-1]:.1f} s)")
    mb = lambda b: round(b / 2**20, 1)  # noqa: E731
    return {"model": model_spec, "repeats": repeats, "prompts": n, "rss_first_mb": mb(rss[0]),
            "rss_last_mb": mb(rss[-1]), "rss_max_mb": mb(max(rss)), "growth": round(rss[-1] / rss[0] - 1, 4),
            "seconds_per_round": round(sum(seconds) / len(seconds), 2)}


def _folder(part: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"mechscope-{part}-"))


def _log(line: str) -> None:
    print(line, flush=True)


def kill_summary(k: dict) -> str:
    """The kill -9 line: trials, how many landed mid-run (per command and phase), and what they left."""
    trials = k["trials"]
    hit = [t for t in trials if t["landed"]]
    per = ", ".join(f"{c} {sum(t['command'] == c for t in hit)}" for c in _crashes.COMMANDS)
    phases = {p: sum(t["phase"] == p for t in hit) for p in ("before writing", "writing", "after writing")}
    return (f"kill -9: {len(trials)} trials in {k['seconds']:.0f} s, {len(hit)} landed mid-run ({per}), "
            f"{len(trials) - len(hit)} exited before the kill; the landed ones struck "
            + ", ".join(f"{n} {p}" for p, n in phases.items())
            + f". Outputs whole or absent in {sum(t['outputs_ok'] for t in trials)}/{len(trials)}, store without "
            f"broken entries in {sum(not t['store_problems'] for t in trials)}/{len(trials)}, `store check` clean "
            f"without repair in {sum(t['clean_before_repair'] for t in trials)}/{len(trials)} and after "
            f"`--repair` in {sum(t['clean_after_repair'] for t in trials)}/{len(trials)}; temporaries left beside "
            f"the outputs in {sum(bool(t['temporaries']) for t in trials)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=54, help="kill -9 trials that must land mid-run")
    ap.add_argument("--write-kills", type=int, default=3, help="atomic writes of each command killed from inside, "
                    "in each of the two modes")
    ap.add_argument("--fuzz", type=int, default=40, help="generated files per reader")
    ap.add_argument("--api", type=int, default=40, help="requests per API operation")
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--memory-model", default="smollm2-135m", help="model of the memory rounds (e.g. "
                    "random:llama-tiny)")
    ap.add_argument("--only", default="inputs,api,writers,memory,sigint,writekill,kill",
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
        m = report["memory"] = memory_growth(args.repeats, args.memory_model, log=_log)
        print(f"memory: {m['repeats']} x (discovery + steering fit + comparison) on {m['model']} in one process "
              f"({m['seconds_per_round']} s a round): RSS {m['rss_first_mb']} MB after the first, "
              f"{m['rss_last_mb']} MB after the last ({m['growth']:+.1%}), at most {m['rss_max_mb']} MB", flush=True)
    if "sigint" in parts:
        s = report["sigint"] = _crashes.ctrl_c_trials(_folder("sigint"), log=_log)
        hit = [t for t in s if t["interrupted"]]
        print(f"Ctrl-C: {len(s)} trials, {len(hit)} interrupted mid-run ({len(s) - len(hit)} finished first); "
              f"{sum(t['ok'] for t in s)}/{len(s)} right (interrupted: exit 130, the one line, no traceback, no "
              f"temporaries, store clean without repair; finished: exit 0, outputs whole)", flush=True)
    if "writekill" in parts:
        w = report["writekill"] = _crashes.write_kill_trials(_folder("writekill"), writes=args.write_kills,
                                                             log=_log)
        hit = [t for t in w if t["landed"]]
        print(f"kill -9 inside a write (mechscope.atomic rigged: temporary complete before its rename, or "
              f"half-written): {len(w)} trials, {len(hit)} killed in a write; outputs whole or absent in "
              f"{sum(t['outputs_ok'] for t in w)}/{len(w)}, store without broken entries in "
              f"{sum(not t['store_problems'] for t in w)}/{len(w)}, clean after `--repair` in "
              f"{sum(t['clean_after_repair'] for t in w)}/{len(w)}, rerun succeeded in "
              f"{sum(bool(t['rerun_ok']) for t in hit)}/{len(hit)} of those killed", flush=True)
    if "kill" in parts:
        k = report["kill"] = _crashes.kill_trials(args.kills, _folder("kill9"), log=_log)
        print(kill_summary(k), flush=True)
    out = Path(tempfile.gettempdir()) / "mechscope-reliability.json"
    out.write_text(json.dumps(report, indent=1, default=str))
    print(f"details: {out}")


if __name__ == "__main__":
    main()
