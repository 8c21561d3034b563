/* ops_metric.c: per-sample accuracy metrics, as Keras 3's accuracy functions. Not
 * differentiable; the Python side averages them (MeanMetricWrapper).
 *
 * sparse_categorical_accuracy(y, p)  y: class indices as floats, shape p.shape[:-1] or
 *     p.shape[:-1] + (1,); 1.0 where (float)argmax(p, -1) == y, else 0.0 (a label that is
 *     not a valid index simply never matches).
 * categorical_accuracy(t, p)         argmax(t, -1) == argmax(p, -1), t and p of equal shape.
 * binary_accuracy(t, p; f[0]=threshold=0.5)
 *     mean over the last axis of (t == (p > threshold ? 1 : 0)). Keras 3 returns the
 *     elementwise matches; their mean over the last axis keeps the per-sample contract and
 *     the same unweighted average.
 * argmax: the first maximum wins ties; a NaN counts as the maximum (as numpy / torch).
 * Output shape p.shape[:-1] for all three.
 */
#include <math.h>

#include "ops.h"

/* ---- shapes ---------------------------------------------------------------------- */

static cnn_status need_classes(const char *op, const cnn_shape *t, const cnn_shape *p) {
    if (p->ndim < 1 || p->dim[p->ndim - 1] == 0)
        return cnn_fail(CNN_ERR_SHAPE, "%s: y_pred %s needs a non-empty last (class) axis (y_true %s)",
                        op, cnn_shape_fmt(p), cnn_shape_fmt(t));
    return CNN_OK;
}


static cnn_status sca_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n; (void)a;
    const char *op = "sparse_categorical_accuracy";
    cnn_status st = cnn_infer_per_sample_sparse(op, in[0], in[1], out);
    return st ? st : need_classes(op, in[0], in[1]);
}

static cnn_status ca_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n; (void)a;
    cnn_status st = cnn_infer_per_sample("categorical_accuracy", in[0], in[1], out);
    return st ? st : need_classes("categorical_accuracy", in[0], in[1]);
}

static cnn_status ba_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n; (void)a;
    return cnn_infer_per_sample("binary_accuracy", in[0], in[1], out);
}

static void metric_dims(const cnn_op_ctx *c, int64_t *rows, int64_t *ch) {
    const cnn_shape *p = c->in_shape[1];
    *ch = p->dim[p->ndim - 1];
    *rows = cnn_shape_numel(&c->out_shape);
}

/* First index of the maximum; the first NaN if there is one (numpy / torch argmax). */
static int64_t row_argmax(const float *x, int64_t ch) {
    int64_t best = 0;
    float m = x[0];
    if (isnan(m)) return 0;
    for (int64_t j = 1; j < ch; j++) {
        if (isnan(x[j])) return j;
        if (x[j] > m) { m = x[j]; best = j; }
    }
    return best;
}

/* ---- kernels --------------------------------------------------------------------- */

static cnn_status sca_forward(cnn_op_ctx *c) {
    int64_t rows, ch;
    metric_dims(c, &rows, &ch);
    for (int64_t r = 0; r < rows; r++)
        c->out[r] = c->in[0][r] == (float)row_argmax(c->in[1] + r * ch, ch) ? 1.0f : 0.0f;
    return CNN_OK;
}

static cnn_status ca_forward(cnn_op_ctx *c) {
    int64_t rows, ch;
    metric_dims(c, &rows, &ch);
    for (int64_t r = 0; r < rows; r++)
        c->out[r] = row_argmax(c->in[0] + r * ch, ch) == row_argmax(c->in[1] + r * ch, ch) ? 1.0f : 0.0f;
    return CNN_OK;
}

static cnn_status ba_forward(cnn_op_ctx *c) {
    int64_t rows, ch;
    metric_dims(c, &rows, &ch);
    float thr = c->attrs->n_float > 0 ? (float)c->attrs->f[0] : 0.5f;
    for (int64_t r = 0; r < rows; r++) {
        const float *t = c->in[0] + r * ch, *p = c->in[1] + r * ch;
        int64_t hits = 0;
        for (int64_t j = 0; j < ch; j++) hits += t[j] == (p[j] > thr ? 1.0f : 0.0f);
        c->out[r] = (float)((double)hits / (double)ch);
    }
    return CNN_OK;
}

const cnn_op_def cnn_ops_metric[] = {
    {.name = "sparse_categorical_accuracy", .min_inputs = 2, .max_inputs = 2, .infer = sca_infer,
     .forward = sca_forward, .not_differentiable = 1, .no_grad_inputs = 3},
    {.name = "categorical_accuracy", .min_inputs = 2, .max_inputs = 2, .infer = ca_infer,
     .forward = ca_forward, .not_differentiable = 1, .no_grad_inputs = 3},
    {.name = "binary_accuracy", .min_inputs = 2, .max_inputs = 2, .infer = ba_infer,
     .forward = ba_forward, .not_differentiable = 1, .no_grad_inputs = 3},
    {0},
};
