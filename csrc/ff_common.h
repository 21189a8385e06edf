/*
 * ff_common.h -- types and the small helpers every fastfrac C source shares.
 *
 * Internal header: not installed, not part of the public API (fastfrac.h).
 * Each helper lives here once, with a one-line contract backed by an assert
 * (the asserts cost nothing in release builds, and the C driver and the
 * Python suite's standalone build of ff_to_float.c run with them on).
 * Everything is static inline or a static const table, so that any one
 * source file (ff_to_float.c is also built alone by tests/test_to_float.py)
 * compiles and links without the others.
 */
#ifndef FF_COMMON_H
#define FF_COMMON_H

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "fastfrac.h"
/* The logarithm constants and the Schubfach table, generated and proven by
 * tools/gen_shortest_tables.py; the helpers below are their only readers. */
#include "ff_shortest_tables.h"

/* 128-bit integers: GCC and Clang on every 64-bit target have them, and the
 * continued-fraction search needs them for the rare long decimals (a float64
 * with 17 digits below 1e-2 already has a denominator above 2**64).
 * __extension__ keeps -Wpedantic quiet about the type. */
__extension__ typedef unsigned __int128 ff_u128;
__extension__ typedef __int128 ff_i128;

#define FF_U128(hi, lo) (((ff_u128)(uint64_t)(hi) << 64) | (ff_u128)(uint64_t)(lo))

#if defined(__GNUC__)
#define FF_INLINE static inline __attribute__((always_inline))
#define FF_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define FF_INLINE static inline
#define FF_LIKELY(x) (x)
#endif

#define FF_TWO52 (UINT64_C(1) << 52)
#define FF_TWO53 (UINT64_C(1) << 53)

/* ---- the bits of a float ------------------------------------------------- */

/* Fraction and exponent field widths of each format: a finite float is an
 * integer times 2**(exponent - FRAC_BITS). */
#define FF_F32_FRAC_BITS 23
#define FF_F64_FRAC_BITS 52
#define FF_F32_EXP_BITS 8
#define FF_F64_EXP_BITS 11
/* The half formats, given as raw uint16 bit patterns: IEEE binary16
 * (float16) and bfloat16 (float32's upper half). */
#define FF_F16_FRAC_BITS 10
#define FF_F16_EXP_BITS 5
#define FF_BF16_FRAC_BITS 7
#define FF_BF16_EXP_BITS 8
/* Bit patterns of a half format with the sign bit clear: the SIMD paths'
 * decimal tables (ff_half_digits_f16, _bf16) have one entry for each. */
#define FF_HALF_PATTERNS 32768

/* Returns the raw bits of x (memcpy is the defined way to type-pun). */
FF_INLINE uint32_t ff_bits_f32(float x) {
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

FF_INLINE uint64_t ff_bits_f64(double x) {
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

/* Returns the sign bit of the IEEE value with bits b and writes its
 * magnitude as *m * 2**(*e), *m < 2**(frac_bits + 1), *m >= 2**frac_bits
 * unless the value is subnormal; requires it finite and nonzero.  One body
 * for both formats: subnormals share the smallest normals' exponent and
 * lack the hidden bit. */
FF_INLINE int ff_decode_bits(uint64_t b, int frac_bits, int exp_bits, uint64_t *m, int32_t *e) {
    const uint64_t frac = b & ((UINT64_C(1) << frac_bits) - 1);
    const int32_t biased = (int32_t)((b >> frac_bits) & ((UINT64_C(1) << exp_bits) - 1));
    const int32_t bias = (INT32_C(1) << (exp_bits - 1)) - 1;
    assert(biased != (INT32_C(1) << exp_bits) - 1 && (biased != 0 || frac != 0));
    *m = biased != 0 ? frac | (UINT64_C(1) << frac_bits) : frac;
    *e = (biased != 0 ? biased : 1) - bias - frac_bits;
    return (int)(b >> (frac_bits + exp_bits)) & 1;
}

/* Returns x's sign bit and writes |x| = *m * 2**(*e) with *e >= -149;
 * requires x finite and nonzero. */
FF_INLINE int ff_decode_f32(float x, uint64_t *m, int32_t *e) {
    return ff_decode_bits(ff_bits_f32(x), FF_F32_FRAC_BITS, FF_F32_EXP_BITS, m, e);
}

/* Returns x's sign bit and writes |x| = *m * 2**(*e) with *e >= -1074;
 * requires x finite and nonzero. */
FF_INLINE int ff_decode_f64(double x, uint64_t *m, int32_t *e) {
    return ff_decode_bits(ff_bits_f64(x), FF_F64_FRAC_BITS, FF_F64_EXP_BITS, m, e);
}

/* Returns the float16 with bits b widened to float32, exactly (every
 * float16, subnormals included, is a float32; inf and NaN map to inf and a
 * NaN).  Integer operations only: no F16C on the serial path. */
FF_INLINE float ff_f16_to_f32(uint16_t b) {
    const uint32_t sign = (uint32_t)(b >> 15) << 31, biased = (b >> 10) & 0x1f, frac = b & 0x3ff;
    uint32_t w;
    if (biased == 0x1f) {
        w = sign | 0x7f800000u | frac << 13;
    } else if (biased != 0) {
        w = sign | (biased + 127 - 15) << 23 | frac << 13;
    } else {
        /* A subnormal (or zero) is frac * 2**-24; the product is exact. */
        float v = (float)frac * 0x1p-24f;
        memcpy(&w, &v, sizeof w);
        w |= sign;
    }
    float x;
    memcpy(&x, &w, sizeof x);
    return x;
}

/* Returns the bfloat16 with bits b widened to float32 (exact: its upper half). */
FF_INLINE float ff_bf16_to_f32(uint16_t b) {
    const uint32_t w = (uint32_t)b << 16;
    float x;
    memcpy(&x, &w, sizeof x);
    return x;
}

/* A half value's shortest digits in one table entry: digits (< 10**5) in
 * the low 32 bits, exp10 + FF_HALF_EXP_BIAS (> 0: exp10 >= -41) above. */
#define FF_HALF_EXP_BIAS 64

/* Returns digits and exp10 packed as one table entry; requires digits < 2**32
 * and -FF_HALF_EXP_BIAS <= exp10 < FF_HALF_EXP_BIAS. */
FF_INLINE uint64_t ff_half_pack(uint64_t digits, int32_t exp10) {
    assert(digits >> 32 == 0 && -FF_HALF_EXP_BIAS <= exp10 && exp10 < FF_HALF_EXP_BIAS);
    return digits | (uint64_t)(exp10 + FF_HALF_EXP_BIAS) << 32;
}

/* Returns the number of significant bits of v; 0 for v == 0. */
FF_INLINE int ff_bit_length_u64(uint64_t v) { return v ? 64 - __builtin_clzll(v) : 0; }

FF_INLINE int ff_bit_length_u128(ff_u128 v) {
    uint64_t hi = (uint64_t)(v >> 64);
    return hi ? 64 + ff_bit_length_u64(hi) : ff_bit_length_u64((uint64_t)v);
}

/* ---- logarithms of powers, in integers --------------------------------------- */

/* Returns floor(log10(2**e)); requires |e| <= FF_LOG10_POW2_EMAX (1700). */
FF_INLINE int32_t ff_floor_log10_pow2(int32_t e) {
    assert(-FF_LOG10_POW2_EMAX <= e && e <= FF_LOG10_POW2_EMAX);
    /* >> of a negative int is an arithmetic shift on GCC and Clang. */
    return (e * FF_LOG10_POW2_MUL + FF_LOG10_POW2_ADD) >> FF_LOG10_POW2_SHIFT;
}

/* Returns floor(log10(3/4 * 2**e)); requires |e| <= FF_LOG10_3Q_POW2_EMAX (1700). */
FF_INLINE int32_t ff_floor_log10_three_quarters_pow2(int32_t e) {
    assert(-FF_LOG10_3Q_POW2_EMAX <= e && e <= FF_LOG10_3Q_POW2_EMAX);
    return (e * FF_LOG10_3Q_POW2_MUL + FF_LOG10_3Q_POW2_ADD) >> FF_LOG10_3Q_POW2_SHIFT;
}

/* Returns floor(log2(10**e)); requires |e| <= FF_LOG2_POW10_EMAX (500). */
FF_INLINE int32_t ff_floor_log2_pow10(int32_t e) {
    assert(-FF_LOG2_POW10_EMAX <= e && e <= FF_LOG2_POW10_EMAX);
    return (e * FF_LOG2_POW10_MUL + FF_LOG2_POW10_ADD) >> FF_LOG2_POW10_SHIFT;
}

/* ---- powers of ten ------------------------------------------------------------ */

/* 10**k for 0 <= k <= 19, every power of ten a uint64 holds. */
static const uint64_t ff_pow10_u64_table[20] = {
    UINT64_C(1),
    UINT64_C(10),
    UINT64_C(100),
    UINT64_C(1000),
    UINT64_C(10000),
    UINT64_C(100000),
    UINT64_C(1000000),
    UINT64_C(10000000),
    UINT64_C(100000000),
    UINT64_C(1000000000),
    UINT64_C(10000000000),
    UINT64_C(100000000000),
    UINT64_C(1000000000000),
    UINT64_C(10000000000000),
    UINT64_C(100000000000000),
    UINT64_C(1000000000000000),
    UINT64_C(10000000000000000),
    UINT64_C(100000000000000000),
    UINT64_C(1000000000000000000),
    UINT64_C(10000000000000000000),
};

/* Returns 10**k; requires 0 <= k <= 19. */
FF_INLINE uint64_t ff_pow10_u64(int k) {
    assert(0 <= k && k <= 19);
    return ff_pow10_u64_table[k];
}

/* Returns 10**k; requires 0 <= k <= 38 (10**38 < 2**127 is the largest that fits). */
FF_INLINE ff_u128 ff_pow10_u128(int k) {
    assert(0 <= k && k <= 38);
    if (k <= 19) return ff_pow10_u64_table[k];
    return (ff_u128)ff_pow10_u64_table[k - 19] * ff_pow10_u64_table[19];
}

/* 10**k for -30 <= k <= 30, each the double nearest to it (the compiler
 * rounds every literal correctly), at [k + FF_POW10_F64_MAX].  Exact for
 * 0 <= k <= FF_POW10_EXACT_MAX, since 5**22 < 2**53: the operand Clinger's
 * fast path needs, and what converts to float32 10**k correctly rounded. */
#define FF_POW10_F64_MAX 30
#define FF_POW10_EXACT_MAX 22
static const double ff_pow10_f64_table[2 * FF_POW10_F64_MAX + 1] = {
    1e-30, 1e-29, 1e-28, 1e-27, 1e-26, 1e-25, 1e-24, 1e-23, 1e-22, 1e-21, 1e-20, 1e-19, 1e-18,
    1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9,  1e-8,  1e-7,  1e-6,  1e-5,
    1e-4,  1e-3,  1e-2,  1e-1,  1e0,   1e1,   1e2,   1e3,   1e4,   1e5,   1e6,   1e7,   1e8,
    1e9,   1e10,  1e11,  1e12,  1e13,  1e14,  1e15,  1e16,  1e17,  1e18,  1e19,  1e20,  1e21,
    1e22,  1e23,  1e24,  1e25,  1e26,  1e27,  1e28,  1e29,  1e30};

/* The entry for 10**0, so that FF_POW10_F64_AT[k] is 10**k (the SIMD
 * kernels gather from it with k in -30 .. 30). */
#define FF_POW10_F64_AT (ff_pow10_f64_table + FF_POW10_F64_MAX)

/* Returns the double nearest to 10**k; requires |k| <= 30. */
FF_INLINE double ff_pow10_f64(int k) {
    assert(-FF_POW10_F64_MAX <= k && k <= FF_POW10_F64_MAX);
    return FF_POW10_F64_AT[k];
}

/* ---- the Schubfach scale factors (ff_shortest_tables.h) ----------------------- */

/* Returns g(k), the leading 128 bits of 10**-k rounded up (in [2**127, 2**128));
 * requires FF_G_K_MIN <= k <= FF_G_K_MAX. */
FF_INLINE ff_u128 ff_g128(int32_t k) {
    assert(FF_G_K_MIN <= k && k <= FF_G_K_MAX);
    const uint64_t *row = ff_g_table[k - FF_G_K_MIN];
    return FF_U128(row[0], row[1]);
}

/* Returns the leading 64 bits of 10**-k rounded up, ceil(g(k) / 2**64);
 * requires FF_G_K32_MIN <= k <= FF_G_K32_MAX (the generator checked that
 * no row in that range rounds up past 2**64 - 1).  float32's scale factor,
 * in ff_shortest.c and, gathered per lane, in ff_simd.h. */
FF_INLINE uint64_t ff_g64(int32_t k) {
    assert(FF_G_K32_MIN <= k && k <= FF_G_K32_MAX);
    const uint64_t *row = ff_g_table[k - FF_G_K_MIN];
    return row[0] + (row[1] != 0);
}

#endif /* FF_COMMON_H */
