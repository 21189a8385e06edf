/*
 * ff_kernels.h -- the kernel variants behind each public batch entry point.
 *
 * Internal header.  A variant is named by what it computes, on which types,
 * for which instruction set: ff_approximate_f32_i32_serial is the plain C
 * reference of ff_approximate_f32_i32.  ff_dispatch.c picks the variant a
 * bare public name runs.
 */
#ifndef FF_KERNELS_H
#define FF_KERNELS_H

#include "fastfrac.h"

/* Short type names, so that kernel names and their types line up. */
typedef float ff_f32;
typedef double ff_f64;
typedef int32_t ff_i32;
typedef int64_t ff_i64;

/* Declares the approximate and limit variants of one instruction set. */
#define FF_DECLARE_BATCH(FT, IT, ISA)                                                      \
    size_t ff_approximate_##FT##_##IT##_##ISA(const ff_##FT *x, size_t n, int p,             \
                                              ff_mode mode, ff_##IT *num, ff_##IT *den);     \
    size_t ff_limit_##FT##_##IT##_##ISA(const ff_##FT *x, const int64_t *max_den, size_t n, \
                                        ff_mode mode, ff_##IT *num, ff_##IT *den);

/* ff_serial.c: the reference for every other variant. */
FF_DECLARE_BATCH(f32, i32, serial)
FF_DECLARE_BATCH(f32, i64, serial)
FF_DECLARE_BATCH(f64, i32, serial)
FF_DECLARE_BATCH(f64, i64, serial)

#endif /* FF_KERNELS_H */
