/*
 * ff_shortest.c -- the shortest round-trip decimal of a float32 or float64.
 *
 * Decimal mode stands each element x for the decimal NumPy's str() prints:
 * the fewest significant digits that read back as x, the one closest to x
 * among those, ties to an even last digit.  A decimal reads back as x when
 * it lies in x's rounding interval; its ends are halfway to the neighbours
 * and, as round-half-even reading sends them to the even significand, they
 * belong to x exactly when x's significand is even (so str(np.float32(3e10))
 * is '3e+10' although 3e10 is the midpoint of two float32s).
 *
 * The algorithm is Schubfach: Raffaello Giulietti, "The Schubfach way to
 * render doubles" (2020, revised 2022).  For v = c * 2**q:
 *   - the rounding interval R_v is 2**q wide (3/4 * 2**q at the bottom of a
 *     binade, where the gap below v is half the gap above);
 *   - with 10**k the largest power of ten not above that width, R_v holds
 *     at least one multiple of 10**k (consecutive multiples are closer than
 *     R_v is wide) and at most one multiple of 10**(k+1) (those are farther
 *     apart than R_v is wide).  So the shortest decimal is that multiple of
 *     10**(k+1) when there is one, and otherwise the better of the two
 *     multiples of 10**k on either side of v;
 *   - v and the interval ends are scaled by 10**-k with one 64 x 128-bit
 *     product each, truncated and rounded to odd; that keeps every
 *     comparison against an even integer exact.  gen_shortest_tables.py
 *     proves it for every exponent of both formats before it writes the
 *     table, which is why the code below needs no fallback path.
 *
 * Schubfach minimises the power of ten, NumPy the digit count (digits
 * taken from v's leading position down).  A rival of the same length as the
 * multiple of 10**(k+1) picked above would have to lie beyond a power of ten
 * inside R_v; that power is then the pick, 10**(k+1), and the rival
 * 9 * 10**k, nearer to v only if v < 9.5 * 10**k.  As 10**(k+1) - v is then
 * both above v / 19 and at most half the width, 2**(q-1), c < 9.5: a
 * subnormal of at most 4 significant bits.  Of those only float32 c = 7
 * (9.8e-45) and float64 c = 2 (9.9e-324) have 10**(k+1) in R_v, and both lie
 * nearer to it, so the two notions agree on every float32 and float64.
 *
 * The half formats, checked the same way with exact rationals for c = 1 .. 9:
 * no float16 subnormal c * 2**-24 below 9.5 * 10**k has 10**(k+1) in R_v
 * (the ones with a multiple of 10**-7 in R_v, c = 2, 3, 5, 7, 8, all lie
 * above 1e-7), so float16 agrees everywhere.  bfloat16's smallest subnormal
 * does not: c = 1, 2**-133 = 9.18e-41, has R_v = (4.6e-41, 1.38e-40), which
 * holds 1e-40 (Schubfach's pick) and the one-digit rival 9e-41, nearer to
 * v.  The contract is NumPy's notion (fewest digits, then the closest), so
 * ff_shortest_bf16 answers 9e-41 there; every other bfloat16 subnormal with
 * a multiple of 10**-40 in R_v (c = 2 .. 5, 7 .. 9) lies above 1e-40.
 *
 * float16 and bfloat16 take the float32 path (64-bit g), proven for both by
 * the generator.  Unlike Java's Double.toString, the paper's reference implementation,
 * there is no two-digit minimum: the smallest float64 gives 5e-324.
 */
#include "ff_common.h" /* and through it ff_shortest_tables.h */
#include "ff_kernels.h"

/* The logarithm floors and the scale factors g(k) are ff_common.h's. */

/* Returns x = n * g / 2**128 rounded to odd (floor(x), with the low bit set
 * when x is not an integer), judging integrality on the fraction's leading
 * 67 bits only, since the bits below carry g's rounding error; requires
 * n < 2**59 (then x < 2**59). */
FF_INLINE uint64_t ff_rop_f64(ff_u128 g, uint64_t n) {
    assert(n < (UINT64_C(1) << 59));
    const ff_u128 lo = (ff_u128)(uint64_t)g * n;
    const ff_u128 hi = (g >> 64) * n;
    const ff_u128 mid = hi + (lo >> 64); /* floor(n * g / 2**64) */
    const ff_u128 frac = ((ff_u128)(uint64_t)mid << 64) | (uint64_t)lo;
    return (uint64_t)(mid >> 64) | (uint64_t)((frac >> 61) != 0);
}

/* Returns x = n * g / 2**64 rounded to odd, judging integrality on the
 * fraction's leading 32 bits only (the bits below carry g's rounding
 * error); requires n < 2**30 (then x < 2**30). */
FF_INLINE uint64_t ff_rop_f32(uint64_t g, uint64_t n) {
    assert(n < (UINT64_C(1) << 30));
    const ff_u128 p = (ff_u128)g * n;
    return (uint64_t)(p >> 64) | (uint64_t)(((uint64_t)p >> 32) != 0);
}

/* Writes the shortest decimal of the float with bits `bits` (sign ignored)
 * as digits * 10**exp10, for a format of frac_bits fraction and exp_bits
 * exponent bits; float64 (frac_bits > 23) takes the 128-bit scale factors.
 * Requires the float finite and nonzero. */
FF_INLINE void ff_schubfach(uint64_t bits, int frac_bits, int exp_bits, uint64_t *digits,
                            int32_t *exp10) {
    /* Step 1: decode |x| = c * 2**q (ff_decode_bits).  c_min is the hidden
     * bit, q_min the subnormals' exponent. */
    uint64_t c;
    int32_t q;
    (void)ff_decode_bits(bits, frac_bits, exp_bits, &c, &q);
    const uint64_t c_min = UINT64_C(1) << frac_bits;
    const int32_t q_min = 2 - (INT32_C(1) << (exp_bits - 1)) - frac_bits;
    const int wide = frac_bits > FF_F32_FRAC_BITS;
    assert(c >= 1 && c < 2 * c_min && q >= q_min && (q == q_min || c >= c_min));

    /* Step 2: the rounding interval R_v, from halfway to the neighbour below
     * to halfway to the one above.  In units of 2**(q-2), v is cb = 4c and
     * both neighbours are 4 units away, except that the first value of a
     * binade (c = c_min, q > q_min) has its lower neighbour 2 units away.
     * Odd c: the ends read back as the even neighbours, so R_v is open, and
     * every "end <= candidate" test below becomes "end < candidate" (+ out). */
    const int irregular = c == c_min && q > q_min;
    const uint64_t out = c & 1;
    const uint64_t cb = c << 2;
    const uint64_t cbl = cb - (irregular ? 1 : 2);
    const uint64_t cbr = cb + 2;

    /* Step 3: k = floor(log10(width of R_v)), so that
     * 10**k <= width < 10**(k+1); the width is 2**q, or 3/4 * 2**q. */
    const int32_t k = irregular ? ff_floor_log10_three_quarters_pow2(q) : ff_floor_log10_pow2(q);

    /* Step 4: scale by 4 * 10**-k.  With 10**-k = g * 2**(r - 127), where
     * r = floor(log2(10**-k)), the end n * 2**(q-2) becomes
     * (n << h) * g / 2**128 with h = q + r + 1, a shift of 1..4 because k
     * was chosen next to q * log10(2).  vb = 4v / 10**k and vbl, vbr are the
     * ends on the same scale, each rounded to odd, so that "end <= E" for an
     * even integer E gives the same answer as for the exact values (a
     * non-integer's rounded value is odd, on the same side of E). */
    const int32_t h = q + ff_floor_log2_pow10(-k) + 1;
    assert(FF_H_MIN <= h && h <= FF_H_MAX);
    uint64_t vbl, vb, vbr;
    if (wide) {
        const ff_u128 g = ff_g128(k);
        vbl = ff_rop_f64(g, cbl << h);
        vb = ff_rop_f64(g, cb << h);
        vbr = ff_rop_f64(g, cbr << h);
    } else {
        const uint64_t g = ff_g64(k);
        vbl = ff_rop_f32(g, cbl << h);
        vb = ff_rop_f32(g, cb << h);
        vbr = ff_rop_f32(g, cbr << h);
    }

    /* Step 5: s = floor(v / 10**k); u = s * 10**k <= v < w = u + 10**k. */
    const uint64_t s = vb >> 2;

    /* Step 6: one digit fewer.  u' = 10 s' * 10**k and w' = u' + 10**(k+1)
     * are the multiples of 10**(k+1) around v; at most one lies in R_v, and
     * if one does it is the answer (no decimal in R_v is shorter). */
    const uint64_t sp = s / 10;
    const int upin = vbl + out <= 40 * sp;
    const int wpin = 40 * sp + 40 + out <= vbr;
    assert(!(upin && wpin));
    uint64_t d;
    int32_t e;
    if (upin || wpin) {
        d = sp + (uint64_t)wpin;
        e = k + 1;
    } else {
        /* Step 7: otherwise u or w; at least one lies in R_v.  Neither ends
         * in 0 (it would be u' or w'), so both have the same length and the
         * closer one wins, the even one on a tie (v exactly halfway, i.e.
         * 4v / 10**k == 4s + 2). */
        const uint64_t t = s + 1;
        const int uin = vbl + out <= 4 * s;
        const int win = 4 * t + out <= vbr;
        assert(uin || win);
        if (uin && win) {
            const uint64_t mid = 4 * s + 2;
            d = (vb < mid || (vb == mid && (s & 1) == 0)) ? s : t;
        } else {
            d = uin ? s : t;
        }
        e = k;
    }

    /* Step 8: a result of Step 6 may also be a multiple of 10**(k+2), ...;
     * its digits are what NumPy prints, without the trailing zeros. */
    assert(d != 0);
    while (d % 10 == 0) {
        d /= 10;
        e++;
    }
    *digits = d;
    *exp10 = e;
}

void ff_shortest_f32(float x, uint64_t *digits, int32_t *exp10) {
    ff_schubfach(ff_bits_f32(x), FF_F32_FRAC_BITS, FF_F32_EXP_BITS, digits, exp10);
}

void ff_shortest_f64(double x, uint64_t *digits, int32_t *exp10) {
    ff_schubfach(ff_bits_f64(x), FF_F64_FRAC_BITS, FF_F64_EXP_BITS, digits, exp10);
}

void ff_shortest_f16(uint16_t bits, uint64_t *digits, int32_t *exp10) {
    ff_schubfach(bits, FF_F16_FRAC_BITS, FF_F16_EXP_BITS, digits, exp10);
}

void ff_shortest_bf16(uint16_t bits, uint64_t *digits, int32_t *exp10) {
    /* The one value where the fewest power of ten is not the fewest digits
     * (see the top): 2**-133 is 9e-41, not 1e-40. */
    if ((bits & 0x7fff) == 1) {
        *digits = 9;
        *exp10 = -41;
        return;
    }
    ff_schubfach(bits, FF_BF16_FRAC_BITS, FF_BF16_EXP_BITS, digits, exp10);
}

/* The serial entries of the batch table, ff_shortest_<FT>_batch_serial for
 * FT f32 and f64 (zeros of either sign give 0 and 0): the reference the
 * lane-parallel versions (ff_simd.h) are tested against. */
#define FF_SHORTEST_BATCH_SERIAL(FT, T)                                                            \
    void ff_shortest_##FT##_batch_serial(const T *x, size_t n, uint64_t *digits, int32_t *exp10) { \
        for (size_t i = 0; i < n; ++i) {                                                           \
            if (x[i] == 0) {                                                                       \
                digits[i] = 0;                                                                     \
                exp10[i] = 0;                                                                      \
            } else {                                                                               \
                ff_shortest_##FT(x[i], &digits[i], &exp10[i]);                                     \
            }                                                                                      \
        }                                                                                          \
    }
/* ff_shortest_f32_batch_serial */
FF_SHORTEST_BATCH_SERIAL(f32, float)
/* ff_shortest_f64_batch_serial */
FF_SHORTEST_BATCH_SERIAL(f64, double)

/* The serial batch of a half format: shortest(x[i]), zeros (either sign) 0 and 0. */
static void ff_shortest_half_batch(void (*shortest)(uint16_t, uint64_t *, int32_t *),
                                   const uint16_t *x, size_t n, uint64_t *digits,
                                   int32_t *exp10) {
    for (size_t i = 0; i < n; ++i) {
        if ((x[i] & 0x7fff) == 0) {
            digits[i] = 0;
            exp10[i] = 0;
        } else {
            shortest(x[i], &digits[i], &exp10[i]);
        }
    }
}

void ff_shortest_f16_batch_serial(const uint16_t *x, size_t n, uint64_t *digits,
                                  int32_t *exp10) {
    ff_shortest_half_batch(ff_shortest_f16, x, n, digits, exp10);
}

void ff_shortest_bf16_batch_serial(const uint16_t *x, size_t n, uint64_t *digits,
                                   int32_t *exp10) {
    ff_shortest_half_batch(ff_shortest_bf16, x, n, digits, exp10);
}

/* ---- the half formats' digit tables (ff_kernels.h) ------------------------ */

/* A table's build state: 0 not started, 1 being built, 2 ready. */
enum { FF_TABLE_EMPTY = 0, FF_TABLE_BUILDING = 1, FF_TABLE_READY = 2 };

/* Returns table, filled on the first call with shortest() of every pattern
 * below FF_HALF_PATTERNS whose biased exponent is below exp_all_ones (the
 * rest, inf and NaN, stay 0).  One caller builds it; callers racing with it
 * wait (about a millisecond) rather than build a copy of their own. */
static const uint64_t *ff_half_table(uint64_t *table, int *state,
                                     void (*shortest)(uint16_t, uint64_t *, int32_t *),
                                     int frac_bits, unsigned exp_all_ones) {
    if (__atomic_load_n(state, __ATOMIC_ACQUIRE) == FF_TABLE_READY) return table;
    int expected = FF_TABLE_EMPTY;
    if (__atomic_compare_exchange_n(state, &expected, FF_TABLE_BUILDING, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        table[0] = ff_half_pack(0, 0);
        for (unsigned b = 1; b < FF_HALF_PATTERNS; ++b) {
            uint64_t d = 0;
            int32_t e = 0;
            if ((b >> frac_bits) != exp_all_ones) {
                shortest((uint16_t)b, &d, &e);
                table[b] = ff_half_pack(d, e);
            } else {
                table[b] = 0;
            }
        }
        __atomic_store_n(state, FF_TABLE_READY, __ATOMIC_RELEASE);
        return table;
    }
    while (__atomic_load_n(state, __ATOMIC_ACQUIRE) != FF_TABLE_READY) {
        /* another thread is filling it */
    }
    return table;
}

static uint64_t ff_f16_digits[FF_HALF_PATTERNS], ff_bf16_digits[FF_HALF_PATTERNS];
static int ff_f16_digits_state, ff_bf16_digits_state;

const uint64_t *ff_half_digits_f16(void) {
    return ff_half_table(ff_f16_digits, &ff_f16_digits_state, ff_shortest_f16, FF_F16_FRAC_BITS,
                         (1u << FF_F16_EXP_BITS) - 1);
}

const uint64_t *ff_half_digits_bf16(void) {
    return ff_half_table(ff_bf16_digits, &ff_bf16_digits_state, ff_shortest_bf16,
                         FF_BF16_FRAC_BITS, (1u << FF_BF16_EXP_BITS) - 1);
}
