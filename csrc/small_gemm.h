/* small_gemm.h: C (m x n) = A (m x k) . B (k x n) + beta C for the small row-major products of
 * the recurrent time loops and the engine's small Dense/conv products, with a register-tile
 * kernel: AVX-512 where the CPU has it, else AVX2 + FMA (small_gemm_avx512.c,
 * small_gemm_avx2.c); callers use OpenBLAS on CPUs with neither. */
#ifndef CNN_SMALL_GEMM_H
#define CNN_SMALL_GEMM_H

#include <stdint.h>

/* Whether a kernel runs on this CPU; checked once. */
int cnn_small_sgemm_available(void);
/* The kernel in use: "avx512", "avx2" or "none". */
const char *cnn_small_sgemm_kernel(void);
/* Rows of the kernel's register tile: row splits of a product are best made of whole tiles. */
int cnn_small_sgemm_tile_rows(void);
/* For tests: use the named kernel ("avx512", "avx2", "none"; "auto" for the CPU's best).
 * Returns 0, or -1 (nothing changed) for a kernel this CPU cannot run or an unknown name.
 * Not for use while ops run. */
int cnn_small_sgemm_select(const char *name);

/* Row-major C (m x n) = op(A) . B + beta C, op(A) = A (m x k, trans_a 0) or A^T with A stored
 * k x m (trans_a 1); any m, n, k >= 0. Call only when cnn_small_sgemm_available().
 * Each element of C is the same ordered sum whichever rows and columns share the call and
 * whichever kernel runs (the engine's batch and block splits stay bit-identical, and so do
 * AVX2 and AVX-512 machines): an FMA chain over each block of 384 steps of k, the block sums
 * added to C in order. */
void cnn_small_sgemm(int trans_a, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* C = beta C + sum over s < batch of op(A_s) . B_s, A_s = a + s stride_a, B_s = b + s stride_b
 * (each as above): a gradient summed over samples in one pass, C loaded and stored once per
 * chain. For k <= 384 the FMA chain runs through as many whole products as fit in 384 steps,
 * the chains' sums added to C in order; a longer k takes the products one at a time. */
void cnn_small_sgemm_batch(int trans_a, int64_t m, int64_t n, int64_t k, const float *a,
                           int64_t lda, int64_t stride_a, const float *b, int64_t ldb,
                           int64_t stride_b, int64_t batch, float beta, float *c, int64_t ldc);

#endif
