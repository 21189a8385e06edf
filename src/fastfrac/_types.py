"""Small types shared by the public API and the reference: fractions and output limits."""

from __future__ import annotations

from typing import Any, NamedTuple

import ml_dtypes  # bfloat16 as a NumPy dtype: what JAX, TensorFlow and safetensors users hold
import numpy as np

from fastfrac._isa import core as _core

__all__ = [
    "BFLOAT16",
    "FLOAT_TYPES",
    "FLOAT16",
    "HALF_TYPES",
    "Fractions",
    "OutputLimits",
    "approximable",
    "float_type_name",
    "output_limits",
]

FLOAT16 = np.dtype(np.float16)
BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
# The 16-bit types: approximated in their own rounding (shortest digits), with
# the bound of their exact float32 widening.
HALF_TYPES = (FLOAT16, BFLOAT16)
# Every element type the kernels take, in native byte order.
FLOAT_TYPES = (np.dtype(np.float32), np.dtype(np.float64), *HALF_TYPES)


def approximable(dtype: Any) -> bool:
    """Whether arrays of ``dtype`` can be approximated (the four float types, any byte order).

    >>> approximable(BFLOAT16), approximable(np.dtype(">f4")), approximable(np.int8)
    (True, True, False)
    """
    dtype = np.dtype(dtype)
    return dtype == BFLOAT16 or (dtype.kind == "f" and dtype.newbyteorder("=") in FLOAT_TYPES)


def float_type_name(dtype: Any) -> str:
    """``float16``, ``bfloat16``, ``float32`` or ``float64``.

    >>> float_type_name(BFLOAT16), float_type_name(np.dtype("<f4"))
    ('bfloat16', 'float32')
    """
    return np.dtype(dtype).name


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


def _limits(kind: type, max_den: int, max_p: int) -> OutputLimits:
    info = np.iinfo(kind)
    return OutputLimits(np.dtype(kind), int(info.min), int(info.max), max_den, max_p)


# The kernel's own constants (csrc/fastfrac.h), so Python and C cannot disagree.
_LIMITS = {
    np.dtype(np.int32): _limits(np.int32, _core.MAX_DEN_I32, _core.MAX_P_I32),
    np.dtype(np.int64): _limits(np.int64, _core.MAX_DEN_I64, _core.MAX_P_I64),
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
