/*
 * ff_dispatch.c -- the public batch entry points of fastfrac.h.
 *
 * Each bare name forwards to the variant chosen for this CPU.  Only the
 * serial variants exist so far, so the choice is fixed; faster variants
 * register here, best first, and the serial one stays the fallback.
 */
#include "ff_kernels.h"

#define FF_FORWARD_BATCH(FT, IT, ISA)                                                       \
    size_t ff_approximate_##FT##_##IT(const ff_##FT *x, size_t n, int p, ff_mode mode,       \
                                      ff_##IT *num, ff_##IT *den) {                          \
        return ff_approximate_##FT##_##IT##_##ISA(x, n, p, mode, num, den);                  \
    }                                                                                        \
    size_t ff_limit_##FT##_##IT(const ff_##FT *x, const int64_t *max_den, size_t n,          \
                                ff_mode mode, ff_##IT *num, ff_##IT *den) {                  \
        return ff_limit_##FT##_##IT##_##ISA(x, max_den, n, mode, num, den);                  \
    }

FF_FORWARD_BATCH(f32, i32, serial)
FF_FORWARD_BATCH(f32, i64, serial)
FF_FORWARD_BATCH(f64, i32, serial)
FF_FORWARD_BATCH(f64, i64, serial)
