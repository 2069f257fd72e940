"""Executors side by side: the same sweep and the same zoo build in-process, in a local pool and on a local Ray.

    python benchmarks/executors.py [--zoo first-gpt2-2l,prev-gpt2-2l,major-gpt2-2l] [--workers 2] [--n 100]

Each configuration runs in a fresh store and a fresh zoo cache, as a new user would run it
(`mechscope sweep ...`, `mechscope groundtruth build --only ...`); the script checks that every executor gives
the same faithfulness per cell (to 1e-6) and prints seconds and the ratio to in-process. The last line is a
JSON list of rows (`stage`, `executor`, `seconds`, `ratio`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def mechscope(args: list[str], env: dict) -> tuple[float, str]:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "mechscope", *args], capture_output=True, text=True,
                         env={**os.environ, **env})
    if res.returncode != 0:
        sys.exit(f"mechscope {' '.join(args)} failed: {res.stderr.strip().splitlines()[-1]}")
    return time.perf_counter() - t0, res.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--zoo", default="first-gpt2-2l,prev-gpt2-2l,major-gpt2-2l")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--executors", default="inprocess,local,ray")
    ap.add_argument("--skip-sweep", action="store_true")
    a = ap.parse_args()
    executors = a.executors.split(",")
    rows, scores = [], {}
    grid = ["--models", "random:gpt2-tiny,random:llama-tiny", "--tasks", "ioi,induction", "--methods", "eap,eap-ig",
            "--n", str(a.n), "--json"]
    for ex in executors if not a.skip_sweep else []:
        with tempfile.TemporaryDirectory() as home:
            extra = [] if ex == "inprocess" else ["--workers", str(a.workers)]
            seconds, out = mechscope(["sweep", *grid, "--executor", ex, *extra], {"MECHSCOPE_HOME": home})
            doc = json.loads(out)
            scores[ex] = {r["hash"]: r["faithfulness"] for r in doc["rows"]}
            again, out2 = mechscope(["sweep", *grid, "--executor", ex, *extra], {"MECHSCOPE_HOME": home})
            assert json.loads(out2)["skipped"] == len(doc["rows"]), "a second sweep must skip every cell"
            rows.append({"stage": "sweep 8 cells", "executor": ex, "seconds": round(seconds, 1)})
            rows.append({"stage": "sweep again (all skipped)", "executor": ex, "seconds": round(again, 1)})
    if scores:
        first = next(iter(scores.values()))
        worst = max(abs(first[h] - s[h]) for s in scores.values() for h in first)
        print(f"largest faithfulness difference between executors: {worst:.2e} over {len(first)} cells")
    for ex in executors:
        with tempfile.TemporaryDirectory() as cache:
            extra = [] if ex == "inprocess" else ["--executor", ex, "--workers", str(a.workers)]
            seconds, _ = mechscope(["groundtruth", "build", "--only", a.zoo, *extra, "--json"],
                                   {"MECHSCOPE_CACHE": cache})
            rows.append({"stage": f"zoo build ({len(a.zoo.split(','))} planted models)", "executor": ex,
                         "seconds": round(seconds, 1)})
    base = {r["stage"]: r["seconds"] for r in rows if r["executor"] == "inprocess"}
    for r in rows:
        r["ratio"] = round(r["seconds"] / base[r["stage"]], 2) if base.get(r["stage"]) else None
        print(f"{r['stage']:36} {r['executor']:10} {r['seconds']:8.1f} s  {r['ratio']}x")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
