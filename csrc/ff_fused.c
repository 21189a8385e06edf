/*
 * ff_fused.c -- the fused chunk pass: one call that turns a chunk of a
 * tensor into its approximated values and the numbers its report needs.
 *
 * The file path used to spend a dozen NumPy passes per chunk (finiteness,
 * int64 fractions, to_float, a cast, float64 error arrays, bit lengths);
 * here each element is read once and everything stays in cache.  The
 * contract is in fastfrac.h (ff_fused_f32): the result is the composition
 *   approximate(x, p, int64) -> to_float(num, den, digits) -> astype(x's type)
 * with max_errors and fraction_bits of fastfrac._bits.
 *
 * Two shapes of the same pass:
 *   - ff_fused_<FT>_serial, the reference: element by element, through the
 *     per-element functions of ff_serial.c and ff_to_float.c;
 *   - ff_fused_<FT>_<ISA> for the SIMD instruction sets: blocks of
 *     FF_FUSED_BLOCK elements, each through that set's own lane-parallel
 *     approximate and to_float kernels into small buffers, then the cast and
 *     the statistics.  No second search is written: the batch kernels are
 *     already held bit for bit to the serial ones.
 * Threads are ff_parallel.c's business (ff_fused_<FT>_parallel).
 */
#include <math.h>
#include <string.h>

#include "ff_common.h"
#include "ff_kernels.h"

/* ---- double to the element types ------------------------------------------- */

/* Returns v rounded to nearest, ties to even, in the IEEE format with
 * frac_bits / exp_bits fields (the result's sign bit is bit 15).  Straight
 * from the double's bits: going through float32 would round twice. */
static uint16_t ff_f64_to_half(double v, int frac_bits, int exp_bits) {
    const uint64_t b = ff_bits_f64(v);
    const uint16_t sign = (uint16_t)((b >> 63) << 15);
    const uint64_t inf = ((UINT64_C(1) << exp_bits) - 1) << frac_bits;
    if (((b >> FF_F64_FRAC_BITS) & 0x7ff) == 0x7ff) {
        const int nan = (b & (FF_TWO52 - 1)) != 0;
        return (uint16_t)(sign | inf | (nan ? UINT64_C(1) << (frac_bits - 1) : 0));
    }
    if ((b << 1) == 0) return sign;
    uint64_t m;
    int32_t e;
    (void)ff_decode_f64(v, &m, &e);
    /* The result is r * 2**q with q the format's quantum at |v|: the
     * exponent of its last fraction bit, never below the subnormals'. */
    const int bias = (1 << (exp_bits - 1)) - 1, q_min = 1 - bias - frac_bits;
    const int top = ff_bit_length_u64(m) - 1 + e; /* floor(log2 |v|) */
    const int q = top - frac_bits > q_min ? top - frac_bits : q_min;
    const int shift = q - e;
    uint64_t r;
    if (shift <= 0) {
        r = m << -shift; /* exact: |v| has no bits below the quantum */
    } else if (shift > 63) {
        r = 0; /* m < 2**53 is below half a quantum */
    } else {
        const uint64_t rest = m & ((UINT64_C(1) << shift) - 1), half = UINT64_C(1) << (shift - 1);
        r = m >> shift;
        r += rest > half || (rest == half && (r & 1));
    }
    /* r includes the hidden bit for normals, so adding it to the exponent
     * field one below the right one gives the pattern, and a carry out of
     * the fraction moves to the next binade (or to infinity) by itself. */
    uint64_t bits = ((uint64_t)(q - q_min) << frac_bits) + r;
    if (bits > inf) bits = inf;
    return (uint16_t)(sign | bits);
}

/* The common case of ff_f64_to_half, inline: |v| in the format's normal
 * range (double exponent field in [lo, hi]).  Rounding to nearest, ties to
 * even, at the format's last fraction bit is then one integer addition on
 * the double's bits (a carry out of the fraction moves to the next binade,
 * or from the largest binade to the infinity pattern, as it should), and the
 * pattern is the top bits with the exponent rebiased.  Measured: the
 * out-of-line general routine was 15 % of the fused pass on bfloat16. */
FF_INLINE int ff_f64_to_half_fast(double v, int frac_bits, int exp_bits, uint16_t *out) {
    const uint64_t b = ff_bits_f64(v);
    const uint64_t e = (b >> FF_F64_FRAC_BITS) & 0x7ff;
    const int bias = (1 << (exp_bits - 1)) - 1;
    if (e < (uint64_t)(1023 - bias + 1) || e > (uint64_t)(1023 + bias)) return 0;
    const int shift = FF_F64_FRAC_BITS - frac_bits;
    const uint64_t mag = b & ~(UINT64_C(1) << 63);
    const uint64_t r = (mag + ((UINT64_C(1) << (shift - 1)) - 1) + ((mag >> shift) & 1)) >> shift;
    const uint64_t rebias = (uint64_t)(1023 - bias) << frac_bits;
    *out = (uint16_t)(((b >> 48) & 0x8000) | (r - rebias));
    return 1;
}

/* Exported for the tests (fastfrac._core._round_from_f64, held to NumPy's
 * and ml_dtypes' astype); the fused pass inlines the same two lines. */
FF_INLINE uint16_t ff_f64_to_f16_inline(double v) {
    uint16_t h;
    return ff_f64_to_half_fast(v, FF_F16_FRAC_BITS, FF_F16_EXP_BITS, &h)
               ? h
               : ff_f64_to_half(v, FF_F16_FRAC_BITS, FF_F16_EXP_BITS);
}

FF_INLINE uint16_t ff_f64_to_bf16_inline(double v) {
    uint16_t h;
    return ff_f64_to_half_fast(v, FF_BF16_FRAC_BITS, FF_BF16_EXP_BITS, &h)
               ? h
               : ff_f64_to_half(v, FF_BF16_FRAC_BITS, FF_BF16_EXP_BITS);
}

uint16_t ff_f64_to_f16(double v) { return ff_f64_to_f16_inline(v); }

uint16_t ff_f64_to_bf16(double v) { return ff_f64_to_bf16_inline(v); }

/* Returns v in each element type (float32: C's conversion rounds to nearest,
 * ties to even, as NumPy's astype does). */
FF_INLINE float ff_from_f64_f32(double v) { return (float)v; }
FF_INLINE double ff_from_f64_f64(double v) { return v; }
FF_INLINE uint16_t ff_from_f64_f16(double v) { return ff_f64_to_f16_inline(v); }
FF_INLINE uint16_t ff_from_f64_bf16(double v) { return ff_f64_to_bf16_inline(v); }

/* Returns the element widened exactly to double. */
FF_INLINE double ff_widen_f32(float x) { return (double)x; }
FF_INLINE double ff_widen_f64(double x) { return x; }
FF_INLINE double ff_widen_f16(uint16_t x) { return (double)ff_f16_to_f32(x); }
FF_INLINE double ff_widen_bf16(uint16_t x) { return (double)ff_bf16_to_f32(x); }

/* Returns whether the element is finite (by its exponent field: all ones is
 * infinity or NaN). */
FF_INLINE int ff_finite_f32(float x) { return (ff_bits_f32(x) & 0x7f800000u) != 0x7f800000u; }
FF_INLINE int ff_finite_f64(double x) {
    return (ff_bits_f64(x) & UINT64_C(0x7ff0000000000000)) != UINT64_C(0x7ff0000000000000);
}
FF_INLINE int ff_finite_f16(uint16_t x) { return (x & 0x7c00) != 0x7c00; }
FF_INLINE int ff_finite_bf16(uint16_t x) { return (x & 0x7f80) != 0x7f80; }

/* ff_first_nonfinite_<FT>: the offset of the first NaN or infinity of
 * x[0..n), or n.  The common all-finite case runs without an early exit
 * (so that it vectorises), then the position is looked for. */
#define FF_DEFINE_FIRST_NONFINITE(FT)                                                              \
    static size_t ff_first_nonfinite_##FT(const ff_##FT *x, size_t n) {                            \
        int all = 1;                                                                               \
        for (size_t i = 0; i < n; ++i) all &= ff_finite_##FT(x[i]);                                \
        if (all) return n;                                                                         \
        size_t i = 0;                                                                              \
        while (ff_finite_##FT(x[i])) ++i;                                                          \
        return i;                                                                                  \
    }
/* ff_first_nonfinite_f32 */
FF_DEFINE_FIRST_NONFINITE(f32)
/* ff_first_nonfinite_f64 */
FF_DEFINE_FIRST_NONFINITE(f64)
/* ff_first_nonfinite_f16 */
FF_DEFINE_FIRST_NONFINITE(f16)
/* ff_first_nonfinite_bf16 */
FF_DEFINE_FIRST_NONFINITE(bf16)

/* ---- the statistics ------------------------------------------------------------ */

/* Sets *r to an empty pass over n elements: OK, no error, no bits. */
static void ff_fused_start(ff_fused_result *r, size_t n) {
    r->status = FF_FUSED_OK;
    r->index = n;
    r->max_abs_error = 0.0;
    r->max_rel_error = 0.0;
    r->bits = 0;
    r->num_any = r->num_magnitude = r->den_any = 0;
}

/* Adds one element (x and y widened, its fraction a/b) to *r: the float64
 * operations of fastfrac._bits.max_errors, one element at a time. */
FF_INLINE void ff_fused_add(ff_fused_result *r, double x, double y, int64_t a, int64_t b) {
    const double err = fabs(y - x);
    if (err > r->max_abs_error) r->max_abs_error = err;
    if (x != 0) {
        /* The division only where it can raise the maximum M: fl(err/|x|) > M
         * implies err > M |x| (1 - 2**-53) > fl(fl(M |x|) * 0.999999), so the
         * test below never skips an element that would raise M (an overflow
         * of M |x| to inf only happens when err/|x| < M).  Most elements skip
         * it: the divisions were a large part of the statistics loop. */
        const double ax = fabs(x);
        if (err > r->max_rel_error * ax * 0.999999) {
            const double rel = err / ax;
            if (rel > r->max_rel_error) r->max_rel_error = rel;
        }
    }
    /* |a| as uint64: -INT64_MIN does not fit int64. */
    const uint64_t mag = a < 0 ? -(uint64_t)a : (uint64_t)a;
    r->bits += (uint64_t)(ff_bit_length_u64(mag) + 1 + ff_bit_length_u64((uint64_t)b));
}

/* ORs the bits of len fractions into *r's num_any, num_magnitude and
 * den_any (see ff_fused_result); bit operations only, so it vectorizes. */
FF_INLINE void ff_fused_or(ff_fused_result *r, const int64_t *a, const int64_t *b, size_t len) {
    uint64_t any = r->num_any, magnitude = r->num_magnitude, den = r->den_any;
    for (size_t i = 0; i < len; ++i) {
        const uint64_t u = (uint64_t)a[i];
        any |= u;
        magnitude |= u ^ (0 - (u >> 63));
        den |= (uint64_t)b[i];
    }
    r->num_any = any;
    r->num_magnitude = magnitude;
    r->den_any = den;
}

/* Element i's fraction into the planes (the serial pass). */
FF_INLINE void ff_planes_put(const ff_planes_out *o, size_t i, int64_t a, int64_t b) {
    for (int j = 0; j < o->num_width; ++j)
        o->num[(size_t)j * o->stride + i] = (uint8_t)((uint64_t)a >> (8 * j));
    for (int j = 0; j < o->den_width; ++j)
        o->den[(size_t)j * o->stride + i] = (uint8_t)((uint64_t)b >> (8 * j));
}

/* ff_fused_fail_<FT>: records the overflow at index `at` of x[0..n), unless
 * a NaN or infinity lies after it (before it there is none: the pass checks
 * as it goes), which is then what is reported. */
#define FF_DEFINE_FUSED_FAIL(FT)                                                                   \
    static void ff_fused_fail_##FT(ff_fused_result *r, const ff_##FT *x, size_t n, size_t at) {    \
        const size_t later = at + 1 + ff_first_nonfinite_##FT(x + at + 1, n - at - 1);             \
        r->status = later < n ? FF_FUSED_NONFINITE : FF_FUSED_OVERFLOW;                            \
        r->index = later < n ? later : at;                                                         \
    }
/* ff_fused_fail_f32 */
FF_DEFINE_FUSED_FAIL(f32)
/* ff_fused_fail_f64 */
FF_DEFINE_FUSED_FAIL(f64)
/* ff_fused_fail_f16 */
FF_DEFINE_FUSED_FAIL(f16)
/* ff_fused_fail_bf16 */
FF_DEFINE_FUSED_FAIL(bf16)

/* ---- the reference: one element at a time ---------------------------------------- */

/* ff_fused_<FT>_serial: per element, the finiteness check, ff_limit_<FT>
 * with ff_max_den_<FT>'s int64 bound, ff_ratio_to_f64 and
 * ff_round_significant, the rounding to FT, the statistics. */
#define FF_DEFINE_FUSED_SERIAL(FT)                                                                 \
    void ff_fused_##FT##_serial(const ff_##FT *x, size_t n, int p, ff_mode mode, int digits,       \
                                ff_##FT *y, int64_t *num, int64_t *den,                            \
                                const ff_planes_out *planes, ff_fused_result *r) {                 \
        assert(0 <= p && p <= FF_MAX_P_I64 && digits >= 0 && (num == NULL) == (den == NULL));      \
        ff_fused_start(r, n);                                                                      \
        for (size_t i = 0; i < n; ++i) {                                                           \
            if (!ff_finite_##FT(x[i])) {                                                           \
                r->status = FF_FUSED_NONFINITE;                                                    \
                r->index = i;                                                                      \
                return;                                                                            \
            }                                                                                      \
            int64_t a, b;                                                                          \
            if (ff_limit_##FT(x[i], ff_max_den_##FT(x[i], p, FF_MAX_DEN_I64), mode, INT64_MIN,     \
                              INT64_MAX, &a, &b)) {                                                \
                ff_fused_fail_##FT(r, x, n, i);                                                    \
                return;                                                                            \
            }                                                                                      \
            double v = ff_ratio_to_f64(a, b);                                                      \
            if (digits > 0) v = ff_round_significant(v, digits);                                   \
            y[i] = ff_from_f64_##FT(v);                                                            \
            ff_fused_add(r, ff_widen_##FT(x[i]), ff_widen_##FT(y[i]), a, b);                       \
            if (num) {                                                                             \
                num[i] = a;                                                                        \
                den[i] = b;                                                                        \
            }                                                                                      \
            if (planes) ff_planes_put(planes, i, a, b);                                            \
            if (num || planes) ff_fused_or(r, &a, &b, 1);                                          \
        }                                                                                          \
    }
/* ff_fused_f32_serial */
FF_DEFINE_FUSED_SERIAL(f32)
/* ff_fused_f64_serial */
FF_DEFINE_FUSED_SERIAL(f64)
/* ff_fused_f16_serial */
FF_DEFINE_FUSED_SERIAL(f16)
/* ff_fused_bf16_serial */
FF_DEFINE_FUSED_SERIAL(bf16)

/* ---- the SIMD sets: blocks through their batch kernels ------------------------------ */

#ifdef FF_WITH_X86_SIMD

/* Elements per block: num, den and the doubles of one block are 24 KB, so
 * that with the chunk's own data they stay in L1/L2 between the steps; and
 * long enough that the lane kernels' head and tail cost nothing. */
#define FF_FUSED_BLOCK 1024

/* One block's a[0..len) into planes from element start on: packed by ISA
 * into a buffer still in L1, then copied plane by plane.  Written this way,
 * the pass never stores the int64 fractions outside the block; measured on
 * the 1.2 GB bfloat16 checkpoint of benchmarks/bench_checkpoint.py, storing
 * them and packing them afterwards cost about 4 ms more per 2**20 values. */
#define FF_DEFINE_PUT_PLANES(ISA)                                                                  \
    static void ff_put_planes_##ISA(const int64_t *a, size_t len, int width, uint8_t *planes,      \
                                    size_t stride, size_t start) {                                 \
        uint8_t packed[8 * FF_FUSED_BLOCK];                                                        \
        ff_i64_to_planes_##ISA(a, len, width, packed);                                             \
        for (int j = 0; j < width; ++j)                                                            \
            memcpy(planes + (size_t)j * stride + start, packed + (size_t)j * len, len);            \
    }
/* ff_put_planes_avx2 */
FF_DEFINE_PUT_PLANES(avx2)
/* ff_put_planes_avx512 */
FF_DEFINE_PUT_PLANES(avx512)

/* ff_fused_<FT>_<ISA>: block by block, the finiteness check, ISA's
 * ff_approximate_<FT>_i64 into num/den (the caller's arrays when it wants
 * them, else block buffers), ISA's ff_to_float, then the rounding to FT and
 * the statistics, and the block's planes when they are wanted. */
#define FF_DEFINE_FUSED_BLOCKS(FT, ISA)                                                            \
    void ff_fused_##FT##_##ISA(const ff_##FT *x, size_t n, int p, ff_mode mode, int digits,        \
                               ff_##FT *y, int64_t *num, int64_t *den,                             \
                               const ff_planes_out *planes, ff_fused_result *r) {                  \
        assert(0 <= p && p <= FF_MAX_P_I64 && digits >= 0 && (num == NULL) == (den == NULL));      \
        int64_t num_block[FF_FUSED_BLOCK], den_block[FF_FUSED_BLOCK];                              \
        double v[FF_FUSED_BLOCK];                                                                  \
        ff_fused_start(r, n);                                                                      \
        for (size_t start = 0; start < n; start += FF_FUSED_BLOCK) {                               \
            const size_t len = n - start < FF_FUSED_BLOCK ? n - start : FF_FUSED_BLOCK;            \
            const ff_##FT *xs = x + start;                                                         \
            const size_t bad = ff_first_nonfinite_##FT(xs, len);                                   \
            if (bad < len) {                                                                       \
                r->status = FF_FUSED_NONFINITE;                                                    \
                r->index = start + bad;                                                            \
                return;                                                                            \
            }                                                                                      \
            int64_t *a = num ? num + start : num_block, *b = den ? den + start : den_block;        \
            const size_t done = ff_approximate_##FT##_i64_##ISA(xs, len, p, mode, a, b);           \
            if (done < len) {                                                                      \
                ff_fused_fail_##FT(r, x, n, start + done);                                         \
                return;                                                                            \
            }                                                                                      \
            ff_to_float_##ISA(a, b, len, digits, v);                                               \
            ff_##FT *ys = y + start;                                                               \
            for (size_t i = 0; i < len; ++i) {                                                     \
                ys[i] = ff_from_f64_##FT(v[i]);                                                    \
                ff_fused_add(r, ff_widen_##FT(xs[i]), ff_widen_##FT(ys[i]), a[i], b[i]);           \
            }                                                                                      \
            if (!num && !planes) continue;                                                         \
            ff_fused_or(r, a, b, len); /* the block is still in L1 */                              \
            if (planes) {                                                                          \
                const size_t stride = planes->stride;                                              \
                ff_put_planes_##ISA(a, len, planes->num_width, planes->num, stride, start);        \
                ff_put_planes_##ISA(b, len, planes->den_width, planes->den, stride, start);        \
            }                                                                                      \
        }                                                                                          \
    }

/* ff_fused_f32_avx2 */
FF_DEFINE_FUSED_BLOCKS(f32, avx2)
/* ff_fused_f64_avx2 */
FF_DEFINE_FUSED_BLOCKS(f64, avx2)
/* ff_fused_f16_avx2 */
FF_DEFINE_FUSED_BLOCKS(f16, avx2)
/* ff_fused_bf16_avx2 */
FF_DEFINE_FUSED_BLOCKS(bf16, avx2)
/* ff_fused_f32_avx512 */
FF_DEFINE_FUSED_BLOCKS(f32, avx512)
/* ff_fused_f64_avx512 */
FF_DEFINE_FUSED_BLOCKS(f64, avx512)
/* ff_fused_f16_avx512 */
FF_DEFINE_FUSED_BLOCKS(f16, avx512)
/* ff_fused_bf16_avx512 */
FF_DEFINE_FUSED_BLOCKS(bf16, avx512)

#endif /* FF_WITH_X86_SIMD */
