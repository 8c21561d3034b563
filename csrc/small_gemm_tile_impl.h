/* small_gemm_tile_impl.h: the register tile of small_gemm.c written once, instantiated by each
 * ISA's file (small_gemm_avx512.c, small_gemm_avx2.c), which defines before including it:
 *   TILE_TARGET     the target attribute ("avx512f", "avx2,fma")
 *   MR, W           rows per tile; floats per vector (a tile is MR x 2W)
 *   vec, vmask      the vector and column-mask types
 *   V_ZERO(), V_SET1(p), V_SPLAT(x), V_FMA(a, b, c)   zero; broadcast *p; broadcast x;
 *                   a * b + c, fused
 *   V_LOAD(full, mask, p), V_STORE(full, mask, p, v)   whole vectors when `full`, else the
 *                   columns `mask` selects
 *   column_mask(cols)   the mask of columns j < cols of one vector (all from W on)
 *   TILE_NAME, TILE_KERNEL   the kernel's name and the small_kernel it defines
 * Every instantiation computes the chain small_gemm_tiles.h describes, in the same order. */

/* One ROWS x (W or 2W) tile; mask0/mask1 select the columns that exist (`two` = 0 for a
 * one-vector tile; `full` when all 2W exist). */
__attribute__((target(TILE_TARGET), always_inline)) static inline void
tile(const int rows, const int two, const int full, const small_operands *op, float beta,
     float *c, int64_t ldc, vmask mask0, vmask mask1) {
    vec acc0[MR], acc1[MR];
    const vec vbeta = V_SPLAT(beta);
#pragma GCC unroll 16
    for (int r = 0; r < rows; r++) {
        acc0[r] = V_ZERO();
        if (two) acc1[r] = V_ZERO();
    }
    const int64_t k = op->k, ars = op->ars, acs = op->acs, ldb = op->ldb;
    for (int64_t s = 0; s < op->segs; s++) {
        const float *a = op->a + s * op->sa, *b = op->b + s * op->sb;
        for (int64_t p = 0; p < k; p++) {
            const float *bp = b + p * ldb;
            vec b0 = V_LOAD(full, mask0, bp);
            vec b1 = two ? V_LOAD(full, mask1, bp + W) : V_ZERO();
#pragma GCC unroll 16
            for (int r = 0; r < rows; r++) {
                vec ar = V_SET1(a + r * ars + p * acs);
                acc0[r] = V_FMA(ar, b0, acc0[r]);
                if (two) acc1[r] = V_FMA(ar, b1, acc1[r]);
            }
        }
    }
    // This chain's sum is added to C at the end, not accumulated on top of it: a long k (or
    // a gradient summed over many calls) then rounds as a sum of chain sums.
#pragma GCC unroll 16
    for (int r = 0; r < rows; r++) {
        if (beta != 0.0f) {
            acc0[r] = V_FMA(vbeta, V_LOAD(full, mask0, c + r * ldc), acc0[r]);
            if (two) acc1[r] = V_FMA(vbeta, V_LOAD(full, mask1, c + r * ldc + W), acc1[r]);
        }
        V_STORE(full, mask0, c + r * ldc, acc0[r]);
        if (two) V_STORE(full, mask1, c + r * ldc + W, acc1[r]);
    }
}

#define TILE_CASE(R, TWO, FULL) \
    case R: tile(R, TWO, FULL, op, beta, c, ldc, m0, m1); break;
#if MR == 14
#define TILE_CASES_ABOVE_6(TWO, FULL)                                                        \
    TILE_CASE(14, TWO, FULL) TILE_CASE(13, TWO, FULL) TILE_CASE(12, TWO, FULL)               \
    TILE_CASE(11, TWO, FULL) TILE_CASE(10, TWO, FULL) TILE_CASE(9, TWO, FULL)                \
    TILE_CASE(8, TWO, FULL) TILE_CASE(7, TWO, FULL)
#elif MR == 6
#define TILE_CASES_ABOVE_6(TWO, FULL)
#else
#error "small_gemm_tile_impl.h: MR must be 6 or 14"
#endif
#define TILE_CASES(TWO, FULL)                                                                \
    switch (rows) {                                                                          \
    TILE_CASES_ABOVE_6(TWO, FULL)                                                            \
    TILE_CASE(6, TWO, FULL) TILE_CASE(5, TWO, FULL) TILE_CASE(4, TWO, FULL)                  \
    TILE_CASE(3, TWO, FULL) TILE_CASE(2, TWO, FULL)                                          \
    default: tile(1, TWO, FULL, op, beta, c, ldc, m0, m1);                                   \
    }

__attribute__((target(TILE_TARGET))) static void
tile_any(int rows, int64_t cols, const small_operands *op, float beta, float *c, int64_t ldc) {
    vmask m0 = column_mask(cols), m1 = column_mask(cols - W);
    if (cols >= 2 * W) {
        TILE_CASES(1, 1)
    } else if (cols > W) {
        TILE_CASES(1, 0)
    } else {
        TILE_CASES(0, 0)
    }
}

const small_kernel TILE_KERNEL = {TILE_NAME, MR, 2 * W, tile_any};
