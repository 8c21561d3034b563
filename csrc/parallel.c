/* parallel.c: see parallel.h.
 *
 * A small pool of sleeping workers, started on first use. A loop is cut into ranges up
 * front (by the thread count alone, so results never depend on who runs which range);
 * the caller and the woken workers then claim ranges one by one. The caller claims too,
 * and only waits for ranges a worker has already started: when the cores are busy with
 * other programs and a worker is slow to wake, the caller simply runs its range itself.
 * (Threads started per call, as before, made every loop wait for a new thread to be
 * scheduled: on an oversubscribed laptop a 0.1 s LSTM fit took 2 s.)
 *
 * Waking a sleeping thread costs tens of microseconds in this VM, more than a whole Dense
 * product, so between loops a worker (and the caller waiting for a worker's range) first
 * spins for a short while (SPIN_NS) and only then sleeps: a training step's back-to-back
 * products find their workers awake. */
#include "parallel.h"

#include <pthread.h>
#include <time.h>

#include "cnn.h"
#include "fpmode.h"

#define MAX_PARTS CNN_MAX_PARTS

typedef struct {
    cnn_range_fn fn;
    void *ctx;
    int64_t n;
    int parts, next;           /* ranges in this loop, the next unclaimed one */
    unsigned pending;          /* ranges not finished yet */
    unsigned csr;              /* the caller's MXCSR (flush-to-zero on inside engine calls) */
} loop;

static pthread_mutex_t pool_busy = PTHREAD_MUTEX_INITIALIZER;  /* one loop at a time */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;       /* guards `current` */
static pthread_cond_t work_posted = PTHREAD_COND_INITIALIZER;
static pthread_cond_t work_done = PTHREAD_COND_INITIALIZER;
static loop current;
static int workers;       /* started so far */
static int sleepers;      /* workers blocked in work_posted; guarded by `lock` */
static unsigned posted;   /* loops posted so far; written under `lock`, read atomically */

/* How long a worker waits awake for the next loop, and the caller for a worker's range. */
#define SPIN_NS 100000

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spins while (*word == value) != stop_when_equal, for at most SPIN_NS. */
static void spin(const unsigned *word, unsigned value, int stop_when_equal) {
    int64_t deadline = now_ns() + SPIN_NS;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if ((__atomic_load_n(word, __ATOMIC_ACQUIRE) == value) == stop_when_equal) return;
            cpu_relax();
        }
        if (now_ns() > deadline) return;
    }
}

static unsigned get_csr(void) {
#if defined(__SSE__) || defined(__x86_64__)
    return _mm_getcsr();
#else
    return 0;
#endif
}

static void set_csr(unsigned csr) {
#if defined(__SSE__) || defined(__x86_64__)
    _mm_setcsr(csr);
#else
    (void)csr;
#endif
}

/* Runs unclaimed ranges of the current loop until none is left; called with `lock` held,
 * returns with it held. */
static void claim_and_run(void) {
    while (current.next < current.parts) {
        int k = current.next++;
        loop l = current;
        pthread_mutex_unlock(&lock);
        l.fn(l.ctx, l.n * k / l.parts, l.n * (k + 1) / l.parts, k);
        pthread_mutex_lock(&lock);
        unsigned left = current.pending - 1;
        __atomic_store_n(&current.pending, left, __ATOMIC_RELEASE);
        if (left == 0) pthread_cond_signal(&work_done);
    }
}

static void *worker(void *arg) {
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        if (current.next < current.parts) {
            set_csr(current.csr);
            claim_and_run();
            continue;
        }
        unsigned seen = posted;
        pthread_mutex_unlock(&lock);
        spin(&posted, seen, 0);
        pthread_mutex_lock(&lock);
        if (posted != seen) continue;
        sleepers++;
        while (posted == seen) pthread_cond_wait(&work_posted, &lock);
        sleepers--;
    }
    return NULL;
}

/* After fork() only the forking thread exists: start over with no workers and fresh locks
 * (the child's loops then run on the caller until new workers start). */
static void after_fork_in_child(void) {
    pthread_mutex_init(&pool_busy, NULL);
    pthread_mutex_init(&lock, NULL);
    pthread_cond_init(&work_posted, NULL);
    pthread_cond_init(&work_done, NULL);
    current = (loop){0};
    workers = 0;
    sleepers = 0;
}

static void start_workers(int wanted) {
    static int fork_handler;
    if (!fork_handler) fork_handler = pthread_atfork(NULL, NULL, after_fork_in_child) == 0;
    while (workers < wanted) {
        pthread_t tid;
        pthread_attr_t attr;
        if (pthread_attr_init(&attr) != 0) return;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int ok = pthread_create(&tid, &attr, worker, NULL) == 0;
        pthread_attr_destroy(&attr);
        if (!ok) return;  // no thread to be had: the caller runs the ranges itself
        workers++;
    }
}

void cnn_parallel_for(int64_t n, int64_t grain, cnn_range_fn fn, void *ctx) {
    int64_t parts = cnn_get_num_threads();
    if (grain < 1) grain = 1;
    if (parts > n / grain) parts = n / grain;
    if (parts > MAX_PARTS) parts = MAX_PARTS;
    // A loop already running (another Python thread inside the engine) keeps the pool:
    // this one runs its ranges inline, with the same cuts.
    if (parts <= 1 || pthread_mutex_trylock(&pool_busy) != 0) {
        for (int64_t k = 0; k < (parts > 1 ? parts : 1); k++)
            fn(ctx, n * k / (parts > 1 ? parts : 1), n * (k + 1) / (parts > 1 ? parts : 1), (int)k);
        return;
    }
    start_workers((int)parts - 1);
    pthread_mutex_lock(&lock);
    current = (loop){fn, ctx, n, (int)parts, 0, (int)parts, get_csr()};
    __atomic_store_n(&posted, posted + 1, __ATOMIC_RELEASE);
    if (sleepers) pthread_cond_broadcast(&work_posted);
    claim_and_run();
    if (current.pending > 0) {  // a worker still runs its range: wait awake, then asleep
        pthread_mutex_unlock(&lock);
        spin(&current.pending, 0, 1);
        pthread_mutex_lock(&lock);
    }
    while (current.pending > 0) pthread_cond_wait(&work_done, &lock);
    current.fn = NULL;
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&pool_busy);
}
