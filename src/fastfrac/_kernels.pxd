# C declarations of csrc/fastfrac.h, shared by the Cython modules.
from libc.stdint cimport int32_t, int64_t, uint64_t

cdef extern from "fastfrac.h" nogil:
    ctypedef enum ff_mode:
        FF_MODE_DECIMAL
        FF_MODE_EXACT

    int FF_MAX_P_I32
    int FF_MAX_P_I64
    int64_t FF_MAX_DEN_I32
    int64_t FF_MAX_DEN_I64

    void ff_shortest_f32(float x, uint64_t *digits, int32_t *exp10)
    void ff_shortest_f64(double x, uint64_t *digits, int32_t *exp10)

    void ff_max_denominator_f32(const float *x, size_t n, int p, int64_t cap, int64_t *out)
    void ff_max_denominator_f64(const double *x, size_t n, int p, int64_t cap, int64_t *out)

    size_t ff_approximate_f32_i32(const float *x, size_t n, int p, ff_mode mode,
                                  int32_t *num, int32_t *den)
    size_t ff_approximate_f32_i64(const float *x, size_t n, int p, ff_mode mode,
                                  int64_t *num, int64_t *den)
    size_t ff_approximate_f64_i32(const double *x, size_t n, int p, ff_mode mode,
                                  int32_t *num, int32_t *den)
    size_t ff_approximate_f64_i64(const double *x, size_t n, int p, ff_mode mode,
                                  int64_t *num, int64_t *den)

    size_t ff_limit_f32_i32(const float *x, const int64_t *max_den, size_t n, ff_mode mode,
                            int32_t *num, int32_t *den)
    size_t ff_limit_f32_i64(const float *x, const int64_t *max_den, size_t n, ff_mode mode,
                            int64_t *num, int64_t *den)
    size_t ff_limit_f64_i32(const double *x, const int64_t *max_den, size_t n, ff_mode mode,
                            int32_t *num, int32_t *den)
    size_t ff_limit_f64_i64(const double *x, const int64_t *max_den, size_t n, ff_mode mode,
                            int64_t *num, int64_t *den)

    void ff_to_float(const int64_t *num, const int64_t *den, size_t n, int digits, double *out)
