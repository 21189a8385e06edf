/*
 * ff_simd.h -- the lane-parallel continued-fraction search, written once for
 * every vector width.
 *
 * Internal header, included only by the instruction-set files (ff_avx2.c,
 * ff_avx512.c) after they define the vector primitives listed below.  The
 * algorithm is ff_serial.c's, step for step; read its specification first.
 * Every variant stamped out here must return exactly what the serial kernel
 * returns, element for element, including the index of the first overflow.
 *
 * Why double precision is exact here
 * ==================================
 *
 * Each element stands for v = N / M with integers N, M (ff_serial.c).  While
 * N, M, every remainder, partial quotient, convergent and the bound stay
 * below 2**53, each of them is an exact double, and
 *
 *   - a = floor(fl(n / d)) is floor(n / d) or one more: the true quotient
 *     lies in [A, A + 1) for the integer A = floor(n / d), both ends exact
 *     doubles, and rounding is monotonic.  r = fma(-a, d, n) is then the exact
 *     remainder or that minus d (an integer in [-d, d), so exact); r < 0 means
 *     one too many, and a -= 1, r += d corrects it (ff_floordiv);
 *   - q2 = fma(a, q1, q0) is exact whenever q2 <= max_den, and when the true
 *     q2 exceeds max_den the rounded one still does (max_den + 1 <= 2**53 is
 *     exact and rounding is monotonic), so "q2 > max_den" decides like the
 *     integer test; that also covers CPython's "a > max_den" (q1 >= 1);
 *   - the tie test 2 d qk <= M compares d qk, held exactly as an FMA
 *     two-product hi + lo, with M / 2.
 *
 * The fast domain, checked per lane before the search: |N|, M <= 2**96, both
 * exact integers (M is a power of two, or of ten up to 10**22; N is held as
 * a sum of two doubles when it has more than 53 bits),
 * max_den <= 2**52 and (|v| + 1) max_den < 2**50.  Every convergent and
 * semiconvergent p / q of the search has q <= max_den and |p / q - v| <= 1,
 * so |p| <= (|v| + 1) max_den, and each a p1 is below twice that.  Lanes
 * outside the domain (tiny, huge or many-digit values, bounds of 2**52 and
 * more) are flagged "slow" and handed to the serial per-element function
 * ff_limit_f32 / ff_limit_f64, in index order, so the first overflow is
 * still the first.
 *
 * Signs
 * =====
 *
 * The search runs on |v| and multiplies the convergents by v's sign.  That
 * is CPython's answer for v: limit_denominator(-v) = -limit_denominator(v)
 * except for a bound of 1 and v a half-integer, which ff_stage leaves to
 * the serial function.  Why: the expansion of -v is [-a0 - 1; 1, a1 - 1,
 * a2, ...] (a1 >= 2) or [-a0 - 1; a2 + 1, a3, ...] (a1 = 1), whose
 * convergents past the first are those of v negated, so the last one within
 * the bound, the semiconvergent beside it, and the tie rule between them
 * (keep the convergent) all mirror; only for v = [a0; 2] is [-a0 - 1; 1, 1]
 * not the expansion CPython computes ([-a0 - 1; 2]), and that matters only
 * when v itself (denominator 2) is outside the bound.  A brute-force check
 * of every n/d with d < 120, n <= 3d against bounds 1 .. 59 found exactly
 * those cases and no others.  With |v| the first remainder is |N| itself,
 * so a huge M (exact mode's 2**57 for float64 weights near 0.05) needs no
 * wide arithmetic: floor(M / |N|) is exact below 2**53 and stops the lane
 * above it, and every later remainder is below |N|.
 *
 * Wide remainders
 * ===============
 *
 * When N has more than 53 bits (float64 decimal digits can) the remainders
 * are held as double-doubles h + l (h = fl(h + l);
 * every integer below 2**106 is one), and ff_cf_step_wide does the Euclid
 * step in that arithmetic: the leading parts' quotient, rounded to the
 * nearest integer, is floor(n / d) or one more while that is below 2**49
 * (so a wide lane is fast only with |v| and max_den below 2**48), the
 * remainder n - a d is formed exactly (every term is an integer
 * below 2**46 once n < 2**96), and a negative one corrects the quotient.
 * Remainders fall by a factor of about 3 a step, so such a lane leaves the
 * wide steps after a few; exact mode's lanes and those of every other type
 * never enter them.  A lane whose last remainder is still wide when the search
 * stops is finished by the serial function, since the tie test below
 * assumes d <= 2**52.
 *
 * Shape of a batch
 * ================
 *
 * Elements go in blocks of FF_BLOCK: (A) a vector pass computes each lane's
 * N, M, bound and slow flag into the block; (B) the search runs FF_INFLIGHT
 * vectors side by side (independent chains hide the division's latency)
 * until all their lanes have stopped; (C) a vector pass converts and stores
 * the answers, and the slow or overflowing lanes go to the serial function.
 * Tails are masked loads and stores, never a second scalar loop.
 *
 * Primitives the including file defines (FF_W lanes of double), itself or,
 * for those marked [ops], through ff_simd_ops.h (written once, from the
 * file's FF_MM and FF_CMP):
 *   types   ff_vd (FF_W doubles), ff_vm (FF_W-lane mask), ff_vf (FF_W floats)
 *   macros  FF_W, FF_INFLIGHT, FF_ISA (the name suffix: avx2, avx512)
 *   arith   [ops] ff_vd_set ff_vd_add ff_vd_sub ff_vd_mul ff_vd_div ff_vd_min
 *           ff_vd_max; ff_vd_floor ff_vd_abs; [ops] ff_vd_fmadd(a,b,c) = a*b + c
 *           and ff_vd_fnmadd(a,b,c) = c - a*b, each rounded once;
 *           ff_vd_fmadd_where(m, a, b, c) = m ? a*b + c : a and
 *           ff_vd_fnmadd_where(m, a, b, c) = m ? c - a*b : a (AVX-512: one
 *           merge-masked instruction); ff_vd_div_down(a, b) = a / b rounded
 *           toward -inf where FF_DIV_ROUNDS_DOWN is 1;
 *           [ops] ff_vd_copysign(mag, sign)
 *   compare [ops] ff_vd_lt ff_vd_le ff_vd_eq ff_vd_ne (ordered, quiet) -> ff_vm;
 *           ff_vm_and ff_vm_or ff_vm_not; ff_vm_bits(m) -> bit i set for lane i
 *   select  ff_vd_blend(m, a, b) = m ? b : a
 *   memory  [ops] ff_vd_load/ff_vd_store (aligned, FF_W doubles);
 *           ff_vd_load_f32(x, count, &xf) and ff_vd_load_f64(x, count): up to
 *           FF_W elements (count < FF_W: the rest read as 0, nothing read
 *           beyond); ff_vf_bound(xf, pow10) = (double)(pow10 / |xf|) rounded
 *           in float; ff_vd_load_i64(b, count, &big): int64s as doubles,
 *           big |= lanes with |b| >= 2**51 (their double is garbage);
 *           ff_vd_store_f64; ff_vd_table32_load(t) and
 *           ff_vd_table32_get(&tab, i) = t[i] for integral double indices
 *           0 <= i < 32 (t: 32 doubles; AVX-512 keeps them in registers);
 *           ff_vd_store_i32/ff_vd_store_i64(out, v, count):
 *           integral v, |v| < 2**51 (i32: any value; out-of-range lanes are
 *           the caller's problem)
 *   halves  ff_vh (FF_W uint16 lanes): ff_vh_load(x, count) (the rest read as
 *           0, nothing read beyond); ff_vh_f16_to_vf and ff_vh_bf16_to_vf,
 *           exact widenings to float32; ff_vh_to_vi (zero-extended);
 *           ff_vf_to_vd (float32 lanes to double, exact)
 *   ints    ff_vi (FF_W 64-bit lanes): ff_vi_f32_bits(xf) (zero-extended),
 *           ff_vi_set, [ops] ff_vi_add, ff_vi_and, [ops] ff_vi_srl(a, imm) (a
 *           macro), [ops] ff_vi_mul32 (low 32 bits of each lane, unsigned,
 *           64-bit products), ff_vi_gather(table, i) = table[i], ff_vi_to_vd
 *           for 0 <= v < 2**52 and ff_vd_to_vi for integral 0 <= v < 2**52
 *   scale   ff_vd_pow2_den(ax, mb) = 2**(mb - floor(log2 ax)) for ax > 0
 *           normal, anything > 2**52 (even inf) where that overflows;
 *           ff_vd_ilogb(ax) = floor(log2 ax) as a double, for ax > 0 normal
 */
#ifndef FF_SIMD_H
#define FF_SIMD_H

#include <math.h>
#include "ff_common.h"
#include "ff_kernels.h"

#define FF_PASTE_(a, b) a##_##b
#define FF_PASTE(a, b) FF_PASTE_(a, b)
#define FF_NAME(base) FF_PASTE(base, FF_ISA)

/* Elements per block: a multiple of FF_W * FF_INFLIGHT, small enough that a
 * block's arrays (about 41 bytes an element) stay in L1. */
#define FF_BLOCK (FF_W * FF_INFLIGHT * 16)
#define FF_VECS (FF_BLOCK / FF_W)

/* The fast domain's limits (see the top) as doubles. */
#define FF_TWO53_D 9007199254740992.0 /* 2**53 */
#define FF_TWO52_D 4503599627370496.0 /* 2**52 */
#define FF_TWO50_D 1125899906842624.0 /* 2**50 */
#define FF_TWO48_D 281474976710656.0   /* 2**48 */
#define FF_TWO96_D 79228162514264337593543950336.0 /* 2**96 */

/* log10(2) rounded to double, for the lane-parallel logarithm floors; each
 * use says why its floor is exact over the range it sees. */
#define FF_LOG10_2_D 0.30102999566398120

/* Decimal exponents past 22 are clamped to 22 for the power-of-ten lookups:
 * 10**0 .. 10**22 are exact doubles (5**22 < 2**53), and a lane past the
 * clamp is made slow (ff_value_from_digits), never searched with a wrong M. */
#define FF_DEC_EXP_CLAMP 22

/* A block's worth of per-lane state between the three passes. */
typedef struct ff_block {
    double N[FF_BLOCK];              /* signed numerator of v (0 for slow lanes) */
    double Nl[FF_BLOCK];             /* its low part when wider than 53 bits, else 0 */
    double M[FF_BLOCK];              /* denominator of v (1 for slow lanes) */
    double md[FF_BLOCK];             /* the bound (1 for slow lanes) */
    double p[FF_BLOCK], q[FF_BLOCK]; /* the answer */
    unsigned char slow[FF_VECS];     /* bit i: lane i of vector j is not done here */
    unsigned char wide[FF_VECS];     /* nonzero: vector j starts with wide remainders */
} ff_block;

/* ---- exact integer steps in doubles ---------------------------------------- */

/* floor(a / b), and *rem = a - b * floor(a / b); requires a, b integral,
 * |a| <= 2**53, 0 < b <= 2**53 (lanes where b == 0 return garbage). */
static inline ff_vd ff_floordiv(ff_vd a, ff_vd b, ff_vd *rem) {
#if FF_DIV_ROUNDS_DOWN
    /* a / b rounded toward -inf lies in [floor(a / b), a / b] (that floor is
     * a double, and rounding is monotonic), so its floor is floor(a / b):
     * three operations fewer in the search's innermost step. */
    const ff_vd q = ff_vd_floor(ff_vd_div_down(a, b));
    *rem = ff_vd_fnmadd(q, b, a);
    return q;
#else
    /* Rounded to nearest, a / b can round up to the next integer: then
     * a - q b < 0, and q is one too large. */
    const ff_vd one = ff_vd_set(1.0), zero = ff_vd_set(0.0);
    ff_vd q = ff_vd_floor(ff_vd_div(a, b));
    ff_vd r = ff_vd_fnmadd(q, b, a);
    ff_vm over = ff_vd_lt(r, zero);
    *rem = ff_vd_blend(over, r, ff_vd_add(r, b));
    return ff_vd_blend(over, q, ff_vd_sub(q, one));
#endif
}

/* floor(a / b) alone, under ff_floordiv's requirements: the search's step
 * forms the remainder itself, merged with its update of d. */
static inline ff_vd ff_floor_quotient(ff_vd a, ff_vd b) {
#if FF_DIV_ROUNDS_DOWN
    return ff_vd_floor(ff_vd_div_down(a, b));
#else
    ff_vd unused;
    return ff_floordiv(a, b, &unused);
#endif
}

/* ---- the continued-fraction search (ff_serial.c, ff_best_approximation) -- */

/* The search state of FF_W lanes: remainders n, d (with their low parts nl,
 * dl while they are wide, else 0; the plain search leaves them unset),
 * convergents p0/q0 and p1/q1, the bound, and which lanes still run. */
typedef struct ff_cf {
    ff_vd n, nl, d, dl, p0, p1, q0, q1, md;
    ff_vm live;
} ff_cf;

/* Step 1 for |v| = |N| / M: the integer part and the remainder; convergents
 * 1/0 and a0/1 times v's sign, so that the search of |v| yields v's answer
 * (see "Signs" at the top).  Requires |N| <= 2**53 and M <= 2**96, exact
 * integers. */
static inline void ff_cf_start(ff_cf *s, ff_vd N, ff_vd M, ff_vd md) {
    const ff_vd sign = ff_vd_copysign(ff_vd_set(1.0), N);
    ff_vd r;
    s->p1 = ff_vd_mul(ff_floordiv(ff_vd_abs(N), M, &r), sign);
    s->p0 = sign;
    s->q0 = ff_vd_set(0.0);
    s->q1 = ff_vd_set(1.0);
    s->n = M;
    s->d = r;
    s->md = md;
    s->live = ff_vd_ne(r, ff_vd_set(0.0));
}

/* The convergent update of step 2 for partial quotients a: returns the
 * live lanes whose next denominator stays within the bound, and advances
 * their convergents. */
static inline ff_vm ff_cf_advance(ff_cf *s, ff_vd a) {
    const ff_vd q2 = ff_vd_fmadd(a, s->q1, s->q0);
    const ff_vm ok = ff_vm_and(s->live, ff_vd_le(q2, s->md));
    const ff_vd p1 = ff_vd_fmadd_where(ok, s->p1, a, s->p0); /* a p1 + p0 */
    s->p0 = ff_vd_blend(ok, s->p0, s->p1);
    s->p1 = p1;
    s->q0 = ff_vd_blend(ok, s->q0, s->q1);
    s->q1 = ff_vd_blend(ok, s->q1, q2);
    return ok;
}

/* Step 2, one Euclid step in every live lane: stop a lane whose next
 * denominator would pass the bound, or whose expansion ends.  The new d is
 * the remainder n - a d, formed only where the lane advances. */
static inline void ff_cf_step(ff_cf *s) {
    const ff_vd a = ff_floor_quotient(s->n, s->d);
    const ff_vm ok = ff_cf_advance(s, a);
    const ff_vd d = ff_vd_fnmadd_where(ok, s->d, a, s->n);
    s->n = ff_vd_blend(ok, s->n, s->d);
    s->d = d;
    s->live = ff_vm_and(ok, ff_vd_ne(d, ff_vd_set(0.0)));
}

/* ---- wide remainders (see the top): double-double integer steps ---------- */

/* s + *e = a + b exactly, *e the rounding error of s = fl(a + b) (Knuth's
 * two-sum, for any magnitudes; -ffp-contract=off keeps it exact). */
static inline ff_vd ff_two_sum(ff_vd a, ff_vd b, ff_vd *e) {
    const ff_vd s = ff_vd_add(a, b);
    const ff_vd bb = ff_vd_sub(s, a);
    *e = ff_vd_add(ff_vd_sub(a, ff_vd_sub(s, bb)), ff_vd_sub(b, bb));
    return s;
}

/* floor(a / b) and *rh + *rl = a - b floor(a / b), for integers a = ah + al
 * and b = bh + bl held as normalized double-doubles, |a| < 2**96, b > 0.
 * Exact when the quotient is below 2**49 in magnitude; otherwise the
 * returned quotient is still at least 2**49 - 1 (the caller has made every
 * such lane's bound smaller: the lane stops, and its remainder is unused).
 *
 *   - y = fl(ah / bh) is within 3 * 2**-53 * 2**49 = 3/16 of a / b: the
 *     leading parts carry relative errors of 2**-53 each and the division
 *     one more.  So q = floor(y + 1/2) (y + 1/2 is exact there) is the
 *     quotient A or A + 1, the nearest integer to a / b give or take: a
 *     correction that half of all steps take, so the tests see it;
 *   - a - q b = (ah - q bh) + (al - q bl): q bh is the exact two-product
 *     ph + pl, ah - ph the exact two-sum s + e, and e, al, pl and q bl are
 *     integers of magnitude at most about |a| 2**-53 < 2**43, so their sum
 *     t is exact; r = s + t is renormalized by one more two-sum;
 *   - r < 0 (q = A + 1): q - 1, and r + b. */
static inline ff_vd ff_floordiv_dd(ff_vd ah, ff_vd al, ff_vd bh, ff_vd bl, ff_vd *rh,
                                   ff_vd *rl) {
    const ff_vd zero = ff_vd_set(0.0), one = ff_vd_set(1.0), minus = ff_vd_set(-1.0);
    ff_vd q = ff_vd_floor(ff_vd_add(ff_vd_div(ah, bh), ff_vd_set(0.5)));
    const ff_vd ph = ff_vd_mul(q, bh);
    const ff_vd pl = ff_vd_fmadd(q, bh, ff_vd_mul(ph, minus));
    ff_vd e;
    const ff_vd s = ff_two_sum(ah, ff_vd_mul(ph, minus), &e);
    const ff_vd t = ff_vd_fnmadd(q, bl, ff_vd_sub(ff_vd_add(e, al), pl));
    ff_vd h = ff_two_sum(s, t, &e);
    /* A normalized double-double is negative exactly when its leading part
     * is (fl is monotonic and keeps 0). */
    const ff_vd c = ff_vd_blend(ff_vd_lt(h, zero), zero, one);
    q = ff_vd_sub(q, c);
    /* r + c b: the products are exact (c is 0 or 1). */
    ff_vd e2;
    h = ff_two_sum(h, ff_vd_mul(c, bh), &e2);
    *rh = ff_two_sum(h, ff_vd_fmadd(c, bl, ff_vd_add(e, e2)), rl);
    return q;
}

/* Step 1 with a wide N = Nh + Nl or M (both <= 2**96; |v| < 2**48, which
 * ff_stage requires of a wide lane, keeps the integer part exact); signs as
 * in ff_cf_start (|N| = |Nh| + sign Nl). */
static inline void ff_cf_start_wide(ff_cf *s, ff_vd Nh, ff_vd Nl, ff_vd M, ff_vd md) {
    const ff_vd zero = ff_vd_set(0.0);
    const ff_vd sign = ff_vd_copysign(ff_vd_set(1.0), Nh);
    s->p1 = ff_vd_mul(
        ff_floordiv_dd(ff_vd_abs(Nh), ff_vd_mul(Nl, sign), M, zero, &s->d, &s->dl), sign);
    s->p0 = sign;
    s->q0 = zero;
    s->q1 = ff_vd_set(1.0);
    s->n = M;
    s->nl = zero;
    s->md = md;
    s->live = ff_vd_ne(s->d, zero);
}

/* Step 2 with wide remainders: the same updates, the double-double
 * floor division. */
static inline void ff_cf_step_wide(ff_cf *s) {
    ff_vd rh, rl;
    ff_vm ok = ff_cf_advance(s, ff_floordiv_dd(s->n, s->nl, s->d, s->dl, &rh, &rl));
    s->n = ff_vd_blend(ok, s->n, s->d);
    s->nl = ff_vd_blend(ok, s->nl, s->dl);
    s->d = ff_vd_blend(ok, s->d, rh);
    s->dl = ff_vd_blend(ok, s->dl, rl);
    s->live = ff_vm_and(ok, ff_vd_ne(rh, ff_vd_set(0.0)));
}

/* Lanes still running with a remainder above 2**52, as bits. */
static inline unsigned ff_cf_wide_bits(const ff_cf *s) {
    return ff_vm_bits(ff_vm_and(s->live, ff_vd_lt(ff_vd_set(FF_TWO52_D), s->n)));
}

/* Steps 3 and 4: p1/q1 when the expansion ended (d == 0) or when it wins
 * the tie test 2 d qk <= M; otherwise the semiconvergent with the largest
 * k.  Lanes with d == 0 pass the tie test by themselves. */
static inline void ff_cf_finish(const ff_cf *s, ff_vd M, ff_vd *p, ff_vd *q) {
    ff_vd unused;
    ff_vd k = ff_floordiv(ff_vd_sub(s->md, s->q0), s->q1, &unused);
    ff_vd qk = ff_vd_fmadd(k, s->q1, s->q0);
    /* 2 d qk <= M as d qk <= M / 2 (exact: M is a power of two, or of ten up
     * to 10**22), with d qk = hi + lo
     * exactly (an FMA two-product; both below 2**53).  Rounding is monotonic
     * and M / 2 is a double, so hi < M / 2 or hi > M / 2 decides alone. */
    ff_vd half_m = ff_vd_mul(M, ff_vd_set(0.5));
    ff_vd hi = ff_vd_mul(s->d, qk);
    ff_vd lo = ff_vd_fmadd(s->d, qk, ff_vd_mul(hi, ff_vd_set(-1.0)));
    ff_vm keep = ff_vm_or(ff_vd_lt(hi, half_m),
                          ff_vm_and(ff_vd_eq(hi, half_m), ff_vd_le(lo, ff_vd_set(0.0))));
    *p = ff_vd_blend(keep, ff_vd_fmadd(k, s->p1, s->p0), s->p1);
    *q = ff_vd_blend(keep, qk, s->q1);
}

/* The plain search of FF_INFLIGHT vectors (live: some lane runs), then the
 * answers of vectors j .. j + FF_INFLIGHT - 1 into the block. */
static inline void ff_cf_run_and_store(ff_cf *s, unsigned live, ff_block *b, size_t j) {
    while (live) {
        live = 0;
        for (int k = 0; k < FF_INFLIGHT; ++k) {
            ff_cf_step(&s[k]);
            live |= ff_vm_bits(s[k].live);
        }
    }
    for (int k = 0; k < FF_INFLIGHT; ++k) {
        const size_t o = (j + (size_t)k) * FF_W;
        ff_vd p, q;
        ff_cf_finish(&s[k], ff_vd_load(b->M + o), &p, &q);
        ff_vd_store(b->p + o, p);
        ff_vd_store(b->q + o, q);
    }
}

/* Pass B for FF_INFLIGHT vectors from vector j on, none of them wide: the
 * plain search, the one float32 weights run. */
static inline void ff_search_narrow(ff_block *b, size_t j) {
    ff_cf s[FF_INFLIGHT];
    unsigned live = 0;
    for (int k = 0; k < FF_INFLIGHT; ++k) {
        const size_t o = (j + (size_t)k) * FF_W;
        ff_cf_start(&s[k], ff_vd_load(b->N + o), ff_vd_load(b->M + o), ff_vd_load(b->md + o));
        live |= ff_vm_bits(s[k].live);
    }
    ff_cf_run_and_store(s, live, b, j);
}

/* Pass B for FF_INFLIGHT vectors from vector j on, some of them wide: a
 * vector takes wide steps until its running lanes' remainders are all
 * narrow, then plain ones; lanes that end on a wide remainder become slow.
 * Kept out of line so that the plain search's registers stay its own. */
static __attribute__((noinline)) void ff_search_wide(ff_block *b, size_t j) {
    ff_cf s[FF_INFLIGHT];
    unsigned live = 0, any_wide = 0, wide[FF_INFLIGHT];
    for (int k = 0; k < FF_INFLIGHT; ++k) {
        const size_t o = (j + (size_t)k) * FF_W;
        const ff_vd N = ff_vd_load(b->N + o), M = ff_vd_load(b->M + o);
        const ff_vd md = ff_vd_load(b->md + o);
        if (b->wide[j + (size_t)k]) {
            ff_cf_start_wide(&s[k], N, ff_vd_load(b->Nl + o), M, md);
        } else {
            ff_cf_start(&s[k], N, M, md);
            s[k].nl = s[k].dl = ff_vd_set(0.0);
        }
        wide[k] = ff_cf_wide_bits(&s[k]);
        any_wide |= wide[k];
        live |= ff_vm_bits(s[k].live);
    }
    while (live && any_wide) {
        live = any_wide = 0;
        for (int k = 0; k < FF_INFLIGHT; ++k) {
            if (wide[k]) {
                ff_cf_step_wide(&s[k]);
                wide[k] = ff_cf_wide_bits(&s[k]);
                any_wide |= wide[k];
            } else {
                ff_cf_step(&s[k]);
            }
            live |= ff_vm_bits(s[k].live);
        }
    }
    ff_cf_run_and_store(s, live, b, j);
    for (int k = 0; k < FF_INFLIGHT; ++k)
        b->slow[j + (size_t)k] |=
            (unsigned char)ff_vm_bits(ff_vd_lt(ff_vd_set(FF_TWO52_D), s[k].d));
}

/* Pass B: the search for every vector of a block, FF_INFLIGHT at a time. */
static void ff_search_block(ff_block *b, size_t nvec) {
    for (size_t j = 0; j < nvec; j += FF_INFLIGHT) {
        unsigned wide = 0;
        for (int k = 0; k < FF_INFLIGHT; ++k) wide |= b->wide[j + (size_t)k];
        if (wide)
            ff_search_wide(b, j);
        else
            ff_search_narrow(b, j);
    }
}

/* ---- pass A: the exact value of each lane ---------------------------------- */

/* |v| = N / M in exact mode: M = 2**(mb - floor(log2 |x|)), at least 1, and
 * N = |x| M, for mb the format's fraction bits (a float's value is an
 * integer times 2**(e - mb)).  Fast only when both are <= 2**52. */
static inline void ff_value_exact(ff_vd ax, int mb, ff_vd *N, ff_vd *M) {
    *M = ff_vd_max(ff_vd_pow2_den(ax, mb), ff_vd_set(1.0));
    *N = ff_vd_mul(ax, *M);
}

/* ---- shortest digits of float32 lanes (ff_shortest.c is the reference) ----- */

/* The low 32 bits of each lane. */
static inline ff_vi ff_vi_lo32(ff_vi a) { return ff_vi_and(a, ff_vi_set(INT64_C(0xffffffff))); }

/* x = n * g / 2**64 rounded to odd, lane by lane: ff_shortest.c's ff_rop_f32
 * (sticky from the fraction's leading 32 bits) with the 64 x 30-bit product
 * split in two 32 x 32-bit ones.  Returns x as a double (x < 2**30).
 * Requires n < 2**30. */
static inline ff_vd ff_rop_f32_lanes(ff_vi g, ff_vi n) {
    const ff_vi lo = ff_vi_mul32(g, n);                 /* low half of g, times n */
    const ff_vi hi = ff_vi_mul32(ff_vi_srl(g, 32), n);  /* high half of g, times n */
    const ff_vi mid = ff_vi_add(hi, ff_vi_srl(lo, 32)); /* floor(g n / 2**32) < 2**62 */
    /* Sticky: the fraction's leading 32 bits (mid's low 32) not all zero;
     * adding 2**32 - 1 to them carries into bit 32 exactly when they are.
     * x | sticky in the integer lanes, then one conversion (in doubles the
     * same rounding to odd took eight more operations, three times a value). */
    const ff_vi low = ff_vi_lo32(mid);
    const ff_vi sticky = ff_vi_srl(ff_vi_add(low, ff_vi_set(INT64_C(0xffffffff))), 32);
    return ff_vi_to_vd(ff_vi_or(ff_vi_srl(mid, 32), sticky));
}

/* |x| = D * 10**E, the shortest round-trip decimal of every nonzero lane
 * (zero lanes: garbage), with ff_shortest.c's steps done lane-parallel.
 * Small integers (exponents, scaled ends < 2**30) are exact doubles, and
 * the three logarithm floors are exact in double precision over float32's
 * exponent range (|q| < 160: each product is at least 1e-5 from an
 * integer, far above its rounding error). */
/* ff_g64(k) for FF_G_K32_MIN <= k <= FF_G_K32_MAX, at [k - FF_G_K32_MIN]:
 * one gather per lane instead of two.  Built by each batch call (77
 * entries) rather than once at load time: code in this file may only run
 * after the dispatcher has checked the CPU. */
#define FF_G64_ROWS (FF_G_K32_MAX - FF_G_K32_MIN + 1)
static inline void ff_g64_rows(uint64_t rows[FF_G64_ROWS]) {
    for (int k = FF_G_K32_MIN; k <= FF_G_K32_MAX; ++k) rows[k - FF_G_K32_MIN] = ff_g64(k);
}

static inline void ff_shortest_f32_lanes(ff_vf xf, const uint64_t *g64, ff_vd *D, ff_vd *E) {
    const ff_vd one = ff_vd_set(1.0), two = ff_vd_set(2.0), four = ff_vd_set(4.0);
    const ff_vd zero = ff_vd_set(0.0), ten = ff_vd_set(10.0);

    /* Step 1: |x| = c * 2**q. */
    const ff_vi bits = ff_vi_f32_bits(xf);
    const ff_vd biased = ff_vi_to_vd(ff_vi_and(ff_vi_srl(bits, 23), ff_vi_set(0xff)));
    const ff_vd frac = ff_vi_to_vd(ff_vi_and(bits, ff_vi_set(0x7fffff)));
    const ff_vm normal = ff_vd_ne(biased, zero);
    const ff_vd c = ff_vd_blend(normal, frac, ff_vd_add(frac, ff_vd_set(8388608.0)));
    const ff_vd q = ff_vd_blend(normal, ff_vd_set(-149.0), ff_vd_sub(biased, ff_vd_set(150.0)));

    /* Step 2: the rounding interval, in units of 2**(q-2). */
    const ff_vd out = ff_vd_sub(c, ff_vd_mul(ff_vd_floor(ff_vd_mul(c, ff_vd_set(0.5))), two));
    const ff_vd cb = ff_vd_mul(c, four), cbr = ff_vd_add(cb, two);
    const ff_vm lower =
        ff_vm_and(ff_vd_eq(c, ff_vd_set(8388608.0)), ff_vd_ne(q, ff_vd_set(-149.0)));
    const ff_vd cbl = ff_vd_sub(cb, ff_vd_blend(lower, two, one));

    /* Step 3: k = floor(log10(width)). */
    const ff_vd ql = ff_vd_mul(q, ff_vd_set(FF_LOG10_2_D));
    const ff_vd k =
        ff_vd_floor(ff_vd_blend(lower, ql, ff_vd_add(ql, ff_vd_set(-0.12493873660829993))));

    /* Step 4: scale by 4 * 10**-k; h = q + floor(log2 10**-k) + 1 in 1..4. */
    const ff_vd h =
        ff_vd_add(ff_vd_add(q, ff_vd_floor(ff_vd_mul(k, ff_vd_set(-3.321928094887362)))), one);
    const ff_vd scale = ff_vd_blend(ff_vd_le(h, ff_vd_set(2.0)),
                                    ff_vd_blend(ff_vd_eq(h, four), ff_vd_set(8.0), ff_vd_set(16.0)),
                                    ff_vd_blend(ff_vd_eq(h, one), four, two));
    const ff_vi g = ff_vi_gather(g64, ff_vd_to_vi(ff_vd_sub(k, ff_vd_set((double)FF_G_K32_MIN))));
    const ff_vd vbl = ff_rop_f32_lanes(g, ff_vd_to_vi(ff_vd_mul(cbl, scale)));
    const ff_vd vb = ff_rop_f32_lanes(g, ff_vd_to_vi(ff_vd_mul(cb, scale)));
    const ff_vd vbr = ff_rop_f32_lanes(g, ff_vd_to_vi(ff_vd_mul(cbr, scale)));

    /* Step 5: s = floor(v / 10**k); (s + 1/2) / 10 is at least 1/20 from an
     * integer, so multiplying by 0.1 floors exactly. */
    const ff_vd s = ff_vd_floor(ff_vd_mul(vb, ff_vd_set(0.25)));
    const ff_vd sp = ff_vd_floor(ff_vd_mul(ff_vd_add(s, ff_vd_set(0.5)), ff_vd_set(0.1)));

    /* Step 6: a multiple of 10**(k+1) inside the interval wins. */
    const ff_vd forty_sp = ff_vd_mul(sp, ff_vd_set(40.0));
    const ff_vm upin = ff_vd_le(ff_vd_add(vbl, out), forty_sp);
    const ff_vm wpin = ff_vd_le(ff_vd_add(ff_vd_add(forty_sp, ff_vd_set(40.0)), out), vbr);
    const ff_vm shorter = ff_vm_or(upin, wpin);
    ff_vd d_short = ff_vd_blend(wpin, sp, ff_vd_add(sp, one));

    /* Step 7: otherwise the closer of s and t = s + 1 (ties to even). */
    const ff_vd t = ff_vd_add(s, one), four_s = ff_vd_mul(s, four);
    const ff_vm uin = ff_vd_le(ff_vd_add(vbl, out), four_s);
    const ff_vm win = ff_vd_le(ff_vd_add(ff_vd_mul(t, four), out), vbr);
    const ff_vd mid = ff_vd_add(four_s, two);
    const ff_vd s_odd = ff_vd_sub(s, ff_vd_mul(ff_vd_floor(ff_vd_mul(s, ff_vd_set(0.5))), two));
    const ff_vm pick_s_tie =
        ff_vm_or(ff_vd_lt(vb, mid), ff_vm_and(ff_vd_eq(vb, mid), ff_vd_eq(s_odd, zero)));
    const ff_vm pick_s =
        ff_vm_or(ff_vm_and(ff_vm_and(uin, win), pick_s_tie), ff_vm_and(uin, ff_vm_not(win)));
    const ff_vd d_long = ff_vd_blend(pick_s, t, s);

    /* Step 8: the shorter candidate may end in more zeros (at most 8). */
    ff_vd d = ff_vd_blend(shorter, d_long, d_short);
    ff_vd e = ff_vd_blend(shorter, k, ff_vd_add(k, one));
    for (;;) {
        const ff_vd z = ff_vd_floor(ff_vd_mul(ff_vd_add(d, ff_vd_set(0.5)), ff_vd_set(0.1)));
        const ff_vm strip = ff_vm_and(shorter, ff_vd_eq(ff_vd_mul(z, ten), d));
        if (!ff_vm_bits(strip)) break;
        d = ff_vd_blend(strip, d, z);
        e = ff_vd_blend(strip, e, ff_vd_add(e, one));
    }
    *D = d;
    *E = e;
}

/* ---- shortest digits of float64 lanes (ff_shortest.c is the reference) ----- */

/* Step 4 for float64 needs n * g(k) / 2**128 with n < 2**59 and a 128-bit
 * g, and neither instruction set multiplies 64 x 64 bits into 128 (AVX2
 * has no 64-bit multiply at all).  So the products are formed in 32-bit
 * limbs, one vector per limb, lowest first, from vpmuludq's 32 x 32 -> 64.
 * The serial routine computes the same exact product with the same g, so
 * the lanes round to odd exactly as it does; and as the three ends are
 * n, n - (1 or 2) 2**h and n + 2 2**h times g, one product and two shifted
 * copies of g give all three. */

/* P = n * g in six limbs, for n < 2**59 and g in four: eight 32 x 32-bit
 * products whose halves are summed column by column (a column's sum stays
 * below 2**35, its carry below 2**33; P < 2**187 leaves P[5] < 2**27). */
static inline void ff_limbs_mul(const ff_vi g[4], ff_vi n, ff_vi P[6]) {
    const ff_vi n0 = ff_vi_lo32(n), n1 = ff_vi_srl(n, 32);
    ff_vi a[4], b[4];
    for (int i = 0; i < 4; ++i) {
        a[i] = ff_vi_mul32(g[i], n0);
        b[i] = ff_vi_mul32(g[i], n1);
    }
    ff_vi carry = ff_vi_set(0);
    for (int k = 0; k < 5; ++k) {
        ff_vi sum = carry, next = ff_vi_set(0);
        if (k < 4) {
            sum = ff_vi_add(sum, ff_vi_lo32(a[k]));
            next = ff_vi_srl(a[k], 32);
        }
        if (k > 0) {
            sum = ff_vi_add(sum, ff_vi_lo32(b[k - 1]));
            next = ff_vi_add(next, ff_vi_srl(b[k - 1], 32));
        }
        P[k] = ff_vi_lo32(sum);
        carry = ff_vi_add(next, ff_vi_srl(sum, 32));
    }
    P[5] = carry;
}

/* G = g << s in five limbs, each lane by its own s in 0 .. 31. */
static inline void ff_limbs_shift(const ff_vi g[4], ff_vi s, ff_vi G[5]) {
    ff_vi spill = ff_vi_set(0);
    for (int k = 0; k < 4; ++k) {
        const ff_vi t = ff_vi_sllv(g[k], s);
        G[k] = ff_vi_or(ff_vi_lo32(t), spill);
        spill = ff_vi_srl(t, 32);
    }
    G[4] = spill;
}

/* R = P + G, or P - G when subtract (then P >= G); both below 2**192. */
static inline void ff_limbs_add(const ff_vi P[6], const ff_vi G[5], int subtract, ff_vi R[6]) {
    const ff_vi zero = ff_vi_set(0), one = ff_vi_set(1), two32 = ff_vi_set(INT64_C(1) << 32);
    ff_vi carry = zero; /* the borrow, when subtracting */
    for (int k = 0; k < 6; ++k) {
        const ff_vi gk = k < 5 ? G[k] : zero;
        ff_vi t;
        if (subtract) {
            /* 2**32 + P[k] - G[k] - borrow is in [1, 2**33): bit 32 clear
             * means this limb borrowed. */
            t = ff_vi_sub(ff_vi_sub(ff_vi_add(P[k], two32), gk), carry);
            carry = ff_vi_sub(one, ff_vi_srl(t, 32));
        } else {
            t = ff_vi_add(ff_vi_add(P[k], gk), carry);
            carry = ff_vi_srl(t, 32);
        }
        R[k] = ff_vi_lo32(t);
    }
}

/* ff_rop_f64 on limbs: floor(P / 2**128), its low bit set when P's bits
 * 61 .. 127 (the fraction's leading 67) are not all zero. */
static inline ff_vi ff_limbs_rop(const ff_vi P[6]) {
    const ff_vi x = ff_vi_or(P[4], ff_vi_sll(P[5], 32));
    /* The sum of three values below 2**32 is nonzero iff one is, and then
     * adding 2**34 - 1 carries into bit 34. */
    const ff_vi rest = ff_vi_add(ff_vi_add(P[3], P[2]), ff_vi_srl(P[1], 29));
    return ff_vi_or(x, ff_vi_srl(ff_vi_add(rest, ff_vi_set((INT64_C(1) << 34) - 1)), 34));
}

/* floor(v / 10) for 0 <= v < 2**63.  With v = hi 2**32 + lo and
 * hi = 10 a + b, it is a 2**32 + floor((b 2**32 + lo) / 10).  Both
 * quotients are of integers y < 2**36 and are floored from y * 0.1 in
 * double precision, which is exact: the double 0.1 is above one tenth, so
 * the product is not below floor(y / 10), and it exceeds y / 10 by less
 * than 4e-7, too little to round up to the next integer. */
static inline ff_vi ff_vi_div10(ff_vi v) {
    const ff_vd tenth = ff_vd_set(0.1);
    const ff_vd hi = ff_vi_to_vd(ff_vi_srl(v, 32));
    const ff_vd a = ff_vd_floor(ff_vd_mul(hi, tenth));
    const ff_vd b = ff_vd_sub(hi, ff_vd_mul(a, ff_vd_set(10.0)));
    const ff_vd y = ff_vd_add(ff_vd_mul(b, ff_vd_set(4294967296.0)), ff_vi_to_vd(ff_vi_lo32(v)));
    const ff_vd m = ff_vd_floor(ff_vd_mul(y, tenth));
    return ff_vi_add(ff_vi_sll(ff_vd_to_vi(a), 32), ff_vd_to_vi(m));
}

/* "v is a multiple of 10", for 0 <= v < 2**64, cheaper than ff_vi_div10:
 * v even, and 5 divides v = hi 2**32 + lo iff it divides hi + lo (as
 * 2**32 = 1 mod 5), an integer y < 2**33 whose floor(y / 5) is y * 0.2
 * floored, exact as in ff_vi_div10 (the double 0.2 is above one fifth). */
static inline ff_vm ff_vi_tenfold(ff_vi v) {
    const ff_vd y = ff_vd_add(ff_vi_to_vd(ff_vi_srl(v, 32)), ff_vi_to_vd(ff_vi_lo32(v)));
    const ff_vd fifth = ff_vd_floor(ff_vd_mul(y, ff_vd_set(0.2)));
    return ff_vm_and(ff_vd_eq(ff_vd_mul(fifth, ff_vd_set(5.0)), y),
                     ff_vi_eq(ff_vi_and(v, ff_vi_set(1)), ff_vi_set(0)));
}

/* 10 v, for v < 2**59. */
static inline ff_vi ff_vi_times10(ff_vi v) { return ff_vi_add(ff_vi_sll(v, 3), ff_vi_sll(v, 1)); }

/* "a <= b" on signed 64-bit lanes. */
static inline ff_vm ff_vi_le(ff_vi a, ff_vi b) { return ff_vm_not(ff_vi_gt(a, b)); }

/* |x| = D * 10**E, the shortest round-trip decimal of every finite nonzero
 * lane of x (other lanes: garbage, but no trap and a finite loop), with
 * ff_shortest.c's steps on 64-bit integer lanes.  Exponents and the
 * logarithm floors are small integers, exact as doubles; the floors use
 * ff_common.h's integer formulas, (e MUL + ADD) >> SHIFT being
 * floor((e MUL + ADD) * 2**-SHIFT) with every term exact. */
static inline void ff_shortest_f64_lanes(ff_vd x, ff_vi *D, ff_vd *E) {
    const ff_vi one = ff_vi_set(1), two = ff_vi_set(2);

    /* Step 1: |x| = c * 2**q (ff_decode_bits). */
    const ff_vi bits = ff_vi_f64_bits(x);
    const ff_vi frac = ff_vi_and(bits, ff_vi_set((INT64_C(1) << 52) - 1));
    const ff_vd biased = ff_vi_to_vd(ff_vi_and(ff_vi_srl(bits, 52), ff_vi_set(0x7ff)));
    const ff_vm normal = ff_vd_ne(biased, ff_vd_set(0.0));
    const ff_vi c = ff_vi_blend(normal, frac, ff_vi_or(frac, ff_vi_set(INT64_C(1) << 52)));
    const ff_vd q = ff_vd_blend(normal, ff_vd_set(-1074.0), ff_vd_sub(biased, ff_vd_set(1075.0)));

    /* Step 2: the interval; irregular is c == 2**52 with q above -1074. */
    const ff_vm irregular = ff_vm_and(ff_vi_eq(frac, ff_vi_set(0)), ff_vd_lt(ff_vd_set(1.0), biased));
    const ff_vi out = ff_vi_and(c, one);

    /* Step 3: k. */
    const ff_vd k_regular = ff_vd_floor(ff_vd_mul(
        ff_vd_add(ff_vd_mul(q, ff_vd_set(FF_LOG10_POW2_MUL)), ff_vd_set(FF_LOG10_POW2_ADD)),
        ff_vd_set(1.0 / (double)(1 << FF_LOG10_POW2_SHIFT))));
    const ff_vd k_irregular = ff_vd_floor(ff_vd_mul(
        ff_vd_add(ff_vd_mul(q, ff_vd_set(FF_LOG10_3Q_POW2_MUL)), ff_vd_set(FF_LOG10_3Q_POW2_ADD)),
        ff_vd_set(1.0 / (double)(1 << FF_LOG10_3Q_POW2_SHIFT))));
    const ff_vd k = ff_vd_blend(irregular, k_regular, k_irregular);

    /* Step 4: h = q + floor(log2 10**-k) + 1 in 1 .. 4; the ends' n are
     * cb << h with cb = 4c, and g(k) is the row's two words in four limbs. */
    const ff_vd log2 = ff_vd_floor(ff_vd_mul(
        ff_vd_add(ff_vd_mul(ff_vd_sub(ff_vd_set(0.0), k), ff_vd_set(FF_LOG2_POW10_MUL)),
                  ff_vd_set(FF_LOG2_POW10_ADD)),
        ff_vd_set(1.0 / (double)(1 << FF_LOG2_POW10_SHIFT))));
    const ff_vi h = ff_vd_to_vi(ff_vd_add(ff_vd_add(q, log2), ff_vd_set(1.0)));
    const ff_vi row = ff_vi_sll(ff_vd_to_vi(ff_vd_sub(k, ff_vd_set((double)FF_G_K_MIN))), 1);
    const uint64_t *table = &ff_g_table[0][0];
    const ff_vi g_hi = ff_vi_gather(table, row), g_lo = ff_vi_gather(table, ff_vi_add(row, one));
    const ff_vi g[4] = {ff_vi_lo32(g_lo), ff_vi_srl(g_lo, 32), ff_vi_lo32(g_hi), ff_vi_srl(g_hi, 32)};
    ff_vi P[6], G_up[5], G_down[5], R[6];
    ff_limbs_mul(g, ff_vi_sllv(c, ff_vi_add(h, two)), P);
    const ff_vi vb = ff_limbs_rop(P);
    ff_limbs_shift(g, ff_vi_add(h, one), G_up); /* (2 << h) g */
    ff_limbs_add(P, G_up, 0, R);
    const ff_vi vbr = ff_limbs_rop(R);
    /* (2 << h) g below, or (1 << h) g at an irregular lane. */
    ff_limbs_shift(g, ff_vi_blend(irregular, ff_vi_add(h, one), h), G_down);
    ff_limbs_add(P, G_down, 1, R);
    const ff_vi vbl = ff_limbs_rop(R);

    /* Step 5: s = floor(v / 10**k). */
    const ff_vi s = ff_vi_srl(vb, 2);
    const ff_vi sp = ff_vi_div10(s);
    const ff_vi lower = ff_vi_add(vbl, out); /* "end < E" as "end + out <= E" */

    /* Step 6: a multiple of 10**(k+1) inside the interval wins. */
    const ff_vi forty_sp = ff_vi_sll(ff_vi_times10(sp), 2);
    const ff_vm upin = ff_vi_le(lower, forty_sp);
    const ff_vm wpin = ff_vi_le(ff_vi_add(ff_vi_add(forty_sp, ff_vi_set(40)), out), vbr);
    const ff_vm shorter = ff_vm_or(upin, wpin);
    const ff_vi d_short = ff_vi_blend(wpin, sp, ff_vi_add(sp, one));

    /* Step 7: otherwise the closer of s and t = s + 1 (ties to even). */
    const ff_vi t = ff_vi_add(s, one), four_s = ff_vi_sll(s, 2);
    const ff_vm uin = ff_vi_le(lower, four_s);
    const ff_vm win = ff_vi_le(ff_vi_add(ff_vi_sll(t, 2), out), vbr);
    const ff_vi mid = ff_vi_add(four_s, two);
    const ff_vm s_even = ff_vi_eq(ff_vi_and(s, one), ff_vi_set(0));
    const ff_vm pick_s_tie = ff_vm_or(ff_vi_gt(mid, vb), ff_vm_and(ff_vi_eq(vb, mid), s_even));
    const ff_vm pick_s =
        ff_vm_or(ff_vm_and(ff_vm_and(uin, win), pick_s_tie), ff_vm_and(uin, ff_vm_not(win)));
    const ff_vi d_long = ff_vi_blend(pick_s, t, s);

    /* Step 8: the shorter candidate may end in more zeros (a nonzero d
     * ends the loop on every lane, garbage ones included). */
    ff_vi d = ff_vi_blend(shorter, d_long, d_short);
    ff_vd e = ff_vd_blend(shorter, k, ff_vd_add(k, ff_vd_set(1.0)));
    const ff_vm nonzero = ff_vm_not(ff_vi_eq(d, ff_vi_set(0)));
    for (;;) {
        /* Few shorter lanes end in a further zero, so test before dividing. */
        const ff_vm strip = ff_vm_and(ff_vm_and(shorter, nonzero), ff_vi_tenfold(d));
        if (!ff_vm_bits(strip)) break;
        d = ff_vi_blend(strip, d, ff_vi_div10(d));
        e = ff_vd_blend(strip, e, ff_vd_add(e, ff_vd_set(1.0)));
    }
    *D = d;
    *E = e;
}

/* ---- shortest digits of half lanes: one gather from the serial table ----- */

/* |x| = D * 10**E for every lane of half bit patterns xh (zeros: 0 and 0),
 * from table, ff_half_digits_f16() or ff_half_digits_bf16() (ff_kernels.h):
 * 65,536 values are fewer than a Schubfach pass costs, and the table is
 * what the serial ff_shortest_f16 / _bf16 computed, so the lanes match it. */
static inline void ff_half_digits_lanes(ff_vh xh, const uint64_t *table, ff_vd *D, ff_vd *E) {
    const ff_vi t = ff_vi_gather(table, ff_vi_and(ff_vh_to_vi(xh), ff_vi_set(0x7fff)));
    *D = ff_vi_to_vd(ff_vi_and(t, ff_vi_set(INT64_C(0xffffffff))));
    *E = ff_vd_sub(ff_vi_to_vd(ff_vi_srl(t, 32)), ff_vd_set((double)FF_HALF_EXP_BIAS));
}

/* 10**i for integral lanes 0 <= i <= 22, the exact powers of ten: entries
 * 9 .. 31 of the 32 read from 10**-9 up, so that the whole table exists. */
static inline ff_vd ff_vd_pow10_exact(ff_vd i) {
    const ff_vd_table32 t = ff_vd_table32_load(FF_POW10_F64_AT - 9);
    return ff_vd_table32_get(&t, ff_vd_add(i, ff_vd_set(9.0)));
}

/* Decimal mode's N / M from shortest digits D * 10**E: with P = 10**|E|
 * (clamped), N = D P and M = 1 for E >= 0, N = D and M = P otherwise. */
static inline void ff_value_from_digits(ff_vd D, ff_vd E, ff_vd *N, ff_vd *M) {
    const ff_vd zero = ff_vd_set(0.0);
    const ff_vm neg = ff_vd_lt(E, zero);
    const ff_vd clamp = ff_vd_set(FF_DEC_EXP_CLAMP);
    const ff_vd P = ff_vd_pow10_exact(ff_vd_min(ff_vd_abs(E), clamp));
    *N = ff_vd_blend(neg, ff_vd_mul(D, P), D);
    /* Past the clamp M is inf: a slow lane.  (A clamped positive E only
     * makes N too small for a v that is slow anyway: v >= 10**22.) */
    *M = ff_vd_blend(neg, ff_vd_set(1.0),
                     ff_vd_blend(ff_vd_lt(clamp, ff_vd_abs(E)), P, ff_vd_set(INFINITY)));
}

/* |v| = N / M in decimal mode for float64 lanes xd (zeros give 0 and 1):
 * the shortest digits D * 10**E, then ff_value_from_digits as for every
 * other type.  D has up to 17 digits, so it is split into D = Dh + Dl and
 * *Nl is Dl where N = D (E < 0); for E >= 0, N = Dh 10**E rounded is exact
 * whenever the lane is fast ((|v| + 1) max_den < 2**50 puts it below 2**50). */
static inline void ff_value_decimal_f64(ff_vd xd, ff_vd *N, ff_vd *Nl, ff_vd *M) {
    ff_vi D;
    ff_vd E;
    ff_shortest_f64_lanes(xd, &D, &E);
    const ff_vm zero = ff_vd_eq(xd, ff_vd_set(0.0));
    E = ff_vd_blend(zero, E, ff_vd_set(0.0));
    /* D = hi 2**32 + lo, both exact doubles; Dh = fl(hi 2**32 + lo) and Dl
     * its error (two-sum). */
    const ff_vd hi = ff_vd_mul(ff_vi_to_vd(ff_vi_srl(D, 32)), ff_vd_set(4294967296.0));
    ff_vd Dl;
    const ff_vd Dh = ff_two_sum(hi, ff_vi_to_vd(ff_vi_lo32(D)), &Dl);
    ff_value_from_digits(ff_vd_blend(zero, Dh, ff_vd_set(0.0)), E, N, M);
    *Nl = ff_vd_blend(ff_vm_or(zero, ff_vd_lt(E, ff_vd_set(0.0))), ff_vd_set(0.0), Dl);
}

/* Decimal mode's N / M for float32 lanes. */
static inline void ff_value_decimal_f32_lanes(ff_vf xf, const uint64_t *g64, ff_vd *N, ff_vd *M) {
    ff_vd D, E;
    ff_shortest_f32_lanes(xf, g64, &D, &E);
    ff_value_from_digits(D, E, N, M);
}

/* Decimal mode's N / M for half lanes (table as in ff_half_digits_lanes). */
static inline void ff_value_decimal_half(ff_vh xh, const uint64_t *table, ff_vd *N, ff_vd *M) {
    ff_vd D, E;
    ff_half_digits_lanes(xh, table, &D, &E);
    ff_value_from_digits(D, E, N, M);
}

/* Stores count (<= FF_W) lanes of integral D (< 2**53) and E as digits and exp10. */
static inline void ff_store_digits(ff_vd D, ff_vd E, size_t count, uint64_t *digits,
                                   int32_t *exp10) {
    assert(count <= FF_W);
    double d[FF_W] __attribute__((aligned(64))), e[FF_W] __attribute__((aligned(64)));
    ff_vd_store(d, D);
    ff_vd_store(e, E);
    for (size_t k = 0; k < count; ++k) {
        digits[k] = (uint64_t)d[k];
        exp10[k] = (int32_t)e[k];
    }
}

/* ff_shortest_f32_batch_avx2 / ff_shortest_f32_batch_avx512: ff_shortest_f32
 * over an array, lane-parallel; zeros give digits 0, exp10 0.  For tests
 * and the decimal-mode helpers. */
void FF_NAME(ff_shortest_f32_batch)(const float *x, size_t n, uint64_t *digits, int32_t *exp10) {
    uint64_t g64[FF_G64_ROWS];
    ff_g64_rows(g64);
    for (size_t i = 0; i < n; i += FF_W) {
        const size_t count = n - i < FF_W ? n - i : FF_W;
        ff_vf xf;
        const ff_vd xd = ff_vd_load_f32(x + i, count, &xf);
        ff_vd D, E;
        ff_shortest_f32_lanes(xf, g64, &D, &E);
        const ff_vm zero = ff_vd_eq(xd, ff_vd_set(0.0));
        ff_store_digits(ff_vd_blend(zero, D, ff_vd_set(0.0)), ff_vd_blend(zero, E, ff_vd_set(0.0)),
                        count, digits + i, exp10 + i);
    }
}

/* ff_shortest_f64_batch_avx2 / ff_shortest_f64_batch_avx512: ff_shortest_f64
 * over an array, lane-parallel; zeros give digits 0, exp10 0. */
void FF_NAME(ff_shortest_f64_batch)(const double *x, size_t n, uint64_t *digits,
                                    int32_t *exp10) {
    int64_t d[FF_W] __attribute__((aligned(64)));
    double e[FF_W] __attribute__((aligned(64)));
    for (size_t i = 0; i < n; i += FF_W) {
        const size_t count = n - i < FF_W ? n - i : FF_W;
        const ff_vd xd = ff_vd_load_f64(x + i, count);
        ff_vi D;
        ff_vd E;
        ff_shortest_f64_lanes(xd, &D, &E);
        const ff_vm zero = ff_vd_eq(xd, ff_vd_set(0.0));
        ff_vi_store(d, ff_vi_blend(zero, D, ff_vi_set(0)));
        ff_vd_store(e, ff_vd_blend(zero, E, ff_vd_set(0.0)));
        for (size_t j = 0; j < count; ++j) {
            digits[i + j] = (uint64_t)d[j];
            exp10[i + j] = (int32_t)e[j];
        }
    }
}

/* ff_shortest_<FT>_batch_avx2 / _avx512 for a half type FT: its digit
 * table, gathered per lane; zeros give 0 and 0. */
#define FF_DEFINE_SHORTEST_HALF(FT)                                                                \
    void FF_NAME(ff_shortest_##FT##_batch)(const uint16_t *x, size_t n, uint64_t *digits,          \
                                           int32_t *exp10) {                                       \
        const uint64_t *table = ff_half_digits_##FT();                                             \
        for (size_t i = 0; i < n; i += FF_W) {                                                     \
            const size_t count = n - i < FF_W ? n - i : FF_W;                                      \
            ff_vd D, E;                                                                            \
            ff_half_digits_lanes(ff_vh_load(x + i, count), table, &D, &E);                         \
            ff_store_digits(D, E, count, digits + i, exp10 + i);                                   \
        }                                                                                          \
    }
/* ff_shortest_f16_batch_avx2 (or _avx512) */
FF_DEFINE_SHORTEST_HALF(f16)
/* ff_shortest_bf16_batch_avx2 (or _avx512) */
FF_DEFINE_SHORTEST_HALF(bf16)

/* The rest of pass A, common to every source of x and of the bound: checks
 * the fast domain, parks slow lanes on 0 / 1, signs N (and its low part
 * Nl), stores lane j and whether it starts wide (N not one double of at
 * most 53 bits: see "Signs" at the top). */
static inline void ff_stage(ff_block *b, size_t j, ff_vd xd, ff_vd N, ff_vd Nl, ff_vd M, ff_vd md,
                            ff_vm slow) {
    const ff_vd two52 = ff_vd_set(FF_TWO52_D), two96 = ff_vd_set(FF_TWO96_D);
    /* Written as "not (<=)" so that a NaN or inf in any of them is slow. */
    ff_vm fast = ff_vm_and(ff_vm_and(ff_vd_le(N, two96), ff_vd_le(M, two96)), ff_vd_le(md, two52));
    ff_vd reach = ff_vd_mul(ff_vd_add(ff_vd_div(N, M), ff_vd_set(1.0)), md);
    fast = ff_vm_and(fast, ff_vd_lt(reach, ff_vd_set(FF_TWO50_D)));
    /* Wide: N not one exact double of at most 53 bits.  A huge M alone is no
     * reason (see "Signs" at the top).  A wide lane's quotients
     * must stay below 2**49 (ff_floordiv_dd): both |v| and max_den below
     * 2**48 (reach bounds both). */
    const ff_vm wide =
        ff_vm_or(ff_vd_lt(ff_vd_set(FF_TWO53_D), N), ff_vd_ne(Nl, ff_vd_set(0.0)));
    fast = ff_vm_and(fast, ff_vm_not(ff_vm_and(wide, ff_vd_le(ff_vd_set(FF_TWO48_D), reach))));
    /* The one case where the search of |v| is not v's answer negated: a
     * bound of 1 and v a half-integer (a tie CPython breaks toward floor(v)). */
    fast = ff_vm_and(fast, ff_vm_not(ff_vm_and(ff_vd_eq(md, ff_vd_set(1.0)),
                                               ff_vd_lt(xd, ff_vd_set(0.0)))));
    slow = ff_vm_or(slow, ff_vm_not(fast));
    const size_t o = j * FF_W;
    const ff_vd zero = ff_vd_set(0.0), one = ff_vd_set(1.0);
    ff_vd_store(b->N + o, ff_vd_blend(slow, ff_vd_copysign(N, xd), zero));
    /* Nl has a sign of its own: it is multiplied by x's. */
    const ff_vd sign = ff_vd_copysign(one, xd);
    ff_vd_store(b->Nl + o, ff_vd_blend(slow, ff_vd_mul(Nl, sign), zero));
    ff_vd_store(b->M + o, ff_vd_blend(slow, M, one));
    ff_vd_store(b->md + o, ff_vd_blend(slow, md, one));
    b->slow[j] = (unsigned char)ff_vm_bits(slow);
    b->wide[j] = (unsigned char)ff_vm_bits(ff_vm_and(wide, ff_vm_not(slow)));
}

/* The last step of pass A's value, either mode: x == 0 is 0 / 1 (exact
 * mode's M is inf there, decimal mode's value is garbage). */
static inline void ff_value_zero(ff_vd xd, ff_vd *N, ff_vd *M) {
    const ff_vm zero = ff_vd_eq(xd, ff_vd_set(0.0));
    *N = ff_vd_blend(zero, *N, ff_vd_set(0.0));
    *M = ff_vd_blend(zero, *M, ff_vd_set(1.0));
}

/* The bound of approximate from q = T(10**p) / |x| (as a double): floor(q)
 * clamped to [1, cap], 1 where x == 0.  cap_d is cap rounded to double; an
 * i64 cap rounds up to 2**63, which only ever makes the lane slow. */
static inline ff_vd ff_bound_from_q(ff_vd q, ff_vd xd, double cap_d) {
    ff_vd md = ff_vd_min(ff_vd_max(ff_vd_floor(q), ff_vd_set(1.0)), ff_vd_set(cap_d));
    return ff_vd_blend(ff_vd_eq(xd, ff_vd_set(0.0)), md, ff_vd_set(1.0));
}

/* ---- pass C: answers out, slow lanes to the serial function ----------------- */

/* Stores lanes of vector j (count of them valid) of block b, whose first
 * element is x[0]; returns the index (from x) of the first element whose
 * numerator overflows, or count.  BOUND(i) is element i's exact int64 bound. */
#define FF_DEFINE_EMIT(FT, IT, NUM_MIN, NUM_MAX)                                                   \
    static inline size_t ff_emit_##FT##_##IT(                                                      \
        const ff_block *b, size_t j, size_t count, const ff_##FT *x, const int64_t *bounds, int p, \
        int64_t cap, ff_mode mode, ff_##IT *num, ff_##IT *den) {                                   \
        const size_t o = j * FF_W;                                                                 \
        ff_vd pv = ff_vd_load(b->p + o), qv = ff_vd_load(b->q + o);                                \
        ff_vm in = ff_vm_and(ff_vd_le(ff_vd_set((double)(NUM_MIN)), pv),                           \
                             ff_vd_le(pv, ff_vd_set((double)(NUM_MAX))));                          \
        unsigned bad = (b->slow[j] | (~ff_vm_bits(in) & ((1u << FF_W) - 1))) &                     \
                       (count >= FF_W ? (1u << FF_W) - 1 : (1u << count) - 1);                     \
        ff_vd_store_##IT(num, pv, count);                                                          \
        ff_vd_store_##IT(den, qv, count);                                                          \
        for (; bad; bad &= bad - 1) {                                                              \
            const unsigned i = (unsigned)__builtin_ctz(bad);                                       \
            if (!(b->slow[j] >> i & 1u)) return i; /* a fast lane whose numerator overflows */     \
            int64_t a, c;                                                                          \
            const int64_t md = bounds ? bounds[i] : ff_max_den_##FT(x[i], p, cap);                 \
            if (ff_limit_##FT(x[i], md, mode, NUM_MIN, NUM_MAX, &a, &c)) return i;                 \
            num[i] = (ff_##IT)a;                                                                   \
            den[i] = (ff_##IT)c;                                                                   \
        }                                                                                          \
        return count;                                                                              \
    }
/* static ff_emit_f32_i32, ff_emit_f32_i64, ff_emit_f64_i32, ff_emit_f64_i64,
 * ff_emit_f16_i32, ff_emit_f16_i64, ff_emit_bf16_i32, ff_emit_bf16_i64 */
FF_DEFINE_EMIT(f32, i32, INT32_MIN, INT32_MAX)
FF_DEFINE_EMIT(f32, i64, INT64_MIN, INT64_MAX)
FF_DEFINE_EMIT(f64, i32, INT32_MIN, INT32_MAX)
FF_DEFINE_EMIT(f64, i64, INT64_MIN, INT64_MAX)
FF_DEFINE_EMIT(f16, i32, INT32_MIN, INT32_MAX)
FF_DEFINE_EMIT(f16, i64, INT64_MIN, INT64_MAX)
FF_DEFINE_EMIT(bf16, i32, INT32_MIN, INT32_MAX)
FF_DEFINE_EMIT(bf16, i64, INT64_MIN, INT64_MAX)

/* ---- the batch kernels -------------------------------------------------------- */

/* One driver for approximate (bounds == NULL: from p) and limit (explicit
 * bounds), per (float type, int type). */
#define FF_DEFINE_DRIVER(FT, IT, CAP)                                                              \
    static size_t ff_run_##FT##_##IT(const ff_##FT *x, const int64_t *bounds, size_t n, int p,     \
                                     ff_mode mode, ff_##IT *num, ff_##IT *den) {                   \
        ff_block blk __attribute__((aligned(64)));                                                 \
        const FF_BOUND_T_##FT pow10 = (FF_BOUND_T_##FT)ff_pow10_f64(bounds ? 0 : p); /* T(10**p) */ \
        FF_DECIMAL_SETUP_##FT;                                                                     \
        for (size_t start = 0; start < n; start += FF_BLOCK) {                                     \
            const size_t len = n - start < FF_BLOCK ? n - start : FF_BLOCK;                        \
            const size_t nvec =                                                                    \
                (len + FF_W * FF_INFLIGHT - 1) / (FF_W * FF_INFLIGHT) * FF_INFLIGHT;               \
            for (size_t j = 0; j < nvec; ++j) {                                                    \
                const size_t i = start + j * FF_W;                                                 \
                const size_t count = j * FF_W < len ? len - j * FF_W : 0;                          \
                FF_LOAD_X_##FT;                                                                    \
                ff_vd N, Nl = ff_vd_set(0.0), M, md;                                               \
                ff_vm slow = ff_vd_lt(xd, xd); /* no lane */                                       \
                if (mode == FF_MODE_EXACT)                                                         \
                    ff_value_exact(ff_vd_abs(xd), FF_FRAC_BITS_##FT, &N, &M);                      \
                else                                                                               \
                    FF_VALUE_DECIMAL_##FT;                                                         \
                ff_value_zero(xd, &N, &M);                                                         \
                if (bounds)                                                                        \
                    md = ff_vd_load_i64(bounds + i, count, &slow);                                 \
                else                                                                               \
                    md = ff_bound_from_q(FF_BOUND_Q_##FT, xd, (double)(CAP));                      \
                ff_stage(&blk, j, xd, N, Nl, M, md, slow);                                         \
            }                                                                                      \
            ff_search_block(&blk, nvec);                                                           \
            for (size_t j = 0; j * FF_W < len; ++j) {                                              \
                const size_t i = start + j * FF_W, count = len - j * FF_W;                         \
                size_t bad =                                                                       \
                    ff_emit_##FT##_##IT(&blk, j, count, x + i, bounds ? bounds + i : NULL, p, CAP, \
                                        mode, num + i, den + i);                                   \
                if (bad < (count < FF_W ? count : FF_W)) return i + bad;                           \
            }                                                                                      \
        }                                                                                          \
        return n;                                                                                  \
    }                                                                                              \
    size_t FF_NAME(ff_approximate_##FT##_##IT)(const ff_##FT *x, size_t n, int p, ff_mode mode,    \
                                               ff_##IT *num, ff_##IT *den) {                       \
        assert(0 <= p && p <= FF_MAX_P_I64);                                                       \
        return ff_run_##FT##_##IT(x, NULL, n, p, mode, num, den);                                  \
    }                                                                                              \
    size_t FF_NAME(ff_limit_##FT##_##IT)(const ff_##FT *x, const int64_t *max_den, size_t n,       \
                                         ff_mode mode, ff_##IT *num, ff_##IT *den) {               \
        return ff_run_##FT##_##IT(x, max_den, n, 0, mode, num, den);                               \
    }

/* How a vector of each float type is loaded: xd (doubles), and for the
 * bound, q = T(10**p) / |x| rounded in T, the type FF_BOUND_T; what decimal
 * mode needs once per call (FF_DECIMAL_SETUP) and per vector.  Half lanes
 * are widened exactly to float32 for the bound and for exact mode; their
 * decimal values come from their own type's digit table. */
#define FF_LOAD_X_f32                                                                              \
    ff_vf xf;                                                                                      \
    ff_vd xd = ff_vd_load_f32(x + i, count, &xf)
#define FF_BOUND_T_f32 float
#define FF_BOUND_Q_f32 ff_vf_bound(xf, pow10)
#define FF_DECIMAL_SETUP_f32                                                                       \
    uint64_t g64[FF_G64_ROWS]; /* float32 decimal mode's scale factors */                          \
    if (mode == FF_MODE_DECIMAL) ff_g64_rows(g64)
#define FF_VALUE_DECIMAL_f32 ff_value_decimal_f32_lanes(xf, g64, &N, &M)
#define FF_FRAC_BITS_f32 FF_F32_FRAC_BITS

#define FF_LOAD_X_f64 ff_vd xd = ff_vd_load_f64(x + i, count)
#define FF_BOUND_T_f64 double
#define FF_BOUND_Q_f64 ff_vd_div(ff_vd_set(pow10), ff_vd_abs(xd))
#define FF_DECIMAL_SETUP_f64 (void)0
#define FF_VALUE_DECIMAL_f64 ff_value_decimal_f64(xd, &N, &Nl, &M)
#define FF_FRAC_BITS_f64 FF_F64_FRAC_BITS

#define FF_LOAD_X_HALF(WIDEN)                                                                      \
    const ff_vh xh = ff_vh_load(x + i, count);                                                     \
    const ff_vf xf = WIDEN(xh);                                                                    \
    ff_vd xd = ff_vf_to_vd(xf)
#define FF_DECIMAL_SETUP_HALF(FT)                                                                  \
    const uint64_t *const half = mode == FF_MODE_DECIMAL ? ff_half_digits_##FT() : NULL
#define FF_LOAD_X_f16 FF_LOAD_X_HALF(ff_vh_f16_to_vf)
#define FF_BOUND_T_f16 float
#define FF_BOUND_Q_f16 ff_vf_bound(xf, pow10)
#define FF_DECIMAL_SETUP_f16 FF_DECIMAL_SETUP_HALF(f16)
#define FF_VALUE_DECIMAL_f16 ff_value_decimal_half(xh, half, &N, &M)
#define FF_FRAC_BITS_f16 FF_F16_FRAC_BITS

#define FF_LOAD_X_bf16 FF_LOAD_X_HALF(ff_vh_bf16_to_vf)
#define FF_BOUND_T_bf16 float
#define FF_BOUND_Q_bf16 ff_vf_bound(xf, pow10)
#define FF_DECIMAL_SETUP_bf16 FF_DECIMAL_SETUP_HALF(bf16)
#define FF_VALUE_DECIMAL_bf16 ff_value_decimal_half(xh, half, &N, &M)
#define FF_FRAC_BITS_bf16 FF_BF16_FRAC_BITS

/* ff_approximate_f32_i32_avx2, ff_limit_f32_i32_avx2 (or _avx512; static ff_run_f32_i32) */
FF_DEFINE_DRIVER(f32, i32, FF_MAX_DEN_I32)
/* ff_approximate_f32_i64_avx2, ff_limit_f32_i64_avx2 (or _avx512; static ff_run_f32_i64) */
FF_DEFINE_DRIVER(f32, i64, FF_MAX_DEN_I64)
/* ff_approximate_f64_i32_avx2, ff_limit_f64_i32_avx2 (or _avx512; static ff_run_f64_i32) */
FF_DEFINE_DRIVER(f64, i32, FF_MAX_DEN_I32)
/* ff_approximate_f64_i64_avx2, ff_limit_f64_i64_avx2 (or _avx512; static ff_run_f64_i64) */
FF_DEFINE_DRIVER(f64, i64, FF_MAX_DEN_I64)
/* ff_approximate_f16_i32_avx2, ff_limit_f16_i32_avx2 (or _avx512; static ff_run_f16_i32) */
FF_DEFINE_DRIVER(f16, i32, FF_MAX_DEN_I32)
/* ff_approximate_f16_i64_avx2, ff_limit_f16_i64_avx2 (or _avx512; static ff_run_f16_i64) */
FF_DEFINE_DRIVER(f16, i64, FF_MAX_DEN_I64)
/* ff_approximate_bf16_i32_avx2, ff_limit_bf16_i32_avx2 (or _avx512; static ff_run_bf16_i32) */
FF_DEFINE_DRIVER(bf16, i32, FF_MAX_DEN_I32)
/* ff_approximate_bf16_i64_avx2, ff_limit_bf16_i64_avx2 (or _avx512; static ff_run_bf16_i64) */
FF_DEFINE_DRIVER(bf16, i64, FF_MAX_DEN_I64)

/* ---- to_float (ff_to_float.c is the reference) -------------------------------- */

/* ff_round_digits's table for one digits value: 10**-(c0 + 1) for the c0 a
 * fast lane can have (digits - 24 .. digits - 1), indexed from digits - 24.
 * Entries no fast lane reads are clamped into the table of ff_common.h. */
typedef struct {
    double down[32];
    long long down_base; /* the c0 of down[0] */
} ff_round_tables;

static inline void ff_round_tables_init(ff_round_tables *t, int digits) {
    t->down_base = (long long)digits - 24;
    for (int j = 0; j < 32; ++j) {
        long long k = -(t->down_base + 1 + j);
        k = k < -FF_POW10_F64_MAX ? -FF_POW10_F64_MAX : k > FF_POW10_F64_MAX ? FF_POW10_F64_MAX : k;
        t->down[j] = FF_POW10_F64_AT[k];
    }
}

/* Python's round(v, digits - 1 - floor(log10|v|)) for the lanes where two
 * double-precision shortcuts are provably exact (ff_round_significant is
 * the reference), in two halves (ff_round_scale, then ff_round_at); the
 * others are flagged slow.
 *
 *   - floor(log10|v|) = c: with c0 = floor(log2|v| * log10 2) (c or c - 1),
 *     c follows from one comparison with 10**(c0+1).  Only within 1e-12
 *     (relative) of a power of ten could the C library's log10, which the
 *     reference calls, floor differently; those lanes are slow.
 *   - X = |v| 10**s, s = digits - 1 - c in [0, 22] so that 10**s is exact:
 *     X = hi + lo exactly with hi = fl(|v| 10**s), lo = fma(|v|, 10**s, -hi).
 *     With hi < 2**52, t = hi - floor(hi) and t - 1/2 are exact, and the
 *     sign of (t - 1/2) + lo is that of X - floor(hi) - 1/2: round half to
 *     even without error.  N * 10**-s is then one correctly rounded division
 *     (Clinger's fast path: N and 10**s exact), as in the reference.
 *
 * The first half: s (as a double) for every lane, NaN where the first
 * shortcut fails (then the lane is slow unless v is 0). */
static inline ff_vd ff_round_scale(ff_vd v, double digits, const ff_vd_table32 *down_tab,
                                   double down_base) {
    const ff_vd zero = ff_vd_set(0.0), one = ff_vd_set(1.0);
    const ff_vd ax = ff_vd_abs(v);
    const ff_vd e2 = ff_vd_ilogb(ax);
    ff_vm ok = ff_vm_and(ff_vd_le(ff_vd_set(-90.0), e2), ff_vd_le(e2, ff_vd_set(90.0)));
    const ff_vd e2c = ff_vd_blend(ok, zero, e2); /* keep the lookups in the table */
    const ff_vd c0 = ff_vd_floor(ff_vd_mul(e2c, ff_vd_set(FF_LOG10_2_D)));
    /* |v| / 10**(c0+1) as a product with the table's 10**-(c0+1): within
     * 2**-52 relative of the quotient, so the comparison with 1 can only come
     * out otherwise for an m that the band below sends to the slow lanes
     * anyway (and a division was a third of this function's time). */
    /* A lane with c0 outside down's window has s outside 0 .. 22 whichever
     * way the comparison goes (c is c0 or c0 + 1), so it is slow anyway; the
     * clamp only keeps its index in the table. */
    const ff_vd j = ff_vd_min(ff_vd_max(ff_vd_sub(c0, ff_vd_set(down_base)), zero), ff_vd_set(31.0));
    const ff_vd down = ff_vd_table32_get(down_tab, j);
    const ff_vd r = ff_vd_mul(ax, down);
    const ff_vm up = ff_vd_le(one, r);
    const ff_vd c = ff_vd_blend(up, c0, ff_vd_add(c0, one));
    const ff_vd m = ff_vd_blend(up, ff_vd_mul(r, ff_vd_set(10.0)), r); /* |v| / 10**c, in [1, 10) */
    ok = ff_vm_and(
        ok, ff_vm_and(ff_vd_le(ff_vd_set(1.0 + 1e-12), m), ff_vd_le(m, ff_vd_set(10.0 - 1e-11))));
    return ff_vd_blend(ok, ff_vd_set(NAN), ff_vd_sub(ff_vd_set(digits - 1.0), c));
}

/* The second half, from ff_round_scale's s; lanes that cannot be done here
 * are added to *slow. */
static inline ff_vd ff_round_at(ff_vd v, ff_vd s, ff_vm *slow) {
    const ff_vd zero = ff_vd_set(0.0), one = ff_vd_set(1.0), half = ff_vd_set(0.5);
    const ff_vd ax = ff_vd_abs(v);
    ff_vm ok = ff_vm_and(ff_vd_le(zero, s), ff_vd_le(s, ff_vd_set(22.0))); /* NaN: not ok */
    const ff_vd P = ff_vd_pow10_exact(ff_vd_blend(ok, zero, s));
    const ff_vd hi = ff_vd_mul(ax, P);
    const ff_vd lo = ff_vd_fmadd(ax, P, ff_vd_mul(hi, ff_vd_set(-1.0)));
    ok = ff_vm_and(ok, ff_vd_lt(hi, ff_vd_set(FF_TWO52_D)));
    const ff_vd fl = ff_vd_floor(hi);
    const ff_vd side = ff_vd_add(ff_vd_sub(ff_vd_sub(hi, fl), half), lo);
    const ff_vd odd = ff_vd_sub(fl, ff_vd_mul(ff_vd_floor(ff_vd_mul(fl, half)), ff_vd_set(2.0)));
    const ff_vm round_up =
        ff_vm_or(ff_vd_lt(zero, side), ff_vm_and(ff_vd_eq(side, zero), ff_vd_eq(odd, one)));
    const ff_vd N = ff_vd_blend(round_up, fl, ff_vd_add(fl, one));
    *slow = ff_vm_or(*slow, ff_vm_and(ff_vm_not(ok), ff_vd_ne(v, zero)));
    /* v == 0 stays v (either sign); a rounded 0 keeps v's sign as in Python. */
    return ff_vd_blend(ff_vd_eq(v, zero), ff_vd_copysign(ff_vd_div(N, P), v), v);
}

/* to_float works on blocks of FF_TF_VECS vectors, in three passes: the
 * quotients, then ff_round_scale, then ff_round_at.  Each pass is a loop of
 * independent iterations with one table lookup on its chain of latencies;
 * in one loop the whole chain (two divisions, two lookups) was longer than
 * the out-of-order window could cover, and the loop ran at the chain's pace
 * rather than the instructions'. */
#define FF_TF_VECS 16

/* ff_to_float_avx2 / ff_to_float_avx512: out[i] = num[i] / den[i] correctly
 * rounded, then rounded to digits significant digits when digits > 0:
 * ff_to_float's contract. */
void FF_NAME(ff_to_float)(const int64_t *num, const int64_t *den, size_t n, int digits,
                          double *out) {
    assert(n == 0 || (num && den && out));
    ff_round_tables tables;
    ff_round_tables_init(&tables, digits);
    const ff_vd_table32 down_tab = ff_vd_table32_load(tables.down);
    const double down_base = (double)tables.down_base, digits_d = (double)digits;
    ff_vd v[FF_TF_VECS], s[FF_TF_VECS];
    ff_vm slow[FF_TF_VECS];
    for (size_t start = 0; start < n; start += FF_TF_VECS * FF_W) {
        const size_t len = n - start < FF_TF_VECS * FF_W ? n - start : FF_TF_VECS * FF_W;
        const size_t nv = (len + FF_W - 1) / FF_W;
        for (size_t j = 0; j < nv; ++j) {
            const size_t i = start + j * FF_W, count = len - j * FF_W;
            slow[j] = ff_vd_lt(ff_vd_set(0.0), ff_vd_set(0.0)); /* no lane */
            /* |num|, den < 2**51: exact doubles, and one division rounds once. */
            const ff_vd a = ff_vd_load_i64(num + i, count, &slow[j]);
            const ff_vd b = ff_vd_load_i64(den + i, count, &slow[j]);
            v[j] = ff_vd_div(a, ff_vd_blend(slow[j], b, ff_vd_set(1.0)));
        }
        if (digits > 0) {
            for (size_t j = 0; j < nv; ++j)
                s[j] = ff_round_scale(v[j], digits_d, &down_tab, down_base);
            for (size_t j = 0; j < nv; ++j) v[j] = ff_round_at(v[j], s[j], &slow[j]);
        }
        for (size_t j = 0; j < nv; ++j) {
            const size_t i = start + j * FF_W, count = len - j * FF_W;
            ff_vd_store_f64(out + i, v[j], count);
            const unsigned lanes = count >= FF_W ? (1u << FF_W) - 1 : (1u << count) - 1;
            unsigned bad = ff_vm_bits(slow[j]) & lanes;
            for (; bad; bad &= bad - 1) {
                const size_t k = i + (size_t)__builtin_ctz(bad);
                const double w = ff_ratio_to_f64(num[k], den[k]);
                out[k] = digits > 0 ? ff_round_significant(w, digits) : w;
            }
        }
    }
}

/* ---- byte planes of int64 frames (the fractions container) ---------------- */

/* v[i..i+FF_W) into planes 0..width-1: ff_vi_byte_planes gives byte j of
 * every lane, in lane order, as one word, stored with one FF_W-byte write
 * into plane j (x86 is little-endian, so the word's low bytes are lane 0's).
 * Inlined with a constant width, so that the plane loop unrolls and the
 * words of planes past the width are never computed. */
FF_INLINE void FF_NAME(ff_planes_vector)(const int64_t *v, size_t n, size_t i, int width,
                                         uint8_t *planes) {
    uint64_t words[8];
    ff_vi_byte_planes(ff_vi_load(v + i), words);
    for (int j = 0; j < width; ++j) memcpy(planes + (size_t)j * n + i, &words[j], FF_W);
}

/* ff_i64_to_planes_avx2 / ff_i64_to_planes_avx512: the planes of
 * ff_i64_to_planes_serial (width 1, 2, 4 or 8), FF_W elements a vector; the
 * tail byte by byte.  The serial 8x8 byte transpose took 2.1 ms for 2**20
 * denominators of 4 bytes, which the container's codec threads then spent
 * beside the kernel on every chunk. */
void FF_NAME(ff_i64_to_planes)(const int64_t *v, size_t n, int width, uint8_t *planes) {
    size_t i = 0;
    if (width == 1) { /* a plain narrowing copy, which the compiler vectorizes best */
        for (; i < n; ++i) planes[i] = (uint8_t)v[i];
        return;
    }
    for (; i + FF_W <= n; i += FF_W) {
        switch (width) {
        case 2: FF_NAME(ff_planes_vector)(v, n, i, 2, planes); break;
        case 4: FF_NAME(ff_planes_vector)(v, n, i, 4, planes); break;
        default: FF_NAME(ff_planes_vector)(v, n, i, 8, planes); break;
        }
    }
    for (; i < n; ++i) {
        const uint64_t u = (uint64_t)v[i];
        for (int j = 0; j < width; ++j) planes[(size_t)j * n + i] = (uint8_t)(u >> (8 * j));
    }
}

#endif /* FF_SIMD_H */
