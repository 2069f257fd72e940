"""Memory that large CPU tensors reuse: huge pages and glibc's thresholds, for passes that allocate alike.

A patched pass allocates the same large buffers again and again (the difference buffer, the receivers'
inputs, K tiled copies of the prompts for a batch of ACDC tries). By default glibc serves each one above
32 MB with a fresh ``mmap`` and unmaps it on free, so every pass zeroes and page-faults its buffers in again,
4 KiB at a time; on this project's 2-core VM that was about a third of an ACDC batch (`benchmarks/README.md`,
"Issue 25, 6 Dec 2026: freed memory and huge pages, no zero rows"). Two settings, both process-wide and
applied once:

- `use_huge_pages` (at ``import mechscope``, before torch allocates anything): PyTorch's own
  ``THP_MEM_ALLOC_ENABLE``, so CPU tensors of 2 MB and more sit on transparent huge pages (512 times fewer
  faults). A value the user set is kept; PyTorch reads it at its first allocation, so importing torch and
  allocating before mechscope leaves it off.
- `keep_freed_memory` (when a model is wrapped): glibc's mmap and trim thresholds at 2 GiB, so freed blocks
  go back to the heap and the next pass reuses them. Peak memory is the same (the same tensors are live);
  memory freed below the peak stays with the process until it exits. Linux with glibc only;
  ``MECHSCOPE_KEEP_FREED_MEMORY=0`` leaves the allocator as it is.

>>> keep_freed_memory() in (True, False)
True
"""

from __future__ import annotations

import ctypes
import os
import platform

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
_LIMIT = 2**31 - 1  # mallopt takes an int
_kept: bool | None = None


def use_huge_pages() -> None:
    """Ask PyTorch for transparent huge pages for large CPU tensors, unless the user said otherwise."""
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds to 2 GiB, once per process; True where they are now set."""
    global _kept
    if _kept is None:
        _kept = False
        if os.environ.get("MECHSCOPE_KEEP_FREED_MEMORY", "1") != "0" and platform.libc_ver()[0] == "glibc":
            try:
                libc = ctypes.CDLL("libc.so.6")
                _kept = bool(libc.mallopt(_M_MMAP_THRESHOLD, _LIMIT)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _LIMIT))
            except (OSError, AttributeError):  # no such library or symbol: leave the allocator alone
                _kept = False
    return _kept
