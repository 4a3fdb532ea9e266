// The memory floor of an operation on this machine: the time to read its inputs once and
// write its outputs once, and nothing else, at a given thread count. compare_pytorch.py
// builds this file (`cc -O2 -march=native`; it is a measuring tool for the machine it runs
// on, not part of the package) and reports each LossKit time against it.
//
//     memory_floor IN_FLOATS OUT_FLOATS THREADS [SECONDS]
//
// IN_FLOATS floats are read; OUT_FLOATS (0, or IN_FLOATS divided by 1 or 2) are written,
// each output vector the sum of the input vectors it stands for. The buffers are allocated
// once, 64-byte aligned, and reused by every run, as `losskit bench` reuses its own (so
// whatever of them the last-level cache keeps between runs helps here as it helps there).
// Each thread streams its share of every buffer. The output is written in two ways, in
// blocks of runs of their own: with non-temporal stores (no read for ownership) and with
// plain stores (better when the output stays in cache); the floor is the smaller of the two
// medians.
// Prints one JSON object: {"read_ns" or "nt_ns", "plain_ns", "floor_ns"}.
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float vf __attribute__((vector_size(64), aligned(64)));

// A 64-byte non-temporal store with the widest instructions -march=native allows.
static inline void stream_store(vf *p, vf v) {
#if defined(__AVX512F__)
    _mm512_stream_ps((float *)p, (__m512)v);
#elif defined(__AVX__)
    _mm256_stream_ps((float *)p, __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_stream_ps((float *)p + 8, __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15));
#else
    for (int k = 0; k < 16; k += 4) _mm_stream_ps((float *)p + k, _mm_loadu_ps((const float *)&v + k));
#endif
}

static float *in, *out;
static long n_in, n_out, threads;
static int mode;  // 0: read only, 1: non-temporal stores, 2: plain stores
static _Atomic long generation, done;
static volatile float sink[64 * 16];

static void run_part(long t) {
    const long ratio = n_out ? n_in / n_out : 0;
    const long vec_out = n_out / 16, vec_in = n_in / 16;
    if (!n_out) {
        const vf *x = (const vf *)in;
        vf s = {0};
        for (long i = vec_in * t / threads; i < vec_in * (t + 1) / threads; i++) s += x[i];
        sink[t * 16] = s[0];
        return;
    }
    const vf *x = (const vf *)in;
    vf *y = (vf *)out;
    const long i0 = vec_out * t / threads, i1 = vec_out * (t + 1) / threads;
    // One loop per store kind: with the choice inside the loop, clang merges the two
    // stores into one plain store.
    if (mode == 1) {
        for (long i = i0; i < i1; i++) stream_store(&y[i], ratio == 2 ? x[2 * i] + x[2 * i + 1] : x[i]);
        _mm_sfence();
    } else {
        for (long i = i0; i < i1; i++) y[i] = ratio == 2 ? x[2 * i] + x[2 * i + 1] : x[i];
    }
}

static void *worker(void *arg) {
    const long t = (long)arg;
    long seen = 0;
    for (;;) {
        long g;
        while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen) _mm_pause();
        if (g < 0) return NULL;
        seen = g;
        run_part(t);
        atomic_fetch_add_explicit(&done, 1, memory_order_acq_rel);
    }
}

static long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

// One run on every thread (the caller is thread 0); returns its time in nanoseconds.
static long one_run(void) {
    const long t0 = now_ns();
    atomic_store_explicit(&done, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&generation, 1, memory_order_acq_rel);
    run_part(0);
    while (atomic_load_explicit(&done, memory_order_acquire) < threads - 1) _mm_pause();
    return now_ns() - t0;
}

static int by_value(const void *a, const void *b) {
    const long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static long median(long *v, long k) {
    qsort(v, (size_t)k, sizeof *v, by_value);
    return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: memory_floor IN_FLOATS OUT_FLOATS THREADS [SECONDS]\n");
        return 2;
    }
    n_in = atol(argv[1]), n_out = atol(argv[2]), threads = atol(argv[3]);
    const double seconds = argc > 4 ? atof(argv[4]) : 0.5;
    if (n_in <= 0 || n_out < 0 || threads < 1 || threads > 64 ||
        (n_out && n_in != n_out && n_in != 2 * n_out)) {
        fprintf(stderr, "memory_floor: IN_FLOATS > 0, OUT_FLOATS 0 or IN_FLOATS / 1 or 2, 1-64 threads\n");
        return 2;
    }
    // Whole vectors: the output rounded up, and the input kept at the same multiple of it
    // (rounded apart, 14 in and 7 out became 16 and 16: a copy, not two reads per write).
    if (n_out) {
        const long ratio = n_in / n_out;
        n_out = (n_out + 15) / 16 * 16;
        n_in = ratio * n_out;
    } else {
        n_in = (n_in + 15) / 16 * 16;
    }
    in = aligned_alloc(64, (size_t)n_in * sizeof(float));
    out = n_out ? aligned_alloc(64, (size_t)n_out * sizeof(float)) : NULL;
    if (!in || (n_out && !out)) {
        fprintf(stderr, "memory_floor: out of memory\n");
        return 1;
    }
    for (long i = 0; i < n_in; i++) in[i] = (float)(i % 1000) * 1e-3f;
    if (out) memset(out, 0, (size_t)n_out * sizeof(float));
    pthread_t tid[64];
    for (long t = 1; t < threads; t++) pthread_create(&tid[t], NULL, worker, (void *)t);

    const int modes = n_out ? 2 : 1;
    mode = n_out ? 1 : 0;
    for (int w = 0; w < 3; w++) one_run();
    const long estimate = one_run() + 1;
    long runs = (long)(seconds * 1e9 / (double)(estimate * modes));
    if (runs < 5) runs = 5;
    if (runs > 20000) runs = 20000;
    long *times[2] = {malloc((size_t)runs * sizeof(long)), malloc((size_t)runs * sizeof(long))};
    // Each mode in blocks of its own (two warm-up runs first), three blocks each, so that
    // neither starts from the other's cache state: plain stores leave the output dirty in
    // the caches for the next run to write back.
    long filled[2] = {0, 0};
    for (int block = 0; block < 3; block++) {
        for (int m = 0; m < modes; m++) {
            mode = n_out ? 1 + m : 0;
            one_run(), one_run();
            for (long r = runs * block / 3; r < runs * (block + 1) / 3; r++) times[m][filled[m]++] = one_run();
        }
    }
    atomic_store_explicit(&generation, -1, memory_order_release);
    for (long t = 1; t < threads; t++) pthread_join(tid[t], NULL);

    if (!n_out) {
        const long read = median(times[0], filled[0]);
        printf("{\"read_ns\": %ld, \"floor_ns\": %ld, \"runs\": %ld}\n", read, read, runs);
    } else {
        const long nt = median(times[0], filled[0]), plain = median(times[1], filled[1]);
        printf("{\"nt_ns\": %ld, \"plain_ns\": %ld, \"floor_ns\": %ld, \"runs\": %ld}\n", nt, plain,
               nt < plain ? nt : plain, runs);
    }
    return 0;
}
