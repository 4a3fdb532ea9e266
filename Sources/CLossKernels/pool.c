// A small persistent thread pool for the kernels: splitting rows across threads
// must not allocate per call (libdispatch's concurrentPerform does, twice), and
// workers are created once, on first use, then reused for the life of the process.
//
// One job runs at a time. A caller that finds the pool busy (another thread's job
// is running) runs its parts itself, in order: results are the same, since every
// part writes its own rows.
#include "lk_kernels.h"
#include <pthread.h>
#include <stdatomic.h>

#define LK_MAX_WORKERS 63

static pthread_mutex_t lk_pool_lock = PTHREAD_MUTEX_INITIALIZER;   // held by the submitting thread for a whole job
static pthread_mutex_t lk_state_lock = PTHREAD_MUTEX_INITIALIZER;  // guards the fields below
static pthread_cond_t lk_work_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t lk_work_done = PTHREAD_COND_INITIALIZER;
static int lk_workers;                // threads started so far
static unsigned long lk_generation;   // bumped for every job
static long lk_parts;                 // parts of the current job
static long lk_finished;              // parts finished
static lk_task lk_fn;
static void *lk_ctx;
static atomic_long lk_next;           // next part to claim

static void lk_run_parts(void) {
    for (;;) {
        long part = atomic_fetch_add_explicit(&lk_next, 1, memory_order_relaxed);
        if (part >= lk_parts) return;
        lk_fn(lk_ctx, part);
        pthread_mutex_lock(&lk_state_lock);
        if (++lk_finished == lk_parts) pthread_cond_signal(&lk_work_done);
        pthread_mutex_unlock(&lk_state_lock);
    }
}

static void *lk_worker(void *unused) {
    (void)unused;
    unsigned long seen = 0;
    pthread_mutex_lock(&lk_state_lock);
    for (;;) {
        while (lk_generation == seen) pthread_cond_wait(&lk_work_ready, &lk_state_lock);
        seen = lk_generation;
        pthread_mutex_unlock(&lk_state_lock);
        lk_run_parts();
        pthread_mutex_lock(&lk_state_lock);
    }
    return NULL;
}

long lk_parts_for(ptrdiff_t outer, ptrdiff_t block, int threads) {
    // At least 32768 elements per part: below that, waking a thread costs more than it saves.
    ptrdiff_t total = outer * (block > 0 ? block : 1);
    ptrdiff_t by_work = total / 32768 > 0 ? total / 32768 : 1;
    ptrdiff_t parts = threads < outer ? threads : outer;
    if (by_work < parts) parts = by_work;
    return parts > 0 ? (long)parts : 1;
}

void lk_parallel_run(long parts, int threads, lk_task fn, void *ctx) {
    if (parts <= 0) return;
    if (parts == 1 || threads <= 1 || pthread_mutex_trylock(&lk_pool_lock) != 0) {
        for (long part = 0; part < parts; part++) fn(ctx, part);
        return;
    }
    int wanted = threads - 1 < LK_MAX_WORKERS ? threads - 1 : LK_MAX_WORKERS;
    pthread_mutex_lock(&lk_state_lock);
    while (lk_workers < wanted) {
        pthread_t t;
        if (pthread_create(&t, NULL, lk_worker, NULL) != 0) break;
        pthread_detach(t);
        lk_workers++;
    }
    lk_fn = fn;
    lk_ctx = ctx;
    lk_parts = parts;
    lk_finished = 0;
    atomic_store_explicit(&lk_next, 0, memory_order_relaxed);
    lk_generation++;
    pthread_cond_broadcast(&lk_work_ready);
    pthread_mutex_unlock(&lk_state_lock);

    lk_run_parts();  // the caller works too

    pthread_mutex_lock(&lk_state_lock);
    while (lk_finished < lk_parts) pthread_cond_wait(&lk_work_done, &lk_state_lock);
    pthread_mutex_unlock(&lk_state_lock);
    pthread_mutex_unlock(&lk_pool_lock);
}

// ---- Per-thread row scratch ----
// Long rows (larger than L1) keep their exponentials in a per-thread buffer that
// stays in L2, so the final pass neither recomputes them nor reads the output
// back from memory. The buffer grows to the longest row a thread has seen and is
// reused by every later call (freed when the thread exits): no allocation per call.
#include <stdlib.h>

static pthread_key_t lk_scratch_key;
static pthread_once_t lk_scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local float *lk_scratch_buffer;
static _Thread_local size_t lk_scratch_capacity;

static void lk_scratch_free(void *p) { free(p); }
static void lk_scratch_init(void) { pthread_key_create(&lk_scratch_key, lk_scratch_free); }

float *lk_row_scratch(ptrdiff_t n) {
    if (n <= 0) return NULL;
    if ((size_t)n <= lk_scratch_capacity) return lk_scratch_buffer;
    pthread_once(&lk_scratch_once, lk_scratch_init);
    size_t bytes = ((size_t)n * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes);
    if (!p) return NULL;  // callers fall back to recomputing
    free(lk_scratch_buffer);
    lk_scratch_buffer = p;
    lk_scratch_capacity = bytes / sizeof(float);
    pthread_setspecific(lk_scratch_key, p);
    return p;
}
