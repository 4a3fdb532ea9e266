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
#include <stdint.h>

#define LK_MAX_WORKERS 63
#define LK_SPINS 4000  // polls before sleeping: a job that follows shortly needs no wake-up

// The current job's state in one word: generation (24 bits) | parts (20) | next part
// to claim (20). A part is claimed by a compare-and-swap that also checks the
// generation, so a worker late from one job can never claim a part of the next;
// lk_fn and lk_ctx are written before the word is published (release) and read
// after a successful claim (acquire), and cannot change while a claimed part runs,
// because the job is not finished until that part is.
static _Atomic uint64_t lk_state;
static lk_task lk_fn;
static void *lk_ctx;
static atomic_long lk_finished;
static pthread_mutex_t lk_pool_lock = PTHREAD_MUTEX_INITIALIZER;   // held by the submitting thread for a whole job
static pthread_mutex_t lk_sleep_lock = PTHREAD_MUTEX_INITIALIZER;  // for sleeping and waking
static pthread_cond_t lk_work_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t lk_work_done = PTHREAD_COND_INITIALIZER;
static int lk_workers;         // guarded by lk_pool_lock
static uint64_t lk_last_gen;   // guarded by lk_pool_lock

#define LK_GEN(s) ((uint32_t)((s) >> 40))
#define LK_PARTS(s) ((long)(((s) >> 20) & 0xFFFFF))
#define LK_NEXT(s) ((long)((s) & 0xFFFFF))

static inline void lk_pause(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

// Claims and runs parts of generation `gen` until none are left.
static void lk_run_parts(uint32_t gen) {
    for (;;) {
        uint64_t s = atomic_load_explicit(&lk_state, memory_order_acquire);
        do {
            if (LK_GEN(s) != gen || LK_NEXT(s) >= LK_PARTS(s)) return;
        } while (!atomic_compare_exchange_weak_explicit(&lk_state, &s, s + 1, memory_order_acq_rel,
                                                        memory_order_acquire));
        lk_fn(lk_ctx, LK_NEXT(s));
        if (atomic_fetch_add_explicit(&lk_finished, 1, memory_order_acq_rel) + 1 == LK_PARTS(s)) {
            pthread_mutex_lock(&lk_sleep_lock);
            pthread_cond_signal(&lk_work_done);
            pthread_mutex_unlock(&lk_sleep_lock);
        }
    }
}

static void *lk_worker(void *unused) {
    (void)unused;
    uint32_t seen = LK_GEN(atomic_load_explicit(&lk_state, memory_order_acquire));
    for (;;) {
        uint64_t s = atomic_load_explicit(&lk_state, memory_order_acquire);
        for (int i = 0; i < LK_SPINS && LK_GEN(s) == seen; i++) {
            lk_pause();
            s = atomic_load_explicit(&lk_state, memory_order_acquire);
        }
        if (LK_GEN(s) == seen) {
            pthread_mutex_lock(&lk_sleep_lock);
            while (LK_GEN(s = atomic_load_explicit(&lk_state, memory_order_acquire)) == seen)
                pthread_cond_wait(&lk_work_ready, &lk_sleep_lock);
            pthread_mutex_unlock(&lk_sleep_lock);
        }
        seen = LK_GEN(s);
        lk_run_parts(seen);
    }
    return NULL;
}

// Up to this many parts per thread. The threads claim parts as they go (lk_run_parts), so
// when one thread runs slower, the others take more of the work instead of waiting for a
// fixed share; that is common on a VM whose cores are shared with other guests. Measured
// on a 2-vCPU VM, `losskit bench --threads 2`, 20 alternated runs of each build, in two
// separate comparisons: medians 0.84 / 1.56 -> 0.82 / 0.89 ms (softmax 40960x100),
// 0.85 / 0.93 -> 0.93 / 0.89 (699x6000), 0.85 / 0.99 -> 0.88 / 0.89 (log-softmax
// 26214x160); the 80th percentiles 1.25-1.74 -> 1.06-1.36 ms. On a quiet host, 4096x1000
// and 16384x256 softmax, 40960x100 log-softmax, 4096x1000 cross-entropy and 4M MSE were
// within 2%. The parts are contiguous row ranges, so results do not change.
#define LK_PARTS_PER_THREAD 4

int lk_max_threads(void) { return LK_MAX_WORKERS + 1; }

long lk_parts_for(ptrdiff_t outer, ptrdiff_t block, int threads) {
    // At least 32768 elements per part (before the rounding below), except that from 8192
    // per thread each thread gets one part. Below that, handing work to a thread costs more
    // than it saves. With 32768 as the only rule, 16384-65535 elements would stay on one
    // thread; `losskit bench`, 2 threads, medians of 4 alternated runs, time against that
    // rule: softmax 24x1000 0.55, 33x1000 0.67, 64x1000 0.58;
    // log-softmax 0.54, 0.63, 0.57; cross-entropy 24x1000 0.57, 48x1000 0.64; 96x1000 (2
    // parts either way) 1.00. From 4096 per thread it was mixed (softmax 12x1000 0.59,
    // cross-entropy and softmax 64x128 1.06). A worker slow to wake does not hold the
    // caller back: the caller claims the parts it has not taken yet.
    // When the work sets the count, it is rounded up to a multiple of the threads: 3 parts
    // on 2 threads would leave one thread with two of them and the other idle for the last
    // third. `losskit bench`, 2 threads, medians of 8 alternated runs, time against not
    // rounding: 3 -> 4 parts (softmax 1000x100, cross-entropy 100x1000, MSE on
    // 100000) 0.76-0.78; 7 -> 8 parts (256x1000: logsumexp and log-softmax 0.89, softmax
    // 0.93-1.02 in two runs, cross-entropy 0.98); 200x1000 (6 parts either way) 1.00.
    ptrdiff_t total = outer * (block > 0 ? block : 1);
    ptrdiff_t by_work = total / 32768 > 0 ? total / 32768 : 1;
    if (by_work < threads && total / 8192 >= threads) by_work = threads;
    ptrdiff_t wanted = threads > 1 ? (ptrdiff_t)threads * LK_PARTS_PER_THREAD : 1;
    ptrdiff_t parts = wanted < outer ? wanted : outer;
    // Between one and two rows per part, some parts take one row and some two (10 rows in
    // 8 parts), which can leave one thread a row behind the other: one row per part then,
    // if each row is work enough (32768 elements or more, as below). Contiguous ranges are
    // the same rows either way, so results do not change. `losskit bench`, 2 threads,
    // medians of 4 alternated runs, time against 8 parts: log-softmax 10x100000 0.87,
    // 12x100000 0.89, 14x70000 0.91, softmax 10x100000 0.86, cross-entropy 0.87, logsumexp
    // 0.88. One row per part at two rows per part or more was slower (16x100000 1.09,
    // 24x40000 1.08, 30x33000 1.09, softmax 20x50000 1.08: each thread's rows no longer
    // follow each other in memory).
    if (threads > 1 && wanted < outer && outer < 2 * wanted && outer <= by_work) parts = outer;
    if (by_work < parts) {
        parts = by_work;
        if (parts > threads && parts % threads != 0) {
            parts = (parts + threads - 1) / threads * threads;
            if (parts > outer) parts = outer;
        }
    }
    return parts > 0 ? (long)parts : 1;
}

void lk_parallel_run(long parts, int threads, lk_task fn, void *ctx) {
    if (parts <= 0) return;
    if (parts == 1 || threads <= 1 || parts > 0xFFFFF || pthread_mutex_trylock(&lk_pool_lock) != 0) {
        for (long part = 0; part < parts; part++) fn(ctx, part);
        return;
    }
    int wanted = threads - 1 < LK_MAX_WORKERS ? threads - 1 : LK_MAX_WORKERS;
    while (lk_workers < wanted) {
        pthread_t t;
        if (pthread_create(&t, NULL, lk_worker, NULL) != 0) break;
        pthread_detach(t);
        lk_workers++;
    }
    lk_fn = fn;
    lk_ctx = ctx;
    atomic_store_explicit(&lk_finished, 0, memory_order_relaxed);
    lk_last_gen = (lk_last_gen + 1) & 0xFFFFFF;
    if (lk_last_gen == 0) lk_last_gen = 1;
    uint32_t gen = (uint32_t)lk_last_gen;
    atomic_store_explicit(&lk_state, ((uint64_t)gen << 40) | ((uint64_t)parts << 20), memory_order_release);
    pthread_mutex_lock(&lk_sleep_lock);
    pthread_cond_broadcast(&lk_work_ready);
    pthread_mutex_unlock(&lk_sleep_lock);

    lk_run_parts(gen);  // the caller works too

    for (int i = 0; i < LK_SPINS && atomic_load_explicit(&lk_finished, memory_order_acquire) < parts; i++) lk_pause();
    if (atomic_load_explicit(&lk_finished, memory_order_acquire) < parts) {
        pthread_mutex_lock(&lk_sleep_lock);
        while (atomic_load_explicit(&lk_finished, memory_order_acquire) < parts)
            pthread_cond_wait(&lk_work_done, &lk_sleep_lock);
        pthread_mutex_unlock(&lk_sleep_lock);
    }
    pthread_mutex_unlock(&lk_pool_lock);
}
