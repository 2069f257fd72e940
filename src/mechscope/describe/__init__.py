"""Describe what a component computes, scored on a FIND-style benchmark that runs offline.

A benchmark (`build_benchmark`, `Benchmark.load`) holds numeric functions, string
functions and concept neurons with full ground truth, each callable in Python
and as a standalone script. Interpreters (`BaselineInterpreter`,
`LLMInterpreter`) answer with an `Interpretation`: a description, code, the
corrupted interval and the noise type; `run_benchmark` scores them per category.
`describe_unit` points the same machinery at a unit of a real model.

>>> import tempfile
>>> from mechscope import describe
>>> bench = describe.build_benchmark(seed=3, size=1, out=tempfile.mkdtemp() + "/bench")
>>> summary = describe.run_benchmark(bench, describe.BaselineInterpreter(), domains=("strings",))["summary"]
>>> sorted(row["category"] for row in summary)[0].startswith("strings")
True
"""

from __future__ import annotations

import importlib

# Lazy, so that importing one submodule (e.g. in the child process that runs
# untrusted code) does not pay for torch.
# The public surface (docs/public-api.md); judges and the rest are one module deeper.
_LAZY = {
    "Benchmark": "mechscope.describe.bench",
    "build_benchmark": "mechscope.describe.bench",
    "Interpretation": "mechscope.describe.interpretation",
    "LLMInterpreter": "mechscope.describe.llm",
    "BaselineInterpreter": "mechscope.describe.runner",
    "run_benchmark": "mechscope.describe.runner",
    "describe_unit": "mechscope.describe.unit",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mechscope.describe' has no attribute {name!r}")
