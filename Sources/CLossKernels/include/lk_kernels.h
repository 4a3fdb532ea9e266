// Private C kernels behind the `Kernels` module. No stable API: call them
// through `Kernels`, which checks sizes and splits work across threads.
//
// Every entry point takes `threads`: rows are split into contiguous parts (how
// many: lk_parts_for in pool.c) run on a persistent pool (see lk_parallel_run);
// results do not depend on the split.
//
// Layout of every kernel: a tensor seen as `outer` blocks of `n` entries along
// the axis being reduced, each entry followed by `inner` contiguous positions.
// Element (o, c, i) lives at o*n*inner + c*inner + i, and per-position results
// ("rows") are written at o*inner + i. Rows are independent, so callers may
// split `outer` across threads without changing any result.
#ifndef LK_KERNELS_H
#define LK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define LK_DECLARE(T, S)                                                                              \
    /* softmax (log_output = 0) or log-softmax (log_output = 1) along the axis. */                    \
    void lk_softmax_##S(const T *x, T *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,             \
                        int log_output, int threads);                                                  \
    /* dx from y = softmax(x) or log_softmax(x) and the upstream dy. */                               \
    void lk_softmax_backward_##S(const T *y, const T *dy, T *dx, ptrdiff_t outer, ptrdiff_t n,       \
                                 ptrdiff_t inner, int log_output, int threads);                        \
    void lk_logsumexp_##S(const T *x, T *out, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, int threads); \
    void lk_sum_##S(const T *x, T *out, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, int threads); \
    void lk_mean_##S(const T *x, T *out, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, int threads); \
    /* max along the axis; NaN wins (as in PyTorch), argmax is the first maximal index. */          \
    void lk_max_##S(const T *x, T *out, int64_t *argmax, ptrdiff_t outer, ptrdiff_t n,               \
                    ptrdiff_t inner, int threads);                                                     \
    /* p = 1: sum |x|, p = 2: sqrt(sum x^2), p = 0: max |x| (the infinity norm). */                  \
    void lk_norm_##S(const T *x, T *out, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, int p, int threads); \
    /* Fused softmax cross-entropy with class-index targets. Writes loss[row] (0 for ignored rows)  \
       and, when grad != NULL, grad = scale * upstream[row] * d loss[row] / d x. weight may be NULL. \
       Targets must already be validated: each is ignore_index or in [0, n). */                       \
    void lk_ce_index_##S(const T *x, const int64_t *target, const T *weight, int64_t ignore_index,    \
                         T label_smoothing, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, T *loss,   \
                         T *grad, const T *upstream, T scale, int threads);                            \
    /* Fused softmax cross-entropy with probability targets q (same layout as x). grad_x and        \
       grad_q may be NULL; both are scaled by scale * upstream[row]. */                               \
    void lk_ce_prob_##S(const T *x, const T *q, const T *weight, T label_smoothing, ptrdiff_t outer,  \
                        ptrdiff_t n, ptrdiff_t inner, T *loss, T *grad_x, T *grad_q,                  \
                        const T *upstream, T scale, int threads);                                 \
    /* Softmax cross-entropy of contiguous rows of a linear head's logits, in place: x holds the      \
       logits on entry and scale * upstream[row] * d loss / d x on exit (want_grad != 0). bias,       \
       weight, upstream may be NULL; softcap <= 0 means none; z_loss adds z lse^2 per kept row.       \
       Targets must already be validated. */                                                          \
    void lk_lce_rows_##S(T *x, const T *bias, const int64_t *target, const T *weight, int64_t ignore_index, \
                         T label_smoothing, T z_loss, T softcap, ptrdiff_t rows, ptrdiff_t n, T *loss,       \
                         const T *upstream, T scale, int want_grad, int threads);

LK_DECLARE(float, f32)
LK_DECLARE(double, f64)

#undef LK_DECLARE



// Instruction set of the vectorized Float kernels: 0 = baseline x86-64 (or any
// other CPU), 1 = AVX2 + FMA + F16C, 2 = AVX-512 (F, DQ, BW, VL) + F16C. Chosen at load time; setting it
// returns 0 (and changes nothing) when the CPU lacks the set. Switching is
// atomic: a kernel call already running finishes on the set it started with.
int lk_set_instruction_set(int level);

// Runs fn(ctx, part) for part in [0, parts) on up to `threads` threads (the caller
// included) of a persistent pool, and returns when all are done. Allocates nothing
// after the workers exist. Parts must be independent.
typedef void (*lk_task)(void *ctx, long part);
void lk_parallel_run(long parts, int threads, lk_task fn, void *ctx);
// The most threads lk_parallel_run uses: the caller and the pool's workers.
int lk_max_threads(void);
// How many parts `outer` blocks of `block` elements split into for `threads`.
long lk_parts_for(ptrdiff_t outer, ptrdiff_t block, int threads);
int lk_instruction_set(void);
// With AVX-512 active: the 16-bit kernels with AVX512_BF16's bfloat16 rounding (enabled,
// where the CPU has it; the default) or the AVX-512 build without it, so that one machine
// tests both. Returns 1 when the requested build is in use; selecting an instruction set
// restores the default.
int lk_set_avx512_bf16(int enabled);

// 1 if every one of `count` class indices is ignore_index or in [0, classes), else 0:
// the check before a cross-entropy call, one sweep of vector compares.
int lk_targets_valid(const int64_t *target, ptrdiff_t count, int64_t classes, int64_t ignore_index);

// Pointwise losses over n elements: kind 0 = (x - y)^2, 1 = |x - y|,
// 2 = logistic loss on logits (1 - y) x + log(1 + exp(-x)). Returns the sum
// (accumulated in double); writes per-element values and/or the gradient
// scale * upstream_i * d value_i / d x_i when the pointers are not NULL.
// Gradients of 16 MiB or more are written with non-temporal stores (they exceed the caches).
// The sum is taken over blocks fixed by n alone (at most 256 of them) whose Double
// partial sums are added in order, so it is identical for any `threads`.
double lk_pointwise_f32(int kind, const float *x, const float *y, ptrdiff_t n, float *values, float *grad,
                        const float *upstream, float scale, int threads);
double lk_pointwise_f64(int kind, const double *x, const double *y, ptrdiff_t n, double *values, double *grad,
                        const double *upstream, double scale, int threads);

// 16-bit storage: `format` 0 = float16 (IEEE binary16), 1 = bfloat16, elements passed as
// their bits. Each kernel computes what its _f32 form computes on the inputs widened to
// Float and rounds every output once (to nearest even; NaN stays NaN): the same results,
// bit for bit, for any `threads`. Scalars (label_smoothing, scale) are Float. Row kernels
// return 0, or -1 when their per-thread workspace (kept between calls) cannot be
// allocated; see half_kernels.inc. lk_reduce_h16's op: 0 logsumexp, 1 sum, 2 mean,
// 3 max (argmax may be NULL), 10 + p the norm of lk_norm_f32. lk_ce_index_h16 writes its
// losses in Float to loss_f32 instead of loss when loss_f32 is not NULL (the loss layer's
// reductions sum them unrounded).
int lk_softmax_h16(const uint16_t *x, uint16_t *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, int log_output,
                   int format, int threads);
int lk_softmax_backward_h16(const uint16_t *y, const uint16_t *dy, uint16_t *dx, ptrdiff_t outer, ptrdiff_t n,
                            ptrdiff_t inner, int log_output, int format, int threads);
int lk_reduce_h16(int op, const uint16_t *x, uint16_t *out, int64_t *argmax, ptrdiff_t outer, ptrdiff_t n,
                  ptrdiff_t inner, int format, int threads);
int lk_ce_index_h16(const uint16_t *x, const int64_t *target, const uint16_t *weight, int64_t ignore_index,
                    float label_smoothing, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, uint16_t *loss, float *loss_f32,
                    uint16_t *grad, const uint16_t *upstream, float scale, int format, int threads);
int lk_ce_prob_h16(const uint16_t *x, const uint16_t *q, const uint16_t *weight, float label_smoothing, ptrdiff_t outer,
                   ptrdiff_t n, ptrdiff_t inner, uint16_t *loss, uint16_t *grad_x, uint16_t *grad_q,
                   const uint16_t *upstream, float scale, int format, int threads);
double lk_pointwise_h16(int kind, const uint16_t *x, const uint16_t *y, ptrdiff_t n, uint16_t *values, uint16_t *grad,
                        const uint16_t *upstream, float scale, int format, int threads);
// Widens n elements to Float, or rounds n Floats to the format, on the calling thread.
void lk_half_widen(const uint16_t *h, float *f, ptrdiff_t n, int format);
void lk_half_narrow(const float *f, uint16_t *h, ptrdiff_t n, int format);
#endif
