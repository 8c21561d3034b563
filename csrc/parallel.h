/* parallel.h: a loop over independent items (a batch's samples) split across the engine's
 * threads (cnn_set_num_threads).
 *
 * The workers sleep between loops (no spinning on a 2-core machine) and the caller runs
 * every range no worker has picked up, so a loop never waits for a thread to be scheduled
 * (see parallel.c). Inside a parallel range only unthreaded work may run (the small-matrix
 * kernel, OpenBLAS's small-matrix products, elementwise loops), so the engine's threads
 * are the only owners of the cores there. Each range runs with the
 * caller's floating-point mode (flush-to-zero, see fpmode.h), so results do not depend on
 * how the items were split. */
#ifndef CNN_PARALLEL_H
#define CNN_PARALLEL_H

#include <stdint.h>

/* The most ranges a loop is split into: scratch sized per range (ops' work_size) is sized
 * for this many, whatever the thread count is when the op runs. */
#define CNN_MAX_PARTS 4

typedef void (*cnn_range_fn)(void *ctx, int64_t begin, int64_t end, int part);

/* fn(ctx, begin, end, part) over consecutive ranges covering [0, n), each at least `grain`
 * items, one per thread (part 0 .. CNN_MAX_PARTS - 1 numbers them, for per-range scratch);
 * inline when one thread is enough or a thread cannot start. */
void cnn_parallel_for(int64_t n, int64_t grain, cnn_range_fn fn, void *ctx);

/* Elements per range for a streaming elementwise pass (a few ns each at most): ~10 us of
 * work, past the 1-3 us a hand-off costs. Smaller arrays run inline. */
#define CNN_ELEMENTWISE_GRAIN 32768

/* The grain for a loop whose items each cost `work_per_item` such elements (a row's floats,
 * a sample's pixels): ranges of at least CNN_ELEMENTWISE_GRAIN of work. */
static inline int64_t cnn_grain(int64_t work_per_item) {
    if (work_per_item >= CNN_ELEMENTWISE_GRAIN) return 1;
    return CNN_ELEMENTWISE_GRAIN / (work_per_item > 0 ? work_per_item : 1);
}

#endif
