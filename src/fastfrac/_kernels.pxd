# The C declarations of csrc/fastfrac.h that src/fastfrac/_core.pyx uses, and
# only those: the binding runs every batch through the threaded *_parallel
# drivers, so the bare-named batch kernels are not declared here.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint64_t

cdef extern from "fastfrac.h" nogil:
    ctypedef enum ff_mode:
        FF_MODE_DECIMAL
        FF_MODE_EXACT

    int FF_MAX_P_I32
    int FF_MAX_P_I64
    int64_t FF_MAX_DEN_I32
    int64_t FF_MAX_DEN_I64

    void ff_shortest_f64(double x, uint64_t *digits, int32_t *exp10)
    void ff_shortest_f32_batch(const float *x, size_t n, uint64_t *digits, int32_t *exp10)
    void ff_shortest_f64_batch(const double *x, size_t n, uint64_t *digits, int32_t *exp10)
    void ff_shortest_f16_batch(const uint16_t *x, size_t n, uint64_t *digits, int32_t *exp10)
    void ff_shortest_bf16_batch(const uint16_t *x, size_t n, uint64_t *digits, int32_t *exp10)

    void ff_max_denominator_f32(const float *x, size_t n, int p, int64_t cap, int64_t *out)
    void ff_max_denominator_f64(const double *x, size_t n, int p, int64_t cap, int64_t *out)
    void ff_max_denominator_f16(const uint16_t *x, size_t n, int p, int64_t cap, int64_t *out)
    void ff_max_denominator_bf16(const uint16_t *x, size_t n, int p, int64_t cap, int64_t *out)

    # instruction sets (ff_cpu.c, ff_dispatch.c)
    # Used only as an index 0 .. FF_ISA_COUNT - 1 (ff_isa_name names each).
    ctypedef enum ff_isa:
        pass
    int FF_ISA_COUNT
    unsigned ff_isa_available()
    ff_isa ff_isa_selected()
    int ff_isa_select(ff_isa isa)
    const char *ff_isa_name(ff_isa isa)

    # threaded drivers (ff_parallel.c)
    int ff_openmp_enabled()
    size_t ff_approximate_f32_i32_parallel(const float *x, size_t n, int p, ff_mode mode,
                                           int32_t *num, int32_t *den, int threads)
    size_t ff_approximate_f32_i64_parallel(const float *x, size_t n, int p, ff_mode mode,
                                           int64_t *num, int64_t *den, int threads)
    size_t ff_approximate_f64_i32_parallel(const double *x, size_t n, int p, ff_mode mode,
                                           int32_t *num, int32_t *den, int threads)
    size_t ff_approximate_f64_i64_parallel(const double *x, size_t n, int p, ff_mode mode,
                                           int64_t *num, int64_t *den, int threads)
    size_t ff_limit_f32_i32_parallel(const float *x, const int64_t *max_den, size_t n,
                                     ff_mode mode, int32_t *num, int32_t *den, int threads)
    size_t ff_limit_f32_i64_parallel(const float *x, const int64_t *max_den, size_t n,
                                     ff_mode mode, int64_t *num, int64_t *den, int threads)
    size_t ff_limit_f64_i32_parallel(const double *x, const int64_t *max_den, size_t n,
                                     ff_mode mode, int32_t *num, int32_t *den, int threads)
    size_t ff_limit_f64_i64_parallel(const double *x, const int64_t *max_den, size_t n,
                                     ff_mode mode, int64_t *num, int64_t *den, int threads)
    size_t ff_approximate_f16_i32_parallel(const uint16_t *x, size_t n, int p, ff_mode mode,
                                           int32_t *num, int32_t *den, int threads)
    size_t ff_approximate_f16_i64_parallel(const uint16_t *x, size_t n, int p, ff_mode mode,
                                           int64_t *num, int64_t *den, int threads)
    size_t ff_approximate_bf16_i32_parallel(const uint16_t *x, size_t n, int p, ff_mode mode,
                                            int32_t *num, int32_t *den, int threads)
    size_t ff_approximate_bf16_i64_parallel(const uint16_t *x, size_t n, int p, ff_mode mode,
                                            int64_t *num, int64_t *den, int threads)
    size_t ff_limit_f16_i32_parallel(const uint16_t *x, const int64_t *max_den, size_t n,
                                     ff_mode mode, int32_t *num, int32_t *den, int threads)
    size_t ff_limit_f16_i64_parallel(const uint16_t *x, const int64_t *max_den, size_t n,
                                     ff_mode mode, int64_t *num, int64_t *den, int threads)
    size_t ff_limit_bf16_i32_parallel(const uint16_t *x, const int64_t *max_den, size_t n,
                                      ff_mode mode, int32_t *num, int32_t *den, int threads)
    size_t ff_limit_bf16_i64_parallel(const uint16_t *x, const int64_t *max_den, size_t n,
                                      ff_mode mode, int64_t *num, int64_t *den, int threads)
    size_t ff_to_float_parallel(const int64_t *num, const int64_t *den, size_t n, int digits,
                                double *out, int threads)

    void ff_limit_bounded_f32(const float *x, const int64_t *max_den, const int64_t *max_num,
                              size_t n, ff_mode mode, int64_t *num, int64_t *den)
    void ff_limit_bounded_f64(const double *x, const int64_t *max_den, const int64_t *max_num,
                              size_t n, ff_mode mode, int64_t *num, int64_t *den)
    void ff_limit_bounded_f16(const uint16_t *x, const int64_t *max_den, const int64_t *max_num,
                              size_t n, ff_mode mode, int64_t *num, int64_t *den)
    void ff_limit_bounded_bf16(const uint16_t *x, const int64_t *max_den, const int64_t *max_num,
                               size_t n, ff_mode mode, int64_t *num, int64_t *den)

    # the fused chunk pass (ff_fused.c, ff_parallel.c)
    ctypedef enum ff_fused_status:
        FF_FUSED_OK
        FF_FUSED_NONFINITE
        FF_FUSED_OVERFLOW
    ctypedef struct ff_fused_result:
        ff_fused_status status
        size_t index
        double max_abs_error
        double max_rel_error
        uint64_t bits
        uint64_t num_any, num_magnitude, den_any
    ctypedef struct ff_planes_out:
        uint8_t *num
        uint8_t *den
        size_t stride
        int num_width, den_width
    void ff_fused_f32_parallel(const float *x, size_t n, int p, ff_mode mode, int digits,
                               float *y, int64_t *num, int64_t *den,
                               const ff_planes_out *planes, ff_fused_result *result, int threads)
    void ff_fused_f64_parallel(const double *x, size_t n, int p, ff_mode mode, int digits,
                               double *y, int64_t *num, int64_t *den,
                               const ff_planes_out *planes, ff_fused_result *result, int threads)
    void ff_fused_f16_parallel(const uint16_t *x, size_t n, int p, ff_mode mode, int digits,
                               uint16_t *y, int64_t *num, int64_t *den,
                               const ff_planes_out *planes, ff_fused_result *result, int threads)
    void ff_fused_bf16_parallel(const uint16_t *x, size_t n, int p, ff_mode mode, int digits,
                                uint16_t *y, int64_t *num, int64_t *den,
                                const ff_planes_out *planes, ff_fused_result *result, int threads)
    uint16_t ff_f64_to_f16(double v)
    uint16_t ff_f64_to_bf16(double v)

    # byte planes of integer frames (ff_planes.c)
    int ff_i64_narrowest(const int64_t *v, size_t n, int *is_signed)
    int ff_width_of_bits(uint64_t any, uint64_t magnitude, int *is_signed)
    int ff_i64_to_planes(const int64_t *v, size_t n, int width, uint8_t *planes)
    int ff_planes_to_i64(const uint8_t *planes, size_t n, int width, int is_signed, int64_t *out)
