"""Planted-circuit models: small transformers trained so one task flows only through a chosen subgraph.

A `PlantedSpec` names a task, an architecture and a seed. The seed picks the
heads and MLPs of the circuit from a template per task (below); training then
makes that edge set the circuit of the task under resample ablation:

- sufficiency: with every edge outside the circuit patched from the corrupted
  prompt, the model still answers (cross-entropy on the answer);
- knockout: with only the circuit's edges patched, the model gives the
  corrupted prompt's answer (so no edge outside the circuit carries the task);
- necessity: with one circuit edge patched, the model no longer prefers the
  answer (a hinge on the logit difference), so no planted edge is idle;
- agreement: the circuit's logits match the full model's (squared error), so
  faithfulness is near 1, not above it;
- distractors: the full model also learns the other synthetic tasks, so the
  components outside the circuit are active, just not for this task.

A short polishing phase follows at a tenth of the learning rate, weighting the
agreement of the answer margin (circuit vs full model, per example and on
average) ten times. Without it the components outside the circuit keep adding
about 2% of the margin on every example, so the circuit loses to the full model
on 70-86% of examples and a sign test (the equivalence test of Shi et al.)
rightly rejects it; after it, wins and losses are balanced.

Templates (resample ablation: the corrupted prompt is another prompt of the
same task and length, so an edge that only carries positions carries nothing
and is not part of the truth):

- ``first``, ``prev``: ``embed -> H.v``, ``H -> logits`` (H copies a symbol);
  with ``hops=2``: ``embed -> A.v``, ``A -> B.v``, ``B -> logits`` (A copies the
  symbol, B in a later layer relays it: a composition edge between heads);
- ``induct``: ``embed -> P.v``, ``P -> I.k``, ``embed -> I.q``, ``embed -> I.v``,
  ``I -> logits`` (P a previous-token head in an earlier layer than I);
- ``major``: ``embed -> H.v``, ``H -> mM``, ``mM -> logits`` (M an MLP at or after H's layer).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F

from mechscope.errors import MechscopeError, closest
from mechscope.graph import EdgeMask, Graph, run, source_outputs
from mechscope.hypothesis.groundtruth.base import GroundTruth
from mechscope.hypothesis.groundtruth.tasks import TASKS, synthetic_task
from mechscope.hypothesis.groundtruth.verify import verify_truth
from mechscope.hypothesis.groundtruth.vocab import WORDS, word_tokenizer
from mechscope.models import Model
from mechscope.models.families import adapter_for
from mechscope.models.loading import fingerprint_state

FAMILIES = ("gpt2", "llama")
# Bump when training changes: cached models of an older recipe are rebuilt.
RECIPE = 2
POLISH_WEIGHT = 10.0


@dataclass(frozen=True)
class PlantedSpec:
    """One planted-circuit model: its task, architecture, seed and training length.

    >>> PlantedSpec("induct-gpt2-2l", "induct", "gpt2", 2).n_heads
    4
    """

    name: str
    task: str
    family: str
    n_layers: int
    n_heads: int = 4
    n_kv_heads: int | None = None  # llama only; None: one per head
    d_model: int = 64
    seed: int = 0
    hops: int = 1  # first/prev: 2 relays the copied symbol through a second head
    steps: int = 1500
    batch: int = 64
    lr: float = 3e-3
    polish_steps: int = 300

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise MechscopeError(
                f"unknown task {self.task!r}{closest(self.task, TASKS)}; use one of {', '.join(TASKS)}")
        if self.family not in FAMILIES:
            raise MechscopeError(f"unknown family {self.family!r}; use one of {', '.join(FAMILIES)}")
        if (self.task == "induct" or self.hops == 2) and self.n_layers < 2:
            raise MechscopeError("an induction or two-hop circuit needs two layers; use n_layers >= 2")


def build_hf(spec: PlantedSpec) -> torch.nn.Module:
    """A freshly initialised Hugging Face model of `spec`'s family and size (seeded)."""
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

    if spec.family == "gpt2":
        config = GPT2Config(vocab_size=len(WORDS), n_positions=16, n_embd=spec.d_model, n_layer=spec.n_layers,
                            n_head=spec.n_heads, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                            tie_word_embeddings=False, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    else:
        config = LlamaConfig(vocab_size=len(WORDS), hidden_size=spec.d_model, intermediate_size=2 * spec.d_model,
                             num_hidden_layers=spec.n_layers, num_attention_heads=spec.n_heads,
                             num_key_value_heads=spec.n_kv_heads or spec.n_heads, max_position_embeddings=16,
                             tie_word_embeddings=False, bos_token_id=0, eos_token_id=0, pad_token_id=0)
    config.attn_implementation = "eager"
    torch.manual_seed(spec.seed)
    return AutoModelForCausalLM.from_config(config)


def _receiver(graph: Graph, layer: int, head: int, kind: str) -> str:
    """Name of head `head`'s q/k/v receiver (a key-value group's under grouped-query attention)."""
    group = graph.group(f"a{layer}.{kind}")
    per = graph.adapter.n_heads // len(group.receivers)
    return group.receivers[head // per]


def planted_edges(spec: PlantedSpec, graph: Graph) -> list[str]:
    """The edge names of `spec`'s circuit: its task's template, components chosen by its seed.

    >>> from mechscope.models import load
    >>> spec = PlantedSpec("x", "induct", "gpt2", 2)
    >>> hf = build_hf(spec)
    >>> len(planted_edges(spec, Graph.from_model(Model("x", hf, None, adapter_for(hf.config), ""))))
    5
    """
    rng = random.Random(f"planted:{spec.name}:{spec.seed}")
    n_layers, n_heads = spec.n_layers, spec.n_heads
    if spec.task in ("first", "prev") and spec.hops == 2:
        la = rng.randrange(n_layers - 1)
        lb = rng.randrange(la + 1, n_layers)
        ha, hb = rng.randrange(n_heads), rng.randrange(n_heads)
        return [f"embed->{_receiver(graph, la, ha, 'v')}", f"a{la}.h{ha}->{_receiver(graph, lb, hb, 'v')}",
                f"a{lb}.h{hb}->logits"]
    if spec.task in ("first", "prev"):
        layer, head = rng.randrange(n_layers), rng.randrange(n_heads)
        h = f"a{layer}.h{head}"
        return [f"embed->{_receiver(graph, layer, head, 'v')}", f"{h}->logits"]
    if spec.task == "induct":
        lp = rng.randrange(n_layers - 1)
        li = rng.randrange(lp + 1, n_layers)
        hp, hi = rng.randrange(n_heads), rng.randrange(n_heads)
        p, i = f"a{lp}.h{hp}", f"a{li}.h{hi}"
        return [f"embed->{_receiver(graph, lp, hp, 'v')}", f"{p}->{_receiver(graph, li, hi, 'k')}",
                f"embed->{i}.q", f"embed->{_receiver(graph, li, hi, 'v')}", f"{i}->logits"]
    layer, head = rng.randrange(n_layers), rng.randrange(n_heads)
    mlp = rng.randrange(layer, n_layers)
    return [f"embed->{_receiver(graph, layer, head, 'v')}", f"a{layer}.h{head}->m{mlp}", f"m{mlp}->logits"]


def _last_logits(model: Model, ids: torch.Tensor) -> torch.Tensor:
    return model.hf(input_ids=ids).logits[:, -1]


def _logit_diff(logits: torch.Tensor, answer: torch.Tensor, wrong: torch.Tensor) -> torch.Tensor:
    return logits.gather(1, answer[:, None])[:, 0] - logits.gather(1, wrong[:, None])[:, 0]


def _step_loss(model: Model, graph: Graph, spec: PlantedSpec, edges: list[str], rng: random.Random,
               polish: bool = False) -> tuple:
    """The training loss of one step and its parts (floats, for the progress line).

    With `polish`, the necessity hinge and logit agreement give way to the agreement
    of the answer margin, per example and on average, weighted `POLISH_WEIGHT`.
    """
    enc = synthetic_task(spec.task, spec.batch, seed=rng.randrange(2**31)).encode(model.tokenizer)
    ans, wrong = enc.answer_ids[:, 0], enc.wrong_ids[:, 0]
    with torch.no_grad():
        patch = source_outputs(graph, enc.corrupt_ids)
    circuit = EdgeMask.from_edges(graph, edges, value=0.0, base=1.0)  # patch everything else
    knockout = EdgeMask.from_edges(graph, edges)
    drop = rng.choice(edges)
    minus = EdgeMask.from_edges(graph, [e for e in edges if e != drop], value=0.0, base=1.0)

    def patched(mask: EdgeMask) -> torch.Tensor:
        return run(graph, enc.clean_ids, patch=patch, mask=mask, positions=enc.positions, differentiable=True)

    full, in_circuit = _last_logits(model, enc.clean_ids), patched(circuit)
    if polish:
        gap = _logit_diff(in_circuit, ans, wrong) - _logit_diff(full, ans, wrong)
        parts = {
            "full": F.cross_entropy(full, ans),
            "circuit": F.cross_entropy(in_circuit, ans),
            "knockout": F.cross_entropy(patched(knockout), wrong),
            "margin": POLISH_WEIGHT * (gap.pow(2).mean() + gap.mean().pow(2)),
        }
        return _with_distractor(model, spec, rng, parts)
    parts = {
        "full": F.cross_entropy(full, ans),
        "circuit": F.cross_entropy(in_circuit, ans),
        "knockout": F.cross_entropy(patched(knockout), wrong),
        "necessity": F.relu(_logit_diff(patched(minus), ans, wrong)).mean(),
        # same logits (up to a shift), so the circuit's faithfulness is 1, not just "answers too"
        "agree": ((in_circuit - in_circuit.mean(-1, keepdim=True)) - (full - full.mean(-1, keepdim=True)))
        .pow(2).mean(),
    }
    return _with_distractor(model, spec, rng, parts)


def _with_distractor(model: Model, spec: PlantedSpec, rng: random.Random, parts: dict) -> tuple:
    others = [t for t in TASKS if t != spec.task]
    dis = synthetic_task(rng.choice(others), spec.batch, seed=rng.randrange(2**31)).encode(model.tokenizer)
    parts["distractor"] = F.cross_entropy(_last_logits(model, dis.clean_ids), dis.answer_ids[:, 0])
    return sum(parts.values()), {k: float(v.detach()) for k, v in parts.items()}


def train_planted(spec: PlantedSpec, progress=None) -> GroundTruth:
    """Train `spec`'s model with its planted circuit, verify it, and return it.

    `progress(step, parts)` is called every 50 steps with the loss parts.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: a second thread only adds contention
    try:
        return _train(spec, progress)
    finally:
        torch.set_num_threads(threads)


def _train(spec: PlantedSpec, progress) -> GroundTruth:
    hf = build_hf(spec)
    tok = word_tokenizer()
    model = Model(f"groundtruth:{spec.name}", hf, tok, adapter_for(hf.config), "")
    graph = Graph.from_model(model)
    edges = planted_edges(spec, graph)
    for e in edges:
        graph.edge(e)  # a template naming a missing edge is a bug: fail now
    opt = torch.optim.AdamW(hf.parameters(), lr=spec.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=spec.lr, total_steps=spec.steps, pct_start=0.1)
    rng = random.Random(f"train:{spec.name}:{spec.seed}")
    hf.train()
    for step in range(spec.steps):
        loss, parts = _step_loss(model, graph, spec, edges, rng)
        _descend(opt, hf, loss)
        sched.step()
        if progress and (step % 50 == 49 or step == spec.steps - 1):
            progress(step + 1, parts)
    polish(model, graph, spec, edges, progress)
    model = replace(model, fingerprint=fingerprint_state(hf))
    task = synthetic_task(spec.task, 128, seed=10_000 + spec.seed)
    truth = GroundTruth(spec.name, "planted", model, task, {"resample": edges},
                        {"spec": asdict(spec), "template": spec.task, "family": spec.family, "recipe": RECIPE})
    truth.info["verification"] = verify_truth(truth)
    return truth


def _descend(opt: torch.optim.Optimizer, hf: torch.nn.Module, loss: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(hf.parameters(), 1.0)
    opt.step()


def polish(model: Model, graph: Graph, spec: PlantedSpec, edges: list[str], progress=None) -> None:
    """The polishing phase (module docstring): balance the circuit's margin against the full model's.

    Runs `spec.polish_steps` steps in place on `model` (own seed, fresh optimizer),
    then leaves it in eval mode without gradients.
    """
    hf = model.hf.train().requires_grad_(True)
    opt = torch.optim.AdamW(hf.parameters(), lr=spec.lr / 10, weight_decay=0.0)
    rng = random.Random(f"polish:{spec.name}:{spec.seed}")
    for step in range(spec.polish_steps):
        loss, parts = _step_loss(model, graph, spec, edges, rng, polish=True)
        _descend(opt, hf, loss)
        if progress and (step % 50 == 49 or step == spec.polish_steps - 1):
            progress(spec.steps + step + 1, parts)
    hf.eval().requires_grad_(False)


__all__ = ["FAMILIES", "RECIPE", "PlantedSpec", "build_hf", "planted_edges", "polish", "train_planted"]
