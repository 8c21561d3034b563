/* small_gemm_tiles.h: what small_gemm.c's driver needs of an ISA's register-tile kernel
 * (small_gemm_avx512.c, small_gemm_avx2.c, both built from small_gemm_tile_impl.h).
 *
 * A tile is C[rows, cols] (rows <= mr, cols <= nr) = one FMA chain over the segments
 * s < segs and, in each, over p < k of A_s(r, p) * B_s(p, c), started from zero, then
 * added to beta C (C = beta C + sum) and stored. Every kernel computes that same chain, so
 * each element of C rounds the same way whichever kernel, tile or thread computes it. */
#ifndef CNN_SMALL_GEMM_TILES_H
#define CNN_SMALL_GEMM_TILES_H

#include <stdint.h>

/* The operands at a tile's origin: A_s(r, p) = a[s*sa + r*ars + p*acs],
 * B_s(p, c) = b[s*sb + p*ldb + c]. One plain product is one segment. */
typedef struct {
    const float *a, *b;
    int64_t ars, acs, sa, ldb, sb, k, segs;
} small_operands;

typedef void (*small_tile_fn)(int rows, int64_t cols, const small_operands *op, float beta,
                              float *c, int64_t ldc);

typedef struct {
    const char *name;  /* "avx512", "avx2" */
    int mr, nr;        /* the largest tile: rows, columns */
    small_tile_fn tile;
} small_kernel;

#if defined(__GNUC__) && defined(__x86_64__)
extern const small_kernel cnn_small_kernel_avx512;
extern const small_kernel cnn_small_kernel_avx2;
#endif

#endif
