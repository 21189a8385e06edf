# cython: language_level=3, boundscheck=False, wraparound=False
"""Thin binding of the C kernels (csrc/fastfrac.h).

Every function here takes arrays the Python layer (fastfrac.approximation)
has already checked: one-dimensional, C-contiguous, native byte order, of
the dtypes named below.  Nothing is validated twice; the GIL is released
while a kernel runs.  ``threads`` (>= 1) is how many threads the C driver
(csrc/ff_parallel.c) may use for one call.

The kernels dispatch to the best instruction set this CPU runs; the
environment variable FASTFRAC_ISA (serial, avx2, avx512), read when this
module loads, forces one, and _force_isa changes it for tests.
"""
import os

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint64_t

from fastfrac._kernels cimport *

cnp.import_array()

MAX_P_I32 = FF_MAX_P_I32
MAX_P_I64 = FF_MAX_P_I64
MAX_DEN_I32 = FF_MAX_DEN_I32
MAX_DEN_I64 = FF_MAX_DEN_I64


# ---- instruction sets -----------------------------------------------------------


def _isa_names():
    """Every instruction set this build knows of, worst to best."""
    return [ff_isa_name(<ff_isa>i).decode() for i in range(FF_ISA_COUNT)]


def available_isas():
    """The kernel paths this CPU can run, best first; "serial" is always last."""
    cdef unsigned caps = ff_isa_available()
    return [name for i, name in enumerate(_isa_names()) if caps >> i & 1][::-1]


def selected_isa():
    """The kernel path the batch functions run now."""
    return ff_isa_name(ff_isa_selected()).decode()


def _force_isa(name):
    """Make every kernel run the path `name` (for tests and benchmarks).

    ValueError for an unknown name or one this CPU cannot run.  Not to be
    called while another thread runs a kernel.
    """
    names = _isa_names()
    if name not in names:
        raise ValueError(f"unknown instruction set {name!r}; choose from {names}")
    cdef int index = names.index(name)
    if ff_isa_select(<ff_isa>index) != 0:
        raise ValueError(
            f"this CPU cannot run the {name!r} kernels; available: {available_isas()}"
        )


def openmp_enabled():
    """True when the kernels were compiled with OpenMP (threads > 1 can help)."""
    return bool(ff_openmp_enabled())


def _isa_from_environment():
    name = os.environ.get("FASTFRAC_ISA", "").strip().lower()
    if not name:
        return
    try:
        _force_isa(name)
    except ValueError as exc:
        raise ImportError(f"FASTFRAC_ISA={name}: {exc}") from None


_isa_from_environment()


cdef inline ff_mode _mode(bint exact):
    return FF_MODE_EXACT if exact else FF_MODE_DECIMAL


def approximate(cnp.ndarray x, int p, bint exact, bint wide, int threads=1):
    """(num, den, n_ok): the bound of precision p, then the search.

    x: float32 or float64.  num/den are int64 when wide, else int32.  n_ok is
    len(x) on success, or the index of the first numerator that overflows.
    """
    cdef size_t n = x.shape[0], done = 0
    cdef ff_mode mode = _mode(exact)
    cdef cnp.ndarray num = np.empty(n, np.int64 if wide else np.int32)
    cdef cnp.ndarray den = np.empty(n, np.int64 if wide else np.int32)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef void *np_ = cnp.PyArray_DATA(num)
    cdef void *dp = cnp.PyArray_DATA(den)
    cdef bint single = x.dtype == np.float32
    with nogil:
        if single and wide:
            done = ff_approximate_f32_i64_parallel(
                <float *>xp, n, p, mode, <int64_t *>np_, <int64_t *>dp, threads)
        elif single:
            done = ff_approximate_f32_i32_parallel(
                <float *>xp, n, p, mode, <int32_t *>np_, <int32_t *>dp, threads)
        elif wide:
            done = ff_approximate_f64_i64_parallel(
                <double *>xp, n, p, mode, <int64_t *>np_, <int64_t *>dp, threads)
        else:
            done = ff_approximate_f64_i32_parallel(
                <double *>xp, n, p, mode, <int32_t *>np_, <int32_t *>dp, threads)
    return num, den, done


def limit(cnp.ndarray x, cnp.ndarray max_den, bint exact, bint wide, int threads=1):
    """(num, den, n_ok) for explicit bounds: max_den is int64, len(x) long."""
    cdef size_t n = x.shape[0], done = 0
    cdef ff_mode mode = _mode(exact)
    cdef cnp.ndarray num = np.empty(n, np.int64 if wide else np.int32)
    cdef cnp.ndarray den = np.empty(n, np.int64 if wide else np.int32)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef int64_t *bp = <int64_t *>cnp.PyArray_DATA(max_den)
    cdef void *np_ = cnp.PyArray_DATA(num)
    cdef void *dp = cnp.PyArray_DATA(den)
    cdef bint single = x.dtype == np.float32
    with nogil:
        if single and wide:
            done = ff_limit_f32_i64_parallel(
                <float *>xp, bp, n, mode, <int64_t *>np_, <int64_t *>dp, threads)
        elif single:
            done = ff_limit_f32_i32_parallel(
                <float *>xp, bp, n, mode, <int32_t *>np_, <int32_t *>dp, threads)
        elif wide:
            done = ff_limit_f64_i64_parallel(
                <double *>xp, bp, n, mode, <int64_t *>np_, <int64_t *>dp, threads)
        else:
            done = ff_limit_f64_i32_parallel(
                <double *>xp, bp, n, mode, <int32_t *>np_, <int32_t *>dp, threads)
    return num, den, done


def max_denominator(cnp.ndarray x, int p, int64_t cap):
    """The int64 bound floor(T(10**p) / |x|) clamped to [1, cap], per element."""
    cdef size_t n = x.shape[0]
    cdef cnp.ndarray out = np.empty(n, np.int64)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef int64_t *op = <int64_t *>cnp.PyArray_DATA(out)
    cdef bint single = x.dtype == np.float32
    with nogil:
        if single:
            ff_max_denominator_f32(<float *>xp, n, p, cap, op)
        else:
            ff_max_denominator_f64(<double *>xp, n, p, cap, op)
    return out


def to_float(cnp.ndarray num, cnp.ndarray den, int digits, int threads=1):
    """(out, done): float64 num/den, rounded to `digits` significant digits when > 0.

    num and den are int64 and of equal length.  done is n, or the index of
    the first den <= 0 (out is then incomplete).
    """
    cdef size_t n = num.shape[0], done
    cdef cnp.ndarray out = np.empty(n, np.float64)
    cdef int64_t *a = <int64_t *>cnp.PyArray_DATA(num)
    cdef int64_t *b = <int64_t *>cnp.PyArray_DATA(den)
    cdef double *o = <double *>cnp.PyArray_DATA(out)
    with nogil:
        done = ff_to_float_parallel(a, b, n, digits, o, threads)
    return out, done


def shortest_digits(cnp.ndarray x):
    """(digits, exp10): |x| = digits * 10**exp10, the shortest round-trip decimal.

    x: contiguous float32 or float64, finite, nonzero.  digits is uint64,
    exp10 int32.  float32 runs on the selected instruction set's batch
    (lane-parallel where there is one), float64 element by element.
    """
    cdef size_t n = x.shape[0], i
    cdef cnp.ndarray digits = np.empty(n, np.uint64)
    cdef cnp.ndarray exp10 = np.empty(n, np.int32)
    cdef uint64_t *dp = <uint64_t *>cnp.PyArray_DATA(digits)
    cdef int32_t *ep = <int32_t *>cnp.PyArray_DATA(exp10)
    cdef float *f = <float *>cnp.PyArray_DATA(x)
    cdef double *g = <double *>cnp.PyArray_DATA(x)
    cdef bint single = x.dtype == np.float32
    with nogil:
        if single:
            ff_shortest_f32_batch(f, n, dp, ep)
        else:
            for i in range(n):
                ff_shortest_f64(g[i], &dp[i], &ep[i])
    return digits, exp10
