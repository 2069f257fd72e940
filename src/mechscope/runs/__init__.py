"""Runs (layer 6): the method registry, run specs with a stable hash, `execute`, executors and sweeps.

Every surface (the CLI, the web jobs, the demo, notebooks, sweeps) runs science through here: it builds a
`RunSpec`, `execute`s it (or hands a list to an executor) and shows the recorded result.

>>> import tempfile
>>> import mechscope.runs as runs
>>> from mechscope.store import Store
>>> spec = runs.RunSpec("discover", "eap-ig", "random:gpt2-tiny", "ioi", n=8, params={"edges": 12, "steps": 2})
>>> result = runs.execute(spec, store=Store(tempfile.mkdtemp()))
>>> result.row["kind"], result.row["edges_kept"] <= 12
('circuit', True)
"""

from mechscope.runs.execute import RunResult, execute
from mechscope.runs.executors import make_executor
from mechscope.runs.registry import get_method, methods, register
from mechscope.runs.spec import RunSpec
from mechscope.runs.sweep import run_sweep

# The public surface (docs/public-api.md); executors, parameter models and sweep files are one module deeper.
__all__ = ["RunResult", "RunSpec", "execute", "get_method", "make_executor", "methods", "register", "run_sweep"]
