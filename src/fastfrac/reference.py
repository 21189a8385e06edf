"""The pure-Python oracle: fastfrac's semantics written with ``fractions.Fraction``.

Every function here is a straightforward per-element loop, like the research
script fastfrac replaces.  They define what the C kernels must return and are
the baseline of the benchmarks; they are slow (about 10**5 values per second)
and only lightly checked, so call :mod:`fastfrac` for real work.

Examples
--------
>>> import numpy as np
>>> from fastfrac import reference
>>> reference.approximate(np.float32([0.1, 3.14159274]), 2)
Fractions(num=array([ 1, 22], dtype=int32), den=array([10,  7], dtype=int32))
>>> reference.to_float([22], [7], digits=4)
array([3.143])
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Any

import numpy as np

from fastfrac._inputs import as_floats
from fastfrac._types import HALF_TYPES, Fractions, output_limits

__all__ = [
    "approximate",
    "element_value",
    "limit_denominator",
    "max_denominator",
    "shortest_decimal",
    "to_float",
]


def _floor_log10(v: Fraction) -> int:
    """floor(log10(v)) for a positive rational, exactly (the float logarithm is a first guess)."""
    k = math.floor(math.log10(v))
    while Fraction(10) ** k > v:
        k -= 1
    while Fraction(10) ** (k + 1) <= v:
        k += 1
    return k


def _value_of_bits(bits: int, dtype: np.dtype) -> np.generic:
    return np.array(bits, dtype=np.uint16).view(dtype)[()]


def _rounding_interval(bits: int, dtype: np.dtype) -> tuple[Fraction, Fraction, bool]:
    """(low, high, closed): the reals that round to the positive 16-bit float ``bits``.

    The ends lie halfway to the neighbours; they belong to it when its
    significand is even, because rounding half to even sends them there.
    Above the largest finite value the gap is the one below it (rounding
    treats the next power of two as a neighbour; halfway to it overflows).
    """
    v = Fraction(float(_value_of_bits(bits, dtype)))
    below = Fraction(float(_value_of_bits(bits - 1, dtype))) if bits > 1 else Fraction(0)
    above_value = _value_of_bits(bits + 1, dtype)
    above = v + (v - below) if not np.isfinite(above_value) else Fraction(float(above_value))
    return (v + below) / 2, (v + above) / 2, bits % 2 == 0


def shortest_decimal(x: Any) -> Fraction:
    """The shortest decimal that rounds to the float16 or bfloat16 ``x`` in x's own type.

    Among the decimals with the fewest significant digits inside x's
    rounding interval (correct rounding to x's type, ties to even: not
    through float32 or float64), the one closest to x, and on an exact tie
    the one with an even last digit.  Written on exact rationals, without the
    kernel's tables.  For float16 it is what ``str(numpy.float16(x))``
    prints; ``str()`` of an ml_dtypes bfloat16 prints six digits instead.

    >>> import ml_dtypes
    >>> shortest_decimal(np.array(0.1, dtype=ml_dtypes.bfloat16))  # str() says 0.100098
    Fraction(1, 10)
    >>> shortest_decimal(np.float16(-65504.0))
    Fraction(-65500, 1)
    """
    arr = np.asarray(x)
    if arr.dtype not in HALF_TYPES:
        raise TypeError(f"shortest_decimal takes float16 or bfloat16, not {arr.dtype}")
    bits = int(arr.view(np.uint16))
    negative, bits = bits >> 15, bits & 0x7FFF
    if not np.isfinite(arr):
        raise ValueError(f"{arr} is not finite")
    if bits == 0:
        return Fraction(0)
    low, high, closed = _rounding_interval(bits, arr.dtype)
    v = Fraction(float(_value_of_bits(bits, arr.dtype)))
    for n in itertools.count(1):
        candidates = []
        # An n-digit decimal inside [low, high] has the decimal exponent of one of the ends.
        for e in {_floor_log10(low if low > 0 else high) - n + 1, _floor_log10(high) - n + 1}:
            scale = Fraction(10) ** e
            for d in range(max(math.ceil(low / scale), 1), min(math.floor(high / scale), 10**n - 1) + 1):
                c = d * scale
                if low < c < high or (closed and low <= c <= high):
                    candidates.append((abs(c - v), d % 2, c))  # closest, then even last digit
        if candidates:
            best = min(candidates)[2]
            return -best if negative else best
    raise AssertionError("unreachable: x itself is a decimal in its interval")


def element_value(x: np.generic, mode: str = "decimal") -> Fraction:
    """The exact rational an element stands for.

    ``"decimal"``: the shortest decimal that reads back as x in x's type --
    what NumPy's ``str`` prints for float32/float64 (the seed's choice),
    :func:`shortest_decimal` for float16/bfloat16; ``"exact"``: the float's
    exact binary value.

    >>> element_value(np.float32(0.1)), element_value(np.float32(0.1), "exact")
    (Fraction(1, 10), Fraction(13421773, 134217728))
    """
    if mode == "decimal":
        if np.asarray(x).dtype in HALF_TYPES:
            return shortest_decimal(x)
        return Fraction(str(x))
    if mode == "exact":
        return Fraction(float(x))
    raise ValueError(f"mode must be 'decimal' or 'exact', not {mode!r}")


def _bound(x: np.generic, p: int, cap: int) -> int:
    """The seed's ``int(10**p / abs(x))`` clamped to [1, cap]; 1 for x == 0.

    Half types are widened to float32 first (exactly) and take float32's
    rule.  Call it under ``numpy.errstate(over="ignore")``: a tiny x
    overflows q to inf.
    """
    if np.asarray(x).dtype in HALF_TYPES:
        x = np.float32(x)
    if x == 0:
        return 1
    q = 10**p / abs(x)  # NumPy 2 evaluates this in x's own float type
    if math.isinf(q):
        return cap
    return min(max(int(q), 1), cap)


def _elements(x: Any) -> np.ndarray:
    # The kernel API's input rule and errors, so the oracle sees the same values.
    return as_floats(x)


def max_denominator(x: Any, p: int, *, dtype: Any = np.int32) -> np.ndarray:
    """Per-element bound of the seed's rule, as an int64 array.

    >>> max_denominator(np.float32([0.5, 0.0, 3e-9]), 2)
    array([       200,          1, 2147483647])
    """
    arr = _elements(x)
    cap = output_limits(dtype).max_den
    with np.errstate(over="ignore"):
        out = [_bound(v, p, cap) for v in arr.reshape(-1)]
    return np.array(out, dtype=np.int64).reshape(arr.shape)


def _fractions(values: list[Fraction], shape: tuple[int, ...], dtype: Any) -> Fractions:
    limits = output_limits(dtype)
    for i, f in enumerate(values):
        if not limits.num_min <= f.numerator <= limits.num_max:
            raise ValueError(
                f"numerator {f.numerator} at flat index {i} does not fit {limits.dtype.name}"
            )
    num = np.array([f.numerator for f in values], dtype=limits.dtype).reshape(shape)
    den = np.array([f.denominator for f in values], dtype=limits.dtype).reshape(shape)
    return Fractions(num, den)


def best_bounded(v: Fraction, max_den: int, max_num: int | None = None) -> Fraction:
    """The closest n/d to v with 1 <= d <= max_den and |n| <= max_num (lowest terms).

    Among equally close ones the smaller denominator, then the smaller value
    -- exactly CPython's ``limit_denominator`` when ``max_num`` is None or
    does not bind.  Both bounds keep the Stern-Brocot tree's ancestors of an
    admissible fraction admissible, so the two neighbours of |v| among the
    admissible fractions are found by walking down the tree toward |v| in
    batches (the partial quotients, cut short by either bound); the answer
    is the better of them.

    >>> best_bounded(Fraction(355, 113), 1000, 300)  # 355/113 itself has too large a numerator
    Fraction(289, 92)
    >>> best_bounded(Fraction(7, 2), 10, 0), best_bounded(Fraction(-1, 2), 1)
    (Fraction(0, 1), Fraction(-1, 1))
    """
    if max_num is None:
        return v.limit_denominator(max_den)
    a = abs(v)
    if a.denominator <= max_den and a.numerator <= max_num:
        return v
    lo_n, lo_d, hi_n, hi_d = 0, 1, 1, 0  # 0/1 <= a < 1/0
    while True:
        m_n, m_d = lo_n + hi_n, lo_d + hi_d
        if m_n > max_num or m_d > max_den:
            break
        # The mediant is admissible and not a (a is not): walk toward a from that side.
        if Fraction(m_n, m_d) < a:
            k = math.floor((a * lo_d - lo_n) / (hi_n - a * hi_d))
            k = min(k, (max_num - lo_n) // hi_n, (max_den - lo_d) // hi_d if hi_d else k)
            lo_n, lo_d = lo_n + k * hi_n, lo_d + k * hi_d
        else:
            k = math.floor((hi_n - a * hi_d) / (a * lo_d - lo_n))
            k = min(k, (max_den - hi_d) // lo_d, (max_num - hi_n) // lo_n if lo_n else k)
            hi_n, hi_d = hi_n + k * lo_n, hi_d + k * lo_d
    sign = -1 if v < 0 else 1
    candidates = [Fraction(sign * lo_n, lo_d)]
    if hi_d:  # 1/0 stands for "nothing above"
        candidates.append(Fraction(sign * hi_n, hi_d))
    return min(candidates, key=lambda c: (abs(c - v), c.denominator, c))


def limit_denominator(
    x: Any, max_den: Any, *, mode: str = "decimal", dtype: Any = np.int32, max_num: Any = None
) -> Fractions:
    """``Fraction(value).limit_denominator(max_den)`` for every element.

    With ``max_num``, :func:`best_bounded`: the closest fraction whose
    numerator's magnitude is also at most max_num (broadcast like max_den).

    >>> limit_denominator([3.141592653589793], 113)
    Fractions(num=array([355], dtype=int32), den=array([113], dtype=int32))
    >>> limit_denominator([3.141592653589793], 113, max_num=100)
    Fractions(num=array([22], dtype=int32), den=array([7], dtype=int32))
    """
    arr = _elements(x)
    nums = np.asarray(-1 if max_num is None else max_num)
    arr, bounds, nums = np.broadcast_arrays(arr, np.asarray(max_den), nums)
    values = [
        best_bounded(element_value(v, mode), int(b), None if max_num is None else int(n))
        for v, b, n in zip(arr.reshape(-1), bounds.reshape(-1), nums.reshape(-1))
    ]
    return _fractions(values, arr.shape, dtype)


def approximate(x: Any, p: int, *, mode: str = "decimal", dtype: Any = np.int32) -> Fractions:
    """The seed's expression, element by element:
    ``Fraction(str(x)).limit_denominator(int(10**p / abs(x)))``, the bound
    clamped to the output type.

    >>> approximate(np.float32([0.333, -0.5]), 1)
    Fractions(num=array([ 1, -1], dtype=int32), den=array([3, 2], dtype=int32))
    """
    arr = _elements(x)
    cap = output_limits(dtype).max_den
    with np.errstate(over="ignore"):
        values = [
            element_value(v, mode).limit_denominator(_bound(v, p, cap)) for v in arr.reshape(-1)
        ]
    return _fractions(values, arr.shape, dtype)


def round_significant(v: float, digits: int) -> float:
    """The seed's rounding to ``digits`` significant digits; 0 stays 0.

    >>> round_significant(3.142857142857143, 4)
    3.143
    """
    if v == 0:
        return v
    return round(v, digits - 1 - math.floor(math.log10(abs(v))))


def to_float(num: Any, den: Any, digits: int | None = None, *, dtype: Any = np.float64) -> np.ndarray:
    """``float(Fraction(n, d))``, then optionally :func:`round_significant`, then cast to ``dtype``.

    >>> to_float([1, -2], [3, 3])
    array([ 0.33333333, -0.66666667])
    """
    a, b = np.broadcast_arrays(np.asarray(num), np.asarray(den))
    out = []
    for n, d in zip(a.reshape(-1), b.reshape(-1)):
        v = float(Fraction(int(n), int(d)))
        out.append(v if digits is None else round_significant(v, digits))
    return np.array(out, dtype=np.float64).reshape(a.shape).astype(dtype)
