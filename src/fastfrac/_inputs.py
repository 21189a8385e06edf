"""Argument checking for the public API: clear errors before any work is done.

Everything the C kernels receive passes through here, so they can assume
one-dimensional, C-contiguous, native-order arrays of the right dtype.
"""

from __future__ import annotations

import operator
import os
from typing import Any

import numpy as np

from fastfrac._types import BFLOAT16, FLOAT16, FLOAT_TYPES, OutputLimits

__all__ = [
    "as_bounds",
    "as_numerator_bounds",
    "as_floats",
    "as_ints",
    "check_finite",
    "check_mode",
    "check_p",
    "check_positive",
    "flat",
    "raise_overflow",
    "thread_count",
    "where",
]



def where(shape: tuple[int, ...], flat_index: int) -> tuple[int, ...]:
    """The C-order index tuple of a flat position."""
    return tuple(int(i) for i in np.unravel_index(flat_index, shape)) if shape else ()


def _is_array_like(x: Any) -> bool:
    """Whether numpy.asarray(x) takes x's own dtype rather than guessing one from Python values."""
    if isinstance(x, (np.ndarray, np.generic)):
        return True
    if any(hasattr(x, attr) for attr in ("__array__", "__array_interface__", "__array_struct__")):
        return True
    if isinstance(x, (str, bytes, bytearray)):
        return False
    try:
        memoryview(x)  # the buffer protocol: memoryview, array.array, ...
    except TypeError:
        return False
    return True


def _shown(value: Any) -> str:
    """A value for an error message: in its own type, and short even for a huge int."""
    text = str(value)
    return text if len(text) <= 40 else f"{text[:12]}...{text[-6:]} ({len(text)} digits)"


def _kept_float(arr: np.ndarray, name: str) -> np.ndarray:
    """arr if it has a supported float dtype (in native byte order); TypeError otherwise."""
    if arr.dtype == BFLOAT16:  # ml_dtypes' type (kind "V"): one byte order only
        return arr
    if arr.dtype.kind == "f" and arr.dtype.newbyteorder("=") in FLOAT_TYPES:
        return arr.astype(arr.dtype.newbyteorder("="), copy=False)
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} must be numbers, not bools")
    if arr.dtype.kind in "US":
        raise TypeError(f"{name} must be numbers, not {'strings' if arr.dtype.kind == 'U' else 'bytes'}")
    # uint16 included: bit patterns do not say which 16-bit float they are.
    raise TypeError(
        f"{name} must be a float16, bfloat16, float32 or float64 array, not {arr.dtype}"
        + (" (bit patterns: view them as numpy.float16 or ml_dtypes.bfloat16)"
           if arr.dtype == np.uint16 else "")
    )


def _from_python(x: Any, name: str) -> np.ndarray:
    """Python numbers (a scalar or nested lists) as float64; NumPy floats alone keep their type."""
    try:
        items = np.asarray(x, dtype=object)
    except ValueError as exc:  # ragged nesting
        raise TypeError(f"{name} must be numbers in a rectangular nesting: {exc}") from None
    values = items.reshape(-1)
    kinds = set(map(type, values))
    for kind in kinds:
        # bool is an int to Python and NumPy; here it is almost surely a mask by mistake.
        if issubclass(kind, (bool, np.bool_)):
            raise TypeError(f"{name} must be numbers, not bools")
        if kind is type(None):
            raise TypeError(f"{name} must be numbers, not None")
        if issubclass(kind, (str, bytes, bytearray)):
            raise TypeError(f"{name} must be numbers, not {kind.__name__}")
        if issubclass(kind, (list, tuple)):
            raise TypeError(f"{name} must be numbers in a rectangular nesting (lists of one length)")
    if kinds and all(issubclass(k, np.floating) or k is BFLOAT16.type for k in kinds):
        # Every element a NumPy float: NumPy's promotion picks their common type.
        return _kept_float(np.asarray(x), name)
    try:
        return items.astype(np.float64)
    except OverflowError:
        for value in values:
            try:
                float(value)
            except OverflowError:
                raise ValueError(f"{name} has a value outside float64's range: {_shown(value)}") from None
        raise
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be real numbers convertible to float64: {exc}") from None


def as_floats(x: Any, name: str = "x") -> np.ndarray:
    """x as a float16, bfloat16, float32 or float64 array in native byte order (not yet flattened).

    The rule: x is taken as ``numpy.asarray(x)``.  Whatever holds the values
    (an ndarray, a NumPy scalar, a memoryview or ``array.array``, an object
    with ``__array__``, a list of NumPy floats), a float16, bfloat16
    (``ml_dtypes.bfloat16``), float32 or float64 dtype is kept, and any other
    dtype (uint16 bit patterns included) is a TypeError.  Python numbers (a scalar or
    lists of them) become float64.  None, strings, bytes and bools are a
    TypeError, Python numbers beyond float64's range a ValueError naming the
    value, and a masked array a TypeError (its mask would be ignored).

    >>> import array
    >>> as_floats(array.array("f", [0.1, 0.5])).dtype
    dtype('float32')
    >>> as_floats([1, 0.5]).dtype
    dtype('float64')
    >>> as_floats([True, False])
    Traceback (most recent call last):
    ...
    TypeError: x must be numbers, not bools
    >>> as_floats([10**400])
    Traceback (most recent call last):
    ...
    ValueError: x has a value outside float64's range: 100000000000...000000 (401 digits)
    """
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array, whose mask would be ignored; pass "
            f"{name}.filled(value) or {name}.compressed()"
        )
    if _is_array_like(x):
        return _kept_float(np.asarray(x), name)
    return _from_python(x, name)


# The smallest |bits| of a 16-bit float's infinity: every NaN and infinity is
# at or above it.  NumPy's isfinite on float16 and bfloat16 widens each element
# (1.1 and 0.8 ns per value measured, five times float32's), which made half
# inputs slower than float32 inputs in exact mode; this bit test costs float32's.
_HALF_INFINITY_BITS = {FLOAT16: 0x7C00, BFLOAT16: 0x7F80}


def _all_finite(arr: np.ndarray) -> bool:
    limit = _HALF_INFINITY_BITS.get(arr.dtype)
    if limit is None or arr.size == 0:
        return bool(np.isfinite(arr).all())
    return int((arr.view(np.uint16) & 0x7FFF).max()) < limit


def check_finite(arr: np.ndarray, name: str = "x") -> None:
    """ValueError naming how many elements are NaN or infinite and where the first is."""
    if _all_finite(arr):
        return
    finite = np.isfinite(arr)  # only on the error path: the count and the first
    bad = int(finite.size - np.count_nonzero(finite))
    first = int(np.argmin(finite.reshape(-1, order="C")))
    value = arr.reshape(-1, order="C")[first]
    raise ValueError(
        f"{name} has {bad} non-finite value{'s' if bad > 1 else ''} (NaN or infinity); "
        f"the first is {value!s} at index {where(arr.shape, first)}"
    )


def check_mode(mode: Any) -> bool:
    """True for ``"exact"``, False for ``"decimal"``; ValueError otherwise."""
    if mode not in ("decimal", "exact"):
        raise ValueError(f"mode must be 'decimal' or 'exact', not {mode!r}")
    return mode == "exact"


def check_positive(value: Any, name: str, *, expected: str = "a positive integer") -> int:
    """value as an int >= 1; ValueError ``"<name> must be <expected>, not <value>"`` otherwise.

    The one check of every count-like argument (threads, digits) in the API.

    >>> check_positive(3, "threads")
    3
    >>> check_positive(0, "threads")
    Traceback (most recent call last):
    ...
    ValueError: threads must be a positive integer, not 0
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be {expected}, not {value!r}")
    return int(value)


def _usable_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def thread_count(threads: Any) -> int:
    """The thread count of one call: threads, else FASTFRAC_NUM_THREADS, else every usable core.

    >>> thread_count(3)
    3
    """
    if threads is None:
        text = os.environ.get("FASTFRAC_NUM_THREADS", "").strip()
        if not text:
            return _usable_cores()
        try:
            threads = int(text)
        except ValueError:
            threads = text
        value = check_positive(threads, "FASTFRAC_NUM_THREADS")
    else:
        value = check_positive(threads, "threads", expected="a positive integer or None")
    # More threads than this only adds start-up cost on any machine we know of.
    return min(value, 1024)


def check_p(p: Any, limits: OutputLimits, what: str = "p") -> int:
    """p as an int in 0..limits.max_p; ValueError otherwise (``what`` names it)."""
    try:
        if isinstance(p, bool):
            raise TypeError
        value = operator.index(p)
    except TypeError:
        raise ValueError(f"{what} must be an integer, not {p!r}") from None
    if not 0 <= value <= limits.max_p:
        raise ValueError(
            f"{what} must lie in 0..{limits.max_p} for {limits.dtype.name} output, not {value}"
            + (" (use dtype=numpy.int64 for up to 18)" if limits.max_p < 18 else "")
        )
    return value


def as_ints(v: Any, name: str) -> np.ndarray:
    """v as an int64 array; TypeError for non-integer input, ValueError past int64."""
    if isinstance(v, (np.ndarray, np.generic)):
        arr = np.asarray(v)
    else:
        # Python ints of any size: look at them before NumPy turns a mix of
        # small and huge ones into float64 or object.
        try:
            items = np.asarray(v, dtype=object)
        except ValueError as exc:
            raise TypeError(f"{name} must be integers: {exc}") from None
        values = items.reshape(-1)
        for item in values:
            if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
                raise TypeError(f"{name} must be integers, not {type(item).__name__}")
        if values.size:
            low, high = min(int(i) for i in values), max(int(i) for i in values)
            if low < -(2**63) or high > 2**63 - 1:
                raise ValueError(f"{name} has values outside int64 ({low if low < -(2**63) else high})")
        return items.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers, not {arr.dtype}")
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name} has values above int64's maximum ({int(arr.max())})")
    return arr.astype(np.int64, copy=False)


def _as_range(v: Any, name: str, low: int, high: int, limits: OutputLimits, what: str) -> np.ndarray:
    """v as int64, each in [low, high] (``what`` names the upper limit in the message)."""
    values = as_ints(v, name)
    if values.size:
        least, most = int(values.min()), int(values.max())
        if least < low:
            raise ValueError(f"{name} must be >= {low}, got {least}")
        if most > high:
            raise ValueError(
                f"{name} {most} is above {limits.dtype.name}'s {what} {high}"
                + (" (use dtype=numpy.int64)" if limits.dtype == np.int32 else "")
            )
    return values


def as_bounds(max_den: Any, limits: OutputLimits) -> np.ndarray:
    """Explicit denominator bounds as int64, each in [1, limits.max_den]."""
    return _as_range(max_den, "max_den", 1, limits.max_den, limits, "maximum denominator")


def as_numerator_bounds(max_num: Any, limits: OutputLimits) -> np.ndarray:
    """Numerator bounds as int64, each in [0, limits.num_max] (0 allows only 0/1)."""
    return _as_range(max_num, "max_num", 0, limits.num_max, limits, "maximum")


def flat(arr: np.ndarray) -> np.ndarray:
    """A one-dimensional C-order contiguous view or copy."""
    return np.ascontiguousarray(arr).reshape(-1)


def raise_overflow(x: np.ndarray, flat_index: int, limits: OutputLimits) -> None:
    """The ValueError for a numerator that does not fit the output type."""
    value = x.reshape(-1, order="C")[flat_index]
    advice = (
        "use dtype=numpy.int64"
        if limits.dtype == np.int32
        else "no supported output type holds it"
    )
    raise ValueError(
        f"the numerator for the element {value!s} at index {where(x.shape, flat_index)} "
        f"does not fit {limits.dtype.name}; {advice}"
    )

