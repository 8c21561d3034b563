/* parallel.c: see parallel.h. */
#include "parallel.h"

#include <pthread.h>

#include "cnn.h"
#include "fpmode.h"

#define MAX_PARTS CNN_MAX_PARTS

typedef struct {
    cnn_range_fn fn;
    void *ctx;
    int64_t begin, end;
    int index;
    unsigned csr;  /* the caller's MXCSR (flush-to-zero on inside engine calls) */
} part;

static void *run_part(void *arg) {
    part *p = arg;
#if defined(__SSE__) || defined(__x86_64__)
    _mm_setcsr(p->csr);
#endif
    p->fn(p->ctx, p->begin, p->end, p->index);
    return NULL;
}

void cnn_parallel_for(int64_t n, int64_t grain, cnn_range_fn fn, void *ctx) {
    int64_t parts = cnn_get_num_threads();
    if (grain < 1) grain = 1;
    if (parts > n / grain) parts = n / grain;
    if (parts > MAX_PARTS) parts = MAX_PARTS;
    if (parts <= 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    part ps[MAX_PARTS];
    pthread_t tid[MAX_PARTS];
    int started[MAX_PARTS] = {0};
#if defined(__SSE__) || defined(__x86_64__)
    unsigned csr = _mm_getcsr();
#else
    unsigned csr = 0;
#endif
    for (int64_t k = 0; k < parts; k++) {
        ps[k] = (part){fn, ctx, n * k / parts, n * (k + 1) / parts, (int)k, csr};
        if (k > 0) started[k] = pthread_create(&tid[k], NULL, run_part, &ps[k]) == 0;
    }
    fn(ctx, ps[0].begin, ps[0].end, 0);
    for (int64_t k = 1; k < parts; k++) {
        if (started[k]) pthread_join(tid[k], NULL);
        else fn(ctx, ps[k].begin, ps[k].end, (int)k);  // no thread to be had: run it here
    }
}
