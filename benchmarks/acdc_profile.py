"""cProfile of one batch of ACDC tries on random:gpt2-small, from the state ACDC leaves part way (issue 25).

    OMP_NUM_THREADS=1 python benchmarks/acdc_profile.py LAYER K [q|k|v|m|logits]

Every edge into the layers after LAYER and the logits is removed but a random 1%, the rest are in; K tries
into head 0's receiver of that kind at LAYER (try j: its latest j + 1 sources removed) run in one batched
pass from LAYER on (`PatchedRunner.many`), timed (wall and CPU seconds) and profiled (top 25 by own time).
"""
import cProfile
import pstats
import sys
import time

import torch

import mechscope as ms
from mechscope import discover as D
from mechscope.graph import EdgeMask
torch.set_num_threads(1)
L = int(sys.argv[1]); K = int(sys.argv[2]); kind = sys.argv[3] if len(sys.argv) > 3 else "q"
model = ms.load("random:gpt2-small"); graph = ms.Graph.from_model(model)
enc = ms.load_task("ioi", n=16).encode(model.tokenizer)
print("batch", enc.clean_ids.shape)
runner = D.PatchedRunner(graph, enc)
gen = torch.Generator().manual_seed(0)
mask = EdgeMask.zeros(graph)
for g in graph.groups:
    if g.layer > L:
        t = mask.tensors[g.name]; t.fill_(1.0)
        t[torch.rand(t.shape, generator=gen) < 0.01] = 0.0
gname = f"a{L}.{kind}" if kind in "qkv" else (f"m{L}" if kind == "m" else "logits")
g = graph.group(gname)
row = 0
start = runner.upstream(mask, g.layer)
tries = []
tried = mask.tensors[gname].clone()
for col in list(reversed(range(g.n_sources)))[:K]:
    tried[row, col] = 1.0
    tries.append(EdgeMask({**mask.tensors, gname: tried.clone()}))
runner.many(tries[:2], base=mask, start=start, kind="kl")
t0 = time.perf_counter(); c0 = time.process_time()
pr = cProfile.Profile(); pr.enable()
v = runner.many(tries, base=mask, start=start, kind="kl")
pr.disable()
print(f"{gname} K={K}: {time.perf_counter()-t0:.2f}s wall {time.process_time()-c0:.2f} cpu, per try {(time.perf_counter()-t0)/K:.3f}")
pstats.Stats(pr).sort_stats("tottime").print_stats(25)
