/* small_gemm_avx2.c: the AVX2 + FMA register tile of small_gemm.c (small_gemm_tile_impl.h), for
 * the CPUs without AVX-512 (AMD before Zen 4, most Intel laptop and desktop chips).
 * 6 x 16 results in 12 of the 16 ymm registers: per step of k, two loads of B and 6
 * broadcasts of A feeding 12 FMAs, the shape of the usual Haswell-class kernels. The same
 * FMA chain as the AVX-512 tile, so both give bit-identical results. */
#include "small_gemm_tiles.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define TILE_TARGET "avx2,fma"
#define MR 6  /* 12 accumulators, 2 registers of B, 1 of A */
#define W 8
typedef __m256 vec;
typedef __m256i vmask;
#define V_ZERO() _mm256_setzero_ps()
#define V_SET1(p) _mm256_broadcast_ss(p)
#define V_SPLAT(x) _mm256_set1_ps(x)
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_LOAD(full, mask, p) ((full) ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask))
#define V_STORE(full, mask, p, v) \
    ((full) ? _mm256_storeu_ps(p, v) : _mm256_maskstore_ps(p, mask, v))
#define TILE_NAME "avx2"
#define TILE_KERNEL cnn_small_kernel_avx2

/* Lanes j < cols set (all of them from 8 on). */
__attribute__((target("avx2"))) static __m256i column_mask(int64_t cols) {
    int32_t n = cols > 8 ? 8 : cols < 0 ? 0 : (int32_t)cols;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

#include "small_gemm_tile_impl.h"

#endif
