/*
 * ff_dispatch.c -- the public batch entry points of fastfrac.h.
 *
 * One table of kernel pointers per instruction set; the first call (or
 * ff_isa_select) picks the best table this CPU can run, and every bare name
 * then calls through it.  Dispatch happens once per batch, never per
 * element.  The serial table is always there and is the fallback.
 */
#include <stddef.h>

#include "ff_kernels.h"

#define FF_TABLE(ISA, TO_FLOAT)                                                                    \
    {ff_approximate_f32_i32_##ISA, ff_approximate_f32_i64_##ISA, ff_approximate_f64_i32_##ISA,     \
     ff_approximate_f64_i64_##ISA, ff_limit_f32_i32_##ISA,       ff_limit_f32_i64_##ISA,           \
     ff_limit_f64_i32_##ISA,       ff_limit_f64_i64_##ISA,       TO_FLOAT,                         \
     ff_shortest_f32_batch_##ISA}

/* Indexed by ff_isa; NULL where this build lacks the variant. */
static const ff_kernel_table FF_SERIAL_TABLE = FF_TABLE(serial, ff_to_float);
#ifdef FF_WITH_X86_SIMD
static const ff_kernel_table FF_AVX2_TABLE = FF_TABLE(avx2, ff_to_float_avx2);
static const ff_kernel_table FF_AVX512_TABLE = FF_TABLE(avx512, ff_to_float_avx512);
static const ff_kernel_table *const FF_TABLES[FF_ISA_COUNT] = {&FF_SERIAL_TABLE, &FF_AVX2_TABLE,
                                                               &FF_AVX512_TABLE};
#else
static const ff_kernel_table *const FF_TABLES[FF_ISA_COUNT] = {&FF_SERIAL_TABLE, NULL, NULL};
#endif

static const char *const FF_ISA_NAMES[FF_ISA_COUNT] = {"serial", "avx2", "avx512"};

/* The selected instruction set, or -1 before the first use.  Atomic so that
 * two threads making the first call at once both read a whole value. */
static int ff_selected = -1;

unsigned ff_isa_available(void) {
    unsigned caps = 0;
    for (int isa = 0; isa < FF_ISA_COUNT; ++isa)
        if (FF_TABLES[isa] && (ff_cpu_caps() >> isa & 1u)) caps |= 1u << isa;
    return caps;
}

/* The best available instruction set: tables are ordered worst to best. */
static int ff_best(void) {
    unsigned caps = ff_isa_available();
    int best = FF_ISA_SERIAL;
    for (int isa = 0; isa < FF_ISA_COUNT; ++isa)
        if (caps >> isa & 1u) best = isa;
    return best;
}

ff_isa ff_isa_selected(void) {
    int isa = __atomic_load_n(&ff_selected, __ATOMIC_ACQUIRE);
    if (isa < 0) {
        isa = ff_best();
        __atomic_store_n(&ff_selected, isa, __ATOMIC_RELEASE);
    }
    return (ff_isa)isa;
}

int ff_isa_select(ff_isa isa) {
    if ((unsigned)isa >= FF_ISA_COUNT || !(ff_isa_available() >> isa & 1u)) return -1;
    __atomic_store_n(&ff_selected, (int)isa, __ATOMIC_RELEASE);
    return 0;
}

const char *ff_isa_name(ff_isa isa) {
    return (unsigned)isa < FF_ISA_COUNT ? FF_ISA_NAMES[isa] : NULL;
}

const ff_kernel_table *ff_kernels(void) { return FF_TABLES[ff_isa_selected()]; }

#define FF_FORWARD_BATCH(FT, IT)                                                                   \
    size_t ff_approximate_##FT##_##IT(const ff_##FT *x, size_t n, int p, ff_mode mode,             \
                                      ff_##IT *num, ff_##IT *den) {                                \
        return ff_kernels()->approximate_##FT##_##IT(x, n, p, mode, num, den);                     \
    }                                                                                              \
    size_t ff_limit_##FT##_##IT(const ff_##FT *x, const int64_t *max_den, size_t n, ff_mode mode,  \
                                ff_##IT *num, ff_##IT *den) {                                      \
        return ff_kernels()->limit_##FT##_##IT(x, max_den, n, mode, num, den);                     \
    }

FF_FORWARD_BATCH(f32, i32)
FF_FORWARD_BATCH(f32, i64)
FF_FORWARD_BATCH(f64, i32)
FF_FORWARD_BATCH(f64, i64)

void ff_shortest_f32_batch(const float *x, size_t n, uint64_t *digits, int32_t *exp10) {
    ff_kernels()->shortest_f32(x, n, digits, exp10);
}
