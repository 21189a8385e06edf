"""Small types shared by the public API and the reference."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["Fractions", "OutputLimits", "output_limits"]


class Fractions(NamedTuple):
    """Numerators and denominators of element-wise fractions, num[i] / den[i].

    Denominators are always >= 1 and each fraction is in lowest terms.
    """

    num: np.ndarray
    den: np.ndarray


class OutputLimits(NamedTuple):
    """What an integer output type can hold."""

    dtype: np.dtype
    num_min: int
    num_max: int
    max_den: int  # largest denominator, hence largest bound
    max_p: int  # largest precision p accepted by approximate()


_LIMITS = {
    np.dtype(np.int32): OutputLimits(np.dtype(np.int32), -(2**31), 2**31 - 1, 2**31 - 1, 9),
    np.dtype(np.int64): OutputLimits(np.dtype(np.int64), -(2**63), 2**63 - 1, 2**63 - 1, 18),
}


def output_limits(dtype: Any) -> OutputLimits:
    """Limits of the output type ``dtype`` (int32 or int64); TypeError otherwise.

    >>> output_limits("int32").max_den
    2147483647
    """
    try:
        key = np.dtype(dtype)
    except TypeError:
        key = None
    if key not in _LIMITS:
        raise TypeError(f"dtype must be numpy.int32 or numpy.int64, not {dtype!r}")
    return _LIMITS[key]
