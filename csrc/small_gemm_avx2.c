/* small_gemm_avx2.c: the AVX2 + FMA register tile of small_gemm.c (see small_gemm_tiles.h),
 * for the CPUs without AVX-512 (AMD before Zen 4, most Intel laptop and desktop chips).
 * 6 x 16 results in 12 of the 16 ymm registers: per step of k, two loads of B and 6
 * broadcasts of A feeding 12 FMAs, the shape of the usual Haswell-class kernels. The same
 * FMA chain as the AVX-512 tile, so both give bit-identical results. */
#include "small_gemm_tiles.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define MR 6   /* rows per register tile: 12 accumulators, 2 registers of B, 1 of A */
#define NR 16  /* columns per tile: two ymm */

#define LOAD(full, mask, p) ((full) ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask))
#define STORE(full, mask, p, v) \
    ((full) ? _mm256_storeu_ps(p, v) : _mm256_maskstore_ps(p, mask, v))

/* One ROWS x (8 or 16) tile; mask0/mask1 select the columns that exist (`two` = 0 for an
 * 8-column tile; `full` when all 16 exist). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
tile(const int rows, const int two, const int full, const small_operands *op, float beta,
     float *c, int64_t ldc,
     __m256i mask0, __m256i mask1) {
    __m256 acc0[MR], acc1[MR];
    const __m256 vbeta = _mm256_set1_ps(beta);
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++) {
        acc0[r] = _mm256_setzero_ps();
        if (two) acc1[r] = _mm256_setzero_ps();
    }
    const int64_t k = op->k, ars = op->ars, acs = op->acs, ldb = op->ldb;
    for (int64_t s = 0; s < op->segs; s++) {
        const float *a = op->a + s * op->sa, *b = op->b + s * op->sb;
        for (int64_t p = 0; p < k; p++) {
            const float *bp = b + p * ldb;
            __m256 b0 = LOAD(full, mask0, bp);
            __m256 b1 = two ? LOAD(full, mask1, bp + 8) : _mm256_setzero_ps();
#pragma GCC unroll 8
            for (int r = 0; r < rows; r++) {
                __m256 ar = _mm256_broadcast_ss(a + r * ars + p * acs);
                acc0[r] = _mm256_fmadd_ps(ar, b0, acc0[r]);
                if (two) acc1[r] = _mm256_fmadd_ps(ar, b1, acc1[r]);
            }
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < rows; r++) {
        if (beta != 0.0f) {
            acc0[r] = _mm256_fmadd_ps(vbeta, LOAD(full, mask0, c + r * ldc), acc0[r]);
            if (two) acc1[r] = _mm256_fmadd_ps(vbeta, LOAD(full, mask1, c + r * ldc + 8), acc1[r]);
        }
        STORE(full, mask0, c + r * ldc, acc0[r]);
        if (two) STORE(full, mask1, c + r * ldc + 8, acc1[r]);
    }
}

/* Lanes j < cols set (all of them from 8 on). */
__attribute__((target("avx2"))) static __m256i column_mask(int64_t cols) {
    int32_t n = cols > 8 ? 8 : cols < 0 ? 0 : (int32_t)cols;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#define TILE_CASE(R, TWO, FULL) \
    case R: tile(R, TWO, FULL, op, beta, c, ldc, m0, m1); break;
#define TILE_CASES(TWO, FULL)                                                                \
    switch (rows) {                                                                          \
    TILE_CASE(6, TWO, FULL) TILE_CASE(5, TWO, FULL) TILE_CASE(4, TWO, FULL)                  \
    TILE_CASE(3, TWO, FULL) TILE_CASE(2, TWO, FULL)                                          \
    default: tile(1, TWO, FULL, op, beta, c, ldc, m0, m1);                                     \
    }

__attribute__((target("avx2,fma"))) static void
tile_avx2(int rows, int64_t cols, const small_operands *op, float beta, float *c, int64_t ldc) {
    __m256i m0 = column_mask(cols), m1 = column_mask(cols - 8);
    if (cols >= NR) {
        TILE_CASES(1, 1)
    } else if (cols > 8) {
        TILE_CASES(1, 0)
    } else {
        TILE_CASES(0, 0)
    }
}

const small_kernel cnn_small_kernel_avx2 = {"avx2", MR, NR, tile_avx2};

#endif
