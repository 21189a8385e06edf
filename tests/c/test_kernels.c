/*
 * test_kernels.c -- every SIMD variant against the serial reference.
 *
 * For each instruction set this CPU runs (ff_isa_available), every batch
 * kernel and to_float (the bare ff_to_float and the threaded driver) must
 * return what the serial variant returns, element for element and bit for
 * bit, including the index of the first overflow.
 * Inputs: random weight-like values of several scales, log-uniform
 * magnitudes over each format's whole range, random bit patterns, and edge
 * families (zeros, subnormals, the largest floats, integers, halves, powers
 * of ten and their neighbours), at sizes that straddle the lane widths.
 * The threaded drivers are checked against one thread as well.  float16 and
 * bfloat16 run on every one of their finite bit patterns, and their bound
 * and exact mode are checked against float32's on the widened values.
 *
 * Usage: test_kernels [rounds]  (exit status 0 when everything matches).
 * Prints "N passed, N failed" at the end.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastfrac.h"

static unsigned long long g_checks, g_failures;

/* xorshift64*: a fixed-seed generator, so that a failure reproduces. */
static uint64_t g_state = UINT64_C(0x9e3779b97f4a7c15);
static uint64_t rnd(void) {
    g_state ^= g_state >> 12;
    g_state ^= g_state << 25;
    g_state ^= g_state >> 27;
    return g_state * UINT64_C(2685821657736338717);
}
static double uniform(void) { return (double)(rnd() >> 11) * 0x1p-53; }
static double normal(void) {
    double u = uniform() + 0x1p-60, v = uniform();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        ++g_checks;                                                                                \
        if (!(cond)) {                                                                             \
            if (++g_failures <= 30) {                                                              \
                printf("FAIL %s:%d: ", __FILE__, __LINE__);                                        \
                printf(__VA_ARGS__);                                                               \
                printf("\n");                                                                      \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* ---- input families ---------------------------------------------------------- */

enum { N_MAX = 4096 };

/* Fills x[0..n) with family `fam` as doubles (converted to each type later). */
static void fill(double *x, size_t n, int fam) {
    static const double specials[] = {0.0,
                                      -0.0,
                                      0.5,
                                      -0.5,
                                      1.0,
                                      -1.0,
                                      0.1,
                                      0.25,
                                      1.5,
                                      2.5,
                                      3.141592653589793,
                                      1e-3,
                                      1e-7,
                                      1e-9,
                                      1e-12,
                                      123456789.0,
                                      2147483647.0,
                                      2147483648.0,
                                      -2147483649.0,
                                      4e9,
                                      1e15,
                                      9007199254740993.0,
                                      1e16,
                                      1e19,
                                      1e30,
                                      1e-30,
                                      1e-45,
                                      1e-310};
    for (size_t i = 0; i < n; ++i) {
        double s = (rnd() & 1) ? -1.0 : 1.0;
        switch (fam) {
        case 0:
            x[i] = 0.05 * normal();
            break; /* weights */
        case 1:
            x[i] = (rnd() & 1 ? 1e-3 : 1.0) * normal();
            break; /* other scales */
        case 2:
            x[i] = s * pow(10.0, -12.0 + 16.0 * uniform());
            break; /* log-uniform */
        case 3:
            x[i] = s * pow(2.0, -1080.0 + 2100.0 * uniform());
            break; /* whole f64 range */
        case 4:
            x[i] = s * (double)(rnd() % 200) / (double)(1 + rnd() % 64);
            break; /* ratios */
        case 5:
            x[i] = specials[rnd() % (sizeof specials / sizeof *specials)] * s;
            break;
        case 6:
            x[i] = s * round(pow(10.0, 8.0 * uniform())) / pow(10.0, (double)(rnd() % 12));
            break;
        default: { /* neighbours of powers of ten */
            double v = pow(10.0, (double)((int)(rnd() % 40) - 20));
            int k = (int)(rnd() % 5) - 2;
            for (; k > 0; --k) v = nextafter(v, INFINITY);
            for (; k < 0; ++k) v = nextafter(v, 0.0);
            x[i] = s * v;
        }
        }
    }
}
#define N_FAMILIES 8

/* Random bit patterns: every finite value is fair game. */
static void fill_bits_f32(float *x, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        uint32_t b;
        do b = (uint32_t)rnd();
        while (((b >> 23) & 0xff) == 0xff);
        memcpy(&x[i], &b, sizeof b);
    }
}
static void fill_bits_f64(double *x, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        uint64_t b;
        do b = rnd();
        while (((b >> 52) & 0x7ff) == 0x7ff);
        memcpy(&x[i], &b, sizeof b);
    }
}

/* ---- comparing one kernel on one input --------------------------------------- */

static const char *MODE_NAMES[2] = {"decimal", "exact"};

/* Runs KERNEL(ARGS..., num, den) under the selected isa and under serial and
 * compares returns and the outputs before the first overflow. */
#define DEFINE_COMPARE(FT, IT, CT, ICT)                                                            \
    static void compare_##FT##_##IT(ff_isa isa, const CT *x, const int64_t *bounds, size_t n,      \
                                    int p, ff_mode mode, const char *what) {                       \
        static ICT num_a[N_MAX], den_a[N_MAX], num_b[N_MAX], den_b[N_MAX];                         \
        size_t ra, rb;                                                                             \
        memset(num_a, 0x5a, sizeof num_a);                                                         \
        memset(den_a, 0x5a, sizeof den_a);                                                         \
        ff_isa_select(FF_ISA_SERIAL);                                                              \
        rb = bounds ? ff_limit_##FT##_##IT(x, bounds, n, mode, num_b, den_b)                       \
                    : ff_approximate_##FT##_##IT(x, n, p, mode, num_b, den_b);                     \
        ff_isa_select(isa);                                                                        \
        ra = bounds ? ff_limit_##FT##_##IT(x, bounds, n, mode, num_a, den_a)                       \
                    : ff_approximate_##FT##_##IT(x, n, p, mode, num_a, den_a);                     \
        CHECK(ra == rb, "%s %s " #FT "_" #IT " %s p=%d n=%zu: returned %zu, serial %zu",           \
              ff_isa_name(isa), bounds ? "limit" : "approximate", MODE_NAMES[mode], p, n, ra, rb); \
        size_t bad = 0;                                                                            \
        for (size_t i = 0; i < rb && i < ra; ++i) {                                                \
            if (num_a[i] == num_b[i] && den_a[i] == den_b[i]) continue;                            \
            if (bad++ < 3)                                                                         \
                CHECK(0,                                                                           \
                      "%s %s %s " #FT "_" #IT " %s p=%d: x=%.17g bound=%lld: %lld/%lld, "          \
                      "serial %lld/%lld",                                                          \
                      what, ff_isa_name(isa), bounds ? "limit" : "approximate", MODE_NAMES[mode],  \
                      p, (double)x[i], bounds ? (long long)bounds[i] : -1LL, (long long)num_a[i],  \
                      (long long)den_a[i], (long long)num_b[i], (long long)den_b[i]);              \
        }                                                                                          \
        CHECK(bad == 0, "%s: %zu mismatches", what, bad);                                          \
        /* The threaded driver equals one thread (and the serial kernel). */                       \
        if (n == N_MAX) {                                                                          \
            ra = bounds ? ff_limit_##FT##_##IT##_parallel(x, bounds, n, mode, num_a, den_a, 3)     \
                        : ff_approximate_##FT##_##IT##_parallel(x, n, p, mode, num_a, den_a, 3);   \
            CHECK(ra == rb, "parallel returned %zu, serial %zu", ra, rb);                          \
            CHECK(memcmp(num_a, num_b, rb * sizeof(ICT)) == 0 &&                                   \
                      memcmp(den_a, den_b, rb * sizeof(ICT)) == 0,                                 \
                  "parallel differs");                                                             \
        }                                                                                          \
    }
DEFINE_COMPARE(f32, i32, float, int32_t)
DEFINE_COMPARE(f32, i64, float, int64_t)
DEFINE_COMPARE(f64, i32, double, int32_t)
DEFINE_COMPARE(f64, i64, double, int64_t)
DEFINE_COMPARE(f16, i32, uint16_t, int32_t)
DEFINE_COMPARE(f16, i64, uint16_t, int64_t)
DEFINE_COMPARE(bf16, i32, uint16_t, int32_t)
DEFINE_COMPARE(bf16, i64, uint16_t, int64_t)

/* Random bounds: log-uniform up to cap, a quarter of them small. */
static void fill_bounds(int64_t *b, size_t n, int64_t cap) {
    for (size_t i = 0; i < n; ++i) {
        if (rnd() % 4 == 0) {
            b[i] = 1 + (int64_t)(rnd() % 200);
        } else {
            double v = floor(pow(2.0, uniform() * log2((double)cap)));
            b[i] = v >= (double)cap ? cap : (v < 1 ? 1 : (int64_t)v);
        }
    }
}

static const size_t SIZES[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 1000, N_MAX};
#define N_SIZES (sizeof SIZES / sizeof *SIZES)

static void test_batches(ff_isa isa) {
    static double xd[N_MAX];
    static float xf[N_MAX];
    static int64_t b32[N_MAX], b64[N_MAX];
    for (int fam = 0; fam <= N_FAMILIES; ++fam) {
        for (size_t si = 0; si < N_SIZES; ++si) {
            const size_t n = SIZES[si];
            if (fam == N_FAMILIES) {
                fill_bits_f64(xd, n);
                fill_bits_f32(xf, n);
            } else {
                fill(xd, n, fam);
                for (size_t i = 0; i < n; ++i) xf[i] = (float)xd[i];
            }
            fill_bounds(b32, n, FF_MAX_DEN_I32);
            fill_bounds(b64, n, FF_MAX_DEN_I64);
            char what[64];
            snprintf(what, sizeof what, "family %d n=%zu", fam, n);
            for (int mode = 0; mode < 2; ++mode) {
                for (int p = 0; p <= FF_MAX_P_I64; ++p) {
                    /* every p on the big size, a few on the others */
                    if (n != N_MAX && p != 0 && p != 2 && p != 4 && p != 9) continue;
                    if (p <= FF_MAX_P_I32) {
                        compare_f32_i32(isa, xf, NULL, n, p, (ff_mode)mode, what);
                        compare_f64_i32(isa, xd, NULL, n, p, (ff_mode)mode, what);
                    }
                    compare_f32_i64(isa, xf, NULL, n, p, (ff_mode)mode, what);
                    compare_f64_i64(isa, xd, NULL, n, p, (ff_mode)mode, what);
                }
                compare_f32_i32(isa, xf, b32, n, 0, (ff_mode)mode, what);
                compare_f64_i32(isa, xd, b32, n, 0, (ff_mode)mode, what);
                compare_f32_i64(isa, xf, b64, n, 0, (ff_mode)mode, what);
                compare_f64_i64(isa, xd, b64, n, 0, (ff_mode)mode, what);
            }
        }
    }
}

/* ---- to_float ------------------------------------------------------------------- */

/* A den <= 0 anywhere is reported at its first position, whatever the thread
 * count and wherever the chunks are cut (the array is long enough for the
 * threaded driver to split it). */
static void test_to_float_refusal(ff_isa isa) {
    enum { N_LONG = 100003 };
    static int64_t num[N_LONG], den[N_LONG];
    static double out[N_LONG];
    ff_isa_select(isa);
    for (size_t i = 0; i < N_LONG; ++i) num[i] = 1, den[i] = 3;
    const size_t firsts[] = {0, 1, 7, 16383, 16384, 50000, N_LONG - 1};
    for (size_t k = 0; k < sizeof firsts / sizeof *firsts; ++k) {
        const size_t at = firsts[k];
        den[at] = k & 1 ? 0 : INT64_MIN;
        if (at + 5 < N_LONG) den[at + 5] = -1; /* a later one must not win */
        for (int threads = 1; threads <= 3; threads += 2) {
            const size_t got = ff_to_float_parallel(num, den, N_LONG, 0, out, threads);
            CHECK(got == at, "%s to_float: den <= 0 at %zu reported at %zu (%d threads)",
                  ff_isa_name(isa), at, got, threads);
        }
        den[at] = 3;
        if (at + 5 < N_LONG) den[at + 5] = 3;
    }
    CHECK(ff_to_float_parallel(num, den, N_LONG, 0, out, 3) == N_LONG, "valid input refused");
}

static void test_to_float(ff_isa isa) {
    static int64_t num[N_MAX], den[N_MAX];
    static double a[N_MAX], b[N_MAX];
    for (int fam = 0; fam < 6; ++fam) {
        for (size_t si = 0; si < N_SIZES; ++si) {
            const size_t n = SIZES[si];
            for (size_t i = 0; i < n; ++i) {
                int64_t s = (rnd() & 1) ? -1 : 1;
                switch (fam) {
                case 0:
                    num[i] = s * (int64_t)(rnd() % 100);
                    den[i] = 1 + (int64_t)(rnd() % 100000);
                    break;
                case 1:
                    num[i] = s * (int64_t)(rnd() % 10000000);
                    den[i] = 1 + (int64_t)(rnd() % 1000000000);
                    break;
                case 2:
                    num[i] = s * (int64_t)(rnd() >> 1);
                    den[i] = 1 + (int64_t)(rnd() >> 1);
                    break;
                case 3:
                    num[i] = s * (int64_t)(rnd() >> (rnd() % 64));
                    den[i] = 1 + (int64_t)(rnd() >> (1 + rnd() % 63));
                    break;
                case 4: { /* near powers of ten and halfway cases */
                    int64_t p10 = 1;
                    for (int k = (int)(rnd() % 12); k > 0; --k) p10 *= 10;
                    num[i] = s * (p10 + (int64_t)(rnd() % 5) - 2);
                    den[i] = rnd() & 1 ? 1 : (int64_t)(2 * (1 + rnd() % 8) * 5);
                    break;
                }
                default:
                    num[i] = rnd() & 1 ? INT64_MIN + (int64_t)(rnd() % 3) : 0;
                    den[i] = 1 + (int64_t)(rnd() % 7);
                    break;
                }
            }
            for (int digits = 0; digits <= 20; ++digits) {
                if (n != N_MAX && digits > 9) continue;
                ff_isa_select(FF_ISA_SERIAL);
                CHECK(ff_to_float_parallel(num, den, n, digits, b, 1) == n, "serial to_float refused");
                ff_isa_select(isa);
                memset(a, 0x5a, sizeof a);
                CHECK(ff_to_float_parallel(num, den, n, digits, a, 1) == n, "to_float refused");
                size_t bad = 0;
                for (size_t i = 0; i < n; ++i) {
                    if (memcmp(&a[i], &b[i], sizeof a[i]) == 0) continue;
                    if (bad++ < 3)
                        CHECK(0, "%s to_float %lld/%lld digits=%d: %.17g, serial %.17g",
                              ff_isa_name(isa), (long long)num[i], (long long)den[i], digits, a[i],
                              b[i]);
                }
                CHECK(bad == 0, "%s to_float family %d n=%zu digits=%d: %zu mismatches",
                      ff_isa_name(isa), fam, n, digits, bad);
                if (n == N_MAX) {
                    CHECK(ff_to_float_parallel(num, den, n, digits, a, 3) == n, "refused");
                    CHECK(memcmp(a, b, n * sizeof *a) == 0, "threaded to_float differs");
                }
                /* The bare name dispatches like the other batch kernels. */
                memset(a, 0x5a, sizeof a);
                ff_to_float(num, den, n, digits, a);
                CHECK(memcmp(a, b, n * sizeof *a) == 0, "%s ff_to_float differs from serial",
                      ff_isa_name(isa));
            }
        }
    }
    test_to_float_refusal(isa);
}

/* ---- shortest digits: a strided sweep over every float32 bit pattern ---------- */

#ifdef FF_WITH_X86_SIMD
#include "ff_kernels.h"

static void test_shortest(ff_isa isa, uint64_t stride) {
    void (*batch)(const float *, size_t, uint64_t *, int32_t *) =
        isa == FF_ISA_AVX512 ? ff_shortest_f32_batch_avx512 : ff_shortest_f32_batch_avx2;
    static float x[N_MAX];
    static uint64_t d[N_MAX];
    static int32_t e[N_MAX];
    size_t bad = 0, n = 0;
    /* Every stride-th pattern: all exponents, many fractions of each. */
    const uint64_t total = (UINT64_C(1) << 32) / stride;
    for (uint64_t i = 0; i < total;) {
        size_t m = 0;
        for (; m < N_MAX && i < total; ++i) {
            uint32_t b = (uint32_t)(i * stride);
            if (((b >> 23) & 0xff) == 0xff) continue; /* inf, NaN */
            memcpy(&x[m++], &b, sizeof b);
        }
        batch(x, m, d, e);
        for (size_t k = 0; k < m; ++k) {
            uint64_t rd = 0;
            int32_t re = 0;
            if (x[k] != 0) ff_shortest_f32(x[k], &rd, &re);
            if ((rd != d[k] || re != e[k]) && bad++ < 3)
                CHECK(0, "%s shortest(%.9g): %llue%d, serial %llue%d", ff_isa_name(isa),
                      (double)x[k], (unsigned long long)d[k], e[k], (unsigned long long)rd, re);
        }
        n += m;
    }
    CHECK(bad == 0, "%s shortest: %zu of %zu differ", ff_isa_name(isa), bad, n);
}

/* float64: `count` patterns spread over all 2**64 (i times an odd constant
 * visits distinct patterns, every exponent among them), each with its two
 * neighbours, so that binade edges and ties come up too. */
static void test_shortest_f64(ff_isa isa, uint64_t count) {
    void (*batch)(const double *, size_t, uint64_t *, int32_t *) =
        isa == FF_ISA_AVX512 ? ff_shortest_f64_batch_avx512 : ff_shortest_f64_batch_avx2;
    static double x[N_MAX];
    static uint64_t d[N_MAX];
    static int32_t e[N_MAX];
    size_t bad = 0, n = 0;
    for (uint64_t i = 0; i < count;) {
        size_t m = 0;
        for (; m + 3 <= N_MAX && i < count; ++i) {
            const uint64_t b = i * UINT64_C(0x9e3779b97f4a7c15);
            for (uint64_t delta = 0; delta < 3; ++delta) {
                const uint64_t c = b + delta - 1;
                if (((c >> 52) & 0x7ff) == 0x7ff) continue; /* inf, NaN */
                memcpy(&x[m++], &c, sizeof c);
            }
        }
        batch(x, m, d, e);
        for (size_t k = 0; k < m; ++k) {
            uint64_t rd = 0;
            int32_t re = 0;
            if (x[k] != 0) ff_shortest_f64(x[k], &rd, &re);
            if ((rd != d[k] || re != e[k]) && bad++ < 3)
                CHECK(0, "%s shortest(%.17g): %llue%d, serial %llue%d", ff_isa_name(isa), x[k],
                      (unsigned long long)d[k], e[k], (unsigned long long)rd, re);
        }
        n += m;
    }
    CHECK(bad == 0, "%s shortest f64: %zu of %zu differ", ff_isa_name(isa), bad, n);
}
#endif

/* ---- half precision: every bit pattern ---------------------------------------- */

/* The two half formats, by what the test needs of each. */
typedef struct half_format {
    const char *name;
    unsigned exp_all_ones; /* (bits >> 10 or 7) & mask == this: inf or NaN */
    int frac_bits;
    void (*shortest)(uint16_t, uint64_t *, int32_t *);
    void (*shortest_batch)(const uint16_t *, size_t, uint64_t *, int32_t *);
    void (*max_denominator)(const uint16_t *, size_t, int, int64_t, int64_t *);
} half_format;

static const half_format HALVES[2] = {
    {"f16", 0x1f, 10, ff_shortest_f16, ff_shortest_f16_batch, ff_max_denominator_f16},
    {"bf16", 0xff, 7, ff_shortest_bf16, ff_shortest_bf16_batch, ff_max_denominator_bf16},
};

/* The value of half pattern b as a float, written here independently of
 * the library: (-1)**s * m * 2**e from the fields (finite b only). */
static float half_value(const half_format *f, uint16_t b) {
    const int exp_bits = 15 - f->frac_bits, bias = (1 << (exp_bits - 1)) - 1;
    const int biased = (b >> f->frac_bits) & ((1 << exp_bits) - 1);
    const int frac = b & ((1 << f->frac_bits) - 1);
    const double m = biased ? (double)(frac | 1 << f->frac_bits) : (double)frac;
    const double v = ldexp(m, (biased ? biased : 1) - bias - f->frac_bits);
    return (float)(b >> 15 ? -v : v);
}

/* Every finite pattern of f, in order; returns how many. */
static size_t finite_patterns(const half_format *f, uint16_t *x) {
    size_t n = 0;
    for (uint32_t b = 0; b < 65536; ++b)
        if (((b >> f->frac_bits) & f->exp_all_ones) != f->exp_all_ones) x[n++] = (uint16_t)b;
    return n;
}

/* The approximate and limit kernels of half type h (0: f16, 1: bf16). */
static void compare_half(int h, ff_isa isa, const uint16_t *x, const int64_t *bounds, size_t n,
                         int p, ff_mode mode, int wide, const char *what) {
    if (h == 0) {
        if (wide)
            compare_f16_i64(isa, x, bounds, n, p, mode, what);
        else
            compare_f16_i32(isa, x, bounds, n, p, mode, what);
    } else {
        if (wide)
            compare_bf16_i64(isa, x, bounds, n, p, mode, what);
        else
            compare_bf16_i32(isa, x, bounds, n, p, mode, what);
    }
}

/* isa against serial on all 65,536 patterns of both half types (finite
 * ones), both modes, int32 at p = 0, 2, 4, 9 and int64 at p = 10, 18, and
 * with random bounds; then short runs at random offsets, sizes straddling
 * the lane widths; and the shortest-digits batch. */
static void test_halves(ff_isa isa) {
    static uint16_t all[65536];
    static int64_t b32[N_MAX], b64[N_MAX];
    static const int P32[] = {0, 2, 4, 9}, P64[] = {10, 18};
    for (int h = 0; h < 2; ++h) {
        const half_format *f = &HALVES[h];
        const size_t total = finite_patterns(f, all);
        char what[64];
        for (size_t start = 0; start < total; start += N_MAX) {
            const size_t n = total - start < N_MAX ? total - start : N_MAX;
            const uint16_t *x = all + start;
            snprintf(what, sizeof what, "%s patterns %zu..", f->name, start);
            fill_bounds(b32, n, FF_MAX_DEN_I32);
            fill_bounds(b64, n, FF_MAX_DEN_I64);
            for (int mode = 0; mode < 2; ++mode) {
                for (size_t k = 0; k < sizeof P32 / sizeof *P32; ++k)
                    compare_half(h, isa, x, NULL, n, P32[k], (ff_mode)mode, 0, what);
                for (size_t k = 0; k < sizeof P64 / sizeof *P64; ++k)
                    compare_half(h, isa, x, NULL, n, P64[k], (ff_mode)mode, 1, what);
                compare_half(h, isa, x, b32, n, 0, (ff_mode)mode, 0, what);
                compare_half(h, isa, x, b64, n, 0, (ff_mode)mode, 1, what);
            }
        }
        for (size_t si = 0; si + 1 < N_SIZES; ++si) {
            const size_t n = SIZES[si], start = (size_t)(rnd() % (total - n));
            snprintf(what, sizeof what, "%s n=%zu at %zu", f->name, n, start);
            fill_bounds(b32, n, FF_MAX_DEN_I32);
            for (int mode = 0; mode < 2; ++mode) {
                compare_half(h, isa, all + start, NULL, n, 4, (ff_mode)mode, 0, what);
                compare_half(h, isa, all + start, NULL, n, 10, (ff_mode)mode, 1, what);
                compare_half(h, isa, all + start, b32, n, 0, (ff_mode)mode, 0, what);
            }
        }
        /* The shortest digits, in batches whose ends straddle the lanes. */
        static uint64_t d[65536];
        static int32_t e[65536];
        ff_isa_select(isa);
        size_t bad = 0;
        for (size_t start = 0; start < total;) {
            const size_t n = 1 + (size_t)(rnd() % 37) < total - start ? 1 + (size_t)(rnd() % 37)
                                                                      : total - start;
            f->shortest_batch(all + start, n, d + start, e + start);
            start += n;
        }
        for (size_t i = 0; i < total; ++i) {
            uint64_t rd = 0;
            int32_t re = 0;
            if (all[i] & 0x7fff) f->shortest(all[i], &rd, &re);
            if ((rd != d[i] || re != e[i]) && bad++ < 3)
                CHECK(0, "%s shortest_%s_batch(0x%04x): %llue%d, serial %llue%d", ff_isa_name(isa),
                      f->name, all[i], (unsigned long long)d[i], e[i], (unsigned long long)rd, re);
        }
        CHECK(bad == 0, "%s shortest_%s_batch: %zu of %zu differ", ff_isa_name(isa), f->name, bad,
              total);
    }
}

/* The half kernels' contract where it names float32 (serial, once): the
 * bound is ff_max_den_f32 of the exactly widened value, and exact mode
 * equals float32 exact mode on it.  Plus the digits of a few known values. */
static void test_half_contract(void) {
    static uint16_t all[65536];
    static float wide[65536];
    static int64_t a[65536], b[65536];
    static int64_t num_h[65536], den_h[65536], num_f[65536], den_f[65536];
    ff_isa_select(FF_ISA_SERIAL);
    for (int h = 0; h < 2; ++h) {
        const half_format *f = &HALVES[h];
        const size_t total = finite_patterns(f, all);
        for (size_t i = 0; i < total; ++i) wide[i] = half_value(f, all[i]);
        for (int p = 0; p <= FF_MAX_P_I64; p += 3) {
            f->max_denominator(all, total, p, FF_MAX_DEN_I64, a);
            size_t bad = 0;
            for (size_t i = 0; i < total; ++i) {
                b[i] = ff_max_den_f32(wide[i], p, FF_MAX_DEN_I64);
                bad += a[i] != b[i];
            }
            CHECK(bad == 0, "%s max_denominator p=%d: %zu differ from float32's", f->name, p, bad);
        }
        for (int p = 0; p <= FF_MAX_P_I64; p += 6) {
            const size_t rh = h ? ff_approximate_bf16_i64(all, total, p, FF_MODE_EXACT, num_h, den_h)
                                : ff_approximate_f16_i64(all, total, p, FF_MODE_EXACT, num_h, den_h);
            const size_t rf = ff_approximate_f32_i64(wide, total, p, FF_MODE_EXACT, num_f, den_f);
            CHECK(rh == rf && memcmp(num_h, num_f, rh * sizeof *num_h) == 0 &&
                      memcmp(den_h, den_f, rh * sizeof *den_h) == 0,
                  "%s exact mode p=%d differs from float32's on the widened values", f->name, p);
        }
    }
    static const struct {
        int h;
        uint16_t bits;
        uint64_t digits;
        int32_t exp10;
    } known[] = {
        {0, 0x3c00, 1, 0},     {0, 0x2e66, 1, -1},    {0, 0x0001, 6, -8}, {0, 0x7bff, 655, 2},
        {1, 0x3dcd, 1, -1},    {1, 0x3f80, 1, 0},     {1, 0x0001, 9, -41}, {1, 0x0002, 2, -40},
        {1, 0x7f7f, 339, 36},
    };
    for (size_t k = 0; k < sizeof known / sizeof *known; ++k) {
        uint64_t d;
        int32_t e;
        HALVES[known[k].h].shortest(known[k].bits, &d, &e);
        CHECK(d == known[k].digits && e == known[k].exp10, "shortest_%s(0x%04x) = %llue%d",
              HALVES[known[k].h].name, known[k].bits, (unsigned long long)d, e);
    }
}

/* ---- the fused chunk pass ------------------------------------------------------------ */

/* Long enough for every finite half pattern, and for the threaded driver to
 * cut several chunks; not a multiple of the fused block. */
enum { N_FUSED = 65536 };

/* What the serial fused pass must equal: the batch kernels composed, as
 * the Python layer composes them, with the statistics computed here. */
typedef struct fused_ref {
    size_t overflow; /* ff_approximate_<FT>_i64's return */
    double max_abs, max_rel;
    uint64_t bits;
} fused_ref;

static int bit_length(uint64_t v) {
    int k = 0;
    for (; v; v >>= 1) ++k;
    return k;
}

static void fused_stats(fused_ref *r, double x, double y, int64_t a, int64_t b) {
    const double err = fabs(y - x);
    r->max_abs = err > r->max_abs ? err : r->max_abs;
    if (x != 0 && err / fabs(x) > r->max_rel) r->max_rel = err / fabs(x);
    r->bits += (uint64_t)(bit_length(a < 0 ? -(uint64_t)a : (uint64_t)a) + 1 +
                          bit_length((uint64_t)b));
}

/* Plane widths (numerators, denominators) asked of the threaded driver on
 * 1, 2 and 3 threads: every width, each smaller than the values need in some
 * cases, where the higher bytes must be dropped. */
static const int PLANE_WIDTHS[4][2] = {{0, 0}, {8, 8}, {1, 4}, {2, 1}};

/* Whether the planes hold the low bytes of num[i] and den[i], as
 * ff_i64_to_planes lays them out (with the planes' own stride). */
static int same_planes(const ff_planes_out *o, const int64_t *num, const int64_t *den, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        for (int j = 0; j < o->num_width; ++j)
            if (o->num[(size_t)j * o->stride + i] != (uint8_t)((uint64_t)num[i] >> (8 * j)))
                return 0;
        for (int j = 0; j < o->den_width; ++j)
            if (o->den[(size_t)j * o->stride + i] != (uint8_t)((uint64_t)den[i] >> (8 * j)))
                return 0;
    }
    return 1;
}

/* Whether the result's ORs are those of num and den. */
static int same_ors(const ff_fused_result *r, const int64_t *num, const int64_t *den, size_t n) {
    uint64_t any = 0, magnitude = 0, den_any = 0;
    for (size_t i = 0; i < n; ++i) {
        any |= (uint64_t)num[i];
        magnitude |= num[i] < 0 ? ~(uint64_t)num[i] : (uint64_t)num[i];
        den_any |= (uint64_t)den[i];
    }
    return r->num_any == any && r->num_magnitude == magnitude && r->den_any == den_any;
}

/* fused_<FT>: x's fused pass on isa (the bare call without fractions, the
 * threaded driver on 1, 2 and 3 threads with them) against the serial one,
 * and the serial one against the composition of the batch kernels.
 * WIDEN gives an element's value; TO rounds a double to the element type. */
#define DEFINE_FUSED(FT, CT, WIDEN, TO)                                                            \
    static void fused_##FT(ff_isa isa, const CT *x, size_t n, int p, ff_mode mode, int digits,     \
                           const char *what) {                                                     \
        static CT y_ref[N_FUSED], y[N_FUSED];                                                      \
        static int64_t num_ref[N_FUSED], den_ref[N_FUSED], num[N_FUSED], den[N_FUSED];             \
        static uint8_t plane_num[8 * (N_FUSED + 3)], plane_den[8 * (N_FUSED + 3)];                 \
        static double v[N_FUSED];                                                                  \
        ff_fused_result ref, got;                                                                  \
        ff_isa_select(FF_ISA_SERIAL);                                                              \
        ff_fused_##FT(x, n, p, mode, digits, y_ref, num_ref, den_ref, NULL, &ref);                 \
        size_t nonfinite = 0;                                                                      \
        while (nonfinite < n && isfinite(WIDEN(x[nonfinite]))) ++nonfinite;                       \
        if (nonfinite < n) {                                                                       \
            CHECK(ref.status == FF_FUSED_NONFINITE && ref.index == nonfinite,                      \
                  "fused_" #FT " %s: status %d at %zu, the first non-finite is at %zu", what,      \
                  (int)ref.status, ref.index, nonfinite);                                          \
        } else if (isa == FF_ISA_SERIAL) {                                                         \
            fused_ref c = {0, 0.0, 0.0, 0};                                                        \
            c.overflow = ff_approximate_##FT##_i64(x, n, p, mode, num, den);                       \
            if (c.overflow == n) {                                                                 \
                ff_to_float(num, den, n, digits, v);                                               \
                size_t bad = 0;                                                                    \
                for (size_t i = 0; i < n; ++i) {                                                   \
                    const CT t = TO(v[i]);                                                         \
                    bad += memcmp(&t, &y_ref[i], sizeof t) != 0 || num[i] != num_ref[i] ||         \
                           den[i] != den_ref[i];                                                   \
                    fused_stats(&c, WIDEN(x[i]), WIDEN(t), num[i], den[i]);                        \
                }                                                                                  \
                CHECK(bad == 0 && ref.status == FF_FUSED_OK && ref.index == n,                     \
                      "fused_" #FT " %s p=%d %s digits=%d: %zu values differ from the "            \
                      "composition (status %d)",                                                   \
                      what, p, MODE_NAMES[mode], digits, bad, (int)ref.status);                    \
                CHECK(c.max_abs == ref.max_abs_error && c.max_rel == ref.max_rel_error &&          \
                          c.bits == ref.bits,                                                      \
                      "fused_" #FT " %s p=%d: stats %.17g %.17g %llu, composition %.17g %.17g "    \
                      "%llu",                                                                      \
                      what, p, ref.max_abs_error, ref.max_rel_error,                               \
                      (unsigned long long)ref.bits, c.max_abs, c.max_rel,                          \
                      (unsigned long long)c.bits);                                                 \
            } else {                                                                               \
                CHECK(ref.status == FF_FUSED_OVERFLOW && ref.index == c.overflow,                  \
                      "fused_" #FT " %s p=%d: status %d at %zu, the kernel overflows at %zu",      \
                      what, p, (int)ref.status, ref.index, c.overflow);                            \
            }                                                                                      \
        }                                                                                          \
        ff_isa_select(isa);                                                                        \
        for (int t = 0; t <= 3; ++t) {                                                             \
            memset(y, 0x5a, n * sizeof *y);                                                        \
            /* Planes with their own widths per thread count, a stride past n, and the         \
             * int64 arrays too except on 2 threads. */                                            \
            const ff_planes_out planes = {plane_num, plane_den, n + 3, PLANE_WIDTHS[t][0],         \
                                          PLANE_WIDTHS[t][1]};                                     \
            if (t == 0)                                                                            \
                ff_fused_##FT(x, n, p, mode, digits, y, NULL, NULL, NULL, &got);                   \
            else                                                                                   \
                ff_fused_##FT##_parallel(x, n, p, mode, digits, y, t == 2 ? NULL : num,            \
                                         t == 2 ? NULL : den, &planes, &got, t);                   \
            int same = got.status == ref.status && got.index == ref.index;                         \
            if (same && ref.status == FF_FUSED_OK)                                                 \
                same = memcmp(y, y_ref, n * sizeof *y) == 0 &&                                     \
                       got.max_abs_error == ref.max_abs_error &&                                   \
                       got.max_rel_error == ref.max_rel_error && got.bits == ref.bits &&           \
                       (t == 0 || t == 2 ||                                                        \
                        (memcmp(num, num_ref, n * sizeof *num) == 0 &&                             \
                         memcmp(den, den_ref, n * sizeof *den) == 0)) &&                           \
                       (t == 0 || (same_planes(&planes, num_ref, den_ref, n) &&                    \
                                   same_ors(&got, num_ref, den_ref, n)));                          \
            CHECK(same,                                                                            \
                  "%s fused_" #FT " %s p=%d %s digits=%d threads=%d: status %d at %zu, serial "    \
                  "%d at %zu",                                                                     \
                  ff_isa_name(isa), what, p, MODE_NAMES[mode], digits, t, (int)got.status,         \
                  got.index, (int)ref.status, ref.index);                                          \
        }                                                                                          \
    }

static double widen_f32(float x) { return (double)x; }
static double widen_f64(double x) { return x; }
/* A half pattern's value; infinity for inf and NaN (enough for the test). */
static double widen_half(const half_format *f, uint16_t b) {
    if (((b >> f->frac_bits) & f->exp_all_ones) == f->exp_all_ones) return INFINITY;
    return (double)half_value(f, b);
}
static double widen_f16(uint16_t b) { return widen_half(&HALVES[0], b); }
static double widen_bf16(uint16_t b) { return widen_half(&HALVES[1], b); }
static float to_f32(double v) { return (float)v; }
/* The upper half of x's bits: a bfloat16 near x. */
static uint16_t bf16_upper(float x) {
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return (uint16_t)(b >> 16);
}
static double to_f64(double v) { return v; }

/* fused_f32, fused_f64, fused_f16, fused_bf16 */
DEFINE_FUSED(f32, float, widen_f32, to_f32)
DEFINE_FUSED(f64, double, widen_f64, to_f64)
DEFINE_FUSED(f16, uint16_t, widen_f16, ff_f64_to_f16)
DEFINE_FUSED(bf16, uint16_t, widen_bf16, ff_f64_to_bf16)

/* Every fused pass on isa: the float families and random bit patterns at
 * sizes around the block and the threads' chunks, all finite half
 * patterns, at a few (p, digits), both modes; then NaN, infinity and
 * overflowing numerators placed before and after each other. */
static void test_fused(ff_isa isa) {
    static double xd[N_FUSED];
    static float xf[N_FUSED];
    static uint16_t all[65536];
    static const size_t sizes[] = {0, 1, 17, 1023, 1025, 3000, 40001};
    static const int ps[] = {2, 18};
    char what[64];
    for (int fam = 0; fam <= N_FAMILIES; ++fam) {
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; ++si) {
            const size_t n = sizes[si];
            /* The long size (the threads' chunks) on weights and bit patterns only. */
            if (n == 40001 && fam != 0 && fam != N_FAMILIES) continue;
            if (n == 3000 && fam != 2 && fam != 5) continue;
            if (fam == N_FAMILIES) {
                fill_bits_f64(xd, n);
                fill_bits_f32(xf, n);
            } else {
                fill(xd, n, fam);
                for (size_t i = 0; i < n; ++i) xf[i] = (float)xd[i];
            }
            snprintf(what, sizeof what, "family %d n=%zu", fam, n);
            for (int mode = 0; mode < 2; ++mode) {
                for (size_t k = 0; k < sizeof ps / sizeof *ps; ++k) {
                    if (n < 3000 && ps[k] != 2) continue;
                    const int digit_choices[3] = {0, 2 * ps[k], 3};
                    for (int d = 0; d < (ps[k] == 2 ? 3 : 2); ++d) {
                        fused_f32(isa, xf, n, ps[k], (ff_mode)mode, digit_choices[d], what);
                        fused_f64(isa, xd, n, ps[k], (ff_mode)mode, digit_choices[d], what);
                    }
                }
            }
        }
    }
    for (int h = 0; h < 2; ++h) {
        const size_t total = finite_patterns(&HALVES[h], all);
        snprintf(what, sizeof what, "%s patterns", HALVES[h].name);
        for (int mode = 0; mode < 2; ++mode) {
            for (size_t k = 0; k < sizeof ps / sizeof *ps; ++k) {
                const int digit_choices[3] = {0, 2 * ps[k], 3};
                for (int d = 0; d < (ps[k] == 2 ? 2 : 1); ++d) {
                    if (h == 0)
                        fused_f16(isa, all, total, ps[k], (ff_mode)mode, digit_choices[d], what);
                    else
                        fused_bf16(isa, all, total, ps[k], (ff_mode)mode, digit_choices[d], what);
                }
            }
        }
    }
    /* Failures: 1e30 overflows int64 in exact mode; NaN and inf anywhere
     * win over it, wherever the two fall relative to blocks and chunks. */
    static const size_t places[] = {0, 1024, 16384, 40000};
    const size_t n = 40001, np = sizeof places / sizeof *places;
    for (size_t a = 0; a < np; ++a) {
        for (size_t b = 0; b <= np; ++b) {
            fill(xd, n, 0);
            for (size_t i = 0; i < n; ++i) xf[i] = (float)xd[i];
            for (size_t i = 0; i < n; ++i) all[i] = bf16_upper(xf[i]);
            xd[places[a]] = 1e30, xf[places[a]] = 1e30f, all[places[a]] = 0x7149; /* ~1e30 */
            if (b < np) {
                xd[places[b]] = b & 1 ? NAN : -INFINITY;
                xf[places[b]] = b & 1 ? NAN : INFINITY;
                all[places[b]] = b & 1 ? 0x7fc0 : 0xff80;
            }
            snprintf(what, sizeof what, "overflow at %zu, non-finite at %zu", places[a],
                     b < np ? places[b] : n);
            /* One type per case, in turn: each shares the driver's merging. */
            if ((a + b) % 3 == 0) fused_f32(isa, xf, n, 2, FF_MODE_EXACT, 0, what);
            if ((a + b) % 3 == 1) fused_f64(isa, xd, n, 2, FF_MODE_EXACT, 3, what);
            if ((a + b) % 3 == 2) fused_bf16(isa, all, n, 2, FF_MODE_EXACT, 0, what);
            ff_fused_result r;
            static float y[40001];
            ff_fused_f32_parallel(xf, n, 2, FF_MODE_EXACT, 0, y, NULL, NULL, NULL, &r, 3);
            CHECK(b < np ? r.status == FF_FUSED_NONFINITE && r.index == places[b]
                         : r.status == FF_FUSED_OVERFLOW && r.index == places[a],
                  "fused_f32 %s: status %d at %zu", what, (int)r.status, r.index);
        }
    }
}

/* ---- byte planes (ff_planes.c) -------------------------------------------------------- */

/* Every width and sign on one instruction set's packing: random values that
 * fit, lengths around the 8-element blocks and the vectors, against the
 * byte-by-byte definition (which the serial packing is held to as well);
 * packed then unpacked gives the values back; and the narrowest width is the
 * smallest that holds them. */
static void test_planes(ff_isa isa) {
    ff_isa_select(isa);
    static const size_t lengths[] = {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000};
    static int64_t v[1000], back[1000];
    static uint8_t planes[8000];
    static const int widths[] = {1, 2, 4, 8};
    for (int w = 0; w < 4; ++w) {
        const int width = widths[w];
        for (int is_signed = 0; is_signed < 2; ++is_signed) {
            for (size_t k = 0; k < sizeof lengths / sizeof *lengths; ++k) {
                const size_t n = lengths[k];
                const int bits = 8 * width - is_signed; /* value bits of the type */
                for (size_t i = 0; i < n; ++i) {
                    uint64_t u = rnd() >> (64 - bits); /* below 2**bits */
                    if (i % 5 == 0) u = bits == 64 ? UINT64_MAX >> 1 : (UINT64_C(1) << bits) - 1;
                    v[i] = is_signed && (i & 1) ? -(int64_t)u - 1 : (int64_t)u;
                }
                memset(planes, 0xa5, sizeof planes); /* no byte left from the last case */
                CHECK(ff_i64_to_planes(v, n, width, planes) == 0, "width %d refused", width);
                size_t bad = 0;
                for (size_t i = 0; i < n; ++i)
                    for (int j = 0; j < width; ++j)
                        bad += planes[(size_t)j * n + i] != (uint8_t)((uint64_t)v[i] >> (8 * j));
                CHECK(bad == 0, "%s planes width %d signed %d n=%zu: %zu wrong bytes",
                      ff_isa_name(isa), width, is_signed, n, bad);
                CHECK(ff_planes_to_i64(planes, n, width, is_signed, back) == 0, "refused");
                CHECK(n == 0 || memcmp(back, v, n * sizeof *v) == 0,
                      "unpacking width %d signed %d n=%zu differs", width, is_signed, n);
                int got_signed = -1;
                const int got = ff_i64_narrowest(v, n, &got_signed);
                if (n > 5 && !(width == 8 && !is_signed)) /* unsigned 8-byte: int64 holds < 2**63 */
                    CHECK(got == width && got_signed == (is_signed && n > 1),
                          "narrowest of width %d signed %d n=%zu: %d %d", width, is_signed, n, got,
                          got_signed);
            }
        }
    }
    CHECK(ff_i64_to_planes(v, 4, 3, planes) == -1 && ff_planes_to_i64(planes, 4, 3, 0, back) == -1,
          "width 3 accepted");
}

/* ---- dispatch ----------------------------------------------------------------------- */

static void test_dispatch(void) {
    unsigned caps = ff_isa_available();
    CHECK(caps & 1u, "serial must always be available");
    CHECK(ff_isa_select((ff_isa)FF_ISA_COUNT) == -1, "an unknown isa is refused");
    for (int isa = 0; isa < FF_ISA_COUNT; ++isa) {
        int r = ff_isa_select((ff_isa)isa);
        CHECK((r == 0) == ((caps >> isa & 1u) != 0), "select %s returned %d",
              ff_isa_name((ff_isa)isa), r);
        if (r == 0) CHECK(ff_isa_selected() == (ff_isa)isa, "selected differs");
    }
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 1;
    unsigned caps = ff_isa_available();
    printf("isas:");
    for (int isa = 0; isa < FF_ISA_COUNT; ++isa)
        if (caps >> isa & 1u) printf(" %s", ff_isa_name((ff_isa)isa));
    printf("; openmp %d\n", ff_openmp_enabled());
    test_dispatch();
    test_half_contract();
    for (int r = 0; r < rounds; ++r) {
        for (int isa = 0; isa < FF_ISA_COUNT; ++isa) {
            if (!(caps >> isa & 1u)) continue;
            unsigned long long before = g_failures;
            test_batches((ff_isa)isa);
            test_halves((ff_isa)isa);
#ifdef FF_WITH_X86_SIMD
            if (isa != FF_ISA_SERIAL) test_shortest((ff_isa)isa, 1021); /* about 4.2e6 patterns */
            if (isa != FF_ISA_SERIAL) test_shortest_f64((ff_isa)isa, 1000000); /* 3e6 patterns */
#endif
            test_to_float((ff_isa)isa);
            test_fused((ff_isa)isa);
            test_planes((ff_isa)isa);
            printf("%s: %s\n", ff_isa_name((ff_isa)isa),
                   g_failures == before ? "ok" : "MISMATCHES");
        }
    }
    printf("%llu passed, %llu failed\n", g_checks - g_failures, g_failures);
    return g_failures != 0;
}
