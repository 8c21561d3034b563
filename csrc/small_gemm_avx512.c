/* small_gemm_avx512.c: the AVX-512 register tile of small_gemm.c (see small_gemm_tiles.h).
 * 14 x 32 results in 28 zmm registers: per step of k, two loads of B and 14 broadcasts of
 * A feeding 28 FMAs. */
#include "small_gemm_tiles.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define MR 14  /* rows per register tile: 28 accumulators of the 32 zmm registers */
#define NR 32  /* columns per tile: two zmm */

/* Loads and stores of one tile row's 16 columns; a full tile (all 32 columns exist) uses
 * plain ones. */
#define LOAD(full, mask, p) ((full) ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(mask, p))
#define STORE(full, mask, p, v) \
    ((full) ? _mm512_storeu_ps(p, v) : _mm512_mask_storeu_ps(p, mask, v))

/* One ROWS x (16 or 32) tile; mask0/mask1 select the columns that exist (mask1 = 0 for a
 * 16-column tile, whose second half the compiler removes; `full` for all 32). */
__attribute__((target("avx512f"), always_inline)) static inline void
tile(const int rows, const int two, const int full, const small_operands *op, float beta,
     float *c, int64_t ldc,
     __mmask16 mask0, __mmask16 mask1) {
    __m512 acc0[MR], acc1[MR];
    const __m512 vbeta = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int r = 0; r < rows; r++) {
        acc0[r] = _mm512_setzero_ps();
        if (two) acc1[r] = _mm512_setzero_ps();
    }
    const int64_t k = op->k, ars = op->ars, acs = op->acs, ldb = op->ldb;
    for (int64_t s = 0; s < op->segs; s++) {
        const float *a = op->a + s * op->sa, *b = op->b + s * op->sb;
        for (int64_t p = 0; p < k; p++) {
            const float *bp = b + p * ldb;
            __m512 b0 = LOAD(full, mask0, bp);
            __m512 b1 = two ? LOAD(full, mask1, bp + 16) : _mm512_setzero_ps();
#pragma GCC unroll 16
            for (int r = 0; r < rows; r++) {
                __m512 ar = _mm512_set1_ps(a[r * ars + p * acs]);
                acc0[r] = _mm512_fmadd_ps(ar, b0, acc0[r]);
                if (two) acc1[r] = _mm512_fmadd_ps(ar, b1, acc1[r]);
            }
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < rows; r++) {
        if (beta != 0.0f) {
            acc0[r] = _mm512_fmadd_ps(vbeta, LOAD(full, mask0, c + r * ldc), acc0[r]);
            if (two) acc1[r] = _mm512_fmadd_ps(vbeta, LOAD(full, mask1, c + r * ldc + 16), acc1[r]);
        }
        STORE(full, mask0, c + r * ldc, acc0[r]);
        if (two) STORE(full, mask1, c + r * ldc + 16, acc1[r]);
    }
}

static __mmask16 column_mask(int64_t cols) {
    return cols >= 16 ? (__mmask16)0xFFFF : cols <= 0 ? 0 : (__mmask16)((1u << cols) - 1u);
}

#define TILE_CASE(R, TWO, FULL) \
    case R: tile(R, TWO, FULL, op, beta, c, ldc, m0, m1); break;
#define TILE_CASES(TWO, FULL)                                                                \
    switch (rows) {                                                                          \
    TILE_CASE(14, TWO, FULL) TILE_CASE(13, TWO, FULL) TILE_CASE(12, TWO, FULL)               \
    TILE_CASE(11, TWO, FULL) TILE_CASE(10, TWO, FULL) TILE_CASE(9, TWO, FULL)                \
    TILE_CASE(8, TWO, FULL) TILE_CASE(7, TWO, FULL) TILE_CASE(6, TWO, FULL)                  \
    TILE_CASE(5, TWO, FULL) TILE_CASE(4, TWO, FULL) TILE_CASE(3, TWO, FULL)                  \
    TILE_CASE(2, TWO, FULL)                                                                  \
    default: tile(1, TWO, FULL, op, beta, c, ldc, m0, m1);                                     \
    }

__attribute__((target("avx512f"))) static void
tile_avx512(int rows, int64_t cols, const small_operands *op, float beta, float *c, int64_t ldc) {
    __mmask16 m0 = column_mask(cols), m1 = column_mask(cols - 16);
    if (cols >= NR) {
        TILE_CASES(1, 1)
    } else if (m1) {
        TILE_CASES(1, 0)
    } else {
        TILE_CASES(0, 0)
    }
}

const small_kernel cnn_small_kernel_avx512 = {"avx512", MR, NR, tile_avx512};

#endif
