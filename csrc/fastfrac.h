/*
 * fastfrac.h -- public C API of the fastfrac kernels.
 *
 * fastfrac replaces every element x of a float array by the fraction that
 * CPython's Fraction(v).limit_denominator(max_den) returns, where v is either
 * the decimal NumPy prints for x (FF_MODE_DECIMAL) or x's exact binary value
 * (FF_MODE_EXACT).  The full specification lives at the top of ff_serial.c.
 *
 * This header is plain C99 (plus the GCC/Clang __int128 extension used inside
 * the implementation); nothing here depends on Python.
 *
 * Conventions shared by every batch entry point:
 *   - arrays are contiguous, n elements, and never aliased with each other;
 *   - inputs are finite (callers check for NaN and infinity first);
 *   - the return value is n when every numerator fits the output type, or
 *     else the index of the first element whose numerator does not (what the
 *     outputs hold from that index on is unspecified).
 */
#ifndef FASTFRAC_H
#define FASTFRAC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Which rational number an element stands for. */
typedef enum ff_mode {
    FF_MODE_DECIMAL = 0, /* the shortest round-trip decimal NumPy's str() prints */
    FF_MODE_EXACT = 1    /* the exact binary value, as Fraction(float(x)) */
} ff_mode;

/* Largest precision p accepted for each output type (10**p must stay below
 * the type's maximum denominator for the bound to mean anything). */
#define FF_MAX_P_I32 9
#define FF_MAX_P_I64 18

/* Largest denominator each output type can hold. */
#define FF_MAX_DEN_I32 INT64_C(2147483647)
#define FF_MAX_DEN_I64 INT64_C(9223372036854775807)

/* ---- shortest round-trip digits (ff_shortest.c) ------------------------ */

/* Writes |x| = digits * 10**exp10 with the fewest decimal digits that read
 * back as x in x's own type; among candidates of that length the one closest
 * to x, ties to an even last digit.  digits has no trailing zeros.
 * Requires x finite and nonzero (the sign is ignored). */
void ff_shortest_f32(float x, uint64_t *digits, int32_t *exp10);
void ff_shortest_f64(double x, uint64_t *digits, int32_t *exp10);
/* The same for the float16 (bfloat16) with bit pattern `bits`, rounding
 * back in float16 (bfloat16) itself; requires it finite and nonzero. */
void ff_shortest_f16(uint16_t bits, uint64_t *digits, int32_t *exp10);
void ff_shortest_bf16(uint16_t bits, uint64_t *digits, int32_t *exp10);

/* ff_shortest_f32 (ff_shortest_f64) of n elements, lane-parallel on the selected instruction
 * set (ff_isa_select); zeros of either sign give digits 0 and exp10 0.
 * Requires every x[i] finite.  Decimal mode's first step, on its own: for
 * tests, and for timing that step apart from the search. */
void ff_shortest_f32_batch(const float *x, size_t n, uint64_t *digits, int32_t *exp10);
void ff_shortest_f64_batch(const double *x, size_t n, uint64_t *digits, int32_t *exp10);
/* ff_shortest_f16 (ff_shortest_bf16) of n bit patterns likewise. */
void ff_shortest_f16_batch(const uint16_t *x, size_t n, uint64_t *digits, int32_t *exp10);
void ff_shortest_bf16_batch(const uint16_t *x, size_t n, uint64_t *digits, int32_t *exp10);

/* ---- the denominator bound (ff_serial.c) ------------------------------- */

/* floor(T(10**p) / |x|) evaluated in x's type T, clamped to [1, cap];
 * 1 when x == 0.  Requires 0 <= p <= FF_MAX_P_I64 and 1 <= cap. */
int64_t ff_max_den_f32(float x, int p, int64_t cap);
int64_t ff_max_den_f64(double x, int p, int64_t cap);
/* ff_max_den_f32 of the half value with bit pattern x, widened exactly to
 * float32 (in its own type float16 cannot even hold 10**5). */
int64_t ff_max_den_f16(uint16_t x, int p, int64_t cap);
int64_t ff_max_den_bf16(uint16_t x, int p, int64_t cap);

void ff_max_denominator_f32(const float *x, size_t n, int p, int64_t cap, int64_t *out);
void ff_max_denominator_f64(const double *x, size_t n, int p, int64_t cap, int64_t *out);
void ff_max_denominator_f16(const uint16_t *x, size_t n, int p, int64_t cap, int64_t *out);
void ff_max_denominator_bf16(const uint16_t *x, size_t n, int p, int64_t cap, int64_t *out);

/* ---- one element (ff_serial.c) ------------------------------------------ */

/* Best approximation of one element with denominator <= max_den
 * (1 <= max_den <= FF_MAX_DEN_I64).  Returns 0 and writes *num, *den when the
 * numerator lies in [num_min, num_max]; returns 1 otherwise. */
int ff_limit_f32(float x, int64_t max_den, ff_mode mode,
                 int64_t num_min, int64_t num_max, int64_t *num, int64_t *den);
int ff_limit_f64(double x, int64_t max_den, ff_mode mode,
                 int64_t num_min, int64_t num_max, int64_t *num, int64_t *den);
/* The same for the half value with bit pattern x (finite). */
int ff_limit_f16(uint16_t x, int64_t max_den, ff_mode mode,
                 int64_t num_min, int64_t num_max, int64_t *num, int64_t *den);
int ff_limit_bf16(uint16_t x, int64_t max_den, ff_mode mode,
                  int64_t num_min, int64_t num_max, int64_t *num, int64_t *den);

/* The closest fraction to each element with denominator <= max_den[i]
 * (>= 1) and |numerator| <= max_num[i] (0..FF_MAX_DEN_I64), in lowest terms;
 * among equally close ones the smaller denominator, then the smaller value
 * (CPython's limit_denominator when max_num does not bind).  Never an
 * overflow: every answer fits int64.  Serial on every instruction set (not a
 * hot path); the algorithm notes are in ff_serial.c. */
void ff_limit_bounded_f32(const float *x, const int64_t *max_den, const int64_t *max_num,
                          size_t n, ff_mode mode, int64_t *num, int64_t *den);
void ff_limit_bounded_f64(const double *x, const int64_t *max_den, const int64_t *max_num,
                          size_t n, ff_mode mode, int64_t *num, int64_t *den);
void ff_limit_bounded_f16(const uint16_t *x, const int64_t *max_den, const int64_t *max_num,
                          size_t n, ff_mode mode, int64_t *num, int64_t *den);
void ff_limit_bounded_bf16(const uint16_t *x, const int64_t *max_den, const int64_t *max_num,
                           size_t n, ff_mode mode, int64_t *num, int64_t *den);

/* ---- batch kernels: the bound from p (approximate) ----------------------- */

size_t ff_approximate_f32_i32(const float *x, size_t n, int p, ff_mode mode,
                              int32_t *num, int32_t *den);
size_t ff_approximate_f32_i64(const float *x, size_t n, int p, ff_mode mode,
                              int64_t *num, int64_t *den);
size_t ff_approximate_f64_i32(const double *x, size_t n, int p, ff_mode mode,
                              int32_t *num, int32_t *den);
size_t ff_approximate_f64_i64(const double *x, size_t n, int p, ff_mode mode,
                              int64_t *num, int64_t *den);
/* x: float16 (f16) or bfloat16 (bf16) bit patterns. */
size_t ff_approximate_f16_i32(const uint16_t *x, size_t n, int p, ff_mode mode,
                              int32_t *num, int32_t *den);
size_t ff_approximate_f16_i64(const uint16_t *x, size_t n, int p, ff_mode mode,
                              int64_t *num, int64_t *den);
size_t ff_approximate_bf16_i32(const uint16_t *x, size_t n, int p, ff_mode mode,
                               int32_t *num, int32_t *den);
size_t ff_approximate_bf16_i64(const uint16_t *x, size_t n, int p, ff_mode mode,
                               int64_t *num, int64_t *den);

/* ---- batch kernels: an explicit bound per element (limit_denominator) ---- */

/* max_den[i] must lie in [1, the output type's maximum denominator]. */
size_t ff_limit_f32_i32(const float *x, const int64_t *max_den, size_t n, ff_mode mode,
                        int32_t *num, int32_t *den);
size_t ff_limit_f32_i64(const float *x, const int64_t *max_den, size_t n, ff_mode mode,
                        int64_t *num, int64_t *den);
size_t ff_limit_f64_i32(const double *x, const int64_t *max_den, size_t n, ff_mode mode,
                        int32_t *num, int32_t *den);
size_t ff_limit_f64_i64(const double *x, const int64_t *max_den, size_t n, ff_mode mode,
                        int64_t *num, int64_t *den);
size_t ff_limit_f16_i32(const uint16_t *x, const int64_t *max_den, size_t n, ff_mode mode,
                        int32_t *num, int32_t *den);
size_t ff_limit_f16_i64(const uint16_t *x, const int64_t *max_den, size_t n, ff_mode mode,
                        int64_t *num, int64_t *den);
size_t ff_limit_bf16_i32(const uint16_t *x, const int64_t *max_den, size_t n, ff_mode mode,
                         int32_t *num, int32_t *den);
size_t ff_limit_bf16_i64(const uint16_t *x, const int64_t *max_den, size_t n, ff_mode mode,
                         int64_t *num, int64_t *den);

/* ---- back to floats (ff_to_float.c) -------------------------------------- */

/* num/den correctly rounded to the nearest double (ties to even).
 * Requires den > 0. */
double ff_ratio_to_f64(int64_t num, int64_t den);

/* Python's round(v, digits - 1 - floor(log10(|v|))) bit for bit, with
 * log10 from the C library; 0 (either sign) is returned as it is.
 * Requires v finite and digits >= 1. */
double ff_round_significant(double v, int digits);

/* out[i] = ff_ratio_to_f64(num[i], den[i]), then, when digits > 0,
 * ff_round_significant(out[i], digits), on the selected instruction set
 * like the batch kernels above.  Requires den[i] > 0. */
void ff_to_float(const int64_t *num, const int64_t *den, size_t n, int digits, double *out);

/* ---- the fused chunk pass (ff_fused.c) ------------------------------------ */

/* What one fused call found.  The statistics are those of the whole call
 * when status is FF_FUSED_OK, and unspecified otherwise. */
typedef enum ff_fused_status {
    FF_FUSED_OK = 0,        /* every element done */
    FF_FUSED_NONFINITE = 1, /* index: the first NaN or infinity */
    FF_FUSED_OVERFLOW = 2   /* index: the first numerator beyond int64 (x has no NaN or inf) */
} ff_fused_status;

typedef struct ff_fused_result {
    ff_fused_status status;
    size_t index;         /* n when status is FF_FUSED_OK */
    double max_abs_error; /* max |y - x|, y and x widened to double; 0 for n == 0 */
    double max_rel_error; /* max |y - x| / |x| over the x != 0 */
    uint64_t bits;        /* sum of bit_length(|num|) + 1 + bit_length(den) */
    /* The OR of every num, of every num ^ (num >> 63) and of every den (when
     * the fractions are wanted, else 0): ff_width_of_bits' arguments, so that
     * the fractions container knows their narrowest types without a pass. */
    uint64_t num_any, num_magnitude, den_any;
} ff_fused_result;

/* Where the fused pass can write the fractions as byte planes, the layout of
 * the fractions container (ff_i64_to_planes), instead of as int64 arrays:
 * byte j (little-endian) of the i-th numerator goes to num[j * stride + i]
 * for j < num_width, and likewise for the denominators.  Widths are 1, 2, 4
 * or 8 and the higher bytes are dropped, so the caller compares them with
 * the widths the result's ORs give (ff_width_of_bits) before using the
 * planes.  Each plane holds stride bytes; a call writes elements 0 .. n-1. */
typedef struct ff_planes_out {
    uint8_t *num, *den;
    size_t stride;
    int num_width, den_width;
} ff_planes_out;

/* One chunk of a tensor in one pass, the same as, element by element,
 *   ff_approximate_<FT>_i64 (bound of precision p, int64 fractions) ->
 *   ff_ratio_to_f64(num, den), then ff_round_significant(., digits) when
 *   digits > 0 -> y = that double rounded to x's type (to nearest, ties to
 *   even, straight from the double, as NumPy's and ml_dtypes' astype)
 * plus the statistics of ff_fused_result.  x may hold NaN and infinity
 * (they are reported, not computed); a NaN or infinity anywhere takes
 * precedence over an overflow, as a finiteness check before the
 * approximation would.  num and den are both NULL (not wanted) or both n
 * long; planes is NULL or where the fractions also go as byte planes (the
 * ORs of the result are computed when either is given).  y, num, den and
 * the planes hold unspecified values when status is not OK.
 * Requires 0 <= p <= FF_MAX_P_I64, digits >= 0 and x, y of n elements. */
void ff_fused_f32(const float *x, size_t n, int p, ff_mode mode, int digits, float *y,
                  int64_t *num, int64_t *den, const ff_planes_out *planes,
                  ff_fused_result *result);
void ff_fused_f64(const double *x, size_t n, int p, ff_mode mode, int digits, double *y,
                  int64_t *num, int64_t *den, const ff_planes_out *planes,
                  ff_fused_result *result);
/* x and y: float16 (f16) or bfloat16 (bf16) bit patterns. */
void ff_fused_f16(const uint16_t *x, size_t n, int p, ff_mode mode, int digits, uint16_t *y,
                  int64_t *num, int64_t *den, const ff_planes_out *planes,
                  ff_fused_result *result);
void ff_fused_bf16(const uint16_t *x, size_t n, int p, ff_mode mode, int digits, uint16_t *y,
                   int64_t *num, int64_t *den, const ff_planes_out *planes,
                   ff_fused_result *result);

/* The double v rounded to the nearest float16 (bfloat16) bit pattern, ties
 * to even, overflowing to infinity; NaN stays a (quiet) NaN. */
uint16_t ff_f64_to_f16(double v);
uint16_t ff_f64_to_bf16(double v);

/* ---- byte planes of integer frames (ff_planes.c) -------------------------- */

/* The width in bytes (1, 2, 4 or 8) of the narrowest integer type holding
 * every v[i]: unsigned when none is negative (*is_signed = 0), else signed
 * (*is_signed = 1).  1 and unsigned when n is 0. */
int ff_i64_narrowest(const int64_t *v, size_t n, int *is_signed);
/* The same from any = the OR of the values and magnitude = the OR of
 * v ^ (v >> 63) (v, or -v - 1 when negative), as ff_fused_result has them. */
int ff_width_of_bits(uint64_t any, uint64_t magnitude, int *is_signed);
/* planes[j*n + i] = byte j (little-endian) of v[i], for j < width (1, 2, 4 or
 * 8): v's values in a width-byte integer, shuffled into byte planes.  Every
 * v[i] must fit that integer type.  Returns 0, or -1 for another width. */
int ff_i64_to_planes(const int64_t *v, size_t n, int width, uint8_t *planes);
/* The inverse: out[i] is the width-byte integer whose bytes are planes[j*n + i],
 * sign-extended when is_signed.  Returns 0, or -1 for another width. */
int ff_planes_to_i64(const uint8_t *planes, size_t n, int width, int is_signed, int64_t *out);

/* ---- instruction sets (ff_cpu.c, ff_dispatch.c) --------------------------- */

/* The kernel variants.  Every bare-named batch entry point above
 * (ff_approximate_*, ff_limit_* over arrays, ff_to_float,
 * ff_shortest_{f32,f16,bf16}_batch and ff_fused_*) runs the selected one;
 * the internal variants carry the instruction set in their name
 * (ff_approximate_f32_i32_serial, _avx2, _avx512; ff_kernels.h).  The
 * per-element functions (ff_f64_to_f16 and _bf16 too) and the
 * ff_max_denominator_* loops over ff_max_den_* have no variants: they are
 * plain C everywhere.  All variants return identical results (the serial
 * one is the reference). */
typedef enum ff_isa {
    FF_ISA_SERIAL = 0, /* plain C, any CPU */
    FF_ISA_AVX2 = 1,   /* x86-64 with AVX2, FMA, BMI2 and F16C */
    FF_ISA_AVX512 = 2  /* x86-64 with AVX-512 F, DQ, BW and VL */
} ff_isa;
#define FF_ISA_COUNT 3

/* Bitmask of (1u << isa) for the variants this build has and this CPU and
 * operating system can run; the serial bit is always set. */
unsigned ff_isa_available(void);

/* The variant the batch entry points run now: the best available one until
 * ff_isa_select changes it. */
ff_isa ff_isa_selected(void);

/* Makes every batch entry point run isa.  Returns 0, or -1 (and changes
 * nothing) when isa is not available.  Not to be called while kernels run. */
int ff_isa_select(ff_isa isa);

/* "serial", "avx2", "avx512"; NULL for an unknown value. */
const char *ff_isa_name(ff_isa isa);

/* ---- threads (ff_parallel.c) ----------------------------------------------- */

/* 1 when the library was built with OpenMP, else 0 (then every *_parallel
 * call runs on the calling thread). */
int ff_openmp_enabled(void);

/* The batch entry points above, split into contiguous chunks run by up to
 * `threads` threads (>= 1).  Results, including the returned index of the
 * first overflow, are identical to the single-threaded call; small arrays
 * run on the calling thread. */
size_t ff_approximate_f32_i32_parallel(const float *x, size_t n, int p, ff_mode mode,
                                       int32_t *num, int32_t *den, int threads);
size_t ff_approximate_f32_i64_parallel(const float *x, size_t n, int p, ff_mode mode,
                                       int64_t *num, int64_t *den, int threads);
size_t ff_approximate_f64_i32_parallel(const double *x, size_t n, int p, ff_mode mode,
                                       int32_t *num, int32_t *den, int threads);
size_t ff_approximate_f64_i64_parallel(const double *x, size_t n, int p, ff_mode mode,
                                       int64_t *num, int64_t *den, int threads);
size_t ff_limit_f32_i32_parallel(const float *x, const int64_t *max_den, size_t n,
                                 ff_mode mode, int32_t *num, int32_t *den, int threads);
size_t ff_limit_f32_i64_parallel(const float *x, const int64_t *max_den, size_t n,
                                 ff_mode mode, int64_t *num, int64_t *den, int threads);
size_t ff_limit_f64_i32_parallel(const double *x, const int64_t *max_den, size_t n,
                                 ff_mode mode, int32_t *num, int32_t *den, int threads);
size_t ff_limit_f64_i64_parallel(const double *x, const int64_t *max_den, size_t n,
                                 ff_mode mode, int64_t *num, int64_t *den, int threads);
size_t ff_approximate_f16_i32_parallel(const uint16_t *x, size_t n, int p, ff_mode mode,
                                       int32_t *num, int32_t *den, int threads);
size_t ff_approximate_f16_i64_parallel(const uint16_t *x, size_t n, int p, ff_mode mode,
                                       int64_t *num, int64_t *den, int threads);
size_t ff_approximate_bf16_i32_parallel(const uint16_t *x, size_t n, int p, ff_mode mode,
                                        int32_t *num, int32_t *den, int threads);
size_t ff_approximate_bf16_i64_parallel(const uint16_t *x, size_t n, int p, ff_mode mode,
                                        int64_t *num, int64_t *den, int threads);
size_t ff_limit_f16_i32_parallel(const uint16_t *x, const int64_t *max_den, size_t n,
                                 ff_mode mode, int32_t *num, int32_t *den, int threads);
size_t ff_limit_f16_i64_parallel(const uint16_t *x, const int64_t *max_den, size_t n,
                                 ff_mode mode, int64_t *num, int64_t *den, int threads);
size_t ff_limit_bf16_i32_parallel(const uint16_t *x, const int64_t *max_den, size_t n,
                                  ff_mode mode, int32_t *num, int32_t *den, int threads);
size_t ff_limit_bf16_i64_parallel(const uint16_t *x, const int64_t *max_den, size_t n,
                                  ff_mode mode, int64_t *num, int64_t *den, int threads);

/* ff_fused_<FT> on up to `threads` threads; every field of the result is
 * the single-threaded call's (maxima and integer sums do not depend on the
 * order, the failure is the smallest index of its kind). */
void ff_fused_f32_parallel(const float *x, size_t n, int p, ff_mode mode, int digits, float *y,
                           int64_t *num, int64_t *den, const ff_planes_out *planes,
                           ff_fused_result *result, int threads);
void ff_fused_f64_parallel(const double *x, size_t n, int p, ff_mode mode, int digits, double *y,
                           int64_t *num, int64_t *den, const ff_planes_out *planes,
                           ff_fused_result *result, int threads);
void ff_fused_f16_parallel(const uint16_t *x, size_t n, int p, ff_mode mode, int digits,
                           uint16_t *y, int64_t *num, int64_t *den,
                           const ff_planes_out *planes, ff_fused_result *result, int threads);
void ff_fused_bf16_parallel(const uint16_t *x, size_t n, int p, ff_mode mode, int digits,
                            uint16_t *y, int64_t *num, int64_t *den,
                            const ff_planes_out *planes, ff_fused_result *result, int threads);

/* ff_to_float with threads, and checked: returns n, or the smallest i with
 * den[i] <= 0, in which case out is incomplete (it may not be used). */
size_t ff_to_float_parallel(const int64_t *num, const int64_t *den, size_t n, int digits,
                            double *out, int threads);

#ifdef __cplusplus
}
#endif

#endif /* FASTFRAC_H */
