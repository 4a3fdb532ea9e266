// Instantiates the kernels: kernels_template.inc (any layout, Float and Double,
// scalar loops with Double accumulators) and vector_kernels.inc (Float rows that
// are contiguous, the common case, vectorized) once per instruction set.
//
// Runtime dispatch instead of compiler flags: a package that depends on LossKit
// builds it with the toolchain's default flags (no unsafeFlags), and still gets
// AVX-512 or AVX2+FMA code where the CPU has it. The choice is made once, when
// the library is loaded, from __builtin_cpu_supports.
#include "lk_kernels.h"
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The vector helpers are static and inlined within one instruction set; their
// vector ABI never crosses a boundary between sets.
#pragma clang diagnostic ignored "-Wpsabi"

// Orders non-temporal stores before the kernel returns (they are weakly ordered on x86).
#if defined(__x86_64__)
#define LK_STORE_FENCE() __builtin_ia32_sfence()
#else
#define LK_STORE_FENCE() ((void)0)
#endif

typedef float lk_vf __attribute__((ext_vector_type(16)));
typedef int lk_vi __attribute__((ext_vector_type(16)));
typedef double lk_vd __attribute__((ext_vector_type(16)));
typedef long lk_vl __attribute__((ext_vector_type(16)));
typedef unsigned long lk_vul __attribute__((ext_vector_type(16)));
typedef float lk_vf8 __attribute__((ext_vector_type(8)));
typedef int lk_vi8 __attribute__((ext_vector_type(8)));
typedef float lk_vf4 __attribute__((ext_vector_type(4)));
typedef float lk_vf2 __attribute__((ext_vector_type(2)));
typedef double lk_vd8 __attribute__((ext_vector_type(8)));
typedef double lk_vd4 __attribute__((ext_vector_type(4)));
typedef double lk_vd2 __attribute__((ext_vector_type(2)));

// Cross-entropy (class indices) options shared by a call's rows, and one row's
// gradient coefficients (see ce_row_coefficients in vector_kernels.inc).
typedef struct {
    const float *weight;
    double eps, eps_c, weight_sum;
} lk_ce_options;
typedef struct {
    float a, b, target;
} lk_ce_coefficients;

// Softmax and log-softmax rows of this many floats or more are shared by the threads,
// block by block (split_softmax_row in vector_kernels.inc).
#define LK_SPLIT_ROW (256 * 1024)
// Log-softmax rows of this many floats or more with an output in cache take the one read
// that copies x into y (LK_COPIES below); shorter ones take the next row's max in their
// exps' sweep (the measurements are in vector_kernels.inc, where it is used).
#define LK_NEXT_MAX_LOG_ROW_CACHED 8192

typedef struct {
    void (*softmax_rows)(const float *, float *, ptrdiff_t, ptrdiff_t, int);
    void (*logsumexp_rows)(const float *, float *, ptrdiff_t, ptrdiff_t, int);
    void (*sum_rows)(const float *, float *, ptrdiff_t, ptrdiff_t);
    void (*ce_index_rows)(const float *, const int64_t *, const float *, int64_t, float, ptrdiff_t, ptrdiff_t, float *,
                          float *, const float *, float, int);
    void (*ce_prob_rows)(const float *, const float *, const float *, float, ptrdiff_t, ptrdiff_t, float *, float *,
                         float *, const float *, float);
    void (*lce_rows)(float *, const float *, const int64_t *, const float *, int64_t, float, float, float, ptrdiff_t,
                     ptrdiff_t, float *, const float *, float, int);
    double (*pointwise_block)(int, const float *, const float *, ptrdiff_t, float *, float *, const float *, float, int);
    void (*split_softmax_row)(const float *, float *, ptrdiff_t, int, int);
    int (*targets_valid)(const int64_t *, ptrdiff_t, int64_t, int64_t);
    // Layouts with inner > 1: 1 when done, 0 when the class count is left to the scalar loops.
    int (*softmax_inner)(const float *, float *, ptrdiff_t, ptrdiff_t, ptrdiff_t, int);
    int (*logsumexp_inner)(const float *, float *, ptrdiff_t, ptrdiff_t, ptrdiff_t);
    int (*ce_index_inner)(const float *, const int64_t *, const float *, int64_t, float, ptrdiff_t, ptrdiff_t,
                          ptrdiff_t, float *, float *, const float *, float);
} lk_vtable;

// The 16-bit conversions and the 16-bit pointwise losses of one instruction set
// (vector_half.inc); `bf` is 0 for float16, 1 for bfloat16.
typedef struct {
    void (*widen)(const uint16_t *, float *, ptrdiff_t, int bf);
    void (*narrow)(const float *, uint16_t *, ptrdiff_t, int bf);
    double (*pointwise_block)(int, int bf, const uint16_t *, const uint16_t *, ptrdiff_t, uint16_t *, uint16_t *,
                              const uint16_t *, float);
    void (*ce_rows)(int bf, const uint16_t *, const int64_t *, const float *, int64_t, float, ptrdiff_t, ptrdiff_t,
                    uint16_t *, float *, uint16_t *, const uint16_t *, float, float *, int);
    void (*softmax_rows)(int bf, int log_output, const uint16_t *, uint16_t *, ptrdiff_t, ptrdiff_t, float *, int);
} lk_half_vtable;

// Round to nearest (ties to even) for |v| < 2^22: one instruction where SSE4.1's
// roundps exists; on baseline x86-64 (SSE2), adding and subtracting 1.5 * 2^23 does
// the same with two, where the builtin would call libm lane by lane.
#define LK_ROUND(v) __builtin_elementwise_roundeven(v)
#define LK_ROUND_SSE2(v) (((v) + 12582912.0f) - 12582912.0f)

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,f16c"))), apply_to = function)
#define ISA avx512
#define LK_HAS_SCALEF 1
#define LK_GROUP_SPLIT 1
#include "vector_kernels.inc"
#undef LK_GROUP_SPLIT
#undef LK_HAS_SCALEF
#undef ISA
#pragma clang attribute pop

// The 16-bit functions once more for AVX-512 CPUs with AVX512_BF16 (Zen 4, Cooper Lake, Sapphire
// Rapids): bfloat16 rounding in one instruction (vcvtneps2bf16) where the integer rounding takes
// seven; the same results (see vector_half.inc). The AVX-512 helpers above are inlined into them.
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,f16c,avx512bf16"))), apply_to = function)
#define VCAT_(a, b) a##_##b
#define VCAT(a, b) VCAT_(a, b)
#define V(name) VCAT(name, avx512)
#define LK_HAS_SCALEF 1
#define LK_HAS_AVX512BF16 1
#define LK_HALF_SUFFIX avx512bf16
#include "vector_half.inc"
#undef LK_HALF_SUFFIX
#undef LK_HAS_AVX512BF16
#undef LK_HAS_SCALEF
#undef V
#undef VCAT
#undef VCAT_
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#define ISA avx2
#define LK_GROUP_SPLIT 1
#define LK_HAS_MASKMOV 1
#include "vector_kernels.inc"
#undef LK_GROUP_SPLIT
#undef LK_HAS_MASKMOV
#undef ISA
#pragma clang attribute pop
#endif

#if defined(__x86_64__) && !defined(__SSE4_1__)
#undef LK_ROUND
#define LK_ROUND(v) LK_ROUND_SSE2(v)
#endif
#define ISA base
#include "vector_kernels.inc"
#undef ISA

static const lk_vtable *lk_active = &table_base;
static const lk_half_vtable *lk_half_active = &half_table_base;
static int lk_active_level = 0;

static int lk_cpu_has(int level) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (level == 2)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("f16c");
    if (level == 1)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#endif
    return level == 0;
}

int lk_set_instruction_set(int level) {
    if (level < 0 || level > 2 || !lk_cpu_has(level)) return 0;
#if defined(__x86_64__)
    __atomic_store_n(&lk_active, level == 2 ? &table_avx512 : level == 1 ? &table_avx2 : &table_base, __ATOMIC_RELAXED);
    __atomic_store_n(&lk_half_active,
                     level == 2 ? (__builtin_cpu_supports("avx512bf16") ? &half_table_avx512bf16 : &half_table_avx512)
                     : level == 1 ? &half_table_avx2 : &half_table_base,
                     __ATOMIC_RELAXED);
#endif
    __atomic_store_n(&lk_active_level, level, __ATOMIC_RELAXED);
    return 1;
}

int lk_instruction_set(void) { return __atomic_load_n(&lk_active_level, __ATOMIC_RELAXED); }

int lk_set_avx512_bf16(int enabled) {
#if defined(__x86_64__)
    if (__atomic_load_n(&lk_active_level, __ATOMIC_RELAXED) != 2) return 0;
    if (enabled && !__builtin_cpu_supports("avx512bf16")) return 0;
    __atomic_store_n(&lk_half_active, enabled ? &half_table_avx512bf16 : &half_table_avx512, __ATOMIC_RELAXED);
    return 1;
#else
    (void)enabled;
    return 0;
#endif
}

// Every kernel call reads the table once, atomically: switching sets while other
// threads compute is safe (each call runs wholly on one set).
static inline const lk_vtable *lk_table(void) { return __atomic_load_n(&lk_active, __ATOMIC_RELAXED); }
static inline const lk_half_vtable *lk_half_table(void) { return __atomic_load_n(&lk_half_active, __ATOMIC_RELAXED); }

// Chooses the best instruction set once, at load time (before any thread can
// call a kernel). LOSSKIT_ISA=base|avx2|avx512 caps the choice, for testing.
__attribute__((constructor)) static void lk_choose_instruction_set(void) {
    int cap = 2;
    const char *env = getenv("LOSSKIT_ISA");
    if (env && strcmp(env, "base") == 0) cap = 0;
    if (env && strcmp(env, "avx2") == 0) cap = 1;
    for (int level = cap; level >= 0; level--)
        if (lk_set_instruction_set(level)) break;
}

int lk_targets_valid(const int64_t *target, ptrdiff_t count, int64_t classes, int64_t ignore_index) {
    return count <= 0 || lk_table()->targets_valid(target, count, classes, ignore_index);
}

// ---- Pointwise losses: fixed blocks, Double partial sums added in order. ----

#define LK_MAX_BLOCKS 256

static double lk_pointwise_serial_f64(int kind, const double *x, const double *y, ptrdiff_t n, double *values,
                                      double *grad, const double *upstream, double scale) {
    double total = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) {
        double d = x[i] - y[i], value, dx;
        if (kind == 0) {
            value = d * d;
            dx = d;  // the 2 is in `scale` (see lk_pointwise_f64)
        } else if (kind == 1) {
            value = fabs(d);
            dx = d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0;  // sign(NaN) = 0, as torch.sign
        } else {
            double e = exp(-fabs(x[i]));
            value = (1.0 - y[i]) * x[i] + (x[i] < 0 ? -x[i] : 0.0) + log1p(e);
            dx = (1.0 - y[i]) - (x[i] >= 0 ? e / (1.0 + e) : 1.0 / (1.0 + e));
        }
        total += value;
        if (values) values[i] = value;
        if (grad) grad[i] = scale * (upstream ? upstream[i] : 1.0) * dx;
    }
    return total;
}

typedef struct {
    int kind, is_double, stream;
    const void *x, *y, *up;
    void *values, *grad;
    double scale;
    ptrdiff_t n, block, blocks;
    long parts;
    double *partials;
} lk_pointwise_job;

static void lk_pointwise_task(void *c, long part) {
    lk_pointwise_job *j = c;
    ptrdiff_t first = j->blocks * part / j->parts, last = j->blocks * (part + 1) / j->parts;
    for (ptrdiff_t b = first; b < last; b++) {
        ptrdiff_t lo = b * j->block, count = j->n - lo < j->block ? j->n - lo : j->block;
        if (j->is_double) {
            const double *up = j->up;
            double *values = j->values, *grad = j->grad;
            j->partials[b] = lk_pointwise_serial_f64(j->kind, (const double *)j->x + lo, (const double *)j->y + lo, count,
                                                     values ? values + lo : NULL, grad ? grad + lo : NULL,
                                                     up ? up + lo : NULL, j->scale);
        } else {
            const float *up = j->up;
            float *values = j->values, *grad = j->grad;
            j->partials[b] = lk_table()->pointwise_block(j->kind, (const float *)j->x + lo, (const float *)j->y + lo,
                                                         count, values ? values + lo : NULL, grad ? grad + lo : NULL,
                                                         up ? up + lo : NULL, (float)j->scale, j->stream);
        }
    }
}

static double lk_pointwise(lk_pointwise_job *j, int threads) {
    double partials[LK_MAX_BLOCKS];
    ptrdiff_t wanted = (j->n + LK_MAX_BLOCKS - 1) / LK_MAX_BLOCKS;
    if (wanted < (1 << 14)) wanted = 1 << 14;
    j->block = (wanted + 15) / 16 * 16;
    j->blocks = (j->n + j->block - 1) / j->block;
    j->partials = partials;
    j->parts = lk_parts_for(j->blocks, j->block, threads);
    if (j->parts <= 1) {
        j->parts = 1;
        lk_pointwise_task(j, 0);
    } else {
        lk_parallel_run(j->parts, threads, lk_pointwise_task, j);
    }
    double total = 0.0;
    for (ptrdiff_t b = 0; b < j->blocks; b++) total += partials[b];
    return total;
}

double lk_pointwise_f32(int kind, const float *x, const float *y, ptrdiff_t n, float *values, float *grad,
                        const float *upstream, float scale, int threads) {
    // Gradients of 16 MiB or more exceed the caches: non-temporal stores skip the
    // read-for-ownership and the later eviction. Decided by n alone.
    // The squared error's gradient 2 d takes its 2 in the scale, (2 scale upstream_i) d, as PyTorch's
    // (d · 2/n) · upstream for `mean`: d = 3e38 with n = 2 gives 3e38, where 2 d overflows.
    lk_pointwise_job j = {.kind = kind, .is_double = 0, .stream = n * (ptrdiff_t)sizeof(float) >= (16 << 20),
                          .x = x, .y = y, .up = upstream, .values = values, .grad = grad,
                          .scale = kind == 0 ? 2.0 * (double)scale : (double)scale, .n = n};
    return lk_pointwise(&j, threads);
}

double lk_pointwise_f64(int kind, const double *x, const double *y, ptrdiff_t n, double *values, double *grad,
                        const double *upstream, double scale, int threads) {
    lk_pointwise_job j = {.kind = kind, .is_double = 1, .x = x, .y = y, .up = upstream, .values = values,
                          .grad = grad, .scale = kind == 0 ? 2.0 * scale : scale, .n = n};
    return lk_pointwise(&j, threads);
}

// Log-softmax outputs larger than the caches are streamed past them with non-temporal
// stores (Float vector path): no read-for-ownership, no eviction later. Outputs of 64 MiB
// or more stream, at any thread count (see lk_softmax for rows of 768 or more): below
// that, the last-level cache (32 MiB here) keeps part of them, and streaming measured
// slower at 1 and 2 threads
// (an earlier 8 MiB threshold for several threads lost at 16 MiB outputs,
// 40960x100 log-softmax at 2 threads: 1.45 vs 1.06 ms). The choice changes no
// value (the same arithmetic either way), so results stay identical across threads.
#define LK_STREAM_BYTES (64 << 20)
// Softmax outputs under this stay in the caches between the passes over a row and
// between calls (see LK_NEXT_MAX_LOG_ROW_CACHED in vector_kernels.inc).
#define LK_CACHED_BYTES (8 << 20)
// Log-softmax rows of LK_STREAM_ROW or more (in floats, larger than the L1 cache) stream
// from LK_STREAM_ROW_BYTES of output (8 MiB), rows of 768 or more from 12 MiB (see
// lk_softmax); smaller outputs take plain stores. Plain stores win while the output
// stays in the cache between calls (each build its own buffer, 1M and 2M elements: 7-23%
// faster than streaming; with the A/B harness swapping the two builds' output buffers
// every round they lost 7-73% at 1 thread and up to 40% at 2), and that is what a caller
// that reuses its buffers, and the next operation reading the output, get. `losskit
// bench`, which reuses its buffers as PyTorch's caching allocator does, alternating the
// two builds 6 times (medians; streamed -> plain): 16x16384 0.088 -> 0.073 ms at 1 thread, 0.058 -> 0.038
// at 2; 64x16384 0.34 -> 0.30, 0.23 -> 0.18; 100x10000 0.32 -> 0.29, 0.17 -> 0.15;
// 32x50257 0.57 -> 0.55, 0.38 -> 0.28; 48x32768 (6 MiB) 0.54 -> 0.51, 0.35 -> 0.23;
// but at 8 MiB (256x8192, 200x10000) plain stores lost 16-36% at 1 thread (5-13% gain
// at 2), hence 8 MiB. (The A/B harness with swapped buffers, 100x10000 and 32x50257:
// 0.86x the time at 2 threads, 1.07-1.36x at 1.) No value changes either way.
#define LK_STREAM_ROW 8192
#define LK_STREAM_ROW_BYTES (8 << 20)
// Log-softmax rows of LK_COPY_ROW or more (those that take one read for the max and
// the sum, see LK_ONLINE_LOG_ROW in vector_kernels.inc) with outputs of 8 MiB to
// LK_COPY_BYTES, and rows of LK_NEXT_MAX_LOG_ROW_CACHED (8192) or more with outputs under
// LK_COPY_BYTES (in cache too: see there), copy x into y during that read, then write
// y = (y - m) - ls in place from L2, as softmax scales its exps in place: x's read and
// y's first write run in one sweep, and y, written with plain stores, stays in the
// last-level cache between calls. The same arithmetic on the same values, so the same
// bits. Against streaming (or, 8-12 MiB in rows under 8192, reading x twice),
// `losskit bench log-softmax`, medians of 5 runs alternating the two builds, time at 1 /
// 2 threads: 1024x2500 0.63 / 0.79, 640x4096 0.63 / 0.71, 256x8192 0.89 / 1.07,
// 96x50257 0.81 / 0.68, 16x262144 0.82 / 0.60, 3x333333 (4 MiB; split rows read x twice)
// 0.92 / 0.92, 2000x3000 (23 MiB) 0.97 / 1.00. From 24 MiB it lost or broke even:
// 1600x4096 1.13 / 1.12, 64x128256 1.12 / 0.97, 2560x4096 1.16 / 1.18, 4096x4096
// 1.31 / 1.32, 1024x32000 1.03 / 1.11 (but 128x50257 0.87 / 0.91). Copying x in a
// sweep of its own after each chunk's max (the stores in a burst, not among the exps)
// measured 1.1-1.5x the time.
#define LK_COPY_ROW 2048
#define LK_COPY_BYTES (24 << 20)
#define LK_COPIES(n, bytes, cached) \
    ((n) >= LK_COPY_ROW && (bytes) < LK_COPY_BYTES && (!(cached) || (n) >= LK_NEXT_MAX_LOG_ROW_CACHED))
#define LK_STREAMS(elements) ((elements) * (ptrdiff_t)sizeof(T) >= LK_STREAM_BYTES ? 1 : 0)
#define LK_CACHED(elements) ((elements) * (ptrdiff_t)sizeof(T) < LK_CACHED_BYTES ? 1 : 0)

#define T float
#define S f32
#define EXP expf
#define LOG logf
#define TANH tanhf
#define LK_VECTOR_ROWS lk_table()
#define LK_REBALANCED_SOFTMAX_BACKWARD 1
#include "kernels_template.inc"
#undef LK_REBALANCED_SOFTMAX_BACKWARD
#undef T
#undef S
#undef EXP
#undef LOG
#undef TANH
#undef LK_VECTOR_ROWS

#define T double
#define S f64
#define EXP exp
#define LOG log
#define TANH tanh
#include "kernels_template.inc"
#undef T
#undef S
#undef EXP
#undef LOG
#undef TANH

#include "half_kernels.inc"
