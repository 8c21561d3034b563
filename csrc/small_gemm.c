/* small_gemm.c: see small_gemm.h.
 *
 * Why not OpenBLAS: the LSTM step's products (64 x 256 x 64 and 64 x 64 x 256) are too small
 * for its packed path to pay off and its small-matrix kernels reach ~85 GFLOP/s here, under
 * half the core's peak. They fit in L1 as they are: B's 32-column panel (k x 32 floats,
 * 8-32 KiB) stays cached while 8-row tiles of A stream past it, so no packing is needed.
 * Each tile keeps 14 x 32 results in 28 zmm registers: per k, two loads of B and 14
 * broadcasts of A feeding 28 FMAs. Measured against OpenBLAS 0.3.34's SkylakeX kernels
 * (1 thread, best of many calls, GFLOP/s): 64x256x64 140 vs 122, 64x64x256 161 vs 116,
 * 32x256x64 131 vs 109, the kernel gradient's 64x256x3200 (A transposed) 133 vs 114 and
 * 8x256x3200 75 vs 35; the input projection 3200x256x8 52 vs 48 (bound by memory). */
#include "small_gemm.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define MR 14  /* rows per register tile: 28 accumulators of the 32 zmm registers */
#define NR 32  /* columns per tile: two zmm */

int cnn_small_sgemm_available(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return cached;
}

/* Loads and stores of one tile row's 16 columns; a full tile (all 32 columns exist) uses
 * plain ones. */
#define LOAD(full, mask, p) ((full) ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(mask, p))
#define STORE(full, mask, p, v) \
    ((full) ? _mm512_storeu_ps(p, v) : _mm512_mask_storeu_ps(p, mask, v))

/* One ROWS x (16 or 32) tile; mask0/mask1 select the columns that exist (mask1 = 0 for a
 * 16-column tile, whose second half the compiler removes; `full` for all 32). */
__attribute__((target("avx512f"), always_inline)) static inline void
tile(const int rows, const int two, const int full, int64_t k, const float *a, int64_t ars,
     int64_t acs, const float *b, int64_t ldb, float beta, float *c, int64_t ldc,
     __mmask16 mask0, __mmask16 mask1) {
    __m512 acc0[MR], acc1[MR];
    const __m512 vbeta = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int r = 0; r < rows; r++) {
        acc0[r] = _mm512_setzero_ps();
        if (two) acc1[r] = _mm512_setzero_ps();
    }
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
    // This block's sum is added to C at the end, not accumulated on top of it: a long k (or
    // a gradient summed over many calls) then rounds as a sum of block sums.
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

#define TILE_CASE(R, TWO, FULL) \
    case R: tile(R, TWO, FULL, kb, ai, ars, acs, bj, ldb, beta_block, ci, ldc, m0, m1); break;
#define TILE_CASES(TWO, FULL)                                                                \
    switch (rows) {                                                                          \
    TILE_CASE(14, TWO, FULL) TILE_CASE(13, TWO, FULL) TILE_CASE(12, TWO, FULL)               \
    TILE_CASE(11, TWO, FULL) TILE_CASE(10, TWO, FULL) TILE_CASE(9, TWO, FULL)                \
    TILE_CASE(8, TWO, FULL) TILE_CASE(7, TWO, FULL) TILE_CASE(6, TWO, FULL)                  \
    TILE_CASE(5, TWO, FULL) TILE_CASE(4, TWO, FULL) TILE_CASE(3, TWO, FULL)                  \
    TILE_CASE(2, TWO, FULL)                                                                  \
    default: tile(1, TWO, FULL, kb, ai, ars, acs, bj, ldb, beta_block, ci, ldc, m0, m1);     \
    }

static __mmask16 column_mask(int64_t cols) {
    return cols >= 16 ? (__mmask16)0xFFFF : cols <= 0 ? 0 : (__mmask16)((1u << cols) - 1u);
}

/* A block of KC steps of k: its B panel (KC x 32 floats, 48 KiB at most) is read by every
 * row tile while it is cached; with the whole of a long k at once, B's strided rows would
 * alias in the caches' sets and stream from memory for each tile. */
#define KC 384

__attribute__((target("avx512f"))) void
cnn_small_sgemm(int trans_a, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    int64_t ars = trans_a ? 1 : lda, acs = trans_a ? lda : 1;  // A(r, p) = a[r*ars + p*acs]
    for (int64_t p0 = 0; p0 < k || p0 == 0; p0 += KC) {
        int64_t kb = k - p0 < KC ? k - p0 : KC;
        float beta_block = p0 == 0 ? beta : 1.0f;  // later blocks accumulate
        // A small B (a thin k) stays cached whole: sweep C row by row. Otherwise a 32-column
        // panel of B stays cached while the row tiles pass it.
        int rows_outer = kb * n <= 4096;
        int64_t n_panels = (n + NR - 1) / NR, n_tiles = (m + MR - 1) / MR;
        for (int64_t outer = 0; outer < (rows_outer ? n_tiles : n_panels); outer++)
            for (int64_t inner = 0; inner < (rows_outer ? n_panels : n_tiles); inner++) {
                int64_t i = (rows_outer ? outer : inner) * MR, j = (rows_outer ? inner : outer) * NR;
                int64_t cols = n - j;
                __mmask16 m0 = column_mask(cols), m1 = column_mask(cols - 16);
                const float *bj = b + p0 * ldb + j;
                int rows = m - i < MR ? (int)(m - i) : MR;
                const float *ai = a + i * ars + p0 * acs;
                float *ci = c + i * ldc + j;
                if (cols >= NR) {
                    TILE_CASES(1, 1)
                } else if (m1) {
                    TILE_CASES(1, 0)
                } else {
                    TILE_CASES(0, 0)
                }
            }
        if (k == 0) break;
    }
}

#else  /* not x86-64 GCC/Clang: callers use BLAS */

int cnn_small_sgemm_available(void) { return 0; }

void cnn_small_sgemm(int trans_a, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    (void)trans_a; (void)m; (void)n; (void)k; (void)a; (void)lda; (void)b; (void)ldb; (void)beta; (void)c;
    (void)ldc;
}

#endif
