/* ops_metric.c: Keras 3's metric computations. Not differentiable; the Python side
 * averages the per-sample ones (MeanMetricWrapper) and sums the counts over batches.
 *
 * Per-sample ops, output shape p.shape[:-1]:
 * sparse_categorical_accuracy(y, p)  y: class indices as floats, shape p.shape[:-1] or
 *     p.shape[:-1] + (1,); 1.0 where (float)argmax(p, -1) == y, else 0.0 (a label that is
 *     not a valid index simply never matches).
 * categorical_accuracy(t, p)         argmax(t, -1) == argmax(p, -1), t and p of equal shape.
 * binary_accuracy(t, p; f[0]=threshold=0.5)
 *     mean over the last axis of (t == (p > threshold ? 1 : 0)). Keras 3 returns the
 *     elementwise matches; their mean over the last axis keeps the per-sample contract and
 *     the same unweighted average.
 * accuracy(t, p)                     mean over the last axis of (t == p) (keras.metrics.Accuracy).
 * top_k_categorical_accuracy(t, p; i[0]=k)
 *     1.0 where the class argmax(t, -1) is in the top k of p: fewer than k scores are
 *     strictly greater than its score (ties count in its favour, as Keras's in_top_k).
 * sparse_top_k_categorical_accuracy(y, p; i[0]=k)  the same with class indices y (shaped
 *     as for sparse_categorical_accuracy; a label that is not a valid index never matches).
 *     Both fail when k exceeds the number of classes (Keras's top_k does too).
 * argmax: the first maximum wins ties; a NaN counts as the maximum (as numpy / torch).
 *
 * Batch totals:
 * confusion_counts(t, p, thresholds[, w]; i = [mode, top_k, class_id])
 *     Keras's update_confusion_matrix_variables for one batch, per threshold and label:
 *     out (4, T, L) holds the (weighted) true positives, false positives, true negatives
 *     and false negatives. t and p have equal shapes; a label is positive when t != 0.
 *     L = p's last dim for rank >= 2 inputs (one column per label: summing over L gives
 *     Keras's flattened counts, and AUC's multi_label uses them per label), else 1.
 *     thresholds: shape (T,). w (optional): p's rank, each dim 1 or p's (broadcast).
 *     mode 0: a prediction is positive at threshold k when p > thresholds[k].
 *     mode 1: evenly spaced thresholds k/(T-1): Keras's bucket form, p clipped to [0, 1]
 *             and counted up to bucket ceil(p*(T-1))-1 (computed in float32 as Keras does,
 *             so the counts agree with it at the bucket edges); a NaN p counts as 0.
 *     mode 2: mode 1 with thresholds -eps and 1+eps at the ends (AUC): bucket -1 becomes 0.
 *     top_k > 0: only the top_k scores of each row of the last axis can be positive (the
 *     rest become -1e10, as Keras's _filter_top_k); ties go to the lower index, a NaN
 *     score is never in the top k. For rank-1 p the row is the whole vector, as in Keras.
 *     class_id >= 0: only that column of the last axis is counted (L = 1).
 */
#include <math.h>
#include <string.h>

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

/* ---- accuracy (elementwise equality) ---------------------------------------------- */

static cnn_status acc_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n; (void)a;
    return cnn_infer_per_sample("accuracy", in[0], in[1], out);
}

static cnn_status acc_forward(cnn_op_ctx *c) {
    int64_t rows, ch;
    metric_dims(c, &rows, &ch);
    for (int64_t r = 0; r < rows; r++) {
        const float *t = c->in[0] + r * ch, *p = c->in[1] + r * ch;
        int64_t hits = 0;
        for (int64_t j = 0; j < ch; j++) hits += t[j] == p[j];
        c->out[r] = (float)((double)hits / (double)ch);
    }
    return CNN_OK;
}

/* ---- top-k accuracy ---------------------------------------------------------------- */

static cnn_status top_k_attr(const char *op, const cnn_shape *t, const cnn_shape *p,
                             const cnn_attrs *a) {
    int64_t k = a->n_int > 0 ? a->i[0] : 5;
    int64_t classes = p->dim[p->ndim - 1];
    if (a->n_int > 1)
        return cnn_fail(CNN_ERR_VALUE, "%s: takes one int (k), got %d", op, a->n_int);
    if (k < 1)
        return cnn_fail(CNN_ERR_VALUE, "%s: k must be >= 1, got %lld", op, (long long)k);
    if (classes >= 0 && k > classes)
        return cnn_fail(CNN_ERR_VALUE, "%s: k=%lld exceeds the %lld classes of y_pred %s (y_true %s)",
                        op, (long long)k, (long long)classes, cnn_shape_fmt(p), cnn_shape_fmt(t));
    return CNN_OK;
}

static cnn_status tk_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    const char *op = "top_k_categorical_accuracy";
    cnn_status st = cnn_infer_per_sample(op, in[0], in[1], out);
    if (!st) st = need_classes(op, in[0], in[1]);
    return st ? st : top_k_attr(op, in[0], in[1], a);
}

static cnn_status stk_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    const char *op = "sparse_top_k_categorical_accuracy";
    cnn_status st = cnn_infer_per_sample_sparse(op, in[0], in[1], out);
    if (!st) st = need_classes(op, in[0], in[1]);
    return st ? st : top_k_attr(op, in[0], in[1], a);
}

/* Keras's in_top_k: the target's score is >= the k-th largest score, i.e. fewer than k
 * scores are strictly greater. A NaN target score never is. */
static int in_top_k(const float *p, int64_t ch, int64_t target, int64_t k) {
    float v = p[target];
    if (isnan(v)) return 0;
    int64_t greater = 0;
    for (int64_t j = 0; j < ch && greater < k; j++) greater += p[j] > v;
    return greater < k;
}

static cnn_status tk_forward(cnn_op_ctx *c) {
    int64_t rows, ch, k = c->attrs->n_int > 0 ? c->attrs->i[0] : 5;
    metric_dims(c, &rows, &ch);
    for (int64_t r = 0; r < rows; r++)
        c->out[r] = (float)in_top_k(c->in[1] + r * ch, ch, row_argmax(c->in[0] + r * ch, ch), k);
    return CNN_OK;
}

static cnn_status stk_forward(cnn_op_ctx *c) {
    int64_t rows, ch, k = c->attrs->n_int > 0 ? c->attrs->i[0] : 5;
    metric_dims(c, &rows, &ch);
    for (int64_t r = 0; r < rows; r++) {
        float y = c->in[0][r];
        int valid = y >= 0.0f && y < (float)ch && y == floorf(y);
        c->out[r] = valid ? (float)in_top_k(c->in[1] + r * ch, ch, (int64_t)y, k) : 0.0f;
    }
    return CNN_OK;
}

/* ---- confusion_counts ------------------------------------------------------------------ */

enum { CC_COMPARE = 0, CC_BUCKETS = 1, CC_BUCKETS_EPS = 2 };
#define CC_NEG_INF -1e10f /* Keras's NEG_INF for scores outside the top k */

typedef struct { int64_t mode, top_k, class_id; } cc_attrs;

static void cc_read(const cnn_attrs *a, cc_attrs *o) {
    o->mode = a->n_int > 0 ? a->i[0] : CC_COMPARE;
    o->top_k = a->n_int > 1 ? a->i[1] : 0;
    o->class_id = a->n_int > 2 ? a->i[2] : -1;
}

static int64_t cc_labels(const cnn_shape *p, const cc_attrs *o) {
    return o->class_id >= 0 || p->ndim < 2 ? 1 : p->dim[p->ndim - 1];
}

static cnn_status cc_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    const char *op = "confusion_counts";
    const cnn_shape *t = in[0], *p = in[1], *th = in[2];
    cnn_shape per_sample;
    cnn_status st = cnn_infer_per_sample(op, t, p, &per_sample);
    if (st) return st;
    if (th->ndim != 1 || th->dim[0] < 1)
        return cnn_fail(CNN_ERR_SHAPE, "%s: thresholds must have shape (T,) with T >= 1, got %s",
                        op, cnn_shape_fmt(th));
    if (n == 4) {
        const cnn_shape *w = in[3];
        int ok = w->ndim == p->ndim;
        for (int d = 0; ok && d < p->ndim; d++)
            ok = w->dim[d] == 1 || w->dim[d] == p->dim[d] || w->dim[d] == -1 || p->dim[d] == -1;
        if (!ok)
            return cnn_fail(CNN_ERR_SHAPE, "%s: sample_weight %s must have the rank of y_pred %s "
                            "with each dim 1 or y_pred's", op, cnn_shape_fmt(w), cnn_shape_fmt(p));
    }
    cc_attrs o;
    cc_read(a, &o);
    int64_t last = p->dim[p->ndim - 1];
    if (a->n_int > 3)
        return cnn_fail(CNN_ERR_VALUE, "%s: takes ints [mode, top_k, class_id], got %d ints", op, a->n_int);
    if (o.mode < CC_COMPARE || o.mode > CC_BUCKETS_EPS)
        return cnn_fail(CNN_ERR_VALUE, "%s: mode must be 0 (compare), 1 (buckets) or 2 (buckets "
                        "with epsilon ends), got %lld", op, (long long)o.mode);
    if (o.mode != CC_COMPARE && th->dim[0] < 2)
        return cnn_fail(CNN_ERR_VALUE, "%s: bucket modes need at least 2 thresholds, got %s",
                        op, cnn_shape_fmt(th));
    if (o.top_k < 0)
        return cnn_fail(CNN_ERR_VALUE, "%s: top_k must be >= 1 (0: none), got %lld", op, (long long)o.top_k);
    if (o.top_k > 0 && last >= 0 && o.top_k > last)
        return cnn_fail(CNN_ERR_VALUE, "%s: top_k=%lld exceeds the last axis of y_pred %s",
                        op, (long long)o.top_k, cnn_shape_fmt(p));
    if (o.class_id < -1)
        return cnn_fail(CNN_ERR_VALUE, "%s: class_id must be >= 0 (-1: none), got %lld",
                        op, (long long)o.class_id);
    if (o.class_id >= 0 && p->ndim < 2)
        return cnn_fail(CNN_ERR_SHAPE, "%s: with class_id, y_pred must have shape (num_samples, "
                        "num_classes); got %s", op, cnn_shape_fmt(p));
    if (o.class_id >= 0 && last >= 0 && o.class_id >= last)
        return cnn_fail(CNN_ERR_VALUE, "%s: class_id=%lld is out of range for y_pred %s with %lld classes",
                        op, (long long)o.class_id, cnn_shape_fmt(p), (long long)last);
    int64_t labels = cc_labels(p, &o);
    if (labels < 0)
        return cnn_fail(CNN_ERR_SHAPE, "%s: y_pred %s needs a known last axis", op, cnn_shape_fmt(p));
    out->ndim = 3;
    out->dim[0] = 4; out->dim[1] = th->dim[0]; out->dim[2] = labels;
    return CNN_OK;
}

/* Scratch: one row of scores for the top-k selection, then the positive and negative
 * label totals per label. */
static int64_t cc_work_size(const cnn_op_ctx *c) {
    cc_attrs o;
    cc_read(c->attrs, &o);
    const cnn_shape *p = c->in_shape[1];
    return (o.top_k > 0 ? p->dim[p->ndim - 1] : 0) + 2 * c->out_shape.dim[2];
}

static void swap_f(float *a, float *b) { float t = *a; *a = *b; *b = t; }

/* The k-th largest of a[0..n) (1 <= k <= n), reordering a: a three-way quickselect, so
 * runs of equal scores take one pass. */
static float kth_largest(float *a, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        float pivot = a[lo + (hi - lo) / 2];
        int64_t gt = lo, i = lo, lt = hi;  // [lo, gt) > pivot, [gt, i) == pivot, (lt, hi] < pivot
        while (i <= lt) {
            if (a[i] > pivot) swap_f(&a[gt++], &a[i++]);
            else if (a[i] < pivot) swap_f(&a[i], &a[lt--]);
            else i++;
        }
        if (want < gt) hi = gt - 1;
        else if (want > lt) lo = lt + 1;
        else return pivot;
    }
    return a[lo];
}

static cnn_status cc_forward(cnn_op_ctx *c) {
    cc_attrs o;
    cc_read(c->attrs, &o);
    const cnn_shape *ps = c->in_shape[1];
    const float *yt = c->in[0], *yp = c->in[1], *th = c->in[2];
    const float *w = c->n_in > 3 ? c->in[3] : NULL;
    int64_t ch = ps->dim[ps->ndim - 1], numel = cnn_shape_numel(ps);
    int64_t rows = ch ? numel / ch : 0, T = c->out_shape.dim[1], L = c->out_shape.dim[2];
    int64_t TL = T * L;
    float *tp = c->out, *fp = tp + TL, *tn = fp + TL, *fn = tn + TL;
    float *row = c->work, *pos = c->work + (o.top_k > 0 ? ch : 0), *neg = pos + L;
    memset(c->out, 0, sizeof(float) * (size_t)(4 * TL));
    memset(pos, 0, sizeof(float) * (size_t)(2 * L));
    int per_label = o.class_id < 0 && ps->ndim >= 2;
    float scale = (float)(T - 1);

    // Weights broadcast against p: strides per axis, an odometer over the leading axes.
    int64_t wst[CNN_MAX_DIMS] = {0}, idx[CNN_MAX_DIMS] = {0}, wrow = 0;
    int lead = ps->ndim - 1;
    if (w) cnn_broadcast_strides(c->in_shape[3], ps, wst);

    for (int64_t r = 0; r < rows; r++) {
        const float *t = yt + r * ch, *p = yp + r * ch;
        float kth = 0.0f;
        int64_t ties = 0;  // scores equal to the k-th largest still admitted
        if (o.top_k > 0) {
            for (int64_t j = 0; j < ch; j++) row[j] = isnan(p[j]) ? -INFINITY : p[j];
            kth = kth_largest(row, ch, o.top_k);
            int64_t greater = 0;
            for (int64_t j = 0; j < ch; j++) greater += p[j] > kth;
            ties = o.top_k - greater;
        }
        for (int64_t j = 0; j < ch; j++) {
            float v = p[j];
            if (o.top_k > 0) {
                int in_top = v > kth || (v == kth && ties > 0);
                if (v == kth && in_top) ties--;
                if (!in_top) v = CC_NEG_INF;
            }
            if (o.class_id >= 0 && j != o.class_id) continue;
            int64_t l = per_label ? j : 0;
            float wt = w ? w[wrow + j * wst[ps->ndim - 1]] : 1.0f;
            int label = t[j] != 0.0f;
            float *hit = label ? tp : fp;
            if (label) pos[l] += wt; else neg[l] += wt;
            if (o.mode == CC_COMPARE) {
                for (int64_t k = 0; k < T; k++)
                    if (v > th[k]) hit[k * L + l] += wt;
            } else {
                float q = fminf(fmaxf(v, 0.0f), 1.0f);  // NaN -> 0
                int64_t b = (int64_t)ceilf(q * scale) - 1;
                if (b < 0 && o.mode == CC_BUCKETS_EPS) b = 0;
                if (b >= 0) hit[b * L + l] += wt;
            }
        }
        if (w) {  // next row: advance the odometer over the leading axes
            for (int d = lead - 1; d >= 0; d--) {
                wrow += wst[d];
                if (++idx[d] < ps->dim[d]) break;
                wrow -= wst[d] * idx[d];
                idx[d] = 0;
            }
        }
    }
    if (o.mode != CC_COMPARE) {  // bucket counts -> counts above each threshold
        for (int64_t l = 0; l < L; l++) {
            float at = 0.0f, af = 0.0f;
            for (int64_t k = T - 1; k >= 0; k--) {
                at += tp[k * L + l]; tp[k * L + l] = at;
                af += fp[k * L + l]; fp[k * L + l] = af;
            }
        }
    }
    for (int64_t k = 0; k < T; k++)
        for (int64_t l = 0; l < L; l++) {
            tn[k * L + l] = neg[l] - fp[k * L + l];
            fn[k * L + l] = pos[l] - tp[k * L + l];
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
    {.name = "accuracy", .min_inputs = 2, .max_inputs = 2, .infer = acc_infer,
     .forward = acc_forward, .not_differentiable = 1, .no_grad_inputs = 3},
    {.name = "top_k_categorical_accuracy", .min_inputs = 2, .max_inputs = 2, .infer = tk_infer,
     .forward = tk_forward, .not_differentiable = 1, .no_grad_inputs = 3},
    {.name = "sparse_top_k_categorical_accuracy", .min_inputs = 2, .max_inputs = 2,
     .infer = stk_infer, .forward = stk_forward, .not_differentiable = 1, .no_grad_inputs = 3},
    {.name = "confusion_counts", .min_inputs = 3, .max_inputs = 4, .infer = cc_infer,
     .forward = cc_forward, .work_size = cc_work_size, .not_differentiable = 1,
     .no_grad_inputs = 15},
    {0},
};
