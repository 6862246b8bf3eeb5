"""glibc's allocator, tuned for a server whose traces are big arrays that live for seconds.

Measured (benchmarks/memory_soak.py, and tracemalloc beside RSS): the server's RSS grew over rounds of
traces while the memory Python held stayed flat — allocator retention, not a leak. glibc serves a block
bigger than its mmap threshold with mmap and gives it back on free, but it raises the threshold to the
size of each such block freed (up to 32 MiB): after one big trace, the next traces' arrays come from the
heap arenas, which are not returned to the system. A fixed threshold keeps big arrays mmapped, and fewer
arenas (one per thread by default) leave fewer half-empty heaps behind.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("uvicorn.error")

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameters (malloc.h)
M_ARENA_MAX = -8
MMAP_THRESHOLD = 256 * 1024  # an H=256 trace row block is far above this; per-step vectors are far below
ARENA_MAX = 2


def tune() -> bool:
    """Set a fixed mmap threshold and few arenas; False where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_ARENA_MAX, ARENA_MAX))
    if not ok:
        log.warning("could not tune the allocator (mallopt refused); memory may be slow to return")
    return ok
