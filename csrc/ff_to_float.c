/*
 * ff_to_float.c -- fractions back to float64, bit for bit as CPython does it.
 *
 * Specification
 * =============
 *
 * ff_ratio_to_f64(num, den) is float(Fraction(num, den)), which is also
 * Python's num / den on ints: the exact quotient rounded once to the nearest
 * double, ties to even.
 *
 * ff_round_significant(v, digits) is the research script's
 *     round(v, digits - 1 - math.floor(math.log10(abs(v))))
 * with 0 returned unchanged.  CPython 3.11 evaluates round(x, nd) for a
 * finite float (float___round___impl and double_round in floatobject.c) as:
 *   - nd > 323  (NDIGITS_MAX = (int)(1074 * 0.30103)):  x itself;
 *   - nd < -308 (NDIGITS_MIN = -(int)(1025 * 0.30103)): 0.0 * x, a zero of
 *     x's sign;
 *   - otherwise _Py_dg_dtoa(x, mode 3, nd) rounds the exact binary value of x
 *     to nd digits after the decimal point, half to even, and _Py_dg_strtod
 *     reads the resulting decimal back, correctly rounded, half to even.  The
 *     sign is carried separately, so a decimal that rounds to nothing gives a
 *     zero of x's sign (round(-0.0001, 2) is -0.0), and a decimal beyond the
 *     double range gives OverflowError in Python; here it gives +-inf.
 *
 * Method
 * ======
 *
 * Write x = |v| = M * 2**E (M < 2**53 an integer) and s = nd.  Two exact steps:
 *
 *   1. N = the integer nearest to X = x * 10**s, ties to even;
 *   2. the double nearest to D = N * 10**-s, ties to even.
 *
 * Before step 1: when 10**-s <= the gap between x and its nearer neighbour,
 * |D - x| <= 10**-s / 2 is at most half that gap (with equality only for
 * s = 0 and integer x, where D = x), so step 2 gives x back.  Returning x then
 * is what makes the digits >= 17 and huge-nd cases cheap, and in every other
 * case it bounds X < 2**53 (x < 2**(g + 53) and 10**s < 2**-g, with 2**g
 * the smaller gap), so N <= 2**53 fits everything below.
 *
 * The common cases stay in 64/128-bit integers: for 0 <= s <= 27, X is
 * M * 5**s (< 2**116) shifted right; for -27 <= s < 0 it is a 128-bit
 * division by 5**t.  Step 2 is then one IEEE operation (Clinger's fast path:
 * N and 10**|s| are exact doubles, so a single correctly rounded division or
 * multiplication is the correctly rounded D).
 *
 * Everything else (|s| large: tiny or huge values, or many digits) takes a
 * slow but simple exact route: a floating-point estimate, then correction by
 * comparing against the exact midpoints with big integers of at most 1024
 * bits.
 *
 * floor(log10 x) is the C library's, but only its floor matters, and that
 * is the true floor except within a hair of a power of ten (ff_floor_log10):
 * we compute it in integers and call log10 only in that band.
 */
#include <float.h>
#include <math.h>

#include "ff_common.h"
#include "ff_kernels.h"

/* Clinger's fast path and the direct division need each double operation
 * rounded once, to double: no x87 extended precision. */
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "ff_to_float.c needs FLT_EVAL_METHOD == 0 (SSE2 or any 64-bit FPU)"
#endif

/* 5**k for k <= 27, the largest power of five below 2**63. */
static const uint64_t FF_POW5_U64[28] = {
    UINT64_C(1),
    UINT64_C(5),
    UINT64_C(25),
    UINT64_C(125),
    UINT64_C(625),
    UINT64_C(3125),
    UINT64_C(15625),
    UINT64_C(78125),
    UINT64_C(390625),
    UINT64_C(1953125),
    UINT64_C(9765625),
    UINT64_C(48828125),
    UINT64_C(244140625),
    UINT64_C(1220703125),
    UINT64_C(6103515625),
    UINT64_C(30517578125),
    UINT64_C(152587890625),
    UINT64_C(762939453125),
    UINT64_C(3814697265625),
    UINT64_C(19073486328125),
    UINT64_C(95367431640625),
    UINT64_C(476837158203125),
    UINT64_C(2384185791015625),
    UINT64_C(11920928955078125),
    UINT64_C(59604644775390625),
    UINT64_C(298023223876953125),
    UINT64_C(1490116119384765625),
    UINT64_C(7450580596923828125),
};
#define FF_POW5_MAX 27

/* ---- num / den ---------------------------------------------------------- */

/* a / b correctly rounded, ties to even; requires 1 <= b < 2**63 and that a
 * or b exceeds 2**53 (else plain division does it). */
static double ff_ratio_exact(uint64_t a, uint64_t b) {
    assert(b >= 1 && b <= (uint64_t)INT64_MAX);
    if (a == 0) return 0.0;
    /* Scale so that the quotient has 55 or 56 bits (more when a is already
     * far above b): 53 kept bits, a rounding bit, at least one more, and the
     * remainder as the sticky bit.  a << sh has bit_length(b) + 55 <= 118
     * bits, so it fits. */
    int sh = 55 - ff_bit_length_u64(a) + ff_bit_length_u64(b);
    if (sh < 0) sh = 0;
    ff_u128 scaled = (ff_u128)a << sh;
    ff_u128 q128 = scaled / b;
    uint64_t r = (uint64_t)(scaled % b);
    assert(q128 >= (FF_TWO53 << 1) && (q128 >> 64) == 0);
    uint64_t q = (uint64_t)q128;
    int drop = ff_bit_length_u64(q) - 53;
    uint64_t kept = q >> drop;
    uint64_t low = q & ((UINT64_C(1) << drop) - 1), half = UINT64_C(1) << (drop - 1);
    /* Exact value is (kept * 2**drop + low + r/b) * 2**-sh: round up above
     * half, down below, and at an exact half (r == 0) to even. */
    if (low > half || (low == half && (r != 0 || (kept & 1)))) ++kept;
    /* kept <= 2**53 and the result lies in [2**-63, 2**64]: ldexp is exact. */
    return ldexp((double)kept, drop - sh);
}

double ff_ratio_to_f64(int64_t num, int64_t den) {
    assert(den > 0);
    uint64_t a = num < 0 ? UINT64_C(0) - (uint64_t)num : (uint64_t)num; /* INT64_MIN too */
    uint64_t b = (uint64_t)den;
    /* Both operands are exact doubles, and IEEE division rounds the exact
     * quotient once: the correctly rounded result. */
    if (FF_LIKELY(a <= FF_TWO53 && b <= FF_TWO53)) return (double)num / (double)den;
    double r = ff_ratio_exact(a, b);
    return num < 0 ? -r : r;
}

/* ---- big integers for the rare exact comparisons ------------------------ */

/* 1024 bits.  Every comparison puts X or D (both within a factor 2**60 of
 * 1 .. 2**53, as s comes from floor(log10 x)) against a number of the
 * same size, and after cancelling common factors one side carries at most
 * 5**323 or 2**(E + s + 1) <= 2**664 times a 56-bit integer: below 2**810. */
#define FF_BIG_LIMBS 16

typedef struct ff_big {
    int len; /* limbs in use; d[len - 1] != 0, or len == 0 for zero */
    uint64_t d[FF_BIG_LIMBS];
} ff_big;

/* b = x. */
static void ff_big_set(ff_big *b, uint64_t x) {
    b->d[0] = x;
    b->len = x != 0;
    assert(b->len <= 1);
}

/* b *= y; requires the product to fit FF_BIG_LIMBS limbs. */
static void ff_big_mul(ff_big *b, uint64_t y) {
    uint64_t carry = 0;
    for (int i = 0; i < b->len; ++i) {
        ff_u128 p = (ff_u128)b->d[i] * y + carry;
        b->d[i] = (uint64_t)p;
        carry = (uint64_t)(p >> 64);
    }
    if (carry) {
        assert(b->len < FF_BIG_LIMBS);
        b->d[b->len++] = carry;
    }
    if (y == 0) b->len = 0;
}

/* b *= 5**k; requires k >= 0 and the product to fit. */
static void ff_big_mul_pow5(ff_big *b, int k) {
    assert(k >= 0);
    for (; k > FF_POW5_MAX; k -= FF_POW5_MAX) ff_big_mul(b, FF_POW5_U64[FF_POW5_MAX]);
    ff_big_mul(b, FF_POW5_U64[k]);
}

/* b <<= k; requires k >= 0 and the result to fit. */
static void ff_big_shl(ff_big *b, int k) {
    assert(k >= 0);
    if (b->len == 0) return;
    int limbs = k / 64, bits = k % 64;
    int top = b->len + limbs + (bits != 0);
    assert(top <= FF_BIG_LIMBS);
    for (int i = top - 1; i >= limbs; --i) {
        int j = i - limbs; /* source limb feeding the high part of d[i] */
        uint64_t hi = j < b->len ? b->d[j] : 0;
        uint64_t lo = (bits && j >= 1) ? b->d[j - 1] : 0;
        b->d[i] = bits ? (hi << bits) | (lo >> (64 - bits)) : hi;
    }
    for (int i = 0; i < limbs; ++i) b->d[i] = 0;
    b->len = top;
    while (b->len > 0 && b->d[b->len - 1] == 0) --b->len;
}

/* -1, 0 or 1 as a < b, a == b, a > b; requires both normalized. */
static int ff_big_cmp(const ff_big *a, const ff_big *b) {
    assert((a->len == 0 || a->d[a->len - 1]) && (b->len == 0 || b->d[b->len - 1]));
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    for (int i = a->len - 1; i >= 0; --i)
        if (a->d[i] != b->d[i]) return a->d[i] < b->d[i] ? -1 : 1;
    return 0;
}

/* Sign of x * 5**p5 * 2**p2 - y * 5**q5 * 2**q2 (exponents of any sign);
 * requires both sides, scaled to integers, to fit FF_BIG_LIMBS limbs. */
static int ff_cmp_scaled(uint64_t x, int p5, int p2, uint64_t y, int q5, int q2) {
    /* Dividing both sides by 5**min(p5, q5) * 2**min(p2, q2) keeps the sign
     * and leaves nonnegative exponents only. */
    ff_big a, b;
    int d5 = p5 - q5, d2 = p2 - q2;
    ff_big_set(&a, x);
    ff_big_set(&b, y);
    ff_big_mul_pow5(d5 > 0 ? &a : &b, d5 > 0 ? d5 : -d5);
    ff_big_shl(d2 > 0 ? &a : &b, d2 > 0 ? d2 : -d2);
    return ff_big_cmp(&a, &b);
}

/* ---- the two steps of Python's round ------------------------------------ */

/* y * 10**s to within a few units in the last place (or 0 / inf at the
 * extremes); requires |s| <= 700. */
static double ff_scale10_estimate(double y, int s) {
    assert(-700 <= s && s <= 700);
    int h = s / 2; /* two factors, so that neither 10**h nor the partial product overflows */
    return y * pow(10.0, h) * pow(10.0, s - h);
}

/* round-half-even(M * 2**E * 10**s) exactly; requires the result <= 2**53. */
static uint64_t ff_nearest_integer_slow(uint64_t M, int E, int s) {
    /* Start from an estimate and step until X lies within [q - 1/2, q + 1/2]
     * with ties to even; 2X = M * 5**s * 2**(E + s + 1) is compared with the
     * odd integers 2q +- 1. */
    double est = ff_scale10_estimate(ldexp((double)M, E), s);
    uint64_t q = est < 0.5 ? 0 : est > 0x1p54 ? (FF_TWO53 << 1) : (uint64_t)(est + 0.5);
    for (;;) {
        int up = ff_cmp_scaled(M, s, E + s + 1, 2 * q + 1, 0, 0);
        if (up > 0 || (up == 0 && (q & 1))) {
            ++q;
            continue;
        }
        if (q > 0) {
            int down = ff_cmp_scaled(M, s, E + s + 1, 2 * q - 1, 0, 0);
            if (down < 0 || (down == 0 && (q & 1))) {
                --q;
                continue;
            }
        }
        assert(q <= FF_TWO53);
        return q;
    }
}

/* round-half-even(x * 10**s) for x = M * 2**E and |s| <= 27; returns 0 and
 * writes *n, or returns 1 when the operands would not fit 128 bits. */
static int ff_nearest_integer_fast(uint64_t M, int E, int s, uint64_t *n) {
    assert(M < FF_TWO53 && s >= -FF_POW5_MAX && s <= FF_POW5_MAX);
    if (s >= 0) {
        /* X = M * 5**s * 2**(E + s); the caller has ruled out E + s >= 0. */
        int k = -(E + s);
        assert(k > 0);
        if (k > 116) { /* X < 2**116 / 2**117 = 1/2 */
            *n = 0;
            return 0;
        }
        ff_u128 P = (ff_u128)M * FF_POW5_U64[s]; /* < 2**116 */
        ff_u128 q = P >> k, rem = P & ((((ff_u128)1) << k) - 1);
        ff_u128 half = ((ff_u128)1) << (k - 1);
        *n = (uint64_t)q + (rem > half || (rem == half && (q & 1)));
        return 0;
    }
    /* X = M * 2**(E - t) / 5**t with t = -s: one 128-bit division. */
    int t = -s, e2 = E - t;
    ff_u128 A, B;
    if (e2 >= 0) {
        if (e2 > 74) return 1; /* M << e2 must stay below 2**127 */
        A = (ff_u128)M << e2;
        B = FF_POW5_U64[t];
    } else {
        if (-e2 > 64) return 1; /* 5**t << -e2 must stay below 2**127 */
        A = M;
        B = (ff_u128)FF_POW5_U64[t] << -e2;
    }
    ff_u128 q, rem;
    if ((A >> 64) == 0 && (B >> 64) == 0) { /* the common case: 64-bit division */
        q = (uint64_t)A / (uint64_t)B;
        rem = (uint64_t)A % (uint64_t)B;
    } else {
        q = A / B;
        rem = A % B;
    }
    ff_u128 twice = rem << 1; /* rem < B < 2**127 */
    *n = (uint64_t)q + (twice > B || (twice == B && (q & 1)));
    return 0;
}

/* The double nearest to N * 10**-s, ties to even (+inf beyond the range);
 * requires 1 <= N <= 2**53 and |s| <= 400. */
static double ff_nearest_double_slow(uint64_t N, int s) {
    assert(N >= 1 && N <= FF_TWO53 && -400 <= s && s <= 400);
    /* Candidate c = M * 2**E from an estimate, then walk to the neighbour
     * while D lies beyond the midpoint (at the midpoint itself: when M is
     * odd, the neighbour is the even one).  The upper midpoint is always
     * (2M + 1) * 2**(E - 1) (also at M = 2**53 - 1, where the neighbour is
     * 2**52 * 2**(E + 1)); the lower one is (4M - 1) * 2**(E - 2) when c is a
     * normal power of two, (2M - 1) * 2**(E - 1) otherwise. */
    double est = ff_scale10_estimate((double)N, -s);
    uint64_t M;
    int32_t E;
    if (est == 0) {
        M = 0;
        E = -1074;
    } else if (isinf(est)) {
        (void)ff_decode_f64(DBL_MAX, &M, &E);
    } else {
        (void)ff_decode_f64(est, &M, &E);
    }
    for (;;) {
        int up = ff_cmp_scaled(N, -s, -s, 2 * M + 1, 0, E - 1);
        if (up > 0 || (up == 0 && (M & 1))) {
            if (++M == FF_TWO53) {
                M = FF_TWO52;
                ++E;
            }
            if (E > 971) return HUGE_VAL; /* 2**1024: strtod overflows */
            continue;
        }
        if (M > 0) {
            int pow2 = M == FF_TWO52 && E > -1074;
            int down = pow2 ? ff_cmp_scaled(N, -s, -s, 4 * M - 1, 0, E - 2)
                            : ff_cmp_scaled(N, -s, -s, 2 * M - 1, 0, E - 1);
            if (down < 0 || (down == 0 && (M & 1))) {
                if (--M < FF_TWO52 && E > -1074) { /* below 2**52: one binade down */
                    M = 2 * M + 1;
                    --E;
                }
                continue;
            }
        }
        return ldexp((double)M, E); /* M < 2**53, E in range: exact */
    }
}

/* Python's round(x, s) for x = M * 2**E > 0 (ff_decode_f64) and -308 <= s <= 323. */
static double ff_round_decimal(double x, uint64_t M, int E, int s) {
    assert(x > 0 && -308 <= s && s <= 323);
    /* x's smaller gap to a neighbour is 2**g (see the top: x comes back
     * unchanged when 10**-s <= 2**g, i.e. floor(s * log2(10)) >= -g). */
    int g = (M == FF_TWO52 && E > -1074) ? E - 1 : E;
    if (ff_floor_log2_pow10(s) >= -g) return x;
    /* An integer X = x * 10**s is its own rounding, and D = x. */
    if (s >= 0 && E + s >= 0) return x;

    uint64_t N;
    if (s < -FF_POW5_MAX || s > FF_POW5_MAX || ff_nearest_integer_fast(M, E, s, &N))
        N = ff_nearest_integer_slow(M, E, s);
    assert(N <= FF_TWO53); /* X < 2**53 since 10**-s > 2**g */
    if (N == 0) return 0.0;
    /* Clinger: N and 10**|s| are exact doubles, one rounding. */
    if (s >= 0 && s <= FF_POW10_EXACT_MAX) return (double)N / ff_pow10_f64(s);
    if (s < 0 && -s <= FF_POW10_EXACT_MAX) return (double)N * ff_pow10_f64(-s);
    if (s < 0 && -s <= 2 * FF_POW10_EXACT_MAX &&
        N <= FF_TWO53 / FF_POW5_U64[-s - FF_POW10_EXACT_MAX]) {
        /* N * 10**j = (N * 5**j) * 2**j with N * 5**j <= 2**53 (j = t - 22) is
         * an exact double, so one rounded multiplication by 1e22 remains. */
        return (double)N * ff_pow10_f64(-s - FF_POW10_EXACT_MAX) *
               ff_pow10_f64(FF_POW10_EXACT_MAX);
    }
    return ff_nearest_double_slow(N, s);
}

/* (int)floor(log10(x)) with the C library's log10, for x = M * 2**E > 0. */
static int ff_floor_log10(double x, uint64_t M, int E) {
    /* Only the floor of log10 matters.  The library's log10 is off by a few
     * units in the last place at most (glibc: under 2), so its floor is the
     * true floor(log10 x) unless x lies within a hair of a power of ten.
     * We therefore compute the true floor in integers and ask the library
     * only when x is within a relative 2**-30 of 10**(k+1) -- outside that
     * band log10 x is over 4e-10 from the integer k + 1, some 10**5 units in
     * the last place for |x| < 1e23 -- or when k + 1 is outside -22 .. 22,
     * where that argument ends (x below about 1e-23 or above 1e22).
     * With 2**b <= x < 2**(b+1) and k = floor(b log10 2): 10**k <= 2**b <= x,
     * with log10 x >= k + 4.5e-4 unless b = 0 (and then x >= 1, log10 x >= 0);
     * and x < 2 * 10**(k+1) < 10**(k+2).  So the floor is k or k + 1, and
     * only 10**(k+1) needs a look.  Debug builds check against log10. */
    int b = ff_bit_length_u64(M) + E - 1;
    int k = ff_floor_log10_pow2(b), r;
    if (FF_LIKELY(k + 1 >= -FF_POW10_EXACT_MAX && k + 1 <= FF_POW10_EXACT_MAX)) {
        double t = ff_pow10_f64(k + 1); /* 10**(k+1) within 2**-53 relative */
        if (x >= t * (1 + 0x1p-30)) r = k + 1;
        else if (x <= t * (1 - 0x1p-30)) r = k;
        else r = (int)floor(log10(x));
    } else {
        r = (int)floor(log10(x));
    }
    assert(r == (int)floor(log10(x)));
    return r;
}

double ff_round_significant(double v, int digits) {
    assert(isfinite(v) && digits >= 1);
    if (v == 0) return v;
    double x = fabs(v);
    uint64_t M;
    int32_t E;
    (void)ff_decode_f64(x, &M, &E);
    /* floor(log10 x) >= -324, so beyond 340 digits the shift exceeds 323
     * anyway; the clamp keeps the int arithmetic from overflowing. */
    if (digits > 400) digits = 400;
    int s = digits - 1 - ff_floor_log10(x, M, E);
    /* CPython's float round: beyond 323 places every double is its own
     * rounding; below -308 every double rounds to a zero of its sign
     * (unreachable from digits >= 1, kept for fidelity). */
    if (s > 323) return v;
    if (s < -308) return 0.0 * v;
    return copysign(ff_round_decimal(x, M, E, s), v);
}

/* The serial variant of ff_to_float, and the reference of the lane-parallel
 * ones (ff_simd.h), which fall back to the two functions above per lane. */
void ff_to_float_serial(const int64_t *num, const int64_t *den, size_t n, int digits,
                        double *out) {
    assert(n == 0 || (num && den && out));
    if (digits > 0) {
        for (size_t i = 0; i < n; ++i)
            out[i] = ff_round_significant(ff_ratio_to_f64(num[i], den[i]), digits);
    } else {
        for (size_t i = 0; i < n; ++i) out[i] = ff_ratio_to_f64(num[i], den[i]);
    }
}
