/* gemm.c: see gemm.h.
 *
 * Why the engine splits products itself instead of letting OpenBLAS thread them: OpenBLAS's
 * workers spin and yield while they wait for each other, so on a 2-core laptop that also
 * runs a browser or a notebook kernel, one descheduled worker stalls every product of a
 * training step (a small MLP ran 6-10x slower at 2 threads than at 1 under such load), and
 * even idle its hand-off made products of 1-10 million multiply-adds slower at 2 threads
 * than at 1. The engine's pool (parallel.c) lets the caller run any block no worker has
 * picked up, so a busy core costs at most its own share. */
#include "gemm.h"

#include "blas.h"
#include "cnn.h"
#include "parallel.h"
#include "small_gemm.h"

/* Below this many multiply-adds (about 15 us on one core) a product runs on the caller: a
 * pool hand-off costs 1-3 us. */
#define PARALLEL_MIN_MACS (1 << 20)

/* The register-tile kernel beats OpenBLAS's SkylakeX kernels (1 thread) on the engine's
 * Dense and conv shapes up to about this size (e.g. 64x256x784: 146 vs 121 GFLOP/s;
 * 256x784x256: 133 vs 152); it needs a plain B and gains nothing on very thin C. */
#define SMALL_KERNEL_MAX_MACS (24 << 20)
#define SMALL_KERNEL_MIN_N 16

typedef struct {
    int trans_a, trans_b, small;
    int64_t m, n, k, lda, ldb, ldc, unit;
    float alpha, beta;
    const float *a, *b;
    float *c;
    int by_columns;
    int64_t parts, blocks;  /* OpenBLAS: the fixed parts the blocks are grouped into */
} gemm_job;

/* C[rows, cols] of the product, one kernel call; every element of C is the same ordered sum
 * over k whichever block holds it, so results do not depend on the thread count. */
static void gemm_block(const gemm_job *g, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    const float *a = g->a + (g->trans_a ? i0 : i0 * g->lda);
    const float *b = g->b + (g->trans_b ? j0 * g->ldb : j0);
    float *c = g->c + i0 * g->ldc + j0;
    if (g->small) {
        cnn_small_sgemm(g->trans_a, i1 - i0, j1 - j0, g->k, a, g->lda, b, g->ldb, g->beta, c,
                        g->ldc);
        return;
    }
    cnn_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
              g->trans_b ? CblasTrans : CblasNoTrans, (int)(i1 - i0), (int)(j1 - j0), (int)g->k,
              g->alpha, a, (int)g->lda, b, (int)g->ldb, g->beta, c, (int)g->ldc);
}

static void gemm_range(void *arg, int64_t begin, int64_t end, int part) {
    (void)part;
    const gemm_job *g = arg;
    int64_t lo = begin * g->unit, hi = end * g->unit;
    if (g->by_columns) gemm_block(g, 0, g->m, lo, hi < g->n ? hi : g->n);
    else gemm_block(g, lo, hi < g->m ? hi : g->m, 0, g->n);
}

/* Parts [begin, end) of an OpenBLAS product: one call per part, whichever thread runs it. */
static void gemm_parts(void *arg, int64_t begin, int64_t end, int part) {
    (void)part;
    const gemm_job *g = arg;
    for (int64_t p = begin; p < end; p++) {
        int64_t b0 = p * g->blocks / g->parts, b1 = (p + 1) * g->blocks / g->parts;
        gemm_range(arg, b0, b1, 0);
    }
}

void cnn_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
              int64_t ldc) {
    if (m <= 0 || n <= 0) return;
    double macs = (double)m * (double)n * (double)k;
    gemm_job g = {trans_a, trans_b, 0, m, n, k, lda, ldb, ldc, 0, alpha, beta, a, b, c, 0, 0, 0};
    // The kernel is chosen from the whole product, never from a block's size, so every
    // thread count computes each element the same way.
    g.small = cnn_small_sgemm_available() && !trans_b && alpha == 1.0f &&
              n >= SMALL_KERNEL_MIN_N &&
              macs <= SMALL_KERNEL_MAX_MACS;
    if (macs < PARALLEL_MIN_MACS || k == 0 || (g.small && cnn_get_num_threads() < 2)) {
        gemm_block(&g, 0, m, 0, n);
        return;
    }
    // Split the dimension whose operand is larger, so each thread reads (and OpenBLAS packs)
    // its own share of it: columns of B when n >= m, rows of A otherwise. Blocks are whole
    // register tiles (32 columns; the tile kernel's rows, or 16 for OpenBLAS's).
    g.by_columns = n >= m;
    g.unit = g.by_columns ? 32 : (g.small ? cnn_small_sgemm_tile_rows() : 16);
    int64_t extent = g.by_columns ? n : m, blocks = (extent + g.unit - 1) / g.unit;
    // OpenBLAS computes products of up to 1e6 multiply-adds on another path (its small-matrix
    // kernels), which rounds differently: its blocks stay above that, so a product takes the
    // same path at every thread count.
    double macs_per_block = macs / (double)blocks;
    double min_part = g.small ? PARALLEL_MIN_MACS / 2 : PARALLEL_MIN_MACS;
    int64_t grain = (int64_t)(min_part / macs_per_block) + 1;
    if (g.small) {  // the tile kernel rounds each element alike in any block: split freely
        cnn_parallel_for(blocks, grain, gemm_range, &g);
        return;
    }
    // OpenBLAS's kernels round an element differently by the size of the call that holds
    // it (its Haswell kernels do, in rows and columns alike), so its parts are fixed by the
    // shape alone and one thread runs the same calls one after another.
    int64_t parts = blocks / grain < CNN_MAX_PARTS ? blocks / grain : CNN_MAX_PARTS;
    if (parts < 2) {
        gemm_block(&g, 0, m, 0, n);
        return;
    }
    g.parts = parts;
    g.blocks = blocks;
    cnn_parallel_for(parts, 1, gemm_parts, &g);
}
