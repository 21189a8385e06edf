/*
 * ff_parallel.c -- the threaded drivers: batch kernels over contiguous chunks.
 *
 * Threads live here and only here; the kernels take (pointer, count) and
 * know nothing of them.  Each call says how many threads it may use with a
 * num_threads clause, so nothing process-wide (omp_set_num_threads,
 * OMP_NUM_THREADS defaults) is changed under TensorFlow's or PyTorch's own
 * pools.  Every element's answer depends on that element alone, so the
 * results are identical for any thread count; the first overflow is the
 * smallest failing index over all chunks, as in one serial pass.
 *
 * Built without OpenMP, the same calls run on the calling thread.
 */
#include "ff_kernels.h"

/* Fewest elements worth a thread of their own (a kernel spends 10-100 ns an
 * element; starting a team costs some microseconds), and the chunk size that
 * lets a fast thread take over work from one slowed by a busy core.  The
 * chunk bounds how long one thread may still be busy after the other has
 * run out of work: 16384 elements are 0.2-0.5 ms on the SIMD paths (with
 * 65536 the best two-thread rounds on 10**6 values were 3-4 % slower). */
#define FF_MIN_PER_THREAD 16384
#define FF_CHUNK 16384

int ff_openmp_enabled(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

#ifdef _OPENMP
#include <pthread.h>

/* GNU libgomp cannot run a parallel region in a process forked after its
 * parent started a team (the child waits forever on the parent's threads),
 * and Python's multiprocessing forks by default on Linux.  So, as PyTorch
 * does, a fork handler registered with the first team marks the child, and
 * a marked process runs every call on its own thread. */
static int ff_forked;
static pthread_once_t ff_fork_once = PTHREAD_ONCE_INIT;
static void ff_mark_child(void) { __atomic_store_n(&ff_forked, 1, __ATOMIC_RELAXED); }
static void ff_watch_forks(void) { (void)pthread_atfork(NULL, NULL, ff_mark_child); }

/* How many threads n elements deserve, at most `threads`. */
static int ff_team_size(size_t n, int threads) {
    size_t useful = n / FF_MIN_PER_THREAD;
    if (threads < 1 || useful < 2 || __atomic_load_n(&ff_forked, __ATOMIC_RELAXED)) return 1;
    (void)pthread_once(&ff_fork_once, ff_watch_forks);
    return (size_t)threads < useful ? threads : (int)useful;
}

/* Chunks of at most FF_CHUNK, at least one per thread. */
static size_t ff_chunk_size(size_t n, int team) {
    size_t per = (n + (size_t)team - 1) / (size_t)team;
    return per < FF_CHUNK ? per : FF_CHUNK;
}

/* Chunks to whichever thread is free (threads on a busy core fall behind);
 * the first failure is the smallest failing index of any chunk. */
// clang-format off
#define FF_OMP_CHUNKS \
    _Pragma("omp parallel for num_threads(team) schedule(dynamic, 1) reduction(min: first)")
// clang-format on

/* Returns the first failing index of n elements, or n; CALL(start, len)
 * returns how many of the elements start .. start+len-1 succeeded. */
#define FF_PARALLEL_FIRST(n, threads, CALL)                                                        \
    do {                                                                                           \
        const int team = ff_team_size(n, threads);                                                 \
        if (team == 1) return CALL(0, n);                                                          \
        const size_t chunk = ff_chunk_size(n, team);                                               \
        const long chunks = (long)((n + chunk - 1) / chunk);                                       \
        size_t first = n;                                                                          \
        FF_OMP_CHUNKS                                                                              \
        for (long c = 0; c < chunks; ++c) {                                                        \
            const size_t start = (size_t)c * chunk;                                                \
            const size_t len = n - start < chunk ? n - start : chunk;                              \
            const size_t done = CALL(start, len);                                                  \
            if (done < len && start + done < first) first = start + done;                          \
        }                                                                                          \
        return first;                                                                              \
    } while (0)
#else
#define FF_PARALLEL_FIRST(n, threads, CALL)                                                        \
    do {                                                                                           \
        (void)(threads);                                                                           \
        return CALL(0, n);                                                                         \
    } while (0)
#endif

#define FF_DEFINE_PARALLEL(FT, IT)                                                                 \
    size_t ff_approximate_##FT##_##IT##_parallel(const ff_##FT *x, size_t n, int p, ff_mode mode,  \
                                                 ff_##IT *num, ff_##IT *den, int threads) {        \
        size_t (*kernel)(const ff_##FT *, size_t, int, ff_mode, ff_##IT *, ff_##IT *) =            \
            ff_kernels()->approximate_##FT##_##IT;                                                 \
        FF_PARALLEL_FIRST(n, threads, FF_APPROX_CALL);                                             \
    }                                                                                              \
    size_t ff_limit_##FT##_##IT##_parallel(const ff_##FT *x, const int64_t *max_den, size_t n,     \
                                           ff_mode mode, ff_##IT *num, ff_##IT *den,               \
                                           int threads) {                                          \
        size_t (*kernel)(const ff_##FT *, const int64_t *, size_t, ff_mode, ff_##IT *,             \
                         ff_##IT *) = ff_kernels()->limit_##FT##_##IT;                             \
        FF_PARALLEL_FIRST(n, threads, FF_LIMIT_CALL);                                              \
    }
#define FF_APPROX_CALL(start, len) kernel(x + (start), len, p, mode, num + (start), den + (start))
#define FF_LIMIT_CALL(start, len)                                                                  \
    kernel(x + (start), max_den + (start), len, mode, num + (start), den + (start))

/* ff_approximate_f32_i32_parallel, ff_limit_f32_i32_parallel */
FF_DEFINE_PARALLEL(f32, i32)
/* ff_approximate_f32_i64_parallel, ff_limit_f32_i64_parallel */
FF_DEFINE_PARALLEL(f32, i64)
/* ff_approximate_f64_i32_parallel, ff_limit_f64_i32_parallel */
FF_DEFINE_PARALLEL(f64, i32)
/* ff_approximate_f64_i64_parallel, ff_limit_f64_i64_parallel */
FF_DEFINE_PARALLEL(f64, i64)
/* ff_approximate_f16_i32_parallel, ff_limit_f16_i32_parallel */
FF_DEFINE_PARALLEL(f16, i32)
/* ff_approximate_f16_i64_parallel, ff_limit_f16_i64_parallel */
FF_DEFINE_PARALLEL(f16, i64)
/* ff_approximate_bf16_i32_parallel, ff_limit_bf16_i32_parallel */
FF_DEFINE_PARALLEL(bf16, i32)
/* ff_approximate_bf16_i64_parallel, ff_limit_bf16_i64_parallel */
FF_DEFINE_PARALLEL(bf16, i64)

/* to_float checks its denominators on the way, in the threads rather than in
 * a serial pass before them: a chunk converts only when every den in it is
 * positive, else it returns the offset of its first den <= 0. */
static size_t ff_first_nonpositive(const int64_t *den, size_t n) {
    int64_t low = INT64_MAX;
    for (size_t i = 0; i < n; ++i) low = den[i] < low ? den[i] : low; /* no early exit: vectorises */
    if (low > 0) return n;
    size_t i = 0;
    while (den[i] > 0) ++i;
    return i;
}

static size_t ff_to_float_chunk(void (*kernel)(const int64_t *, const int64_t *, size_t, int,
                                               double *),
                                const int64_t *num, const int64_t *den, size_t start, size_t len,
                                int digits, double *out) {
    const size_t valid = ff_first_nonpositive(den + start, len);
    if (valid == len) kernel(num + start, den + start, len, digits, out + start);
    return valid;
}

size_t ff_to_float_parallel(const int64_t *num, const int64_t *den, size_t n, int digits,
                            double *out, int threads) {
    void (*kernel)(const int64_t *, const int64_t *, size_t, int, double *) =
        ff_kernels()->to_float;
#define FF_TO_FLOAT_CALL(start, len) ff_to_float_chunk(kernel, num, den, start, len, digits, out)
    FF_PARALLEL_FIRST(n, threads, FF_TO_FLOAT_CALL);
#undef FF_TO_FLOAT_CALL
}

/* ---- the fused chunk pass ------------------------------------------------------ */

#ifdef _OPENMP
/* Folds part, the result of the elements start .. start+len-1, into the
 * running totals: maxima, the bit sum, and the first failure of each kind
 * (n where none), so that the merged whole does not depend on the order. */
static void ff_fused_merge(ff_fused_result *total, size_t *first_nonfinite, size_t *first_overflow,
                           const ff_fused_result *part, size_t start) {
    if (part->status == FF_FUSED_NONFINITE && start + part->index < *first_nonfinite)
        *first_nonfinite = start + part->index;
    if (part->status == FF_FUSED_OVERFLOW && start + part->index < *first_overflow)
        *first_overflow = start + part->index;
    if (part->max_abs_error > total->max_abs_error) total->max_abs_error = part->max_abs_error;
    if (part->max_rel_error > total->max_rel_error) total->max_rel_error = part->max_rel_error;
    total->bits += part->bits;
    total->num_any |= part->num_any;
    total->num_magnitude |= part->num_magnitude;
    total->den_any |= part->den_any;
}

/* Sets result's status from the first failures: a NaN or infinity anywhere
 * wins over an overflow, as in one pass (which looks past an overflow for
 * them). */
static void ff_fused_close(ff_fused_result *result, size_t n, size_t first_nonfinite,
                           size_t first_overflow) {
    result->status = first_nonfinite < n   ? FF_FUSED_NONFINITE
                     : first_overflow < n ? FF_FUSED_OVERFLOW
                                          : FF_FUSED_OK;
    result->index = first_nonfinite < n ? first_nonfinite : first_overflow;
}

/* Runs CALL(start, len, &part) over n elements on the team, each thread
 * keeping its own totals and merging them once at the end. */
#define FF_PARALLEL_FUSED(n, threads, result, CALL)                                                \
    do {                                                                                           \
        const int team = ff_team_size(n, threads);                                                 \
        if (team == 1) {                                                                           \
            CALL(0, n, result);                                                                    \
            return;                                                                                \
        }                                                                                          \
        const size_t chunk = ff_chunk_size(n, team);                                               \
        const long chunks = (long)((n + chunk - 1) / chunk);                                       \
        size_t first_nonfinite = n, first_overflow = n;                                            \
        result->max_abs_error = result->max_rel_error = 0.0;                                       \
        result->bits = 0;                                                                          \
        result->num_any = result->num_magnitude = result->den_any = 0;                             \
        _Pragma("omp parallel num_threads(team)") {                                                \
            ff_fused_result mine = {FF_FUSED_OK, 0, 0.0, 0.0, 0, 0, 0, 0};                         \
            size_t my_nonfinite = n, my_overflow = n;                                              \
            _Pragma("omp for schedule(dynamic, 1) nowait") for (long c = 0; c < chunks; ++c) {     \
                const size_t start = (size_t)c * chunk;                                            \
                const size_t len = n - start < chunk ? n - start : chunk;                          \
                ff_fused_result part;                                                              \
                CALL(start, len, &part);                                                           \
                ff_fused_merge(&mine, &my_nonfinite, &my_overflow, &part, start);                  \
            }                                                                                      \
            _Pragma("omp critical(ff_fused)") {                                                    \
                mine.status = FF_FUSED_OK;                                                         \
                ff_fused_merge(result, &first_nonfinite, &first_overflow, &mine, 0);               \
                if (my_nonfinite < first_nonfinite) first_nonfinite = my_nonfinite;                \
                if (my_overflow < first_overflow) first_overflow = my_overflow;                    \
            }                                                                                      \
        }                                                                                          \
        ff_fused_close(result, n, first_nonfinite, first_overflow);                                \
    } while (0)
#else
#define FF_PARALLEL_FUSED(n, threads, result, CALL)                                                \
    do {                                                                                           \
        (void)(threads);                                                                           \
        CALL(0, n, result);                                                                        \
    } while (0)
#endif

/* ff_fused_<FT>_parallel: the selected ff_fused_<FT> over chunks; num, den
 * and the planes (when wanted) are cut at the same places as x and y. */
#define FF_DEFINE_FUSED_PARALLEL(FT)                                                               \
    void ff_fused_##FT##_parallel(const ff_##FT *x, size_t n, int p, ff_mode mode, int digits,     \
                                  ff_##FT *y, int64_t *num, int64_t *den,                          \
                                  const ff_planes_out *planes, ff_fused_result *result,            \
                                  int threads) {                                                   \
        void (*kernel)(const ff_##FT *, size_t, int, ff_mode, int, ff_##FT *, int64_t *,           \
                       int64_t *, const ff_planes_out *, ff_fused_result *) =                      \
            ff_kernels()->fused_##FT;                                                              \
        FF_PARALLEL_FUSED(n, threads, result, FF_FUSED_CALL);                                      \
    }
#define FF_FUSED_CALL(start, len, part)                                                            \
    kernel(x + (start), len, p, mode, digits, y + (start), num ? num + (start) : NULL,             \
           den ? den + (start) : NULL, ff_planes_from(planes, start, &(ff_planes_out){0}), part)

/* planes (NULL or not) as seen from element start on: the same planes and
 * stride, the pointers moved on; *shifted is where that view is kept. */
static const ff_planes_out *ff_planes_from(const ff_planes_out *planes, size_t start,
                                           ff_planes_out *shifted) {
    if (planes == NULL) return NULL;
    *shifted = *planes;
    shifted->num += start;
    shifted->den += start;
    return shifted;
}

/* ff_fused_f32_parallel */
FF_DEFINE_FUSED_PARALLEL(f32)
/* ff_fused_f64_parallel */
FF_DEFINE_FUSED_PARALLEL(f64)
/* ff_fused_f16_parallel */
FF_DEFINE_FUSED_PARALLEL(f16)
/* ff_fused_bf16_parallel */
FF_DEFINE_FUSED_PARALLEL(bf16)
