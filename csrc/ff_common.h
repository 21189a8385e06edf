/*
 * ff_common.h -- types and small helpers shared by the fastfrac C sources.
 *
 * Internal header: not installed, not part of the public API (fastfrac.h).
 */
#ifndef FF_COMMON_H
#define FF_COMMON_H

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "fastfrac.h"

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
#define FF_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define FF_INLINE static inline
#define FF_LIKELY(x) (x)
#define FF_UNLIKELY(x) (x)
#endif

/* The raw bits of a float / double (memcpy is the defined way to type-pun). */
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

/* Number of significant bits of v; 0 for v == 0. */
FF_INLINE int ff_bit_length_u64(uint64_t v) {
    return v ? 64 - __builtin_clzll(v) : 0;
}

FF_INLINE int ff_bit_length_u128(ff_u128 v) {
    uint64_t hi = (uint64_t)(v >> 64);
    return hi ? 64 + ff_bit_length_u64(hi) : ff_bit_length_u64((uint64_t)v);
}

/* 10**k as an unsigned 128-bit integer; requires 0 <= k <= 38
 * (10**38 < 2**127 is the largest power of ten that fits). */
ff_u128 ff_pow10_u128(int k);

#endif /* FF_COMMON_H */
