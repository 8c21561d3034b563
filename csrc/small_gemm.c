/* small_gemm.c: see small_gemm.h. This file picks the kernel and walks the tiles; the
 * register tiles themselves are per ISA (small_gemm_tiles.h).
 *
 * Why not OpenBLAS: the LSTM step's products (64 x 256 x 64 and 64 x 64 x 256) are too small
 * for its packed path to pay off, and its small-matrix kernels reach under half a core's
 * peak. They fit in L1 as they are: B's panel (k x 32 floats for AVX-512, k x 16 for AVX2)
 * stays cached while row tiles of A stream past it, so no packing is needed.
 * Measured against OpenBLAS 0.3.34 (1 thread, best of many calls, GFLOP/s):
 *   AVX-512 (SkylakeX kernels, Intel Xeon VM): 64x256x64 140 vs 122, 64x64x256 161 vs 116,
 *     the kernel gradient's 64x256x3200 (A transposed) 133 vs 114;
 *   AVX2 (Haswell kernels, AMD EPYC Zen 3 VM): see bench/RESULTS.md's kernel table. */
#include "small_gemm.h"

#include <string.h>

#include "small_gemm_tiles.h"

#if defined(__GNUC__) && defined(__x86_64__)

static const small_kernel *best_kernel(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return &cnn_small_kernel_avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &cnn_small_kernel_avx2;
    return NULL;
}

static const small_kernel *active;
static int chosen;  /* active has been set (it may be NULL: no kernel) */

static const small_kernel *kernel(void) {
    if (!chosen) {
        active = best_kernel();
        chosen = 1;
    }
    return active;
}

int cnn_small_sgemm_available(void) { return kernel() != NULL; }
const char *cnn_small_sgemm_kernel(void) { return kernel() ? kernel()->name : "none"; }
int cnn_small_sgemm_tile_rows(void) { return kernel() ? kernel()->mr : 16; }

int cnn_small_sgemm_select(const char *name) {
    const small_kernel *best = best_kernel(), *want = NULL;
    if (strcmp(name, "auto") == 0) want = best;
    else if (strcmp(name, "avx512") == 0 && best == &cnn_small_kernel_avx512) want = best;
    else if (strcmp(name, "avx2") == 0 && best) want = &cnn_small_kernel_avx2;  // AVX-512 CPUs have AVX2
    else if (strcmp(name, "none") != 0) return -1;
    active = want;
    chosen = 1;
    return 0;
}

/* A block of KC steps of k: its B panel (KC x 32 floats, 48 KiB at most) is read by every
 * row tile while it is cached; with the whole of a long k at once, B's strided rows would
 * alias in the caches' sets and stream from memory for each tile. Every kernel uses the same
 * blocks, so their sums agree. */
#define KC 384

/* C = beta C + the chain of `op` (its a, b at C's origin), tile by tile. */
static void tiles(const small_kernel *kn, int64_t m, int64_t n, small_operands op, float beta,
                  float *c, int64_t ldc) {
    int64_t mr = kn->mr, nr = kn->nr;
    const float *a = op.a, *b = op.b;
    // A small B (a thin k) stays cached whole: sweep C row by row. Otherwise a panel of B
    // stays cached while the row tiles pass it.
    int rows_outer = op.k * op.segs * n <= 4096;
    int64_t n_panels = (n + nr - 1) / nr, n_tiles = (m + mr - 1) / mr;
    for (int64_t outer = 0; outer < (rows_outer ? n_tiles : n_panels); outer++)
        for (int64_t inner = 0; inner < (rows_outer ? n_panels : n_tiles); inner++) {
            int64_t i = (rows_outer ? outer : inner) * mr, j = (rows_outer ? inner : outer) * nr;
            int64_t cols = n - j < nr ? n - j : nr;
            int rows = (int)(m - i < mr ? m - i : mr);
            op.a = a + i * op.ars;
            op.b = b + j;
            kn->tile(rows, cols, &op, beta, c + i * ldc + j, ldc);
        }
}

void cnn_small_sgemm_batch(int trans_a, int64_t m, int64_t n, int64_t k, const float *a,
                           int64_t lda, int64_t stride_a, const float *b, int64_t ldb,
                           int64_t stride_b, int64_t batch, float beta, float *c, int64_t ldc) {
    const small_kernel *kn = kernel();
    if (!kn) return;  // callers check cnn_small_sgemm_available() first
    small_operands op = {a, b, trans_a ? 1 : lda, trans_a ? lda : 1, stride_a, ldb, stride_b, 0, 1};
    if (k > KC || k == 0 || batch <= 1) {  // each product in blocks of KC steps, in turn
        for (int64_t s = 0; s < (batch > 1 ? batch : 1); s++)
            for (int64_t p0 = 0; p0 < k || p0 == 0; p0 += KC) {
                op.k = k - p0 < KC ? k - p0 : KC;
                op.a = a + s * stride_a + p0 * op.acs;
                op.b = b + s * stride_b + p0 * ldb;
                tiles(kn, m, n, op, s == 0 && p0 == 0 ? beta : 1.0f, c, ldc);  // later blocks add
                if (k == 0) break;
            }
        return;
    }
    // Short products: as many whole ones per chain as fit in KC steps.
    int64_t per_block = KC / k;
    op.k = k;
    for (int64_t s0 = 0; s0 < batch; s0 += per_block) {
        op.segs = batch - s0 < per_block ? batch - s0 : per_block;
        op.a = a + s0 * stride_a;
        op.b = b + s0 * stride_b;
        tiles(kn, m, n, op, s0 == 0 ? beta : 1.0f, c, ldc);
    }
}

void cnn_small_sgemm(int trans_a, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    cnn_small_sgemm_batch(trans_a, m, n, k, a, lda, 0, b, ldb, 0, 1, beta, c, ldc);
}

#else  /* not x86-64 GCC/Clang: callers use BLAS */

int cnn_small_sgemm_available(void) { return 0; }
const char *cnn_small_sgemm_kernel(void) { return "none"; }
int cnn_small_sgemm_tile_rows(void) { return 16; }
int cnn_small_sgemm_select(const char *name) { return strcmp(name, "none") == 0 || strcmp(name, "auto") == 0 ? 0 : -1; }

void cnn_small_sgemm(int trans_a, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    (void)trans_a; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)beta; (void)c;
    (void)ldc;
}

void cnn_small_sgemm_batch(int trans_a, int64_t m, int64_t n, int64_t k, const float *a,
                           int64_t lda, int64_t stride_a, const float *b, int64_t ldb,
                           int64_t stride_b, int64_t batch, float beta, float *c, int64_t ldc) {
    (void)trans_a; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)stride_a; (void)b; (void)ldb;
    (void)stride_b; (void)batch; (void)beta; (void)c; (void)ldc;
}

#endif
