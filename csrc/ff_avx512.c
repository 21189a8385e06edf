/*
 * ff_avx512.c -- the AVX-512 variants: eight elements per vector.
 *
 * The reference is ff_serial.c: these kernels return exactly what its
 * serial twins return.  The algorithm itself is written once, lane-width
 * generic, in ff_simd.h; this file only says how each vector primitive maps
 * to AVX-512 (F, DQ, VL; masks live in k registers, so tails are masked
 * loads and stores).  CMake compiles this file alone with
 * -mavx512f -mavx512dq -mavx512vl -mavx512bw -mavx2 -mfma, and ff_dispatch.c
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

/* Lanes 0 .. count-1 (all of them when count >= 8). */
static inline __mmask8 ff_tail(size_t count) {
    return count >= 8 ? (__mmask8)0xff : (__mmask8)((1u << count) - 1);
}

static inline ff_vd vd_set(double v) { return _mm512_set1_pd(v); }
static inline ff_vd vd_add(ff_vd a, ff_vd b) { return _mm512_add_pd(a, b); }
static inline ff_vd vd_sub(ff_vd a, ff_vd b) { return _mm512_sub_pd(a, b); }
static inline ff_vd vd_mul(ff_vd a, ff_vd b) { return _mm512_mul_pd(a, b); }
static inline ff_vd vd_div(ff_vd a, ff_vd b) { return _mm512_div_pd(a, b); }
static inline ff_vd vd_floor(ff_vd a) {
    return _mm512_roundscale_pd(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}
static inline ff_vd vd_min(ff_vd a, ff_vd b) { return _mm512_min_pd(a, b); }
static inline ff_vd vd_max(ff_vd a, ff_vd b) { return _mm512_max_pd(a, b); }
static inline ff_vd vd_abs(ff_vd a) { return _mm512_abs_pd(a); }
static inline ff_vd vd_fmadd(ff_vd a, ff_vd b, ff_vd c) { return _mm512_fmadd_pd(a, b, c); }
static inline ff_vd vd_fnmadd(ff_vd a, ff_vd b, ff_vd c) { return _mm512_fnmadd_pd(a, b, c); }
static inline ff_vd vd_copysign(ff_vd mag, ff_vd sign) {
    const ff_vd s = vd_set(-0.0);
    return _mm512_or_pd(_mm512_andnot_pd(s, mag), _mm512_and_pd(s, sign)); /* AVX-512DQ */
}

static inline ff_vm vd_lt(ff_vd a, ff_vd b) { return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ); }
static inline ff_vm vd_le(ff_vd a, ff_vd b) { return _mm512_cmp_pd_mask(a, b, _CMP_LE_OQ); }
static inline ff_vm vd_eq(ff_vd a, ff_vd b) { return _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ); }
static inline ff_vm vd_ne(ff_vd a, ff_vd b) { return _mm512_cmp_pd_mask(a, b, _CMP_NEQ_OQ); }
static inline ff_vm vm_and(ff_vm a, ff_vm b) { return (ff_vm)(a & b); }
static inline ff_vm vm_or(ff_vm a, ff_vm b) { return (ff_vm)(a | b); }
static inline ff_vm vm_not(ff_vm a) { return (ff_vm)~a; }
static inline unsigned vm_bits(ff_vm m) { return (unsigned)m; }
static inline ff_vd vd_blend(ff_vm m, ff_vd a, ff_vd b) { return _mm512_mask_blend_pd(m, a, b); }

static inline ff_vd vd_load(const double *p) { return _mm512_load_pd(p); }
static inline void vd_store(double *p, ff_vd v) { _mm512_store_pd(p, v); }
static inline ff_vd vd_load_f32(const float *x, size_t count, ff_vf *xf) {
    *xf = _mm256_maskz_loadu_ps(ff_tail(count), x);
    return _mm512_cvtps_pd(*xf);
}
static inline ff_vd vd_load_f64(const double *x, size_t count) {
    return _mm512_maskz_loadu_pd(ff_tail(count), x);
}
static inline ff_vd vf_bound(ff_vf xf, float pow10) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    return _mm512_cvtps_pd(_mm256_div_ps(_mm256_set1_ps(pow10), _mm256_and_ps(xf, abs_mask)));
}
static inline ff_vd vd_load_i64(const int64_t *b, size_t count, ff_vm *big) {
    const __m512i v = _mm512_maskz_loadu_epi64(ff_tail(count), b);
    *big = (ff_vm)(*big | _mm512_cmpge_epi64_mask(_mm512_abs_epi64(v),
                                                  _mm512_set1_epi64(INT64_C(1) << 51)));
    return _mm512_cvtepi64_pd(v);
}
static inline void vd_store_f64(double *out, ff_vd v, size_t count) {
    _mm512_mask_storeu_pd(out, ff_tail(count), v);
}
static inline ff_vd vd_lookup(const double *table, ff_vd i) {
    return _mm512_i32gather_pd(_mm512_cvttpd_epi32(i), table, 8);
}
static inline void vd_store_i32(int32_t *out, ff_vd v, size_t count) {
    _mm256_mask_storeu_epi32(out, ff_tail(count), _mm512_cvttpd_epi32(v));
}
static inline void vd_store_i64(int64_t *out, ff_vd v, size_t count) {
    _mm512_mask_storeu_epi64(out, ff_tail(count), _mm512_cvttpd_epi64(v));
}
static inline ff_vd vd_pow2_den(ff_vd ax, int mb) {
    /* getexp is floor(log2 ax) as a double; scalef gives inf past the range. */
    return _mm512_scalef_pd(vd_set(1.0), vd_sub(vd_set((double)mb), _mm512_getexp_pd(ax)));
}

static inline ff_vd vd_ilogb(ff_vd ax) { return _mm512_getexp_pd(ax); }
static inline ff_vi vi_f32_bits(ff_vf xf) { return _mm512_cvtepu32_epi64(_mm256_castps_si256(xf)); }
static inline ff_vi vi_set(int64_t v) { return _mm512_set1_epi64(v); }
static inline ff_vi vi_add(ff_vi a, ff_vi b) { return _mm512_add_epi64(a, b); }
static inline ff_vi vi_and(ff_vi a, ff_vi b) { return _mm512_and_si512(a, b); }
#define vi_srl(a, imm) _mm512_srli_epi64((a), (imm))
static inline ff_vi vi_mul32(ff_vi a, ff_vi b) { return _mm512_mul_epu32(a, b); }
static inline ff_vi vi_gather(const uint64_t *table, ff_vi i) {
    return _mm512_i64gather_epi64(i, (const void *)table, 8);
}
static inline ff_vd vi_to_vd(ff_vi v) { return _mm512_cvtepi64_pd(v); }
static inline ff_vi vd_to_vi(ff_vd v) { return _mm512_cvttpd_epi64(v); }

#include "ff_simd.h"
