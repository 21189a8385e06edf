/*
 * ff_simd_ops.h -- the vector primitives of ff_simd.h that are the same
 * operation on every instruction set, written once.
 *
 * Internal header, included by ff_avx2.c and ff_avx512.c after they define
 * their vector types (ff_vd, ff_vm, ff_vi) and two macros:
 *   FF_MM(op)            the intrinsic `op` at the file's width:
 *                        _mm256_##op or _mm512_##op;
 *   FF_CMP(a, b, pred)   the ordered compare of two ff_vd into an ff_vm
 *                        (a vector of all-ones lanes, or a k register).
 * The primitives that differ in more than the width (masks, rounding,
 * gathers, masked tails, integer conversions) stay in each file.
 */
#ifndef FF_SIMD_OPS_H
#define FF_SIMD_OPS_H

static inline ff_vd ff_vd_set(double v) { return FF_MM(set1_pd)(v); }
static inline ff_vd ff_vd_add(ff_vd a, ff_vd b) { return FF_MM(add_pd)(a, b); }
static inline ff_vd ff_vd_sub(ff_vd a, ff_vd b) { return FF_MM(sub_pd)(a, b); }
static inline ff_vd ff_vd_mul(ff_vd a, ff_vd b) { return FF_MM(mul_pd)(a, b); }
static inline ff_vd ff_vd_div(ff_vd a, ff_vd b) { return FF_MM(div_pd)(a, b); }
static inline ff_vd ff_vd_min(ff_vd a, ff_vd b) { return FF_MM(min_pd)(a, b); }
static inline ff_vd ff_vd_max(ff_vd a, ff_vd b) { return FF_MM(max_pd)(a, b); }
static inline ff_vd ff_vd_fmadd(ff_vd a, ff_vd b, ff_vd c) { return FF_MM(fmadd_pd)(a, b, c); }
static inline ff_vd ff_vd_fnmadd(ff_vd a, ff_vd b, ff_vd c) { return FF_MM(fnmadd_pd)(a, b, c); }
/* The magnitude's bits but the sign bit (or/and/andnot on 512 bits: AVX-512DQ). */
static inline ff_vd ff_vd_copysign(ff_vd mag, ff_vd sign) {
    const ff_vd s = ff_vd_set(-0.0);
    return FF_MM(or_pd)(FF_MM(andnot_pd)(s, mag), FF_MM(and_pd)(s, sign));
}

/* Ordered and quiet: a NaN compares false and raises nothing. */
static inline ff_vm ff_vd_lt(ff_vd a, ff_vd b) { return FF_CMP(a, b, _CMP_LT_OQ); }
static inline ff_vm ff_vd_le(ff_vd a, ff_vd b) { return FF_CMP(a, b, _CMP_LE_OQ); }
static inline ff_vm ff_vd_eq(ff_vd a, ff_vd b) { return FF_CMP(a, b, _CMP_EQ_OQ); }
static inline ff_vm ff_vd_ne(ff_vd a, ff_vd b) { return FF_CMP(a, b, _CMP_NEQ_OQ); }

static inline ff_vd ff_vd_load(const double *p) { return FF_MM(load_pd)(p); }
static inline void ff_vd_store(double *p, ff_vd v) { FF_MM(store_pd)(p, v); }

static inline ff_vi ff_vi_add(ff_vi a, ff_vi b) { return FF_MM(add_epi64)(a, b); }
static inline ff_vi ff_vi_sub(ff_vi a, ff_vi b) { return FF_MM(sub_epi64)(a, b); }
/* Macros: the shift count must be an immediate. */
#define ff_vi_srl(a, imm) FF_MM(srli_epi64)((a), (imm))
#define ff_vi_sll(a, imm) FF_MM(slli_epi64)((a), (imm))
/* Each lane shifted left by its own count (0 .. 63). */
static inline ff_vi ff_vi_sllv(ff_vi a, ff_vi count) { return FF_MM(sllv_epi64)(a, count); }
static inline ff_vi ff_vi_mul32(ff_vi a, ff_vi b) { return FF_MM(mul_epu32)(a, b); }

#endif /* FF_SIMD_OPS_H */
