"""Describe what a component computes, scored on a FIND-style benchmark that runs offline.

A benchmark (`build`, `Benchmark.load`) holds numeric functions, string
functions and concept neurons with full ground truth, each callable in Python
and as a standalone script. Interpreters (`BaselineInterpreter`,
`LLMInterpreter`) answer with an `Interpretation`: a description, code, the
corrupted interval and the noise type; `run` scores them per category.
`describe_unit` points the same machinery at a unit of a real model.

>>> import tempfile
>>> from mechscope import describe
>>> bench = describe.build(seed=3, size=1, out=tempfile.mkdtemp() + "/bench")
>>> summary = describe.run(bench, describe.BaselineInterpreter(), domains=("strings",))["summary"]
>>> sorted(row["category"] for row in summary)[0].startswith("strings")
True
"""

from __future__ import annotations

import importlib

# Lazy, so that importing one submodule (e.g. in the child process that runs
# untrusted code) does not pay for torch.
_LAZY = {
    "Benchmark": "mechscope.describe.bench",
    "build": "mechscope.describe.bench",
    "default_dir": "mechscope.describe.bench",
    "Interpretation": "mechscope.describe.interpretation",
    "LLMJudge": "mechscope.describe.judge",
    "RuleJudge": "mechscope.describe.judge",
    "LLMInterpreter": "mechscope.describe.llm",
    "BaselineInterpreter": "mechscope.describe.runner",
    "run": "mechscope.describe.runner",
    "describe_unit": "mechscope.describe.unit",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mechscope.describe' has no attribute {name!r}")
