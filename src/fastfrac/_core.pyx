# cython: language_level=3, boundscheck=False, wraparound=False
"""Thin binding of the C kernels (csrc/fastfrac.h).

Every function here takes arrays the Python layer (fastfrac.approximation)
has already checked: one-dimensional, C-contiguous, native byte order, of
the dtypes named below.  Nothing is validated twice beyond the dtype, which
picks the kernel (TypeError for any other); the GIL is released while a
kernel runs.  The float inputs are float32, float64, numpy.float16 and
ml_dtypes' bfloat16 (recognised by its name and size, without importing
ml_dtypes); the half types' data reach the C kernels as their uint16 bit
patterns.  ``threads`` (>= 1) is how many threads the C driver
(csrc/ff_parallel.c) may use for one call.

The kernels dispatch to the best instruction set this CPU runs; the
environment variable FASTFRAC_ISA (serial, avx2, avx512), read when this
module loads, forces one, and _force_isa changes it for tests.
"""
import os

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint64_t

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


# The element types the kernels take.
cdef enum _Kind:
    _F32
    _F64
    _F16
    _BF16


cdef _Kind _kind(cnp.ndarray x) except *:
    """x's element type; TypeError for a dtype no kernel takes."""
    dt = x.dtype
    if dt == np.float32:
        return _F32
    if dt == np.float64:
        return _F64
    if dt == np.float16:
        return _F16
    if dt.name == "bfloat16" and dt.itemsize == 2:
        return _BF16
    raise TypeError(f"no kernel for dtype {dt}: float32, float64, float16 or bfloat16")


def approximate(cnp.ndarray x, int p, bint exact, bint wide, int threads=1):
    """(num, den, n_ok): the bound of precision p, then the search.

    x: float32, float64, float16 or bfloat16 (the half types: decimal mode
    takes the shortest decimal in the half type itself, the bound is
    float32's of the widened value).  num/den are int64 when wide, else
    int32.  n_ok is len(x) on success, or the index of the first numerator
    that overflows.
    """
    cdef size_t n = x.shape[0], done = 0
    cdef ff_mode mode = _mode(exact)
    cdef _Kind kind = _kind(x)
    cdef cnp.ndarray num = np.empty(n, np.int64 if wide else np.int32)
    cdef cnp.ndarray den = np.empty(n, np.int64 if wide else np.int32)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef int64_t *n64 = <int64_t *>cnp.PyArray_DATA(num)
    cdef int64_t *d64 = <int64_t *>cnp.PyArray_DATA(den)
    cdef int32_t *n32 = <int32_t *>n64
    cdef int32_t *d32 = <int32_t *>d64
    with nogil:
        if kind == _F32:
            if wide:
                done = ff_approximate_f32_i64_parallel(<float *>xp, n, p, mode, n64, d64, threads)
            else:
                done = ff_approximate_f32_i32_parallel(<float *>xp, n, p, mode, n32, d32, threads)
        elif kind == _F64:
            if wide:
                done = ff_approximate_f64_i64_parallel(<double *>xp, n, p, mode, n64, d64, threads)
            else:
                done = ff_approximate_f64_i32_parallel(<double *>xp, n, p, mode, n32, d32, threads)
        elif kind == _F16:
            if wide:
                done = ff_approximate_f16_i64_parallel(<uint16_t *>xp, n, p, mode, n64, d64, threads)
            else:
                done = ff_approximate_f16_i32_parallel(<uint16_t *>xp, n, p, mode, n32, d32, threads)
        else:
            if wide:
                done = ff_approximate_bf16_i64_parallel(
                    <uint16_t *>xp, n, p, mode, n64, d64, threads)
            else:
                done = ff_approximate_bf16_i32_parallel(
                    <uint16_t *>xp, n, p, mode, n32, d32, threads)
    return num, den, done


def limit(cnp.ndarray x, cnp.ndarray max_den, bint exact, bint wide, int threads=1):
    """(num, den, n_ok) for explicit bounds: max_den is int64, len(x) long.

    x: float32, float64, float16 or bfloat16, as for approximate.
    """
    cdef size_t n = x.shape[0], done = 0
    cdef ff_mode mode = _mode(exact)
    cdef _Kind kind = _kind(x)
    cdef cnp.ndarray num = np.empty(n, np.int64 if wide else np.int32)
    cdef cnp.ndarray den = np.empty(n, np.int64 if wide else np.int32)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef int64_t *bp = <int64_t *>cnp.PyArray_DATA(max_den)
    cdef int64_t *n64 = <int64_t *>cnp.PyArray_DATA(num)
    cdef int64_t *d64 = <int64_t *>cnp.PyArray_DATA(den)
    cdef int32_t *n32 = <int32_t *>n64
    cdef int32_t *d32 = <int32_t *>d64
    with nogil:
        if kind == _F32:
            if wide:
                done = ff_limit_f32_i64_parallel(<float *>xp, bp, n, mode, n64, d64, threads)
            else:
                done = ff_limit_f32_i32_parallel(<float *>xp, bp, n, mode, n32, d32, threads)
        elif kind == _F64:
            if wide:
                done = ff_limit_f64_i64_parallel(<double *>xp, bp, n, mode, n64, d64, threads)
            else:
                done = ff_limit_f64_i32_parallel(<double *>xp, bp, n, mode, n32, d32, threads)
        elif kind == _F16:
            if wide:
                done = ff_limit_f16_i64_parallel(<uint16_t *>xp, bp, n, mode, n64, d64, threads)
            else:
                done = ff_limit_f16_i32_parallel(<uint16_t *>xp, bp, n, mode, n32, d32, threads)
        else:
            if wide:
                done = ff_limit_bf16_i64_parallel(<uint16_t *>xp, bp, n, mode, n64, d64, threads)
            else:
                done = ff_limit_bf16_i32_parallel(<uint16_t *>xp, bp, n, mode, n32, d32, threads)
    return num, den, done


def limit_bounded(cnp.ndarray x, cnp.ndarray max_den, cnp.ndarray max_num, bint exact):
    """(num, den) int64 under a denominator and a numerator bound (both int64, len(x) long).

    Serial (csrc/ff_serial.c, ff_limit_bounded_*); every answer fits int64.
    """
    cdef size_t n = x.shape[0]
    cdef ff_mode mode = _mode(exact)
    cdef _Kind kind = _kind(x)
    cdef cnp.ndarray num = np.empty(n, np.int64)
    cdef cnp.ndarray den = np.empty(n, np.int64)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef int64_t *bp = <int64_t *>cnp.PyArray_DATA(max_den)
    cdef int64_t *mp = <int64_t *>cnp.PyArray_DATA(max_num)
    cdef int64_t *n64 = <int64_t *>cnp.PyArray_DATA(num)
    cdef int64_t *d64 = <int64_t *>cnp.PyArray_DATA(den)
    with nogil:
        if kind == _F32:
            ff_limit_bounded_f32(<float *>xp, bp, mp, n, mode, n64, d64)
        elif kind == _F64:
            ff_limit_bounded_f64(<double *>xp, bp, mp, n, mode, n64, d64)
        elif kind == _F16:
            ff_limit_bounded_f16(<uint16_t *>xp, bp, mp, n, mode, n64, d64)
        else:
            ff_limit_bounded_bf16(<uint16_t *>xp, bp, mp, n, mode, n64, d64)
    return num, den


def max_denominator(cnp.ndarray x, int p, int64_t cap):
    """The int64 bound floor(T(10**p) / |x|) clamped to [1, cap], per element.

    T is x's type; for float16 and bfloat16 x is widened exactly to float32
    and T is float32.
    """
    cdef size_t n = x.shape[0]
    cdef _Kind kind = _kind(x)
    cdef cnp.ndarray out = np.empty(n, np.int64)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef int64_t *op = <int64_t *>cnp.PyArray_DATA(out)
    with nogil:
        if kind == _F32:
            ff_max_denominator_f32(<float *>xp, n, p, cap, op)
        elif kind == _F64:
            ff_max_denominator_f64(<double *>xp, n, p, cap, op)
        elif kind == _F16:
            ff_max_denominator_f16(<uint16_t *>xp, n, p, cap, op)
        else:
            ff_max_denominator_bf16(<uint16_t *>xp, n, p, cap, op)
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

    x: contiguous float32, float64, float16 or bfloat16, finite, nonzero;
    "round-trip" is in x's own type (bfloat16 0.10009765625 gives 1 and -1).
    digits is uint64, exp10 int32.  Every type runs on the selected
    instruction set's batch (lane-parallel where there is one); a zero
    gives 0 and 0.
    """
    cdef size_t n = x.shape[0]
    cdef _Kind kind = _kind(x)
    cdef cnp.ndarray digits = np.empty(n, np.uint64)
    cdef cnp.ndarray exp10 = np.empty(n, np.int32)
    cdef uint64_t *dp = <uint64_t *>cnp.PyArray_DATA(digits)
    cdef int32_t *ep = <int32_t *>cnp.PyArray_DATA(exp10)
    cdef void *xp = cnp.PyArray_DATA(x)
    with nogil:
        if kind == _F32:
            ff_shortest_f32_batch(<float *>xp, n, dp, ep)
        elif kind == _F16:
            ff_shortest_f16_batch(<uint16_t *>xp, n, dp, ep)
        elif kind == _BF16:
            ff_shortest_bf16_batch(<uint16_t *>xp, n, dp, ep)
        else:
            ff_shortest_f64_batch(<double *>xp, n, dp, ep)
    return digits, exp10


# What fused's status says (ff_fused_status).
FUSED_OK = FF_FUSED_OK
FUSED_NONFINITE = FF_FUSED_NONFINITE
FUSED_OVERFLOW = FF_FUSED_OVERFLOW


def fused(cnp.ndarray x, int p, bint exact, int digits, cnp.ndarray out, bint want_fractions,
          int threads=1, plane_widths=None):
    """One chunk in one pass: (status, index, max_abs, max_rel, bits, num, den, types).

    x: float32, float64, float16 or bfloat16; out: an array of x's dtype and
    length that receives the approximated values (the int64 bound of
    precision p, then num/den through float64 rounded to `digits`
    significant digits when digits > 0, then x's type).  status is FUSED_OK
    (index == len(x)), FUSED_NONFINITE (index: the first NaN or infinity)
    or FUSED_OVERFLOW (index: the first numerator beyond int64; x is then
    finite).  max_abs and max_rel are the largest |y - x| and |y - x| / |x|
    (x != 0) in float64, bits the sum of bit_length(|num|) + 1 +
    bit_length(den); num and den are int64 arrays when want_fractions, else
    None; types is then the narrowest integer type of each ("u1", "i2", ...;
    unsigned unless a value is negative), else None.  plane_widths, a pair
    of widths (1, 2, 4 or 8) with want_fractions, makes num and den uint8
    arrays of shape (width, len(x)) instead: the low bytes of the fractions
    as byte planes (row j: byte j of every element), valid where types are
    no wider.  out, num, den and types are meaningful only when status is
    FUSED_OK.
    """
    cdef size_t n = x.shape[0]
    cdef ff_mode mode = _mode(exact)
    cdef _Kind kind = _kind(x)
    if out.dtype != x.dtype or <size_t>out.shape[0] != n:
        raise TypeError(f"out must be {x.dtype} of length {n}, not {out.dtype} of {out.shape[0]}")
    cdef ff_planes_out planes
    cdef ff_planes_out *pp = NULL
    cdef int64_t *np_ = NULL
    cdef int64_t *dp = NULL
    num = den = None
    if want_fractions and plane_widths is not None:
        planes.num_width, planes.den_width = plane_widths
        if not all(w in (1, 2, 4, 8) for w in plane_widths):
            raise ValueError(f"plane widths must be 1, 2, 4 or 8, not {plane_widths}")
        num = np.empty((planes.num_width, n), np.uint8)
        den = np.empty((planes.den_width, n), np.uint8)
        planes.num = <uint8_t *>cnp.PyArray_DATA(num)
        planes.den = <uint8_t *>cnp.PyArray_DATA(den)
        planes.stride = n
        pp = &planes
    elif want_fractions:
        num = np.empty(n, np.int64)
        den = np.empty(n, np.int64)
        np_ = <int64_t *>cnp.PyArray_DATA(num)
        dp = <int64_t *>cnp.PyArray_DATA(den)
    cdef void *xp = cnp.PyArray_DATA(x)
    cdef void *yp = cnp.PyArray_DATA(out)
    cdef ff_fused_result r
    with nogil:
        if kind == _F32:
            ff_fused_f32_parallel(<float *>xp, n, p, mode, digits, <float *>yp, np_, dp, pp, &r,
                                  threads)
        elif kind == _F64:
            ff_fused_f64_parallel(<double *>xp, n, p, mode, digits, <double *>yp, np_, dp, pp, &r,
                                  threads)
        elif kind == _F16:
            ff_fused_f16_parallel(<uint16_t *>xp, n, p, mode, digits, <uint16_t *>yp, np_, dp,
                                  pp, &r, threads)
        else:
            ff_fused_bf16_parallel(<uint16_t *>xp, n, p, mode, digits, <uint16_t *>yp, np_, dp,
                                   pp, &r, threads)
    types = None
    cdef int num_signed = 0, den_signed = 0, num_width, den_width
    if want_fractions:
        num_width = ff_width_of_bits(r.num_any, r.num_magnitude, &num_signed)
        # Denominators are positive: the magnitude is never consulted.
        den_width = ff_width_of_bits(r.den_any, r.den_any, &den_signed)
        types = (f"{'i' if num_signed else 'u'}{num_width}",
                 f"{'i' if den_signed else 'u'}{den_width}")
    return (int(r.status), r.index, r.max_abs_error, r.max_rel_error, r.bits, num, den, types)


def _round_from_f64(cnp.ndarray x, cnp.ndarray out):
    """out[i] = x[i] (float64) rounded to out's half type by the fused pass's own conversion.

    For tests: ff_f64_to_f16 / ff_f64_to_bf16 against NumPy's and ml_dtypes' astype.
    """
    cdef size_t n = x.shape[0], i
    cdef _Kind kind = _kind(out)
    if x.dtype != np.float64 or kind not in (_F16, _BF16) or <size_t>out.shape[0] != n:
        raise TypeError("x must be float64 and out float16 or bfloat16 of the same length")
    cdef double *xp = <double *>cnp.PyArray_DATA(x)
    cdef uint16_t *op = <uint16_t *>cnp.PyArray_DATA(out)
    with nogil:
        for i in range(n):
            op[i] = ff_f64_to_f16(xp[i]) if kind == _F16 else ff_f64_to_bf16(xp[i])


# ---- byte planes of integer frames (the fractions container) -------------------


def int64_narrowest(cnp.ndarray v):
    """(width in bytes, signed) of the narrowest integer type holding a contiguous 1-D int64 array.

    Unsigned unless a value is negative; (1, False) for an empty array.
    """
    if v.dtype != np.int64 or v.ndim != 1 or not v.flags.c_contiguous:
        raise TypeError("v must be a contiguous 1-D int64 array")
    cdef int is_signed = 0, width
    cdef const int64_t *vp = <const int64_t *>cnp.PyArray_DATA(v)
    cdef size_t n = v.shape[0]
    with nogil:
        width = ff_i64_narrowest(vp, n, &is_signed)
    return width, bool(is_signed)


def int64_to_planes(cnp.ndarray v, int width):
    """v's values as width-byte integers (they must fit), in byte planes: a uint8 array."""
    if v.dtype != np.int64 or v.ndim != 1 or not v.flags.c_contiguous:
        raise TypeError("v must be a contiguous 1-D int64 array")
    if width not in (1, 2, 4, 8):
        raise ValueError(f"width must be 1, 2, 4 or 8, not {width}")
    cdef size_t n = v.shape[0]
    cdef cnp.ndarray out = np.empty(n * width, dtype=np.uint8)
    cdef const int64_t *vp = <const int64_t *>cnp.PyArray_DATA(v)
    cdef uint8_t *op = <uint8_t *>cnp.PyArray_DATA(out)
    with nogil:
        ff_i64_to_planes(vp, n, width, op)
    return out


def planes_to_int64(const uint8_t[::1] planes, size_t n, int width, bint is_signed):
    """The int64 values of n width-byte integers stored as byte planes (the inverse)."""
    if width not in (1, 2, 4, 8):
        raise ValueError(f"width must be 1, 2, 4 or 8, not {width}")
    if <size_t>planes.shape[0] != n * width:
        raise ValueError(f"{planes.shape[0]} bytes are not {n} values of {width} bytes")
    cdef cnp.ndarray out = np.empty(n, dtype=np.int64)
    cdef int64_t *op = <int64_t *>cnp.PyArray_DATA(out)
    if n:
        with nogil:
            ff_planes_to_i64(&planes[0], n, width, is_signed, op)
    return out
