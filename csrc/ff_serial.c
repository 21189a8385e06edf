/*
 * ff_serial.c -- the reference kernel: best rational approximations, one
 * element at a time, in plain C.
 *
 * This is the kernel every faster variant is checked against, the fallback
 * on any CPU, and the baseline of the benchmarks.  Keep it simple and keep
 * it serial.
 *
 * Specification
 * =============
 *
 * Each element x (float32, float64, float16 or bfloat16, finite) stands for
 * an exact rational v:
 *
 *   FF_MODE_DECIMAL  v = the decimal that NumPy's str() prints for x: the
 *                    shortest digit string that reads back as x in x's type,
 *                    the closest such string to x, ties to an even last digit
 *                    (ff_shortest.c).  float32 0.1 is 1/10 here.
 *   FF_MODE_EXACT    v = the exact binary value of x, Fraction(float(x)).
 *
 * The answer for a bound max_den >= 1 is what CPython's
 * Fraction(v).limit_denominator(max_den) returns:
 *
 *   - if v's denominator in lowest terms is <= max_den, v itself;
 *   - otherwise the closer of two candidates: the last convergent p1/q1 of
 *     v's continued fraction with q1 <= max_den, and the semiconvergent
 *     (p0 + k p1) / (q0 + k q1) with the largest k that keeps its
 *     denominator <= max_den.  Theorem (Lagrange; see Khinchin, "Continued
 *     Fractions", ch. II): every best approximation of the second kind is a
 *     convergent, and every best approximation of the first kind is a
 *     convergent or a semiconvergent, so one of these two is the answer.
 *   - Tie rule: when both candidates are equally far from v, CPython keeps
 *     the convergent p1/q1.  With d the last remainder of the Euclidean
 *     algorithm run on v = N/M, the test is the integer inequality
 *     2 * d * (q0 + k q1) <= M (CPython 3.12's form; 3.11 compares the two
 *     distances as Fractions, which is the same thing).
 *   - The first partial quotient is a floor division, as Python's // is, so
 *     the algorithm is not odd-symmetric: with max_den = 1, 0.5 -> 0/1 but
 *     -0.5 -> -1/1.  We run the same steps on the signed value instead of
 *     approximating |v| and restoring the sign.
 *
 * The bound of approximate(x, p): q = T(10**p) / |x| evaluated in x's type T
 * (NumPy 2 evaluates the seed's `10**p / abs(x)` that way for a float32
 * scalar), max_den = floor(q) clamped to [1, cap]; 1 when x == 0.  A half
 * element (float16, bfloat16) is widened exactly to float32 and T is
 * float32: float16 cannot even hold 10**5, and bfloat16 would keep only 8
 * bits of the bound.  Its value v is still its own: the shortest decimal
 * that rounds back to x in x's type (bfloat16 0.10009765625 is 1/10), or x's
 * exact value, which the widening does not change.
 *
 * Domain and arithmetic
 * =====================
 *
 * v = N / M with M a power of ten (decimal) or of two (exact).  The search
 * runs on N and M as unsigned 128-bit integers without reducing them first:
 * a common factor g scales every remainder by g and leaves every partial
 * quotient, convergent and the tie test unchanged.  Three classes of values:
 *
 *   - M > 2**127 (v below about 1e-21): TINY.  Then 1/|v| > 2 * max_den for
 *     every max_den < 2**63, so the first partial quotient after the integer
 *     part exceeds the bound and the candidates are 0/1 and +-1/max_den
 *     (for negative v the quotients -1, 1 come first and lead to the same
 *     pair); 0/1 is strictly closer.  The answer is 0/1.
 *   - v an integer of 121 bits or more: HUGE.  Its numerator cannot fit
 *     int64 whatever the bound, so the element is reported as an overflow.
 *   - everything else fits: a non-integer v has |v| < 2**57, so every
 *     convergent numerator |p| <= |v| q + 1 < 2**121 fits a signed 128-bit
 *     integer and every denominator q <= max_den < 2**63 fits a uint64.
 *
 * Most steps of the common case (float32 weights, decimal mode) have N and M
 * below 2**64, and the division takes the 64-bit path.
 */
#include <math.h>

#include "ff_common.h"
#include "ff_kernels.h"

/* ---- the bound ---------------------------------------------------------- */

/* floor(q) clamped to [1, cap]; requires q >= 0 or q = +inf, cap >= 1. */
static int64_t ff_clamp_bound(double q, int64_t cap) {
    assert(q >= 0.0 && cap >= 1);
    /* Every double >= 2**63 - 1 is >= 2**63; (int64_t)q would be undefined. */
    if (q >= 9223372036854775808.0) return cap;
    int64_t f = (int64_t)q; /* truncation is floor for q >= 0 */
    if (f < 1) return 1;
    return f > cap ? cap : f;
}

int64_t ff_max_den_f32(float x, int p, int64_t cap) {
    assert(0 <= p && p <= FF_MAX_P_I64);
    if (x == 0.0f) return 1;
    /* T(10**p): 10**p is an exact double, so the conversion rounds it once.
     * The assignment rounds to float even where FLT_EVAL_METHOD != 0. */
    float q = (float)ff_pow10_f64(p) / fabsf(x);
    return ff_clamp_bound((double)q, cap);
}

int64_t ff_max_den_f64(double x, int p, int64_t cap) {
    assert(0 <= p && p <= FF_MAX_P_I64);
    if (x == 0.0) return 1;
    double q = ff_pow10_f64(p) / fabs(x);
    return ff_clamp_bound(q, cap);
}

int64_t ff_max_den_f16(uint16_t x, int p, int64_t cap) {
    return ff_max_den_f32(ff_f16_to_f32(x), p, cap);
}

int64_t ff_max_den_bf16(uint16_t x, int p, int64_t cap) {
    return ff_max_den_f32(ff_bf16_to_f32(x), p, cap);
}

/* ff_max_denominator_<FT>: ff_max_den_<FT> of each element. */
#define FF_DEFINE_MAX_DENOMINATOR(FT)                                                              \
    void ff_max_denominator_##FT(const ff_##FT *x, size_t n, int p, int64_t cap, int64_t *out) {   \
        for (size_t i = 0; i < n; ++i) out[i] = ff_max_den_##FT(x[i], p, cap);                     \
    }
/* ff_max_denominator_f32 */
FF_DEFINE_MAX_DENOMINATOR(f32)
/* ff_max_denominator_f64 */
FF_DEFINE_MAX_DENOMINATOR(f64)
/* ff_max_denominator_f16 */
FF_DEFINE_MAX_DENOMINATOR(f16)
/* ff_max_denominator_bf16 */
FF_DEFINE_MAX_DENOMINATOR(bf16)

/* ---- exact value of an element ------------------------------------------ */

typedef enum ff_class { FF_FITS, FF_TINY, FF_HUGE } ff_class;

/* |v| = N / M for the magnitude of a nonzero element. */
typedef struct ff_ratio {
    ff_u128 N, M;
} ff_ratio;

/* |v| = m * 2**e, m > 0.  Classifies and fills r (see "Domain" above). */
static ff_class ff_ratio_from_binary(uint64_t m, int32_t e, ff_ratio *r) {
    assert(m > 0);
    if (e >= 0) {
        if (ff_bit_length_u64(m) + e > 120) return FF_HUGE;
        r->N = (ff_u128)m << e;
        r->M = 1;
        return FF_FITS;
    }
    if (-e > 127) return FF_TINY; /* m < 2**53, so |v| < 2**-74 */
    r->N = m;
    r->M = (ff_u128)1 << -e;
    return FF_FITS;
}

/* |v| = D * 10**E, 0 < D < 10**17.  Classifies and fills r. */
static ff_class ff_ratio_from_decimal(uint64_t D, int32_t E, ff_ratio *r) {
    assert(D > 0 && D < ff_pow10_u64(17));
    if (E >= 0) {
        if (E > 19) return FF_HUGE; /* >= 10**20 > 2**64 */
        r->N = (ff_u128)D * ff_pow10_u64(E);
        r->M = 1;
        return FF_FITS;
    }
    if (-E > 38) return FF_TINY; /* D < 10**17, so |v| < 1e-21 */
    r->N = D;
    r->M = ff_pow10_u128(-E);
    return FF_FITS;
}

/* ---- the continued-fraction search --------------------------------------- */

/* a / b and a % b, with the cheap 64-bit instruction when a fits it.
 * Requires b > 0. */
static inline ff_u128 ff_divmod_u128(ff_u128 a, ff_u128 b, ff_u128 *rem) {
    assert(b > 0);
    if ((a >> 64) == 0) {
        uint64_t a64 = (uint64_t)a, b64 = (uint64_t)b; /* b <= a or the quotient is 0 */
        if ((b >> 64) != 0) {
            *rem = a;
            return 0;
        }
        *rem = a64 % b64;
        return a64 / b64;
    }
    *rem = a % b;
    return a / b;
}

/* CPython's Fraction.limit_denominator on v = (negative ? -N : N) / M.
 * Requires M > 0, N < 2**121, N / M < 2**57 unless M == 1, 1 <= max_den < 2**63.
 * Writes the answer as *p / *q with *q >= 1. */
static void ff_best_approximation(int negative, ff_u128 N, ff_u128 M, uint64_t max_den,
                                  ff_i128 *p, uint64_t *q) {
    assert(M > 0 && max_den >= 1 && max_den <= (uint64_t)INT64_MAX);
    assert(ff_bit_length_u128(N) <= 120);

    /* Step 1: the integer part a0 = floor(v) and the remainder r = v - a0 (times M),
     * with Python's floor semantics for negative v. */
    ff_u128 r;
    ff_u128 whole = ff_divmod_u128(N, M, &r);
    ff_i128 a0 = (ff_i128)whole;
    if (negative) {
        a0 = -a0;
        if (r != 0) {
            a0 -= 1;
            r = M - r;
        }
    }

    /* Convergents p0/q0 = 1/0 and p1/q1 = a0/1 (CPython's first iteration,
     * which never stops because max_den >= 1). */
    ff_i128 p0 = 1, p1 = a0;
    uint64_t q0 = 0, q1 = 1;
    ff_u128 n = M, d = r;

    /* Step 2: Euclid on (n, d) while the next convergent's denominator fits. */
    while (d != 0) {
        ff_u128 rem;
        ff_u128 a = ff_divmod_u128(n, d, &rem);
        if (a > max_den) break; /* then q0 + a*q1 > max_den since q1 >= 1 */
        ff_u128 q2 = q0 + a * q1; /* < 2**127: a, q1 < 2**63 */
        if (q2 > max_den) break;
        ff_i128 p2 = p0 + (ff_i128)a * p1;
        p0 = p1;
        q0 = q1;
        p1 = p2;
        q1 = (uint64_t)q2;
        n = d;
        d = rem;
    }

    /* Step 3: v itself fits the bound (the expansion ended). */
    if (d == 0) {
        *p = p1;
        *q = q1;
        return;
    }

    /* Step 4: the semiconvergent with the largest admissible k, and the tie
     * rule: keep p1/q1 when 2*d*qk <= M, i.e. d <= floor(floor(M/2) / qk). */
    uint64_t k = (max_den - q0) / q1;
    uint64_t qk = q0 + k * q1;
    if (d <= (M >> 1) / qk) {
        *p = p1;
        *q = q1;
    } else {
        *p = p0 + (ff_i128)k * p1;
        *q = qk;
    }
}

/* ---- the search under a numerator bound too --------------------------------
 *
 * The closest n/d to v with 1 <= d <= max_den and |n| <= max_num, in lowest
 * terms; among equally close ones the smaller denominator, then the smaller
 * value.  When max_num does not bind this is exactly CPython's
 * limit_denominator (its tie rule keeps the convergent, which has the
 * smaller denominator or, at the first step, the smaller value).
 *
 * Why the same two candidates: the admissible fractions are closed under
 * taking Stern-Brocot ancestors (an ancestor's numerator and denominator are
 * no larger), so v's two neighbours among them are where the walk down the
 * tree toward |v| stops: the last convergent p1/q1 whose next step no longer
 * fits, and the semiconvergent (p0 + k p1) / (q0 + k q1) with the largest k
 * that keeps *both* bounds.  They lie on opposite sides of |v| (the
 * numerator bound is the denominator bound of 1/|v|, whose convergents are
 * the reciprocals of v's, so nothing else can be closer).  The search runs
 * on the magnitude; the sign and the tie rule are applied at the end.  With
 * the remainders n, d of the Euclidean algorithm, the two distances are
 * d / (q1 M) and (n - k d) / (qk M), compared exactly in 192 bits. */

/* Returns the sign of a*b - c*d for a, c < 2**128 and b, d < 2**64. */
static int ff_cmp_products(ff_u128 a, uint64_t b, ff_u128 c, uint64_t d) {
    /* Each product as hi * 2**64 + lo, hi < 2**128. */
    const ff_u128 a_lo = (ff_u128)(uint64_t)a * b, a_hi = (a >> 64) * b + (a_lo >> 64);
    const ff_u128 c_lo = (ff_u128)(uint64_t)c * d, c_hi = (c >> 64) * d + (c_lo >> 64);
    if (a_hi != c_hi) return a_hi < c_hi ? -1 : 1;
    const uint64_t x = (uint64_t)a_lo, y = (uint64_t)c_lo;
    return x == y ? 0 : (x < y ? -1 : 1);
}

/* The bounded answer for v = (negative ? -N : N) / M, M > 0, N < 2**121,
 * 1 <= max_den, 0 <= max_num, both <= 2**63 - 1.  Writes *p / *q. */
static void ff_best_bounded(int negative, ff_u128 N, ff_u128 M, uint64_t max_den,
                            uint64_t max_num, ff_i128 *p, uint64_t *q) {
    assert(M > 0 && max_den >= 1 && max_den <= (uint64_t)INT64_MAX);
    assert(max_num <= (uint64_t)INT64_MAX);
    const ff_i128 sign = negative ? -1 : 1;
    ff_u128 r;
    const ff_u128 whole = ff_divmod_u128(N, M, &r);
    /* Every admissible fraction is at most max_num / 1: at or past it, that is the answer. */
    if (whole >= max_num) {
        *p = sign * (ff_i128)max_num;
        *q = 1;
        return;
    }
    /* Convergents of |v|: 1/0, then floor(|v|)/1; all numerators are >= 0. */
    uint64_t p0 = 1, q0 = 0, p1 = (uint64_t)whole, q1 = 1, kmax = 0;
    ff_u128 n = M, d = r;
    while (d != 0) {
        ff_u128 rem;
        const ff_u128 a = ff_divmod_u128(n, d, &rem);
        const uint64_t by_den = (max_den - q0) / q1;
        const uint64_t by_num = p1 ? (max_num - p0) / p1 : UINT64_MAX;
        kmax = by_den < by_num ? by_den : by_num;
        if (a > kmax) break; /* the whole step passes a bound: stop inside it */
        const uint64_t p2 = p0 + (uint64_t)a * p1, q2 = q0 + (uint64_t)a * q1;
        p0 = p1;
        q0 = q1;
        p1 = p2;
        q1 = q2;
        n = d;
        d = rem;
    }
    if (d == 0) { /* |v| itself is admissible */
        *p = sign * (ff_i128)p1;
        *q = q1;
        return;
    }
    const uint64_t k = kmax, qk = q0 + k * q1, pk = p0 + k * p1;
    if (qk == 0) { /* k = 0 at the first step: the other side is 1/0, nothing */
        *p = sign * (ff_i128)p1;
        *q = q1;
        return;
    }
    /* |p1/q1 - |v|| = d / (q1 M) and |pk/qk - |v|| = (n - k d) / (qk M). */
    const int c = ff_cmp_products(d, qk, n - (ff_u128)k * d, q1);
    int convergent = c < 0;
    if (c == 0) {
        /* A tie: the smaller denominator, then the smaller signed value.  p1/q1
         * is below |v| exactly when its convergent index is even, i.e. when
         * pk/qk is above it; for negative v the sides swap. */
        if (q1 != qk) {
            convergent = q1 < qk;
        } else {
            const int p1_below = (ff_cmp_products(p1, qk, pk, q1) < 0);
            convergent = negative ? !p1_below : p1_below;
        }
    }
    *p = sign * (ff_i128)(convergent ? p1 : pk);
    *q = convergent ? q1 : qk;
}

/* The whole answer for one element, from its class.  Returns 0 and writes
 * *num, *den when the numerator lies in [num_min, num_max], else 1. */
static int ff_answer(int negative, ff_class cls, const ff_ratio *r, int64_t max_den,
                     int64_t num_min, int64_t num_max, int64_t *num, int64_t *den) {
    if (cls == FF_HUGE) return 1;
    if (cls == FF_TINY) {
        *num = 0;
        *den = 1;
        return 0;
    }
    ff_i128 p;
    uint64_t q;
    ff_best_approximation(negative, r->N, r->M, (uint64_t)max_den, &p, &q);
    if (p < num_min || p > num_max) return 1;
    *num = (int64_t)p;
    *den = (int64_t)q;
    return 0;
}

/* The answer under both bounds (0 <= max_num <= num_max): never an overflow.
 * A tiny value's answer is 0/1, a huge one's (|v| >= 2**64) +-max_num/1. */
static int ff_answer_bounded(int negative, ff_class cls, const ff_ratio *r, int64_t max_den,
                             int64_t max_num, int64_t *num, int64_t *den) {
    ff_i128 p = 0;
    uint64_t q = 1;
    if (cls == FF_HUGE)
        p = negative ? -(ff_i128)max_num : (ff_i128)max_num;
    else if (cls == FF_FITS)
        ff_best_bounded(negative, r->N, r->M, (uint64_t)max_den, (uint64_t)max_num, &p, &q);
    *num = (int64_t)p;
    *den = (int64_t)q;
    return 0;
}

/* The answer for a nonzero element whose magnitude is m * 10**e (decimal
 * mode: its shortest digits) or m * 2**e (exact mode: its bits), as
 * ff_answer, or ff_answer_bounded when max_num >= 0; what every
 * per-element entry below ends in. */
static int ff_answer_from(int negative, ff_mode mode, uint64_t m, int32_t e, int64_t max_den,
                          int64_t max_num, int64_t num_min, int64_t num_max, int64_t *num,
                          int64_t *den) {
    assert(max_den >= 1 && m > 0 && max_num <= num_max);
    ff_ratio r;
    const ff_class cls =
        mode == FF_MODE_DECIMAL ? ff_ratio_from_decimal(m, e, &r) : ff_ratio_from_binary(m, e, &r);
    if (max_num >= 0) return ff_answer_bounded(negative, cls, &r, max_den, max_num, num, den);
    return ff_answer(negative, cls, &r, max_den, num_min, num_max, num, den);
}

/* Writes Fraction(0) = 0/1, the answer for a zero of either sign; returns 0. */
static int ff_answer_zero(int64_t *num, int64_t *den) {
    *num = 0;
    *den = 1;
    return 0;
}

/* The per-element entries of each float type: ff_limit_f32 and ff_limit_f64,
 * and the same under a numerator bound too (static ff_limit_both_f32 / _f64;
 * max_num < 0: none).  v's exact value comes from the shortest digits
 * (decimal) or the bits (exact). */
#define FF_DEFINE_LIMIT(FT)                                                                        \
    static int ff_limit_both_##FT(ff_##FT x, int64_t max_den, int64_t max_num, ff_mode mode,       \
                                  int64_t num_min, int64_t num_max, int64_t *num, int64_t *den) {  \
        if (x == 0) return ff_answer_zero(num, den);                                               \
        uint64_t m;                                                                                \
        int32_t e;                                                                                 \
        if (mode == FF_MODE_DECIMAL)                                                               \
            ff_shortest_##FT(x, &m, &e);                                                           \
        else                                                                                       \
            (void)ff_decode_##FT(x, &m, &e);                                                       \
        return ff_answer_from(x < 0, mode, m, e, max_den, max_num, num_min, num_max, num, den);    \
    }                                                                                              \
    int ff_limit_##FT(ff_##FT x, int64_t max_den, ff_mode mode, int64_t num_min, int64_t num_max,  \
                      int64_t *num, int64_t *den) {                                                \
        return ff_limit_both_##FT(x, max_den, -1, mode, num_min, num_max, num, den);               \
    }

/* ff_limit_f32 (and static ff_limit_both_f32) */
FF_DEFINE_LIMIT(f32)
/* ff_limit_f64 (and static ff_limit_both_f64) */
FF_DEFINE_LIMIT(f64)

/* The per-element entry of the half formats, written out: decode the bit
 * pattern x of the format with frac_bits / exp_bits fields, then take the
 * shortest digits in that format itself (decimal: shortest()) or the bits
 * (exact).  The bound, float32's, is the caller's (ff_max_den_f16). */
static int ff_limit_half(uint16_t x, int frac_bits, int exp_bits,
                         void (*shortest)(uint16_t, uint64_t *, int32_t *), int64_t max_den,
                         int64_t max_num, ff_mode mode, int64_t num_min, int64_t num_max,
                         int64_t *num, int64_t *den) {
    if ((x & 0x7fff) == 0) return ff_answer_zero(num, den);
    uint64_t m;
    int32_t e;
    if (mode == FF_MODE_DECIMAL)
        shortest(x, &m, &e);
    else
        (void)ff_decode_bits(x, frac_bits, exp_bits, &m, &e);
    return ff_answer_from(x >> 15, mode, m, e, max_den, max_num, num_min, num_max, num, den);
}

int ff_limit_f16(uint16_t x, int64_t max_den, ff_mode mode, int64_t num_min, int64_t num_max,
                 int64_t *num, int64_t *den) {
    return ff_limit_half(x, FF_F16_FRAC_BITS, FF_F16_EXP_BITS, ff_shortest_f16, max_den, -1, mode,
                         num_min, num_max, num, den);
}

int ff_limit_bf16(uint16_t x, int64_t max_den, ff_mode mode, int64_t num_min, int64_t num_max,
                  int64_t *num, int64_t *den) {
    return ff_limit_half(x, FF_BF16_FRAC_BITS, FF_BF16_EXP_BITS, ff_shortest_bf16, max_den, -1,
                         mode, num_min, num_max, num, den);
}

/* ---- batch kernels -------------------------------------------------------- */

/* One definition of each batch loop, stamped out per (float type, int type):
 * the loops are identical but for the types and the bound. */
#define FF_DEFINE_BATCH(FT, IT, NUM_MIN, NUM_MAX, CAP)                                        \
    size_t ff_approximate_##FT##_##IT##_serial(const ff_##FT *x, size_t n, int p,               \
                                               ff_mode mode, ff_##IT *num, ff_##IT *den) {      \
        for (size_t i = 0; i < n; ++i) {                                                     \
            int64_t a, b;                                                                    \
            if (ff_limit_##FT(x[i], ff_max_den_##FT(x[i], p, CAP), mode, NUM_MIN, NUM_MAX, &a, \
                              &b))                                                           \
                return i;                                                                    \
            num[i] = (ff_##IT)a;                                                             \
            den[i] = (ff_##IT)b;                                                             \
        }                                                                                    \
        return n;                                                                            \
    }                                                                                        \
    size_t ff_limit_##FT##_##IT##_serial(const ff_##FT *x, const int64_t *max_den, size_t n,    \
                                         ff_mode mode, ff_##IT *num, ff_##IT *den) {            \
        for (size_t i = 0; i < n; ++i) {                                                     \
            int64_t a, b;                                                                    \
            assert(max_den[i] >= 1 && max_den[i] <= (CAP));                                  \
            if (ff_limit_##FT(x[i], max_den[i], mode, NUM_MIN, NUM_MAX, &a, &b)) return i;   \
            num[i] = (ff_##IT)a;                                                             \
            den[i] = (ff_##IT)b;                                                             \
        }                                                                                    \
        return n;                                                                            \
    }

/* ff_approximate_f32_i32_serial, ff_limit_f32_i32_serial */
FF_DEFINE_BATCH(f32, i32, INT32_MIN, INT32_MAX, FF_MAX_DEN_I32)
/* ff_approximate_f32_i64_serial, ff_limit_f32_i64_serial */
FF_DEFINE_BATCH(f32, i64, INT64_MIN, INT64_MAX, FF_MAX_DEN_I64)
/* ff_approximate_f64_i32_serial, ff_limit_f64_i32_serial */
FF_DEFINE_BATCH(f64, i32, INT32_MIN, INT32_MAX, FF_MAX_DEN_I32)
/* ff_approximate_f64_i64_serial, ff_limit_f64_i64_serial */
FF_DEFINE_BATCH(f64, i64, INT64_MIN, INT64_MAX, FF_MAX_DEN_I64)
/* ff_approximate_f16_i32_serial, ff_limit_f16_i32_serial */
FF_DEFINE_BATCH(f16, i32, INT32_MIN, INT32_MAX, FF_MAX_DEN_I32)
/* ff_approximate_f16_i64_serial, ff_limit_f16_i64_serial */
FF_DEFINE_BATCH(f16, i64, INT64_MIN, INT64_MAX, FF_MAX_DEN_I64)
/* ff_approximate_bf16_i32_serial, ff_limit_bf16_i32_serial */
FF_DEFINE_BATCH(bf16, i32, INT32_MIN, INT32_MAX, FF_MAX_DEN_I32)
/* ff_approximate_bf16_i64_serial, ff_limit_bf16_i64_serial */
FF_DEFINE_BATCH(bf16, i64, INT64_MIN, INT64_MAX, FF_MAX_DEN_I64)


/* ---- the numerator bound, in batches (serial on every instruction set) ---- */

static int ff_limit_both_f16(uint16_t x, int64_t max_den, int64_t max_num, ff_mode mode,
                             int64_t num_min, int64_t num_max, int64_t *num, int64_t *den) {
    return ff_limit_half(x, FF_F16_FRAC_BITS, FF_F16_EXP_BITS, ff_shortest_f16, max_den, max_num,
                         mode, num_min, num_max, num, den);
}

static int ff_limit_both_bf16(uint16_t x, int64_t max_den, int64_t max_num, ff_mode mode,
                              int64_t num_min, int64_t num_max, int64_t *num, int64_t *den) {
    return ff_limit_half(x, FF_BF16_FRAC_BITS, FF_BF16_EXP_BITS, ff_shortest_bf16, max_den,
                         max_num, mode, num_min, num_max, num, den);
}

/* The closest fraction with den <= max_den[i] and |num| <= max_num[i] for
 * every element, int64 out; the bounds are the caller's to check. */
#define FF_DEFINE_BOUNDED(FT)                                                                      \
    void ff_limit_bounded_##FT(const ff_##FT *x, const int64_t *max_den, const int64_t *max_num,   \
                               size_t n, ff_mode mode, int64_t *num, int64_t *den) {               \
        for (size_t i = 0; i < n; ++i) {                                                           \
            assert(max_den[i] >= 1 && max_num[i] >= 0);                                            \
            (void)ff_limit_both_##FT(x[i], max_den[i], max_num[i], mode, INT64_MIN, INT64_MAX,     \
                                     &num[i], &den[i]);                                            \
        }                                                                                          \
    }

/* ff_limit_bounded_f32 */
FF_DEFINE_BOUNDED(f32)
/* ff_limit_bounded_f64 */
FF_DEFINE_BOUNDED(f64)
/* ff_limit_bounded_f16 */
FF_DEFINE_BOUNDED(f16)
/* ff_limit_bounded_bf16 */
FF_DEFINE_BOUNDED(bf16)
