"""Checks every reader makes on what a file declares, before it allocates or reads anything.

A model file's header is written by whoever made the file: a shape may be
negative, a float, a string or 2**70; a length may ask for a gigabyte; JSON
may nest 100,000 deep.  The readers (safetensors, npz, Keras) pass what they
read through these checks, and each failure is one :class:`UserError` line
naming the file, the tensor and the problem.

Examples
--------
>>> check_shape([2, 3], "w.safetensors", "w")
(2, 3)
>>> check_shape([2**40, 2**40], "w.safetensors", "w")
Traceback (most recent call last):
...
fastfrac._errors.UserError: w.safetensors: tensor 'w': shape [1099511627776, 1099511627776] has more elements than int64 counts
>>> check_shape("22", "w.safetensors", "w")
Traceback (most recent call last):
...
fastfrac._errors.UserError: w.safetensors: tensor 'w': shape '22' is not a list of integers
>>> json_depth(b'{"a": {"shape": [1, 2]}, "b": "[[[["}')
3
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from fastfrac._errors import UserError

__all__ = [
    "INT64_MAX",
    "MAX_JSON_DEPTH",
    "MAX_NPY_HEADER",
    "bad",
    "check_byte_count",
    "check_json_depth",
    "check_shape",
    "json_depth",
]

INT64_MAX = (1 << 63) - 1
# NumPy refuses .npy headers longer than this unless the file is fully trusted
# (numpy.lib.format, max_header_size); it is private, hence the fallback.
try:
    from numpy.lib._format_impl import _MAX_HEADER_SIZE as MAX_NPY_HEADER
except ImportError:  # NumPy < 2
    MAX_NPY_HEADER = 10_000
# A safetensors header is three levels deep ({name: {"shape": [...]}}); far
# below the depth at which Python's json module overflows its recursion limit.
MAX_JSON_DEPTH = 32

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_DEPTH_BLOCK = 1 << 20


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def bad(
    path: str | os.PathLike[str], why: str, tensor: str | None = None, kind: str = "tensor"
) -> UserError:
    """The one-line error: ``FILE: tensor 'NAME': WHY`` (no tensor part if None).

    >>> print(bad("m.h5", "uses external storage", "dense/kernel", kind="dataset"))
    m.h5: dataset 'dense/kernel': uses external storage
    """
    where = f"{os.fspath(path)}: " + (f"{kind} {tensor!r}: " if tensor is not None else "")
    return UserError(where + why)


def check_shape(value: Any, path: str | os.PathLike[str], tensor: str) -> tuple[int, ...]:
    """``value`` as a shape: a list (or tuple) of non-negative ints whose product fits int64."""
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(n, int) and not isinstance(n, bool) for n in value
    ):
        raise bad(path, f"shape {_short(value)} is not a list of integers", tensor)
    if any(n < 0 for n in value):
        raise bad(path, f"shape {_short(list(value))} has a negative dimension", tensor)
    count = 1
    for n in value:
        count *= n
        if count > INT64_MAX:  # Python ints do not overflow: stop before they grow huge
            raise bad(path, f"shape {_short(list(value))} has more elements than int64 counts", tensor)
    return tuple(value)


def check_byte_count(
    shape: tuple[int, ...], bits: int, available: int, path: str | os.PathLike[str], tensor: str
) -> None:
    """The values of ``shape`` at ``bits`` each must take exactly ``available`` bytes."""
    count = 1
    for n in shape:
        count *= n
    total_bits = count * bits
    if total_bits % 8 or total_bits // 8 != available:
        raise bad(path, f"shape {_short(list(shape))} needs {total_bits / 8:.0f} bytes "
                        f"but the file gives it {available}", tensor)


def json_depth(raw: bytes) -> int:
    """How deep ``raw``'s arrays and objects nest, brackets inside strings not counted.

    Counted a block at a time with NumPy, so a 100 MB header costs a few
    MB, not a Python loop per byte nor the recursion json.loads would do.
    """
    text = _STRING.sub(b'""', raw)
    codes = np.frombuffer(text, dtype=np.uint8)
    deepest = level = 0
    for i in range(0, codes.size, _DEPTH_BLOCK):
        block = codes[i : i + _DEPTH_BLOCK]
        step = (np.isin(block, (ord("["), ord("{"))).astype(np.int64)
                - np.isin(block, (ord("]"), ord("}"))).astype(np.int64))
        if step.any():
            levels = level + np.cumsum(step)
            deepest = max(deepest, int(levels.max()))
            level = int(levels[-1])
    return deepest


def check_json_depth(raw: bytes, path: str | os.PathLike[str], what: str = "the header") -> None:
    """Refuse JSON nested deeper than :data:`MAX_JSON_DEPTH` (before json.loads recurses into it)."""
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise bad(path, f"{what} nests {depth} levels deep (the limit is {MAX_JSON_DEPTH})")
