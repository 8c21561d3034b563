/* ops_linalg.c: matrix products on OpenBLAS sgemm.
 *
 * matmul(a, b): a (..., M, K) times b (K, N) -> (..., M, N), the leading dims of `a`
 *   folded into M so a Dense layer is one GEMM; or a batched product when b is
 *   (..., K, N) with the same leading dims as a.
 * bias_add(x, b): x (..., C) + b (C).
 * Backward uses beta = 1 so sgemm accumulates into the input gradients directly.
 * A single row (M = 1, batch-1 inference) goes to sgemv/sger: OpenBLAS's small-matrix
 * sgemm path runs such products several times slower.
 */
#include <string.h>

#include "blas.h"
#include "gemm.h"
#include "ops.h"
#include "parallel.h"

/* ---- matmul ---------------------------------------------------------------------- */

static cnn_status matmul_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n; (void)a;
    const cnn_shape *x = in[0], *w = in[1];
    if (x->ndim < 2 || w->ndim < 2)
        return cnn_fail(CNN_ERR_SHAPE, "matmul: both operands need rank >= 2, got %s and %s",
                        cnn_shape_fmt(x), cnn_shape_fmt(w));
    int64_t k = x->dim[x->ndim - 1], kw = w->dim[w->ndim - 2];
    if (k != kw && k != -1 && kw != -1)
        return cnn_fail(CNN_ERR_SHAPE, "matmul: inner dimensions differ: %s @ %s (%lld vs %lld)",
                        cnn_shape_fmt(x), cnn_shape_fmt(w), (long long)k, (long long)kw);
    if (w->ndim > 2) {
        if (w->ndim != x->ndim)
            return cnn_fail(CNN_ERR_SHAPE, "matmul: batched operands need equal rank, got %s and %s",
                            cnn_shape_fmt(x), cnn_shape_fmt(w));
        for (int i = 0; i < x->ndim - 2; i++)
            if (x->dim[i] != w->dim[i] && x->dim[i] != -1 && w->dim[i] != -1)
                return cnn_fail(CNN_ERR_SHAPE, "matmul: batch dimensions differ: %s @ %s",
                                cnn_shape_fmt(x), cnn_shape_fmt(w));
    }
    *out = *x;
    out->dim[out->ndim - 1] = w->dim[w->ndim - 1];
    return CNN_OK;
}

/* Sizes of the product as `batch` independent (M,K)x(K,N) GEMMs. */
static void matmul_dims(const cnn_op_ctx *c, int64_t *batch, int64_t *m, int64_t *k, int64_t *nn) {
    const cnn_shape *x = c->in_shape[0], *w = c->in_shape[1];
    *k = x->dim[x->ndim - 1];
    *nn = w->dim[w->ndim - 1];
    // Leading dims as a product, not numel / k: k or m may be 0 (empty tensors).
    int64_t lead = 1;
    for (int i = 0; i < x->ndim - 2; i++) lead *= x->dim[i];
    if (w->ndim == 2) { *batch = 1; *m = lead * x->dim[x->ndim - 2]; }
    else { *m = x->dim[x->ndim - 2]; *batch = lead; }
}

static cnn_status matmul_forward(cnn_op_ctx *c) {
    int64_t batch, m, k, n;
    matmul_dims(c, &batch, &m, &k, &n);
    int w_batched = c->in_shape[1]->ndim > 2;
    for (int64_t b = 0; b < batch; b++) {
        const float *x = c->in[0] + b * m * k;
        const float *w = c->in[1] + (w_batched ? b * k * n : 0);
        float *y = c->out + b * m * n;
        if (m == 0 || n == 0) continue;
        if (k == 0) { memset(y, 0, sizeof(float) * (size_t)(m * n)); continue; }
        if (m == 1) {  // y (N) = w^T (N,K) . x (K)
            cnn_sgemv(CblasRowMajor, CblasTrans, (int)k, (int)n, 1.0f, w, (int)n, x, 1, 0.0f, y, 1);
            continue;
        }
        // y (M,N) = x (M,K) . w (K,N)
        cnn_gemm(0, 0, m, n, k,
                  1.0f, x, k, w, n, 0.0f, y, n);
    }
    return CNN_OK;
}

static cnn_status matmul_backward(cnn_op_ctx *c) {
    int64_t batch, m, k, n;
    matmul_dims(c, &batch, &m, &k, &n);
    int w_batched = c->in_shape[1]->ndim > 2;
    // Fresh gradient buffers are written with beta = 0 instead of being zeroed first.
    float beta[2];
    for (int i = 0; i < 2; i++) {
        beta[i] = (c->grad_fresh >> i) & 1u ? 0.0f : 1.0f;
        if (beta[i] == 0.0f && c->in_grad[i] && (m == 0 || n == 0 || k == 0 || m == 1))
            memset(c->in_grad[i], 0, sizeof(float) * (size_t)cnn_shape_numel(c->in_shape[i]));
        if (m == 1) beta[i] = 1.0f;  // zeroed above; sger only accumulates
    }
    if (m == 0 || n == 0 || k == 0) return CNN_OK;
    for (int64_t b = 0; b < batch; b++) {
        const float *x = c->in[0] + b * m * k;
        const float *w = c->in[1] + (w_batched ? b * k * n : 0);
        const float *dy = c->out_grad + b * m * n;
        if (m == 1) {
            if (c->in_grad[0])  // dx (K) += w (K,N) . dy (N)
                cnn_sgemv(CblasRowMajor, CblasNoTrans, (int)k, (int)n, 1.0f, w, (int)n, dy, 1, beta[0],
                          c->in_grad[0] + b * k, 1);
            if (c->in_grad[1])  // dw (K,N) += x (K) outer dy (N)
                cnn_sger(CblasRowMajor, (int)k, (int)n, 1.0f, x, 1, dy, 1,
                         c->in_grad[1] + (w_batched ? b * k * n : 0), (int)n);
            continue;
        }
        if (c->in_grad[0])  // dx (M,K) += dy (M,N) . w^T (N,K)
            cnn_gemm(0, 1, m, k, n,
                      1.0f, dy, n, w, n, beta[0], c->in_grad[0] + b * m * k, k);
        if (c->in_grad[1])  // dw (K,N) += x^T (K,M) . dy (M,N)
            cnn_gemm(1, 0, k, n, m,
                      1.0f, x, k, dy, n, beta[1],
                      c->in_grad[1] + (w_batched ? b * k * n : 0), n);
    }
    return CNN_OK;
}

/* ---- bias_add -------------------------------------------------------------------- */

static cnn_status bias_add_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n; (void)a;
    const cnn_shape *x = in[0], *b = in[1];
    if (x->ndim < 1 || b->ndim != 1 ||
        (x->dim[x->ndim - 1] != b->dim[0] && x->dim[x->ndim - 1] != -1))
        return cnn_fail(CNN_ERR_SHAPE, "bias_add: bias %s does not match the last axis of %s",
                        cnn_shape_fmt(b), cnn_shape_fmt(x));
    *out = *x;
    return CNN_OK;
}

/* The passes of bias_add on the engine's threads: rows [b, e) of y = x + bias; elements of
 * dx += dy; columns [b, e) of db += the sum of dy's rows, each column summed in row order
 * whatever the split. */
typedef struct {
    const cnn_op_ctx *c;
    int64_t rows, ch;
} bias_job;

CNN_HOT static void bias_add_rows(void *arg, int64_t b, int64_t e, int part) {
    (void)part;
    const bias_job *j = arg;
    const float *x = j->c->in[0], *bias = j->c->in[1];
    for (int64_t r = b; r < e; r++) {
        const float *xr = x + r * j->ch;
        float *yr = j->c->out + r * j->ch;
        for (int64_t k = 0; k < j->ch; k++) yr[k] = xr[k] + bias[k];
    }
}

CNN_HOT static void bias_add_dx(void *arg, int64_t b, int64_t e, int part) {
    (void)part;
    const bias_job *j = arg;
    const float *dy = j->c->out_grad;
    float *dx = j->c->in_grad[0];
    if (j->c->grad_fresh & 1u) memcpy(dx + b, dy + b, sizeof(float) * (size_t)(e - b));
    else for (int64_t i = b; i < e; i++) dx[i] += dy[i];
}

CNN_HOT static void bias_add_db(void *arg, int64_t b, int64_t e, int part) {
    (void)part;
    const bias_job *j = arg;
    const float *dy = j->c->out_grad;
    float *db = j->c->in_grad[1];
    if (j->c->grad_fresh & 2u) memset(db + b, 0, sizeof(float) * (size_t)(e - b));
    for (int64_t r = 0; r < j->rows; r++) {
        const float *dyr = dy + r * j->ch;
        for (int64_t k = b; k < e; k++) db[k] += dyr[k];
    }
}

static cnn_status bias_add_forward(cnn_op_ctx *c) {
    int64_t ch = c->in_shape[1]->dim[0], rows = ch ? cnn_shape_numel(c->in_shape[0]) / ch : 0;
    bias_job j = {c, rows, ch};
    cnn_parallel_for(rows, cnn_grain(ch), bias_add_rows, &j);
    return CNN_OK;
}

static cnn_status bias_add_backward(cnn_op_ctx *c) {
    int64_t ch = c->in_shape[1]->dim[0], rows = ch ? cnn_shape_numel(c->in_shape[0]) / ch : 0;
    bias_job j = {c, rows, ch};
    if (c->in_grad[0]) cnn_parallel_for(rows * ch, CNN_ELEMENTWISE_GRAIN, bias_add_dx, &j);
    // db by columns: at least 16 per range (one vector), each column costing `rows` adds
    int64_t db_grain = cnn_grain(rows);
    if (c->in_grad[1]) cnn_parallel_for(ch, db_grain > 16 ? db_grain : 16, bias_add_db, &j);
    return CNN_OK;
}

const cnn_op_def cnn_ops_linalg[] = {
    {.name = "matmul", .min_inputs = 2, .max_inputs = 2, .infer = matmul_infer,
     .forward = matmul_forward, .backward = matmul_backward, .overwrites_fresh_grads = 1},
    {.name = "bias_add", .min_inputs = 2, .max_inputs = 2, .infer = bias_add_infer,
     .forward = bias_add_forward, .backward = bias_add_backward, .overwrites_fresh_grads = 1},
    {0},
};
