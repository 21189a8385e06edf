/*
 * ff_avx512.c -- the AVX-512 variants: eight elements per vector.
 *
 * The reference is ff_serial.c: these kernels return exactly what its
 * serial twins return.  The algorithm itself is written once, lane-width
 * generic, in ff_simd.h, and the primitives that differ only in the
 * intrinsics' width prefix in ff_simd_ops.h; this file only says how each
 * other vector primitive maps to AVX-512 (F, DQ, VL; masks live in k
 * registers, so tails are masked loads and stores).  CMake compiles this file alone with
 * -mavx512f -mavx512dq -mavx512vl -mavx512bw -mavx2 -mfma -mf16c, and ff_dispatch.c
 * calls it only on CPUs (and operating systems) that run those.
 */
#include <immintrin.h>

#include "ff_common.h"

#define FF_ISA avx512
#define FF_W 8
/* Independent search chains in flight: enough to cover vdivpd's latency
 * (measured: 2 -> 4 chains is 1.5x faster, 6 or 8 gain nothing more). */
#ifndef FF_INFLIGHT
#define FF_INFLIGHT 4
#endif

typedef __m512d ff_vd;
typedef __mmask8 ff_vm;
typedef __m256 ff_vf;
typedef __m512i ff_vi;
typedef __m128i ff_vh; /* eight uint16 lanes */

/* The width-generic primitives (ff_simd_ops.h) at this file's width. */
#define FF_MM(op) _mm512_##op
#define FF_CMP(a, b, pred) _mm512_cmp_pd_mask((a), (b), (pred))
#include "ff_simd_ops.h"

/* Lanes 0 .. count-1 (all of them when count >= 8). */
static inline __mmask8 ff_tail(size_t count) {
    return count >= 8 ? (__mmask8)0xff : (__mmask8)((1u << count) - 1);
}

static inline ff_vd ff_vd_floor(ff_vd a) {
    return _mm512_roundscale_pd(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}
static inline ff_vd ff_vd_abs(ff_vd a) { return _mm512_abs_pd(a); }

static inline ff_vm ff_vm_and(ff_vm a, ff_vm b) { return (ff_vm)(a & b); }
static inline ff_vm ff_vm_or(ff_vm a, ff_vm b) { return (ff_vm)(a | b); }
static inline ff_vm ff_vm_not(ff_vm a) { return (ff_vm)~a; }
static inline unsigned ff_vm_bits(ff_vm m) { return (unsigned)m; }
static inline ff_vd ff_vd_blend(ff_vm m, ff_vd a, ff_vd b) { return _mm512_mask_blend_pd(m, a, b); }

static inline ff_vd ff_vf_to_vd(ff_vf xf) { return _mm512_cvtps_pd(xf); }
static inline ff_vd ff_vd_load_f32(const float *x, size_t count, ff_vf *xf) {
    *xf = _mm256_maskz_loadu_ps(ff_tail(count), x);
    return ff_vf_to_vd(*xf);
}
static inline ff_vh ff_vh_load(const uint16_t *x, size_t count) {
    return _mm_maskz_loadu_epi16(ff_tail(count), x);
}
static inline ff_vf ff_vh_f16_to_vf(ff_vh h) { return _mm256_cvtph_ps(h); }
static inline ff_vf ff_vh_bf16_to_vf(ff_vh h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
static inline ff_vi ff_vh_to_vi(ff_vh h) { return _mm512_cvtepu16_epi64(h); }
static inline ff_vd ff_vd_load_f64(const double *x, size_t count) {
    return _mm512_maskz_loadu_pd(ff_tail(count), x);
}
static inline ff_vd ff_vf_bound(ff_vf xf, float pow10) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    return _mm512_cvtps_pd(_mm256_div_ps(_mm256_set1_ps(pow10), _mm256_and_ps(xf, abs_mask)));
}
static inline ff_vd ff_vd_load_i64(const int64_t *b, size_t count, ff_vm *big) {
    const __m512i v = _mm512_maskz_loadu_epi64(ff_tail(count), b);
    *big = (ff_vm)(*big | _mm512_cmpge_epi64_mask(_mm512_abs_epi64(v),
                                                  _mm512_set1_epi64(INT64_C(1) << 51)));
    return _mm512_cvtepi64_pd(v);
}
static inline void ff_vd_store_f64(double *out, ff_vd v, size_t count) {
    _mm512_mask_storeu_pd(out, ff_tail(count), v);
}
/* 32 consecutive doubles of a table held in four registers, read with lane
 * indices 0..31: two vpermt2pd and a blend.  The two eight-lane gathers this
 * replaced in to_float's rounding took a third of its time on a Zen 4 core
 * (perf annotate); to_float with digits went from 4.7-5.8 to 4.1-4.2 ns per
 * value there (bench_isa). */
typedef struct {
    __m512d part[4];
} ff_vd_table32;
static inline ff_vd_table32 ff_vd_table32_load(const double *t) {
    const ff_vd_table32 r = {{_mm512_loadu_pd(t), _mm512_loadu_pd(t + 8), _mm512_loadu_pd(t + 16),
                              _mm512_loadu_pd(t + 24)}};
    return r;
}
static inline ff_vd ff_vd_table32_get(const ff_vd_table32 *t, ff_vd i) {
    const __m512i k = _mm512_cvttpd_epi64(i);
    const __m512d lo = _mm512_permutex2var_pd(t->part[0], k, t->part[1]);
    const __m512d hi = _mm512_permutex2var_pd(t->part[2], k, t->part[3]);
    return _mm512_mask_blend_pd(_mm512_test_epi64_mask(k, _mm512_set1_epi64(16)), lo, hi);
}
static inline void ff_vd_store_i32(int32_t *out, ff_vd v, size_t count) {
    _mm256_mask_storeu_epi32(out, ff_tail(count), _mm512_cvttpd_epi32(v));
}
static inline void ff_vd_store_i64(int64_t *out, ff_vd v, size_t count) {
    _mm512_mask_storeu_epi64(out, ff_tail(count), _mm512_cvttpd_epi64(v));
}
static inline ff_vd ff_vd_pow2_den(ff_vd ax, int mb) {
    /* getexp is floor(log2 ax) as a double; scalef gives inf past the range. */
    return _mm512_scalef_pd(ff_vd_set(1.0), ff_vd_sub(ff_vd_set((double)mb), _mm512_getexp_pd(ax)));
}

static inline ff_vd ff_vd_ilogb(ff_vd ax) { return _mm512_getexp_pd(ax); }
/* m ? a*b + c : a and m ? c - a*b : a, one merge-masked FMA each. */
static inline ff_vd ff_vd_fmadd_where(ff_vm m, ff_vd a, ff_vd b, ff_vd c) {
    return _mm512_mask_fmadd_pd(a, m, b, c);
}
static inline ff_vd ff_vd_fnmadd_where(ff_vm m, ff_vd a, ff_vd b, ff_vd c) {
    return _mm512_mask_fnmadd_pd(a, m, b, c);
}
/* a / b rounded toward -inf (embedded rounding: no MXCSR change), which
 * lets ff_floordiv skip its correction. */
#define FF_DIV_ROUNDS_DOWN 1
static inline ff_vd ff_vd_div_down(ff_vd a, ff_vd b) {
    return _mm512_div_round_pd(a, b, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}
static inline ff_vi ff_vi_f32_bits(ff_vf xf) {
    return _mm512_cvtepu32_epi64(_mm256_castps_si256(xf));
}
static inline ff_vi ff_vi_set(int64_t v) { return _mm512_set1_epi64(v); }
static inline ff_vi ff_vi_and(ff_vi a, ff_vi b) { return _mm512_and_si512(a, b); }
static inline ff_vi ff_vi_or(ff_vi a, ff_vi b) { return _mm512_or_si512(a, b); }
static inline ff_vi ff_vi_f64_bits(ff_vd x) { return _mm512_castpd_si512(x); }
/* Signed 64-bit compares, as masks. */
static inline ff_vm ff_vi_gt(ff_vi a, ff_vi b) { return _mm512_cmpgt_epi64_mask(a, b); }
static inline ff_vm ff_vi_eq(ff_vi a, ff_vi b) { return _mm512_cmpeq_epi64_mask(a, b); }
/* b where m, else a (as ff_vd_blend). */
static inline ff_vi ff_vi_blend(ff_vm m, ff_vi a, ff_vi b) { return _mm512_mask_blend_epi64(m, a, b); }
/* All eight lanes to 64-byte-aligned p. */
static inline void ff_vi_store(int64_t *p, ff_vi v) { _mm512_store_si512((void *)p, v); }
static inline ff_vi ff_vi_gather(const uint64_t *table, ff_vi i) {
    return _mm512_i64gather_epi64(i, (const void *)table, 8);
}
static inline ff_vd ff_vi_to_vd(ff_vi v) { return _mm512_cvtepi64_pd(v); }
static inline ff_vi ff_vd_to_vi(ff_vd v) { return _mm512_cvttpd_epi64(v); }
/* The eight int64 at v (all of them: callers handle tails). */
static inline ff_vi ff_vi_load(const int64_t *v) { return _mm512_loadu_si512((const void *)v); }
/* words[j] = byte j of every lane, lane k's at byte k: a shift and one
 * truncating narrow (vpmovqb) per plane. */
FF_INLINE void ff_vi_byte_planes(ff_vi x, uint64_t words[8]) {
    for (int j = 0; j < 8; ++j)
        words[j] = (uint64_t)_mm_cvtsi128_si64(_mm512_cvtepi64_epi8(_mm512_srli_epi64(x, 8 * j)));
}

#include "ff_simd.h"
