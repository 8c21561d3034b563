/* ops_sequence.c: ops for sequence models.
 *
 * embedding(indices, table): indices of any shape (...) hold row numbers stored as float32
 *   integers; table is (V, D). out (..., D) is out[i, :] = table[indices[i], :], a gather.
 *   Backward scatter-adds out_grad's rows into the table's gradient (a row picked several
 *   times gets the sum); the indices get no gradient (no_grad_inputs bit 0). An index that
 *   is not an integer in [0, V) is a CNN_ERR_VALUE naming the op, the index and V.
 *   float32 holds every integer up to 2^24 exactly, so V may be at most 16777216.
 *
 * not_equal_any(x): x (..., F), floats = [value] -> (...), 1 where some x[..., f] differs
 *   from value, else 0: the Masking layer's mask (a step whose features all equal
 *   mask_value is skipped). Not differentiable: a mask is a constant of the data.
 */
#include <math.h>
#include <string.h>

#include "ops.h"

#define EMB_MAX_ROWS 16777216  /* 2^24: the largest V whose row numbers float32 holds exactly */

/* ---- embedding --------------------------------------------------------------------- */

static cnn_status embedding_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n; (void)a;
    const cnn_shape *idx = in[0], *tab = in[1];
    if (tab->ndim != 2 || tab->dim[0] < 0 || tab->dim[1] < 0)
        return cnn_fail(CNN_ERR_SHAPE, "embedding: the table must be (V, D) with known sizes; got "
                        "table %s for indices %s", cnn_shape_fmt(tab), cnn_shape_fmt(idx));
    if (tab->dim[0] > EMB_MAX_ROWS)
        return cnn_fail(CNN_ERR_VALUE, "embedding: table %s has more than %d rows, which float32 "
                        "indices cannot address exactly", cnn_shape_fmt(tab), EMB_MAX_ROWS);
    if (idx->ndim + 1 > CNN_MAX_DIMS)
        return cnn_fail(CNN_ERR_SHAPE, "embedding: indices %s have too many dims (the output "
                        "adds one; at most %d)", cnn_shape_fmt(idx), CNN_MAX_DIMS);
    *out = *idx;
    out->dim[out->ndim++] = tab->dim[1];
    return CNN_OK;
}

/* The row of a float index, or -1 after recording an error naming the index and V. */
static int64_t embedding_row(float v, int64_t rows) {
    if (!(v >= 0.0f && (double)v < (double)rows && floorf(v) == v)) {
        cnn_fail(CNN_ERR_VALUE, "embedding: index %g is not an integer row index in [0, %lld) "
                 "(the table has V = %lld rows)", (double)v, (long long)rows, (long long)rows);
        return -1;
    }
    return (int64_t)v;
}

static cnn_status embedding_forward(cnn_op_ctx *c) {
    const cnn_shape *tab = c->in_shape[1];
    int64_t n = cnn_shape_numel(c->in_shape[0]), rows = tab->dim[0], d = tab->dim[1];
    const float *idx = c->in[0], *table = c->in[1];
    for (int64_t i = 0; i < n; i++) {
        int64_t r = embedding_row(idx[i], rows);
        if (r < 0) return CNN_ERR_VALUE;
        if (d) memcpy(c->out + i * d, table + r * d, sizeof(float) * (size_t)d);
    }
    return CNN_OK;
}

static cnn_status embedding_backward(cnn_op_ctx *c) {
    float *dt = c->in_grad[1];
    if (!dt) return CNN_OK;
    const cnn_shape *tab = c->in_shape[1];
    int64_t n = cnn_shape_numel(c->in_shape[0]), rows = tab->dim[0], d = tab->dim[1];
    const float *idx = c->in[0];
    for (int64_t i = 0; i < n; i++) {
        int64_t r = embedding_row(idx[i], rows);
        if (r < 0) return CNN_ERR_VALUE;
        float *dst = dt + r * d;
        const float *src = c->out_grad + i * d;
        for (int64_t j = 0; j < d; j++) dst[j] += src[j];
    }
    return CNN_OK;
}

/* ---- not_equal_any ----------------------------------------------------------------- */

static cnn_status not_equal_any_infer(int n, const cnn_shape *const *in, const cnn_attrs *a,
                                      cnn_shape *out) {
    (void)n;
    if (a->n_float != 1 || a->n_int != 0)
        return cnn_fail(CNN_ERR_VALUE, "not_equal_any: takes floats=[value] and no ints; got %d "
                        "floats and %d ints", a->n_float, a->n_int);
    if (in[0]->ndim < 1)
        return cnn_fail(CNN_ERR_SHAPE, "not_equal_any: needs x (..., F) of rank >= 1; got %s",
                        cnn_shape_fmt(in[0]));
    *out = *in[0];
    out->ndim--;
    return CNN_OK;
}

static cnn_status not_equal_any_forward(cnn_op_ctx *c) {
    int64_t rows = cnn_shape_numel(&c->out_shape), f = c->in_shape[0]->dim[c->in_shape[0]->ndim - 1];
    float value = (float)c->attrs->f[0];
    for (int64_t r = 0; r < rows; r++) {
        const float *x = c->in[0] + r * f;
        float any = 0.0f;
        for (int64_t j = 0; j < f; j++) any = x[j] != value ? 1.0f : any;
        c->out[r] = any;
    }
    return CNN_OK;
}

const cnn_op_def cnn_ops_sequence[] = {
    {.name = "embedding", .min_inputs = 2, .max_inputs = 2, .infer = embedding_infer,
     .forward = embedding_forward, .backward = embedding_backward, .no_grad_inputs = 1},
    {.name = "not_equal_any", .min_inputs = 1, .max_inputs = 1, .infer = not_equal_any_infer,
     .forward = not_equal_any_forward, .not_differentiable = 1},
    {0},
};
