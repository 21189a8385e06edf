"""The public array API: best rational approximations of float arrays, in C.

All four functions check their arguments here and hand flat, contiguous
arrays to the compiled kernels (:mod:`fastfrac._core`); the GIL is released
while the kernels run.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from fastfrac._isa import core as _core
from fastfrac._isa import kernels
from fastfrac._inputs import (
    as_bounds,
    as_numerator_bounds,
    as_floats,
    as_ints,
    check_finite,
    check_mode,
    check_p,
    check_positive,
    flat,
    raise_overflow,
    thread_count,
    where,
)
from fastfrac._types import FLOAT_TYPES, Fractions, OutputLimits, float_type_name, output_limits

__all__ = [
    "approximate",
    "available_isas",
    "limit_denominator",
    "max_denominator",
    "openmp_enabled",
    "selected_isa",
    "to_float",
]

Mode = Literal["decimal", "exact"]


def available_isas() -> list[str]:
    """The kernel paths this CPU can run, best first, always ending with ``"serial"``.

    fastfrac picks the first one; the environment variable ``FASTFRAC_ISA``
    (``serial``, ``avx2`` or ``avx512``), read at import, forces another.  A
    value this CPU cannot run does not stop the import: the first call that
    needs a kernel (or :func:`selected_isa`) raises a one-line RuntimeError.
    Every path returns identical results.

    >>> import fastfrac
    >>> fastfrac.available_isas()[-1]
    'serial'
    """
    return _core.available_isas()


def selected_isa() -> str:
    """The kernel path every function runs now: the best of :func:`available_isas`, or ``FASTFRAC_ISA``'s.

    >>> import fastfrac
    >>> fastfrac.selected_isa() in fastfrac.available_isas()
    True
    """
    return kernels().selected_isa()


def openmp_enabled() -> bool:
    """Whether fastfrac was built with OpenMP, so that ``threads`` > 1 can run in parallel."""
    return _core.openmp_enabled()


def approximate(
    x: Any,
    p: int,
    *,
    mode: Mode = "decimal",
    dtype: Any = np.int32,
    threads: int | None = None,
    max_num: Any = None,
) -> Fractions:
    """Best rational approximation of every element, with the bound 10**p / |x|.

    Element ``x`` becomes the fraction that
    ``Fraction(str(x)).limit_denominator(max_den)`` returns, with
    ``max_den = floor(T(10**p) / |x|)`` computed in x's float type T and
    clamped to ``[1, max denominator of dtype]`` (1 when ``x == 0``).  The
    clamp is the one departure from the plain Fraction expression: for
    ``|x|`` below about ``10**p / 2**31`` the int32 result can differ; pass
    ``dtype=numpy.int64`` to get the unclamped answer.

    Parameters
    ----------
    x : array_like
        Taken as ``numpy.asarray(x)``: a float32 or float64 dtype is kept
        whatever holds it (ndarray, memoryview, ``array.array``, an object
        with ``__array__``, a list of NumPy floats); Python numbers and lists
        of them become float64.  Any shape and layout; must be finite.
    p : int
        Precision, 0..9 for int32 output, 0..18 for int64.
    mode : {"decimal", "exact"}
        ``"decimal"`` approximates the shortest decimal NumPy prints for each
        element (so float32 0.1 is 1/10); ``"exact"`` the exact binary value.
    dtype : numpy.int32 or numpy.int64
        Type of the returned arrays.
    threads : int, optional
        Threads to use: 1 runs on the calling thread; None (the default) means
        the environment variable ``FASTFRAC_NUM_THREADS`` if set, else every
        core this process may use.  Small arrays always run on one thread.
        The result does not depend on it.
    max_num : int or array_like of int, optional
        Also bound the numerators: see :func:`limit_denominator`.

    Returns
    -------
    Fractions
        Named tuple ``(num, den)`` of arrays of x's shape (C order); every
        ``den >= 1`` and every fraction is in lowest terms.

    Raises
    ------
    TypeError
        x is not a float32/float64 array (integer, bool, complex, float16...),
        holds None, strings, bytes or bools, is a masked array (use
        ``.filled()`` or ``.compressed()``), or dtype is not int32/int64.
    ValueError
        x has NaN or infinity or a Python number beyond float64's range, p is
        out of range, or a numerator does not fit dtype (the message names the
        first such value, printed in its own type, and its index).

    Examples
    --------
    >>> import numpy as np, fastfrac
    >>> num, den = fastfrac.approximate(np.float32([0.1, 3.14159274, -0.5]), 2)
    >>> num, den
    (array([ 1, 22, -1], dtype=int32), array([10,  7,  2], dtype=int32))
    >>> fastfrac.approximate(np.float32(0.1), 4, mode="exact")
    Fractions(num=array(1, dtype=int32), den=array(10, dtype=int32))
    """
    limits = output_limits(dtype)
    exact = check_mode(mode)
    p = check_p(p, limits)
    arr = as_floats(x)
    if max_num is not None:
        check_finite(arr)
        bound = kernels().max_denominator(flat(arr), p, limits.max_den).reshape(arr.shape)
        return _bounded(arr, bound, max_num, exact, limits)
    check_finite(arr)
    n_threads = thread_count(threads)
    num, den, done = kernels().approximate(flat(arr), p, exact, limits.dtype == np.int64, n_threads)
    if done != arr.size:
        raise_overflow(arr, done, limits)
    return Fractions(num.reshape(arr.shape), den.reshape(arr.shape))


def limit_denominator(
    x: Any,
    max_den: Any,
    *,
    mode: Mode = "decimal",
    dtype: Any = np.int32,
    threads: int | None = None,
    max_num: Any = None,
) -> Fractions:
    """``Fraction(value).limit_denominator(max_den)`` for every element.

    With ``max_num``, the closest fraction n/d (in lowest terms) with
    ``1 <= d <= max_den`` and ``|n| <= max_num``; among equally close ones
    the smaller denominator, then the smaller value.  That is CPython's tie
    rule, so where max_num does not bind the answer is limit_denominator's
    (asked for in sympy, and by TIFF/EXIF rationals with 32-bit numerators).
    Best approximations under both bounds are still convergents or
    semiconvergents: the admissible fractions keep their Stern-Brocot
    ancestors, so the walk toward the value stops between the same two
    candidates, its steps cut short by either bound (csrc/ff_serial.c has
    the argument).  It runs on one thread: it is not a hot path.

    Parameters
    ----------
    x : array_like
        As for :func:`approximate`.
    max_den : int or array_like of int
        The bound, broadcast against x; each in ``[1, max denominator of
        dtype]`` (2**31 - 1 for int32).  No silent clamping: a larger bound is
        a ValueError.
    mode, dtype, threads
        As for :func:`approximate`.
    max_num : int or array_like of int, optional
        The numerator's bound, broadcast like max_den; each in ``[0, dtype's
        maximum]`` (0 allows only 0/1).  With it no numerator can overflow.

    Returns
    -------
    Fractions
        ``(num, den)`` with the broadcast shape of x and max_den.

    Examples
    --------
    >>> import fastfrac
    >>> fastfrac.limit_denominator([3.141592653589793], [113])
    Fractions(num=array([355], dtype=int32), den=array([113], dtype=int32))
    >>> fastfrac.limit_denominator([0.5, -0.5], 1)  # CPython's tie rule
    Fractions(num=array([ 0, -1], dtype=int32), den=array([1, 1], dtype=int32))
    >>> fastfrac.limit_denominator(3.141592653589793, 1000, max_num=300)  # 355/113 is too big
    Fractions(num=array(289, dtype=int32), den=array(92, dtype=int32))
    """
    limits = output_limits(dtype)
    exact = check_mode(mode)
    arr = as_floats(x)
    bounds = as_bounds(max_den, limits)
    if max_num is not None:
        return _bounded(arr, bounds, max_num, exact, limits)
    try:
        arr, bounds = np.broadcast_arrays(arr, bounds)
    except ValueError:
        raise ValueError(
            f"max_den of shape {bounds.shape} does not broadcast against x of shape {arr.shape}"
        ) from None
    check_finite(arr)
    n_threads = thread_count(threads)
    num, den, done = kernels().limit(
        flat(arr), flat(bounds), exact, limits.dtype == np.int64, n_threads
    )
    if done != arr.size:
        raise_overflow(arr, done, limits)
    return Fractions(num.reshape(arr.shape), den.reshape(arr.shape))


def _bounded(arr: np.ndarray, bounds: np.ndarray, max_num: Any, exact: bool,
             limits: OutputLimits) -> Fractions:
    """limit_denominator under a numerator bound too (the serial kernel)."""
    nums = as_numerator_bounds(max_num, limits)
    try:
        arr, bounds, nums = np.broadcast_arrays(arr, bounds, nums)
    except ValueError:
        raise ValueError(
            f"max_den of shape {bounds.shape} and max_num of shape {nums.shape} do not "
            f"broadcast against x of shape {arr.shape}"
        ) from None
    check_finite(arr)
    num, den = kernels().limit_bounded(flat(arr), flat(bounds), flat(nums), exact)
    # Both bounds lie within the output type, so every answer fits it.
    return Fractions(num.astype(limits.dtype).reshape(arr.shape),
                     den.astype(limits.dtype).reshape(arr.shape))


def max_denominator(x: Any, p: int, *, dtype: Any = np.int32) -> np.ndarray:
    """The bound :func:`approximate` uses for each element, as an int64 array.

    ``floor(T(10**p) / |x|)`` in x's float type T, clamped to
    ``[1, max denominator of dtype]``; 1 where ``x == 0``.

    Examples
    --------
    >>> import numpy as np, fastfrac
    >>> fastfrac.max_denominator(np.float32([0.5, 0.0, 3e-9, 250.0]), 2)
    array([       200,          1, 2147483647,          1])
    >>> # the division happens in float32, as NumPy does it for a float32 scalar
    >>> fastfrac.max_denominator(np.float32(3e-9), 2, dtype=np.int64)
    array(33333334016)
    """
    limits = output_limits(dtype)
    p = check_p(p, limits)
    arr = as_floats(x)
    check_finite(arr)
    return kernels().max_denominator(flat(arr), p, limits.max_den).reshape(arr.shape)


def to_float(
    num: Any,
    den: Any,
    digits: int | None = None,
    *,
    dtype: Any = np.float64,
    threads: int | None = None,
) -> np.ndarray:
    """num/den as float64, correctly rounded; optionally to ``digits`` significant digits.

    With ``digits=n`` each nonzero value v is then rounded exactly as
    ``round(v, n - 1 - math.floor(math.log10(abs(v))))`` (the research
    script's rounding; ties go to even on v's exact binary value).  With
    ``dtype=T`` the result is exactly ``to_float(num, den, digits).astype(T)``:
    through float64, as the fractions container defines a weight and as the
    seed's float32 path does (one rounding to T of the float64 value).

    Parameters
    ----------
    num, den : array_like of int
        Broadcast together; every ``den >= 1``.
    digits : int, optional
        Significant digits to keep, >= 1.
    dtype : float16, bfloat16, float32 or float64
        The type of the result (default float64).
    threads : int, optional
        As for :func:`approximate`.

    Raises
    ------
    ValueError
        A ``den < 1`` (how many, the first one's value and C-order index),
        integers outside int64, ``digits < 1``, or shapes that do not broadcast.
    TypeError
        num or den not integers, or dtype not one of the four float types.

    Examples
    --------
    >>> import fastfrac
    >>> fastfrac.to_float([22, 355], [7, 113])
    array([3.14285714, 3.14159292])
    >>> fastfrac.to_float([22, 355], [7, 113], digits=4)
    array([3.143, 3.142])
    >>> fastfrac.to_float([1, 1], [10, 3], dtype="bfloat16").tolist()  # 0.1 and 1/3 in bfloat16
    [0.10009765625, 0.333984375]
    """
    out_type = _result_type(dtype)
    a = as_ints(num, "num")
    b = as_ints(den, "den")
    if digits is not None:
        check_positive(digits, "digits", expected="a positive integer or None")
    try:
        a, b = np.broadcast_arrays(a, b)
    except ValueError:
        raise ValueError(
            f"num of shape {a.shape} and den of shape {b.shape} do not broadcast"
        ) from None
    # digits beyond 17 keep every double unchanged; cap so C's int cannot overflow.
    n_digits = 0 if digits is None else min(int(digits), 1000)
    n_threads = thread_count(threads)
    # The kernel checks den > 0 in its threads (no serial pass over den first).
    out, done = kernels().to_float(flat(a), flat(b), n_digits, n_threads)
    if done != b.size:
        bad = int(np.count_nonzero(b <= 0))
        raise ValueError(
            f"den must be >= 1: {bad} value{'s are' if bad > 1 else ' is'} not; the first is "
            f"{int(b.reshape(-1)[done])} at index {where(b.shape, done)}"
        )
    out = out.reshape(a.shape)
    return out if out_type == out.dtype else out.astype(out_type)


def _result_type(dtype: Any) -> np.dtype:
    """to_float's dtype argument as one of the four float types; TypeError otherwise."""
    try:
        value = np.dtype(dtype)
    except TypeError:
        value = None
    if value not in FLOAT_TYPES:
        names = ", ".join(float_type_name(t) for t in FLOAT_TYPES)
        raise TypeError(f"dtype must be one of {names}, not {dtype!r}")
    return value
