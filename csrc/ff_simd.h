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
 * The fast domain, checked per lane before the search: |N|, M, max_den <=
 * 2**52 and (|v| + 1) max_den < 2**50.  Every convergent and semiconvergent
 * p / q of the search has q <= max_den and |p / q - v| <= 1, so |p| <=
 * (|v| + 1) max_den, and each a p1 is below twice that.  Lanes outside the
 * domain (tiny, huge or many-digit values, bounds of 2**52 and more) are
 * flagged "slow" and handed to the serial per-element function ff_limit_f32 /
 * ff_limit_f64, in index order, so the first overflow is still the first.
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
 * Primitives the including file defines (FF_W lanes of double):
 *   types   ff_vd (FF_W doubles), ff_vm (FF_W-lane mask), ff_vf (FF_W floats)
 *   macros  FF_W, FF_INFLIGHT, FF_ISA (the name suffix: avx2, avx512)
 *   arith   vd_set vd_add vd_sub vd_mul vd_div vd_floor vd_min vd_max vd_abs
 *           vd_fmadd(a,b,c) = a*b + c and vd_fnmadd(a,b,c) = c - a*b, each
 *           rounded once; vd_copysign(mag, sign)
 *   compare vd_lt vd_le vd_eq vd_ne (ordered, quiet) -> ff_vm; vm_and vm_or
 *           vm_not; vm_bits(m) -> bit i set for lane i
 *   select  vd_blend(m, a, b) = m ? b : a
 *   memory  vd_load/vd_store (aligned, FF_W doubles);
 *           vd_load_f32(x, count, &xf) and vd_load_f64(x, count): up to FF_W
 *           elements (count < FF_W: the rest read as 0, nothing read beyond);
 *           vf_bound(xf, pow10) = (double)(pow10 / |xf|) rounded in float;
 *           vd_load_i64(b, count, &big): int64s as doubles, big |= lanes
 *           with |b| >= 2**51 (their double is garbage); vd_store_f64;
 *           vd_lookup(table, i) = table[i] for integral double indices i;
 *           vd_store_i32/vd_store_i64(out, v, count): integral v, |v| < 2**51
 *           (i32: any value; out-of-range lanes are the caller's problem)
 *   ints    ff_vi (FF_W 64-bit lanes): vi_f32_bits(xf) (zero-extended),
 *           vi_set, vi_add, vi_and, vi_srl(a, imm) (a macro), vi_mul32 (low
 *           32 bits of each lane, unsigned, 64-bit products), vi_gather(table,
 *           i) = table[i], vi_to_vd for 0 <= v < 2**52 and vd_to_vi for
 *           integral 0 <= v < 2**52
 *   scale   vd_pow2_den(ax, mb) = 2**(mb - floor(log2 ax)) for ax > 0 normal,
 *           anything > 2**52 (even inf) where that overflows;
 *           vd_ilogb(ax) = floor(log2 ax) as a double, for ax > 0 normal
 */
#ifndef FF_SIMD_H
#define FF_SIMD_H

#include "ff_common.h"
#include "ff_kernels.h"

#define FF_PASTE_(a, b) a##_##b
#define FF_PASTE(a, b) FF_PASTE_(a, b)
#define FF_NAME(base) FF_PASTE(base, FF_ISA)

/* Elements per block: a multiple of FF_W * FF_INFLIGHT, small enough that a
 * block's arrays (about 41 bytes an element) stay in L1. */
#define FF_BLOCK (FF_W * FF_INFLIGHT * 16)
#define FF_VECS (FF_BLOCK / FF_W)

#define FF_TWO52 4503599627370496.0 /* 2**52 */
#define FF_TWO50 1125899906842624.0 /* 2**50 */

/* 10**k for 0 <= k <= 16 as doubles, all exact (10**16 < 2**54 and
 * 5**16 < 2**53); 10**16 > 2**52 is only ever compared, never used. */
static const double FF_P10[17] = {1e0, 1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7, 1e8,
                                  1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16};

/* A block's worth of per-lane state between the three passes. */
typedef struct ff_block {
    double N[FF_BLOCK];              /* signed numerator of v (0 for slow lanes) */
    double M[FF_BLOCK];              /* denominator of v (1 for slow lanes) */
    double md[FF_BLOCK];             /* the bound (1 for slow lanes) */
    double p[FF_BLOCK], q[FF_BLOCK]; /* the answer */
    unsigned char slow[FF_VECS];     /* bit i: lane i of vector j is not done here */
} ff_block;

/* ---- exact integer steps in doubles ---------------------------------------- */

/* floor(a / b), and *rem = a - b * floor(a / b); requires a, b integral,
 * |a| <= 2**53, 0 < b <= 2**53 (lanes where b == 0 return garbage). */
static inline ff_vd ff_floordiv(ff_vd a, ff_vd b, ff_vd *rem) {
    const ff_vd one = vd_set(1.0), zero = vd_set(0.0);
    ff_vd q = vd_floor(vd_div(a, b));
    ff_vd r = vd_fnmadd(q, b, a);
    ff_vm over = vd_lt(r, zero);
    *rem = vd_blend(over, r, vd_add(r, b));
    return vd_blend(over, q, vd_sub(q, one));
}

/* ---- the continued-fraction search (ff_serial.c, ff_best_approximation) -- */

/* The search state of FF_W lanes: remainders n, d, convergents p0/q0 and
 * p1/q1, the bound, and which lanes still run. */
typedef struct ff_cf {
    ff_vd n, d, p0, p1, q0, q1, md;
    ff_vm live;
} ff_cf;

/* Step 1: the integer part floor(v) (Python's floor for v < 0) and the
 * remainder; convergents 1/0 and a0/1.  Requires the fast domain. */
static inline void ff_cf_start(ff_cf *s, ff_vd N, ff_vd M, ff_vd md) {
    ff_vd r;
    s->p1 = ff_floordiv(N, M, &r);
    s->p0 = vd_set(1.0);
    s->q0 = vd_set(0.0);
    s->q1 = vd_set(1.0);
    s->n = M;
    s->d = r;
    s->md = md;
    s->live = vd_ne(r, vd_set(0.0));
}

/* Step 2, one Euclid step in every live lane: stop a lane whose next
 * denominator would pass the bound, or whose expansion ends. */
static inline void ff_cf_step(ff_cf *s) {
    ff_vd r;
    ff_vd a = ff_floordiv(s->n, s->d, &r);
    ff_vd q2 = vd_fmadd(a, s->q1, s->q0);
    ff_vm ok = vm_and(s->live, vd_le(q2, s->md));
    ff_vd p2 = vd_fmadd(a, s->p1, s->p0);
    s->p0 = vd_blend(ok, s->p0, s->p1);
    s->q0 = vd_blend(ok, s->q0, s->q1);
    s->p1 = vd_blend(ok, s->p1, p2);
    s->q1 = vd_blend(ok, s->q1, q2);
    s->n = vd_blend(ok, s->n, s->d);
    s->d = vd_blend(ok, s->d, r);
    s->live = vm_and(ok, vd_ne(r, vd_set(0.0)));
}

/* Steps 3 and 4: p1/q1 when the expansion ended (d == 0) or when it wins
 * the tie test 2 d qk <= M; otherwise the semiconvergent with the largest
 * k.  Lanes with d == 0 pass the tie test by themselves. */
static inline void ff_cf_finish(const ff_cf *s, ff_vd M, ff_vd *p, ff_vd *q) {
    ff_vd unused;
    ff_vd k = ff_floordiv(vd_sub(s->md, s->q0), s->q1, &unused);
    ff_vd qk = vd_fmadd(k, s->q1, s->q0);
    /* 2 d qk <= M as d qk <= M / 2 (exact: M <= 2**52), with d qk = hi + lo
     * exactly (an FMA two-product; both below 2**53).  Rounding is monotonic
     * and M / 2 is a double, so hi < M / 2 or hi > M / 2 decides alone. */
    ff_vd half_m = vd_mul(M, vd_set(0.5));
    ff_vd hi = vd_mul(s->d, qk);
    ff_vd lo = vd_fmadd(s->d, qk, vd_mul(hi, vd_set(-1.0)));
    ff_vm keep = vm_or(vd_lt(hi, half_m), vm_and(vd_eq(hi, half_m), vd_le(lo, vd_set(0.0))));
    *p = vd_blend(keep, vd_fmadd(k, s->p1, s->p0), s->p1);
    *q = vd_blend(keep, qk, s->q1);
}

/* Pass B: the search for every vector of a block. */
static void ff_search_block(ff_block *b, size_t nvec) {
    for (size_t j = 0; j < nvec; j += FF_INFLIGHT) {
        ff_cf s[FF_INFLIGHT];
        unsigned live = 0;
        for (int k = 0; k < FF_INFLIGHT; ++k) {
            const size_t o = (j + (size_t)k) * FF_W;
            ff_cf_start(&s[k], vd_load(b->N + o), vd_load(b->M + o), vd_load(b->md + o));
            live |= vm_bits(s[k].live);
        }
        while (live) {
            live = 0;
            for (int k = 0; k < FF_INFLIGHT; ++k) {
                ff_cf_step(&s[k]);
                live |= vm_bits(s[k].live);
            }
        }
        for (int k = 0; k < FF_INFLIGHT; ++k) {
            const size_t o = (j + (size_t)k) * FF_W;
            ff_vd p, q;
            ff_cf_finish(&s[k], vd_load(b->M + o), &p, &q);
            vd_store(b->p + o, p);
            vd_store(b->q + o, q);
        }
    }
}

/* ---- pass A: the exact value of each lane ---------------------------------- */

/* |v| = N / M in exact mode: M = 2**(mb - floor(log2 |x|)), at least 1, and
 * N = |x| M, for mb the format's fraction bits (a float's value is an
 * integer times 2**(e - mb)).  Fast only when both are <= 2**52. */
static inline void ff_value_exact(ff_vd ax, int mb, ff_vd *N, ff_vd *M) {
    *M = vd_max(vd_pow2_den(ax, mb), vd_set(1.0));
    *N = vd_mul(ax, *M);
}

/* |v| = N / M in decimal mode, from the shortest digits D * 10**E of each
 * nonzero lane (zero lanes give 0 / 1), one lane at a time (float64: its
 * digits rarely fit the fast domain anyway).  Exponents past 16 are clamped: the
 * lane is slow anyway (10**16 > 2**52). */
#define FF_DEFINE_VALUE_DECIMAL(FT)                                                                \
    static inline void ff_value_decimal_##FT(const ff_##FT *x, size_t count, ff_vd *N, ff_vd *M) { \
        double n[FF_W] __attribute__((aligned(64))), m[FF_W] __attribute__((aligned(64)));         \
        for (int i = 0; i < FF_W; ++i) {                                                           \
            n[i] = 0.0;                                                                            \
            m[i] = 1.0;                                                                            \
            if ((size_t)i >= count || x[i] == 0) continue;                                         \
            uint64_t D;                                                                            \
            int32_t E;                                                                             \
            ff_shortest_##FT(x[i], &D, &E);                                                        \
            n[i] = (double)D * FF_P10[E > 0 ? (E < 16 ? E : 16) : 0];                              \
            m[i] = FF_P10[E < 0 ? (E > -16 ? -E : 16) : 0];                                        \
        }                                                                                          \
        *N = vd_load(n);                                                                           \
        *M = vd_load(m);                                                                           \
    }
FF_DEFINE_VALUE_DECIMAL(f64)

/* ---- shortest digits of float32 lanes (ff_shortest.c is the reference) ----- */

#include "ff_shortest_tables.h"

/* x = n * g / 2**64 rounded to odd, lane by lane: ff_shortest.c's ff_rop_f32
 * (sticky from the fraction's leading 32 bits) with the 64 x 30-bit product
 * split in two 32 x 32-bit ones.  Returns x as a double (x < 2**30).
 * Requires n < 2**30. */
static inline ff_vd ff_rop_f32_lanes(ff_vi g, ff_vi n) {
    const ff_vi lo = vi_mul32(g, n);              /* low half of g, times n */
    const ff_vi hi = vi_mul32(vi_srl(g, 32), n);  /* high half of g, times n */
    const ff_vi mid = vi_add(hi, vi_srl(lo, 32)); /* floor(g n / 2**32) < 2**62 */
    /* Sticky: the fraction's leading 32 bits (mid's low 32) not all zero;
     * adding 2**32 - 1 to them carries into bit 32 exactly when they are. */
    const ff_vi low = vi_and(mid, vi_set(INT64_C(0xffffffff)));
    const ff_vi sticky = vi_srl(vi_add(low, vi_set(INT64_C(0xffffffff))), 32);
    const ff_vd x = vi_to_vd(vi_srl(mid, 32));
    /* x | sticky: add 1 to an even x when sticky. */
    const ff_vd odd = vd_sub(x, vd_mul(vd_floor(vd_mul(x, vd_set(0.5))), vd_set(2.0)));
    return vd_add(x, vd_mul(vi_to_vd(sticky), vd_sub(vd_set(1.0), odd)));
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
    for (int k = FF_G_K32_MIN; k <= FF_G_K32_MAX; ++k) {
        const uint64_t *row = ff_g_table[k - FF_G_K_MIN];
        rows[k - FF_G_K32_MIN] = row[0] + (row[1] != 0);
    }
}

static inline void ff_shortest_f32_lanes(ff_vf xf, const uint64_t *g64, ff_vd *D, ff_vd *E) {
    const ff_vd one = vd_set(1.0), two = vd_set(2.0), four = vd_set(4.0);
    const ff_vd zero = vd_set(0.0), ten = vd_set(10.0);

    /* Step 1: |x| = c * 2**q. */
    const ff_vi bits = vi_f32_bits(xf);
    const ff_vd biased = vi_to_vd(vi_and(vi_srl(bits, 23), vi_set(0xff)));
    const ff_vd frac = vi_to_vd(vi_and(bits, vi_set(0x7fffff)));
    const ff_vm normal = vd_ne(biased, zero);
    const ff_vd c = vd_blend(normal, frac, vd_add(frac, vd_set(8388608.0)));
    const ff_vd q = vd_blend(normal, vd_set(-149.0), vd_sub(biased, vd_set(150.0)));

    /* Step 2: the rounding interval, in units of 2**(q-2). */
    const ff_vd out = vd_sub(c, vd_mul(vd_floor(vd_mul(c, vd_set(0.5))), two));
    const ff_vd cb = vd_mul(c, four), cbr = vd_add(cb, two);
    const ff_vm lower = vm_and(vd_eq(c, vd_set(8388608.0)), vd_ne(q, vd_set(-149.0)));
    const ff_vd cbl = vd_sub(cb, vd_blend(lower, two, one));

    /* Step 3: k = floor(log10(width)). */
    const ff_vd ql = vd_mul(q, vd_set(0.30102999566398120));
    const ff_vd k = vd_floor(vd_blend(lower, ql, vd_add(ql, vd_set(-0.12493873660829993))));

    /* Step 4: scale by 4 * 10**-k; h = q + floor(log2 10**-k) + 1 in 1..4. */
    const ff_vd h = vd_add(vd_add(q, vd_floor(vd_mul(k, vd_set(-3.321928094887362)))), one);
    const ff_vd scale =
        vd_blend(vd_le(h, vd_set(2.0)), vd_blend(vd_eq(h, four), vd_set(8.0), vd_set(16.0)),
                 vd_blend(vd_eq(h, one), four, two));
    const ff_vi g = vi_gather(g64, vd_to_vi(vd_sub(k, vd_set((double)FF_G_K32_MIN))));
    const ff_vd vbl = ff_rop_f32_lanes(g, vd_to_vi(vd_mul(cbl, scale)));
    const ff_vd vb = ff_rop_f32_lanes(g, vd_to_vi(vd_mul(cb, scale)));
    const ff_vd vbr = ff_rop_f32_lanes(g, vd_to_vi(vd_mul(cbr, scale)));

    /* Step 5: s = floor(v / 10**k); (s + 1/2) / 10 is at least 1/20 from an
     * integer, so multiplying by 0.1 floors exactly. */
    const ff_vd s = vd_floor(vd_mul(vb, vd_set(0.25)));
    const ff_vd sp = vd_floor(vd_mul(vd_add(s, vd_set(0.5)), vd_set(0.1)));

    /* Step 6: a multiple of 10**(k+1) inside the interval wins. */
    const ff_vd forty_sp = vd_mul(sp, vd_set(40.0));
    const ff_vm upin = vd_le(vd_add(vbl, out), forty_sp);
    const ff_vm wpin = vd_le(vd_add(vd_add(forty_sp, vd_set(40.0)), out), vbr);
    const ff_vm shorter = vm_or(upin, wpin);
    ff_vd d_short = vd_blend(wpin, sp, vd_add(sp, one));

    /* Step 7: otherwise the closer of s and t = s + 1 (ties to even). */
    const ff_vd t = vd_add(s, one), four_s = vd_mul(s, four);
    const ff_vm uin = vd_le(vd_add(vbl, out), four_s);
    const ff_vm win = vd_le(vd_add(vd_mul(t, four), out), vbr);
    const ff_vd mid = vd_add(four_s, two);
    const ff_vd s_odd = vd_sub(s, vd_mul(vd_floor(vd_mul(s, vd_set(0.5))), two));
    const ff_vm pick_s_tie = vm_or(vd_lt(vb, mid), vm_and(vd_eq(vb, mid), vd_eq(s_odd, zero)));
    const ff_vm pick_s = vm_or(vm_and(vm_and(uin, win), pick_s_tie), vm_and(uin, vm_not(win)));
    const ff_vd d_long = vd_blend(pick_s, t, s);

    /* Step 8: the shorter candidate may end in more zeros (at most 8). */
    ff_vd d = vd_blend(shorter, d_long, d_short);
    ff_vd e = vd_blend(shorter, k, vd_add(k, one));
    for (;;) {
        const ff_vd z = vd_floor(vd_mul(vd_add(d, vd_set(0.5)), vd_set(0.1)));
        const ff_vm strip = vm_and(shorter, vd_eq(vd_mul(z, ten), d));
        if (!vm_bits(strip)) break;
        d = vd_blend(strip, d, z);
        e = vd_blend(strip, e, vd_add(e, one));
    }
    *D = d;
    *E = e;
}

/* Decimal mode's N / M for float32 lanes from their shortest digits: with
 * P = 10**|E| (clamped), N = D P and M = 1 for E >= 0, N = D and M = P
 * otherwise. */
static inline void ff_value_decimal_f32_lanes(ff_vf xf, const uint64_t *g64, ff_vd *N, ff_vd *M) {
    ff_vd D, E;
    ff_shortest_f32_lanes(xf, g64, &D, &E);
    const ff_vd zero = vd_set(0.0);
    const ff_vm neg = vd_lt(E, zero);
    const ff_vd P = vd_lookup(FF_P10, vd_min(vd_abs(E), vd_set(16.0)));
    *N = vd_blend(neg, vd_mul(D, P), D);
    *M = vd_blend(neg, vd_set(1.0), P);
}

/* ff_shortest_f32 over an array, lane-parallel; zeros give digits 0,
 * exp10 0.  For tests and the decimal-mode helpers. */
void FF_NAME(ff_shortest_f32_batch)(const float *x, size_t n, uint64_t *digits, int32_t *exp10) {
    uint64_t g64[FF_G64_ROWS];
    ff_g64_rows(g64);
    for (size_t i = 0; i < n; i += FF_W) {
        const size_t count = n - i < FF_W ? n - i : FF_W;
        ff_vf xf;
        const ff_vd xd = vd_load_f32(x + i, count, &xf);
        ff_vd D, E;
        ff_shortest_f32_lanes(xf, g64, &D, &E);
        const ff_vm zero = vd_eq(xd, vd_set(0.0));
        double d[FF_W] __attribute__((aligned(64))), e[FF_W] __attribute__((aligned(64)));
        vd_store(d, vd_blend(zero, D, vd_set(0.0)));
        vd_store(e, vd_blend(zero, E, vd_set(0.0)));
        for (size_t k = 0; k < count; ++k) {
            digits[i + k] = (uint64_t)d[k];
            exp10[i + k] = (int32_t)e[k];
        }
    }
}

/* The rest of pass A, common to every source of x and of the bound: checks
 * the fast domain, parks slow lanes on 0 / 1, signs N and stores lane j. */
static inline void ff_stage(ff_block *b, size_t j, ff_vd xd, ff_vd N, ff_vd M, ff_vd md,
                            ff_vm slow) {
    const ff_vd two52 = vd_set(FF_TWO52);
    /* Written as "not (<=)" so that a NaN or inf in any of them is slow. */
    ff_vm fast = vm_and(vm_and(vd_le(N, two52), vd_le(M, two52)), vd_le(md, two52));
    ff_vd reach = vd_mul(vd_add(vd_div(N, M), vd_set(1.0)), md);
    fast = vm_and(fast, vd_lt(reach, vd_set(FF_TWO50)));
    slow = vm_or(slow, vm_not(fast));
    const size_t o = j * FF_W;
    const ff_vd zero = vd_set(0.0), one = vd_set(1.0);
    vd_store(b->N + o, vd_blend(slow, vd_copysign(N, xd), zero));
    vd_store(b->M + o, vd_blend(slow, M, one));
    vd_store(b->md + o, vd_blend(slow, md, one));
    b->slow[j] = (unsigned char)vm_bits(slow);
}

/* Pass A's value for lanes of x (count of them valid), either mode.  x == 0
 * is 0 / 1 in both modes (exact mode's M is inf there). */
static inline void ff_value_zero(ff_vd xd, ff_vd *N, ff_vd *M) {
    const ff_vm zero = vd_eq(xd, vd_set(0.0));
    *N = vd_blend(zero, *N, vd_set(0.0));
    *M = vd_blend(zero, *M, vd_set(1.0));
}
static inline void ff_value_f32(ff_vf xf, const uint64_t *g64, ff_mode mode, ff_vd xd, ff_vd *N,
                                ff_vd *M) {
    if (mode == FF_MODE_EXACT)
        ff_value_exact(vd_abs(xd), 23, N, M);
    else
        ff_value_decimal_f32_lanes(xf, g64, N, M);
    ff_value_zero(xd, N, M);
}
static inline void ff_value_f64(const double *x, size_t count, ff_mode mode, ff_vd xd, ff_vd *N,
                                ff_vd *M) {
    if (mode == FF_MODE_EXACT)
        ff_value_exact(vd_abs(xd), 52, N, M);
    else
        ff_value_decimal_f64(x, count, N, M);
    ff_value_zero(xd, N, M);
}

/* The bound of approximate from q = T(10**p) / |x| (as a double): floor(q)
 * clamped to [1, cap], 1 where x == 0.  cap_d is cap rounded to double; an
 * i64 cap rounds up to 2**63, which only ever makes the lane slow. */
static inline ff_vd ff_bound_from_q(ff_vd q, ff_vd xd, double cap_d) {
    ff_vd md = vd_min(vd_max(vd_floor(q), vd_set(1.0)), vd_set(cap_d));
    return vd_blend(vd_eq(xd, vd_set(0.0)), md, vd_set(1.0));
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
        ff_vd pv = vd_load(b->p + o), qv = vd_load(b->q + o);                                      \
        ff_vm in =                                                                                 \
            vm_and(vd_le(vd_set((double)(NUM_MIN)), pv), vd_le(pv, vd_set((double)(NUM_MAX))));    \
        unsigned bad = (b->slow[j] | (~vm_bits(in) & ((1u << FF_W) - 1))) &                        \
                       (count >= FF_W ? (1u << FF_W) - 1 : (1u << count) - 1);                     \
        vd_store_##IT(num, pv, count);                                                             \
        vd_store_##IT(den, qv, count);                                                             \
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
FF_DEFINE_EMIT(f32, i32, INT32_MIN, INT32_MAX)
FF_DEFINE_EMIT(f32, i64, INT64_MIN, INT64_MAX)
FF_DEFINE_EMIT(f64, i32, INT32_MIN, INT32_MAX)
FF_DEFINE_EMIT(f64, i64, INT64_MIN, INT64_MAX)

/* ---- the batch kernels -------------------------------------------------------- */

/* One driver for approximate (bounds == NULL: from p) and limit (explicit
 * bounds), per (float type, int type). */
#define FF_DEFINE_DRIVER(FT, IT, CAP)                                                              \
    static size_t ff_run_##FT##_##IT(const ff_##FT *x, const int64_t *bounds, size_t n, int p,     \
                                     ff_mode mode, ff_##IT *num, ff_##IT *den) {                   \
        ff_block blk __attribute__((aligned(64)));                                                 \
        const ff_##FT pow10 = (ff_##FT)(uint64_t)ff_pow10_u128(bounds ? 0 : p); /* T(10**p) */     \
        uint64_t g64[FF_G64_ROWS]; /* float32 decimal mode's scale factors */                      \
        if (mode == FF_MODE_DECIMAL) ff_g64_rows(g64);                                             \
        for (size_t start = 0; start < n; start += FF_BLOCK) {                                     \
            const size_t len = n - start < FF_BLOCK ? n - start : FF_BLOCK;                        \
            const size_t nvec =                                                                    \
                (len + FF_W * FF_INFLIGHT - 1) / (FF_W * FF_INFLIGHT) * FF_INFLIGHT;               \
            for (size_t j = 0; j < nvec; ++j) {                                                    \
                const size_t i = start + j * FF_W;                                                 \
                const size_t count = j * FF_W < len ? len - j * FF_W : 0;                          \
                FF_LOAD_X_##FT;                                                                    \
                ff_vd N, M, md;                                                                    \
                ff_vm slow = vd_lt(xd, xd); /* no lane */                                          \
                FF_VALUE_##FT;                                                                     \
                if (bounds)                                                                        \
                    md = vd_load_i64(bounds + i, count, &slow);                                    \
                else                                                                               \
                    md = ff_bound_from_q(FF_BOUND_Q_##FT, xd, (double)(CAP));                      \
                ff_stage(&blk, j, xd, N, M, md, slow);                                             \
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
 * bound, q = T(10**p) / |x| rounded in T. */
#define FF_LOAD_X_f32                                                                              \
    ff_vf xf;                                                                                      \
    ff_vd xd = vd_load_f32(x + i, count, &xf)
#define FF_BOUND_Q_f32 vf_bound(xf, pow10)
#define FF_VALUE_f32 ff_value_f32(xf, g64, mode, xd, &N, &M)
#define FF_VALUE_f64 ff_value_f64(x + i, count, mode, xd, &N, &M)
#define FF_LOAD_X_f64 ff_vd xd = vd_load_f64(x + i, count)
#define FF_BOUND_Q_f64 vd_div(vd_set(pow10), vd_abs(xd))

FF_DEFINE_DRIVER(f32, i32, FF_MAX_DEN_I32)
FF_DEFINE_DRIVER(f32, i64, FF_MAX_DEN_I64)
FF_DEFINE_DRIVER(f64, i32, FF_MAX_DEN_I32)
FF_DEFINE_DRIVER(f64, i64, FF_MAX_DEN_I64)

/* ---- to_float (ff_to_float.c is the reference) -------------------------------- */

/* 10**k for -30 <= k <= 30, each rounded to double, at FF_P10_ROUNDED[k + 30]. */
static const double FF_P10_ROUNDED[61] = {
    1e-30, 1e-29, 1e-28, 1e-27, 1e-26, 1e-25, 1e-24, 1e-23, 1e-22, 1e-21, 1e-20, 1e-19, 1e-18,
    1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9,  1e-8,  1e-7,  1e-6,  1e-5,
    1e-4,  1e-3,  1e-2,  1e-1,  1e0,   1e1,   1e2,   1e3,   1e4,   1e5,   1e6,   1e7,   1e8,
    1e9,   1e10,  1e11,  1e12,  1e13,  1e14,  1e15,  1e16,  1e17,  1e18,  1e19,  1e20,  1e21,
    1e22,  1e23,  1e24,  1e25,  1e26,  1e27,  1e28,  1e29,  1e30};

/* Python's round(v, digits - 1 - floor(log10|v|)) for the lanes where two
 * double-precision shortcuts are provably exact (ff_round_significant is
 * the reference); the others are flagged in *slow.
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
 *     (Clinger's fast path: N and 10**s exact), as in the reference. */
static inline ff_vd ff_round_digits(ff_vd v, double digits, ff_vm *slow) {
    const ff_vd zero = vd_set(0.0), one = vd_set(1.0), half = vd_set(0.5);
    const ff_vd ax = vd_abs(v);
    const ff_vd e2 = vd_ilogb(ax);
    ff_vm ok = vm_and(vd_le(vd_set(-90.0), e2), vd_le(e2, vd_set(90.0)));
    const ff_vd e2c = vd_blend(ok, zero, e2); /* keep the lookups in the table */
    const ff_vd c0 = vd_floor(vd_mul(e2c, vd_set(0.30102999566398120)));
    const ff_vd r = vd_div(ax, vd_lookup(FF_P10_ROUNDED + 30, vd_add(c0, one)));
    const ff_vm up = vd_le(one, r);
    const ff_vd c = vd_blend(up, c0, vd_add(c0, one));
    const ff_vd m = vd_blend(up, vd_mul(r, vd_set(10.0)), r); /* |v| / 10**c, in [1, 10) */
    ok = vm_and(ok, vm_and(vd_le(vd_set(1.0 + 1e-12), m), vd_le(m, vd_set(10.0 - 1e-11))));
    const ff_vd s = vd_sub(vd_set(digits - 1.0), c);
    ok = vm_and(ok, vm_and(vd_le(zero, s), vd_le(s, vd_set(22.0))));
    const ff_vd P = vd_lookup(FF_P10_ROUNDED + 30, vd_blend(ok, zero, s));
    const ff_vd hi = vd_mul(ax, P);
    const ff_vd lo = vd_fmadd(ax, P, vd_mul(hi, vd_set(-1.0)));
    ok = vm_and(ok, vd_lt(hi, vd_set(FF_TWO52)));
    const ff_vd fl = vd_floor(hi);
    const ff_vd side = vd_add(vd_sub(vd_sub(hi, fl), half), lo);
    const ff_vd odd = vd_sub(fl, vd_mul(vd_floor(vd_mul(fl, half)), vd_set(2.0)));
    const ff_vm round_up = vm_or(vd_lt(zero, side), vm_and(vd_eq(side, zero), vd_eq(odd, one)));
    const ff_vd N = vd_blend(round_up, fl, vd_add(fl, one));
    *slow = vm_or(*slow, vm_and(vm_not(ok), vd_ne(v, zero)));
    /* v == 0 stays v (either sign); a rounded 0 keeps v's sign as in Python. */
    return vd_blend(vd_eq(v, zero), vd_copysign(vd_div(N, P), v), v);
}

/* out[i] = num[i] / den[i] correctly rounded, then rounded to digits
 * significant digits when digits > 0: ff_to_float's contract. */
void FF_NAME(ff_to_float)(const int64_t *num, const int64_t *den, size_t n, int digits,
                          double *out) {
    assert(n == 0 || (num && den && out));
    for (size_t i = 0; i < n; i += FF_W) {
        const size_t count = n - i;
        ff_vm slow = vd_lt(vd_set(0.0), vd_set(0.0)); /* no lane */
        /* |num|, den < 2**51: exact doubles, and one division rounds once. */
        const ff_vd a = vd_load_i64(num + i, count, &slow);
        const ff_vd b = vd_load_i64(den + i, count, &slow);
        ff_vd v = vd_div(a, vd_blend(slow, b, vd_set(1.0)));
        if (digits > 0) v = ff_round_digits(v, (double)digits, &slow);
        vd_store_f64(out + i, v, count);
        unsigned bad = vm_bits(slow) & (count >= FF_W ? (1u << FF_W) - 1 : (1u << count) - 1);
        for (; bad; bad &= bad - 1) {
            const size_t k = i + (size_t)__builtin_ctz(bad);
            const double w = ff_ratio_to_f64(num[k], den[k]);
            out[k] = digits > 0 ? ff_round_significant(w, digits) : w;
        }
    }
}

#endif /* FF_SIMD_H */
