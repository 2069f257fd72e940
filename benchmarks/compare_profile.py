"""Where `mechscope compare` spends its time: the comparison run under cProfile, with each step's seconds.

    MECHSCOPE_HOME=<store> python benchmarks/compare_profile.py [--base smollm2-135m] [--versions q8 q4]
        [--n 16] [--threads 1] [--top 45]

The versions must exist in the store (``mechscope version make --base smollm2-135m --name q8 --quantize q8_0``).
Runs what ``mechscope compare BASE VERSIONS --task ioi --n N --no-record`` computes (`mechscope.runs.execute.compute`),
prints each progress step with the seconds since the previous one, the total, and the profile's top functions by
cumulative time. The last line is a JSON list of rows ``{stage, seconds, peak_mb_above_base}`` (stage ``compare``).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import resource
import sys
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", default="smollm2-135m")
    p.add_argument("--versions", nargs="+", default=["q8", "q4"])
    p.add_argument("--task", default="ioi")
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--top", type=int, default=45)
    args = p.parse_args(argv)

    import torch

    from mechscope.runs import RunSpec
    from mechscope.runs.execute import compute

    torch.set_num_threads(args.threads)
    spec = RunSpec("compare", "versions", args.base, None, args.n,
                   {"versions": args.versions, "tasks": [args.task], "cache_circuits": False})
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    last = [t0]

    def report(done, total, message):
        now = time.perf_counter()
        print(f"{now - t0:8.1f} s (+{now - last[0]:6.1f}) {done}/{total} {message}", flush=True)
        last[0] = now

    profile = cProfile.Profile()
    profile.enable()
    compute(spec, report)
    profile.disable()
    seconds = time.perf_counter() - t0
    print(f"total {seconds:.1f} s")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps([{"stage": "compare", "seconds": round(seconds, 1), "peak_mb_above_base": round(peak - base)}]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
