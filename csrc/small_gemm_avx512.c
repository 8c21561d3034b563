/* small_gemm_avx512.c: the AVX-512 register tile of small_gemm.c (small_gemm_tile_impl.h).
 * 14 x 32 results in 28 zmm registers: per step of k, two loads of B and 14 broadcasts of
 * A feeding 28 FMAs. */
#include "small_gemm_tiles.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define TILE_TARGET "avx512f"
#define MR 14  /* 28 accumulators of the 32 zmm registers */
#define W 16
typedef __m512 vec;
typedef __mmask16 vmask;
#define V_ZERO() _mm512_setzero_ps()
#define V_SET1(p) _mm512_set1_ps(*(p))
#define V_SPLAT(x) _mm512_set1_ps(x)
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_LOAD(full, mask, p) ((full) ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(mask, p))
#define V_STORE(full, mask, p, v) \
    ((full) ? _mm512_storeu_ps(p, v) : _mm512_mask_storeu_ps(p, mask, v))
#define TILE_NAME "avx512"
#define TILE_KERNEL cnn_small_kernel_avx512

static __mmask16 column_mask(int64_t cols) {
    return cols >= 16 ? (__mmask16)0xFFFF : cols <= 0 ? 0 : (__mmask16)((1u << cols) - 1u);
}

#include "small_gemm_tile_impl.h"

#endif
