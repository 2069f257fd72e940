"""Where a model's weights and activations live when one device does not hold it: accelerate's device maps.

A model loaded with a device map (``load(spec, device_map="auto")`` or an explicit ``{module: device}``) has
its layers spread over devices, and may keep some layers' weights offloaded (on the CPU or on disk, the
parameter itself on the ``meta`` device between calls, brought in by an accelerate hook around each forward).
Two rules keep mechscope exact there:

- code that reads a module's weights outside that module's own forward (the engine's per-head projections,
  its gradient paths) does so inside `onloaded(module)`;
- a tensor the engine keeps for a whole call (patch, diff, record) lives on the input device (where the
  embedding runs, `input_device`) and is moved with `on_device_of` where it meets an activation of a layer
  on another device.

>>> from torch import nn
>>> with onloaded(nn.Linear(2, 2)) as m:
...     m.weight.shape
torch.Size([2, 2])
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn


def is_dispatched(hf: nn.Module) -> bool:
    """True when the model was placed by an accelerate device map (its layers may sit on several devices)."""
    return bool(getattr(hf, "hf_device_map", None))


def _offloaded(module: nn.Module) -> bool:
    hook = getattr(module, "_hf_hook", None)
    return hook is not None and getattr(hook, "offload", False)


@contextlib.contextmanager
def onloaded(module: nn.Module) -> Iterator[nn.Module]:
    """`module` with the weights of it and its submodules on their execution device inside the block (a no-op
    for a module that is not offloaded); they go back to their offload store on exit."""
    parts = [m for m in module.modules() if _offloaded(m)]
    if not parts:
        yield module
        return
    from accelerate.utils import align_module_device

    with contextlib.ExitStack() as stack:
        for m in parts:
            stack.enter_context(align_module_device(m))
        yield module


def execution_device(module: nn.Module) -> torch.device:
    """The device `module` computes on: its accelerate hook's execution device, else its first weight's."""
    hook = getattr(module, "_hf_hook", None)
    dev = getattr(hook, "execution_device", None)
    if dev is not None:
        return torch.device(dev) if not isinstance(dev, int) else torch.device("cuda", dev)
    for p in module.parameters():
        if p.device.type != "meta":
            return p.device
    for m in module.modules():  # weights offloaded below a hooked child
        h = getattr(m, "_hf_hook", None)
        if getattr(h, "execution_device", None) is not None:
            return execution_device(m)
    return torch.device("cpu")


def input_device(hf: nn.Module) -> torch.device:
    """The device token ids must be on: where the input embedding computes."""
    return execution_device(hf.get_input_embeddings())


def tensor_value(root: nn.Module, name: str) -> torch.Tensor:
    """The value of `root`'s state tensor `name` on the CPU, read from the offload store if it is offloaded."""
    owner_path, _, leaf = name.rpartition(".")
    owner = root.get_submodule(owner_path) if owner_path else root
    with onloaded(owner):
        return getattr(owner, leaf).detach().cpu()


MAP_PREFIX = "map:"


def parse_device_map(text: str) -> str | dict:
    """A ``--device map:...`` value's map: ``auto``, ``balanced`` or a JSON file of ``{module path: device}``.

    >>> parse_device_map("auto")
    'auto'
    """
    import json
    from pathlib import Path

    from mechscope.errors import MechscopeError

    if text in ("auto", "balanced"):
        return text
    path = Path(text)
    if not path.is_file():
        raise MechscopeError(f"device map {text!r} is neither auto, balanced nor a JSON file; use --device map:auto, "
                             "map:balanced or map:<file.json> holding {\"model.layers.0\": \"cuda:0\", ...}")
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MechscopeError(f"device map file {text!r} cannot be read as JSON ({exc}); write it as "
                             "{\"module path\": \"cuda:0\" | \"cpu\" | \"disk\", ...}") from None
    if not isinstance(doc, dict) or not all(isinstance(k, str) and isinstance(v, (str, int)) for k, v in doc.items()):
        raise MechscopeError(f"device map file {text!r} must be one JSON object of module paths to devices, "
                             "e.g. {\"model.layers.0\": \"cuda:0\", \"lm_head\": \"cuda:1\"}")
    return doc


def dispatch(hf: nn.Module, device_map, max_memory: dict | None = None) -> nn.Module:
    """`hf` (weights in memory) spread over devices by `device_map`: ``"auto"``/``"balanced"`` (accelerate
    fills the GPUs, then the CPU, then disk) or ``{module path: device}`` with devices such as ``"cuda:0"``,
    ``"cpu"`` or ``"disk"``. The main device is the first entry's (not ``"disk"``): when it is a GPU, modules
    mapped to ``"cpu"`` are offloaded there and compute on that GPU (accelerate's ``"auto"``); when the map
    starts on the CPU, they compute on the CPU and GPU entries on their GPU. ``"disk"`` modules are offloaded
    to a temporary folder.
    """
    from accelerate import dispatch_model, infer_auto_device_map

    if isinstance(device_map, str):
        no_split = getattr(hf, "_no_split_modules", None) or []
        kwargs = {"max_memory": max_memory} if max_memory else {}
        if device_map == "balanced":
            from accelerate.utils import get_balanced_memory

            kwargs["max_memory"] = get_balanced_memory(hf, no_split_module_classes=no_split, **kwargs)
        device_map = infer_auto_device_map(hf, no_split_module_classes=no_split, **kwargs)
    offload = None
    if "disk" in set(map(str, device_map.values())):
        offload = str(offload_folder())
    placed = [d for d in device_map.values() if str(d) != "disk"]
    main = placed[0] if placed else "cpu"
    main = f"cuda:{main}" if isinstance(main, int) else main
    return dispatch_model(hf, device_map=device_map, main_device=main, offload_dir=offload)


def on_device_of(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`t` on `like`'s device (`t` itself when it is there already: no copy on one device).

    >>> x = torch.ones(2)
    >>> on_device_of(x, torch.zeros(1)) is x
    True
    """
    return t if t.device == like.device else t.to(like.device)


def offload_folder():
    """A fresh folder under the system's temporary directory for weights offloaded to disk."""
    import tempfile

    from mechscope.atomic import temp_folder

    return temp_folder(tempfile.gettempdir(), "mechscope-offload")


def layered_device_map(model, layer: Callable[[int], str], *, embed: str, rest: str, head: str) -> dict[str, str]:
    """An explicit device map of `model` (a `mechscope.models.Model`) over its top-level modules, layer by layer.

    Decoder layer ``i`` goes to ``layer(i)``; the embeddings beside the layers to `embed`, every other module
    beside them (the final norm, rotary tables) to `rest`; the modules above them (the unembedding) to `head`.

    >>> from mechscope.models import load
    >>> dm = layered_device_map(load("random:llama-tiny"), lambda i: "disk" if i == 1 else "cpu",
    ...                         embed="cpu", rest="cpu", head="disk")
    >>> dm["model.layers.1"], dm["model.embed_tokens"], dm["lm_head"]
    ('disk', 'cpu', 'disk')
    """
    a = model.adapter
    parent = a.layers.rpartition(".")[0]
    dm = {}
    for name, _ in model.hf.get_submodule(parent).named_children():
        full = f"{parent}.{name}"
        if full == a.layers:
            dm.update({f"{full}.{i}": layer(i) for i in range(a.n_layers)})
        else:
            dm[full] = embed if "emb" in name or name in ("wte", "wpe") else rest
    for name, _ in model.hf.named_children():
        if name != parent.split(".")[0]:
            dm[name] = head
    return dm
