"""Bit accounting and error measures of approximated tensors, in NumPy.

The numbers every report gives -- bits per value of the fractions, largest
absolute and relative errors, totals over tensors -- are computed here once,
for the Keras report, the model-file report and the benchmarks alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["bit_length", "combine_rows", "fraction_bits", "max_errors"]

# Integers below this magnitude are exact as float64.
_EXACT_FLOAT = 2.0**53


def bit_length(values: np.ndarray) -> np.ndarray:
    """``int.bit_length`` of every element's absolute value, exactly, as int32.

    A float64 holds an integer below 2**53 exactly and frexp's exponent is
    then its bit length.  The rare larger magnitudes are shifted right by 11
    bits first (below 2**53 again) and get those 11 bits back, so the result
    is exact for all of int64 and uint64: over ten times faster than a
    binary search on the shift, at about 10 ms per million values.

    >>> bit_length(np.array([0, 1, -1, 255, 256, 2**53 + 1, 2**63 - 1, -(2**63)], dtype=np.int64))
    array([ 0,  1,  1,  8,  9, 54, 63, 64], dtype=int32)
    """
    v = np.asarray(values)
    as_float = v.astype(np.float64)
    length = np.frexp(as_float)[1]
    large = np.abs(as_float) >= _EXACT_FLOAT
    if large.any():
        big = v[large]
        if big.dtype.kind != "u":
            # abs() of int64's minimum wraps to itself; read as uint64 it is 2**63.
            big = np.abs(big.astype(np.int64)).view(np.uint64)
        shifted = big.astype(np.uint64) >> np.uint64(11)
        length[large] = np.frexp(shifted.astype(np.float64))[1] + 11
    return length


def fraction_bits(num: np.ndarray, den: np.ndarray) -> int:
    """Bits to write the fractions: the sum of ``bit_length(|num|) + 1 + bit_length(den)``.

    The sign is counted as one bit.  Reports divide it by the count for
    their ``bits_per_value``.

    >>> fraction_bits(np.array([1, -22]), np.array([2, 7]))  # (1 + 1 + 2) + (5 + 1 + 3)
    13
    """
    return int(bit_length(num).sum()) + int(bit_length(den).sum()) + int(np.size(num))


def max_errors(original: np.ndarray, approximated: np.ndarray) -> tuple[float, float]:
    """(largest absolute error, largest relative error) of ``approximated`` against ``original``.

    The relative error is taken over the nonzero original elements (a zero
    stays zero); both are 0.0 for empty arrays.

    >>> max_errors(np.float32([0.0, 0.5, -2.0]), np.float32([0.0, 0.25, -2.5]))
    (0.5, 0.5)
    """
    orig = np.asarray(original, dtype=np.float64)
    err = np.abs(np.asarray(approximated, dtype=np.float64) - orig)
    if not err.size:
        return 0.0, 0.0
    magnitude = np.abs(orig)
    rel = np.divide(err, magnitude, out=np.zeros_like(err), where=magnitude != 0)
    return float(err.max()), float(rel.max())


def combine_rows(done: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Totals of approximated rows: ``count``, the largest errors, bits per value over all values.

    >>> combine_rows([
    ...     {"count": 2, "max_abs_error": 0.1, "max_rel_error": 0.2, "bits_per_value": 4.0},
    ...     {"count": 6, "max_abs_error": 0.3, "max_rel_error": 0.1, "bits_per_value": 8.0},
    ... ])
    {'count': 8, 'max_abs_error': 0.3, 'max_rel_error': 0.2, 'bits_per_value': 7.0}
    """
    count = sum(r["count"] for r in done)
    bits = sum(r["bits_per_value"] * r["count"] for r in done if r["bits_per_value"] is not None)
    return {
        "count": count,
        "max_abs_error": max((r["max_abs_error"] for r in done), default=0.0),
        "max_rel_error": max((r["max_rel_error"] for r in done), default=0.0),
        "bits_per_value": bits / count if count else None,
    }
