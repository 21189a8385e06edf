/*
 * ff_kernels.h -- the kernel variants behind each public batch entry point.
 *
 * Internal header.  A variant is named by what it computes, on which types,
 * for which instruction set: ff_approximate_f32_i32_serial is the plain C
 * reference of ff_approximate_f32_i32, ff_approximate_f32_i32_avx512 its
 * AVX-512 twin.  ff_dispatch.c fills one table of pointers per instruction
 * set and the bare public names call through the selected table.
 */
#ifndef FF_KERNELS_H
#define FF_KERNELS_H

#include "fastfrac.h"

/* Short type names, so that kernel names and their types line up. */
typedef float ff_f32;
typedef double ff_f64;
/* Half precision elements are their bit patterns (fastfrac.h). */
typedef uint16_t ff_f16;
typedef uint16_t ff_bf16;
typedef int32_t ff_i32;
typedef int64_t ff_i64;

/* Declares the approximate and limit variants of one instruction set:
 * ff_approximate_<FT>_<IT>_<ISA> and ff_limit_<FT>_<IT>_<ISA>. */
#define FF_DECLARE_BATCH(FT, IT, ISA)                                                              \
    size_t ff_approximate_##FT##_##IT##_##ISA(const ff_##FT *x, size_t n, int p, ff_mode mode,     \
                                              ff_##IT *num, ff_##IT *den);                         \
    size_t ff_limit_##FT##_##IT##_##ISA(const ff_##FT *x, const int64_t *max_den, size_t n,        \
                                        ff_mode mode, ff_##IT *num, ff_##IT *den);

/* Declares the fused chunk pass ff_fused_<FT>_<ISA> (ff_fused.c). */
#define FF_DECLARE_FUSED(FT, ISA)                                                                  \
    void ff_fused_##FT##_##ISA(const ff_##FT *x, size_t n, int p, ff_mode mode, int digits,        \
                               ff_##FT *y, int64_t *num, int64_t *den,                             \
                               const ff_planes_out *planes, ff_fused_result *result);

/* Declares every kernel of one instruction set: the sixteen batch kernels
 * above for (f32, f64, f16, bf16) x (i32, i64), ff_to_float_<ISA>,
 * ff_shortest_{f32,f16,bf16}_batch_<ISA>, ff_fused_{f32,f64,f16,bf16}_<ISA> and
 * ff_i64_to_planes_<ISA> (ff_i64_to_planes with a valid width). */
#define FF_DECLARE_ISA(ISA)                                                                        \
    FF_DECLARE_BATCH(f32, i32, ISA)                                                                \
    FF_DECLARE_BATCH(f32, i64, ISA)                                                                \
    FF_DECLARE_BATCH(f64, i32, ISA)                                                                \
    FF_DECLARE_BATCH(f64, i64, ISA)                                                                \
    FF_DECLARE_BATCH(f16, i32, ISA)                                                                \
    FF_DECLARE_BATCH(f16, i64, ISA)                                                                \
    FF_DECLARE_BATCH(bf16, i32, ISA)                                                               \
    FF_DECLARE_BATCH(bf16, i64, ISA)                                                               \
    void ff_to_float_##ISA(const int64_t *num, const int64_t *den, size_t n, int digits,           \
                           double *out);                                                           \
    /* ff_shortest_f32 (_f64, _f16, _bf16) of each element (zeros: 0 and 0). */                          \
    void ff_shortest_f32_batch_##ISA(const float *x, size_t n, uint64_t *digits, int32_t *exp10);  \
    void ff_shortest_f64_batch_##ISA(const double *x, size_t n, uint64_t *digits,                  \
                                     int32_t *exp10);                                              \
    void ff_shortest_f16_batch_##ISA(const uint16_t *x, size_t n, uint64_t *digits,                \
                                     int32_t *exp10);                                              \
    void ff_shortest_bf16_batch_##ISA(const uint16_t *x, size_t n, uint64_t *digits,               \
                                      int32_t *exp10);                                             \
    FF_DECLARE_FUSED(f32, ISA)                                                                     \
    FF_DECLARE_FUSED(f64, ISA)                                                                     \
    FF_DECLARE_FUSED(f16, ISA)                                                                     \
    FF_DECLARE_FUSED(bf16, ISA)                                                                    \
    void ff_i64_to_planes_##ISA(const int64_t *v, size_t n, int width, uint8_t *planes);

/* ff_approximate_f32_i32_serial ... ff_limit_bf16_i64_serial (ff_serial.c),
 * ff_to_float_serial (ff_to_float.c), ff_shortest_f32_batch_serial, ff_shortest_f64_batch_serial,
 * ff_shortest_f16_batch_serial, ff_shortest_bf16_batch_serial
 * (ff_shortest.c), ff_fused_f32_serial ... ff_fused_bf16_serial
 * (ff_fused.c), ff_i64_to_planes_serial (ff_planes.c): the reference for
 * every other variant. */
FF_DECLARE_ISA(serial)

/* ff_avx2.c and ff_avx512.c: CMake compiles them, and defines
 * FF_WITH_X86_SIMD, only for x86-64 targets with a GCC-compatible compiler. */
#ifdef FF_WITH_X86_SIMD
/* ff_approximate_f32_i32_avx2 ... ff_limit_bf16_i64_avx2, ff_to_float_avx2,
 * ff_shortest_f32_batch_avx2, ff_shortest_f64_batch_avx2, ff_shortest_f16_batch_avx2, ff_shortest_bf16_batch_avx2,
 * ff_fused_f32_avx2 ... ff_fused_bf16_avx2 (these four in ff_fused.c) */
FF_DECLARE_ISA(avx2)
/* ff_approximate_f32_i32_avx512 ... ff_limit_bf16_i64_avx512, ff_to_float_avx512,
 * ff_shortest_f32_batch_avx512, ff_shortest_f64_batch_avx512, ff_shortest_f16_batch_avx512,
 * ff_shortest_bf16_batch_avx512, ff_fused_f32_avx512 ... ff_fused_bf16_avx512
 * (these four in ff_fused.c) */
FF_DECLARE_ISA(avx512)
#endif

/* One instruction set's kernels. */
typedef struct ff_kernel_table {
    size_t (*approximate_f32_i32)(const float *, size_t, int, ff_mode, int32_t *, int32_t *);
    size_t (*approximate_f32_i64)(const float *, size_t, int, ff_mode, int64_t *, int64_t *);
    size_t (*approximate_f64_i32)(const double *, size_t, int, ff_mode, int32_t *, int32_t *);
    size_t (*approximate_f64_i64)(const double *, size_t, int, ff_mode, int64_t *, int64_t *);
    size_t (*limit_f32_i32)(const float *, const int64_t *, size_t, ff_mode, int32_t *, int32_t *);
    size_t (*limit_f32_i64)(const float *, const int64_t *, size_t, ff_mode, int64_t *, int64_t *);
    size_t (*limit_f64_i32)(const double *, const int64_t *, size_t, ff_mode, int32_t *, int32_t *);
    size_t (*limit_f64_i64)(const double *, const int64_t *, size_t, ff_mode, int64_t *, int64_t *);
    size_t (*approximate_f16_i32)(const uint16_t *, size_t, int, ff_mode, int32_t *, int32_t *);
    size_t (*approximate_f16_i64)(const uint16_t *, size_t, int, ff_mode, int64_t *, int64_t *);
    size_t (*approximate_bf16_i32)(const uint16_t *, size_t, int, ff_mode, int32_t *, int32_t *);
    size_t (*approximate_bf16_i64)(const uint16_t *, size_t, int, ff_mode, int64_t *, int64_t *);
    size_t (*limit_f16_i32)(const uint16_t *, const int64_t *, size_t, ff_mode, int32_t *,
                            int32_t *);
    size_t (*limit_f16_i64)(const uint16_t *, const int64_t *, size_t, ff_mode, int64_t *,
                            int64_t *);
    size_t (*limit_bf16_i32)(const uint16_t *, const int64_t *, size_t, ff_mode, int32_t *,
                             int32_t *);
    size_t (*limit_bf16_i64)(const uint16_t *, const int64_t *, size_t, ff_mode, int64_t *,
                             int64_t *);
    void (*to_float)(const int64_t *, const int64_t *, size_t, int, double *);
    void (*shortest_f32)(const float *, size_t, uint64_t *, int32_t *);
    void (*shortest_f64)(const double *, size_t, uint64_t *, int32_t *);
    void (*shortest_f16)(const uint16_t *, size_t, uint64_t *, int32_t *);
    void (*shortest_bf16)(const uint16_t *, size_t, uint64_t *, int32_t *);
    void (*fused_f32)(const float *, size_t, int, ff_mode, int, float *, int64_t *, int64_t *,
                      const ff_planes_out *, ff_fused_result *);
    void (*fused_f64)(const double *, size_t, int, ff_mode, int, double *, int64_t *, int64_t *,
                      const ff_planes_out *, ff_fused_result *);
    void (*fused_f16)(const uint16_t *, size_t, int, ff_mode, int, uint16_t *, int64_t *,
                      int64_t *, const ff_planes_out *, ff_fused_result *);
    void (*fused_bf16)(const uint16_t *, size_t, int, ff_mode, int, uint16_t *, int64_t *,
                       int64_t *, const ff_planes_out *, ff_fused_result *);
    void (*to_planes)(const int64_t *, size_t, int, uint8_t *);
} ff_kernel_table;

/* ff_shortest.c: the shortest digits of every float16 (bfloat16) bit
 * pattern b < FF_HALF_PATTERNS at [b], ff_half_pack'ed (zero: 0 and 0; inf
 * and NaN: 0), computed by ff_shortest_f16 (_bf16) on the first call, once
 * even when threads race to it.  The SIMD paths gather from it. */
const uint64_t *ff_half_digits_f16(void);
const uint64_t *ff_half_digits_bf16(void);

/* ff_cpu.c: bitmask of (1u << ff_isa) this CPU and OS can run (serial always). */
unsigned ff_cpu_caps(void);

/* ff_dispatch.c: the selected table (never NULL). */
const ff_kernel_table *ff_kernels(void);

#endif /* FF_KERNELS_H */
