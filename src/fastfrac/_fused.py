"""One tensor chunk in one compiled pass: approximated values and the numbers a report needs.

The file and Keras paths used to compose, per chunk, :func:`fastfrac.approximate`
(int64 fractions), :func:`fastfrac.to_float`, a cast back to the chunk's
type, :func:`fastfrac._bits.max_errors` and :func:`fastfrac._bits.fraction_bits`:
a dozen NumPy passes.  :func:`approximate_chunk` is that composition, bit for
bit, in one C call (csrc/ff_fused.c) that reads each element once.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np

from fastfrac._inputs import (
    as_floats,
    check_finite,
    check_mode,
    check_p,
    check_positive,
    flat,
    raise_overflow,
    thread_count,
)
from fastfrac._isa import kernels
from fastfrac._types import Fractions, output_limits

__all__ = ["ChunkResult", "FractionPlanes", "approximate_chunk"]

_INT64 = output_limits(np.int64)


class FractionPlanes(NamedTuple):
    """A chunk's fractions as the container stores them: byte planes of their narrowest types.

    ``num[j]`` is byte j (little-endian) of every numerator in the type of
    :attr:`ChunkResult.fraction_types`, so ``num`` has that type's size in
    rows and the chunk's length in columns; likewise ``den``.  Both are
    C-contiguous uint8.
    """

    num: np.ndarray
    den: np.ndarray


class ChunkResult(NamedTuple):
    """What :func:`approximate_chunk` returns."""

    values: np.ndarray
    """The approximated values, in x's dtype and shape."""
    max_abs_error: float
    """Largest ``|values - x|`` in float64 (0.0 for an empty chunk)."""
    max_rel_error: float
    """Largest ``|values - x| / |x|`` over the nonzero x."""
    bits: int
    """Sum of ``bit_length(|num|) + 1 + bit_length(den)``, as :func:`fastfrac._bits.fraction_bits`."""
    fractions: Fractions | None
    """The int64 fractions in x's shape, when asked for; else None."""
    fraction_types: tuple[np.dtype, np.dtype] | None = None
    """With the fractions or planes: the narrowest integer types holding num
    and den (unsigned unless a value is negative), found by the kernel on the
    way, so the container needs no pass of its own over the values."""
    planes: FractionPlanes | None = None
    """The fractions as byte planes, when asked for with ``planes``; else None."""


def approximate_chunk(
    x: Any,
    p: int,
    *,
    mode: Literal["decimal", "exact"] = "decimal",
    digits: int | None = None,
    fractions: bool = False,
    planes: tuple[int, int] | None = None,
    threads: int | None = None,
) -> ChunkResult:
    """``approximate(x, p, dtype=int64)`` -> ``to_float(num, den, digits, dtype=x.dtype)``, in one pass.

    The same arguments, checks and error messages as :func:`fastfrac.approximate`
    with ``dtype=numpy.int64`` (a ValueError names the first NaN or infinity,
    or the first numerator beyond int64, with its index in x's shape); the
    values equal the composition's bit for bit, and the errors and bits
    equal :func:`fastfrac._bits.max_errors` and
    :func:`fastfrac._bits.fraction_bits` on it.  ``fractions=True`` also
    returns the int64 fractions (only a container writer needs them).

    ``planes=(num_bytes, den_bytes)`` returns them instead as
    :class:`FractionPlanes`, written by the pass itself without int64 arrays
    (what the container stores, 4 ms less per 2**20 bfloat16 values than
    storing the int64 fractions and packing them afterwards).  The pair is
    a guess of the widths (1, 2, 4 or 8 bytes) the chunk needs: a wider
    chunk is computed again with int64 fractions and packed, so the planes
    are right whatever the guess, only slower.
    The result does not depend on ``threads`` or the guess.

    >>> r = approximate_chunk(np.float32([0.1, 3.14159274, -0.5]), 2, digits=4)
    >>> r.values, r.bits
    (array([ 0.1  ,  3.143, -0.5  ], dtype=float32), 19)
    >>> r = approximate_chunk(np.float32([0.1, 3.14159274, -0.5]), 2, planes=(1, 1))
    >>> r.fraction_types, r.planes.num, r.planes.den  # 1/10, 22/7, -1/2
    ((dtype('int8'), dtype('uint8')), array([[  1,  22, 255]], dtype=uint8), array([[10,  7,  2]], dtype=uint8))
    """
    exact = check_mode(mode)
    p = check_p(p, _INT64)
    if digits is not None:
        check_positive(digits, "digits", expected="a positive integer or None")
    arr = as_floats(x)
    n_threads = thread_count(threads)
    values = flat(arr)
    out = np.empty_like(values)
    # Beyond 17 digits every double is kept; the cap keeps C's int in range (as to_float).
    n_digits = 0 if digits is None else min(int(digits), 1000)
    core = kernels()
    status, index, max_abs, max_rel, bits, num, den, types = core.fused(
        values, p, exact, n_digits, out, bool(fractions) or planes is not None, n_threads,
        None if planes is None else tuple(planes),
    )
    if status == core.FUSED_NONFINITE:
        check_finite(arr)  # counts them and raises the usual message
    if status == core.FUSED_OVERFLOW:
        raise_overflow(arr, index, _INT64)
    narrow = None if types is None else (np.dtype(types[0]), np.dtype(types[1]))
    kept = packed = None
    if planes is not None:
        assert narrow is not None
        packed = _planes_of(values, p, exact, n_digits, n_threads, num, den, narrow)
    elif num is not None:
        kept = Fractions(num.reshape(arr.shape), den.reshape(arr.shape))
    return ChunkResult(out.reshape(arr.shape), float(max_abs), float(max_rel), int(bits), kept,
                       narrow, packed)


def _planes_of(values: np.ndarray, p: int, exact: bool, digits: int, threads: int,
               num: np.ndarray, den: np.ndarray,
               types: tuple[np.dtype, np.dtype]) -> FractionPlanes:
    """The planes the pass wrote, cut to the types' widths; packed again from
    int64 fractions when a type is wider than the planes the pass was given."""
    if types[0].itemsize <= num.shape[0] and types[1].itemsize <= den.shape[0]:
        # The first rows of a C-contiguous array: contiguous views, no copy.
        return FractionPlanes(num[: types[0].itemsize], den[: types[1].itemsize])
    core = kernels()
    out = np.empty_like(values)
    *_, num64, den64, _types = core.fused(values, p, exact, digits, out, True, threads)
    return FractionPlanes(
        core.int64_to_planes(num64, types[0].itemsize).reshape(types[0].itemsize, -1),
        core.int64_to_planes(den64, types[1].itemsize).reshape(types[1].itemsize, -1),
    )
