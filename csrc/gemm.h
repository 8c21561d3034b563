/* gemm.h: the engine's one entry point for matrix products outside the recurrent time loops.
 *
 * Row-major C (m x n) = alpha op(A) op(B) + beta C, as cblas_sgemm. The engine's own threads
 * (cnn_parallel_for) split a product that is large enough into column or row blocks, and
 * each block runs unthreaded: the register-tile kernel (small_gemm.h) where it is faster,
 * OpenBLAS otherwise. OpenBLAS itself always runs on one thread (see gemm.c for why). */
#ifndef CNN_GEMM_H
#define CNN_GEMM_H

#include <stdint.h>

void cnn_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
              int64_t ldc);

#endif
