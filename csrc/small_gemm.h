/* small_gemm.h: C (m x n) = A (m x k) . B (k x n) + beta C for the small row-major products of
 * the recurrent time loops, with an AVX-512 register-tile kernel. */
#ifndef CNN_SMALL_GEMM_H
#define CNN_SMALL_GEMM_H

#include <stdint.h>

/* Whether this CPU runs the kernel (AVX-512F); checked once. */
int cnn_small_sgemm_available(void);

/* Row-major C (m x n) = op(A) . B + beta C, op(A) = A (m x k, trans_a 0) or A^T with A stored
 * k x m (trans_a 1); any m, n, k >= 0. Call only when cnn_small_sgemm_available().
 * Each element of C is the same ordered sum whichever rows and columns share the call (the
 * engine's batch and block splits stay bit-identical): an FMA chain over each block of 384
 * steps of k, the block sums added to C in order. */
void cnn_small_sgemm(int trans_a, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

#endif
