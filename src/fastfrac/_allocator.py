"""Let the ``fastfrac`` command keep freed memory instead of returning it to the kernel.

Every chunk of a file makes new arrays of several MB (values, int64 fractions,
codec buffers) and frees them a moment later.  glibc's malloc serves blocks of
that size with fresh ``mmap`` pages, or trims its heap after each free, so the
next chunk pays page faults and zeroing again.  Measured on the 1.2 GB
synthetic bfloat16 checkpoint of ``benchmarks/bench_checkpoint.py`` with
``--fractions`` (2 threads, two runs each): 400,000-450,000 minor page faults
and 3.3-3.7 s of system time by default; 30,000 and 1.3-1.7 s with the
thresholds below, and 2.2-2.6 s less wall time; the plain run was unchanged.
Peak RSS rose from 141-148 MB to 180 MB.

Only the command does this, when it runs as the program (``python -m
fastfrac`` or the ``fastfrac`` script): ``mallopt`` is process-wide, and a
library must not change how its host process allocates.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["keep_freed_memory"]

# mallopt's parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Blocks below 64 MB come from the heap (a chunk's largest array is 8 MB),
# and up to 1 GB of freed heap stays mapped for the next chunk.
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 1 << 30


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds; whether it could (False off glibc).

    >>> isinstance(keep_freed_memory(), bool)
    True
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # a libc without mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
