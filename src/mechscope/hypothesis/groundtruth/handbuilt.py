"""Hand-built ground-truth models: GPT-2 weights set by hand, circuit known edge by edge.

Like tracr's compiled models in the ROC evaluations of ACDC and AutoCircuit,
these models have no training: every weight is written from the algorithm, so
the true circuit is read off the construction, not found by a discovery method.
Both models are two-layer, four-head `GPT2LMHeadModel`s that are attention-only
in effect (MLP weights and biases zero, so ``m0`` and ``m1`` output exactly 0).

Residual stream (``d_model = 256``), tracr-style: each kind of information has
its own orthogonal slice of the first half, and the second half always holds
the negation of the first, so every residual vector has mean zero and GPT-2's
LayerNorm subtracts nothing::

    TOK   0-21    one-hot of the token            (wte)
    POS   22-37   one-hot of the position         (wpe)
    PREV  38-59   one-hot of the previous token   (written by a previous-token head)
    OUT   60-81   one-hot of the predicted token  (the only slice lm_head reads)
    CONST 82      a large constant, from layer 0's c_proj bias (in no node, never patched)
    JUNK  83-127  what the distractor heads write (read by nothing that matters)

LayerNorm then only rescales. Layer 0 reads the embedding alone, two unit
one-hots (first-half norm sqrt(2)), so its LayerNorm weight sqrt(2 / 128) gives
them back exactly. Later LayerNorms see the constant (norm 20) beside unit-size
slices, so their scale stays within 2% of 1 whatever is patched or zeroed.
Attention logits of 40 make the attention hard. The induction head has a sink:
when its query matches no key it attends to the task marker instead of
averaging the prompt (which always contains the answer), so a disabled circuit
predicts nothing.

Heads other than the circuit's are distractors that are active and vary with
the input (uniform attention, self attention, a second previous-token or
first-symbol head, a duplicate-token head), but write only into JUNK, so every
edge out of them is a true negative.

>>> gt = handbuilt_first(n=8, verify=False)
>>> gt.true_edges["resample"]
['embed->a1.h1.v', 'a1.h1->logits']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

from mechscope.hypothesis.groundtruth.base import GroundTruth
from mechscope.hypothesis.groundtruth.tasks import synthetic_task
from mechscope.hypothesis.groundtruth.verify import verify_truth
from mechscope.hypothesis.groundtruth.vocab import WORDS, word_tokenizer
from mechscope.models.families import adapter_for
from mechscope.models.loading import Model, fingerprint_state
from mechscope.tasks import Task, evaluate

N_LAYER, N_HEAD, D_MODEL, N_POSITIONS = 2, 4, 256, 16
D_HALF, D_HEAD = D_MODEL // 2, D_MODEL // N_HEAD
V = len(WORDS)
TOK, POS, PREV, OUT = 0, V, V + N_POSITIONS, 2 * V + N_POSITIONS  # slice starts in the first half
CONST = 3 * V + N_POSITIONS
JUNK = CONST + 1
JUNK_PER_HEAD = 4
HARD = 40.0  # attention logit of a match: exp(-40) leaves no weight elsewhere
CONST_NORM = 20.0  # dwarfs the unit-size slices, so LayerNorm's scale barely moves
LOGIT_GAIN = 10.0  # logit of the attended token; the clean logit difference
QK_SCALE = math.sqrt(HARD * math.sqrt(D_HEAD))  # q.k / sqrt(d_head) = HARD for unit one-hots
SINK = HARD / 2  # attention logit of a sink: loses to a match, wins over no match
SINK_DIM = D_HEAD - 1  # a head dimension no one-hot pattern uses
MARKER = WORDS.index("induct")

Pairs = Iterable[tuple[int, int]]  # (residual coordinate in the first half, head dimension)


# weights ---------------------------------------------------------------------
def _blank_model():
    """A GPT-2 of the ground-truth shape with every parameter zero."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=V, n_positions=N_POSITIONS, n_embd=D_MODEL, n_layer=N_LAYER, n_head=N_HEAD,
                        tie_word_embeddings=False, embd_pdrop=0.0, attn_pdrop=0.0, resid_pdrop=0.0,
                        bos_token_id=None, eos_token_id=None, pad_token_id=0, use_cache=False)
    config._attn_implementation = "eager"
    hf = GPT2LMHeadModel(config)
    with torch.no_grad():
        for p in hf.parameters():
            p.zero_()
    return hf


def _mirrored(half: torch.Tensor) -> torch.Tensor:
    """[..., D_HALF] -> [..., D_MODEL]: the first half and its negation, so the mean is zero."""
    return torch.cat([half, -half], dim=-1)


def _reader(pairs: Pairs, scale: float = 1.0) -> torch.Tensor:
    """A q/k/v weight ``[D_HALF, D_HEAD]`` reading residual coordinates into head dimensions."""
    w = torch.zeros(D_HALF, D_HEAD)
    for i, j in pairs:
        w[i, j] = scale
    return w


def _onehots(start: int, n: int) -> list[tuple[int, int]]:
    """Read slice ``start:start+n`` into head dimensions ``0:n``."""
    return [(start + t, t) for t in range(n)]


def _writer(dest: int, n: int) -> torch.Tensor:
    """An output weight ``[D_HEAD, D_HALF]`` copying head dimensions ``0:n`` into slice ``dest:dest+n``."""
    w = torch.zeros(D_HEAD, D_HALF)
    w[torch.arange(n), dest + torch.arange(n)] = 1.0
    return w


def _junk_writer(slot: int, n: int, gen: torch.Generator) -> torch.Tensor:
    """Output weight sending head dimensions ``0:n`` to a fixed random mix in the head's own JUNK coordinates."""
    w = torch.zeros(D_HEAD, D_HALF)
    start = JUNK + slot * JUNK_PER_HEAD
    w[:n, start : start + JUNK_PER_HEAD] = torch.randn(n, JUNK_PER_HEAD, generator=gen) / math.sqrt(JUNK_PER_HEAD)
    return w


def _set_head(hf, layer: int, head: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, o: torch.Tensor) -> None:
    """Write one head's q/k/v weights ([D_HALF, D_HEAD], first half only) and output weight ([D_HEAD, D_HALF])."""
    attn = hf.transformer.h[layer].attn
    cols = slice(head * D_HEAD, (head + 1) * D_HEAD)
    with torch.no_grad():
        for block, w in enumerate((q, k, v)):  # c_attn is Conv1D [in, 3 * d_model]: q | k | v
            attn.c_attn.weight[:D_HALF, block * D_MODEL + cols.start : block * D_MODEL + cols.stop] = w
        attn.c_proj.weight[cols] = _mirrored(o)


# attention patterns, as (query pairs, key pairs) ----------------------------
def _attend_previous() -> tuple[list, list]:
    """Position i's query meets position i-1's key (position 0 can only attend to itself)."""
    return [(POS + i, i - 1) for i in range(1, N_POSITIONS)], _onehots(POS, N_POSITIONS)


def _attend_self() -> tuple[list, list]:
    return _onehots(POS, N_POSITIONS), _onehots(POS, N_POSITIONS)


def _attend_position(p: int) -> tuple[list, list]:
    """Every query is the sum of the position one-hot (always 1); only position `p`'s key answers it."""
    return [(POS + i, 0) for i in range(N_POSITIONS)], [(POS + p, 0)]


def _attend_uniform() -> tuple[list, list]:
    return [], []


def _attend_same_token() -> tuple[list, list]:
    """A duplicate-token pattern: the query's token meets the same token in the keys."""
    return _onehots(TOK, V), _onehots(TOK, V)


def _head(hf, layer: int, head: int, pattern: tuple[list, list], read: int, n_read: int, o: torch.Tensor,
          sink: int | None = None) -> None:
    q, k = _reader(pattern[0], QK_SCALE), _reader(pattern[1], QK_SCALE)
    if sink is not None:
        # The query's constant part (CONST, from a bias: no edge carries it) meets keys holding residual
        # coordinate `sink`, so a head whose pattern finds nothing attends there instead of everywhere.
        q[CONST, SINK_DIM] = SINK * math.sqrt(D_HEAD) / (QK_SCALE * CONST_NORM)
        k[sink, SINK_DIM] = QK_SCALE
    _set_head(hf, layer, head, q, k, _reader(_onehots(read, n_read)), o)


def _distractor(hf, layer: int, head: int, pattern: tuple[list, list], read: int, n_read: int, slot: int,
                gen: torch.Generator) -> None:
    """An active head whose output lands in JUNK only, where nothing downstream reads it."""
    _head(hf, layer, head, pattern, read, n_read, _junk_writer(slot, n_read, gen))


def _set_frame(hf) -> None:
    """Embeddings, LayerNorms, the constant and the unembedding: everything but the heads."""
    t = hf.transformer
    with torch.no_grad():
        t.wte.weight.copy_(_mirrored(torch.eye(V, D_HALF) @ _shift(TOK)))
        t.wpe.weight.copy_(_mirrored(torch.eye(N_POSITIONS, D_HALF) @ _shift(POS)))
        # ln(x)_i = x_i * sqrt(D_HALF) / |x_half| * weight_i: weight rho / sqrt(D_HALF) gives x back when |x_half| = rho
        t.h[0].ln_1.weight.fill_(math.sqrt(2.0 / D_HALF))
        t.h[1].ln_1.weight.fill_(CONST_NORM / math.sqrt(D_HALF))
        t.ln_f.weight.fill_(CONST_NORM / math.sqrt(D_HALF))
        for layer in t.h:
            layer.ln_2.weight.fill_(1.0)  # its MLP is zero: any value would do
        t.h[0].attn.c_proj.bias.copy_(_mirrored(CONST_NORM * torch.eye(D_HALF)[CONST]))
        hf.lm_head.weight[torch.arange(V), OUT + torch.arange(V)] = LOGIT_GAIN


def _shift(start: int) -> torch.Tensor:
    """[D_HALF, D_HALF] moving coordinate i to ``start + i``."""
    return torch.eye(D_HALF).roll(start, dims=1)


# models ---------------------------------------------------------------------
def _model(hf, name: str) -> Model:
    hf.eval()
    hf.requires_grad_(False)
    hf.config.use_cache = False
    return Model(spec=f"groundtruth:{name}", hf=hf, tokenizer=word_tokenizer(), adapter=adapter_for(hf.config),
                 fingerprint=fingerprint_state(hf))


def _induction_weights():
    hf, gen = _blank_model(), torch.Generator().manual_seed(0)
    _set_frame(hf)
    _distractor(hf, 0, 0, _attend_uniform(), TOK, V, 0, gen)
    _head(hf, 0, 1, _attend_previous(), TOK, V, _writer(PREV, V))  # previous-token head
    _distractor(hf, 0, 2, _attend_self(), TOK, V, 1, gen)
    _distractor(hf, 0, 3, _attend_position(1), TOK, V, 2, gen)
    _distractor(hf, 1, 0, _attend_uniform(), JUNK, D_HALF - JUNK, 3, gen)
    _distractor(hf, 1, 1, _attend_self(), JUNK, D_HALF - JUNK, 4, gen)
    # induction head: the current token meets the previous token written by a0.h1; it copies the token found there.
    # Its sink is the task marker in PREV (positions 0 and 1, read through the edge a0.h1->a1.h2.k it needs
    # anyway): with no match it copies the marker and the first symbol, never the answer, rather than
    # averaging the prompt, which always holds the answer.
    _head(hf, 1, 2, (_onehots(TOK, V), _onehots(PREV, V)), TOK, V, _writer(OUT, V), sink=PREV + MARKER)
    _distractor(hf, 1, 3, _attend_same_token(), TOK, V, 5, gen)
    return hf


def _first_weights():
    hf, gen = _blank_model(), torch.Generator().manual_seed(1)
    _set_frame(hf)
    _distractor(hf, 0, 0, _attend_uniform(), TOK, V, 0, gen)
    _distractor(hf, 0, 1, _attend_previous(), TOK, V, 1, gen)
    _distractor(hf, 0, 2, _attend_position(1), TOK, V, 2, gen)  # carries the answer too, but into JUNK
    _distractor(hf, 0, 3, _attend_self(), TOK, V, 3, gen)
    _distractor(hf, 1, 0, _attend_uniform(), JUNK, D_HALF - JUNK, 4, gen)
    _head(hf, 1, 1, _attend_position(1), TOK, V, _writer(OUT, V))  # copy head: the symbol at position 1
    _distractor(hf, 1, 2, _attend_self(), JUNK, D_HALF - JUNK, 5, gen)
    _distractor(hf, 1, 3, _attend_same_token(), TOK, V, 6, gen)
    return hf


INDUCTION_TRUTH = {
    # what differs between two prompts of the task: token identities, never positions
    "resample": ["embed->a0.h1.v", "a0.h1->a1.h2.k", "embed->a1.h2.q", "embed->a1.h2.v", "a1.h2->logits"],
    # zeros, or the mean embedding (every position at 1/8), also erase the positions that the
    # previous-token head's query and key compare
    "zero": ["embed->a0.h1.q", "embed->a0.h1.k", "embed->a0.h1.v", "a0.h1->a1.h2.k", "embed->a1.h2.q",
             "embed->a1.h2.v", "a1.h2->logits"],
    "mean": ["embed->a0.h1.q", "embed->a0.h1.k", "embed->a0.h1.v", "a0.h1->a1.h2.k", "embed->a1.h2.q",
             "embed->a1.h2.v", "a1.h2->logits"],
}
FIRST_TRUTH = {
    "resample": ["embed->a1.h1.v", "a1.h1->logits"],
    "zero": ["embed->a1.h1.q", "embed->a1.h1.k", "embed->a1.h1.v", "a1.h1->logits"],
    # the query sums the position one-hot, and the mean's position part still sums to 1: only the key matters
    "mean": ["embed->a1.h1.k", "embed->a1.h1.v", "a1.h1->logits"],
}

INDUCTION_MECHANISM = (
    "a0.h1 is a previous-token head: its query (position i, from wpe) meets the key of position i-1 and it copies "
    "that token's one-hot into the PREV slice. a1.h2 is an induction head: its query reads the current token, its "
    "key reads PREV, so at the repeated symbol it attends to the position after the first occurrence and copies "
    "that token into OUT, which lm_head reads (gain 10); with no match it falls back on a sink, the task marker in "
    "PREV at positions 0-1. The other six heads write only into JUNK."
)
FIRST_MECHANISM = (
    "a1.h1 is a copy head: its query is the sum of the position one-hot (1 everywhere), only position 1's key "
    "answers it, and it copies that token into OUT, which lm_head reads (gain 10). The other seven heads, among "
    "them a0.h2 that moves the same symbol into JUNK, write only into JUNK."
)


def handbuilt_induction(n: int = 64, seed: int = 0, verify: bool = True) -> GroundTruth:
    """The hand-built induction model on ``synthetic_task("induct", n, seed)``, and its true circuit.

    With `verify`, `info["verification"]` holds, per ablation, the measured
    faithfulness of the true circuit, of its knockout and the worst single-edge removal.

    >>> gt = handbuilt_induction(n=8, verify=False)
    >>> gt.model.spec, gt.true_edges["resample"][1]
    ('groundtruth:handbuilt-induction', 'a0.h1->a1.h2.k')
    """
    model = _model(_induction_weights(), "handbuilt-induction")
    return _groundtruth(model, synthetic_task("induct", n, seed), INDUCTION_TRUTH, INDUCTION_MECHANISM, verify)


def handbuilt_first(n: int = 64, seed: int = 0, verify: bool = True) -> GroundTruth:
    """The hand-built copy model on ``synthetic_task("first", n, seed)``, and its true circuit.

    >>> handbuilt_first(n=8, verify=False).true_edges["zero"][:2]
    ['embed->a1.h1.q', 'embed->a1.h1.k']
    """
    model = _model(_first_weights(), "handbuilt-first")
    return _groundtruth(model, synthetic_task("first", n, seed), FIRST_TRUTH, FIRST_MECHANISM, verify)


HANDBUILT: dict[str, Callable[..., GroundTruth]] = {
    "handbuilt-induction": handbuilt_induction,
    "handbuilt-first": handbuilt_first,
}


def _groundtruth(model: Model, task: Task, truth: dict[str, list[str]], mechanism: str, verify: bool) -> GroundTruth:
    name = model.spec.split(":", 1)[1]
    info = {
        "kind": "handbuilt", "family": "gpt2", "mechanism": mechanism,
        "config": {"n_layer": N_LAYER, "n_head": N_HEAD, "n_embd": D_MODEL, "d_head": D_HEAD,
                   "n_positions": N_POSITIONS, "vocab_size": V, "mlp": "zero"},
        "residual": {"tok": [TOK, TOK + V], "pos": [POS, POS + N_POSITIONS], "prev": [PREV, PREV + V],
                     "out": [OUT, OUT + V], "const": [CONST, CONST + 1], "junk": [JUNK, D_HALF],
                     "mirrored_from": D_HALF},
        "constants": {"attention_logit": HARD, "sink_logit": SINK, "const_norm": CONST_NORM, "logit_gain": LOGIT_GAIN},
        "truth": "read off the construction (resample: edges carrying token identity; zero and mean: also the "
                 "position edges); the verification measures it, it did not choose it",
        "task": {"name": task.name, "n": len(task), "seed": task.seed},
    }
    out = GroundTruth(name, "handbuilt", model, task, {k: list(v) for k, v in truth.items()}, info)
    if verify:
        info["evaluation"] = evaluate(model, task)
        info["verification"] = verify_truth(out)
    return out
