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

/* One instruction set's table, by field name: every kernel whose name ends
 * in _<ISA> (ff_kernels.h declares them). */
#define FF_TABLE(ISA)                                                                              \
    {                                                                                              \
        .approximate_f32_i32 = ff_approximate_f32_i32_##ISA,                                       \
        .approximate_f32_i64 = ff_approximate_f32_i64_##ISA,                                       \
        .approximate_f64_i32 = ff_approximate_f64_i32_##ISA,                                       \
        .approximate_f64_i64 = ff_approximate_f64_i64_##ISA,                                       \
        .limit_f32_i32 = ff_limit_f32_i32_##ISA,                                                   \
        .limit_f32_i64 = ff_limit_f32_i64_##ISA,                                                   \
        .limit_f64_i32 = ff_limit_f64_i32_##ISA,                                                   \
        .limit_f64_i64 = ff_limit_f64_i64_##ISA,                                                   \
        .approximate_f16_i32 = ff_approximate_f16_i32_##ISA,                                       \
        .approximate_f16_i64 = ff_approximate_f16_i64_##ISA,                                       \
        .approximate_bf16_i32 = ff_approximate_bf16_i32_##ISA,                                     \
        .approximate_bf16_i64 = ff_approximate_bf16_i64_##ISA,                                     \
        .limit_f16_i32 = ff_limit_f16_i32_##ISA,                                                   \
        .limit_f16_i64 = ff_limit_f16_i64_##ISA,                                                   \
        .limit_bf16_i32 = ff_limit_bf16_i32_##ISA,                                                 \
        .limit_bf16_i64 = ff_limit_bf16_i64_##ISA,                                                 \
        .to_float = ff_to_float_##ISA,                                                             \
        .shortest_f32 = ff_shortest_f32_batch_##ISA,                                               \
        .shortest_f64 = ff_shortest_f64_batch_##ISA,                                               \
        .shortest_f16 = ff_shortest_f16_batch_##ISA,                                               \
        .shortest_bf16 = ff_shortest_bf16_batch_##ISA,                                             \
        .fused_f32 = ff_fused_f32_##ISA,                                                           \
        .fused_f64 = ff_fused_f64_##ISA,                                                           \
        .fused_f16 = ff_fused_f16_##ISA,                                                           \
        .fused_bf16 = ff_fused_bf16_##ISA,                                                         \
        .to_planes = ff_i64_to_planes_##ISA,                                                       \
    }

/* ff_approximate_f32_i32_serial ... ff_fused_bf16_serial */
static const ff_kernel_table ff_serial_table = FF_TABLE(serial);
#ifdef FF_WITH_X86_SIMD
/* ff_approximate_f32_i32_avx2 ... ff_fused_bf16_avx2 */
static const ff_kernel_table ff_avx2_table = FF_TABLE(avx2);
/* ff_approximate_f32_i32_avx512 ... ff_fused_bf16_avx512 */
static const ff_kernel_table ff_avx512_table = FF_TABLE(avx512);
#endif

/* Indexed by ff_isa, worst to best; NULL where this build lacks the variant
 * (off x86 only serial is compiled at all). */
static const ff_kernel_table *const ff_tables[FF_ISA_COUNT] = {
    [FF_ISA_SERIAL] = &ff_serial_table,
#ifdef FF_WITH_X86_SIMD
    [FF_ISA_AVX2] = &ff_avx2_table,
    [FF_ISA_AVX512] = &ff_avx512_table,
#endif
};

static const char *const ff_isa_names[FF_ISA_COUNT] = {
    [FF_ISA_SERIAL] = "serial",
    [FF_ISA_AVX2] = "avx2",
    [FF_ISA_AVX512] = "avx512",
};

/* The selected instruction set, or -1 before the first use.  Atomic so that
 * two threads making the first call at once both read a whole value. */
static int ff_selected = -1;

unsigned ff_isa_available(void) {
    unsigned caps = 0;
    for (int isa = 0; isa < FF_ISA_COUNT; ++isa)
        if (ff_tables[isa] && (ff_cpu_caps() >> isa & 1u)) caps |= 1u << isa;
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
    return (unsigned)isa < FF_ISA_COUNT ? ff_isa_names[isa] : NULL;
}

const ff_kernel_table *ff_kernels(void) { return ff_tables[ff_isa_selected()]; }

#define FF_FORWARD_BATCH(FT, IT)                                                                   \
    size_t ff_approximate_##FT##_##IT(const ff_##FT *x, size_t n, int p, ff_mode mode,             \
                                      ff_##IT *num, ff_##IT *den) {                                \
        return ff_kernels()->approximate_##FT##_##IT(x, n, p, mode, num, den);                     \
    }                                                                                              \
    size_t ff_limit_##FT##_##IT(const ff_##FT *x, const int64_t *max_den, size_t n, ff_mode mode,  \
                                ff_##IT *num, ff_##IT *den) {                                      \
        return ff_kernels()->limit_##FT##_##IT(x, max_den, n, mode, num, den);                     \
    }

/* ff_approximate_f32_i32, ff_limit_f32_i32 */
FF_FORWARD_BATCH(f32, i32)
/* ff_approximate_f32_i64, ff_limit_f32_i64 */
FF_FORWARD_BATCH(f32, i64)
/* ff_approximate_f64_i32, ff_limit_f64_i32 */
FF_FORWARD_BATCH(f64, i32)
/* ff_approximate_f64_i64, ff_limit_f64_i64 */
FF_FORWARD_BATCH(f64, i64)
/* ff_approximate_f16_i32, ff_limit_f16_i32 */
FF_FORWARD_BATCH(f16, i32)
/* ff_approximate_f16_i64, ff_limit_f16_i64 */
FF_FORWARD_BATCH(f16, i64)
/* ff_approximate_bf16_i32, ff_limit_bf16_i32 */
FF_FORWARD_BATCH(bf16, i32)
/* ff_approximate_bf16_i64, ff_limit_bf16_i64 */
FF_FORWARD_BATCH(bf16, i64)

void ff_to_float(const int64_t *num, const int64_t *den, size_t n, int digits, double *out) {
    ff_kernels()->to_float(num, den, n, digits, out);
}

void ff_shortest_f32_batch(const float *x, size_t n, uint64_t *digits, int32_t *exp10) {
    ff_kernels()->shortest_f32(x, n, digits, exp10);
}

void ff_shortest_f64_batch(const double *x, size_t n, uint64_t *digits, int32_t *exp10) {
    ff_kernels()->shortest_f64(x, n, digits, exp10);
}

void ff_shortest_f16_batch(const uint16_t *x, size_t n, uint64_t *digits, int32_t *exp10) {
    ff_kernels()->shortest_f16(x, n, digits, exp10);
}

void ff_shortest_bf16_batch(const uint16_t *x, size_t n, uint64_t *digits, int32_t *exp10) {
    ff_kernels()->shortest_bf16(x, n, digits, exp10);
}

#define FF_FORWARD_FUSED(FT)                                                                       \
    void ff_fused_##FT(const ff_##FT *x, size_t n, int p, ff_mode mode, int digits, ff_##FT *y,    \
                       int64_t *num, int64_t *den, const ff_planes_out *planes,                    \
                       ff_fused_result *result) {                                                  \
        ff_kernels()->fused_##FT(x, n, p, mode, digits, y, num, den, planes, result);              \
    }

/* ff_fused_f32 */
FF_FORWARD_FUSED(f32)
/* ff_fused_f64 */
FF_FORWARD_FUSED(f64)
/* ff_fused_f16 */
FF_FORWARD_FUSED(f16)
/* ff_fused_bf16 */
FF_FORWARD_FUSED(bf16)

int ff_i64_to_planes(const int64_t *v, size_t n, int width, uint8_t *planes) {
    if (width != 1 && width != 2 && width != 4 && width != 8) return -1;
    ff_kernels()->to_planes(v, n, width, planes);
    return 0;
}
