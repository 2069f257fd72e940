"""The ground-truth zoo build in-process (one model after another) and on a local Ray, with per-model times.

    OMP_NUM_THREADS=1 python benchmarks/zoo_build.py [--only first-gpt2-2l,prev-gpt2-2l] [--workers 2]

Each configuration builds the models from scratch in a fresh zoo cache through the run layer's executors, as
`mechscope groundtruth build [--executor ray]` does (`RunSpec("groundtruth", "build", NAME)`). In-process runs
one torch thread (like one Ray worker), so the ratio is what the extra cores give. From the in-process
per-model times it estimates the build on P cores by longest-first scheduling (each model on one core, no
contention), and the whole zoo from the mean planted-model time. The last line is a JSON document.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import tempfile
import time


def build(executor: str, names: list[str], workers: int) -> tuple[float, dict[str, float]]:
    from mechscope.runs import RunSpec, make_executor

    with tempfile.TemporaryDirectory() as cache:
        os.environ["MECHSCOPE_CACHE"] = cache
        ex = make_executor(executor, workers=workers)
        specs = [RunSpec("groundtruth", "build", n, params={"force": True}) for n in names]
        t0 = time.perf_counter()
        cells = {}
        for i, row, error in ex.compute(specs):
            if error is not None:
                raise SystemExit(f"{names[i]} failed on {executor}: {error}")
            cells[names[i]] = row["seconds"]
            print(f"  {executor:9} {names[i]:22} {row['seconds']:7.1f} s (holds: {row['holds']})", flush=True)
        ex.close()
        return time.perf_counter() - t0, cells


def makespan(times: list[float], cores: int) -> float:
    """Longest-first list scheduling of independent jobs on `cores` identical cores."""
    loads = [0.0] * cores
    heapq.heapify(loads)
    for t in sorted(times, reverse=True):
        heapq.heappush(loads, heapq.heappop(loads) + t)
    return max(loads)


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="first-gpt2-2l,prev-gpt2-2l,major-gpt2-2l,prev-llama-2l")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--executors", default="inprocess,ray")
    a = ap.parse_args()
    torch.set_num_threads(1)
    names = [n for n in a.only.split(",") if n]
    print(f"{len(names)} zoo models, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start",
          flush=True)
    doc = {"models": names, "cores": os.cpu_count(), "load_start": os.getloadavg()[0], "runs": {}}
    for executor in a.executors.split(","):
        wall, cells = build(executor, names, a.workers)
        doc["runs"][executor] = {"seconds": round(wall, 1), "cells": cells, "load_end": os.getloadavg()[0]}
        print(f"{executor}: {wall:.1f} s for {len(names)} models", flush=True)
    serial = doc["runs"].get("inprocess")
    if serial:
        times = list(serial["cells"].values())
        for other, run in doc["runs"].items():
            if other != "inprocess":
                run["speedup"] = round(serial["seconds"] / run["seconds"], 2)
                print(f"{other} / inprocess: {run['speedup']}x faster with {a.workers} workers")
        from mechscope.hypothesis.groundtruth.zoo import PLANTED

        mean = sum(times) / len(times)
        zoo = [mean] * len(PLANTED)  # hand-built models take seconds
        doc["estimate"] = {f"{p} cores": {"subset_s": round(makespan(times, p), 1),
                                          "zoo_s": round(makespan(zoo, p), 1)} for p in (1, 2, 4, 8, 12, 16)}
        for p, e in doc["estimate"].items():
            print(f"estimated on {p:9}: this subset {e['subset_s']:7.1f} s, the zoo ({len(PLANTED)} planted) "
                  f"{e['zoo_s']:7.1f} s")
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
