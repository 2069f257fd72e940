"""Every model family mechscope handles, one record each: the one home of family knowledge.

A `Family` holds what mechscope knows about an architecture: how to read its
config into an `Adapter` (module paths, head layout, norms, MLP output), the
config attributes that change the computation in a way the adapter does not
model (refused by name, as penzai's converters do), and the shapes of its random
models (``random:<name>-tiny`` for tests, ``random:<name>-small`` with a real
model's shape). Adding a family means adding one record here and its tests; see
``docs/adding-a-family.md``.

>>> sorted(FAMILIES)[:3]
['gemma2', 'gemma3_text', 'gpt2']
>>> family_named("gemma2").small_is
'Gemma-2-2B'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mechscope.errors import MechscopeError
from mechscope.models.adapters import Adapter, Projection


@dataclass(frozen=True)
class Family:
    """One architecture: its adapter builder, refusals and random shapes.

    - `name`: the transformers ``model_type``; `short` the name in ``random:`` specs.
    - `build(config) -> Adapter`.
    - `refuse`: ``{attribute: (is_unhandled(value), why)}``; a config whose value
      makes ``is_unhandled`` true is refused with a one-line error naming it.
    - `config_class`: the transformers config class (by name) of random models;
      `shapes`: size -> config keyword arguments; `small_is`: the real model whose
      shape ``-small`` copies.
    """

    name: str
    label: str
    build: Callable[[object], Adapter]
    config_class: str
    shapes: dict[str, dict]
    small_is: str
    short: str = ""
    layers: str = "model.layers"  # path of the decoder layer list (what the adapter's `layers` says)
    layouts: tuple[str, ...] = ("mha", "mqa", "gqa")
    refuse: dict[str, tuple[Callable[[object], bool], str]] = field(default_factory=dict)

    @property
    def spec_name(self) -> str:
        return self.short or self.name


def _heads(config) -> tuple[int, int, int]:
    n_heads = config.num_attention_heads
    n_kv = getattr(config, "num_key_value_heads", None) or n_heads
    d_head = getattr(config, "head_dim", None) or config.hidden_size // n_heads
    return n_heads, n_kv, d_head


def _separate_qkv(prefix: str, n_heads: int, n_kv: int, d_head: int) -> tuple[Projection, ...]:
    return (
        Projection(f"{prefix}.q_proj", {"q": (0, d_head, n_heads)}, d_head),
        Projection(f"{prefix}.k_proj", {"k": (0, d_head, n_kv)}, d_head),
        Projection(f"{prefix}.v_proj", {"v": (0, d_head, n_kv)}, d_head),
    )


def _decoder(config, family: str, **kw) -> Adapter:
    """The Llama layout (``model.layers.N.self_attn.q_proj``, ...), with overrides."""
    n_heads, n_kv, d_head = _heads(config)
    base = dict(
        family=family, n_layers=config.num_hidden_layers, n_heads=n_heads, n_kv_heads=n_kv,
        d_model=config.hidden_size, d_head=d_head, parallel=False, layers="model.layers",
        attn_norm="input_layernorm", mlp_norm="post_attention_layernorm", mlp="mlp",
        out_proj="self_attn.o_proj", out_proj_transposed=False,
        projections=_separate_qkv("self_attn", n_heads, n_kv, d_head),
        final_norm="model.norm", unembed="lm_head", embed="model.embed_tokens", down_proj="mlp.down_proj",
    )
    base.update(kw)
    return Adapter(**base)


def _llama(config) -> Adapter:
    return _decoder(config, config.model_type)


def _qwen3(config) -> Adapter:
    return _decoder(config, "qwen3", qk_norm="per-head")


def _gemma(config) -> Adapter:
    # Gemma-2 and Gemma-3: input_layernorm -> attn -> post_attention_layernorm -> +resid,
    # pre_feedforward_layernorm -> mlp -> post_feedforward_layernorm -> +resid; norms scale by 1 + w
    return _decoder(
        config, config.model_type, mlp_norm="pre_feedforward_layernorm",
        attn_post_norm="post_attention_layernorm", mlp_post_norm="post_feedforward_layernorm", norm_offset=1.0,
        qk_norm="per-head" if config.model_type == "gemma3_text" else "none",
    )


def _olmo2(config) -> Adapter:
    # no pre-norms: attention and MLP read the residual stream; their outputs are normalised
    return _decoder(
        config, "olmo2", attn_norm=None, mlp_norm=None, attn_post_norm="post_attention_layernorm",
        mlp_post_norm="post_feedforward_layernorm", qk_norm="all-heads",
    )


def _phi3(config) -> Adapter:
    n_heads, n_kv, d_head = _heads(config)
    # qkv_proj output is [q heads | k heads | v heads]; gate_up_proj lives inside the MLP node
    heads = {"q": (0, d_head, n_heads), "k": (n_heads * d_head, d_head, n_kv), "v": ((n_heads + n_kv) * d_head, d_head, n_kv)}
    return _decoder(config, "phi3", projections=(Projection("self_attn.qkv_proj", heads, d_head),))


def _gpt2(config) -> Adapter:
    n_heads, d_model = config.n_head, config.n_embd
    d_head = d_model // n_heads
    heads = {kind: (i * d_model, d_head, n_heads) for i, kind in enumerate("qkv")}
    return Adapter(
        family="gpt2", n_layers=config.n_layer, n_heads=n_heads, n_kv_heads=n_heads,
        d_model=d_model, d_head=d_head, parallel=False, layers="transformer.h",
        attn_norm="ln_1", mlp_norm="ln_2", mlp="mlp", out_proj="attn.c_proj",
        out_proj_transposed=True, projections=(Projection("attn.c_attn", heads, d_head, transposed=True),),
        final_norm="transformer.ln_f", unembed="lm_head", embed="transformer.wte",
        down_proj="mlp.c_proj", down_proj_transposed=True,
    )


def _gpt_neox(config) -> Adapter:
    n_heads, d_model = config.num_attention_heads, config.hidden_size
    d_head = d_model // n_heads
    # query_key_value output is laid out [head, (q|k|v), d_head]
    heads = {kind: (i * d_head, 3 * d_head, n_heads) for i, kind in enumerate("qkv")}
    return Adapter(
        family="gpt_neox", n_layers=config.num_hidden_layers, n_heads=n_heads,
        n_kv_heads=n_heads, d_model=d_model, d_head=d_head,
        parallel=bool(config.use_parallel_residual), layers="gpt_neox.layers",
        attn_norm="input_layernorm", mlp_norm="post_attention_layernorm", mlp="mlp",
        out_proj="attention.dense", out_proj_transposed=False,
        projections=(Projection("attention.query_key_value", heads, d_head),),
        final_norm="gpt_neox.final_layer_norm", unembed="embed_out", embed="gpt_neox.embed_in",
        down_proj="mlp.dense_4h_to_h",
    )


_TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
_POST_NORM_BIAS = (
    lambda v: bool(v),
    "puts a bias on the attention output projection, which the post-attention norm then mixes with "
    "every head's output (no head owns it); use a checkpoint with attention_bias=false",
)

_FAMILIES = [
    Family("llama", "Llama, SmolLM2", _llama, "LlamaConfig", {
        "tiny": _TINY,
        "small": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3),
    }, "SmolLM2-135M", refuse={"pretraining_tp": (lambda v: (v or 1) != 1, "splits projections into slices")}),
    Family("mistral", "Mistral", _llama, "MistralConfig", {
        # a 4-token window, so that the sliding window changes a 12-token prompt
        "tiny": dict(_TINY, sliding_window=4),
        "small": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=4, num_attention_heads=32,
                      num_key_value_heads=8, sliding_window=4096),
    }, "Mistral-7B-v0.1 (its layer shape; 4 of its 32 layers)"),
    Family("qwen2", "Qwen2, Qwen2.5", _llama, "Qwen2Config", {
        "tiny": _TINY,
        "small": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2),
    }, "Qwen2.5-0.5B"),
    Family("qwen3", "Qwen3", _qwen3, "Qwen3Config", {
        "tiny": dict(_TINY, head_dim=16),
        "small": dict(hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
                      num_key_value_heads=8, head_dim=128),
    }, "Qwen3-0.6B"),
    Family("gemma2", "Gemma-2", _gemma, "Gemma2Config", {
        # soft-caps small enough to act on a random model's small logits; window 4 acts on 12 tokens
        "tiny": dict(_TINY, head_dim=16, query_pre_attn_scalar=16, sliding_window=4, attn_logit_softcapping=0.5,
                     final_logit_softcapping=0.2, layer_types=["sliding_attention", "full_attention"]),
        "small": dict(hidden_size=2304, intermediate_size=9216, num_hidden_layers=26, num_attention_heads=8,
                      num_key_value_heads=4, head_dim=256, query_pre_attn_scalar=256, sliding_window=4096,
                      attn_logit_softcapping=50.0, final_logit_softcapping=30.0),
    }, "Gemma-2-2B", refuse={"attention_bias": _POST_NORM_BIAS}),
    Family("gemma3_text", "Gemma-3 (text)", _gemma, "Gemma3TextConfig", {
        "tiny": dict(_TINY, num_hidden_layers=3, head_dim=16, query_pre_attn_scalar=16, sliding_window=4,
                     layer_types=["sliding_attention", "sliding_attention", "full_attention"]),
        "small": dict(hidden_size=1152, intermediate_size=6912, num_hidden_layers=26, num_attention_heads=4,
                      num_key_value_heads=1, head_dim=256, query_pre_attn_scalar=256, sliding_window=512),
    }, "Gemma-3-1B", short="gemma3", refuse={"attention_bias": _POST_NORM_BIAS}),
    Family("olmo2", "OLMo-2", _olmo2, "Olmo2Config", {
        "tiny": _TINY,
        "small": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=16,
                      num_key_value_heads=16),
    }, "OLMo-2-0425-1B", refuse={"attention_bias": _POST_NORM_BIAS}),
    Family("phi3", "Phi-3", _phi3, "Phi3Config", {
        "tiny": _TINY,
        "small": dict(hidden_size=3072, intermediate_size=8192, num_hidden_layers=32, num_attention_heads=32,
                      num_key_value_heads=32),
    }, "Phi-3-mini-4k"),
    Family("gpt2", "GPT-2", _gpt2, "GPT2Config", {
        "tiny": dict(n_embd=64, n_layer=2, n_head=4),
        "small": dict(n_embd=768, n_layer=12, n_head=12),
    }, "GPT-2 small", layers="transformer.h", layouts=("mha",), refuse={
        "add_cross_attention": (bool, "adds cross-attention blocks, which read no residual stream of this model"),
    }),
    Family("gpt_neox", "GPT-NeoX, Pythia", _gpt_neox, "GPTNeoXConfig", {
        "tiny": dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                     rotary_pct=0.25, use_parallel_residual=True),
        "small": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                      rotary_pct=0.25, use_parallel_residual=True),
    }, "Pythia-160M", short="neox", layers="gpt_neox.layers", layouts=("mha",)),
]

FAMILIES: dict[str, Family] = {f.name: f for f in _FAMILIES}
SUPPORTED_ARCHITECTURES: dict[str, str] = {f.name: f.label for f in _FAMILIES}
_BY_SPEC_NAME = {f.spec_name: f for f in _FAMILIES}


def family_named(name: str) -> Family:
    """The family with this ``model_type`` or random-spec name (``neox``, ``gemma3``)."""
    fam = FAMILIES.get(name) or _BY_SPEC_NAME.get(name)
    if fam is None:
        raise _unsupported(name)
    return fam


def _unsupported(model_type) -> MechscopeError:
    supported = ", ".join(f"{k} ({v})" for k, v in SUPPORTED_ARCHITECTURES.items())
    hint = ""
    if model_type == "gemma3":
        hint = " This is Gemma-3's image-text config: load its text model (model_type gemma3_text) instead."
    return MechscopeError(
        f"architecture {model_type!r} is not supported; supported are {supported}.{hint} "
        "Open an issue with the model id to request an adapter (docs/adding-a-family.md)."
    )


def check_config(config) -> Family:
    """The family of a config, after refusing any attribute whose value its adapter does not handle."""
    fam = FAMILIES.get(getattr(config, "model_type", None))
    if fam is None:
        raise _unsupported(getattr(config, "model_type", None))
    for attr, (unhandled, why) in fam.refuse.items():
        value = getattr(config, attr, None)
        if unhandled(value):
            raise MechscopeError(
                f"config attribute {attr}={value!r} of this {fam.label} model is not handled by mechscope: it {why}"
            )
    return fam


def adapter_for(config) -> Adapter:
    """The adapter for a transformers config, or a one-line error naming what is not handled.

    >>> from transformers import GPT2Config
    >>> adapter_for(GPT2Config(n_layer=2, n_head=4, n_embd=64)).n_heads
    4
    >>> from transformers import Gemma2Config
    >>> adapter_for(Gemma2Config(attention_bias=True))
    Traceback (most recent call last):
    ...
    mechscope.errors.MechscopeError: config attribute attention_bias=True of this Gemma-2 model is not handled ...
    """
    return check_config(config).build(config)


def random_config(family: str, size: str, vocab_size: int, **overrides):
    """A transformers config of the named family (``model_type`` or spec name) and size.

    >>> random_config("gemma2", "tiny", vocab_size=100).sliding_window
    4
    """
    import transformers

    fam = _BY_SPEC_NAME.get(family) or FAMILIES.get(family)
    if fam is None or size not in fam.shapes:
        names = ", ".join(f.spec_name for f in _FAMILIES)
        raise MechscopeError(
            f"unknown random model '{family}-{size}'; families are {names} and sizes tiny, small "
            "(e.g. random:gemma2-tiny)"
        )
    kwargs = dict(fam.shapes[size], vocab_size=vocab_size, **overrides)
    if fam.name == "gpt2":
        kwargs.setdefault("n_positions", 1024)
    else:
        kwargs.setdefault("max_position_embeddings", 2048)
    if fam.name not in ("gpt2", "gpt_neox"):
        kwargs.setdefault("tie_word_embeddings", True)
    return getattr(transformers, fam.config_class)(**kwargs)


def layout_overrides(family: str, layout: str) -> dict:
    """Config overrides that give a tiny model multi-head, multi-query or grouped-query attention.

    >>> layout_overrides("qwen3", "mqa")
    {'num_key_value_heads': 1}
    """
    fam = family_named(family)
    if layout not in fam.layouts:
        raise MechscopeError(f"{fam.label} has no {layout!r} layout; it has {', '.join(fam.layouts)}")
    n_heads = fam.shapes["tiny"].get("num_attention_heads", fam.shapes["tiny"].get("n_head"))
    return {"mha": {"num_key_value_heads": n_heads}, "mqa": {"num_key_value_heads": 1},
            "gqa": {"num_key_value_heads": 2}}[layout] if fam.layouts != ("mha",) else {}
