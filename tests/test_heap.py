"""`mechscope.heap`: large CPU tensors on huge pages, freed blocks reused (Linux, glibc)."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

MB256 = 256 * 2**20
PAGES = MB256 // os.sysconf("SC_PAGE_SIZE")

# minor page faults of filling a new 256 MB tensor after `import mechscope`
_TENSOR = """
import resource, mechscope, torch
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
torch.empty(64 * 2**20).fill_(1.0)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

# minor page faults of a 256 MB block malloc'ed, filled and freed, then again (the second count is printed)
_BLOCK = """
import ctypes, resource
from mechscope.heap import keep_freed_memory
print(keep_freed_memory())
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.memset.argtypes, libc.free.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t], [ctypes.c_void_p]
for _ in range(2):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    p = libc.malloc(256 * 2**20); libc.memset(p, 1, 256 * 2**20); libc.free(p)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _run(code: str, **env: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **env})
    return out.stdout.split()


def _thp_mode() -> str:
    path = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    text = path.read_text() if path.exists() else ""
    return text.split("[", 1)[1].split("]", 1)[0] if "[" in text else "never"


@pytest.mark.skipif(_thp_mode() not in ("always", "madvise"), reason="no transparent huge pages on this kernel")
def test_large_tensors_sit_on_huge_pages_unless_the_user_says_no():
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    faults = int(subprocess.run([sys.executable, "-c", _TENSOR], capture_output=True, text=True, check=True,
                                env=env).stdout.split()[-1])
    assert faults < PAGES // 20  # 2 MB pages: 128 faults, not 65,536
    if _thp_mode() == "madvise":  # the user's own setting is kept: 4 KiB pages again
        assert int(_run(_TENSOR, THP_MEM_ALLOC_ENABLE="0")[-1]) > PAGES // 2


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
def test_a_freed_large_block_is_reused_without_page_faults():
    kept, faults = _run(_BLOCK, MECHSCOPE_KEEP_FREED_MEMORY="1")
    assert kept == "True" and int(faults) < PAGES // 20  # the freed block comes back from the heap
    kept, faults = _run(_BLOCK, MECHSCOPE_KEEP_FREED_MEMORY="0")  # opted out: a fresh mapping, faulted in again
    assert kept == "False" and int(faults) > PAGES // 2
