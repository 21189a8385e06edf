/*
 * ff_avx2.c -- the AVX2 variants: four elements per vector.
 *
 * The reference is ff_serial.c: these kernels return exactly what its
 * serial twins return.  The algorithm itself is written once, lane-width
 * generic, in ff_simd.h, and the primitives that differ only in the
 * intrinsics' width prefix in ff_simd_ops.h; this file only says how each
 * other vector primitive maps to AVX2 + FMA (masks are all-ones lanes of
 * a vector; tails use vmaskmov loads and stores).  CMake compiles this file alone with
 * -mavx2 -mfma -mbmi2 -mf16c, and ff_dispatch.c calls it only on CPUs (and
 * operating systems) that run those.
 */
#include <immintrin.h>

#include "ff_common.h"

#define FF_ISA avx2
#define FF_W 4
/* Independent search chains in flight: four cover vdivpd's latency (some
 * state spills to L1, which costs less than an idle divider). */
#ifndef FF_INFLIGHT
#define FF_INFLIGHT 4
#endif

typedef __m256d ff_vd;
typedef __m256d ff_vm;
typedef __m128 ff_vf;
typedef __m256i ff_vi;
typedef __m128i ff_vh; /* four uint16 lanes, in the low 64 bits */

/* The width-generic primitives (ff_simd_ops.h) at this file's width. */
#define FF_MM(op) _mm256_##op
#define FF_CMP(a, b, pred) _mm256_cmp_pd((a), (b), (pred))
#include "ff_simd_ops.h"

/* All-ones in 64-bit lanes 0 .. count-1. */
static inline __m256i ff_tail64(size_t count) {
    const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(count < 4 ? count : 4)), lane);
}
/* All-ones in 32-bit lanes 0 .. count-1 of four. */
static inline __m128i ff_tail32(size_t count) {
    const __m128i lane = _mm_setr_epi32(0, 1, 2, 3);
    return _mm_cmpgt_epi32(_mm_set1_epi32((int)(count < 4 ? count : 4)), lane);
}

static inline ff_vd ff_vd_floor(ff_vd a) {
    return _mm256_round_pd(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}
static inline ff_vd ff_vd_abs(ff_vd a) { return _mm256_andnot_pd(ff_vd_set(-0.0), a); }

static inline ff_vm ff_vm_and(ff_vm a, ff_vm b) { return _mm256_and_pd(a, b); }
static inline ff_vm ff_vm_or(ff_vm a, ff_vm b) { return _mm256_or_pd(a, b); }
static inline ff_vm ff_vm_not(ff_vm a) {
    return _mm256_xor_pd(a, _mm256_castsi256_pd(_mm256_set1_epi64x(-1)));
}
static inline unsigned ff_vm_bits(ff_vm m) { return (unsigned)_mm256_movemask_pd(m); }
static inline ff_vd ff_vd_blend(ff_vm m, ff_vd a, ff_vd b) { return _mm256_blendv_pd(a, b, m); }

static inline ff_vd ff_vf_to_vd(ff_vf xf) { return _mm256_cvtps_pd(xf); }
static inline ff_vd ff_vd_load_f32(const float *x, size_t count, ff_vf *xf) {
    *xf = count >= 4 ? _mm_loadu_ps(x) : _mm_maskload_ps(x, ff_tail32(count));
    return ff_vf_to_vd(*xf);
}
/* Four uint16s in the low 64 bits; AVX2 has no 16-bit masked load, so a
 * tail goes through a zeroed copy. */
static inline ff_vh ff_vh_load(const uint16_t *x, size_t count) {
    if (count >= 4) return _mm_loadl_epi64((const __m128i *)(const void *)x);
    uint16_t part[4] = {0, 0, 0, 0};
    memcpy(part, x, count * sizeof *x);
    return _mm_loadl_epi64((const __m128i *)(const void *)part);
}
static inline ff_vf ff_vh_f16_to_vf(ff_vh h) { return _mm_cvtph_ps(h); }
static inline ff_vf ff_vh_bf16_to_vf(ff_vh h) {
    return _mm_castsi128_ps(_mm_slli_epi32(_mm_cvtepu16_epi32(h), 16));
}
static inline ff_vi ff_vh_to_vi(ff_vh h) { return _mm256_cvtepu16_epi64(h); }
static inline ff_vd ff_vd_load_f64(const double *x, size_t count) {
    return count >= 4 ? _mm256_loadu_pd(x) : _mm256_maskload_pd(x, ff_tail64(count));
}
static inline ff_vd ff_vf_bound(ff_vf xf, float pow10) {
    const __m128 abs_mask = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
    return _mm256_cvtps_pd(_mm_div_ps(_mm_set1_ps(pow10), _mm_and_ps(xf, abs_mask)));
}
/* int64 -> double without AVX-512DQ: for |v| < 2**51, the bits of
 * 1.5 * 2**52 plus v (as integers) are the double 1.5 * 2**52 + v. */
static inline ff_vd ff_vd_load_i64(const int64_t *b, size_t count, ff_vm *big) {
    const __m256i v = count >= 4 ? _mm256_loadu_si256((const __m256i *)b)
                                 : _mm256_maskload_epi64((const long long *)b, ff_tail64(count));
    const __m256i lim = _mm256_set1_epi64x(INT64_C(1) << 51);
    const __m256i out =
        _mm256_or_si256(_mm256_cmpgt_epi64(v, _mm256_sub_epi64(lim, _mm256_set1_epi64x(1))),
                        _mm256_cmpgt_epi64(_mm256_sub_epi64(_mm256_setzero_si256(), lim), v));
    *big = ff_vm_or(*big, _mm256_castsi256_pd(out));
    const ff_vd magic = ff_vd_set(6755399441055744.0); /* 1.5 * 2**52 */
    return ff_vd_sub(_mm256_castsi256_pd(_mm256_add_epi64(v, _mm256_castpd_si256(magic))), magic);
}
static inline void ff_vd_store_f64(double *out, ff_vd v, size_t count) {
    if (count >= 4)
        _mm256_storeu_pd(out, v);
    else
        _mm256_maskstore_pd(out, ff_tail64(count), v);
}
/* 32 consecutive doubles of a table, read with lane indices 0..31 (the
 * AVX-512 file holds them in registers; with four lanes a gather is kept). */
typedef struct {
    const double *base;
} ff_vd_table32;
static inline ff_vd_table32 ff_vd_table32_load(const double *t) {
    const ff_vd_table32 r = {t};
    return r;
}
static inline ff_vd ff_vd_table32_get(const ff_vd_table32 *t, ff_vd i) {
    return _mm256_i32gather_pd(t->base, _mm256_cvttpd_epi32(i), 8);
}
static inline void ff_vd_store_i32(int32_t *out, ff_vd v, size_t count) {
    const __m128i r = _mm256_cvttpd_epi32(v);
    if (count >= 4)
        _mm_storeu_si128((__m128i *)out, r);
    else
        _mm_maskstore_epi32((int *)out, ff_tail32(count), r);
}
/* double -> int64 without AVX-512DQ: for |v| < 2**51, v + 1.5 * 2**52 has
 * v's two's complement in its low bits. */
static inline void ff_vd_store_i64(int64_t *out, ff_vd v, size_t count) {
    const ff_vd magic = ff_vd_set(6755399441055744.0); /* 1.5 * 2**52 */
    const __m256i r =
        _mm256_sub_epi64(_mm256_castpd_si256(ff_vd_add(v, magic)), _mm256_castpd_si256(magic));
    if (count >= 4)
        _mm256_storeu_si256((__m256i *)out, r);
    else
        _mm256_maskstore_epi64((long long *)out, ff_tail64(count), r);
}
static inline ff_vd ff_vd_pow2_den(ff_vd ax, int mb) {
    /* The biased exponent of 2**(mb - e) is 2046 + mb - (e + 1023); capped at
     * 2046 (2**1023, far past 2**52) where it would overflow. */
    const __m256i biased = _mm256_srli_epi64(_mm256_castpd_si256(ax), 52);
    __m256i e = _mm256_sub_epi64(_mm256_set1_epi64x(2046 + mb), biased);
    e = _mm256_min_epi32(e, _mm256_set1_epi64x(2046)); /* lanes are small and >= 0 */
    return _mm256_castsi256_pd(_mm256_slli_epi64(e, 52));
}

/* m ? a*b + c : a and m ? c - a*b : a: AVX2 has no merge masking. */
static inline ff_vd ff_vd_fmadd_where(ff_vm m, ff_vd a, ff_vd b, ff_vd c) {
    return _mm256_blendv_pd(a, _mm256_fmadd_pd(a, b, c), m);
}
static inline ff_vd ff_vd_fnmadd_where(ff_vm m, ff_vd a, ff_vd b, ff_vd c) {
    return _mm256_blendv_pd(a, _mm256_fnmadd_pd(a, b, c), m);
}
/* AVX2 divides in the MXCSR rounding mode only (to nearest). */
#define FF_DIV_ROUNDS_DOWN 0

static inline ff_vd ff_vd_ilogb(ff_vd ax) {
    /* The biased exponent as the double 2**52 + biased, minus 2**52 + 1023. */
    const __m256i biased = _mm256_srli_epi64(_mm256_castpd_si256(ax), 52);
    const ff_vd two52 = ff_vd_set(4503599627370496.0);
    return ff_vd_sub(_mm256_castsi256_pd(_mm256_or_si256(biased, _mm256_castpd_si256(two52))),
                     ff_vd_set(4503599627370496.0 + 1023.0));
}

static inline ff_vi ff_vi_f32_bits(ff_vf xf) { return _mm256_cvtepu32_epi64(_mm_castps_si128(xf)); }
static inline ff_vi ff_vi_set(int64_t v) { return _mm256_set1_epi64x(v); }
static inline ff_vi ff_vi_and(ff_vi a, ff_vi b) { return _mm256_and_si256(a, b); }
static inline ff_vi ff_vi_or(ff_vi a, ff_vi b) { return _mm256_or_si256(a, b); }
static inline ff_vi ff_vi_f64_bits(ff_vd x) { return _mm256_castpd_si256(x); }
/* Signed 64-bit compares, as masks. */
static inline ff_vm ff_vi_gt(ff_vi a, ff_vi b) { return _mm256_castsi256_pd(_mm256_cmpgt_epi64(a, b)); }
static inline ff_vm ff_vi_eq(ff_vi a, ff_vi b) { return _mm256_castsi256_pd(_mm256_cmpeq_epi64(a, b)); }
/* b where m, else a (as ff_vd_blend). */
static inline ff_vi ff_vi_blend(ff_vm m, ff_vi a, ff_vi b) {
    return _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(a), _mm256_castsi256_pd(b), m));
}
/* All four lanes to 32-byte-aligned p. */
static inline void ff_vi_store(int64_t *p, ff_vi v) { _mm256_store_si256((__m256i *)(void *)p, v); }
static inline ff_vi ff_vi_gather(const uint64_t *table, ff_vi i) {
    return _mm256_i64gather_epi64((const long long *)table, i, 8);
}
/* 0 <= v < 2**52 both ways: v in the fraction field of 2**52. */
static inline ff_vd ff_vi_to_vd(ff_vi v) {
    const ff_vd two52 = ff_vd_set(4503599627370496.0);
    return ff_vd_sub(_mm256_castsi256_pd(_mm256_or_si256(v, _mm256_castpd_si256(two52))), two52);
}
static inline ff_vi ff_vd_to_vi(ff_vd v) {
    const ff_vd two52 = ff_vd_set(4503599627370496.0);
    return _mm256_xor_si256(_mm256_castpd_si256(ff_vd_add(v, two52)), _mm256_castpd_si256(two52));
}
/* The four int64 at v (all of them: callers handle tails). */
static inline ff_vi ff_vi_load(const int64_t *v) { return _mm256_loadu_si256((const __m256i *)v); }
/* words[j] = byte j of every lane, lane k's at byte k.  AVX2 has no
 * 64-to-8-bit narrow, so one byte shuffle pairs byte j of the two lanes in
 * each 128-bit half (16-bit unit j of the half), and interleaving the
 * halves' units puts byte j of all four lanes in 32-bit unit j (planes 0-3
 * from the low units, 4-7 from the high ones). */
FF_INLINE void ff_vi_byte_planes(ff_vi x, uint64_t words[8]) {
    const __m256i pairs = _mm256_shuffle_epi8(
        x, _mm256_setr_epi8(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15, 0, 8, 1, 9, 2,
                            10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
    const __m128i low = _mm256_castsi256_si128(pairs), high = _mm256_extracti128_si256(pairs, 1);
    const __m128i planes03 = _mm_unpacklo_epi16(low, high), planes47 = _mm_unpackhi_epi16(low, high);
    words[0] = (uint32_t)_mm_cvtsi128_si32(planes03);
    words[1] = (uint32_t)_mm_extract_epi32(planes03, 1);
    words[2] = (uint32_t)_mm_extract_epi32(planes03, 2);
    words[3] = (uint32_t)_mm_extract_epi32(planes03, 3);
    words[4] = (uint32_t)_mm_cvtsi128_si32(planes47);
    words[5] = (uint32_t)_mm_extract_epi32(planes47, 1);
    words[6] = (uint32_t)_mm_extract_epi32(planes47, 2);
    words[7] = (uint32_t)_mm_extract_epi32(planes47, 3);
}

#include "ff_simd.h"
