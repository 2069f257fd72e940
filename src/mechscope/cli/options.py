"""The options every model-loading command shares: ``--device`` and ``--dtype``, defined and checked once.

A command declares ``device: Device = None, dtype: Dtype = None`` and passes both strings on (to
`load_spec`, a `RunSpec`, ...). A bad value stops the command before any work, with one line naming the
flag and the fix (`mechscope.models.loading.resolve_device` / `resolve_dtype` say what is wrong):

    error: invalid value for '--device': device 'cuda:7' asked for, but torch sees no CUDA GPU; use --device cpu
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mechscope.cli.output import status
from mechscope.errors import MechscopeError

DEVICE_HELP = ("cpu, cuda, cuda:N or auto (CUDA if present); map:auto, map:balanced or map:<file.json> for a "
               "model larger than one GPU (accelerate spreads its layers over the GPUs, then the CPU)")
DTYPE_HELP = "float32, bfloat16 or float16 (default: float32 on CPU, the model's own dtype on a GPU)"


def check_device(value: str | None) -> str | None:
    """`value` unchanged when the models layer accepts it as a device; else a usage error naming ``--device``.

    >>> check_device("cpu")
    'cpu'
    >>> check_device("gpu")
    Traceback (most recent call last):
    ...
    typer._click.exceptions.BadParameter: device 'gpu' is not understood; use cpu, cuda, cuda:N, auto or map:auto (a model larger than one GPU)
    """
    from mechscope.models.loading import resolve_device

    if value is None:
        return None
    try:
        resolve_device(value)
    except MechscopeError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--device'") from None
    return value


def check_dtype(value: str | None) -> str | None:
    """`value` unchanged when it names a dtype the models layer loads in; else a usage error naming ``--dtype``.

    >>> check_dtype("bfloat16")
    'bfloat16'
    >>> check_dtype("float64")
    Traceback (most recent call last):
    ...
    typer._click.exceptions.BadParameter: dtype 'float64' is not one of float32, bfloat16, float16; e.g. --dtype bfloat16
    """
    import torch

    from mechscope.models.loading import DTYPE_NAMES, resolve_dtype

    if value is None:
        return None
    if value not in DTYPE_NAMES:  # float64 loads in the Python API only (its exactness checks)
        raise typer.BadParameter(f"dtype {value!r} is not one of {', '.join(DTYPE_NAMES)}; e.g. --dtype bfloat16",
                                 param_hint="'--dtype'")
    try:
        resolve_dtype(value, torch.device("cpu"))
    except MechscopeError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--dtype'") from None
    return value


Device = Annotated[Optional[str], typer.Option("--device", help=DEVICE_HELP, callback=check_device,
                                               show_default=False)]
Dtype = Annotated[Optional[str], typer.Option("--dtype", help=DTYPE_HELP, callback=check_dtype,
                                              show_default=False)]


def load_spec(spec: str, quiet: bool = False, device: str | None = None, dtype: str | None = None):
    """`mechscope.models.load(spec, device, dtype)` behind a "loading ..." spinner (none when `quiet`)."""
    from mechscope.models import load

    with status(f"loading {spec}", quiet):
        return load(spec, device=device, dtype=dtype)
