"""How fast the patched forward's correction product runs at its real shape (issue 25).

    OMP_NUM_THREADS=1 python benchmarks/correction_product.py [--sources 150] [--width 368640] [--threads 1]

``corr [M, n] @ diff [n, W]`` with entries in {-1, 0, 1}: M receiver rows (16 a layer on SmolLM2, 64 for a
block of 4 layers), n sources, W = B*S*D values per source (32 IOI prompts x 20 tokens x 576 = 368,640).
Prints GFLOP/s by M, and ``into.add_(corr @ diff)`` against ``into.addmm_(corr, diff)``. The last line is a JSON
list of rows (``stage``, ``seconds``, ``peak_mb_above_base``: max RSS above the process once ``diff`` is
allocated, so it only grows).
"""
import argparse
import json
import resource
import time

import torch


def _seconds(f, repeat: int = 3) -> float:
    f()
    t = time.perf_counter()
    for _ in range(repeat):
        f()
    return (time.perf_counter() - t) / repeat


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sources", type=int, default=150)
    p.add_argument("--width", type=int, default=368640)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    n, w = args.sources, args.width
    gen = torch.Generator().manual_seed(0)
    diff = torch.randn(n, w, generator=gen)
    base = _peak_mb()  # the process with its right-hand side allocated
    rows = []
    for m in (16, 32, 64, 96, 128):
        corr = torch.randint(-1, 2, (m, n), generator=gen).float()
        s = _seconds(lambda: corr @ diff)
        print(f"M={m:4d}  {s * 1000:7.1f} ms  {2 * m * n * w / s / 1e9:6.1f} GFLOP/s")
        rows.append({"stage": f"product_m{m}", "seconds": round(s, 5), "peak_mb_above_base": round(_peak_mb() - base)})
    corr, into = torch.randint(-1, 2, (16, n), generator=gen).float(), torch.zeros(16, w)
    for name, f in (("add_mm", lambda: into.add_(corr @ diff)), ("addmm_", lambda: into.addmm_(corr, diff))):
        s = _seconds(f, 5)
        print(f"{name:8s} M=16  {s * 1000:7.1f} ms")
        rows.append({"stage": name, "seconds": round(s, 5), "peak_mb_above_base": round(_peak_mb() - base)})
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
