"""Ctrl-C, remembered: the command says "interrupted" even when the interrupt comes out as another error.

Python's own handler raises KeyboardInterrupt wherever the main thread is. When that is inside an extension
module's import (torch importing numpy in the command's first second), the module can come out half-loaded,
and the next import of it raises ``ImportError: cannot load module more than once per process`` instead. The
command line installs `remember_ctrl_c` first thing, and then treats any error that follows a Ctrl-C as the
interrupt (one line, status 130) rather than a bug with a traceback.

>>> import signal
>>> previous = signal.getsignal(signal.SIGINT)
>>> remember_ctrl_c(), ctrl_c_seen()
(True, False)
>>> _ = signal.signal(signal.SIGINT, previous)
"""

from __future__ import annotations

import signal

_seen: list[bool] = []


def _on_ctrl_c(signum, frame):
    _seen.append(True)
    raise KeyboardInterrupt


def remember_ctrl_c() -> bool:
    """Replace Python's own Ctrl-C handler with one that also remembers the interrupt; returns whether it did
    (not over ``SIG_IGN`` or a program's own handler: a process started with Ctrl-C ignored stays so)."""
    if signal.getsignal(signal.SIGINT) is _on_ctrl_c:
        return True
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return False
    signal.signal(signal.SIGINT, _on_ctrl_c)
    return True


def ctrl_c_seen() -> bool:
    """Whether a Ctrl-C reached the handler of `remember_ctrl_c`."""
    return bool(_seen)
