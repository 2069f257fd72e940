"""Run mechscope with its one atomic writer (mechscope.atomic) rigged to kill -9 its own process inside a write:
the fault injection of benchmarks/_crashes.py (`write_kill_trial`). Nothing in the package knows of it.

    python benchmarks/_writekill.py MODE NTH mechscope-args...

MODE ``rename``: the NTH rename (``os.replace``/``os.rename``/``os.link`` in mechscope.atomic: a file's or an
entry folder's temporary, complete, about to be put in place) kills the process just before it happens.
MODE ``half``: the NTH file written through ``atomic_write`` is cut to half its bytes once written, and the
process killed before its rename, as if it died mid-way through writing the temporary.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
from pathlib import Path


def rig(mode: str, nth: int) -> None:
    """Patch mechscope.atomic so that its `nth` rename (or file write, for ``half``) kills the process."""
    import mechscope.atomic as atomic

    seen = [0]

    def due() -> bool:
        seen[0] += 1
        return seen[0] == nth

    def die() -> None:
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    if mode == "rename":
        real = atomic.os

        class RiggedOs:  # `os` as mechscope.atomic sees it: every rename first asks `due`
            def __getattr__(self, name):
                return getattr(real, name)

            def _step(self, name, *args, **kw):
                if due():
                    die()
                return getattr(real, name)(*args, **kw)

            def replace(self, *a, **kw):
                return self._step("replace", *a, **kw)

            def rename(self, *a, **kw):
                return self._step("rename", *a, **kw)

            def link(self, *a, **kw):
                return self._step("link", *a, **kw)

        atomic.os = RiggedOs()
    elif mode == "half":
        real_write = atomic.atomic_write

        def atomic_write(path, write, **kw):
            def cut(tmp: Path):
                out = write(tmp)
                if due():
                    size = Path(tmp).stat().st_size
                    os.truncate(tmp, size // 2)
                    die()
                return out
            return real_write(path, cut, **kw)

        atomic.atomic_write = atomic_write
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    mode, nth, *args = sys.argv[1:]
    rig(mode, int(nth))
    sys.argv = ["mechscope", *args]
    runpy.run_module("mechscope", run_name="__main__", alter_sys=True)
